//! Keeps the cache honest: subscribes to the catalog's `/events`, applies each
//! invalidation, and on losing the stream clears the cache and serves uncached until it
//! has resubscribed (with capped exponential backoff). Each invalidation then goes on to
//! the browsers' feed (`live`), after the cache dropped the product, so a page that
//! refetches on it cannot be answered from the stale entry. The subscription runs with the
//! cache off too, because the pages want the changes either way.

use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use toystore_api::catalog::{CatalogClient, CatalogEvent};

use crate::cache::ProductCache;
use crate::live::LiveFeed;
use crate::metrics::GatewayMetrics;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The catalog sends a keep-alive every 2 s; silence this long means the stream is dead
/// even if the connection still looks open (a paused catalog, a cut link).
const SILENCE_LIMIT: Duration = Duration::from_secs(6);

/// Where the catalog's events go.
pub(crate) struct Targets {
    /// Dropped entry by entry, and wholly while the stream is down.
    pub(crate) cache: ProductCache,
    /// Told every invalidation, and whether the stream is up.
    pub(crate) live: LiveFeed,
    /// `gateway_invalidations_total`.
    pub(crate) metrics: GatewayMetrics,
}

/// Runs until `shutdown`.
pub(crate) async fn run(catalog: CatalogClient, targets: Targets, shutdown: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    while !shutdown.is_cancelled() {
        let subscribed = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = follow(&catalog, &targets) => result,
        };
        targets.cache.set_usable(false);
        targets.live.set_live(false);
        match subscribed {
            Ok(()) => {
                tracing::warn!("catalog event stream ended; cache dropped, resubscribing");
                backoff = FIRST_BACKOFF;
            }
            Err(reason) => tracing::debug!("catalog event stream unavailable: {reason}"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Follows one subscription. `Ok` once it had said hello and then ended; `Err` if it
/// never got going.
async fn follow(catalog: &CatalogClient, targets: &Targets) -> Result<(), String> {
    let stream = catalog
        .events(SILENCE_LIMIT)
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = Box::pin(stream);
    let mut greeted = false;
    while let Some(next) = stream.next().await {
        let event = match next {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!("catalog event stream failed: {err}");
                break;
            }
        };
        match event {
            CatalogEvent::Hello(hello) => {
                // Anything cached (or shown) before this point may have missed changes.
                targets.cache.set_usable(true);
                targets.live.set_live(true);
                greeted = true;
                tracing::info!(epoch = %hello.epoch, "subscribed to catalog events; cache on");
            }
            CatalogEvent::Invalidate(change) => {
                targets.cache.invalidate(&change.name);
                targets.metrics.invalidations.inc();
                targets.live.publish(change);
            }
        }
    }
    if greeted {
        Ok(())
    } else {
        Err("stream ended before hello".to_string())
    }
}
