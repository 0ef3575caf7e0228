//! Reservations: stock taken for an order in flight, then confirmed or released.

use axum::extract::State;
use service_core::validate;
use service_core::{ApiError, Data, JsonBody, PathParams, QueryParams};

use super::errors::store_error;
use super::state::{now_ms, AppState};
use crate::store::OlderThan;
use toystore_api::catalog::{ConfirmRequest, Reservation, ReservationQuery, ReserveRequest};

pub(super) async fn reserve(
    State(state): State<AppState>,
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

pub(super) async fn confirm(
    State(state): State<AppState>,
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
    State(state): State<AppState>,
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
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ReservationQuery>,
) -> Result<Data<Vec<Reservation>>, ApiError> {
    // Without `older_than_ms` every reservation is listed, whatever the clock says of it.
    let older_than = query.older_than_ms.map(|age| OlderThan::new(now_ms(), age));
    state
        .store
        .reservations(query.state, older_than)
        .map(Data::new)
        .map_err(store_error)
}
