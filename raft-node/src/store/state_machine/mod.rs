//! The order state machine in sled.
//!
//! Trees: `orders` (big-endian order number -> `StoredOrder`), `requests` (request id ->
//! `RequestState`), `sm_meta` (last applied log id, last membership, next order number,
//! the current snapshot). Each batch of entries is applied in one sled transaction, so a
//! crash never leaves half an entry. Order numbers are dense from 0 in apply order, which is
//! the same on every replica because they apply the same log.
//!
//! - [`data`]: the trees, reads, and applying entries.
//! - [`snapshot`]: capturing, keeping and restoring snapshots.
//! - [`raft`]: the `RaftStateMachine` openraft drives, on top of both.

mod data;
mod raft;
mod snapshot;

pub(crate) use data::{RequestState, StateMachineStore};
