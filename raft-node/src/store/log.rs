//! The Raft log in sled: entries keyed by big-endian index in the `log` tree; the vote,
//! the committed log id and the last purged log id in the `log_meta` tree.
//!
//! Durability: an append is reported to openraft only after the database flush returns, and a
//! vote is flushed before `save_vote` returns, so a node never answers for a write that a
//! crash could lose.

use std::fmt::Debug;
use std::ops::RangeBounds;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogReader};
use prometheus::Histogram;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::errors::{log_read_err, log_write_err, vote_read_err, vote_write_err};
use super::keys::{be_key, from_be_key};
use crate::typ::{Entry, LogId, StorageError, TypeConfig, Vote};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";
/// How many of the newest entries are checked for a gap at open: more than one append
/// ever carries.
const TAIL_CHECKED: usize = 4096;

/// The log storage; cheap to clone (sled trees are shared handles).
#[derive(Clone)]
pub(crate) struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    /// Times the flush of every append.
    flush_seconds: Histogram,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
}

impl LogStore {
    pub(crate) fn open(db: &sled::Db, flush_seconds: Histogram) -> anyhow::Result<Self> {
        let store = LogStore {
            db: db.clone(),
            log: db.open_tree("log")?,
            meta: db.open_tree("log_meta")?,
            flush_seconds,
        };
        store.cut_tail_after_a_gap()?;
        Ok(store)
    }

    /// Removes the entries above the lowest gap among the last [`TAIL_CHECKED`] indexes.
    ///
    /// Entries are inserted one by one in index order and sled recovers a prefix of its
    /// log, so a crash should leave none; but a gap would make openraft read a log it
    /// cannot walk. Only entries that were never flushed (so never reported) can lie
    /// above one, and Raft may drop those.
    fn cut_tail_after_a_gap(&self) -> anyhow::Result<()> {
        let mut above = None;
        let mut cut = None;
        for key in self.log.iter().keys().rev().take(TAIL_CHECKED) {
            let index = from_be_key(&key?);
            if above.is_some_and(|upper| upper != index + 1) {
                cut = above;
            }
            above = Some(index);
        }
        let Some(cut) = cut else { return Ok(()) };
        tracing::warn!(
            from = cut,
            "log has a gap below index {cut}; dropping the entries above it"
        );
        for key in self.log.range(be_key(cut)..).keys() {
            self.log.remove(key?)?;
        }
        self.db.flush()?;
        Ok(())
    }

    /// Closes a hole between the purge point and the first entry when the state machine
    /// covers it.
    ///
    /// A node that installs a snapshot appends the entries after it, and openraft purges
    /// the log up to the snapshot only later; killed in between, the node keeps a log that
    /// starts after the snapshot with no purge point below it, and openraft will not start
    /// on it ("try to get log at index 0"). If the state machine has applied at least up to
    /// the entry before the first, the purge point moves to what it applied and the entries
    /// up to there go, as openraft itself does when the whole log is behind the state
    /// machine. A hole the state machine does not cover is left for openraft to report; the
    /// install's mark, on disk before anything else of it, keeps an unfinished install from
    /// leaving one (`StateMachineStore::restore`).
    pub(crate) fn close_hole_before_first(&self, applied: Option<LogId>) -> anyhow::Result<()> {
        let Some(first) = self.log.first()?.map(|(key, _)| from_be_key(&key)) else {
            return Ok(());
        };
        let purged: Option<LogId> =
            read_meta(&self.meta, LAST_PURGED).map_err(anyhow::Error::msg)?;
        let expected = purged.map_or(0, |p| p.index + 1);
        let Some(applied) = applied.filter(|a| first > expected && a.index + 1 >= first) else {
            return Ok(());
        };
        tracing::warn!(
            first,
            purged = ?purged,
            applied = %applied,
            "the log starts after its purge point; the state machine covers the hole, so the log is purged up to what it applied"
        );
        purge_up_to(&self.log, &self.meta, &applied)?;
        self.db.flush()?;
        Ok(())
    }

    /// The committed log id last reported by openraft (for `/cluster/status`).
    pub(crate) fn committed(&self) -> Option<LogId> {
        read_meta::<Option<LogId>>(&self.meta, COMMITTED)
            .ok()
            .flatten()
            .flatten()
    }

