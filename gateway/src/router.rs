//! `LeaderRouter`: sends order requests to the Raft leader and follows it across failovers.
//!
//! It remembers the leader; a 421 names the new one (by id, or by address); a refused
//! connection, a timeout or a 5xx moves on to the next node. The same request (for a buy,
//! the same request id) is sent again until the deadline, so a failover costs the client
//! latency but never a doubled order. Definite answers (404, 409, 422, and the node's
//! "catalog unavailable", which commits nothing) come back at once.
//!
//! Requests waiting out a backoff wake as soon as any other request (or `GET /cluster`)
//! learns the new leader, so after a failover every waiting buy goes on at once instead
//! of sleeping out its own doubling backoff. An attempt that hangs (a paused or cut-off
//! leader accepts the connection but never answers) is not waited out to its timeout:
//! after a moment the router asks the other nodes whether one of them now leads, and if
//! so sends the request there. Giving up on an attempt is safe for the same reason a
//! retry is: the request id makes a second commit of the same buy impossible.
//!
//! The nodes it routes over start as the `--nodes` seeds and follow the Raft membership:
//! [`LeaderRouter::keep_membership`] asks the nodes for `/cluster/status` every second, and
//! sooner when the leader is lost or a 421 names a node it does not know, and
//! [`crate::membership::merge`] turns the answers into the new node set.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use service_core::ApiError;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use toystore_api::gateway::{ClusterView, NodeView};
use toystore_api::node::{leader_hint, ClusterStatus, NodeClient, Role};
use toystore_api::transport::TransportError;
use toystore_api::{CallError, ErrorKind, Http, Transport};

use crate::membership::{merge, Membership, NodeSet};
use crate::metrics::GatewayMetrics;

const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How long `GET /cluster` waits for each node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an attempt may go unanswered before the router looks for another leader, and
/// the least time between two such looks (one look serves every waiting request).
const PROBE_AFTER: Duration = Duration::from_millis(300);
/// How often the nodes are asked for the membership.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Least time between two membership refreshes, however often one is asked for.
const REFRESH_GAP: Duration = Duration::from_millis(200);

/// Sends order requests to the node that leads, following it across failovers.
pub struct LeaderRouter {
    /// `--nodes`: where the membership is first asked for, and the fallback.
    seeds: BTreeMap<u64, String>,
    /// The nodes routed over now; replaced whole when the membership changes.
    nodes: RwLock<Arc<NodeSet>>,
    /// Every node client's connection pool (the attempt timeout, the cluster secret, TLS).
    http: Http,
    /// Asks [`LeaderRouter::keep_membership`] for a refresh before its next round.
    refresh_soon: Notify,
    /// The node believed to lead; receivers wake when a leader becomes known.
    leader: watch::Sender<Option<u64>>,
    /// When the other nodes were last asked who leads; held while asking.
    last_probe: tokio::sync::Mutex<Option<Instant>>,
    deadline: Duration,
    metrics: GatewayMetrics,
}

impl LeaderRouter {
    /// `nodes` (the seeds) maps ids to `host:port`; each attempt times out after
    /// `attempt_timeout`.
    /// Plain HTTP without a credential; see [`LeaderRouter::with_transport`].
    pub fn new(
        nodes: &BTreeMap<u64, String>,
        attempt_timeout: Duration,
        deadline: Duration,
        metrics: GatewayMetrics,
    ) -> Self {
        Self::with_transport(
            nodes,
            &Transport::default(),
            attempt_timeout,
            deadline,
            metrics,
        )
        .expect("a plain transport always builds")
    }

    /// As [`LeaderRouter::new`], reaching the nodes through `transport` (the cluster
    /// secret, TLS).
    pub fn with_transport(
        nodes: &BTreeMap<u64, String>,
        transport: &Transport,
        attempt_timeout: Duration,
        deadline: Duration,
        metrics: GatewayMetrics,
    ) -> Result<Self, TransportError> {
        let http = transport.http(|b| b.timeout(attempt_timeout))?;
        let set = NodeSet::new(Membership::from_seeds(nodes), &http).expect("at least one node");
        Ok(LeaderRouter {
            seeds: nodes.clone(),
            nodes: RwLock::new(Arc::new(set)),
            http,
            refresh_soon: Notify::new(),
            leader: watch::Sender::new(None),
            last_probe: tokio::sync::Mutex::new(None),
            deadline,
            metrics,
        })
    }

    /// The node believed to lead, if any.
    pub fn leader(&self) -> Option<u64> {
        *self.leader.borrow()
    }

    /// The nodes routed over now.
    pub fn nodes(&self) -> Arc<NodeSet> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_leader(&self, id: Option<u64>) {
        self.leader.send_if_modified(|leader| {
            if *leader == id {
                return false;
            }
            if id.is_some() {
                self.metrics.leader_changes.inc();
                tracing::info!(leader = ?id, previous = ?*leader, "order leader changed");
            } else {
                // Losing the leader may mean the membership changed under us.
                self.refresh_soon.notify_one();
            }
            *leader = id;
            true
        });
    }

