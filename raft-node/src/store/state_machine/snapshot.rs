//! Snapshots of the order state machine: capturing the whole state between two applied
//! batches, keeping the current snapshot durably (its bytes in a file, which one in sled),
//! and replacing the state with a received snapshot.

use std::io::Cursor;

use openraft::RaftSnapshotBuilder;
use serde::{Deserialize, Serialize};

use super::data::{
    decode, encode, request_id_range, RequestState, StateMachineStore, StoredOrder,
    CURRENT_SNAPSHOT, INSTALLING, LAST_APPLIED, MEMBERSHIP, NEXT_NUMBER, SNAPSHOT,
};
use super::index::Candidate;
use super::snapshot_file::SnapshotFiles;
use crate::store::errors::{sm_read_err, snapshot_err};
use crate::store::keys::{be_key, from_be_key};
use crate::typ::{LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

/// The whole state machine as a snapshot carries it. `requests` lists every order's id too,
/// though each order holds its own: nodes built before the in-memory index read their ids
/// from there, and they may receive this snapshot during a rolling upgrade.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SnapshotBody {
    orders: Vec<StoredOrder>,
    requests: Vec<(String, RequestState)>,
    next_number: u64,
}

/// A [`SnapshotBody`] encoded straight from the stored bytes, as bincode would encode it
/// (lengths as little-endian u64s): sled holds every order and request state already
/// encoded, and decoding a million of each only to encode them again cost a fifth of a
/// build at a million orders.
struct RawBody {
    bytes: Vec<u8>,
    /// Where the open list's length goes, and how many items it has so far.
    list: Option<(usize, u64)>,
}

impl RawBody {
    fn with_capacity(bytes: usize) -> RawBody {
        RawBody {
            bytes: Vec::with_capacity(bytes),
            list: None,
        }
    }

    fn begin_list(&mut self) {
        self.end_list();
        self.list = Some((self.bytes.len(), 0));
        self.bytes.extend_from_slice(&0u64.to_le_bytes());
    }

    fn end_list(&mut self) {
        if let Some((at, count)) = self.list.take() {
            self.bytes[at..at + 8].copy_from_slice(&count.to_le_bytes());
        }
    }

    /// An item whose encoding is `encoded`; returns where it starts in the body.
    fn item(&mut self, encoded: &[u8]) -> usize {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(encoded);
        if let Some((_, count)) = &mut self.list {
            *count += 1;
        }
        at
    }

    /// A `(String, T)` item: `key` as a string, then `T` as `encoded`.
    fn keyed_item(&mut self, key: &[u8], encoded: &[u8]) {
        self.bytes
            .extend_from_slice(&(key.len() as u64).to_le_bytes());
        self.bytes.extend_from_slice(key);
        self.item(encoded);
    }

    /// A `(String, T)` item whose string is a copy of `key` (a range of the body already
    /// written), then `T` as `encoded`.
    fn keyed_item_from_within(&mut self, key: std::ops::Range<usize>, encoded: &[u8]) {
        self.bytes
            .extend_from_slice(&(key.len() as u64).to_le_bytes());
        self.bytes.extend_from_within(key);
        self.item(encoded);
    }

    fn finish(mut self, next_number: u64) -> Vec<u8> {
        self.end_list();
        self.bytes.extend_from_slice(&next_number.to_le_bytes());
        self.bytes
    }
}

/// A snapshot as stores written before snapshot files kept it, whole, in sled.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

/// Which snapshot is current: its metadata and the file holding its bytes.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SnapshotRecord {
    pub(super) meta: SnapshotMeta,
    pub(super) file: String,
}

