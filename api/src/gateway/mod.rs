//! The gateway's public wire (contract section 3) and [`GatewayClient`], for the harness,
//! the benchmarks and tests. Products are the catalog's and a buy's answer the node's, as
//! the gateway passes them on.

mod client;

use serde::{Deserialize, Serialize};

pub use crate::catalog::Product;
pub use crate::node::{OrderCreated, Role};
pub use client::{GatewayClient, ProductRead};

/// Header carrying a client's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Header telling whether a product read came from the cache (`hit` or `miss`).
pub const CACHE_HEADER: &str = "x-cache";

/// `POST /orders`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BuyRequest {
    pub name: String,
    pub quantity: u64,
}

/// `GET /orders/{number}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderView {
    pub number: u64,
    pub name: String,
    pub quantity: u64,
}

/// `GET /cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterView {
    pub leader: Option<u64>,
    pub term: Option<u64>,
    pub nodes: Vec<NodeView>,
}

/// One node as the gateway sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeView {
    pub id: u64,
    pub addr: String,
    pub state: Option<Role>,
    pub reachable: bool,
    pub last_applied: Option<u64>,
}
