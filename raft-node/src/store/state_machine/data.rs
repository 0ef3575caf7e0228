//! The order state machine's data in sled: orders by number (each with its request id),
//! tombstoned request ids, the applied position; opening them, and reads.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::index::{Candidate, RequestIndex};
use super::snapshot_file::SnapshotFiles;
use crate::store::errors::{sm_read_err, sm_write_err};
use crate::store::keys::{be_key, from_be_key};
use crate::typ::{LogId, StorageError};
use toystore_api::node::{Digest, Order};

pub(super) const LAST_APPLIED: &[u8] = b"last_applied";
pub(super) const MEMBERSHIP: &[u8] = b"membership";
pub(super) const NEXT_NUMBER: &[u8] = b"next_number";
pub(super) const SNAPSHOT: &[u8] = b"snapshot";
pub(super) const CURRENT_SNAPSHOT: &[u8] = b"current";
/// In `meta` while a received snapshot is being installed: which one.
pub(super) const INSTALLING: &[u8] = b"installing";

/// An order as the state machine keeps it (the wire [`Order`] plus its price).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct StoredOrder {
    pub(crate) number: u64,
    pub(crate) name: String,
    pub(crate) quantity: u64,
    pub(crate) request_id: String,
    pub(crate) price: f64,
}

impl StoredOrder {
    pub(crate) fn to_wire(&self) -> Order {
        Order {
            number: self.number,
            name: self.name.clone(),
            quantity: self.quantity,
            request_id: self.request_id.clone(),
        }
    }
}

/// What a request id stands for (also the value of a tombstone in sled, and of every
/// request in a snapshot).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum RequestState {
    Ordered(u64),
    Tombstone,
}

/// The state machine; cheap to clone. Reads may come from any task.
#[derive(Clone)]
pub(crate) struct StateMachineStore {
    pub(super) db: sled::Db,
    pub(super) orders: sled::Tree,
    /// Tombstoned request ids (the sled tree `requests`, which before the in-memory index
    /// also held every ordered id; [`StateMachineStore::open`] removes those).
    pub(super) tombstones: sled::Tree,
    pub(super) meta: sled::Tree,
    /// The record of the current snapshot (its metadata and file), alone under
    /// [`CURRENT_SNAPSHOT`]; stores written before snapshot files keep the whole snapshot
    /// under [`SNAPSHOT`] here or in `meta`, read until the next one is recorded.
    pub(super) snapshots: sled::Tree,
    /// The snapshots' bytes.
    pub(super) files: SnapshotFiles,
    /// Held while a snapshot is recorded (built or installed) and old files removed, so
    /// a build and an install that meet neither remove the other's file nor record an
    /// older snapshot over a newer one.
    pub(super) recording: Arc<Mutex<()>>,
    /// Held while applying or reading the whole state, so a snapshot or digest sees
    /// the state between two batches, never in the middle of one; it guards the index of
    /// request ids, which applies write and lookups read.
    pub(super) whole: Arc<Mutex<RequestIndex>>,
    /// Times every applied run of entries.
    pub(super) apply_seconds: prometheus::Histogram,
}

impl std::fmt::Debug for StateMachineStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachineStore").finish_non_exhaustive()
    }
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serialize(value).expect("state machine values serialize")
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StorageError> {
    bincode::deserialize(bytes).map_err(|e| sm_read_err(*e))
}

impl StateMachineStore {
    /// Opens the state machine's trees in `db` and its snapshot files in `snapshot_dir`,
    /// finishing an install a crash interrupted, removing any file a crash left
    /// unrecorded, and indexing the request ids.
    pub(crate) fn open(
        db: &sled::Db,
        snapshot_dir: &Path,
        apply_seconds: prometheus::Histogram,
    ) -> anyhow::Result<Self> {
        let store = StateMachineStore {
            db: db.clone(),
            orders: db.open_tree("orders")?,
            tombstones: db.open_tree("requests")?,
            meta: db.open_tree("sm_meta")?,
            snapshots: db.open_tree("sm_snapshot")?,
            files: SnapshotFiles::open(snapshot_dir.to_path_buf())?,
            recording: Arc::new(Mutex::new(())),
            whole: Arc::new(Mutex::new(RequestIndex::default())),
            apply_seconds,
        };
        store.finish_install()?;
        let current = store.snapshot_record()?.map(|r| r.file);
        store.files.keep_only(current.as_deref())?;
        store.drop_ordered_ids()?;
        let started = std::time::Instant::now();
        let indexed = {
            let mut index = store.lock();
            store.rebuild_index(&mut index)?;
            index.len()
        };
        tracing::info!(
            request_ids = indexed,
            ms = started.elapsed().as_millis() as u64,
            "request ids indexed"
        );
        Ok(store)
    }

