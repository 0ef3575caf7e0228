//! Batching the leader's reservations at the catalog.
//!
//! Every buy reserves its stock at the catalog before its order goes to Raft. One HTTP
//! call per buy makes the catalog parse, answer and schedule each reservation alone; here
//! the reserves that arrive while a few calls are on their way wait and go together as one
//! `POST /batch/reservations`, which the catalog makes durable with one fsync. A lone
//! reserve under light load goes at once as a plain `POST /reservations`, so a single
//! client's latency is what it was.

use futures::future::join_all;
use reqwest::StatusCode;
use tokio::sync::{mpsc, oneshot};
use toystore_api::catalog::{CatalogClient, Reservation, ReserveRequest};
use toystore_api::{CallError, ErrorKind};

/// Calls to the catalog on their way at once: one being flushed there while the next
/// gathers keeps the catalog's disk busy without queueing behind it.
const IN_FLIGHT: usize = 2;
/// Reserves in one call, at most (the catalog takes up to 1,024).
const MAX_BATCH: usize = 256;
/// Reserves waiting, at most, before `reserve` itself waits.
const QUEUE: usize = 8192;

type Reply = oneshot::Sender<Result<Reservation, CallError>>;

/// The queue of reserves; clones share it. The sending task stops with the last clone.
#[derive(Clone)]
pub(crate) struct Reserver {
    queue: mpsc::Sender<(ReserveRequest, Reply)>,
}

impl Reserver {
    /// Starts the sending task towards `catalog`.
    pub(crate) fn start(catalog: CatalogClient) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(send_all(catalog, pending));
        Reserver { queue }
    }

    /// Reserves `request` at the catalog (alone or in a batch) and answers what the
    /// catalog said of it, as `CatalogClient::reserve` would.
    pub(crate) async fn reserve(&self, request: ReserveRequest) -> Result<Reservation, CallError> {
        let stopped = || CallError::Unreachable {
            connect: true,
            reason: "the reservation sender stopped".to_string(),
        };
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((request, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Sends everything queued meanwhile together (see [`crate::batching`]).
async fn send_all(catalog: CatalogClient, pending: mpsc::Receiver<(ReserveRequest, Reply)>) {
    crate::batching::drain(pending, IN_FLIGHT, MAX_BATCH, move |batch| {
        let catalog = catalog.clone();
        async move { send(&catalog, batch).await }
    })
    .await;
}

/// Sends one batch and answers each of its reserves.
async fn send(catalog: &CatalogClient, mut batch: Vec<(ReserveRequest, Reply)>) {
    if batch.len() == 1 {
        let (request, reply) = batch.pop().expect("one reserve");
        let _ = reply.send(catalog.reserve(&request).await);
        return;
    }
    let (requests, replies): (Vec<ReserveRequest>, Vec<Reply>) = batch.into_iter().unzip();
    let results = match catalog.reserve_batch(requests.clone()).await {
        Ok(results) => results,
        Err(err) if lacks_batch_route(&err) => {
            // A catalog older than this node (an upgrade half way): one call each.
            join_all(requests.iter().map(|request| catalog.reserve(request))).await
        }
        // No answer: each reserve's outcome is unknown, as a lost single call's would be.
        Err(err) => vec![Err(err); replies.len()],
    };
    for (reply, result) in replies.into_iter().zip(results) {
        let _ = reply.send(result);
    }
}

/// The catalog answered that it has no batch route (404 that is not `product not found`,
/// or 405).
fn lacks_batch_route(err: &CallError) -> bool {
    match err.status() {
        Some(StatusCode::NOT_FOUND) => err.kind() != Some(ErrorKind::ProductNotFound),
        Some(StatusCode::METHOD_NOT_ALLOWED) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toystore_api::ErrorDetail;

    fn answered(code: u16, message: &str) -> CallError {
        CallError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            detail: ErrorDetail {
                code,
                message: message.to_string(),
                extra: Default::default(),
            },
        }
    }

    #[test]
    fn only_a_missing_route_falls_back_to_single_calls() {
        assert!(lacks_batch_route(&answered(404, "no such route")));
        assert!(lacks_batch_route(&answered(405, "method not allowed")));
        assert!(!lacks_batch_route(&answered(404, "product not found")));
        assert!(!lacks_batch_route(&answered(
            400,
            "a batch holds 1 to 1024 items"
        )));
        assert!(!lacks_batch_route(&CallError::Unreachable {
            connect: false,
            reason: "timeout".into()
        }));
    }
}
