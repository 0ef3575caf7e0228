//! The toystore catalog: owns products and stock.
//!
//! - [`config`]: the command line.
//! - [`store`]: products, ledger counters and reservations in sled.
//! - [`events`]: the `/events` stream of invalidations.
//! - [`restock`]: the loop that refills sold-out toys.
//! - [`http`]: the routes and handlers.
//! - [`metrics`]: the catalog's own Prometheus figures.

pub mod config;
mod events;
mod http;
mod metrics;
mod restock;
mod store;

use anyhow::Context;
use service_core::{server, Metrics};

use crate::config::Config;
use crate::events::EventHub;
use crate::metrics::CatalogMetrics;
use crate::store::CatalogStore;

/// Runs the catalog until SIGTERM or SIGINT, then flushes the store.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Bind first: the contract wants `listening on <addr>` as the first log line.
    let security = config.security.load()?;
    let listener = server::bind(&config.listen).await?;
    security.log(&config.listen);
    let metrics = Metrics::new("catalog");
    let catalog_metrics = CatalogMetrics::register(&metrics);
    let store = CatalogStore::open_observed(
        &config.data_dir,
        config.initial_stock,
        catalog_metrics.flush_observer(),
    )
    .with_context(|| format!("cannot open store in {}", config.data_dir.display()))?;
    let shutdown = server::shutdown_on_signal();
    let events = EventHub::new(shutdown.clone(), catalog_metrics.subscribers.clone());
    tracing::info!(
        data_dir = %config.data_dir.display(),
        epoch = events.epoch(),
        restock_interval = ?config.restock_interval,
        "catalog ready"
    );

    let restocker = tokio::spawn(restock::run(
        store.clone(),
        events.clone(),
        config.restock_to,
        config.restock_interval,
        shutdown.clone(),
    ));
    let state = http::AppState {
        store: store.clone(),
        events,
        metrics: catalog_metrics,
    };
    let router = http::router(state, metrics, &security.credentials);
    let options = server::ServeOptions {
        tls: security.server_tls.clone(),
        limits: config.limits.clone(),
    };
    let served = server::serve(listener, router, shutdown.clone(), options).await;
    shutdown.cancel();
    let _ = restocker.await;
    store.flush().await.context("final flush")?;
    tracing::info!("catalog stopped");
    served
}
