//! Confirming reservations off the buy's critical path.
//!
//! Once Raft has committed an order it is durable and the buy can be answered; marking the
//! catalog's reservation confirmed only settles bookkeeping. The buy hands the confirm to
//! this background sender and answers at once, so it waits for one catalog round trip (the
//! reserve), not two. A confirm that is dropped (queue full) or fails is left to the
//! reconciler, which confirms every held reservation whose request id has an order.

use tokio::sync::mpsc;
use toystore_api::catalog::{CatalogClient, ConfirmItem};

/// Confirms waiting to be sent, at most.
const QUEUE: usize = 4096;
/// Calls in flight at once, at most.
const IN_FLIGHT: usize = 2;
/// Confirms in one call, at most: those queued meanwhile go together as one
/// `POST /batch/confirmations`, one fsync at the catalog.
const MAX_BATCH: usize = 256;

/// Queues confirms for the background sender; clones share it.
#[derive(Clone)]
pub(crate) struct Confirmer {
    queue: mpsc::Sender<ConfirmItem>,
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
        let item = ConfirmItem {
            request_id: request_id.to_string(),
            order_number: number,
        };
        if self.queue.try_send(item).is_err() {
            tracing::warn!(%request_id, number, "confirm queue full, the reconciler will confirm");
        }
    }
}

/// Sends everything queued meanwhile together (see [`crate::batching`]).
async fn send_all(catalog: CatalogClient, pending: mpsc::Receiver<ConfirmItem>) {
    crate::batching::drain(pending, IN_FLIGHT, MAX_BATCH, move |batch| {
        let catalog = catalog.clone();
        async move { send(&catalog, batch).await }
    })
    .await;
}

/// Sends one batch; what fails is only logged, the reconciler confirms it later.
async fn send(catalog: &CatalogClient, mut batch: Vec<ConfirmItem>) {
    if batch.len() == 1 {
        let item = batch.pop().expect("one confirm");
        if let Err(err) = catalog.confirm(&item.request_id, item.order_number).await {
            warn_failed(&item, &err);
        }
        return;
    }
    let count = batch.len();
    match catalog.confirm_batch(batch.clone()).await {
        Ok(results) => {
            for (item, result) in batch.iter().zip(results) {
                if let Err(err) = result {
                    warn_failed(item, &err);
                }
            }
        }
        Err(err) => {
            tracing::warn!(
                count,
                "a batch of confirms failed, the reconciler will retry: {err}"
            )
        }
    }
}

fn warn_failed(item: &ConfirmItem, err: &toystore_api::CallError) {
    tracing::warn!(
        request_id = %item.request_id,
        number = item.order_number,
        "confirm failed, the reconciler will retry: {err}"
    );
}
