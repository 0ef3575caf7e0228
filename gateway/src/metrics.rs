//! The gateway's own Prometheus figures (contract section 3), beside the per-route ones.

use prometheus::{IntCounter, IntGauge};
use service_core::Metrics;

/// The gateway's counters; clones count into the same registry.
#[derive(Clone)]
pub struct GatewayMetrics {
    /// `gateway_cache_hits_total`: product reads served from the cache.
    pub cache_hits: IntCounter,
    /// `gateway_cache_misses_total`: product reads that went to the catalog.
    pub cache_misses: IntCounter,
    /// `gateway_invalidations_total`: invalidations received from the catalog.
    pub invalidations: IntCounter,
    /// `gateway_leader_changes_total`: times the router followed a new leader.
    pub leader_changes: IntCounter,
    /// `gateway_retries_total`: order attempts after the first.
    pub retries: IntCounter,
    /// `gateway_leader_wakeups_total`: backoffs cut short because a leader became known.
    pub leader_wakeups: IntCounter,
    /// `gateway_attempts_abandoned_total`: hanging attempts left for a node a majority names leader.
    pub attempts_abandoned: IntCounter,
    /// `gateway_pending_buys`: buys in progress.
    pub pending_buys: IntGauge,
    /// `gateway_buys_shed_total`: buys refused with 503 `overloaded`.
    pub buys_shed: IntCounter,
    /// `gateway_event_subscribers`: open `GET /events` streams.
    pub event_subscribers: IntGauge,
    /// `gateway_event_subscribers_refused_total`: `GET /events` refused at the cap.
    pub event_subscribers_refused: IntCounter,
}

impl GatewayMetrics {
    /// Registers every counter in the service's registry.
    pub fn register(metrics: &Metrics) -> Self {
        let counter = |name: &str, help: &str| {
            metrics.register(IntCounter::new(name, help).expect("static metric"))
        };
        GatewayMetrics {
            cache_hits: counter(
                "gateway_cache_hits_total",
                "Product reads served from the cache",
            ),
            cache_misses: counter(
                "gateway_cache_misses_total",
                "Product reads fetched from the catalog",
            ),
            invalidations: counter(
                "gateway_invalidations_total",
                "Invalidations received from the catalog's event stream",
            ),
            leader_changes: counter(
                "gateway_leader_changes_total",
                "Times the gateway switched the node it sends orders to",
            ),
            retries: counter(
                "gateway_retries_total",
                "Order requests sent again to the same or another node",
            ),
            leader_wakeups: counter(
                "gateway_leader_wakeups_total",
                "Order retries cut short because another request found the new leader",
            ),
            attempts_abandoned: counter(
                "gateway_attempts_abandoned_total",
                "Order attempts left unanswered because another node was found leading",
            ),
            pending_buys: metrics.register(
                IntGauge::new("gateway_pending_buys", "Buys in progress").expect("static metric"),
            ),
            buys_shed: counter(
                "gateway_buys_shed_total",
                "Buys refused with 503 overloaded because --max-pending-buys were in progress",
            ),
            event_subscribers: metrics.register(
                IntGauge::new("gateway_event_subscribers", "Open GET /events streams")
                    .expect("static metric"),
            ),
            event_subscribers_refused: counter(
                "gateway_event_subscribers_refused_total",
                "GET /events streams refused because --max-event-subscribers were open",
            ),
        }
    }
}