    async fn flush(&self) -> Result<(), std::io::Error> {
        crate::store::disk::flush(&self.db).await
    }
}

fn read_meta<T: DeserializeOwned>(meta: &sled::Tree, key: &[u8]) -> Result<Option<T>, String> {
    match meta.get(key).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(bytes) => bincode::deserialize(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

fn write_meta<T: Serialize>(meta: &sled::Tree, key: &[u8], value: &T) -> Result<(), sled::Error> {
    let bytes = bincode::serialize(value).expect("log metadata serializes");
    meta.insert(key, bytes).map(|_| ())
}

/// Records `log_id` as the purge point, then removes every entry up to it; not flushed.
/// The point goes first: a crash midway leaves it consistent with the log (entries left
/// below it are never read, and the next purge removes them).
fn purge_up_to(log: &sled::Tree, meta: &sled::Tree, log_id: &LogId) -> Result<(), sled::Error> {
    write_meta(meta, LAST_PURGED, log_id)?;
    for key in log.range(..=be_key(log_id.index)).keys() {
        log.remove(key?)?;
    }
    Ok(())
}

fn decode_entry(bytes: &[u8]) -> Result<Entry, StorageError> {
    bincode::deserialize(bytes).map_err(|e| log_read_err(*e))
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(&n) => Bound::Included(be_key(n)),
            Bound::Excluded(&n) => Bound::Excluded(be_key(n)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => Bound::Included(be_key(n)),
            Bound::Excluded(&n) => Bound::Excluded(be_key(n)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut entries = Vec::new();
        for item in self.log.range::<[u8; 8], _>((start, end)) {
            let (_, value) = item.map_err(log_read_err)?;
            entries.push(decode_entry(&value)?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = read_meta(&self.meta, LAST_PURGED)
            .map_err(|e| log_read_err(std::io::Error::other(e)))?;
        let last_in_log = match self.log.last().map_err(log_read_err)? {
            Some((_, value)) => Some(decode_entry(&value)?.log_id),
            None => None,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last_in_log.or(last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        write_meta(&self.meta, VOTE, vote).map_err(vote_write_err)?;
        self.flush().await.map_err(vote_write_err)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        read_meta(&self.meta, VOTE).map_err(|e| vote_read_err(std::io::Error::other(e)))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not flushed: losing it only means re-applying from the state machine's last_applied.
        write_meta(&self.meta, COMMITTED, &committed).map_err(log_write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed: Option<Option<LogId>> =
            read_meta(&self.meta, COMMITTED).map_err(|e| log_read_err(std::io::Error::other(e)))?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // One insert per entry, not a batch: a sled batch writes its own marker to disk
        // (twice) before the data, which made every append cost three writes.
        for entry in entries {
            let bytes = bincode::serialize(&entry).map_err(|e| log_write_err(*e))?;
            self.log
                .insert(be_key(entry.log_id.index), bytes)
                .map_err(log_write_err)?;
        }
        // Report the append only once it is on disk.
        let timer = self.flush_seconds.start_timer();
        let flushed = self.flush().await;
        timer.observe_duration();
        let report = flushed
            .as_ref()
            .map(|_| ())
            .map_err(|e| std::io::Error::new(e.kind(), e.to_string()));
        callback.log_io_completed(report);
        flushed.map_err(log_write_err)
    }

    // Truncate and purge remove entries one by one, not in a `sled::Batch`: a batch holds
    // sled's process-wide write lock while it runs, and a purge behind a snapshot of a
    // million orders removes thousands of entries, stalling every other read and write of
    // the node (appends, applies) for up to a second. One by one, whatever prefix of the
    // removals a crash leaves is still a log without gaps.

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // From the newest down, so a crash midway leaves a shorter log, not a gap.
        for key in self.log.range(be_key(log_id.index)..).keys().rev() {
            self.log
                .remove(key.map_err(log_read_err)?)
                .map_err(log_write_err)?;
        }
        self.flush().await.map_err(log_write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Off the runtime: behind a snapshot of a large store lie many entries.
        let (log, meta) = (self.log.clone(), self.meta.clone());
        super::disk::blocking(move || purge_up_to(&log, &meta, &log_id))
            .await
            .map_err(log_write_err)?
            .map_err(log_write_err)?;
        self.flush().await.map_err(log_write_err)
    }
}
