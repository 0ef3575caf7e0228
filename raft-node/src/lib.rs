//! The toystore order service: replicas of an order log kept consistent by Raft (openraft),
//! each persisting log, vote and state machine in sled.
//!
//! - [`config`]: command-line flags and their environment variables.
//! - [`typ`]: the Raft type configuration: log commands and their results.
//! - [`store`]: the sled-backed Raft log and order state machine.
//! - [`network`]: Raft RPCs to peers over HTTP.
//! - [`http`]: the node's HTTP routes (orders, cluster, Raft RPCs).
//! - [`reconcile`]: the leader's clean-up of stale catalog reservations.
//! - [`raft_metrics`]: Raft gauges and commit latency for `/metrics`.
//! - [`node`]: wiring it together and running until a signal.

pub mod config;
pub mod http;
pub mod network;
pub mod node;
pub mod raft_metrics;
pub mod reconcile;
pub mod store;
pub mod typ;

pub use config::Config;
pub use node::run;
