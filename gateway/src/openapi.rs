//! `GET /openapi.json`: the public API as an OpenAPI 3.1 document. The schemas come from
//! the wire types in `toystore-api` (their `ToSchema` derives), so a field added to a type
//! shows up here without anyone editing this file; the operations below only say which
//! route answers with which type, status and message.
//!
//! The functions carrying `#[utoipa::path]` are descriptions, not handlers: the handlers
//! live in the `http` module, and the tests check both ways that the two agree.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use toystore_api::gateway::{
    BuyRequest, ClusterView, NodeView, OrderCreated, OrderView, Product, Role,
};
use toystore_api::{Data, ErrorBody, ErrorDetail, Health};
use utoipa::OpenApi;

/// The document's root: every operation and the named schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "toystore gateway",
        description = "The public REST API of the toystore: products and stock (cached, \
            invalidated by the catalog), orders replicated with Raft, and the cluster's state. \
            Every success is `{\"data\": ...}`; every error is `{\"error\": {\"code\", \"message\"}}` \
            with the HTTP status repeated in `code`. A trailing slash and HEAD are accepted \
            wherever the route and GET are."
    ),
    paths(
        list_products,
        get_product,
        buy,
        get_order,
        cluster,
        health,
        metrics,
        openapi_json,
        storefront,
        dashboard,
        events
    ),
    components(schemas(
        Product,
        BuyRequest,
        OrderCreated,
        OrderView,
        ClusterView,
        NodeView,
        Role,
        Health,
        ErrorBody,
        ErrorDetail
    )),
    tags(
        (name = "products", description = "Toys, prices and stock"),
        (name = "orders", description = "Buying and reading orders"),
        (name = "operations", description = "Cluster state, health, metrics, this document"),
        (name = "pages", description = "HTML pages for people")
    )
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// The handler of `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        serde_json::to_string_pretty(document()).expect("an OpenAPI document serialises")
    });
    ([(CONTENT_TYPE, "application/json")], body.as_str())
}

#[utoipa::path(
    get, path = "/products", tag = "products",
    summary = "Every product, sorted by name",
    responses(
        (status = 200, description = "Every product of the catalog", body = Data<Vec<Product>>,
            example = json!({"data": [
                {"name": "Bird", "price": 39.99, "quantity": 100},
                {"name": "Clue", "price": 9.99, "quantity": 97}
            ]})),
        (status = 503, description = "The catalog did not answer", body = ErrorBody,
            example = json!({"error": {"code": 503, "message": "catalog unavailable"}}))
    )
)]
#[allow(dead_code)]
fn list_products() {}

#[utoipa::path(
    get, path = "/products/{name}", tag = "products",
    summary = "One product: price and stock",
    description = "Answered from the gateway's cache when it holds the product; the `X-Cache` \
        header says which. A gateway never answers with stock older than its own last \
        acknowledged buy of the product.",
    params(("name" = String, Path, description = "The product's name, 1 to 64 characters",
        min_length = 1, max_length = 64, example = "Tux")),
    responses(
        (status = 200, description = "The product", body = Data<Product>,
            headers(("X-Cache" = String, description = "`hit` when served from the cache, else `miss`")),
            example = json!({"data": {"name": "Tux", "price": 25.99, "quantity": 100}})),
        (status = 400, description = "The name is empty or longer than 64 characters", body = ErrorBody,
            example = json!({"error": {"code": 400, "message": "product name must be 1 to 64 characters"}})),
        (status = 404, description = "No product of that name", body = ErrorBody,
            example = json!({"error": {"code": 404, "message": "product not found"}})),
        (status = 503, description = "The catalog did not answer", body = ErrorBody,
            example = json!({"error": {"code": 503, "message": "catalog unavailable"}}))
    )
)]
#[allow(dead_code)]
fn get_product() {}

#[utoipa::path(
    post, path = "/orders", tag = "orders",
    summary = "Buy: take stock and commit an order through Raft",
    description = "A 200 means a majority of the order replicas has the order on disk. \
        Order numbers start at 0 and have no gaps. The same `Idempotency-Key` with the same \
        body gives the same order number and takes stock once, however often it is sent; \
        without the header the gateway makes a key of its own for its own retries. Any \
        Content-Type is accepted.",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 64 of `[A-Za-z0-9_-]`; names the buy across retries",
        min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]{1,64}$",
        example = "7f3c2a9e-buy-1")),
    request_body(content = BuyRequest, description = "What to buy",
        example = json!({"name": "Tux", "quantity": 1})),
    responses(
        (status = 200, description = "Committed", body = Data<OrderCreated>,
            example = json!({"data": {"order_number": 0}})),
        (status = 400, description = "Malformed JSON, a missing or mistyped field, a name or \
            quantity out of range, or a bad Idempotency-Key", body = ErrorBody,
            example = json!({"error": {"code": 400, "message": "quantity must be an integer from 1 to 1000000"}})),
        (status = 404, description = "No product of that name", body = ErrorBody,
            example = json!({"error": {"code": 404, "message": "product not found"}})),
        (status = 409, description = "Not enough stock for the whole quantity (nothing was taken), \
            or the key was given up before its order committed (`request expired`)", body = ErrorBody,
            example = json!({"error": {"code": 409, "message": "out of stock"}})),
        (status = 413, description = "Body larger than 16 KiB", body = ErrorBody,
            example = json!({"error": {"code": 413, "message": "request body larger than 16384 bytes"}})),
        (status = 422, description = "The key was already used for a buy with another body", body = ErrorBody,
            example = json!({"error": {"code": 422, "message": "request_id already used for a different order"}})),
        (status = 503, description = "No order leader answered within the gateway's deadline \
            (`no leader`), the catalog did not answer (`catalog unavailable`), or too many buys \
            are in progress at this gateway (`overloaded`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")),
            example = json!({"error": {"code": 503, "message": "no leader"}}))
    )
)]
#[allow(dead_code)]
fn buy() {}

