//! [`CatalogStore`]: the sled database, opening and seeding it, flushing, and reads.

use std::path::Path;
use std::sync::Arc;

use sled::transaction::TransactionError;

use toystore_api::catalog::{
    Invalidate, LedgerRow, Product, Reservation, ReservationState, SEED_PRODUCTS,
};

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
    pub(super) reservations: sled::Tree,
    /// Index of held reservations (request id -> nothing), so reconciliation need not scan
    /// every reservation ever made.
    pub(super) held: sled::Tree,
    pub(super) meta: sled::Tree,
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
        let store = CatalogStore {
            flusher,
            products: db.open_tree("products")?,
            reservations: db.open_tree("reservations")?,
            held: db.open_tree("held")?,
            meta: db.open_tree("meta")?,
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
        let bytes = self
            .reservations
            .get(request_id.as_bytes())?
            .ok_or(StoreError::ReservationNotFound)?;
        let record: ReservationRecord = decode(&bytes)?;
        Ok(record.reservation(request_id))
    }

    /// Reservations in `state` (all if `None`) taken at or before `taken_before_ms`.
    pub(crate) fn reservations(
        &self,
        state: Option<ReservationState>,
        taken_before_ms: u64,
    ) -> Result<Vec<Reservation>, StoreError> {
        let ids: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> = match state {
            Some(ReservationState::Held) => Box::new(self.held.iter().keys()),
            _ => Box::new(self.reservations.iter().keys()),
        };
        let mut out = Vec::new();
        for id in ids {
            let id = id?;
            let Some(bytes) = self.reservations.get(&id)? else {
                continue; // released between the index read and this one
            };
            let record: ReservationRecord = decode(&bytes)?;
            if state.is_some_and(|s| s != record.state) || record.created_ms > taken_before_ms {
                continue;
            }
            out.push(record.reservation(&String::from_utf8_lossy(&id)));
        }
        Ok(out)
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
