//! The order domain: buying (the saga across the catalog and Raft), reading orders, and
//! settling a stale reservation for the reconciler.
//!
//! A buy on the leader: a request id already in the state machine is answered from it;
//! otherwise the stock is reserved at the catalog under the request id, the order is
//! committed through Raft with the reserved price, and the buy is answered; the
//! reservation is confirmed in the background ([`crate::confirm`]), with the reconciler as
//! backstop. Nothing is committed when the reserve fails.

use std::time::Instant;

use toystore_api::catalog::{ReservationState, ReserveRequest};
use toystore_api::node::{Order, OrderRequest, OrdersPage, ReadConsistency};

use crate::app::App;
use crate::error::NodeError;
use crate::store::state_machine::RequestState;
use crate::typ::{Command, CommandResult};

/// How many heartbeat rounds a linearizable read tries before giving up.
const READ_QUORUM_ATTEMPTS: usize = 5;

/// Buys on the leader; answers the order number.
pub(crate) async fn buy(app: &App, request: &OrderRequest) -> Result<u64, NodeError> {
    app.require_leader()?;
    let started = Instant::now();
    let known = known_request(app, request)?;
    app.buy_stages.lookup.observe(lap(&started));
    if let Some(number) = known {
        return Ok(number);
    }
    let started = Instant::now();
    let reservation = app
        .reserver
        .reserve(ReserveRequest {
            request_id: request.request_id.clone(),
            name: request.name.clone(),
            quantity: request.quantity,
        })
        .await;
    app.buy_stages.reserve.observe(lap(&started));
    let reservation = reservation?;
    if reservation.state == ReservationState::Released {
        // The reconciler gave this request up (its tombstone may not be applied here yet).
        return Err(NodeError::RequestExpired);
    }
    let command = Command::CreateOrder {
        request_id: request.request_id.clone(),
        name: request.name.clone(),
        quantity: request.quantity,
        price: reservation.price,
    };
    let started = Instant::now();
    let committed = app.commit(command).await;
    app.buy_stages.commit.observe(lap(&started));
    let number = match committed? {
        CommandResult::Created { number, .. } => number,
        CommandResult::Mismatch => return Err(NodeError::RequestIdReused),
        CommandResult::Expired => return Err(NodeError::RequestExpired),
        other => return Err(NodeError::storage(format!("unexpected result {other:?}"))),
    };
    app.confirmer.confirm(&request.request_id, number);
    Ok(number)
}

fn lap(started: &Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

/// The order number of a request id the state machine already knows, if it knows it.
fn known_request(app: &App, request: &OrderRequest) -> Result<Option<u64>, NodeError> {
    let known = app
        .state
        .request_and_order(&request.request_id)
        .map_err(NodeError::storage)?;
    let (number, order) = match known {
        None => return Ok(None),
        Some((RequestState::Tombstone, _)) => return Err(NodeError::RequestExpired),
        Some((RequestState::Ordered(number), order)) => (number, order),
    };
    let order =
        order.ok_or_else(|| NodeError::storage("order of a known request id is missing"))?;
    if order.name == request.name && order.quantity == request.quantity {
        Ok(Some(number))
    } else {
        Err(NodeError::RequestIdReused)
    }
}

/// Order `number`: linearizable (on the leader, reflecting every acknowledged order) or
/// from this node's own state machine.
pub(crate) async fn read(
    app: &App,
    number: u64,
    consistency: ReadConsistency,
) -> Result<Order, NodeError> {
    if consistency == ReadConsistency::Linearizable {
        confirm_leadership(app).await?;
    }
    app.state
        .order(number)
        .map_err(NodeError::storage)?
        .map(|order| order.to_wire())
        .ok_or(NodeError::OrderNotFound)
}

/// Confirms leadership with a quorum and waits until this node has applied everything
/// committed before. One round may miss the quorum when a heartbeat is slow (a busy
/// machine); a deposed leader is told at once.
async fn confirm_leadership(app: &App) -> Result<(), NodeError> {
    use openraft::error::{CheckIsLeaderError, RaftError};
    let mut attempt = 1;
    loop {
        match app.raft.ensure_linearizable().await {
            Ok(_) => return Ok(()),
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))
                if attempt < READ_QUORUM_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(err) => return Err(app.check_error(err)),
        }
    }
}

/// Up to `limit` orders of the local state machine numbered above `after`.
pub(crate) fn page(app: &App, after: Option<u64>, limit: usize) -> Result<OrdersPage, NodeError> {
    let (orders, last_applied) = app
        .state
        .orders_after(after, limit)
        .map_err(NodeError::storage)?;
    Ok(OrdersPage {
        orders,
        last_applied,
    })
}

/// What the reconciler did with a stale held reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Its request id has this order: the reservation is confirmed.
    Confirmed(u64),
    /// Its request id is tombstoned: the reservation is released.
    Released,
}

/// Confirms or releases the held reservation of `request_id`. Without an order, a
/// tombstone is committed first, so a late retry of the buy gets `request expired`
/// rather than an order; a tombstone that loses the race to the order comes back as
/// `AlreadyOrdered`, and the reservation is confirmed instead.
pub(crate) async fn settle(app: &App, request_id: &str) -> Result<Settled, NodeError> {
    let known = app.state.request(request_id).map_err(NodeError::storage)?;
    let order_number = match known {
        Some(RequestState::Ordered(number)) => Some(number),
        Some(RequestState::Tombstone) => None,
        None => {
            let command = Command::Tombstone {
                request_id: request_id.to_string(),
            };
            match app.commit(command).await? {
                CommandResult::AlreadyOrdered { number } => Some(number),
                CommandResult::Tombstoned => None,
                other => {
                    return Err(NodeError::storage(format!(
                        "unexpected tombstone result {other:?}"
                    )))
                }
            }
        }
    };
    match order_number {
        Some(number) => {
            app.catalog.confirm(request_id, number).await?;
            Ok(Settled::Confirmed(number))
        }
        None => {
            app.catalog.release(request_id).await?;
            Ok(Settled::Released)
        }
    }
}
