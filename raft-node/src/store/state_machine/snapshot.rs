//! Snapshots of the order state machine: capturing the whole state between two applied
//! batches, keeping the current snapshot durably in sled, and replacing the state with a
//! received snapshot in one transaction.

use std::io::Cursor;

use openraft::RaftSnapshotBuilder;
use serde::{Deserialize, Serialize};
use sled::transaction::{TransactionError, Transactional};

use super::data::{
    decode, encode, RequestState, StateMachineStore, StoredOrder, LAST_APPLIED, MEMBERSHIP,
    NEXT_NUMBER, SNAPSHOT,
};
use crate::store::errors::{sm_read_err, snapshot_err};
use crate::store::keys::be_key;
use crate::typ::{LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

/// The whole state machine as a snapshot carries it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SnapshotBody {
    orders: Vec<StoredOrder>,
    requests: Vec<(String, RequestState)>,
    next_number: u64,
}

/// The snapshot kept durably: its metadata and bytes.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredSnapshot {
    pub(super) meta: SnapshotMeta,
    pub(super) data: Vec<u8>,
}

impl StateMachineStore {
    /// Serializes the state as of the last applied entry, holding the apply lock only to
    /// read where that is, so applies go on while the orders are copied.
    ///
    /// That is exact because the state only grows: order `n` and `Ordered(n)` are written
    /// once, together, in the order of `n`, and a request's state never changes once
    /// written. So the state at the last applied entry is every order below `next_number`,
    /// every request `Ordered` below it, and the tombstones written by then. Tombstones
    /// written since may be copied too; that changes nothing a replay of the entries after
    /// the snapshot computes: a tombstone is only written for a request never seen before,
    /// so no earlier entry after the snapshot names that request, and the tombstone's own
    /// entry finds it and answers as it did.
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
        let mut orders = Vec::new();
        for item in self.orders.range(..be_key(next_number)) {
            orders.push(decode::<StoredOrder>(&item.map_err(sm_read_err)?.1)?);
        }
        let mut requests = Vec::new();
        for item in self.requests.iter() {
            let (key, value) = item.map_err(sm_read_err)?;
            let state = decode::<RequestState>(&value)?;
            if matches!(state, RequestState::Ordered(n) if n >= next_number) {
                continue;
            }
            requests.push((String::from_utf8_lossy(&key).into_owned(), state));
        }
        let body = SnapshotBody {
            orders,
            requests,
            next_number,
        };
        Ok((encode(&body), last_applied, membership))
    }

    /// Replaces the whole state with a snapshot's, atomically.
    pub(super) fn restore(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
        let body: SnapshotBody = bincode::deserialize(data).map_err(|e| snapshot_err(*e))?;
        let _whole = self.lock();
        // Collected outside the transaction: iterating inside one deadlocks sled.
        let old_orders = collect_keys(&self.orders)?;
        let old_requests = collect_keys(&self.requests)?;
        let trees = (&self.orders, &self.requests, &self.meta, &self.snapshots);
        let outcome: Result<(), TransactionError<()>> =
            trees.transaction(|(orders, requests, sm_meta, snapshots)| {
                for key in &old_orders {
                    orders.remove(key.clone())?;
                }
                for key in &old_requests {
                    requests.remove(key.clone())?;
                }
                for order in &body.orders {
                    orders.insert(&be_key(order.number), encode(order))?;
                }
                for (id, state) in &body.requests {
                    requests.insert(id.as_bytes(), encode(state))?;
                }
                sm_meta.insert(NEXT_NUMBER, &be_key(body.next_number))?;
                sm_meta.insert(LAST_APPLIED, encode(&meta.last_log_id))?;
                sm_meta.insert(MEMBERSHIP, encode(&meta.last_membership))?;
                let stored = StoredSnapshot {
                    meta: meta.clone(),
                    data: data.to_vec(),
                };
                snapshots.insert(SNAPSHOT, encode(&stored))?;
                sm_meta.remove(SNAPSHOT)?;
                Ok(())
            });
        outcome.map_err(|e| snapshot_err(std::io::Error::other(format!("{e:?}"))))
    }

    /// The current snapshot; a store written before snapshots had their own tree keeps it
    /// in `meta`.
    pub(super) fn stored_snapshot(&self) -> Result<Option<StoredSnapshot>, StorageError> {
        match self.snapshots.get(SNAPSHOT).map_err(sm_read_err)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => self.meta_get(SNAPSHOT),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (meta, data) = self
            .off_runtime(|sm| {
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
                let stored = StoredSnapshot {
                    meta: meta.clone(),
                    data,
                };
                sm.snapshots
                    .insert(SNAPSHOT, encode(&stored))
                    .map_err(snapshot_err)?;
                sm.meta.remove(SNAPSHOT).map_err(snapshot_err)?;
                Ok((meta, stored.data))
            })
            .await?;
        // The log is purged behind this snapshot next: it must be on disk first.
        self.flush().await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

fn collect_keys(tree: &sled::Tree) -> Result<Vec<sled::IVec>, StorageError> {
    tree.iter()
        .keys()
        .collect::<Result<Vec<_>, _>>()
        .map_err(sm_read_err)
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
        let (_, sm) = crate::store::open(&db).unwrap();
        let order = |number: u64, request_id: &str| StoredOrder {
            number,
            name: "Tux".into(),
            quantity: 1,
            request_id: request_id.into(),
            price: 1.5,
        };
        // Orders 0 and 1 applied; order 2 and its request written by an apply still under
        // way (past next_number); a tombstone, applied before or after, either way.
        sm.meta.insert(NEXT_NUMBER, &be_key(2)).unwrap();
        for (number, id) in [(0, "a"), (1, "b"), (2, "c")] {
            put(&sm.orders, &be_key(number), &order(number, id));
            put(&sm.requests, id.as_bytes(), &RequestState::Ordered(number));
        }
        put(&sm.requests, b"d", &RequestState::Tombstone);

        let (data, _, _) = sm.capture().unwrap();
        let body: SnapshotBody = bincode::deserialize(&data).unwrap();
        assert_eq!(body.next_number, 2);
        let numbers: Vec<u64> = body.orders.iter().map(|o| o.number).collect();
        assert_eq!(numbers, vec![0, 1]);
        let mut ids: Vec<&str> = body.requests.iter().map(|r| r.0.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec!["a", "b", "d"]);
        // The digest reads the same state.
        assert_eq!(sm.digest().unwrap().orders, 2);
    }
}
