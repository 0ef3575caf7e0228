//! The toystore order service: replicas of an order log kept consistent by Raft (openraft),
//! each persisting log, vote and state machine in sled. Its wire types and client live in
//! `toystore_api::node`.
//!
//! Configuration and Raft plumbing:
//! - [`config`]: command-line flags and their environment variables.
//! - [`typ`]: the Raft type configuration: log commands and their results.
//! - [`store`]: the sled-backed Raft log and order state machine.
//! - [`network`]: Raft RPCs to peers over HTTP.
//!
//! The service, from the state it shares to the HTTP surface:
//! - [`app`]: the shared state, leadership, committing a command.
//! - [`error`]: `NodeError`, how the domain modules fail.
//! - [`batching`]: the wait-for-a-slot, take-what-is-queued loop of the three batchers.
//! - [`propose`]: group commit: commands proposed meanwhile go as one Raft entry.
//! - [`reserve`]: batching the leader's reservations at the catalog.
//! - [`orders`]: buying (reserve, commit, confirm), reading, settling stale reservations.
//! - [`cluster`]: status, learners, membership, snapshots.
//! - [`snapshots`]: when to snapshot: spaced in proportion to the state.
//! - [`confirm`]: confirming reservations of committed orders in the background.
//! - [`reconcile`]: the leader's background settling of stale catalog reservations.
//! - [`removal`]: a removed node that never learned it stops calling elections.
//! - [`failstop`]: a fatal Raft error (a failed disk write) stops the process.
//! - [`raft_metrics`]: Raft gauges and commit latency for `/metrics`.
//! - [`http`]: the routes; handlers check input and translate errors.
//! - [`run`]: wiring it together and running until a signal.

mod app;
mod batching;
mod cluster;
pub mod config;
mod confirm;
mod error;
mod failstop;
mod http;
mod network;
mod orders;
mod propose;
mod raft_metrics;
mod reconcile;
mod removal;
mod reserve;
mod run;
mod snapshots;
mod store;
mod typ;

pub use config::Config;
pub use run::run;