    /// Removes from the `requests` tree the ids of orders, which stores written before the
    /// in-memory index kept there beside the tombstones: each order holds its own. Any
    /// subset removed leaves a correct store, so a crash midway needs nothing more.
    fn drop_ordered_ids(&self) -> Result<(), StorageError> {
        let mut dropped = 0u64;
        for item in self.tombstones.iter() {
            let (key, value) = item.map_err(sm_read_err)?;
            if matches!(decode(&value)?, RequestState::Ordered(_)) {
                self.tombstones.remove(key).map_err(sm_write_err)?;
                dropped += 1;
            }
        }
        if dropped > 0 {
            self.db.flush().map_err(sm_write_err)?;
            tracing::info!(
                dropped,
                "request ids of orders moved out of sled into the index"
            );
        }
        Ok(())
    }

    /// Indexes every order's request id, read back from the tree, and every tombstone,
    /// afresh.
    fn rebuild_index(&self, index: &mut RequestIndex) -> Result<(), StorageError> {
        index.clear();
        for item in self.orders.iter() {
            let (key, value) = item.map_err(sm_read_err)?;
            index.insert(request_id_of(&value)?, Candidate::Order(from_be_key(&key)));
        }
        self.index_tombstones(index)
    }

    /// Indexes every tombstone.
    pub(super) fn index_tombstones(&self, index: &mut RequestIndex) -> Result<(), StorageError> {
        for key in self.tombstones.iter().keys() {
            let key = key.map_err(sm_read_err)?;
            let id = std::str::from_utf8(&key).map_err(sm_read_err)?;
            index.insert(id, Candidate::Tombstone);
        }
        Ok(())
    }