impl StateMachineStore {
    /// Serializes the state as of the last applied entry, holding the apply lock only to
    /// read where that is, so applies go on while the orders are copied.
    ///
    /// That is exact because the state only grows: order `n` (holding its request id) is
    /// written once, in the order of `n`, and a tombstone never changes once written. So
    /// the state at the last applied entry is every order below `next_number` and the
    /// tombstones written by then. Tombstones written since may be copied too; that
    /// changes nothing a replay of the entries after the snapshot computes: a tombstone is
    /// only written for a request never seen before, so no earlier entry after the
    /// snapshot names that request, and the tombstone's own entry finds it and answers as
    /// it did.
    pub(super) fn capture(
        &self,
    ) -> Result<(Vec<u8>, Option<LogId>, StoredMembership), StorageError> {
        let (last_applied, next_number, membership) = {
            let _whole = self.lock();
            let next_number = self.next_number()?;
            let membership = self
                .meta_get::<StoredMembership>(MEMBERSHIP)?
                .unwrap_or_default();
            (self.last_applied()?, next_number, membership)
        };
        let mut out = RawBody::with_capacity(self.next_size_hint());
        out.begin_list();
        // Where each order's request id lies in the body, to list it again below.
        let mut ids = Vec::with_capacity(usize::try_from(next_number).unwrap_or(0));
        for item in self.orders.range(..be_key(next_number)) {
            let (key, value) = item.map_err(sm_read_err)?;
            let id = request_id_range(&value)?;
            let at = out.item(&value);
            ids.push((at + id.start..at + id.end, from_be_key(&key)));
        }
        out.begin_list();
        for (id, number) in ids {
            out.keyed_item_from_within(id, &encode(&RequestState::Ordered(number)));
        }
        for item in self.tombstones.iter() {
            let (key, value) = item.map_err(sm_read_err)?;
            out.keyed_item(&key, &value);
        }
        Ok((out.finish(next_number), last_applied, membership))
    }

    /// Replaces the state with a snapshot's and makes it the current snapshot; durable on
    /// return.
    ///
    /// Not one sled transaction: at a million orders that buffered millions of writes in
    /// memory and held sled's process-wide write lock for the whole install. Instead the
    /// snapshot's file is written first and named under [`INSTALLING`]; a crash before the
    /// install ends leaves that mark, and [`StateMachineStore::open`] installs the file
    /// again. The state only grows, and a snapshot covers more of the log than the state
    /// it replaces, so the install adds what the snapshot holds over the state (reads
    /// meanwhile never see an order go missing) and then removes what it does not hold.
    ///
    /// The mark is on disk before the body is decoded, which at a million orders takes
    /// seconds: openraft appends the entries after the snapshot meanwhile, and a node killed
    /// with those entries on disk but no mark came back with a log its state could not
    /// reach (no purge point, nothing applied) and could not start.
    pub(super) fn restore(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
        let _recording = self.recording.lock().unwrap_or_else(|e| e.into_inner());
        let record = self.write_file(meta, data)?;
        self.meta
            .insert(INSTALLING, encode(&record))
            .map_err(snapshot_err)?;
        self.db.flush().map_err(snapshot_err)?;
        let body: SnapshotBody = match bincode::deserialize(data) {
            Ok(body) => body,
            Err(err) => {
                // Nothing was installed; a mark left here would retry the same bytes at
                // every start. The file goes at the next open (it is not current).
                self.meta.remove(INSTALLING).map_err(snapshot_err)?;
                self.db.flush().map_err(snapshot_err)?;
                return Err(snapshot_err(*err));
            }
        };
        self.install(&record, &body)?;
        self.settle(&record)
    }

    /// Finishes an install a crash interrupted, if there was one.
    pub(super) fn finish_install(&self) -> Result<(), StorageError> {
        let Some(record) = self.meta_get::<SnapshotRecord>(INSTALLING)? else {
            return Ok(());
        };
        let data = self.files.read(&record.file).map_err(snapshot_err)?;
        let body: SnapshotBody = bincode::deserialize(&data).map_err(|e| snapshot_err(*e))?;
        self.install(&record, &body)?;
        self.db.flush().map_err(snapshot_err)?;
        Ok(())
    }

