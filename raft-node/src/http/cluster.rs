//! `/cluster/*` and `/health`: status, digest, membership changes, snapshots.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::extract::State;
use openraft::{BasicNode, ServerState};
use serde_json::{json, Value};
use service_core::{ApiError, Data, JsonBody};
use toystore_api::ErrorKind;

use super::errors;
use crate::node::{Node, SharedNode};
use toystore_api::node::{AddLearner, ChangeMembership, ClusterStatus, Digest, Role};

/// How long `POST /cluster/learners` waits for the learner to catch up.
const LEARNER_CATCH_UP: Duration = Duration::from_secs(20);

/// How long `POST /cluster/snapshot` waits for the snapshot to be built.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(10);

/// This node's view of the cluster.
pub fn cluster_status(node: &Node) -> ClusterStatus {
    let metrics = node.raft.metrics().borrow().clone();
    let state = match metrics.state {
        ServerState::Leader => Role::Leader,
        ServerState::Follower => Role::Follower,
        ServerState::Candidate => Role::Candidate,
        ServerState::Learner => Role::Learner,
        ServerState::Shutdown => Role::Shutdown,
    };
    let membership = metrics.membership_config.membership();
    let nodes: BTreeMap<String, String> = membership
        .nodes()
        .map(|(id, n)| (id.to_string(), n.addr.clone()))
        .collect();
    ClusterStatus {
        id: node.id,
        state,
        term: metrics.current_term,
        leader_id: metrics.current_leader,
        last_log_index: metrics.last_log_index,
        last_applied: metrics.last_applied.map(|l| l.index),
        committed: node.log.committed().map(|l| l.index),
        snapshot_index: metrics.snapshot.map(|l| l.index),
        voters: membership.voter_ids().collect(),
        learners: membership.learner_ids().collect(),
        nodes,
    }
}

/// `GET /cluster/status`.
pub async fn status(State(node): State<SharedNode>) -> Data<ClusterStatus> {
    Data::new(cluster_status(&node))
}

/// `GET /cluster/digest`.
pub async fn digest(State(node): State<SharedNode>) -> Result<Data<Digest>, ApiError> {
    node.state.digest().map(Data::new).map_err(errors::storage)
}

/// `POST /cluster/learners`: adds a learner and waits until it has caught up.
pub async fn add_learner(
    State(node): State<SharedNode>,
    JsonBody(body): JsonBody<AddLearner>,
) -> Result<Data<ClusterStatus>, ApiError> {
    if body.id == 0 || !body.addr.contains(':') {
        return Err(ApiError::bad_request(
            "learner needs a positive id and a host:port address",
        ));
    }
    errors::require_leader(&node)?;
    let adding = node
        .raft
        .add_learner(body.id, BasicNode::new(&body.addr), true);
    match tokio::time::timeout(LEARNER_CATCH_UP, adding).await {
        Ok(result) => {
            result.map_err(|err| errors::client_write(&node, err))?;
        }
        Err(_) => {
            return Err(ApiError::unavailable(format!(
                "learner {} added but not caught up within {LEARNER_CATCH_UP:?}",
                body.id
            )))
        }
    }
    tracing::info!(id = body.id, addr = %body.addr, "learner added");
    Ok(Data::new(cluster_status(&node)))
}

/// `POST /cluster/membership`: sets the voters (every one must be a node already).
pub async fn change_membership(
    State(node): State<SharedNode>,
    JsonBody(body): JsonBody<ChangeMembership>,
) -> Result<Data<ClusterStatus>, ApiError> {
    let voters: BTreeSet<u64> = body.voters.iter().copied().collect();
    if voters.is_empty() || voters.contains(&0) {
        return Err(ApiError::bad_request(
            "voters must be a non-empty list of positive ids",
        ));
    }
    errors::require_leader(&node)?;
    node.raft
        .change_membership(voters.clone(), false)
        .await
        .map_err(|err| errors::client_write(&node, err))?;
    tracing::info!(voters = ?voters, "membership changed");
    Ok(Data::new(cluster_status(&node)))
}

/// `POST /cluster/snapshot`: builds a snapshot now (the log behind it is purged) and
/// answers once it covers everything applied when asked.
pub async fn snapshot(State(node): State<SharedNode>) -> Result<Data<ClusterStatus>, ApiError> {
    let target = node.raft.metrics().borrow().last_applied.map(|l| l.index);
    node.raft
        .trigger()
        .snapshot()
        .await
        .map_err(|e| ApiError::unavailable(format!("raft stopped: {e}")))?;
    if let Some(target) = target {
        let built = node
            .raft
            .wait(Some(SNAPSHOT_WAIT))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= target),
                "snapshot built",
            )
            .await
            .map_err(|e| ApiError::unavailable(format!("snapshot not built: {e}")))?;
        let index = built.snapshot.map(|s| s.index);
        // openraft postpones the purge while a replication task reads those entries.
        let purged = node
            .raft
            .wait(Some(SNAPSHOT_WAIT))
            .metrics(|m| m.purged.map(|p| p.index) >= index, "log purged")
            .await;
        if let Err(err) = purged {
            tracing::warn!("snapshot at {index:?} built, log not purged yet: {err}");
        }
    }
    Ok(Data::new(cluster_status(&node)))
}

/// `GET /health`: 200 `{"status":"ok"}` (the contract's body, not an envelope) while a
/// leader is known, else 503 `no leader`.
pub async fn health(State(node): State<SharedNode>) -> Result<axum::Json<Value>, ApiError> {
    let leader = node.raft.metrics().borrow().current_leader;
    match leader {
        Some(leader) => Ok(axum::Json(json!({"status": "ok", "leader": leader}))),
        None => Err(ApiError::kind(ErrorKind::NoLeader)),
    }
}
