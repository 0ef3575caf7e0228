//! The catalog's own Prometheus figures, beside the per-route ones of `service-core`.

use std::sync::Arc;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts};
use service_core::metrics::LATENCY_BUCKETS;
use service_core::Metrics;

use crate::store::{FlushObserver, ReserveOutcome, StoreError};

/// Buckets of `catalog_flush_changes`: how many changes one group flush made durable.
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

#[derive(Clone)]
pub(crate) struct CatalogMetrics {
    reservations: IntCounterVec,
    /// Open `/events` streams.
    pub subscribers: IntGauge,
    /// `catalog_flush_seconds`: how long each group flush took.
    flush_seconds: Histogram,
    /// `catalog_flush_changes`: how many changes each group flush made durable.
    flush_changes: Histogram,
}

impl CatalogMetrics {
    pub(crate) fn register(metrics: &Metrics) -> Self {
        let reservations = metrics.register(
            IntCounterVec::new(
                Opts::new(
                    "catalog_reservations_total",
                    "Reservation requests by result",
                ),
                &["result"],
            )
            .expect("static metric"),
        );
        let subscribers = metrics.register(
            IntGauge::new("catalog_event_subscribers", "Open /events streams")
                .expect("static metric"),
        );
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            metrics.register(
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
                    .expect("static metric"),
            )
        };
        CatalogMetrics {
            reservations,
            subscribers,
            flush_seconds: histogram(
                "catalog_flush_seconds",
                "Time of one group flush (one fsync shared by every change waiting)",
                LATENCY_BUCKETS,
            ),
            flush_changes: histogram(
                "catalog_flush_changes",
                "Changes made durable by one group flush",
                GROUP_BUCKETS,
            ),
        }
    }

    /// What the store calls after every group flush.
    pub(crate) fn flush_observer(&self) -> FlushObserver {
        let (seconds, changes) = (self.flush_seconds.clone(), self.flush_changes.clone());
        Arc::new(move |took, count| {
            seconds.observe(took.as_secs_f64());
            changes.observe(count as f64);
        })
    }

    pub(crate) fn count_reservation(&self, result: &Result<ReserveOutcome, StoreError>) {
        let label = match result {
            Ok(outcome) if outcome.created => "created",
            Ok(_) => "repeat",
            Err(StoreError::OutOfStock) => "out_of_stock",
            Err(StoreError::ProductNotFound) => "not_found",
            Err(StoreError::RequestIdReused(_)) => "reused_id",
            Err(_) => "error",
        };
        self.reservations.with_label_values(&[label]).inc();
    }
}
