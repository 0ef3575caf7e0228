//! The order state machine's data in sled: orders by number, request ids, the applied
//! position; reads, and applying a batch of entries.

use std::path::Path;
use std::sync::{Arc, Mutex};

use openraft::EntryPayload;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::snapshot_file::SnapshotFiles;
use crate::store::errors::{sm_read_err, sm_write_err};
use crate::store::keys::{be_key, from_be_key};
use crate::typ::{Command, CommandResult, Entry, LogId, StorageError, StoredMembership};
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

/// What a request id stands for.
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
    pub(super) requests: sled::Tree,
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
    /// the state between two batches, never in the middle of one.
    pub(super) whole: Arc<Mutex<()>>,
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
    /// finishing an install a crash interrupted and removing any file a crash left
    /// unrecorded.
    pub(crate) fn open(
        db: &sled::Db,
        snapshot_dir: &Path,
        apply_seconds: prometheus::Histogram,
    ) -> anyhow::Result<Self> {
        let store = StateMachineStore {
            db: db.clone(),
            orders: db.open_tree("orders")?,
            requests: db.open_tree("requests")?,
            meta: db.open_tree("sm_meta")?,
            snapshots: db.open_tree("sm_snapshot")?,
            files: SnapshotFiles::open(snapshot_dir.to_path_buf())?,
            recording: Arc::new(Mutex::new(())),
            whole: Arc::new(Mutex::new(())),
            apply_seconds,
        };
        store.finish_install()?;
        let current = store.snapshot_record()?.map(|r| r.file);
        store.files.keep_only(current.as_deref())?;
        Ok(store)
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

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
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
        match self.requests.get(request_id).map_err(sm_read_err)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// What `request_id` stands for, with its order if it has one, read between two
    /// applied batches (an apply writes a request id before its order).
    pub(crate) fn request_and_order(
        &self,
        request_id: &str,
    ) -> Result<Option<(RequestState, Option<StoredOrder>)>, StorageError> {
        let _whole = self.lock();
        let Some(state) = self.request(request_id)? else {
            return Ok(None);
        };
        let order = match state {
            RequestState::Ordered(number) => self.order(number)?,
            RequestState::Tombstone => None,
        };
        Ok(Some((state, order)))
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

    /// Applies a batch and returns one result per entry.
    ///
    /// Plain inserts, not a sled transaction (each of which writes a marker to disk twice),
    /// in an order that makes any prefix of them a state that re-applying the batch
    /// completes exactly: sled recovers a prefix of its log after a crash, and openraft
    /// re-applies every entry after `last_applied`, which is written last. An order's
    /// request id is written before the order, so a re-applied command finds its number;
    /// the order is written again if it was lost, and the next number is never below one
    /// already given.
    pub(super) fn apply_batch(
        &self,
        entries: &[Entry],
    ) -> Result<Vec<CommandResult>, StorageError> {
        let _whole = self.lock();
        let recorded_next = self.next_number()?;
        let mut apply = Applying {
            orders: &self.orders,
            requests: &self.requests,
            recorded_next,
            next: recorded_next,
        };
        let mut results = Vec::with_capacity(entries.len());
        let mut last_membership = None;
        for entry in entries {
            let result = match &entry.payload {
                EntryPayload::Blank => CommandResult::Nothing,
                EntryPayload::Membership(m) => {
                    last_membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                    CommandResult::Nothing
                }
                EntryPayload::Normal(command) => apply.command(command)?,
            };
            results.push(result);
        }
        let write = |key: &[u8], value: Vec<u8>| {
            self.meta
                .insert(key, value)
                .map(|_| ())
                .map_err(sm_write_err)
        };
        write(NEXT_NUMBER, be_key(apply.next).to_vec())?;
        if let Some(membership) = last_membership {
            write(MEMBERSHIP, encode(&membership))?;
        }
        if let Some(last) = entries.last() {
            write(LAST_APPLIED, encode(&Some(last.log_id)))?;
        }
        Ok(results)
    }
}

/// One batch being applied: the trees it writes and the order numbers it gives.
struct Applying<'a> {
    orders: &'a sled::Tree,
    requests: &'a sled::Tree,
    /// The next number as the last fully applied batch recorded it.
    recorded_next: u64,
    /// The number the next new order gets.
    next: u64,
}

