//! What every fault works on: the cluster, the proxies on its links, the fault files, the
//! seeded random choices, and the admin calls that must reach the current leader.

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use rand::rngs::StdRng;
use rand::Rng;
use testkit::Cluster;
use toystore_api::node::{ClusterStatus, NodeClient};
use toystore_api::CallError;

use crate::nemesis::setup::Setup;
use crate::proxy::ProxyMesh;

/// How long an admin call keeps looking for a leader that accepts it.
const ADMIN_DEADLINE: Duration = Duration::from_secs(30);

pub(crate) struct Context<'a> {
    pub(crate) cluster: &'a mut Cluster,
    pub(crate) mesh: &'a ProxyMesh,
    pub(crate) setup: &'a Setup,
    pub(crate) rng: StdRng,
    /// The highest node id ever started: a node added later takes the next one, never
    /// the id of a node that was removed.
    pub(crate) highest_id: u64,
}

impl Context<'_> {
    /// One of `items`, drawn from the seeded generator.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    /// A node of the cluster at random.
    pub(crate) fn random_node(&mut self) -> u64 {
        let nodes = self.cluster.node_ids();
        self.pick(&nodes)
    }

    /// The leader, or a random node when none is known.
    pub(crate) async fn leader_or_random(&mut self) -> u64 {
        match self.cluster.leader().await {
            Some(leader) => leader,
            None => self.random_node(),
        }
    }

    /// The nodes both in the cluster now and on the proxy mesh (a node added once the
    /// mesh's spare ports ran out dials and is dialled directly).
    pub(crate) fn meshed_nodes(&self) -> Vec<u64> {
        let nodes = self.cluster.node_ids();
        nodes
            .into_iter()
            .filter(|id| self.mesh.port(*id).is_some())
            .collect()
    }

    /// The status of node `id` as the leader's admin sees it.
    pub(crate) async fn status(&self, id: u64) -> anyhow::Result<ClusterStatus> {
        let status = self.cluster.node_client(id).status().await;
        status.with_context(|| format!("status of node-{id}"))
    }

    /// Runs `call` on the current leader until it answers, asking for the leader again
    /// after each failure (leadership may move under load), for up to 30 s.
    pub(crate) async fn on_leader<T, F, Fut>(&self, what: &str, call: F) -> anyhow::Result<T>
    where
        F: Fn(NodeClient) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let end = tokio::time::Instant::now() + ADMIN_DEADLINE;
        let mut last = anyhow!("no leader");
        while tokio::time::Instant::now() < end {
            if let Some(leader) = self.cluster.leader().await {
                match call(self.cluster.node_client(leader)).await {
                    Ok(value) => return Ok(value),
                    Err(err) => last = anyhow!("node-{leader}: {err}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(last.context(format!("{what} within {ADMIN_DEADLINE:?}")))
    }
}

/// Process starts wait for a log line; keep them off the async workers' hot path.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
