//! The toystore gateway: the public REST API, a product cache invalidated by the
//! catalog's event stream, and buys routed to the Raft leader with failover.
//!
//! - [`api`]: the public wire types.
//! - [`client`]: a typed client of the public API (harness, benchmarks, tests).

pub mod api;
pub mod client;
