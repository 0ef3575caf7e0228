//! The toystore order service: replicas of an order log kept consistent by Raft (openraft),
//! each persisting log, vote and state machine in sled.
//!
//! - [`api`]: the wire types the gateway and the harness import.

pub mod api;