/// The fields of a [`Command::CreateOrder`].
struct Create<'c> {
    request_id: &'c str,
    name: &'c str,
    quantity: u64,
    price: f64,
}

impl Create<'_> {
    fn order(&self, number: u64) -> StoredOrder {
        StoredOrder {
            number,
            name: self.name.to_string(),
            quantity: self.quantity,
            request_id: self.request_id.to_string(),
            price: self.price,
        }
    }
}

impl Applying<'_> {
    fn command(&mut self, command: &Command) -> Result<CommandResult, StorageError> {
        match command {
            Command::Batch(commands) => {
                let results = commands
                    .iter()
                    .map(|command| self.command(command))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(CommandResult::Batch(results))
            }
            Command::CreateOrder {
                request_id,
                name,
                quantity,
                price,
            } => self.create(&Create {
                request_id,
                name,
                quantity: *quantity,
                price: *price,
            }),
            Command::Tombstone { request_id } => {
                Ok(match self.claim(request_id, RequestState::Tombstone)? {
                    None | Some(RequestState::Tombstone) => CommandResult::Tombstoned,
                    Some(RequestState::Ordered(number)) => CommandResult::AlreadyOrdered { number },
                })
            }
        }
    }

    fn create(&mut self, create: &Create<'_>) -> Result<CommandResult, StorageError> {
        let number = self.next;
        match self.claim(create.request_id, RequestState::Ordered(number))? {
            None => {
                self.next += 1;
                self.put_order(&create.order(number))?;
                Ok(CommandResult::Created { number, new: true })
            }
            Some(RequestState::Ordered(number)) => self.known_order(create, number),
            Some(RequestState::Tombstone) => Ok(CommandResult::Expired),
        }
    }

    /// Records `state` for `request_id` unless the id already has a state, which is
    /// returned instead.
    fn claim(
        &self,
        request_id: &str,
        state: RequestState,
    ) -> Result<Option<RequestState>, StorageError> {
        let swapped = self
            .requests
            .compare_and_swap(
                request_id.as_bytes(),
                None as Option<&[u8]>,
                Some(encode(&state)),
            )
            .map_err(sm_write_err)?;
        match swapped {
            Ok(()) => Ok(None),
            Err(conflict) => conflict.current.map(|bytes| decode(&bytes)).transpose(),
        }
    }

    /// A create for a request id that already has order `number`: the same order again,
    /// or a mismatch. An order a crash lost after its request id was written (only ever
    /// at or above the recorded next number) is written again.
    fn known_order(
        &mut self,
        create: &Create<'_>,
        number: u64,
    ) -> Result<CommandResult, StorageError> {
        self.next = self.next.max(number + 1);
        let existing: StoredOrder = match self.orders.get(be_key(number)).map_err(sm_read_err)? {
            Some(bytes) => decode(&bytes)?,
            None if number >= self.recorded_next => {
                self.put_order(&create.order(number))?;
                return Ok(CommandResult::Created { number, new: false });
            }
            None => {
                return Err(sm_read_err(std::io::Error::other(format!(
                    "request id points at order {number}, which is missing"
                ))))
            }
        };
        Ok(
            if existing.name == create.name && existing.quantity == create.quantity {
                CommandResult::Created { number, new: false }
            } else {
                CommandResult::Mismatch
            },
        )
    }

    fn put_order(&self, order: &StoredOrder) -> Result<(), StorageError> {
        self.orders
            .insert(be_key(order.number), encode(order))
            .map(|_| ())
            .map_err(sm_write_err)
    }
}