    /// Writes the snapshot's state over the current one; the mark goes last.
    fn install(&self, record: &SnapshotRecord, body: &SnapshotBody) -> Result<(), StorageError> {
        let write = |tree: &sled::Tree, key: &[u8], value: Vec<u8>| {
            tree.insert(key, value).map(|_| ()).map_err(snapshot_err)
        };
        let mut index = self.lock();
        // The index afresh, from the body: the orders it holds are all the tree keeps once
        // those past it are removed below, so they need not be read back from disk.
        index.clear();
        for order in &body.orders {
            write(&self.orders, &be_key(order.number), encode(order))?;
            index.insert(&order.request_id, Candidate::Order(order.number));
        }
        // Orders' ids are in their orders already.
        for (id, state) in &body.requests {
            if *state == RequestState::Tombstone {
                write(&self.tombstones, id.as_bytes(), encode(state))?;
            }
        }
        // What the snapshot does not hold: orders from its next number on. (None, for a
        // state that is a prefix of the snapshot's history.)
        for key in self.orders.range(be_key(body.next_number)..).keys() {
            self.orders
                .remove(key.map_err(sm_read_err)?)
                .map_err(snapshot_err)?;
        }
        self.index_tombstones(&mut index)?;
        let meta = &record.meta;
        write(&self.meta, NEXT_NUMBER, be_key(body.next_number).to_vec())?;
        write(&self.meta, LAST_APPLIED, encode(&meta.last_log_id))?;
        write(&self.meta, MEMBERSHIP, encode(&meta.last_membership))?;
        self.set_current(record)?;
        self.meta.remove(INSTALLING).map_err(snapshot_err)?;
        Ok(())
    }

    /// Keeps a built snapshot as the current one, unless one at least as recent was
    /// installed meanwhile; durable on return.
    fn record(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
        let _recording = self.recording.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot_record()?.map(|r| r.meta.last_log_id);
        if current.is_some_and(|c| c >= meta.last_log_id) {
            return Ok(());
        }
        let record = self.write_file(meta, data)?;
        self.set_current(&record)?;
        // The log is purged behind this snapshot next: it must be on disk first.
        self.settle(&record)
    }

