//! The state machine as openraft drives it: applying entries, and handing over, building
//! and installing snapshots.

use std::io::Cursor;

use openraft::storage::RaftStateMachine;
use openraft::OptionalSend;

use super::data::{StateMachineStore, MEMBERSHIP};
use crate::typ::{
    CommandResult, Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

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
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let _timer = self.apply_seconds.start_timer();
        self.apply_batch(&entries)
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
        self.off_runtime(move |sm| sm.restore(&meta, &data)).await?;
        self.flush().await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        // Off the runtime: at a million orders the stored snapshot is over 100 MB to decode.
        let stored = self.off_runtime(|sm| sm.stored_snapshot()).await?;
        Ok(stored.map(|stored| Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}
