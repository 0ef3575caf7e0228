//! The catalog's HTTP API (contract section 4): routes, shared state, error mapping.
//!
//! - [`products`]: reads, price changes, the ledger.
//! - [`reservations`]: reserve, confirm, release, the held listing.

mod products;
mod reservations;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use service_core::{ApiError, Metrics};
use toystore_api::ErrorKind;

use crate::events::EventHub;
use crate::metrics::CatalogMetrics;
use crate::store::{CatalogStore, StoreError};

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: CatalogStore,
    pub events: EventHub,
    pub metrics: CatalogMetrics,
}

/// The whole catalog router, with the common layers.
pub(crate) fn router(state: AppState, metrics: Metrics) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/products", get(products::list))
        .route("/products/{name}", get(products::one))
        .route("/products/{name}/price", put(products::set_price))
        .route("/ledger", get(products::ledger))
        .route("/events", get(events))
        .route(
            "/reservations",
            post(reservations::reserve).get(reservations::list),
        )
        .route(
            "/reservations/{request_id}/confirm",
            post(reservations::confirm),
        )
        .route(
            "/reservations/{request_id}/release",
            post(reservations::release),
        )
        .with_state(state);
    service_core::routes::finish(routes, metrics)
}

async fn health(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .store
        .check()
        .map_err(|err| ApiError::unavailable(format!("store unavailable: {err}")))?;
    Ok(Json(serde_json::json!({"status": "ok"})))
}

async fn events(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    state.events.subscribe()
}

/// The contract's status for each store refusal.
fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::ProductNotFound => ApiError::kind(ErrorKind::ProductNotFound),
        StoreError::OutOfStock => ApiError::kind(ErrorKind::OutOfStock),
        StoreError::ReservationNotFound => ApiError::not_found(err.to_string()),
        StoreError::Conflict(_) => ApiError::conflict(err.to_string()),
        StoreError::RequestIdReused(ref existing) => ApiError::unprocessable(err.to_string())
            .with_field(
                "existing",
                serde_json::to_value(existing).unwrap_or_default(),
            ),
        StoreError::Storage(_) => {
            tracing::error!(%err, "store failure");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage error")
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
