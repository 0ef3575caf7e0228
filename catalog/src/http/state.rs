//! What every handler shares: the state it reaches, and the clock reservations are
//! stamped with.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::EventHub;
use crate::metrics::CatalogMetrics;
use crate::store::CatalogStore;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: CatalogStore,
    pub events: EventHub,
    pub metrics: CatalogMetrics,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
