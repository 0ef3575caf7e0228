//! [`App`]: the state a node's handlers, domain modules and background tasks share, and
//! the two things all of them do with Raft: ask who leads, and commit a command.

use std::sync::Arc;
use std::time::Instant;

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::BasicNode;
use prometheus::Histogram;
use toystore_api::catalog::CatalogClient;

use crate::config::Config;
use crate::confirm::Confirmer;
use crate::error::NodeError;
use crate::propose::Proposer;
use crate::raft_metrics::BuyStages;
use crate::reserve::Reserver;
use crate::store::{LogStore, StateMachineStore};
use crate::typ::{Command, CommandResult, NodeId, Raft};

/// Everything a request or background task needs; shared behind an `Arc`.
pub(crate) struct App {
    pub(crate) id: NodeId,
    pub(crate) raft: Raft,
    pub(crate) log: LogStore,
    pub(crate) state: StateMachineStore,
    pub(crate) catalog: CatalogClient,
    /// Batches the buys' reservations into catalog calls.
    pub(crate) reserver: Reserver,
    /// Batches commands into Raft entries.
    pub(crate) proposer: Proposer,
    /// Confirms reservations of committed orders in the background.
    pub(crate) confirmer: Confirmer,
    pub(crate) config: Config,
    /// `raft_commit_latency_seconds`.
    pub(crate) commit_latency: Histogram,
    /// `raft_node_buy_stage_seconds`.
    pub(crate) buy_stages: BuyStages,
}

pub(crate) type SharedApp = Arc<App>;

impl App {
    /// The leader this node knows of.
    pub(crate) fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// `NotLeader` unless this node currently believes it leads.
    pub(crate) fn require_leader(&self) -> Result<(), NodeError> {
        match self.leader() {
            Some(id) if id == self.id => Ok(()),
            other => Err(self.not_leader(other)),
        }
    }

    /// `NotLeader` naming `leader_id` and its address: as the membership advertises it,
    /// else as `--peers` gives it.
    pub(crate) fn not_leader(&self, leader_id: Option<NodeId>) -> NodeError {
        let leader_addr = leader_id.and_then(|id| {
            let metrics = self.raft.metrics();
            let metrics = metrics.borrow();
            metrics
                .membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.addr.clone())
                .or_else(|| self.config.peers.0.get(&id).cloned())
        });
        NodeError::NotLeader {
            leader_id,
            leader_addr,
        }
    }

    /// Commits `command` through Raft (a majority has flushed it, and this node applied
    /// it), batched with whatever else is proposed meanwhile, timing it for
    /// `raft_commit_latency_seconds`.
    pub(crate) async fn commit(&self, command: Command) -> Result<CommandResult, NodeError> {
        let started = Instant::now();
        let written = self.proposer.propose(command).await;
        self.commit_latency.observe(started.elapsed().as_secs_f64());
        written.map_err(|err| self.write_error(err))
    }

    /// A failed client write (order, tombstone, membership change).
    pub(crate) fn write_error(
        &self,
        err: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
    ) -> NodeError {
        match err {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                self.not_leader(f.leader_id)
            }
            RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
                NodeError::MembershipRefused(e.to_string())
            }
            RaftError::Fatal(e) => NodeError::RaftStopped(e.to_string()),
        }
    }

    /// A failed leadership check before a linearizable read.
    pub(crate) fn check_error(
        &self,
        err: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>,
    ) -> NodeError {
        match err {
            RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => {
                self.not_leader(f.leader_id)
            }
            RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e)) => {
                NodeError::NoQuorum(e.to_string())
            }
            RaftError::Fatal(e) => NodeError::RaftStopped(e.to_string()),
        }
    }
}
