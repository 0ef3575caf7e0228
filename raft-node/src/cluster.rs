//! The cluster domain: this node's view of Raft, and the operator's changes to it
//! (learners, voters, snapshots).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers, ServerState};
use toystore_api::node::{ClusterStatus, Role};

use crate::app::App;
use crate::error::NodeError;
use crate::typ::NodeId;

/// How long adding a learner waits for it to catch up.
const LEARNER_CATCH_UP: Duration = Duration::from_secs(20);

/// How long a snapshot request waits for the snapshot to be built: a few seconds at a
/// million orders, twice that when it must first wait out a build already under way.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(60);

/// This node's view of the cluster.
pub(crate) fn status(app: &App) -> ClusterStatus {
    let metrics = app.raft.metrics().borrow().clone();
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
        id: app.id,
        state,
        term: metrics.current_term,
        leader_id: metrics.current_leader,
        last_log_index: metrics.last_log_index,
        last_applied: metrics.last_applied.map(|l| l.index),
        committed: app.log.committed().map(|l| l.index),
        snapshot_index: metrics.snapshot.map(|l| l.index),
        voters: membership.voter_ids().collect(),
        learners: membership.learner_ids().collect(),
        nodes,
    }
}

/// Adds node `id` at `addr` as a learner, on the leader, and waits until it caught up.
pub(crate) async fn add_learner(app: &App, id: NodeId, addr: &str) -> Result<(), NodeError> {
    app.require_leader()?;
    let adding = app.raft.add_learner(id, BasicNode::new(addr), true);
    match tokio::time::timeout(LEARNER_CATCH_UP, adding).await {
        Ok(result) => result.map_err(|err| app.write_error(err))?,
        Err(_) => {
            return Err(NodeError::Unfinished(format!(
                "learner {id} added but not caught up within {LEARNER_CATCH_UP:?}"
            )))
        }
    };
    tracing::info!(id, addr, "learner added");
    Ok(())
}

/// Takes learner `id` out of the membership, on the leader: the leader stops replicating
/// to it. A voter must leave the voters first (`change_membership`).
pub(crate) async fn remove_learner(app: &App, id: NodeId) -> Result<(), NodeError> {
    app.require_leader()?;
    let is_voter = {
        let metrics = app.raft.metrics();
        let metrics = metrics.borrow();
        metrics
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == id)
    };
    if is_voter {
        return Err(NodeError::MembershipRefused(format!(
            "node {id} is a voter: take it out of the voters first"
        )));
    }
    app.raft
        .change_membership(ChangeMembers::RemoveNodes([id].into()), false)
        .await
        .map_err(|err| app.write_error(err))?;
    tracing::info!(id, "learner removed");
    Ok(())
}

/// Makes `voters` the voters, on the leader (every one must be a node already).
pub(crate) async fn change_membership(
    app: &App,
    voters: BTreeSet<NodeId>,
) -> Result<(), NodeError> {
    app.require_leader()?;
    app.raft
        .change_membership(voters.clone(), false)
        .await
        .map_err(|err| app.write_error(err))?;
    tracing::info!(voters = ?voters, "membership changed");
    Ok(())
}

/// Builds a snapshot now (the log behind it is purged) and returns once it covers
/// everything applied when asked.
pub(crate) async fn snapshot(app: &App) -> Result<(), NodeError> {
    let Some(target) = app.raft.metrics().borrow().last_applied.map(|l| l.index) else {
        return Ok(());
    };
    crate::snapshots::build_covering(&app.raft, target, SNAPSHOT_WAIT)
        .await
        .map_err(|e| NodeError::Unfinished(format!("snapshot not built: {e}")))?;
    let index = app.raft.metrics().borrow().snapshot.map(|s| s.index);
    // openraft postpones the purge while a replication task reads those entries.
    let purged = app
        .raft
        .wait(Some(SNAPSHOT_WAIT))
        .metrics(|m| m.purged.map(|p| p.index) >= index, "log purged")
        .await;
    if let Err(err) = purged {
        tracing::warn!("snapshot at {index:?} built, log not purged yet: {err}");
    }
    Ok(())
}
