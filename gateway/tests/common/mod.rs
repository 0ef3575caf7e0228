//! What the in-process gateway tests share: the real router over backends that are closed
//! ports (anything that reaches them is 503), and one request through it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use gateway::admission::Admission;
use gateway::cache::ProductCache;
use gateway::http::{router, AppState};
use gateway::metrics::GatewayMetrics;
use gateway::router::LeaderRouter;
use service_core::Metrics;
use tower::ServiceExt;
use toystore_api::catalog::CatalogClient;

/// A gateway whose catalog and nodes are closed ports.
pub(crate) fn app() -> Router {
    let metrics = Metrics::new("gateway");
    let gateway_metrics = GatewayMetrics::register(&metrics);
    let dead = |port: u16| format!("127.0.0.1:{port}");
    let nodes: BTreeMap<u64, String> = [(1, dead(1)), (2, dead(2))].into();
    let state = AppState {
        catalog: CatalogClient::with_timeout(&dead(3), Duration::from_millis(200)),
        cache: ProductCache::new(100, true),
        router: Arc::new(LeaderRouter::new(
            &nodes,
            Duration::from_millis(200),
            Duration::from_millis(300),
            gateway_metrics.clone(),
        )),
        admission: Admission::new(
            64,
            gateway_metrics.pending_buys.clone(),
            gateway_metrics.buys_shed.clone(),
        ),
        metrics: gateway_metrics,
    };
    router(state, metrics)
}

/// One request: its status, headers and whole body.
pub(crate) async fn send(
    app: Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Bytes) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, bytes)
}
