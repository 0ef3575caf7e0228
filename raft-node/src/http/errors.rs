//! Raft's errors as contract answers: 421 `not the leader` with the leader hint, or 503.

use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use openraft::BasicNode;
use serde_json::Value;
use service_core::ApiError;

use crate::node::Node;
use crate::typ::NodeId;
use toystore_api::node::{LEADER_ADDR_FIELD, LEADER_ID_FIELD};
use toystore_api::ErrorKind;

/// 421 naming `leader_id` (and its address when known), null fields when unknown.
pub fn not_leader(node: &Node, leader_id: Option<NodeId>) -> ApiError {
    let addr = leader_id.and_then(|id| leader_addr(node, id));
    ApiError::kind(ErrorKind::NotLeader)
        .with_field(LEADER_ID_FIELD, leader_id.map_or(Value::Null, Value::from))
        .with_field(LEADER_ADDR_FIELD, addr.map_or(Value::Null, Value::from))
}

/// The leader's address as the membership advertises it, else as `--peers` gives it.
fn leader_addr(node: &Node, id: NodeId) -> Option<String> {
    let metrics = node.raft.metrics();
    let metrics = metrics.borrow();
    metrics
        .membership_config
        .membership()
        .get_node(&id)
        .map(|n| n.addr.clone())
        .or_else(|| node.config.peers.0.get(&id).cloned())
}

/// 421 unless this node currently believes it is the leader.
pub fn require_leader(node: &Node) -> Result<(), ApiError> {
    let leader = node.raft.metrics().borrow().current_leader;
    if leader == Some(node.id) {
        Ok(())
    } else {
        Err(not_leader(node, leader))
    }
}

fn forward(node: &Node, f: &ForwardToLeader<NodeId, BasicNode>) -> ApiError {
    not_leader(node, f.leader_id)
}

/// A failed client write (order, tombstone, membership change).
pub fn client_write(
    node: &Node,
    err: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
) -> ApiError {
    match err {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => forward(node, &f),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            ApiError::conflict(format!("membership change refused: {e}"))
        }
        RaftError::Fatal(e) => ApiError::unavailable(format!("raft stopped: {e}")),
    }
}

/// A failed leadership check before a linearizable read.
pub fn check_leader(
    node: &Node,
    err: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>,
) -> ApiError {
    match err {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => forward(node, &f),
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e)) => {
            tracing::debug!("leadership not confirmed: {e}");
            ApiError::kind(ErrorKind::NoLeader)
        }
        RaftError::Fatal(e) => ApiError::unavailable(format!("raft stopped: {e}")),
    }
}

/// A storage failure while reading the local state machine.
pub fn storage(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("storage error: {err}"))
}
