//! The order state machine in sled.
//!
//! Trees: `orders` (big-endian order number -> `StoredOrder`), `requests` (request id ->
//! `RequestState`), `sm_meta` (last applied log id, last membership, next order number,
//! the current snapshot). A batch of entries is applied with plain inserts in an order that
//! makes whatever prefix of them a crash leaves a state that re-applying completes (see
//! [`data`]). Order numbers are dense from 0 in apply order, which is
//! the same on every replica because they apply the same log.
//!
//! - [`data`]: the trees, reads, and applying entries.
//! - [`snapshot`]: capturing, keeping and restoring snapshots.
//! - [`raft`]: the `RaftStateMachine` openraft drives, on top of both.

mod data;
mod raft;
mod snapshot;

#[cfg(test)]
pub(crate) use data::StoredOrder;
pub(crate) use data::{RequestState, StateMachineStore};
