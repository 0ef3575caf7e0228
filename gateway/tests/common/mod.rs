//! What the in-process gateway tests share: the real router over backends that are closed
//! ports (anything that reaches them is 503), and one request through it.

#![allow(dead_code)] // each test file uses its own part of this fixture

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use gateway::admission::Admission;
use gateway::cache::ProductCache;
use gateway::http::{router, AppState};
use gateway::live::{LiveFeed, LiveOptions};
use gateway::metrics::GatewayMetrics;
use gateway::router::LeaderRouter;
use service_core::Metrics;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use toystore_api::catalog::CatalogClient;

/// A gateway whose catalog and nodes are closed ports.
pub(crate) fn app() -> Router {
    app_with_admission(|m| Admission::new(64, m.pending_buys.clone(), m.buys_shed.clone())).0
}

/// [`app`] with the admission control `make` builds, returned too so a test can fill it.
pub(crate) fn app_with_admission(
    make: impl Fn(&GatewayMetrics) -> Admission,
) -> (Router, Admission) {
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
        admission: make(&gateway_metrics),
        live: LiveFeed::new(
            LiveOptions {
                limit: 4,
                keep_alive: Duration::from_secs(10),
                open_gauge: gateway_metrics.event_subscribers.clone(),
                refused: gateway_metrics.event_subscribers_refused.clone(),
            },
            CancellationToken::new(),
        ),
        metrics: gateway_metrics,
    };
    let admission = state.admission.clone();
    (router(state, metrics), admission)
}

/// One request: its status, headers and whole body (the first frame of an event stream).
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
    if headers
        .get("content-type")
        .is_some_and(|v| v == "text/event-stream")
    {
        // An event stream never ends: its first frame (the `hello` event) stands for it.
        let mut frames = response.into_body().into_data_stream();
        let first = futures::StreamExt::next(&mut frames).await;
        return (status, headers, first.unwrap().unwrap());
    }
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, bytes)
}
