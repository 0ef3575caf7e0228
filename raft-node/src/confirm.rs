//! Confirming reservations off the buy's critical path.
//!
//! Once Raft has committed an order it is durable and the buy can be answered; marking the
//! catalog's reservation confirmed only settles bookkeeping. The buy hands the confirm to
//! this background sender and answers at once, so it waits for one catalog round trip (the
//! reserve), not two. A confirm that is dropped (queue full) or fails is left to the
//! reconciler, which confirms every held reservation whose request id has an order.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};
use toystore_api::catalog::CatalogClient;

/// Confirms waiting to be sent, at most.
const QUEUE: usize = 4096;
/// Confirms in flight at once, at most.
const IN_FLIGHT: usize = 64;

/// Queues confirms for the background sender; clones share it.
#[derive(Clone)]
pub(crate) struct Confirmer {
    queue: mpsc::Sender<(String, u64)>,
}

impl Confirmer {
    /// Starts the sender; it stops once every `Confirmer` is dropped and the queue is empty.
    pub(crate) fn start(catalog: CatalogClient) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(send_all(catalog, pending));
        Confirmer { queue }
    }

    /// Asks for `request_id`'s reservation to be confirmed with `number`, without waiting.
    pub(crate) fn confirm(&self, request_id: &str, number: u64) {
        if self
            .queue
            .try_send((request_id.to_string(), number))
            .is_err()
        {
            tracing::warn!(%request_id, number, "confirm queue full, the reconciler will confirm");
        }
    }
}

async fn send_all(catalog: CatalogClient, mut pending: mpsc::Receiver<(String, u64)>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some((request_id, number)) = pending.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let catalog = catalog.clone();
        tokio::spawn(async move {
            if let Err(err) = catalog.confirm(&request_id, number).await {
                tracing::warn!(%request_id, number, "confirm failed, the reconciler will retry: {err}");
            }
            drop(slot);
        });
    }
}
