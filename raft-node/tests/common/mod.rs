//! The raft-node tests' cluster is `testkit`'s, without a gateway; here is how long a test
//! waits, and the few questions every test asks of it.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

pub(crate) use testkit::{Cluster, ClusterOptions, Member};
use toystore_api::node::{Digest, NodeClient, OrderCreated, OrderRequest};
use toystore_api::CallError;

/// How long a test waits for a leader, a catch-up or a convergence.
pub(crate) const SETTLE: Duration = Duration::from_secs(30);

/// A catalog and `n` nodes (no gateway); `node_args` go to every node.
pub(crate) fn start(n: u64, node_args: &[&str]) -> Cluster {
    Cluster::start(options(n, node_args)).expect("cluster starts")
}

pub(crate) fn options(n: u64, node_args: &[&str]) -> ClusterOptions {
    ClusterOptions {
        nodes: n,
        gateway: false,
        node_args: node_args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// The leader every running node agrees on.
pub(crate) async fn leader_of(cluster: &mut Cluster) -> u64 {
    cluster.agreed_leader(SETTLE).await.expect("leader elected")
}

/// The digest every running node holds, once they agree.
pub(crate) async fn converged(cluster: &mut Cluster) -> Digest {
    cluster.converged(SETTLE).await.expect("replicas converge")
}

/// A buy through `client`.
pub(crate) async fn buy(
    client: &NodeClient,
    request_id: &str,
    name: &str,
    quantity: u64,
) -> Result<OrderCreated, CallError> {
    let request = OrderRequest {
        request_id: request_id.to_string(),
        name: name.to_string(),
        quantity,
    };
    client.create_order(&request).await
}
