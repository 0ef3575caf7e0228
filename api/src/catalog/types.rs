//! The catalog's request and answer types, its event names, and the seeded toys.

use serde::{Deserialize, Serialize};

/// The ten toys of a fresh store with their prices.
pub const SEED_PRODUCTS: [(&str, f64); 10] = [
    ("Tux", 25.99),
    ("Whale", 34.99),
    ("Elephant", 29.99),
    ("Bird", 39.99),
    ("Risk", 15.99),
    ("Sand", 19.99),
    ("Jenga", 21.99),
    ("Uno", 35.99),
    ("Pinball", 49.99),
    ("Clue", 9.99),
];

/// A product as every service shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "Tux", "price": 25.99, "quantity": 100})))]
pub struct Product {
    /// Its unique name, 1 to 64 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    /// Unit price.
    pub price: f64,
    /// Units in stock.
    pub quantity: u64,
}

/// `PUT /products/{name}/price`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriceChange {
    /// The new unit price: positive and finite.
    pub price: f64,
}

/// `POST /reservations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReserveRequest {
    /// The buy's idempotency key: one reservation per id.
    pub request_id: String,
    /// The product to take stock of.
    pub name: String,
    /// How many units, all or nothing.
    pub quantity: u64,
}

/// Where a reservation is in its life: held, then confirmed or released, never both.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ReservationState {
    /// The stock is taken; the order may or may not commit.
    Held,
    /// An order committed for it: the stock is sold.
    Confirmed,
    /// Given up: the stock went back.
    Released,
}

impl ReservationState {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            ReservationState::Confirmed => "confirmed",
            ReservationState::Released => "released",
        }
    }
}

/// A reservation as answered by every reservation route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reservation {
    /// The buy's idempotency key.
    pub request_id: String,
    /// The product.
    pub name: String,
    /// Units taken.
    pub quantity: u64,
    /// The unit price when the stock was taken.
    pub price: f64,
    /// Where it is in its life.
    pub state: ReservationState,
    /// Set once confirmed.
    #[serde(default)]
    pub order_number: Option<u64>,
    /// When it was taken, milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_ms: u64,
}

/// `POST /reservations/{request_id}/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfirmRequest {
    /// The order that committed for the reservation.
    pub order_number: u64,
}

/// Items in one batch call, at most; a longer batch is refused whole (400).
pub const MAX_BATCH_ITEMS: usize = 1024;

/// `POST /batch/reservations`: many reservations in one call. Each item is taken (or
/// refused) exactly as `POST /reservations` would, and all of them are on disk before the
/// answer, which shares one fsync among them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReserveBatch {
    /// The reservations, 1 to [`MAX_BATCH_ITEMS`].
    pub items: Vec<ReserveRequest>,
}

/// One confirm of a `POST /batch/confirmations`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfirmItem {
    /// The reservation's request id.
    pub request_id: String,
    /// The order that committed for it.
    pub order_number: u64,
}

/// `POST /batch/confirmations`: many confirms in one call, each as
/// `POST /reservations/{request_id}/confirm` would do it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfirmBatch {
    /// The confirms, 1 to [`MAX_BATCH_ITEMS`].
    pub items: Vec<ConfirmItem>,
}

/// The answer to a batch: one outcome per item, in the order of the items.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchAnswer<T> {
    /// `{"data": ...}` or `{"error": ...}` for each item.
    pub results: Vec<crate::envelope::Outcome<T>>,
}

/// Query of `GET /reservations`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReservationQuery {
    /// Only reservations in this state.
    #[serde(default)]
    pub state: Option<ReservationState>,
    /// Only reservations taken more than this many milliseconds ago.
    #[serde(default)]
    pub older_than_ms: Option<u64>,
}

/// One row of `GET /ledger`: `initial + restocked == quantity + held + confirmed`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerRow {
    /// The product.
    pub name: String,
    /// Units in stock now.
    pub quantity: u64,
    /// Units added by restocks since the store was seeded.
    pub restocked: u64,
    /// Units in held reservations.
    pub held: u64,
    /// Units in confirmed reservations: sold.
    pub confirmed: u64,
    /// Units the store was seeded with.
    pub initial: u64,
}

impl LedgerRow {
    /// The conservation identity of the contract.
    pub fn balances(&self) -> bool {
        self.initial as u128 + self.restocked as u128
            == self.quantity as u128 + self.held as u128 + self.confirmed as u128
    }
}

/// SSE event name of the first event on `/events`.
pub const EVENT_HELLO: &str = "hello";
/// SSE event name of a product change.
pub const EVENT_INVALIDATE: &str = "invalidate";

/// Data of the `hello` event: which catalog process this stream comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hello {
    /// Changes whenever the catalog restarts, so a subscriber knows it may have missed events.
    pub epoch: String,
}

/// Data of an `invalidate` event: the product as it is after the change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invalidate {
    /// The product that changed.
    pub name: String,
    /// Its stock now.
    pub quantity: u64,
    /// Its price now.
    pub price: f64,
    /// Grows with every change of this product.
    pub version: u64,
}
