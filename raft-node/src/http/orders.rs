//! `POST /orders` (the buy path), `GET /orders/{n}` and `GET /orders?after=&limit=`.
//!
//! The buy path on the leader: a request id already in the state machine is answered from
//! it; otherwise the stock is reserved at the catalog under the request id, the order is
//! committed through Raft with the reserved price, and the reservation is confirmed. A
//! confirm that fails is left to the reconciler; nothing is committed when the reserve fails.

use std::time::Instant;

use axum::extract::State;
use serde::Deserialize;
use service_core::extract::{PathParams, QueryParams};
use service_core::{validate, ApiError, Data, JsonBody};

use super::errors;
use crate::node::{Node, SharedNode};
use crate::store::state_machine::RequestState;
use crate::typ::{Command, CommandResult};
use toystore_api::node::{Order, OrderCreated, OrderRequest, OrdersPage, OrdersQuery, MAX_PAGE};

fn request_expired() -> ApiError {
    ApiError::conflict("request expired")
}

fn request_id_reused() -> ApiError {
    ApiError::unprocessable("request_id already used for a different order")
}

/// The answer for a request id the state machine already knows, if it knows it.
fn known_request(node: &Node, request: &OrderRequest) -> Result<Option<u64>, ApiError> {
    match node
        .state
        .request(&request.request_id)
        .map_err(errors::storage)?
    {
        None => Ok(None),
        Some(RequestState::Tombstone) => Err(request_expired()),
        Some(RequestState::Ordered(number)) => {
            let order = node
                .state
                .order(number)
                .map_err(errors::storage)?
                .ok_or_else(|| errors::storage("order of a known request id is missing"))?;
            if order.name == request.name && order.quantity == request.quantity {
                Ok(Some(number))
            } else {
                Err(request_id_reused())
            }
        }
    }
}

/// Commits `command` through Raft, timing it for `raft_commit_latency_seconds`.
pub async fn commit(node: &Node, command: Command) -> Result<CommandResult, ApiError> {
    let started = Instant::now();
    let written = node.raft.client_write(command).await;
    node.gauges
        .commit_latency
        .observe(started.elapsed().as_secs_f64());
    written
        .map(|response| response.data)
        .map_err(|err| errors::client_write(node, err))
}

/// `POST /orders`.
pub async fn create(
    State(node): State<SharedNode>,
    JsonBody(request): JsonBody<OrderRequest>,
) -> Result<Data<OrderCreated>, ApiError> {
    validate::request_key(&request.request_id)?;
    validate::product_name(&request.name)?;
    validate::quantity(request.quantity)?;
    errors::require_leader(&node)?;
    if let Some(order_number) = known_request(&node, &request)? {
        return Ok(Data::new(OrderCreated { order_number }));
    }
    let reservation = node
        .catalog
        .reserve(&toystore_api::catalog::ReserveRequest {
            request_id: request.request_id.clone(),
            name: request.name.clone(),
            quantity: request.quantity,
        })
        .await
        .map_err(ApiError::catalog_failure)?;
    if reservation.state == toystore_api::catalog::ReservationState::Released {
        // The reconciler gave this request up (its tombstone may not be applied here yet).
        return Err(request_expired());
    }
    let command = Command::CreateOrder {
        request_id: request.request_id.clone(),
        name: request.name.clone(),
        quantity: request.quantity,
        price: reservation.price,
    };
    let order_number = match commit(&node, command).await? {
        CommandResult::Created { number, .. } => number,
        CommandResult::Mismatch => return Err(request_id_reused()),
        CommandResult::Expired => return Err(request_expired()),
        other => return Err(ApiError::internal(format!("unexpected result {other:?}"))),
    };
    if let Err(err) = node
        .catalog
        .confirm(&request.request_id, order_number)
        .await
    {
        tracing::warn!(
            request_id = %request.request_id,
            order_number,
            "confirm failed, the reconciler will retry: {err}"
        );
    }
    Ok(Data::new(OrderCreated { order_number }))
}

/// How many heartbeat rounds a linearizable read tries before answering 503.
const READ_QUORUM_ATTEMPTS: usize = 5;

/// Confirms leadership with a quorum and waits until this node has applied everything
/// committed before, so a read reflects every acknowledged order. One round may miss the
/// quorum when a heartbeat is slow (a busy machine); a deposed leader is told at once.
async fn confirm_leadership(node: &Node) -> Result<(), ApiError> {
    use openraft::error::{CheckIsLeaderError, RaftError};
    let mut attempt = 1;
    loop {
        match node.raft.ensure_linearizable().await {
            Ok(_) => return Ok(()),
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))
                if attempt < READ_QUORUM_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(err) => return Err(errors::check_leader(node, err)),
        }
    }
}

/// Query of `GET /orders/{n}`.
#[derive(Debug, Deserialize)]
pub struct ReadQuery {
    #[serde(default)]
    consistency: Option<String>,
}

/// `GET /orders/{n}`: linearizable on the leader, or local with `?consistency=local`.
pub async fn read(
    State(node): State<SharedNode>,
    PathParams(number): PathParams<String>,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<Data<Order>, ApiError> {
    let number: u64 = number
        .parse()
        .map_err(|_| ApiError::bad_request("order number must be a non-negative integer"))?;
    match query.consistency.as_deref() {
        Some("local") => {}
        None | Some("linearizable") => {
            confirm_leadership(&node).await?;
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "consistency must be `local` or `linearizable`, not `{other}`"
            )))
        }
    }
    node.state
        .order(number)
        .map_err(errors::storage)?
        .map(|order| Data::new(order.to_wire()))
        .ok_or_else(|| ApiError::not_found("order not found"))
}

/// `GET /orders?after=<n>&limit=<k>`: a page of the local state machine.
pub async fn list(
    State(node): State<SharedNode>,
    QueryParams(query): QueryParams<OrdersQuery>,
) -> Result<Data<OrdersPage>, ApiError> {
    let limit = query.limit.unwrap_or(MAX_PAGE);
    if limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {MAX_PAGE}"
        )));
    }
    let (orders, last_applied) = node
        .state
        .orders_after(query.after, limit as usize)
        .map_err(errors::storage)?;
    Ok(Data::new(OrdersPage {
        orders,
        last_applied,
    }))
}
