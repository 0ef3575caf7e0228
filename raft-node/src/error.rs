//! [`NodeError`]: why an order or cluster operation of this node did not succeed, as the
//! domain modules report it. The HTTP layer turns it into a contract answer.

use toystore_api::CallError;

use crate::typ::NodeId;

/// A failed order or cluster operation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NodeError {
    /// This node does not lead; the leader, when known, and its address.
    #[error("not the leader (leader {leader_id:?} at {leader_addr:?})")]
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    /// Leadership could not be confirmed with a quorum.
    #[error("no leader: {0}")]
    NoQuorum(String),
    /// The reconciler gave this request id up before its order committed.
    #[error("request expired")]
    RequestExpired,
    /// The request id already belongs to an order with another name or quantity.
    #[error("request_id already used for a different order")]
    RequestIdReused,
    #[error("order not found")]
    OrderNotFound,
    /// The catalog refused or did not answer.
    #[error("catalog: {0}")]
    Catalog(#[from] CallError),
    /// Raft refused the membership change.
    #[error("membership change refused: {0}")]
    MembershipRefused(String),
    /// A cluster change was accepted but did not finish in time.
    #[error("{0}")]
    Unfinished(String),
    /// Raft has stopped (shutdown or a fatal storage error).
    #[error("raft stopped: {0}")]
    RaftStopped(String),
    /// The local store failed or holds something it should not.
    #[error("storage error: {0}")]
    Storage(String),
}

impl NodeError {
    pub(crate) fn storage(err: impl std::fmt::Display) -> Self {
        NodeError::Storage(err.to_string())
    }
}
