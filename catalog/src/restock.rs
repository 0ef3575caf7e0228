//! The restock loop: every interval, sold-out toys go back to `--restock-to`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::events::EventHub;
use crate::store::CatalogStore;

/// Runs until `shutdown` is cancelled.
pub(crate) async fn run(
    store: CatalogStore,
    events: EventHub,
    restock_to: u64,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; restocking starts one interval in
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match store.restock(restock_to).await {
            Ok(changes) => {
                for change in &changes {
                    tracing::info!(product = %change.name, quantity = change.quantity, "restocked");
                }
                events.publish_all(changes);
            }
            Err(err) => tracing::error!(%err, "restock failed"),
        }
    }
}
