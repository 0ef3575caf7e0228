//! The toystore gateway: the public REST API, a product cache invalidated by the
//! catalog's event stream, and buys routed to the Raft leader with failover.
//!
//! - [`config`]: the command line.
//! - [`admission`]: the cap on buys in progress (load shedding).
//! - [`cache`]: the product cache and its guard against stale inserts.
//! - [`invalidation`]: the subscription to the catalog's `/events`.
//! - [`router`]: `LeaderRouter`, leader discovery, retries and failover.
//! - [`membership`]: the nodes routed over, learned from the nodes' `/cluster/status`.
//! - [`live`]: `GET /events`, the catalog's invalidations passed on to browsers.
//! - [`http`]: the routes and handlers.
//! - [`metrics`]: the gateway's own Prometheus figures.
//! - [`openapi`]: `GET /openapi.json`, derived from the wire types.
//! - [`pages`]: the storefront (`/`) and the cluster dashboard (`/dashboard`).

pub mod admission;
pub mod cache;
pub mod config;
pub mod http;
mod invalidation;
pub mod live;
pub mod membership;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod router;

use std::sync::Arc;
use std::time::Duration;

use service_core::{server, Metrics};
use toystore_api::catalog::CatalogClient;

use crate::cache::ProductCache;
use crate::config::{CacheMode, Config};
use crate::metrics::GatewayMetrics;
use crate::router::LeaderRouter;

/// Timeout of one catalog call.
const CATALOG_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the gateway until SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let security = config.security.load()?;
    let listener = server::bind(&config.listen).await?;
    security.log(&config.listen);
    let shutdown = server::shutdown_on_signal();
    let metrics = Metrics::new("gateway");
    let gateway_metrics = GatewayMetrics::register(&metrics);
    let catalog_http = security.transport.http(|b| b.timeout(CATALOG_TIMEOUT))?;
    let catalog = CatalogClient::new(&config.catalog, catalog_http);
    let cache = ProductCache::new(config.cache_capacity, config.cache == CacheMode::On);
    let router = Arc::new(LeaderRouter::with_transport(
        &config.nodes.0,
        &security.transport,
        config.request_timeout,
        config.deadline,
        gateway_metrics.clone(),
    )?);
    tracing::info!(
        catalog = %config.catalog,
        seeds = ?config.nodes.0,
        cache = ?config.cache,
        deadline = ?config.deadline,
        "gateway ready"
    );
    let live = live::LiveFeed::new(
        live::LiveOptions {
            limit: config.max_event_subscribers as usize,
            keep_alive: live::KEEP_ALIVE,
            open_gauge: gateway_metrics.event_subscribers.clone(),
            refused: gateway_metrics.event_subscribers_refused.clone(),
        },
        shutdown.clone(),
    );
    let subscriber = tokio::spawn(invalidation::run(
        catalog.clone(),
        invalidation::Targets {
            cache: cache.clone(),
            live: live.clone(),
            metrics: gateway_metrics.clone(),
        },
        shutdown.clone(),
    ));
    // Seeds first, then whatever the nodes say the membership is.
    let membership = tokio::spawn({
        let router = router.clone();
        let shutdown = shutdown.clone();
        async move { router.keep_membership(shutdown).await }
    });
    let admission = admission::Admission::new(
        config.max_pending_buys as usize,
        gateway_metrics.pending_buys.clone(),
        gateway_metrics.buys_shed.clone(),
    );
    let state = http::AppState {
        catalog,
        cache,
        router,
        metrics: gateway_metrics,
        admission,
        live,
    };
    let options = server::ServeOptions {
        tls: security.server_tls.clone(),
        limits: config.limits.clone(),
    };
    let served = server::serve(
        listener,
        http::router(state, metrics),
        shutdown.clone(),
        options,
    )
    .await;
    shutdown.cancel();
    let _ = subscriber.await;
    let _ = membership.await;
    tracing::info!("gateway stopped");
    served
}
