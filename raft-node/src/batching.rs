//! The loop the node's three batchers share (Raft proposals, catalog reserves, catalog
//! confirms): wait for a free slot, take everything queued by then up to a bound, and send
//! it as one batch, so work that arrives while earlier batches are on their way goes
//! together.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

/// Sends the queue's items in batches of at most `max_batch`, at most `in_flight` batches
/// at once, until the queue closes.
pub(crate) async fn drain<T, F, Fut>(
    mut pending: mpsc::Receiver<T>,
    in_flight: usize,
    max_batch: usize,
    send: F,
) where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = pending.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let sent = send(batch);
        tokio::spawn(async move {
            sent.await;
            drop(slot);
        });
    }
}
