//! A raft node's wire (contract section 5): orders, cluster state and membership changes
//! ([`types`]), and [`NodeClient`] ([`client`]), which the gateway and the harness call a
//! node with.

pub mod client;
pub mod types;

pub use client::{leader_hint, NodeClient, ReadConsistency};
pub use types::*;
