//! The catalog's own Prometheus figures, beside the per-route ones of `service-core`.

use prometheus::{IntCounterVec, IntGauge, Opts};
use service_core::Metrics;

use crate::store::{ReserveOutcome, StoreError};

#[derive(Clone)]
pub(crate) struct CatalogMetrics {
    reservations: IntCounterVec,
    /// Open `/events` streams.
    pub subscribers: IntGauge,
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
        CatalogMetrics {
            reservations,
            subscribers,
        }
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