    /// Writes a snapshot's bytes to a file of its own; returns the record naming it.
    fn write_file(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<SnapshotRecord, StorageError> {
        let file = SnapshotFiles::name_for(&meta.snapshot_id);
        self.files.write(&file, data).map_err(snapshot_err)?;
        Ok(SnapshotRecord {
            meta: meta.clone(),
            file,
        })
    }

    /// Names `record` the current snapshot, dropping one an older store kept whole in sled.
    fn set_current(&self, record: &SnapshotRecord) -> Result<(), StorageError> {
        self.snapshots
            .insert(CURRENT_SNAPSHOT, encode(record))
            .map_err(snapshot_err)?;
        self.snapshots.remove(SNAPSHOT).map_err(snapshot_err)?;
        self.meta.remove(SNAPSHOT).map_err(snapshot_err)?;
        Ok(())
    }

    /// Makes everything written durable, then removes every snapshot file but `record`'s
    /// (only once the record naming the new one is on disk).
    fn settle(&self, record: &SnapshotRecord) -> Result<(), StorageError> {
        self.db.flush().map_err(snapshot_err)?;
        self.files
            .keep_only(Some(&record.file))
            .map_err(snapshot_err)
    }

    /// A guess at the next snapshot's size: the current one's and an eighth (the state only
    /// grows). Sized up front, the build's buffer is not grown by doubling, which at a
    /// million orders touched twice its 100 MB of fresh memory and copied it on the way.
    fn next_size_hint(&self) -> usize {
        let current = self
            .snapshot_record()
            .ok()
            .flatten()
            .and_then(|record| self.files.size(&record.file).ok())
            .unwrap_or(0) as usize;
        current + current / 8
    }

    /// Which snapshot is current, if one was recorded since snapshot files.
    pub(super) fn snapshot_record(&self) -> Result<Option<SnapshotRecord>, StorageError> {
        match self.snapshots.get(CURRENT_SNAPSHOT).map_err(sm_read_err)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The current snapshot's metadata and bytes. A store written before snapshot files
    /// keeps its last one whole in sled, in its own tree or (older still) in `meta`.
    pub(super) fn current_snapshot(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StorageError> {
        if let Some(record) = self.snapshot_record()? {
            let data = self.files.read(&record.file).map_err(snapshot_err)?;
            return Ok(Some((record.meta, data)));
        }
        let legacy: Option<StoredSnapshot> =
            match self.snapshots.get(SNAPSHOT).map_err(sm_read_err)? {
                Some(bytes) => Some(decode(&bytes)?),
                None => self.meta_get(SNAPSHOT)?,
            };
        Ok(legacy.map(|s| (s.meta, s.data)))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (meta, data) = self
            .in_background(|sm| {
                let (data, last_applied, membership) = sm.capture()?;
                let snapshot_id = match last_applied {
                    Some(l) => format!("{}-{}-{}", l.leader_id, l.index, now_ms()),
                    None => format!("empty-{}", now_ms()),
                };
                let meta = SnapshotMeta {
                    last_log_id: last_applied,
                    last_membership: membership,
                    snapshot_id,
                };
                sm.record(&meta, &data)?;
                Ok((meta, data))
            })
            .await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put<T: Serialize>(tree: &sled::Tree, key: &[u8], value: &T) {
        tree.insert(key, encode(value)).unwrap();
    }

    #[test]
    fn a_capture_holds_the_state_at_next_number_and_nothing_after() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::open_db(dir.path()).unwrap();
        let (_, sm) = crate::store::open(&db, dir.path()).unwrap();
        let order = |number: u64, request_id: &str| StoredOrder {
            number,
            name: "Tux".into(),
            quantity: 1,
            request_id: request_id.into(),
            price: 1.5,
        };
        // Orders 0 and 1 applied; order 2 written by an apply still under way (past
        // next_number); a tombstone, applied before or after, either way.
        sm.meta.insert(NEXT_NUMBER, &be_key(2)).unwrap();
        for (number, id) in [(0, "a"), (1, "b"), (2, "c")] {
            put(&sm.orders, &be_key(number), &order(number, id));
        }
        put(&sm.tombstones, b"d", &RequestState::Tombstone);

        let (data, _, _) = sm.capture().unwrap();
        let body: SnapshotBody = bincode::deserialize(&data).unwrap();
        // Byte for byte what encoding the body would give.
        assert_eq!(data, encode(&body));
        assert_eq!(body.orders, vec![order(0, "a"), order(1, "b")]);
        assert_eq!(body.next_number, 2);
        let numbers: Vec<u64> = body.orders.iter().map(|o| o.number).collect();
        assert_eq!(numbers, vec![0, 1]);
        // Every order's id as well as the tombstone, for nodes that read ids from there.
        let requests: Vec<(&str, RequestState)> = body
            .requests
            .iter()
            .map(|(id, s)| (id.as_str(), *s))
            .collect();
        assert_eq!(
            requests,
            vec![
                ("a", RequestState::Ordered(0)),
                ("b", RequestState::Ordered(1)),
                ("d", RequestState::Tombstone)
            ]
        );
        // The digest reads the same state.
        assert_eq!(sm.digest().unwrap().orders, 2);
    }

    fn meta(index: u64, id: &str) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: Some(openraft::LogId::new(
                openraft::CommittedLeaderId::new(1, 1),
                index,
            )),
            last_membership: StoredMembership::default(),
            snapshot_id: id.into(),
        }
    }

    fn files_in(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("snapshots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_snapshot_lives_in_one_file_that_outlasts_a_reopen_and_strays_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let empty = SnapshotBody {
            orders: Vec::new(),
            requests: Vec::new(),
            next_number: 0,
        };
        let data = encode(&empty);
        {
            let db = crate::store::open_db(dir.path()).unwrap();
            let (_, sm) = crate::store::open(&db, dir.path()).unwrap();
            // A store from before snapshot files: its snapshot whole in sled.
            let legacy = StoredSnapshot {
                meta: meta(3, "legacy"),
                data: data.clone(),
            };
            sm.snapshots.insert(SNAPSHOT, encode(&legacy)).unwrap();
            assert_eq!(sm.current_snapshot().unwrap().unwrap().0, meta(3, "legacy"));

            sm.record(&meta(5, "five"), &data).unwrap();
            assert_eq!(files_in(dir.path()), vec!["five.snap"]);
            assert!(sm.snapshots.get(SNAPSHOT).unwrap().is_none());
            // One built before an installed one that is newer is not recorded.
            sm.restore(&meta(9, "nine"), &data).unwrap();
            sm.record(&meta(7, "seven"), &data).unwrap();
            assert_eq!(files_in(dir.path()), vec!["nine.snap"]);
            // What a crash mid-write leaves.
            std::fs::write(dir.path().join("snapshots/ten.snap.tmp"), b"cut").unwrap();
        }
        let db = crate::store::open_db(dir.path()).unwrap();
        let (_, sm) = crate::store::open(&db, dir.path()).unwrap();
        assert_eq!(files_in(dir.path()), vec!["nine.snap"]);
        let (current, bytes) = sm.current_snapshot().unwrap().unwrap();
        assert_eq!((current, bytes), (meta(9, "nine"), data));
    }

    fn create(index: u64, request_id: &str) -> crate::typ::Entry {
        crate::typ::Entry {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
            payload: openraft::EntryPayload::Normal(crate::typ::Command::CreateOrder {
                request_id: request_id.into(),
                name: "Tux".into(),
                quantity: 1,
                price: 2.5,
            }),
        }
    }

    /// A store that applied `ids` as orders 0, 1, ...; and a snapshot of it.
    fn applied(ids: &[&str]) -> (tempfile::TempDir, StateMachineStore, SnapshotMeta, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::open_db(dir.path()).unwrap();
        let (_, sm) = crate::store::open(&db, dir.path()).unwrap();
        let entries: Vec<_> = (1..).zip(ids).map(|(i, id)| create(i, id)).collect();
        sm.apply_batch(&entries).unwrap();
        let (data, last_applied, membership) = sm.capture().unwrap();
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id: "source".into(),
        };
        (dir, sm, meta, data)
    }

