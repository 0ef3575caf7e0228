//! Store refusals as contract answers.

use axum::http::StatusCode;
use service_core::ApiError;
use toystore_api::ErrorKind;

use crate::store::StoreError;

/// The contract's status for each store refusal.
pub(crate) fn store_error(err: StoreError) -> ApiError {
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
