//! [`CatalogStore`]: the sled database, opening and seeding it, flushing, and reads.

use std::path::Path;
use std::sync::{Arc, RwLock};

use sled::transaction::TransactionError;

use toystore_api::catalog::{
    Invalidate, LedgerRow, Product, Reservation, ReservationState, SEED_PRODUCTS,
};

use super::arrivals::{self, Arrivals};
use super::error::StoreError;
use super::group_flush::{FlushObserver, GroupFlush};
use super::records::{decode, encode, ProductRecord, ReservationRecord};

const SEEDED_KEY: &[u8] = b"seeded";

/// Products and reservations, persisted in sled.
#[derive(Clone)]
pub(crate) struct CatalogStore {
    /// The only strong handle: the flusher holds a weak one, so dropping the store closes
    /// the database (and its file lock) at once.
    pub(super) db: Arc<sled::Db>,
    /// Concurrent changes share fsyncs through it.
    pub(super) flusher: GroupFlush,
    pub(super) products: sled::Tree,
    /// Reservations in arrival order ([`arrivals`]).
    pub(super) reservations: sled::Tree,
    /// The held reservations' keys, so reconciliation need not scan every reservation ever
    /// made.
    pub(super) held: sled::Tree,
    pub(super) meta: sled::Tree,
    /// Finds a reservation by request id; reserves hold it to write, the others to read.
    pub(super) arrivals: Arc<RwLock<Arrivals>>,
}

/// Which reservations a listing by age admits: those taken at least `age_ms` before now,
/// by this process's wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OlderThan {
    taken_before_ms: u64,
    now_ms: u64,
}

impl OlderThan {
    /// Reservations at least `age_ms` old at `now_ms`.
    fn new(now_ms: u64, age_ms: u64) -> Self {
        OlderThan {
            taken_before_ms: now_ms.saturating_sub(age_ms),
            now_ms,
        }
    }

    /// Whether a reservation taken at `created_ms` is old enough. One dated after now was
    /// taken before the wall clock stepped back: its age is unknown, and it counts as old.
    /// Young would hide a held reservation from the reconciler (and its stock from sale)
    /// for as long as the clock had been ahead; settling it early is safe, since the
    /// reconciler commits a tombstone before it releases, so the order cannot commit too.
    fn admits(self, created_ms: u64) -> bool {
        created_ms <= self.taken_before_ms || created_ms > self.now_ms
    }
}

impl CatalogStore {
    /// Opens (or creates) the store at `path`; a fresh store is seeded with the ten toys at
    /// `initial_stock` each.
    #[cfg(test)]
    pub(crate) fn open(path: &Path, initial_stock: u64) -> Result<Self, StoreError> {
        Self::open_observed(path, initial_stock, Arc::new(|_, _| {}))
    }

    /// Like `open`; `observe` hears how long each group flush took and how many changes
    /// it made durable.
    pub(crate) fn open_observed(
        path: &Path,
        initial_stock: u64,
        observe: FlushObserver,
    ) -> Result<Self, StoreError> {
        let db = Arc::new(sled::Config::new().path(path).open()?);
        let flusher = {
            let db = Arc::downgrade(&db);
            let flush = move || match db.upgrade() {
                Some(db) => db.flush().map(drop).map_err(|e| e.to_string()),
                None => Err("the store is closed".to_string()),
            };
            GroupFlush::start(flush, observe)
        };
        let reservations = db.open_tree(arrivals::RESERVATIONS)?;
        let held = db.open_tree(arrivals::HELD)?;
        let moved = arrivals::move_from_request_id_keys(&db, &reservations, &held)?;
        if moved > 0 {
            tracing::info!(moved, "reservations moved to arrival order");
        }
        let started = std::time::Instant::now();
        let index = Arrivals::load(&reservations)?;
        tracing::info!(
            reservations = index.len(),
            ms = started.elapsed().as_millis() as u64,
            "reservations indexed"
        );
        let store = CatalogStore {
            flusher,
            products: db.open_tree("products")?,
            reservations,
            held,
            meta: db.open_tree("meta")?,
            arrivals: Arc::new(RwLock::new(index)),
            db,
        };
        store.seed(initial_stock)?;
        Ok(store)
    }

