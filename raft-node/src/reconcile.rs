//! The leader's reconciler: held reservations at the catalog whose order never committed
//! are not leaked. Every `--reconcile-interval`, while this node leads, each reservation
//! held longer than `--reconcile-after` is settled by [`orders::settle`]: confirmed when
//! its request id has an order, tombstoned and released otherwise.

use tokio_util::sync::CancellationToken;

use crate::app::SharedApp;
use crate::orders::{self, Settled};

/// Runs until shutdown; does work only while this node is the leader.
pub(crate) async fn run(app: SharedApp, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(app.config.reconcile_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if app.leader() != Some(app.id) {
            continue;
        }
        let older_than_ms = app.config.reconcile_after.as_millis() as u64;
        let held = match app.catalog.held(older_than_ms).await {
            Ok(held) => held,
            Err(err) => {
                tracing::debug!("reconciler cannot list held reservations: {err}");
                continue;
            }
        };
        for reservation in held {
            if shutdown.is_cancelled() {
                return;
            }
            let request_id = &reservation.request_id;
            match orders::settle(&app, request_id).await {
                Ok(Settled::Confirmed(number)) => {
                    tracing::info!(%request_id, number, "reconciler confirmed a held reservation");
                }
                Ok(Settled::Released) => {
                    tracing::info!(%request_id, "reconciler tombstoned and released a held reservation");
                }
                Err(err) => {
                    tracing::warn!(%request_id, "reconcile failed: {err}");
                    break;
                }
            }
        }
    }
}
