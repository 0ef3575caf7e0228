//! The changes a client can make: reserve, confirm, release, set a price, restock.
//!
//! Each is a single sled transaction followed by a (group) flush, so when one returns `Ok`
//! it is on disk, a repeat included. Transaction closures may be re-run by sled on conflict, so they only read and
//! write through the transaction handles.

use sled::transaction::{
    ConflictableTransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;

use super::arrivals::{self, Arrivals};
use super::db::{invalidation, CatalogStore};
use super::error::StoreError;
use super::records::{decode, encode, ProductRecord, ReservationRecord};
use toystore_api::catalog::{Invalidate, Product, Reservation, ReservationState, ReserveRequest};

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort<T>(err: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(err))
}

/// The answer to a reservation request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReserveOutcome {
    pub reservation: Reservation,
    /// False when the request id was already reserved and this call took nothing.
    pub created: bool,
    pub event: Option<Invalidate>,
}

/// The answer to a confirm or release.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transition {
    pub reservation: Reservation,
    /// False when the reservation already was in the target state.
    pub changed: bool,
    pub event: Option<Invalidate>,
}

fn read_product(tree: &TransactionalTree, name: &str) -> TxResult<ProductRecord> {
    match tree.get(name.as_bytes())? {
        Some(bytes) => decode(&bytes).or_else(abort),
        None => abort(StoreError::ProductNotFound),
    }
}

/// The product, or `None` when there is no such product.
fn find_product(tree: &TransactionalTree, name: &str) -> TxResult<Option<ProductRecord>> {
    match tree.get(name.as_bytes())? {
        Some(bytes) => decode(&bytes).map(Some).or_else(abort),
        None => Ok(None),
    }
}

/// The reservation under the first of `keys` that holds one, with its key.
fn find_reservation(
    tree: &TransactionalTree,
    keys: impl IntoIterator<Item = Vec<u8>>,
) -> TxResult<Option<(Vec<u8>, ReservationRecord)>> {
    for key in keys {
        if let Some(bytes) = tree.get(&key)? {
            return Ok(Some((key, decode(&bytes).or_else(abort)?)));
        }
    }
    Ok(None)
}

fn write<T: serde::Serialize>(
    tree: &TransactionalTree,
    key: impl AsRef<[u8]>,
    value: &T,
) -> Result<(), UnabortableTransactionError> {
    tree.insert(key.as_ref(), encode(value))?;
    Ok(())
}

/// The reservations one run of a reserve transaction writes, with the arrival numbers it
/// gives them (sled may run a transaction again; each run starts afresh).
struct Taking {
    next: u64,
    taken: Vec<(String, u64)>,
}

impl Taking {
    fn from(arrivals: &Arrivals) -> Self {
        Taking {
            next: arrivals.next(),
            taken: Vec::new(),
        }
    }

    /// The keys of reservations this run already wrote for `request_id` (a group may
    /// name one id twice).
    fn keys<'a>(&'a self, request_id: &'a str) -> impl Iterator<Item = Vec<u8>> + 'a {
        self.taken
            .iter()
            .filter(move |(id, _)| id == request_id)
            .map(move |(_, n)| arrivals::key(*n, request_id))
    }

    fn take(&mut self, request_id: &str) -> Vec<u8> {
        let number = self.next;
        self.next += 1;
        self.taken.push((request_id.to_string(), number));
        arrivals::key(number, request_id)
    }
}

/// Subtracts, or aborts: a counter going negative means the store is inconsistent.
fn take(from: u64, amount: u64, what: &str) -> TxResult<u64> {
    match from.checked_sub(amount) {
        Some(left) => Ok(left),
        None => abort(StoreError::Storage(format!(
            "{what} would go negative ({from} - {amount})"
        ))),
    }
}

/// What one item of a group came to: its own refusal (`Err`) takes nothing and leaves
/// the rest of the group alone; a storage failure aborts the whole transaction.
type ItemResult<T> = TxResult<Result<T, StoreError>>;

/// The trees a reservation change writes.
struct Trees<'t> {
    products: &'t TransactionalTree,
    reservations: &'t TransactionalTree,
    held: &'t TransactionalTree,
}

