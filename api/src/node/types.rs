//! A raft node's request and answer types: orders, cluster state, membership changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /orders` on a node. `request_id` is the client's idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderRequest {
    /// The client's idempotency key: one order per request id, however often sent.
    pub request_id: String,
    /// The product to buy.
    pub name: String,
    /// How many, 1 to 1,000,000.
    pub quantity: u64,
}

/// The answer to a committed buy.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"order_number": 0})))]
pub struct OrderCreated {
    /// The order's number: dense, from 0, in commit order.
    pub order_number: u64,
}

/// A committed order as a node stores it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    /// Its number: dense, from 0, in commit order.
    pub number: u64,
    /// The product bought.
    pub name: String,
    /// How many.
    pub quantity: u64,
    /// The request id (idempotency key) it was committed under.
    pub request_id: String,
}

/// `GET /orders?after=<n>&limit=<k>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrdersQuery {
    /// Only orders numbered above this (all when absent).
    #[serde(default)]
    pub after: Option<u64>,
    /// At most this many, up to [`MAX_PAGE`] (the default).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// The answer of `GET /orders?after=..`: a page of the local state machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrdersPage {
    /// The orders, in number order.
    pub orders: Vec<Order>,
    /// The log index the local state machine has applied (null before the first entry).
    pub last_applied: Option<u64>,
}

/// Largest `limit` of a page.
pub const MAX_PAGE: u64 = 1000;

/// A node's part in Raft, as `/cluster/status` names it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// It leads the current term: it takes buys and linearizable reads.
    Leader,
    /// It votes and replicates the leader's log.
    Follower,
    /// It is asking for votes.
    Candidate,
    /// It replicates the log without a vote.
    Learner,
    /// Raft has stopped on it.
    Shutdown,
}

/// `GET /cluster/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterStatus {
    /// The answering node's id.
    pub id: u64,
    /// Its part in Raft.
    pub state: Role,
    /// The Raft term it is in.
    pub term: u64,
    /// The leader it knows of.
    pub leader_id: Option<u64>,
    /// Index of its last log entry.
    pub last_log_index: Option<u64>,
    /// Index of the last entry its state machine applied.
    pub last_applied: Option<u64>,
    /// Index of the last entry it knows to be committed.
    pub committed: Option<u64>,
    /// Last index its latest snapshot covers.
    pub snapshot_index: Option<u64>,
    /// Ids of the voters in its membership config.
    pub voters: Vec<u64>,
    /// Ids of the learners in its membership config.
    pub learners: Vec<u64>,
    /// Node id (as a string, JSON keys being strings) to address.
    pub nodes: BTreeMap<String, String>,
}

/// `GET /cluster/digest`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Digest {
    /// How many orders the state machine holds.
    pub orders: u64,
    /// The highest order number (null with no orders).
    pub last_order: Option<u64>,
    /// SHA-256, hex, over `number \t name \t quantity \n` of every order in number order.
    pub digest: String,
}

/// `POST /cluster/learners`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddLearner {
    /// The new node's id (positive, unused).
    pub id: u64,
    /// Its `host:port`.
    pub addr: String,
}

/// `POST /cluster/membership`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeMembership {
    /// Ids of every voter after the change.
    pub voters: Vec<u64>,
}

/// Extra error fields of a 421 `not the leader`: the leader hint (null when unknown).
pub const LEADER_ID_FIELD: &str = "leader_id";
/// Extra error field of a 421: the leader's address (null when unknown).
pub const LEADER_ADDR_FIELD: &str = "leader_addr";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_lowercase_on_the_wire() {
        assert_eq!(serde_json::to_value(Role::Leader).unwrap(), "leader");
        let role: Role = serde_json::from_value("learner".into()).unwrap();
        assert_eq!(role, Role::Learner);
        assert!(serde_json::from_value::<Role>("boss".into()).is_err());
    }
}
