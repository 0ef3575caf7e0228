//! Reservations: stock taken for an order in flight, then confirmed or released.

use std::collections::HashMap;

use std::sync::Arc;

use axum::extract::State;
use service_core::validate;
use service_core::{ApiError, BatchBody, Data, JsonBody, PathParams, QueryParams};

use super::errors::store_error;
use super::state::{now_ms, AppState};
use toystore_api::catalog::{
    BatchAnswer, ConfirmBatch, ConfirmRequest, Invalidate, Reservation, ReservationQuery,
    ReserveBatch, ReserveRequest, MAX_BATCH_ITEMS,
};
use toystore_api::Outcome;

pub(super) async fn reserve(
    State(state): State<Arc<AppState>>,
    JsonBody(request): JsonBody<ReserveRequest>,
) -> Result<Data<Reservation>, ApiError> {
    validate::request_key(&request.request_id).map_err(|e| e.with_field("field", "request_id"))?;
    validate::product_name(&request.name)?;
    validate::quantity(request.quantity)?;
    let result = state.store.reserve(&request, now_ms()).await;
    state.metrics.count_reservation(&result);
    let outcome = result.map_err(store_error)?;
    if let Some(event) = outcome.event {
        state.events.publish(event);
    }
    Ok(Data::new(outcome.reservation))
}

/// `POST /batch/reservations`: each item as `reserve` would take it, one fsync for all.
/// An invalid item is refused on its own; the others go on.
pub(super) async fn reserve_batch(
    State(state): State<Arc<AppState>>,
    JsonBody(batch): BatchBody<ReserveBatch>,
) -> Result<Data<BatchAnswer<Reservation>>, ApiError> {
    batch_size(batch.items.len())?;
    let (valid, checks) = split_valid(&batch.items, |item| {
        validate::request_key(&item.request_id).map_err(|e| e.with_field("field", "request_id"))?;
        validate::product_name(&item.name)?;
        validate::quantity(item.quantity)
    });
    let outcomes = state
        .store
        .reserve_many(&valid, now_ms())
        .await
        .map_err(store_error)?;
    let mut events = Latest::default();
    let mut outcomes = outcomes.into_iter();
    let results = checks
        .into_iter()
        .map(|check| {
            check?;
            let result = outcomes.next().expect("one outcome per valid item");
            state.metrics.count_reservation(&result);
            let outcome = result.map_err(store_error)?;
            events.keep(outcome.event);
            Ok(outcome.reservation)
        })
        .map(outcome)
        .collect();
    state.events.publish_all(events.into_events());
    Ok(Data::new(BatchAnswer { results }))
}

/// `POST /batch/confirmations`: each item as `confirm` would do it, one fsync for all.
pub(super) async fn confirm_batch(
    State(state): State<Arc<AppState>>,
    JsonBody(batch): BatchBody<ConfirmBatch>,
) -> Result<Data<BatchAnswer<Reservation>>, ApiError> {
    batch_size(batch.items.len())?;
    let (valid, checks) = split_valid(&batch.items, |item| {
        validate::request_key(&item.request_id).map_err(|e| e.with_field("field", "request_id"))
    });
    let pairs: Vec<(String, u64)> = valid
        .into_iter()
        .map(|item| (item.request_id, item.order_number))
        .collect();
    let transitions = state
        .store
        .confirm_many(&pairs)
        .await
        .map_err(store_error)?;
    let mut events = Latest::default();
    let mut transitions = transitions.into_iter();
    let results = checks
        .into_iter()
        .map(|check| {
            check?;
            let transition = transitions
                .next()
                .expect("one transition per valid item")
                .map_err(store_error)?;
            events.keep(transition.event);
            Ok(transition.reservation)
        })
        .map(outcome)
        .collect();
    state.events.publish_all(events.into_events());
    Ok(Data::new(BatchAnswer { results }))
}

fn batch_size(len: usize) -> Result<(), ApiError> {
    if len == 0 || len > MAX_BATCH_ITEMS {
        return Err(ApiError::bad_request(format!(
            "a batch holds 1 to {MAX_BATCH_ITEMS} items, not {len}"
        ))
        .with_field("field", "items"));
    }
    Ok(())
}

/// The items that pass `check`, and each item's check result in the batch's order.
fn split_valid<T: Clone>(
    items: &[T],
    check: impl Fn(&T) -> Result<(), ApiError>,
) -> (Vec<T>, Vec<Result<(), ApiError>>) {
    let checks: Vec<_> = items.iter().map(check).collect();
    let valid = items
        .iter()
        .zip(&checks)
        .filter(|(_, check)| check.is_ok())
        .map(|(item, _)| item.clone())
        .collect();
    (valid, checks)
}

fn outcome(result: Result<Reservation, ApiError>) -> Outcome<Reservation> {
    match result {
        Ok(reservation) => Outcome::Data(reservation),
        Err(err) => Outcome::Error(err.body().error),
    }
}

/// The newest change of each product in a batch: subscribers only need the last state, so
/// a batch sends one invalidation per product, not one per item.
#[derive(Default)]
struct Latest(HashMap<String, Invalidate>);

impl Latest {
    fn keep(&mut self, event: Option<Invalidate>) {
        let Some(event) = event else { return };
        match self.0.get(&event.name) {
            Some(kept) if kept.version >= event.version => {}
            _ => {
                self.0.insert(event.name.clone(), event);
            }
        }
    }

    fn into_events(self) -> impl Iterator<Item = Invalidate> {
        self.0.into_values()
    }
}

pub(super) async fn confirm(
    State(state): State<Arc<AppState>>,
    PathParams(request_id): PathParams<String>,
    JsonBody(body): JsonBody<ConfirmRequest>,
) -> Result<Data<Reservation>, ApiError> {
    validate::request_key(&request_id)?;
    let transition = state
        .store
        .confirm(&request_id, body.order_number)
        .await
        .map_err(store_error)?;
    state.events.publish_all(transition.event);
    Ok(Data::new(transition.reservation))
}

pub(super) async fn release(
    State(state): State<Arc<AppState>>,
    PathParams(request_id): PathParams<String>,
) -> Result<Data<Reservation>, ApiError> {
    validate::request_key(&request_id)?;
    let transition = state
        .store
        .release(&request_id)
        .await
        .map_err(store_error)?;
    if transition.changed {
        tracing::info!(request_id = %request_id, "reservation released");
    }
    state.events.publish_all(transition.event);
    Ok(Data::new(transition.reservation))
}

/// `GET /reservations?state=held&older_than_ms=5000`.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    QueryParams(query): QueryParams<ReservationQuery>,
) -> Result<Data<Vec<Reservation>>, ApiError> {
    // Without `older_than_ms` every reservation is listed, whatever the clock says of it.
    // Off the runtime: every reservation ever made can be many, and the catalog may run
    // on a single thread.
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        store.reservations(query.state, query.older_than_ms, now_ms)
    })
    .await
    .map_err(|e| ApiError::internal(format!("listing failed: {e}")))?
    .map(Data::new)
    .map_err(store_error)
}
