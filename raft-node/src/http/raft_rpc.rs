//! The server side of the Raft RPCs: bincode in, bincode `Result` out (see [`crate::network`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openraft::raft::VoteRequest;
use serde::de::DeserializeOwned;
use serde::Serialize;
use service_core::ApiError;

use crate::app::SharedApp;
use crate::network::NOT_A_VOTER;
use crate::typ::NodeId;

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    bincode::deserialize(body).map_err(|e| ApiError::bad_request(format!("bad raft rpc: {e}")))
}

fn encode<T: Serialize>(answer: &T) -> Response {
    match bincode::serialize(answer) {
        Ok(bytes) => ([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => ApiError::internal(format!("encode raft answer: {e}")).into_response(),
    }
}

pub(crate) async fn append(
    State(app): State<SharedApp>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = decode(&body)?;
    Ok(encode(&app.raft.append_entries(request).await))
}

/// A vote request from a node that is not a voter of this node's membership is refused
/// before Raft sees it: a removed node that never learned of its removal would otherwise
/// keep raising the term with every campaign and depose the leader when it calls again.
pub(crate) async fn vote(State(app): State<SharedApp>, body: Bytes) -> Result<Response, ApiError> {
    let request: VoteRequest<NodeId> = decode(&body)?;
    let candidate = request.vote.leader_id().voted_for();
    let refused = {
        let metrics = app.raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        // A node that knows no membership yet (fresh, before the first append) cannot
        // judge; it leaves the decision to Raft, or a bootstrapping leader could never win.
        let known = membership.voter_ids().next().is_some();
        known && !candidate.is_some_and(|id| membership.voter_ids().any(|voter| voter == id))
    };
    if refused {
        tracing::debug!(?candidate, "vote request from a non-voter refused");
        return Err(ApiError::new(StatusCode::FORBIDDEN, NOT_A_VOTER));
    }
    Ok(encode(&app.raft.vote(request).await))
}

pub(crate) async fn snapshot(
    State(app): State<SharedApp>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = decode(&body)?;
    Ok(encode(&app.raft.install_snapshot(request).await))
}