    #[test]
    fn an_install_drops_what_the_snapshot_lacks_and_one_cut_by_a_crash_ends_at_open() {
        let (_source_dir, source, meta, data) = applied(&["a", "b", "c"]);
        let want = source.digest().unwrap();

        // A node holding an order the snapshot lacks (a stray past its next number).
        // And a tombstone, which an install keeps.
        let (dir, sm, _, _) = applied(&["a", "b", "c", "x"]);
        let tombstone = crate::typ::Entry {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), 5),
            payload: openraft::EntryPayload::Normal(crate::typ::Command::Tombstone {
                request_id: "t".into(),
            }),
        };
        sm.apply_batch(&[tombstone]).unwrap();
        sm.restore(&meta, &data).unwrap();
        assert_eq!(sm.digest().unwrap(), want);
        assert!(sm.request("x").unwrap().is_none());
        assert_eq!(sm.request("b").unwrap(), Some(RequestState::Ordered(1)));
        assert_eq!(sm.request("t").unwrap(), Some(RequestState::Tombstone));
        assert_eq!(sm.current_snapshot().unwrap().unwrap().0, meta);
        drop(sm);

        // A crash during an install: the file and its mark are on disk, the state is half
        // written. Opening the store finishes the install.
        let (crashed_dir, sm, _, _) = applied(&["a"]);
        let record = SnapshotRecord {
            meta: meta.clone(),
            file: SnapshotFiles::name_for(&meta.snapshot_id),
        };
        sm.files.write(&record.file, &data).unwrap();
        sm.meta.insert(INSTALLING, encode(&record)).unwrap();
        sm.db.flush().unwrap();
        let db = sm.db.clone();
        drop(sm);
        let (_, reopened) = crate::store::open(&db, crashed_dir.path()).unwrap();
        assert_eq!(reopened.digest().unwrap(), want);
        assert_eq!(reopened.last_applied().unwrap(), meta.last_log_id);
        assert!(reopened.meta.get(INSTALLING).unwrap().is_none());
        assert_eq!(reopened.current_snapshot().unwrap().unwrap(), (meta, data));
        drop(dir);
    }

    #[test]
    fn an_undecodable_snapshot_changes_nothing_and_leaves_no_mark() {
        let (_source_dir, _source, meta, _) = applied(&["a", "b", "c"]);
        let (dir, sm, _, _) = applied(&["a"]);
        let before = sm.digest().unwrap();
        let applied_before = sm.last_applied().unwrap();
        assert!(sm.restore(&meta, b"not a snapshot").is_err());
        assert_eq!(sm.digest().unwrap(), before);
        assert_eq!(sm.last_applied().unwrap(), applied_before);
        assert!(sm.meta.get(INSTALLING).unwrap().is_none());
        // And the store opens as it was, the stray file gone.
        let db = sm.db.clone();
        drop(sm);
        let (_, reopened) = crate::store::open(&db, dir.path()).unwrap();
        assert_eq!(reopened.digest().unwrap(), before);
        let name = SnapshotFiles::name_for(&meta.snapshot_id);
        assert!(reopened.files.read(&name).is_err());
    }
}