    /// Runs `work` on tokio's blocking pool. Whole-state scans (snapshots, the digest)
    /// take seconds at a million orders; on the node's single-threaded runtime they would
    /// stall heartbeats and every request meanwhile.
    pub(crate) async fn off_runtime<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&StateMachineStore) -> Result<T, StorageError> + Send + 'static,
    {
        let store = self.clone();
        crate::store::disk::blocking(move || work(&store))
            .await
            .map_err(sm_read_err)?
    }

    /// Like [`off_runtime`](Self::off_runtime), on a thread of lower priority
    /// ([`crate::store::disk::background`]): for work no buy waits on.
    pub(crate) async fn in_background<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&StateMachineStore) -> Result<T, StorageError> + Send + 'static,
    {
        let store = self.clone();
        crate::store::disk::background("snapshot-build", move || work(&store))
            .await
            .map_err(sm_read_err)?
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, RequestIndex> {
        self.whole.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn meta_get<T: for<'de> Deserialize<'de>>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        match self.meta.get(key).map_err(sm_read_err)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The number the next order gets: every order below it is applied.
    pub(super) fn next_number(&self) -> Result<u64, StorageError> {
        let next = self.meta.get(NEXT_NUMBER).map_err(sm_read_err)?;
        Ok(next.map_or(0, |b| from_be_key(&b)))
    }

    /// The last applied log id.
    pub(crate) fn last_applied(&self) -> Result<Option<LogId>, StorageError> {
        Ok(self.meta_get::<Option<LogId>>(LAST_APPLIED)?.flatten())
    }

    /// The order with this number.
    pub(crate) fn order(&self, number: u64) -> Result<Option<StoredOrder>, StorageError> {
        match self.orders.get(be_key(number)).map_err(sm_read_err)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// What `request_id` stands for, if anything.
    pub(crate) fn request(&self, request_id: &str) -> Result<Option<RequestState>, StorageError> {
        Ok(self.request_and_order(request_id)?.map(|(state, _)| state))
    }

    /// What `request_id` stands for, with its order if it has one.
    pub(crate) fn request_and_order(
        &self,
        request_id: &str,
    ) -> Result<Option<(RequestState, Option<StoredOrder>)>, StorageError> {
        let index = self.lock();
        Ok(match self.find(&index, request_id)? {
            None => None,
            Some(Known::Order(order)) => Some((RequestState::Ordered(order.number), Some(order))),
            Some(Known::Tombstone) => Some((RequestState::Tombstone, None)),
        })
    }

    /// What `request_id` stands for: each candidate the index names, checked against the
    /// id its order or tombstone holds.
    pub(super) fn find(
        &self,
        index: &RequestIndex,
        request_id: &str,
    ) -> Result<Option<Known>, StorageError> {
        for candidate in index.candidates(request_id) {
            match candidate {
                Candidate::Order(number) => {
                    let order = self.order(number)?.ok_or_else(|| {
                        sm_read_err(std::io::Error::other(format!(
                            "the request index names order {number}, which is missing"
                        )))
                    })?;
                    if order.request_id == request_id {
                        return Ok(Some(Known::Order(order)));
                    }
                }
                Candidate::Tombstone => {
                    if self
                        .tombstones
                        .contains_key(request_id)
                        .map_err(sm_read_err)?
                    {
                        return Ok(Some(Known::Tombstone));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Up to `limit` orders with number > `after`, and the last applied index.
    pub(crate) fn orders_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Order>, Option<u64>), StorageError> {
        let _whole = self.lock();
        let range = match after {
            Some(n) if n == u64::MAX => {
                return Ok((Vec::new(), self.last_applied()?.map(|l| l.index)))
            }
            Some(n) => self.orders.range(be_key(n + 1)..),
            None => self.orders.range::<[u8; 8], _>(..),
        };
        let mut orders = Vec::new();
        for item in range.take(limit) {
            let (_, value) = item.map_err(sm_read_err)?;
            orders.push(decode::<StoredOrder>(&value)?.to_wire());
        }
        Ok((orders, self.last_applied()?.map(|l| l.index)))
    }

    /// The contract's digest: SHA-256 over `number\tname\tquantity\n` in number order.
    /// Of the orders below `next_number` as the lock saw it: orders are only ever appended,
    /// so those are exactly the state at one applied entry, and applies need not wait.
    pub(crate) fn digest(&self) -> Result<Digest, StorageError> {
        let next_number = {
            let _whole = self.lock();
            self.next_number()?
        };
        let mut hasher = Sha256::new();
        let mut count = 0u64;
        let mut last = None;
        for item in self.orders.range(..be_key(next_number)) {
            let (_, value) = item.map_err(sm_read_err)?;
            let order: StoredOrder = decode(&value)?;
            hasher.update(format!(
                "{}\t{}\t{}\n",
                order.number, order.name, order.quantity
            ));
            count += 1;
            last = Some(order.number);
        }
        Ok(Digest {
            orders: count,
            last_order: last,
            digest: hex::encode(hasher.finalize()),
        })
    }
}

/// What a request id stands for, as read from the store.
pub(super) enum Known {
    Order(StoredOrder),
    Tombstone,
}

/// The request id inside an encoded [`StoredOrder`], read in place: indexing a million
/// orders at open, or listing their ids in a snapshot, need not decode (and allocate) the
/// rest.
pub(super) fn request_id_of(encoded: &[u8]) -> Result<&str, StorageError> {
    let id = &encoded[request_id_range(encoded)?];
    std::str::from_utf8(id).map_err(sm_read_err)
}

/// Where the request id lies in an encoded [`StoredOrder`]. Bincode's layout: the number,
/// the name (u64 length, bytes), the quantity, then the request id (u64 length, bytes).
pub(super) fn request_id_range(encoded: &[u8]) -> Result<std::ops::Range<usize>, StorageError> {
    let corrupt = || sm_read_err(std::io::Error::other("order record too short"));
    let u64_at = |at: usize| -> Result<usize, StorageError> {
        let bytes = encoded.get(at..at + 8).ok_or_else(corrupt)?;
        usize::try_from(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
            .map_err(|_| corrupt())
    };
    let name_len = u64_at(8)?;
    let id_len_at = (16usize + 8).checked_add(name_len).ok_or_else(corrupt)?;
    let start = id_len_at + 8;
    let end = start.checked_add(u64_at(id_len_at)?).ok_or_else(corrupt)?;
    if end > encoded.len() {
        return Err(corrupt());
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_id_read_in_place_is_the_decoded_one() {
        let order = StoredOrder {
            number: 12,
            name: "Elephant".into(),
            quantity: 3,
            request_id: "9f1c-ü".into(),
            price: 19.5,
        };
        let encoded = encode(&order);
        assert_eq!(request_id_of(&encoded).unwrap(), "9f1c-ü");
        // A cut record is an error, never a panic or a wrong id.
        for cut in 0..encoded.len() - 8 {
            assert!(request_id_of(&encoded[..cut]).is_err(), "cut at {cut}");
        }
    }
}
