//! A raft node's wire (contract section 5): orders, cluster state and membership changes,
//! and [`NodeClient`], which the gateway and the harness call a node with.

mod client;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use client::{leader_hint, NodeClient, ReadConsistency};

/// `POST /orders` on a node. `request_id` is the client's idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderRequest {
    pub request_id: String,
    pub name: String,
    pub quantity: u64,
}

/// The answer to a committed buy.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderCreated {
    pub order_number: u64,
}

/// A committed order as a node stores it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    pub number: u64,
    pub name: String,
    pub quantity: u64,
    pub request_id: String,
}

/// `GET /orders?after=<n>&limit=<k>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrdersQuery {
    #[serde(default)]
    pub after: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// The answer of `GET /orders?after=..`: a page of the local state machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrdersPage {
    pub orders: Vec<Order>,
    /// The log index the local state machine has applied (null before the first entry).
    pub last_applied: Option<u64>,
}

/// Largest `limit` of a page.
pub const MAX_PAGE: u64 = 1000;

/// A node's part in Raft, as `/cluster/status` names it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

/// `GET /cluster/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterStatus {
    pub id: u64,
    pub state: Role,
    pub term: u64,
    pub leader_id: Option<u64>,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub committed: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Node id (as a string, JSON keys being strings) to address.
    pub nodes: BTreeMap<String, String>,
}

/// `GET /cluster/digest`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Digest {
    pub orders: u64,
    pub last_order: Option<u64>,
    /// SHA-256, hex, over `number \t name \t quantity \n` of every order in number order.
    pub digest: String,
}

/// `POST /cluster/learners`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddLearner {
    pub id: u64,
    pub addr: String,
}

/// `POST /cluster/membership`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeMembership {
    pub voters: Vec<u64>,
}

/// Extra error fields of a 421 `not the leader`: the leader hint (null when unknown).
pub const LEADER_ID_FIELD: &str = "leader_id";
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
