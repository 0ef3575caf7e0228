//! The order state machine in sled.
//!
//! Trees: `orders` (big-endian order number -> `StoredOrder`, which holds its request id),
//! `requests` (tombstoned request id -> `RequestState::Tombstone`), `sm_meta` (last applied log id, last membership, next order number),
//! `sm_snapshot` (which file holds the current snapshot); snapshot files beside the
//! database. A batch of entries is applied with plain inserts in an order that
//! makes whatever prefix of them a crash leaves a state that re-applying completes (see
//! [`data`]). Order numbers are dense from 0 in apply order, which is
//! the same on every replica because they apply the same log.
//!
//! - [`data`]: the trees and reads.
//! - [`apply`]: applying a batch of entries.
//! - [`index`]: which order or tombstone a request id stands for, in memory.
//! - [`snapshot`]: capturing, keeping and restoring snapshots.
//! - [`snapshot_file`]: the snapshot files.
//! - [`raft`]: the `RaftStateMachine` openraft drives, on top of both.

mod apply;
mod data;
mod index;
mod raft;
mod snapshot;
mod snapshot_file;

#[cfg(test)]
pub(crate) use data::StoredOrder;
pub(crate) use data::{RequestState, StateMachineStore};
