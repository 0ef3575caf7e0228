//! [`StoreError`]: why a store operation did not happen.

use sled::transaction::TransactionError;
use toystore_api::catalog::Reservation;

/// Why a store operation did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("product not found")]
    ProductNotFound,
    #[error("reservation not found")]
    ReservationNotFound,
    #[error("out of stock")]
    OutOfStock,
    /// The request id is taken by a reservation with another body.
    #[error("request id reused with a different body")]
    RequestIdReused(Box<Reservation>),
    /// The transition is not allowed from the reservation's state.
    #[error("{0}")]
    Conflict(String),
    #[error("storage error: {0}")]
    Storage(String),
}

impl From<sled::Error> for StoreError {
    fn from(err: sled::Error) -> Self {
        StoreError::Storage(err.to_string())
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(err: TransactionError<StoreError>) -> Self {
        match err {
            TransactionError::Abort(err) => err,
            TransactionError::Storage(err) => err.into(),
        }
    }
}
