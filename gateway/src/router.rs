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

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use service_core::ApiError;
use tokio::sync::watch;
use tokio::time::Instant;
use toystore_api::gateway::{ClusterView, NodeView};
use toystore_api::node::{leader_hint, NodeClient, Role};
use toystore_api::transport::TransportError;
use toystore_api::{CallError, ErrorKind, Transport};

use crate::metrics::GatewayMetrics;

const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How long `GET /cluster` waits for each node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an attempt may go unanswered before the router looks for another leader, and
/// the least time between two such looks (one look serves every waiting request).
const PROBE_AFTER: Duration = Duration::from_millis(300);

/// Sends order requests to the node that leads, following it across failovers.
pub struct LeaderRouter {
    nodes: BTreeMap<u64, (String, NodeClient)>,
    ids_by_addr: HashMap<String, u64>,
    /// The node believed to lead; receivers wake when a leader becomes known.
    leader: watch::Sender<Option<u64>>,
    /// When the other nodes were last asked who leads; held while asking.
    last_probe: tokio::sync::Mutex<Option<Instant>>,
    deadline: Duration,
    metrics: GatewayMetrics,
}

impl LeaderRouter {
    /// `nodes` maps ids to `host:port`; each attempt times out after `attempt_timeout`.
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
        Ok(LeaderRouter {
            nodes: nodes
                .iter()
                .map(|(id, addr)| (*id, (addr.clone(), NodeClient::new(addr, http.clone()))))
                .collect(),
            ids_by_addr: nodes.iter().map(|(id, addr)| (addr.clone(), *id)).collect(),
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

    fn set_leader(&self, id: Option<u64>) {
        self.leader.send_if_modified(|leader| {
            if *leader == id {
                return false;
            }
            if id.is_some() {
                self.metrics.leader_changes.inc();
                tracing::info!(leader = ?id, previous = ?*leader, "order leader changed");
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
        let asks =
            self.nodes
                .iter()
                .filter(|(id, _)| **id != stuck)
                .map(|(_, (_, client))| async move {
                    tokio::time::timeout(PROBE_AFTER, client.status())
                        .await
                        .ok()?
                        .ok()
                });
        let answers: Vec<_> = futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect();
        let majority = self.nodes.len() / 2 + 1;
        let found = answers
            .iter()
            .filter(|status| status.state == Role::Leader)
            .filter(|claim| {
                let named = answers
                    .iter()
                    .filter(|status| status.leader_id == Some(claim.id))
                    .count();
                named >= majority
            })
            .max_by_key(|claim| claim.term)
            .map(|claim| claim.id)
            .filter(|id| self.nodes.contains_key(id));
        if found.is_some() {
            self.set_leader(found);
        }
        found
    }

    fn next_after(&self, id: u64) -> u64 {
        self.nodes
            .range(id + 1..)
            .next()
            .or_else(|| self.nodes.iter().next())
            .map(|(id, _)| *id)
            .expect("at least one node")
    }

    /// Which of our nodes a 421 points at.
    fn hinted(&self, err: &CallError) -> Option<Option<u64>> {
        let (id, addr) = leader_hint(err)?;
        Some(
            id.filter(|id| self.nodes.contains_key(id))
                .or_else(|| addr.and_then(|a| self.ids_by_addr.get(&a).copied())),
        )
    }

    /// Runs `op` against the leader until it answers definitely or the deadline passes.
    pub async fn call<T, F, Fut>(&self, op: F) -> Result<T, ApiError>
    where
        F: Fn(NodeClient) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let end = Instant::now() + self.deadline;
        let mut target = self
            .leader()
            .unwrap_or_else(|| *self.nodes.keys().next().expect("at least one node"));
        let mut backoff = FIRST_BACKOFF;
        let mut hint_streak = 0;
        let mut first = true;
        loop {
            if !first {
                self.metrics.retries.inc();
            }
            first = false;
            let client = self.nodes[&target].1.clone();
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
                    target = self.next_after(target);
                }
                None => {
                    if let Some(definite) = definite(&err) {
                        return Err(definite);
                    }
                    tracing::debug!(node = target, "order attempt failed: {err}");
                    if self.leader() == Some(target) {
                        self.set_leader(None);
                    }
                    target = self.next_after(target);
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

    /// Every node's view of the cluster, asked concurrently.
    pub async fn cluster_view(&self) -> ClusterView {
        let asks = self.nodes.iter().map(|(id, (addr, client))| async move {
            let status = tokio::time::timeout(STATUS_TIMEOUT, client.status())
                .await
                .ok()
                .and_then(Result::ok);
            (*id, addr.clone(), status)
        });
        let answers = futures::future::join_all(asks).await;
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
