//! The public API (contract section 3): products through the cache, orders through the
//! leader router, the cluster view, health, and the browsers' event stream.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use service_core::{validate, ApiError, Data, JsonBody, Metrics, PathParams};
use toystore_api::catalog::CatalogClient;
use toystore_api::gateway::{
    BuyRequest, ClusterView, OrderCreated, OrderView, Product, CACHE_HEADER, IDEMPOTENCY_KEY_HEADER,
};
use toystore_api::node::{OrderRequest, ReadConsistency};
use toystore_api::{ErrorKind, Health};

use crate::admission::Admission;
use crate::cache::ProductCache;
use crate::live::LiveFeed;
use crate::metrics::GatewayMetrics;
use crate::router::LeaderRouter;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The catalog, for product reads and health.
    pub catalog: CatalogClient,
    /// The product cache.
    pub cache: ProductCache,
    /// Routes order requests to the Raft leader.
    pub router: Arc<LeaderRouter>,
    /// The gateway's own figures.
    pub metrics: GatewayMetrics,
    /// The cap on buys in progress.
    pub admission: Admission,
    /// The catalog's invalidations, passed on to browsers at `GET /events`.
    pub live: LiveFeed,
}

/// The gateway's full router: the public API, its OpenAPI document, the two pages and
/// their event stream, `/health` and `/metrics`.
pub fn router(state: AppState, metrics: Metrics) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/products", get(products))
        .route("/products/{name}", get(product))
        .route("/orders", post(buy))
        .route("/orders/{number}", get(order))
        .route("/cluster", get(cluster))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/", get(crate::pages::storefront))
        .route("/dashboard", get(crate::pages::dashboard))
        .route("/events", get(events))
        // Behind one Arc: axum clones the state for every request, and cloning the fields
        // one by one (a dozen metric handles among them) was a tenth of a cached read.
        .with_state(Arc::new(state));
    service_core::routes::finish(routes, metrics)
}

async fn products(State(state): State<Arc<AppState>>) -> Result<Data<Vec<Product>>, ApiError> {
    let mut products = state
        .catalog
        .products()
        .await
        .map_err(ApiError::catalog_failure)?;
    products.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Data::new(products))
}

async fn product(
    State(state): State<Arc<AppState>>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    validate::product_name(&name)?;
    if let Some(product) = state.cache.get(&name) {
        state.metrics.cache_hits.inc();
        return Ok(with_cache_header(Data::new(product), "hit"));
    }
    state.metrics.cache_misses.inc();
    let ticket = state.cache.ticket(&name);
    let product = state
        .catalog
        .product(&name)
        .await
        .map_err(ApiError::catalog_failure)?;
    state.cache.insert(product.clone(), ticket);
    Ok(with_cache_header(Data::new(product), "miss"))
}

fn with_cache_header(body: Data<Product>, value: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(CACHE_HEADER, HeaderValue::from_static(value));
    response
}

/// The client's idempotency key, or a fresh one.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get(IDEMPOTENCY_KEY_HEADER) {
        None => Ok(uuid::Uuid::new_v4().simple().to_string()),
        Some(value) => {
            let key = value.to_str().map_err(|_| {
                ApiError::bad_request("Idempotency-Key must be 1 to 64 of [A-Za-z0-9_-]")
            })?;
            validate::request_key(key).map_err(|_| {
                ApiError::bad_request("Idempotency-Key must be 1 to 64 of [A-Za-z0-9_-]")
            })?;
            Ok(key.to_string())
        }
    }
}

async fn buy(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BuyRequest>,
) -> Result<Data<OrderCreated>, ApiError> {
    validate::product_name(&body.name)?;
    validate::quantity(body.quantity)?;
    let _ticket = state.admission.admit()?;
    let request = OrderRequest {
        request_id: idempotency_key(&headers)?,
        name: body.name,
        quantity: body.quantity,
    };
    let created = state
        .router
        .call(|node| {
            let request = request.clone();
            async move { node.create_order(&request).await }
        })
        .await?;
    // Read-your-writes: this gateway's next read of the product goes to the catalog.
    state.cache.invalidate(&request.name);
    Ok(Data::new(created))
}

async fn order(
    State(state): State<Arc<AppState>>,
    PathParams(number): PathParams<String>,
) -> Result<Data<OrderView>, ApiError> {
    let number: u64 = number
        .parse()
        .map_err(|_| ApiError::bad_request("order number must be a non-negative integer"))?;
    let order = state
        .router
        .call(|node| async move { node.order(number, ReadConsistency::Linearizable).await })
        .await?;
    Ok(Data::new(OrderView {
        number: order.number,
        name: order.name,
        quantity: order.quantity,
    }))
}

/// `GET /events`: Server-Sent Events for pages (see the `live` module).
async fn events(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    Ok(state.live.subscribe()?.into_response())
}

async fn cluster(State(state): State<Arc<AppState>>) -> Data<ClusterView> {
    Data::new(state.router.cluster_view().await)
}

/// 200 when the catalog answers and some node leads; 503 naming what is missing.
async fn health(State(state): State<Arc<AppState>>) -> Result<Json<Health>, ApiError> {
    if state.catalog.health().await.is_err() {
        return Err(ApiError::kind(ErrorKind::CatalogUnavailable));
    }
    if state.router.leader().is_none() && state.router.cluster_view().await.leader.is_none() {
        return Err(ApiError::kind(ErrorKind::NoLeader));
    }
    Ok(Json(Health::ok()))
}
