//! Raft's RPCs between nodes over HTTP: `POST /raft/{append,vote,snapshot}` with bincode
//! bodies. The answer is a bincode `Result<response, RaftError>`; transport failures become
//! `Unreachable` (openraft backs off) or `Network` (openraft retries).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use prometheus::Histogram;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::typ::{NodeId, TypeConfig};

/// How long replication to an unreachable peer pauses before its first retry: short, so a
/// restarted node is caught up quickly.
const UNREACHABLE_BACKOFF: Duration = Duration::from_millis(200);
/// The longest pause: each retry to a peer that needs a snapshot reads the whole snapshot
/// first (openraft sends it from memory), 250 MB at 2.4M orders, so a constant 200 ms to a
/// dead node cost the leader a fifth of a core. Doubling to this keeps that under 2% and a
/// returning node waits at most this long.
const UNREACHABLE_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The pauses between retries to an unreachable peer: doubling from
/// [`UNREACHABLE_BACKOFF`] up to [`UNREACHABLE_BACKOFF_MAX`]. Openraft starts a new one
/// after any successful RPC.
fn unreachable_backoff() -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(UNREACHABLE_BACKOFF), |pause| {
        Some((*pause * 2).min(UNREACHABLE_BACKOFF_MAX))
    })
}

/// Paths of the Raft RPCs, shared with the server side.
pub(crate) const APPEND_PATH: &str = "/raft/append";
pub(crate) const VOTE_PATH: &str = "/raft/vote";
pub(crate) const SNAPSHOT_PATH: &str = "/raft/snapshot";

/// Makes one [`PeerClient`] per target; all share one connection pool.
#[derive(Clone)]
pub(crate) struct HttpNetwork {
    http: reqwest::Client,
    /// Raised when a peer refuses this node's vote request because it is not a voter.
    not_a_voter: Arc<tokio::sync::Notify>,
    scheme: &'static str,
    /// `--peers`: dialled first, so a harness proxy on a link is honoured.
    peers: Arc<BTreeMap<NodeId, String>>,
    /// `raft_node_append_rpc_seconds`: round trips of appends that carry entries.
    append_seconds: Histogram,
}

impl HttpNetwork {
    /// Peers are reached through `transport`: with the cluster secret, over TLS if set.
    pub(crate) fn new(
        peers: BTreeMap<NodeId, String>,
        transport: &toystore_api::Transport,
        append_seconds: Histogram,
    ) -> anyhow::Result<Self> {
        let http = transport.builder()?.tcp_nodelay(true).build()?;
        Ok(HttpNetwork {
            http,
            not_a_voter: Arc::new(tokio::sync::Notify::new()),
            scheme: transport.scheme(),
            peers: Arc::new(peers),
            append_seconds,
        })
    }
}

impl HttpNetwork {
    /// Notified whenever a peer answers a vote request with "not a voter": this node was
    /// removed from the cluster without learning it.
    pub(crate) fn not_a_voter(&self) -> Arc<tokio::sync::Notify> {
        self.not_a_voter.clone()
    }
}

/// The message a peer refuses a non-voter's vote request with.
pub(crate) const NOT_A_VOTER: &str = "candidate is not a voter of this cluster";

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        let addr = self
            .peers
            .get(&target)
            .cloned()
            .unwrap_or_else(|| node.addr.clone());
        PeerClient {
            http: self.http.clone(),
            not_a_voter: self.not_a_voter.clone(),
            target,
            base: format!("{}://{addr}", self.scheme),
            append_seconds: self.append_seconds.clone(),
        }
    }
}

/// Sends RPCs to one peer.
pub(crate) struct PeerClient {
    http: reqwest::Client,
    not_a_voter: Arc<tokio::sync::Notify>,
    target: NodeId,
    base: String,
    append_seconds: Histogram,
}

/// A transport failure, before any Raft answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Transport(String);

impl PeerClient {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = bincode::serialize(request)
            .map_err(|e| RPCError::Network(NetworkError::new(&Transport(e.to_string()))))?;
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(option.hard_ttl())
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let err = Transport(e.to_string());
                // Refused: the peer is down, back off. A timeout (a slow disk flush, a
                // paused peer) is retried at once, without the backoff.
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&err))
                } else {
                    RPCError::Network(NetworkError::new(&err))
                }
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&Transport(e.to_string()))))?;
        if !status.is_success() {
            // A node that is shutting down or not a Raft node yet: try again later.
            let text = String::from_utf8_lossy(&bytes)
                .chars()
                .take(200)
                .collect::<String>();
            if status == reqwest::StatusCode::FORBIDDEN && text.contains(NOT_A_VOTER) {
                self.not_a_voter.notify_one();
            }
            return Err(RPCError::Unreachable(Unreachable::new(&Transport(
                format!("{status}: {text}"),
            ))));
        }
        let answer: Result<Resp, RaftError<NodeId, E>> = bincode::deserialize(&bytes)
            .map_err(|e| RPCError::Network(NetworkError::new(&Transport(e.to_string()))))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    fn backoff(&self) -> Backoff {
        Backoff::new(unreachable_backoff())
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        // Heartbeats carry nothing to flush; timing them would hide replication's cost.
        let timer = (!rpc.entries.is_empty()).then(|| self.append_seconds.start_timer());
        let answer = self.call(APPEND_PATH, &rpc, &option).await;
        if let (Some(timer), Ok(_)) = (timer, &answer) {
            timer.observe_duration();
        }
        answer
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(SNAPSHOT_PATH, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(VOTE_PATH, &rpc, &option).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_to_an_unreachable_peer_back_off_by_doubling_up_to_the_cap() {
        let pauses: Vec<Duration> = unreachable_backoff().take(8).collect();
        assert_eq!(pauses[0], UNREACHABLE_BACKOFF);
        assert_eq!(pauses[1], UNREACHABLE_BACKOFF * 2);
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]));
        assert!(pauses.iter().all(|p| *p <= UNREACHABLE_BACKOFF_MAX));
        assert_eq!(pauses[7], UNREACHABLE_BACKOFF_MAX);
        // Endless, as openraft expects: it never runs out of pauses.
        assert_eq!(
            unreachable_backoff().nth(1_000),
            Some(UNREACHABLE_BACKOFF_MAX)
        );
    }
}
