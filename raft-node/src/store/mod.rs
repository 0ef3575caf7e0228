//! Persistence of one node in a single sled database (`<data dir>/db`): the Raft log
//! ([`log`]) and the order state machine ([`state_machine`]), whose snapshot files lie
//! beside it (`<data dir>/snapshots`).
//!
//! Both live in one `sled::Db` on purpose: sled recovers a prefix of its single write-ahead
//! log, so flushing the database for a log append also makes every earlier state-machine
//! write durable.

// openraft fixes the error type of every storage call; it is large but not ours to box.
#![allow(clippy::result_large_err)]

mod disk;
mod errors;
mod keys;
pub(crate) mod log;
pub(crate) mod state_machine;

use std::path::Path;

use prometheus::Histogram;

pub(crate) use disk::flush;
pub(crate) use log::LogStore;
pub(crate) use state_machine::StateMachineStore;

/// Opens (or creates) the node's database under `dir`.
pub(crate) fn open_db(dir: &Path) -> anyhow::Result<sled::Db> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
    sled::Config::new()
        .path(dir.join("db"))
        .open()
        .map_err(|e| anyhow::anyhow!("cannot open sled at {}: {e}", dir.display()))
}

/// Opens both stores on the database `open_db(dir)` opened, timing nothing (tests).
#[cfg(test)]
pub(crate) fn open(db: &sled::Db, dir: &Path) -> anyhow::Result<(LogStore, StateMachineStore)> {
    let untimed = || {
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("untimed", "untimed"))
            .expect("valid histogram")
    };
    open_timed(db, dir, untimed(), untimed())
}

/// Opens both stores on the database `open_db(dir)` opened; `log_flush` times the flush
/// of every append, `apply` every applied run of entries.
pub(crate) fn open_timed(
    db: &sled::Db,
    dir: &Path,
    log_flush: Histogram,
    apply: Histogram,
) -> anyhow::Result<(LogStore, StateMachineStore)> {
    let log = LogStore::open(db, log_flush)?;
    let state_machine = StateMachineStore::open(db, &dir.join("snapshots"), apply)?;
    log.close_hole_before_first(state_machine.last_applied()?)?;
    Ok((log, state_machine))
}

#[cfg(test)]
mod tests;
