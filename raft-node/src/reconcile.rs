//! The leader's reconciler: held reservations at the catalog whose order never committed
//! are not leaked. For each reservation held longer than `--reconcile-after`: if its
//! request id has an order, confirm it with that number; otherwise commit a tombstone for
//! the request id through Raft first (so a late retry gets 409 `request expired` rather
//! than an order), then release it. A tombstone that loses the race to the order comes
//! back as `AlreadyOrdered`, and the reservation is confirmed instead.

use tokio_util::sync::CancellationToken;
use toystore_api::catalog::Reservation;

use crate::http::orders::commit;
use crate::node::{Node, SharedNode};
use crate::store::state_machine::RequestState;
use crate::typ::{Command, CommandResult};

/// Runs until shutdown; does work only while this node is the leader.
pub async fn run(node: SharedNode, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(node.config.reconcile_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if node.raft.metrics().borrow().current_leader != Some(node.id) {
            continue;
        }
        let older_than_ms = node.config.reconcile_after.as_millis() as u64;
        let held = match node.catalog.held(older_than_ms).await {
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
            if let Err(err) = settle(&node, &reservation).await {
                tracing::warn!(request_id = %reservation.request_id, "reconcile failed: {err}");
                break;
            }
        }
    }
}

/// Confirms or releases one stale held reservation.
async fn settle(node: &Node, reservation: &Reservation) -> anyhow::Result<()> {
    let request_id = &reservation.request_id;
    let known = node
        .state
        .request(request_id)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let order_number = match known {
        Some(RequestState::Ordered(number)) => Some(number),
        Some(RequestState::Tombstone) => None,
        None => {
            let command = Command::Tombstone {
                request_id: request_id.clone(),
            };
            match commit(node, command).await.map_err(anyhow::Error::new)? {
                CommandResult::AlreadyOrdered { number } => Some(number),
                CommandResult::Tombstoned => None,
                other => anyhow::bail!("unexpected tombstone result {other:?}"),
            }
        }
    };
    match order_number {
        Some(number) => {
            node.catalog.confirm(request_id, number).await?;
            tracing::info!(%request_id, number, "reconciler confirmed a held reservation");
        }
        None => {
            node.catalog.release(request_id).await?;
            tracing::info!(%request_id, "reconciler tombstoned and released a held reservation");
        }
    }
    Ok(())
}
