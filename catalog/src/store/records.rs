//! How products and reservations are laid out in sled (JSON values, keyed by name / id).

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::error::StoreError;
use toystore_api::catalog::{LedgerRow, Product, Reservation, ReservationState};

/// A product and its ledger counters, stored under its name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct ProductRecord {
    pub price: f64,
    pub quantity: u64,
    /// Grows by one on every change of stock or price.
    pub version: u64,
    pub initial: u64,
    pub restocked: u64,
    pub held: u64,
    pub confirmed: u64,
}

impl ProductRecord {
    pub(super) fn new(price: f64, initial: u64) -> Self {
        ProductRecord {
            price,
            quantity: initial,
            version: 0,
            initial,
            restocked: 0,
            held: 0,
            confirmed: 0,
        }
    }

    pub(super) fn product(&self, name: &str) -> Product {
        Product {
            name: name.to_string(),
            price: self.price,
            quantity: self.quantity,
        }
    }

    pub(super) fn ledger_row(&self, name: &str) -> LedgerRow {
        LedgerRow {
            name: name.to_string(),
            quantity: self.quantity,
            restocked: self.restocked,
            held: self.held,
            confirmed: self.confirmed,
            initial: self.initial,
        }
    }
}

/// A reservation, stored under its request id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct ReservationRecord {
    pub name: String,
    pub quantity: u64,
    pub price: f64,
    pub state: ReservationState,
    pub order_number: Option<u64>,
    pub created_ms: u64,
}

impl ReservationRecord {
    pub(super) fn reservation(&self, request_id: &str) -> Reservation {
        Reservation {
            request_id: request_id.to_string(),
            name: self.name.clone(),
            quantity: self.quantity,
            price: self.price,
            state: self.state,
            order_number: self.order_number,
            created_ms: self.created_ms,
        }
    }
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records always serialise")
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Storage(format!("corrupt record: {e}")))
}
