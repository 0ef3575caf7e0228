//! The catalog's wire (contract section 4): its types and the seeded toys ([`types`]),
//! and [`CatalogClient`] ([`client`]), which the raft node (reservations) and the gateway
//! (reads and the event stream) call it with.

pub mod client;
pub mod types;

pub use client::{CatalogClient, CatalogEvent};
pub use types::*;
