//! Persistence of one node in a single sled database: the Raft log ([`log`]) and the
//! order state machine with its snapshots ([`state_machine`]).
//!
//! Both live in one `sled::Db` on purpose: sled recovers a prefix of its single write-ahead
//! log, so flushing the database for a log append also makes every earlier state-machine
//! write durable.

// openraft fixes the error type of every storage call; it is large but not ours to box.
#![allow(clippy::result_large_err)]

pub mod log;
pub mod state_machine;

use std::path::Path;

use openraft::{AnyError, StorageIOError};

use crate::typ::{NodeId, StorageError};

pub use log::LogStore;
pub use state_machine::StateMachineStore;

/// Opens (or creates) the node's database under `dir`.
pub fn open_db(dir: &Path) -> anyhow::Result<sled::Db> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
    sled::Config::new()
        .path(dir.join("db"))
        .open()
        .map_err(|e| anyhow::anyhow!("cannot open sled at {}: {e}", dir.display()))
}

/// Opens both stores on one database.
pub fn open(db: &sled::Db) -> anyhow::Result<(LogStore, StateMachineStore)> {
    Ok((LogStore::open(db)?, StateMachineStore::open(db)?))
}

/// Flushes the whole database to disk. sled's own `flush_async` hangs under many
/// concurrent flushes, so the blocking flush runs on tokio's blocking pool instead.
pub async fn flush(db: &sled::Db) -> Result<(), std::io::Error> {
    let db = db.clone();
    match tokio::task::spawn_blocking(move || db.flush()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(std::io::Error::other(e)),
        Err(e) => Err(std::io::Error::other(format!("flush task failed: {e}"))),
    }
}

/// Errors of the log (reads and writes) as openraft wants them.
pub(crate) fn log_write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_logs(AnyError::new(&e)).into()
}
pub(crate) fn log_read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::read_logs(AnyError::new(&e)).into()
}
pub(crate) fn vote_write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_vote(AnyError::new(&e)).into()
}
pub(crate) fn vote_read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::read_vote(AnyError::new(&e)).into()
}
pub(crate) fn sm_write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_state_machine(AnyError::new(&e)).into()
}
pub(crate) fn sm_read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::read_state_machine(AnyError::new(&e)).into()
}
pub(crate) fn snapshot_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_snapshot(None, AnyError::new(&e)).into()
}

/// Big-endian bytes of a log index or order number, so sled's byte order is numeric order.
pub(crate) fn be_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub(crate) fn from_be_key(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(buf)
}

#[cfg(test)]
mod tests;
