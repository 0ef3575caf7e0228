//! TCP proxies on a cluster's links, so the nemesis can partition, slow down or break any
//! link without root or `tc netem`.
//!
//! - [`link`]: one directed link and its modes (pass, blackhole, reset, slow, flaky).
//! - [`mesh`]: a link for every node-to-node, gateway-to-node, gateway-to-catalog and
//!   node-to-catalog pair, spare nodes' included.

mod link;
mod mesh;

pub(crate) use link::LinkMode;
pub(crate) use mesh::{End, ProxyMesh};
