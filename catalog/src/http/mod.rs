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

use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::{Json, Router};
use service_core::auth::{guard, Access, Credentials};
use service_core::{ApiError, Metrics};

pub(crate) use state::AppState;

/// The whole catalog router, with the common layers. Reads of products and the event
/// stream are public; reservations and the ledger are for cluster members; prices are
/// for the admin.
pub(crate) fn router(state: AppState, metrics: Metrics, credentials: &Credentials) -> Router {
    let public = Router::new()
        .route("/health", get(health))
        .route("/products", get(products::list))
        .route("/products/{name}", get(products::one))
        .route("/events", get(events));
    let member = Router::new()
        .route("/ledger", get(products::ledger))
        .route(
            "/reservations",
            post(reservations::reserve).get(reservations::list),
        )
        .route("/batch/reservations", post(reservations::reserve_batch))
        .route("/batch/confirmations", post(reservations::confirm_batch))
        .route(
            "/reservations/{request_id}/confirm",
            post(reservations::confirm),
        )
        .route(
            "/reservations/{request_id}/release",
            post(reservations::release),
        );
    let admin = Router::new().route("/products/{name}/price", put(products::set_price));
    let routes = public
        .merge(guard(member, credentials, Access::Member))
        .merge(guard(admin, credentials, Access::Admin))
        // Behind one Arc: axum clones the state for every request.
        .with_state(Arc::new(state));
    service_core::routes::finish(routes, metrics)
}

async fn health(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .store
        .check()
        .map_err(|err| ApiError::unavailable(format!("store unavailable: {err}")))?;
    Ok(Json(serde_json::json!({"status": "ok"})))
}

async fn events(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> impl axum::response::IntoResponse {
    state.events.subscribe()
}
