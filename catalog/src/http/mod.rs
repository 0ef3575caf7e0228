//! The catalog's HTTP API (contract section 4): routes, shared state, error mapping.
//!
//! - [`products`]: reads, price changes, the ledger.
//! - [`reservations`]: reserve, confirm, release, the held listing.
//! - [`state`]: what every handler reaches.
//! - [`errors`]: store refusals as contract answers.

mod errors;
mod products;
mod reservations;
mod state;

use axum::routing::{get, post, put};
use axum::{Json, Router};
use service_core::{ApiError, Metrics};

pub(crate) use state::AppState;

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
