//! The toystore catalog: owns products and stock.
//!
//! - [`api`]: wire types, imported by the raft node and the gateway.
//! - [`client`]: a typed client of this service.
//! - [`store`]: products, ledger counters and reservations in sled.

pub mod api;
pub mod client;
pub mod store;