/// One reservation inside a group's transaction.
fn reserve_item(
    trees: &Trees<'_>,
    arrivals: &Arrivals,
    taking: &mut Taking,
    request: &ReserveRequest,
    now_ms: u64,
) -> ItemResult<ReserveOutcome> {
    let Trees {
        products,
        reservations,
        held,
    } = *trees;
    let id = request.request_id.as_str();
    let keys = arrivals.keys(id).into_iter().chain(taking.keys(id));
    if let Some((_, existing)) = find_reservation(reservations, keys)? {
        let reservation = existing.reservation(&request.request_id);
        if existing.name != request.name || existing.quantity != request.quantity {
            return Ok(Err(StoreError::RequestIdReused(Box::new(reservation))));
        }
        return Ok(Ok(ReserveOutcome {
            reservation,
            created: false,
            event: None,
        }));
    }
    let Some(mut product) = find_product(products, &request.name)? else {
        return Ok(Err(StoreError::ProductNotFound));
    };
    if product.quantity < request.quantity {
        return Ok(Err(StoreError::OutOfStock));
    }
    product.quantity -= request.quantity;
    product.held += request.quantity;
    product.version += 1;
    let record = ReservationRecord {
        name: request.name.clone(),
        quantity: request.quantity,
        price: product.price,
        state: ReservationState::Held,
        order_number: None,
        created_ms: now_ms,
    };
    let key = taking.take(id);
    write(products, &request.name, &product)?;
    write(reservations, &key, &record)?;
    held.insert(key, &[][..])?;
    Ok(Ok(ReserveOutcome {
        reservation: record.reservation(&request.request_id),
        created: true,
        event: Some(invalidation(&request.name, &product)),
    }))
}

/// One confirm inside a group's transaction.
fn confirm_item(
    trees: &Trees<'_>,
    arrivals: &Arrivals,
    request_id: &str,
    order_number: u64,
) -> ItemResult<Transition> {
    let Trees {
        products,
        reservations,
        held,
    } = *trees;
    let Some((key, mut record)) = find_reservation(reservations, arrivals.keys(request_id))? else {
        return Ok(Err(StoreError::ReservationNotFound));
    };
    match record.state {
        ReservationState::Confirmed if record.order_number == Some(order_number) => {
            return Ok(Ok(Transition {
                reservation: record.reservation(request_id),
                changed: false,
                event: None,
            }));
        }
        ReservationState::Confirmed => {
            return Ok(Err(StoreError::Conflict(
                "reservation confirmed for another order".into(),
            )))
        }
        ReservationState::Released => {
            return Ok(Err(StoreError::Conflict("reservation released".into())))
        }
        ReservationState::Held => {}
    }
    let mut product = read_product(products, &record.name)?;
    product.held = take(product.held, record.quantity, "held")?;
    product.confirmed += record.quantity;
    record.state = ReservationState::Confirmed;
    record.order_number = Some(order_number);
    write(products, &record.name, &product)?;
    write(reservations, &key, &record)?;
    held.remove(key)?;
    // Confirming moves stock from held to confirmed; what clients see of the product is
    // unchanged, so there is nothing to invalidate.
    Ok(Ok(Transition {
        reservation: record.reservation(request_id),
        changed: true,
        event: None,
    }))
}

impl CatalogStore {
    /// Takes `quantity` of the product for `request_id`, or returns the reservation that id
    /// already has (taking nothing).
    pub(crate) async fn reserve(
        &self,
        request: &ReserveRequest,
        now_ms: u64,
    ) -> Result<ReserveOutcome, StoreError> {
        let outcome = self
            .write_reserves(std::slice::from_ref(request), now_ms)?
            .pop()
            .expect("one outcome per request")?;
        // Also for a repeat: the first call's write may still be waiting for its flush.
        self.flush().await?;
        Ok(outcome)
    }

    /// [`reserve`](Self::reserve) of every item, each on its own (one refused item takes
    /// nothing from the others), in one transaction and one flush before any answer.
    pub(crate) async fn reserve_many(
        &self,
        requests: &[ReserveRequest],
        now_ms: u64,
    ) -> Result<Vec<Result<ReserveOutcome, StoreError>>, StoreError> {
        let outcomes = self.write_reserves(requests, now_ms)?;
        self.flush().await?;
        Ok(outcomes)
    }

    /// The reserve transaction of a group, not yet flushed. One transaction for the group,
    /// not one per item: every sled transaction writes its own batch marker to disk, and
    /// under load those small writes, not the data, kept the disk busy. Reserves take
    /// turns (the write lock on the arrivals), as they give out arrival numbers.
    fn write_reserves(
        &self,
        requests: &[ReserveRequest],
        now_ms: u64,
    ) -> Result<Vec<Result<ReserveOutcome, StoreError>>, StoreError> {
        let mut arrivals = self.arrivals.write().unwrap_or_else(|e| e.into_inner());
        let (outcomes, taken) = (&self.products, &self.reservations, &self.held).transaction(
            |(products, reservations, held)| {
                let trees = Trees {
                    products,
                    reservations,
                    held,
                };
                let mut taking = Taking::from(&arrivals);
                let outcomes = requests
                    .iter()
                    .map(|request| reserve_item(&trees, &arrivals, &mut taking, request, now_ms))
                    .collect::<TxResult<Vec<_>>>()?;
                Ok((outcomes, taking.taken))
            },
        )?;
        arrivals.taken(taken.iter().map(|(id, n)| (id.as_str(), *n)));
        Ok(outcomes)
    }