    /// Sleeps `pause`, or less if a leader becomes known meanwhile; returns that leader.
    async fn backoff(&self, pause: Duration) -> Option<u64> {
        tokio::select! {
            _ = tokio::time::sleep(pause) => None,
            id = leader_news(self.leader.subscribe(), |_| true) => Some(id),
        }
    }

    /// Resolves once a node other than `stuck` is known to lead: learned by another
    /// request, or found by asking the other nodes while the attempt at `stuck` waits.
    async fn another_leader(&self, stuck: u64) -> u64 {
        let mut news = self.leader.subscribe();
        // The leader already known counts too, not only later changes.
        news.mark_changed();
        let probed = async {
            loop {
                tokio::time::sleep(PROBE_AFTER).await;
                if let Some(id) = self.probe_for_leader(stuck).await {
                    return id;
                }
            }
        };
        tokio::select! {
            id = leader_news(news, |id| id != stuck) => id,
            id = probed => id,
        }
    }

    /// Asks every node but `stuck` for its Raft state. A node that says it leads, and
    /// that a majority of the whole cluster names as leader among the answers, becomes
    /// the router's leader (the highest term wins). The majority rule keeps a deposed
    /// leader cut off in a minority, which may still believe it leads, from drawing
    /// requests away from a leader that is merely slow. At most one probe runs at a time
    /// and one per `PROBE_AFTER`, however many requests wait.
    async fn probe_for_leader(&self, stuck: u64) -> Option<u64> {
        let mut last = self.last_probe.try_lock().ok()?;
        if last.is_some_and(|at| at.elapsed() < PROBE_AFTER) {
            return None;
        }
        *last = Some(Instant::now());
        let nodes = self.nodes();
        let asks = nodes
            .iter()
            .filter(|(id, _)| *id != stuck)
            .map(|(_, node)| async move {
                tokio::time::timeout(PROBE_AFTER, node.client.status())
                    .await
                    .ok()?
                    .ok()
            });
        let answers: Vec<_> = futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect();
        let found = answers
            .iter()
            .filter(|status| status.state == Role::Leader)
            .filter(|claim| {
                let named = answers
                    .iter()
                    .filter(|status| nodes.is_voter(status.id))
                    .filter(|status| status.leader_id == Some(claim.id))
                    .count();
                named >= nodes.majority()
            })
            .max_by_key(|claim| claim.term)
            .map(|claim| claim.id)
            .filter(|id| nodes.contains(*id));
        if found.is_some() {
            self.set_leader(found);
        }
        found
    }

    /// Which of our nodes a 421 points at. A hint at a node we do not know yet (just
    /// added) asks for a membership refresh.
    fn hinted(&self, err: &CallError) -> Option<Option<u64>> {
        let (id, addr) = leader_hint(err)?;
        let nodes = self.nodes();
        let known = id
            .filter(|id| nodes.contains(*id))
            .or_else(|| addr.and_then(|a| nodes.id_at(&a)));
        if known.is_none() && id.is_some() {
            self.refresh_soon.notify_one();
        }
        Some(known)
    }

    /// The client of node `id`, or of the first node when `id` has left the membership
    /// (its id comes back so the caller moves on from there).
    fn client_of(&self, id: u64) -> (u64, NodeClient) {
        let nodes = self.nodes();
        match nodes.get(id) {
            Some(node) => (id, node.client.clone()),
            None => {
                let first = nodes.first();
                let node = nodes.get(first).expect("first is a node");
                (first, node.client.clone())
            }
        }
    }

