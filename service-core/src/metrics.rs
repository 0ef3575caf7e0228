//! Prometheus metrics: per-route request counts and latency histograms for every service,
//! plus a registry where each service adds its own figures.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Latency buckets (seconds) from 100 µs to 10 s: loopback reads sit at the low end,
/// buys through a failover at the high end.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// A service's metric registry with the HTTP figures every service exports.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    /// A registry whose metric names start with `prefix` (`catalog`, `gateway`, ...).
    pub fn new(prefix: &str) -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                format!("{prefix}_http_requests_total"),
                "HTTP requests answered, by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                format!("{prefix}_http_request_duration_seconds"),
                "HTTP request latency, by route and method",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("fresh registry");
        registry
            .register(Box::new(latency.clone()))
            .expect("fresh registry");
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
            }),
        }
    }

    /// The registry, for a service to add its own collectors.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Registers a collector; panics only on a programming error (duplicate name).
    pub fn register<C: prometheus::core::Collector + Clone + 'static>(&self, collector: C) -> C {
        self.inner
            .registry
            .register(Box::new(collector.clone()))
            .expect("metric registered twice");
        collector
    }

    /// Everything in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.inner.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

/// Middleware: counts and times every request under its route template.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    // Held, not copied into Strings: this runs on every request.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    metrics
        .inner
        .latency
        .with_label_values(&[route, method.as_str()])
        .observe(start.elapsed().as_secs_f64());
    metrics
        .inner
        .requests
        .with_label_values(&[route, method.as_str(), response.status().as_str()])
        .inc();
    response
}

/// `GET /metrics`.
pub async fn serve_metrics(State(metrics): State<Metrics>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
        .into_response()
}
