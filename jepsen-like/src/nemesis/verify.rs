//! The check after every heal: each process of the cluster runs, the running nodes agree
//! on a leader, and the gateway answers `/health` (catalog reachable, a leader known).
//! The next fault starts only on a cluster that passed it.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use testkit::{Cluster, Member};
use toystore_api::gateway::GatewayClient;

/// How long a healed cluster gets to look healthy again.
const HEALTHY_DEADLINE: Duration = Duration::from_secs(30);

pub(crate) async fn healthy(cluster: &mut Cluster, gateway: &GatewayClient) -> anyhow::Result<()> {
    let mut members = vec![Member::Catalog, Member::Gateway];
    members.extend(cluster.node_ids().into_iter().map(Member::Node));
    for member in members {
        ensure!(cluster.is_running(member), "{member} is not running");
    }
    cluster
        .agreed_leader(HEALTHY_DEADLINE)
        .await
        .context("after healing")?;
    testkit::wait_until_async("the gateway's /health", HEALTHY_DEADLINE, || async {
        gateway.health().await.ok()
    })
    .await
}
