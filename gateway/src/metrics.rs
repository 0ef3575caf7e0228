//! The gateway's own Prometheus figures (contract section 3), beside the per-route ones.

use prometheus::IntCounter;
use service_core::Metrics;

#[derive(Clone)]
pub struct GatewayMetrics {
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    pub invalidations: IntCounter,
    pub leader_changes: IntCounter,
    pub retries: IntCounter,
    pub leader_wakeups: IntCounter,
    pub attempts_abandoned: IntCounter,
}

impl GatewayMetrics {
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
        }
    }
}
