//! Reading a cluster's Raft state over HTTP: who leads, whether every replica holds the
//! same orders (digests), whether every replica applied the same log. Free functions take
//! `(id, host:port)` lists, so a harness measuring a cluster it did not start can use
//! them too; [`Cluster`] has the same questions about its running nodes.

use std::time::Duration;

use anyhow::bail;
use toystore_api::node::{Digest, NodeClient, Role};
use toystore_api::{Http, Transport};

use crate::cluster::Cluster;
use crate::wait::wait_until_async;

/// The first node that says it leads, asking each with `timeout`.
pub async fn find_leader(
    nodes: &[(u64, String)],
    transport: &Transport,
    timeout: Duration,
) -> Option<u64> {
    for (id, client) in clients(nodes, transport, timeout) {
        if matches!(client.status().await, Ok(s) if s.state == Role::Leader) {
            return Some(id);
        }
    }
    None
}

/// Waits until one of `nodes` leads and every one of them names it as leader.
pub async fn agreed_leader(
    nodes: &[(u64, String)],
    transport: &Transport,
    deadline: Duration,
) -> anyhow::Result<u64> {
    let clients = clients(nodes, transport, Duration::from_secs(10));
    wait_until_async(
        "a leader every running node agrees on",
        deadline,
        || async {
            let mut leader = None;
            let mut named = Vec::new();
            for (id, client) in &clients {
                let status = client.status().await.ok()?;
                if status.state == Role::Leader {
                    leader = Some(*id);
                }
                named.push(status.leader_id?);
            }
            let leader = leader?;
            named.iter().all(|n| *n == leader).then_some(leader)
        },
    )
    .await
}

/// Polls every node's digest until all answer and are equal; returns them, or fails after
/// `deadline` (checking at least once).
pub async fn converged_digests(
    nodes: &[(u64, String)],
    transport: &Transport,
    deadline: Duration,
) -> anyhow::Result<Vec<(u64, Digest)>> {
    let clients = clients(nodes, transport, Duration::from_secs(2));
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let mut digests = Vec::new();
        for (id, client) in &clients {
            if let Ok(digest) = client.digest().await {
                digests.push((*id, digest));
            }
        }
        let equal = digests.len() == nodes.len() && digests.windows(2).all(|w| w[0].1 == w[1].1);
        if equal {
            return Ok(digests);
        }
        if tokio::time::Instant::now() >= end {
            bail!("replicas did not converge within {deadline:?}: {digests:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every node reports the same `last_applied` log index.
pub async fn caught_up(
    nodes: &[(u64, String)],
    transport: &Transport,
    deadline: Duration,
) -> anyhow::Result<()> {
    let clients = clients(nodes, transport, Duration::from_secs(10));
    wait_until_async("replicas to apply the same log", deadline, || async {
        let mut applied = Vec::new();
        for (_, client) in &clients {
            applied.push(client.status().await.ok()?.last_applied);
        }
        applied.windows(2).all(|w| w[0] == w[1]).then_some(())
    })
    .await
}

/// One client per node, through `transport`, each call bounded by `timeout`.
fn clients(
    nodes: &[(u64, String)],
    transport: &Transport,
    timeout: Duration,
) -> Vec<(u64, NodeClient)> {
    // A transport that does not build (unreadable TLS files) leaves plain clients, whose
    // calls then fail like an unreachable node's.
    let http: Http = transport
        .http(|b| b.timeout(timeout))
        .unwrap_or_else(|_| reqwest_plain(timeout));
    nodes
        .iter()
        .map(|(id, addr)| (*id, NodeClient::new(addr, http.clone())))
        .collect()
}

fn reqwest_plain(timeout: Duration) -> Http {
    Transport::default()
        .http(|b| b.timeout(timeout))
        .expect("a plain transport always builds")
}

/// How long [`Cluster::leader`] gives each node to answer.
const LEADER_LOOKUP_TIMEOUT: Duration = Duration::from_millis(500);

impl Cluster {
    /// The node that says it leads, asking every node (running or not).
    pub async fn leader(&self) -> Option<u64> {
        find_leader(&self.node_addrs(), &self.transport(), LEADER_LOOKUP_TIMEOUT).await
    }

    /// Waits until some node says it leads.
    pub async fn wait_for_leader(&self, deadline: Duration) -> anyhow::Result<u64> {
        wait_until_async("a leader", deadline, || self.leader()).await
    }

    /// Waits until a running node leads and every running node names it.
    pub async fn agreed_leader(&mut self, deadline: Duration) -> anyhow::Result<u64> {
        agreed_leader(&self.running_addrs(), &self.transport(), deadline).await
    }

    /// Waits until every running node holds the same orders; returns their digest.
    pub async fn converged(&mut self, deadline: Duration) -> anyhow::Result<Digest> {
        let digests = converged_digests(&self.running_addrs(), &self.transport(), deadline).await?;
        let (_, digest) = digests
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no running node to converge"))?;
        Ok(digest)
    }

    /// Waits until every running node has applied the same log index.
    pub async fn caught_up(&mut self, deadline: Duration) -> anyhow::Result<()> {
        caught_up(&self.running_addrs(), &self.transport(), deadline).await
    }

    fn running_addrs(&mut self) -> Vec<(u64, String)> {
        self.running_nodes()
            .into_iter()
            .map(|id| (id, self.node_addr(id)))
            .collect()
    }
}