    /// Seeds once: the marker and the products go in one transaction, so a crash half way
    /// leaves either nothing or everything.
    fn seed(&self, initial_stock: u64) -> Result<(), StoreError> {
        use sled::Transactional;
        (&self.products, &self.meta)
            .transaction(|(products, meta)| {
                if meta.get(SEEDED_KEY)?.is_some() {
                    return Ok(());
                }
                for (name, price) in SEED_PRODUCTS {
                    let record = ProductRecord::new(price, initial_stock);
                    products.insert(name.as_bytes(), encode(&record))?;
                }
                meta.insert(SEEDED_KEY, &[1u8][..])?;
                Ok(())
            })
            .map_err(|e: TransactionError<StoreError>| StoreError::from(e))?;
        self.db.flush()?;
        Ok(())
    }

    /// Waits until everything this task wrote so far is on disk, sharing the fsync with
    /// every change that is waiting at the same time.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush().await.map_err(StoreError::Storage)
    }

    /// Checks that the store answers reads (for `/health`).
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        self.meta.get(SEEDED_KEY)?;
        Ok(())
    }

    /// Every product, sorted by name.
    pub(crate) fn products(&self) -> Result<Vec<Product>, StoreError> {
        self.products
            .iter()
            .map(|item| {
                let (key, value) = item?;
                let record: ProductRecord = decode(&value)?;
                Ok(record.product(&String::from_utf8_lossy(&key)))
            })
            .collect()
    }

    pub(crate) fn product(&self, name: &str) -> Result<Product, StoreError> {
        let record = self.product_record(name)?;
        Ok(record.product(name))
    }

    /// One ledger row per product, each read atomically.
    pub(crate) fn ledger(&self) -> Result<Vec<LedgerRow>, StoreError> {
        self.products
            .iter()
            .map(|item| {
                let (key, value) = item?;
                let record: ProductRecord = decode(&value)?;
                Ok(record.ledger_row(&String::from_utf8_lossy(&key)))
            })
            .collect()
    }

    /// One reservation by its request id (the tests read it back).
    #[cfg(test)]
    pub(crate) fn reservation(&self, request_id: &str) -> Result<Reservation, StoreError> {
        let arrivals = self.arrivals.read().unwrap_or_else(|e| e.into_inner());
        for key in arrivals.keys(request_id) {
            if let Some(bytes) = self.reservations.get(key)? {
                let record: ReservationRecord = decode(&bytes)?;
                return Ok(record.reservation(request_id));
            }
        }
        Err(StoreError::ReservationNotFound)
    }

    /// Reservations in `state` (all if `None`), only those [`OlderThan`] admits if given.
    /// Reservations in `state` (all without one), and with `older_than_ms` only those
    /// taken at least that long before now. `now_ms` is read once the scan is done: a
    /// reservation taken while the scan runs is then never dated after it, which would make
    /// it count as old (see [`OlderThan`]) and let the reconciler settle a buy in flight.
    pub(crate) fn reservations(
        &self,
        state: Option<ReservationState>,
        older_than_ms: Option<u64>,
        now_ms: impl FnOnce() -> u64,
    ) -> Result<Vec<Reservation>, StoreError> {
        let keys: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> = match state {
            Some(ReservationState::Held) => Box::new(self.held.iter().keys()),
            _ => Box::new(self.reservations.iter().keys()),
        };
        let mut found = Vec::new();
        for key in keys {
            let key = key?;
            let Some(bytes) = self.reservations.get(&key)? else {
                continue; // released between the index read and this one
            };
            let record: ReservationRecord = decode(&bytes)?;
            if state.is_some_and(|s| s != record.state) {
                continue;
            }
            found.push((
                record.created_ms,
                record.reservation(arrivals::request_id(&key)?),
            ));
        }
        let Some(age_ms) = older_than_ms else {
            return Ok(found.into_iter().map(|(_, r)| r).collect());
        };
        let older_than = OlderThan::new(now_ms(), age_ms);
        Ok(found
            .into_iter()
            .filter(|(created_ms, _)| older_than.admits(*created_ms))
            .map(|(_, r)| r)
            .collect())
    }

    fn product_record(&self, name: &str) -> Result<ProductRecord, StoreError> {
        let bytes = self
            .products
            .get(name.as_bytes())?
            .ok_or(StoreError::ProductNotFound)?;
        decode(&bytes)
    }
}

/// The event describing a product after a change.
pub(super) fn invalidation(name: &str, record: &ProductRecord) -> Invalidate {
    Invalidate {
        name: name.to_string(),
        quantity: record.quantity,
        price: record.price,
        version: record.version,
    }
}