    /// Runs `op` against the leader until it answers definitely or the deadline passes.
    pub async fn call<T, F, Fut>(&self, op: F) -> Result<T, ApiError>
    where
        F: Fn(NodeClient) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let end = Instant::now() + self.deadline;
        let mut target = self.leader().unwrap_or_else(|| self.nodes().first());
        let mut backoff = FIRST_BACKOFF;
        let mut hint_streak = 0;
        let mut first = true;
        loop {
            if !first {
                self.metrics.retries.inc();
            }
            first = false;
            let client;
            (target, client) = self.client_of(target);
            let result = tokio::select! {
                result = tokio::time::timeout_at(end, op(client)) => result.ok(),
                leader = self.another_leader(target) => {
                    self.metrics.attempts_abandoned.inc();
                    tracing::debug!(node = target, leader, "left a waiting attempt for the new leader");
                    target = leader;
                    backoff = FIRST_BACKOFF;
                    hint_streak = 0;
                    continue;
                }
            };
            let Some(result) = result else {
                break;
            };
            let err = match result {
                Ok(value) => {
                    self.set_leader(Some(target));
                    return Ok(value);
                }
                Err(err) => err,
            };
            match self.hinted(&err) {
                Some(Some(hint)) if hint != target && hint_streak < 3 => {
                    // Straight to the named leader; a streak of hints means the nodes
                    // disagree mid-election, so back off then.
                    hint_streak += 1;
                    self.set_leader(Some(hint));
                    target = hint;
                    continue;
                }
                Some(_) => {
                    self.set_leader(None);
                    target = self.nodes().next_after(target);
                }
                None => {
                    if let Some(definite) = definite(&err) {
                        return Err(definite);
                    }
                    tracing::debug!(node = target, "order attempt failed: {err}");
                    if self.leader() == Some(target) {
                        self.set_leader(None);
                    }
                    target = self.nodes().next_after(target);
                }
            }
            hint_streak = 0;
            let pause = backoff.min(end.saturating_duration_since(Instant::now()));
            match self.backoff(pause).await {
                Some(leader) => {
                    self.metrics.leader_wakeups.inc();
                    target = leader;
                    backoff = FIRST_BACKOFF;
                }
                None => backoff = (backoff * 2).min(MAX_BACKOFF),
            }
            if Instant::now() >= end {
                break;
            }
        }
        Err(ApiError::kind(ErrorKind::NoLeader))
    }

    /// Every node's view of the cluster, asked concurrently. The answers also refresh
    /// the membership, for the next view and the next request.
    pub async fn cluster_view(&self) -> ClusterView {
        let answers = self.ask_statuses().await;
        let leader = answers
            .iter()
            .filter(|(_, _, s)| matches!(s, Some(s) if s.state == Role::Leader))
            .max_by_key(|(_, _, s)| s.as_ref().map(|s| s.term))
            .map(|(id, _, _)| *id);
        let term = answers
            .iter()
            .filter_map(|(_, _, s)| s.as_ref().map(|s| s.term))
            .max();
        if leader.is_some() {
            self.set_leader(leader);
        }
        self.learn_membership(&answers);
        ClusterView {
            leader,
            term,
            nodes: answers
                .into_iter()
                .map(|(id, addr, status)| NodeView {
                    id,
                    addr,
                    reachable: status.is_some(),
                    state: status.as_ref().map(|s| s.state),
                    last_applied: status.and_then(|s| s.last_applied),
                })
                .collect(),
        }
    }

    /// `/cluster/status` of every node routed over, at once; `None` for a node that did
    /// not answer within [`STATUS_TIMEOUT`].
    async fn ask_statuses(&self) -> Vec<(u64, String, Option<ClusterStatus>)> {
        let nodes = self.nodes();
        let asks = nodes.iter().map(|(id, node)| async move {
            let status = tokio::time::timeout(STATUS_TIMEOUT, node.client.status())
                .await
                .ok()
                .and_then(Result::ok);
            (id, node.addr.clone(), status)
        });
        futures::future::join_all(asks).await
    }

    /// Replaces the node set with what `answers` say the membership is, if that differs.
    fn learn_membership(&self, answers: &[(u64, String, Option<ClusterStatus>)]) {
        let statuses: Vec<ClusterStatus> = answers
            .iter()
            .filter_map(|(_, _, status)| status.clone())
            .collect();
        let mut nodes = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        let membership = merge(&self.seeds, nodes.membership(), &statuses);
        if &membership == nodes.membership() {
            return;
        }
        let Some(set) = NodeSet::new(membership, &self.http) else {
            return;
        };
        tracing::info!(
            nodes = ?set.membership().nodes,
            voters = ?set.membership().voters,
            previous = ?nodes.membership().nodes,
            "order nodes changed"
        );
        *nodes = Arc::new(set);
        drop(nodes);
        if self.leader().is_some_and(|id| !self.nodes().contains(id)) {
            self.set_leader(None);
        }
    }

    /// Asks the nodes for the membership every [`REFRESH_EVERY`], and sooner when a
    /// request asks for it, until `shutdown`.
    pub async fn keep_membership(&self, shutdown: CancellationToken) {
        loop {
            let answers = tokio::select! {
                _ = shutdown.cancelled() => return,
                answers = self.ask_statuses() => answers,
            };
            self.learn_membership(&answers);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(REFRESH_EVERY) => {}
                _ = self.refresh_soon.notified() => {
                    tokio::time::sleep(REFRESH_GAP).await;
                }
            }
        }
    }
}

/// Waits for the next change of the router's leader to a node that `wanted` accepts.
async fn leader_news(mut news: watch::Receiver<Option<u64>>, wanted: impl Fn(u64) -> bool) -> u64 {
    loop {
        // The sender lives in the router, so `changed` cannot fail while anyone waits.
        if news.changed().await.is_err() {
            return std::future::pending().await;
        }
        if let Some(id) = *news.borrow_and_update() {
            if wanted(id) {
                return id;
            }
        }
    }
}

/// A node's answer that must not be retried, as the gateway passes it on.
fn definite(err: &CallError) -> Option<ApiError> {
    let CallError::Status { status, detail } = err else {
        return None;
    };
    if detail.kind() == Some(ErrorKind::CatalogUnavailable) {
        return Some(ApiError::kind(ErrorKind::CatalogUnavailable));
    }
    status
        .is_client_error()
        .then(|| ApiError::new(*status, detail.message.clone()))
}