#[utoipa::path(
    get, path = "/orders/{number}", tag = "orders",
    summary = "One order, read linearizably",
    description = "Reflects every order acknowledged before the request arrived.",
    params(("number" = u64, Path, description = "The order's number", minimum = 0, example = 0)),
    responses(
        (status = 200, description = "The order", body = Data<OrderView>,
            example = json!({"data": {"number": 0, "name": "Tux", "quantity": 1}})),
        (status = 400, description = "The number is not a non-negative integer", body = ErrorBody,
            example = json!({"error": {"code": 400, "message": "order number must be a non-negative integer"}})),
        (status = 404, description = "No order of that number", body = ErrorBody,
            example = json!({"error": {"code": 404, "message": "order not found"}})),
        (status = 503, description = "No order leader answered within the deadline", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")),
            example = json!({"error": {"code": 503, "message": "no leader"}}))
    )
)]
#[allow(dead_code)]
fn get_order() {}

#[utoipa::path(
    get, path = "/cluster", tag = "operations",
    summary = "Every order replica as the gateway sees it, and the leader",
    description = "Asks every node the gateway routes over (the membership it learned from \
        the nodes, starting from `--nodes`) for its status at once; a node that does not \
        answer in time is listed with `reachable: false`. `leader` is null when no node leads.",
    responses(
        (status = 200, description = "The cluster", body = Data<ClusterView>,
            example = json!({"data": {"leader": 1, "term": 4, "nodes": [
                {"id": 1, "addr": "127.0.0.1:10010", "state": "leader", "reachable": true, "last_applied": 41},
                {"id": 2, "addr": "127.0.0.1:10011", "state": "follower", "reachable": true, "last_applied": 41},
                {"id": 3, "addr": "127.0.0.1:10012", "state": null, "reachable": false, "last_applied": null}
            ]}}))
    )
)]
#[allow(dead_code)]
fn cluster() {}

#[utoipa::path(
    get, path = "/health", tag = "operations",
    summary = "Whether the gateway can take buys",
    responses(
        (status = 200, description = "The catalog answers and a node leads", body = Health,
            example = json!({"status": "ok"})),
        (status = 503, description = "The catalog does not answer, or no node leads", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")),
            example = json!({"error": {"code": 503, "message": "catalog unavailable"}}))
    )
)]
#[allow(dead_code)]
fn health() {}

#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    summary = "Prometheus text format: per-route requests and latency, cache and routing figures",
    responses((status = 200, description = "The metrics", content_type = "text/plain", body = String))
)]
#[allow(dead_code)]
fn metrics() {}

#[utoipa::path(
    get, path = "/openapi.json", tag = "operations",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1, JSON", content_type = "application/json",
        body = Object))
)]
#[allow(dead_code)]
fn openapi_json() {}

#[utoipa::path(
    get, path = "/", tag = "pages",
    summary = "The storefront: toys, prices, live stock, a buy form and an order lookup",
    responses((status = 200, description = "HTML page; its script and style are inline",
        content_type = "text/html", body = String))
)]
#[allow(dead_code)]
fn storefront() {}

#[utoipa::path(
    get, path = "/dashboard", tag = "pages",
    summary = "The live cluster page: nodes, roles, applied indexes, the leader, buys/s and p99",
    responses((status = 200, description = "HTML page; its script and style are inline",
        content_type = "text/html", body = String))
)]
#[allow(dead_code)]
fn dashboard() {}

#[utoipa::path(
    get, path = "/events", tag = "pages",
    summary = "Live changes of stock and price for pages, as Server-Sent Events",
    description = "A `text/event-stream` that stays open. First `hello` with data \
        `{\"live\": true}` (and `retry: 1000`); then `invalidate` for every change of a \
        product's stock or price that the gateway hears from the catalog, with the catalog's \
        data `{\"name\", \"quantity\", \"price\", \"version\"}`; and `resync` with data \
        `{\"reason\": \"lagged\" | \"catalog_lost\" | \"catalog_back\", \"live\": bool}` when \
        changes may have been missed, after which a page reads every product again. `live` \
        false means the gateway is not following the catalog's stream: no `invalidate` \
        comes until a `resync` with `live` true, so a page polls meanwhile. A `: keep-alive` \
        comment comes every 10 s.",
    responses(
        (status = 200, description = "The stream", content_type = "text/event-stream",
            body = String,
            example = json!("event: hello\ndata: {\"live\":true}\nretry: 1000\n\nevent: invalidate\ndata: {\"name\":\"Tux\",\"quantity\":99,\"price\":25.99,\"version\":2}\n\n")),
        (status = 503, description = "`--max-event-subscribers` streams are open at this gateway",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")),
            example = json!({"error": {"code": 503, "message": "too many event subscribers"}}))
    )
)]
#[allow(dead_code)]
fn events() {}
