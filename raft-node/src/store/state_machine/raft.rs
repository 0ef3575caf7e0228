//! The state machine as openraft drives it: applying entries, and handing over, building
//! and installing snapshots.

use std::io::Cursor;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend};

use super::data::{StateMachineStore, MEMBERSHIP};
use crate::typ::{
    Command, CommandResult, Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership,
    TypeConfig,
};

/// Orders applied between two yields to the runtime: tens of microseconds each at a
/// million orders, so a run holds the thread for a few milliseconds.
const YIELD_AFTER: usize = 64;

/// Splits `entries` into runs of whole entries carrying about `limit` commands each (an
/// entry with more stands alone).
fn runs(entries: &[Entry], limit: usize) -> impl Iterator<Item = &[Entry]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut commands = 0;
        let mut end = 0;
        while end < rest.len() && (end == 0 || commands + weight(&rest[end]) <= limit) {
            commands += weight(&rest[end]);
            end += 1;
        }
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

/// Commands an entry carries.
fn weight(entry: &Entry) -> usize {
    match &entry.payload {
        EntryPayload::Normal(Command::Batch(commands)) => commands.len(),
        _ => 1,
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let membership = self
            .meta_get::<StoredMembership>(MEMBERSHIP)?
            .unwrap_or_default();
        Ok((self.last_applied()?, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let mut results = Vec::with_capacity(entries.len());
        for run in runs(&entries, YIELD_AFTER) {
            let timer = self.apply_seconds.start_timer();
            results.extend(self.apply_batch(run)?);
            timer.observe_duration();
            // The node runs on one thread: a catch-up applies thousands of orders in one
            // call, and heartbeats must not wait for all of them (a follower that misses
            // them for an election timeout starts an election).
            tokio::task::yield_now().await;
        }
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let (meta, data) = (meta.clone(), snapshot.into_inner());
        self.off_runtime(move |sm| sm.restore(&meta, &data)).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        // Off the runtime: at a million orders the snapshot file is over 100 MB to read.
        let current = self.off_runtime(|sm| sm.current_snapshot()).await?;
        Ok(current.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId};

    fn entry(index: u64, orders: usize) -> Entry {
        let order = |i: usize| Command::Tombstone {
            request_id: format!("r{index}-{i}"),
        };
        let payload = match orders {
            0 => EntryPayload::Blank,
            1 => EntryPayload::Normal(order(0)),
            n => EntryPayload::Normal(Command::Batch((0..n).map(order).collect())),
        };
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload,
        }
    }

    #[test]
    fn runs_keep_entries_whole_and_near_the_limit() {
        let entries: Vec<Entry> = [1, 30, 30, 10, 100, 0, 5]
            .iter()
            .enumerate()
            .map(|(i, n)| entry(i as u64, *n))
            .collect();
        let lengths: Vec<usize> = runs(&entries, 64).map(<[Entry]>::len).collect();
        // 1+30+30 = 61; 10 alone would fit but 100 does not; 100 stands alone; 1+5.
        assert_eq!(lengths, vec![3, 1, 1, 2]);
        assert_eq!(runs(&[], 64).count(), 0);
    }
}
