//! The toystore gateway: the public REST API, a product cache invalidated by the
//! catalog's event stream, and buys routed to the Raft leader with failover.
//!
//! - [`api`]: the public wire types.

pub mod api;
