//! The toystore order service: replicas of an order log kept consistent by Raft (openraft),
//! each persisting log, vote and state machine in sled.
//!
//! - [`api`]: the wire types the gateway and the harness import.
//! - [`client`]: a typed client of one node (no routing), for the gateway and the harness.

pub mod api;
pub mod client;
