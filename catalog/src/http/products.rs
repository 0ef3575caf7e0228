//! Product reads, price changes and the ledger.

use std::sync::Arc;

use axum::extract::State;
use service_core::validate;
use service_core::{ApiError, Data, JsonBody, PathParams};

use super::errors::store_error;
use super::state::AppState;
use toystore_api::catalog::{LedgerRow, PriceChange, Product};

/// Prices above this are surely a typo (and would lose cents as f64).
const MAX_PRICE: f64 = 1e9;

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
) -> Result<Data<Vec<Product>>, ApiError> {
    state.store.products().map(Data::new).map_err(store_error)
}

pub(super) async fn one(
    State(state): State<Arc<AppState>>,
    PathParams(name): PathParams<String>,
) -> Result<Data<Product>, ApiError> {
    validate::product_name(&name)?;
    state
        .store
        .product(&name)
        .map(Data::new)
        .map_err(store_error)
}

pub(super) async fn set_price(
    State(state): State<Arc<AppState>>,
    PathParams(name): PathParams<String>,
    JsonBody(change): JsonBody<PriceChange>,
) -> Result<Data<Product>, ApiError> {
    validate::product_name(&name)?;
    if !(change.price.is_finite() && change.price > 0.0 && change.price <= MAX_PRICE) {
        return Err(ApiError::bad_request(format!(
            "price must be a positive number up to {MAX_PRICE}"
        )));
    }
    let (product, event) = state
        .store
        .set_price(&name, change.price)
        .await
        .map_err(store_error)?;
    tracing::info!(product = %name, price = change.price, "price changed");
    state.events.publish(event);
    Ok(Data::new(product))
}

pub(super) async fn ledger(
    State(state): State<Arc<AppState>>,
) -> Result<Data<Vec<LedgerRow>>, ApiError> {
    state.store.ledger().map(Data::new).map_err(store_error)
}
