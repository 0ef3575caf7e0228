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
use crate::store::keys::{be_key, from_be_key};
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
    /// Serializes the whole state under the lock.
    pub(super) fn capture(
        &self,
    ) -> Result<(Vec<u8>, Option<LogId>, StoredMembership), StorageError> {
        let _whole = self.lock();
        let mut orders = Vec::new();
        for item in self.orders.iter() {
            orders.push(decode::<StoredOrder>(&item.map_err(sm_read_err)?.1)?);
        }
        let mut requests = Vec::new();
        for item in self.requests.iter() {
            let (key, value) = item.map_err(sm_read_err)?;
            let id = String::from_utf8_lossy(&key).into_owned();
            requests.push((id, decode::<RequestState>(&value)?));
        }
        let next_number = self
            .meta
            .get(NEXT_NUMBER)
            .map_err(sm_read_err)?
            .map(|b| from_be_key(&b))
            .unwrap_or(0);
        let body = SnapshotBody {
            orders,
            requests,
            next_number,
        };
        let membership = self
            .meta_get::<StoredMembership>(MEMBERSHIP)?
            .unwrap_or_default();
        Ok((encode(&body), self.last_applied()?, membership))
    }

    /// Replaces the whole state with a snapshot's, atomically.
    pub(super) fn restore(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
        let body: SnapshotBody = bincode::deserialize(data).map_err(|e| snapshot_err(*e))?;
        let _whole = self.lock();
        // Collected outside the transaction: iterating inside one deadlocks sled.
        let old_orders = collect_keys(&self.orders)?;
        let old_requests = collect_keys(&self.requests)?;
        let outcome: Result<(), TransactionError<()>> = (&self.orders, &self.requests, &self.meta)
            .transaction(|(orders, requests, sm_meta)| {
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
                sm_meta.insert(SNAPSHOT, encode(&stored))?;
                Ok(())
            });
        outcome.map_err(|e| snapshot_err(std::io::Error::other(format!("{e:?}"))))
    }

    pub(super) fn stored_snapshot(&self) -> Result<Option<StoredSnapshot>, StorageError> {
        self.meta_get(SNAPSHOT)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (data, last_applied, membership) = self.capture()?;
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
        self.meta
            .insert(SNAPSHOT, encode(&stored))
            .map_err(snapshot_err)?;
        // The log is purged behind this snapshot next: it must be on disk first.
        self.flush().await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(stored.data)),
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
