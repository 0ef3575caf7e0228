//! The toystore catalog: owns products and stock.
//!
//! - [`api`]: wire types, imported by the raft node and the gateway.
//! - [`client`]: a typed client of this service.

pub mod api;
pub mod client;
