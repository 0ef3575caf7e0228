//! The gateway's public request and answer types. Products are the catalog's and a buy's
//! answer the node's, as the gateway passes them on.

use serde::{Deserialize, Serialize};

pub use crate::catalog::Product;
pub use crate::node::{OrderCreated, Role};

/// Header carrying a client's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Header telling whether a product read came from the cache (`hit` or `miss`).
pub const CACHE_HEADER: &str = "x-cache";

/// `POST /orders`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "Tux", "quantity": 1})))]
pub struct BuyRequest {
    /// The product to buy.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    /// How many, 1 to 1,000,000.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1_000_000))]
    pub quantity: u64,
}

/// `GET /orders/{number}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"number": 0, "name": "Tux", "quantity": 1})))]
pub struct OrderView {
    /// The order's number.
    pub number: u64,
    /// The product bought.
    pub name: String,
    /// How many.
    pub quantity: u64,
}

/// `GET /cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"leader": 1, "term": 4, "nodes": [
    {"id": 1, "addr": "127.0.0.1:10010", "state": "leader", "reachable": true, "last_applied": 41},
    {"id": 2, "addr": "127.0.0.1:10011", "state": "follower", "reachable": true, "last_applied": 41},
    {"id": 3, "addr": "127.0.0.1:10012", "state": null, "reachable": false, "last_applied": null}
]})))]
pub struct ClusterView {
    /// The node that leads, as the nodes say (null when none does).
    pub leader: Option<u64>,
    /// The highest term any node reported.
    pub term: Option<u64>,
    /// Every node the gateway routes over (the membership it learned), reachable or not.
    pub nodes: Vec<NodeView>,
}

/// One node as the gateway sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeView {
    /// The node's id.
    pub id: u64,
    /// Its `host:port`, as the gateway's `--nodes` gives it, or else the membership.
    pub addr: String,
    /// Its part in Raft (null when it did not answer).
    pub state: Option<Role>,
    /// Whether it answered the status request in time.
    pub reachable: bool,
    /// Index of the last entry its state machine applied.
    pub last_applied: Option<u64>,
}

/// SSE event name of the first event on the gateway's `GET /events`.
pub const LIVE_HELLO: &str = "hello";
/// SSE event name of a product change on the gateway's `GET /events` (the catalog's
/// [`Invalidate`](crate::catalog::Invalidate) data, passed on as it came).
pub const LIVE_INVALIDATE: &str = "invalidate";
/// SSE event name telling a page it may have missed changes and should read everything again.
pub const LIVE_RESYNC: &str = "resync";

/// Data of `hello` on the gateway's `GET /events`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveHello {
    /// Whether the gateway follows the catalog's event stream now; while it does not, no
    /// `invalidate` comes, and a page has to poll.
    pub live: bool,
}

/// Why a `resync` was sent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// This subscriber fell behind the gateway's buffer; events were skipped.
    Lagged,
    /// The gateway lost the catalog's event stream: changes stop arriving until `catalog_back`.
    CatalogLost,
    /// The gateway follows the catalog's event stream again; changes made meanwhile were not sent.
    CatalogBack,
}

/// Data of `resync` on the gateway's `GET /events`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resync {
    /// Why the page should read everything again.
    pub reason: ResyncReason,
    /// As in [`LiveHello`]: whether `invalidate` events are flowing now.
    pub live: bool,
}