    /// Held -> confirmed with `order_number`. Repeating it is harmless; confirming a released
    /// reservation, or one confirmed for another order, is a conflict.
    pub(crate) async fn confirm(
        &self,
        request_id: &str,
        order_number: u64,
    ) -> Result<Transition, StoreError> {
        let item = [(request_id.to_string(), order_number)];
        let transition = self
            .write_confirms(&item)?
            .pop()
            .expect("one transition per item")?;
        // Also for a repeat: the first call's write may still be waiting for its flush.
        self.flush().await?;
        Ok(transition)
    }

    /// [`confirm`](Self::confirm) of every `(request_id, order_number)`, each on its own,
    /// in one transaction and one flush before any answer.
    pub(crate) async fn confirm_many(
        &self,
        items: &[(String, u64)],
    ) -> Result<Vec<Result<Transition, StoreError>>, StoreError> {
        let transitions = self.write_confirms(items)?;
        self.flush().await?;
        Ok(transitions)
    }

    /// The confirm transaction of a group, not yet flushed.
    fn write_confirms(
        &self,
        items: &[(String, u64)],
    ) -> Result<Vec<Result<Transition, StoreError>>, StoreError> {
        let arrivals = self.arrivals.read().unwrap_or_else(|e| e.into_inner());
        let transitions = (&self.products, &self.reservations, &self.held).transaction(
            |(products, reservations, held)| {
                let trees = Trees {
                    products,
                    reservations,
                    held,
                };
                items
                    .iter()
                    .map(|(request_id, number)| {
                        confirm_item(&trees, &arrivals, request_id, *number)
                    })
                    .collect::<TxResult<Vec<_>>>()
            },
        )?;
        Ok(transitions)
    }

    /// Held -> released, returning the stock. Repeating it is harmless; releasing a
    /// confirmed reservation is a conflict.
    pub(crate) async fn release(&self, request_id: &str) -> Result<Transition, StoreError> {
        let transition = self.write_release(request_id)?;
        // Also for a repeat: the first call's write may still be waiting for its flush.
        self.flush().await?;
        Ok(transition)
    }

    /// The release transaction, not yet flushed.
    fn write_release(&self, request_id: &str) -> Result<Transition, StoreError> {
        let arrivals = self.arrivals.read().unwrap_or_else(|e| e.into_inner());
        let transition = (&self.products, &self.reservations, &self.held).transaction(
            |(products, reservations, held)| {
                let found = find_reservation(reservations, arrivals.keys(request_id))?;
                let Some((key, mut record)) = found else {
                    return abort(StoreError::ReservationNotFound);
                };
                match record.state {
                    ReservationState::Released => {
                        return Ok(Transition {
                            reservation: record.reservation(request_id),
                            changed: false,
                            event: None,
                        })
                    }
                    ReservationState::Confirmed => {
                        return abort(StoreError::Conflict("reservation confirmed".into()))
                    }
                    ReservationState::Held => {}
                }
                let mut product = read_product(products, &record.name)?;
                product.held = take(product.held, record.quantity, "held")?;
                product.quantity += record.quantity;
                product.version += 1;
                record.state = ReservationState::Released;
                write(products, &record.name, &product)?;
                write(reservations, &key, &record)?;
                held.remove(key)?;
                Ok(Transition {
                    reservation: record.reservation(request_id),
                    changed: true,
                    event: Some(invalidation(&record.name, &product)),
                })
            },
        )?;
        Ok(transition)
    }

    /// Sets a product's price (reservations keep the price they were taken at).
    pub(crate) async fn set_price(
        &self,
        name: &str,
        price: f64,
    ) -> Result<(Product, Invalidate), StoreError> {
        let result = self.products.transaction(|products| {
            let mut product = read_product(products, name)?;
            product.price = price;
            product.version += 1;
            write(products, name, &product)?;
            Ok((product.product(name), invalidation(name, &product)))
        })?;
        self.flush().await?;
        Ok(result)
    }

    /// Sets every product at quantity 0 back to `restock_to`, adding the difference to
    /// `restocked`. Returns one event per restocked product.
    pub(crate) async fn restock(&self, restock_to: u64) -> Result<Vec<Invalidate>, StoreError> {
        let mut events = Vec::new();
        for name in self.products.iter().keys() {
            let name = String::from_utf8_lossy(&name?).into_owned();
            let event = self.products.transaction(|products| {
                let mut product = read_product(products, &name)?;
                if product.quantity != 0 || restock_to == 0 {
                    return Ok(None);
                }
                product.quantity = restock_to;
                product.restocked += restock_to;
                product.version += 1;
                write(products, &name, &product)?;
                Ok(Some(invalidation(&name, &product)))
            })?;
            events.extend(event);
        }
        if !events.is_empty() {
            self.flush().await?;
        }
        Ok(events)
    }
}
