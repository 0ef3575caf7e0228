//! The small store each size is measured against: a second cluster, started fresh for each
//! size with the bench cluster's options and filled to the first size, whose windows take
//! turns with the grown cluster's. Both then share the same minutes of this machine (its
//! other tenants, its clock, its heat), so their ratio holds what the data costs and little
//! of the machine's drift, which a first row measured many minutes earlier does not.

use std::time::Duration;

use anyhow::{anyhow, Context};
use testkit::observe::find_leader;
use testkit::{Cluster, ClusterOptions};
use toystore_api::Transport;

use super::plan::{fill, Plan};
use super::windows::Side;
use crate::bench::etcd::Targets;
use crate::clients::{gateway_client, wait_ready};
use crate::cluster::ClusterControl;

/// A running small cluster; dropping it stops its processes and removes its data.
pub(super) struct Reference {
    cluster: Cluster,
    public: Transport,
    targets: Targets,
    /// Orders it held when filled, by its leader's count.
    pub orders: u64,
    /// Its leader when filled.
    pub leader: u64,
    // Dropped after `cluster`, whose processes use it.
    _dir: tempfile::TempDir,
}

impl Reference {
    /// Starts the cluster and fills it with `size` orders.
    pub(super) async fn start(
        options: ClusterOptions,
        size: u64,
        plan: &Plan,
    ) -> anyhow::Result<Reference> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let cluster = tokio::task::block_in_place(|| Cluster::start_in(dir.path(), options))
            .context("start the small reference cluster")?;
        let public = cluster.public_transport()?;
        let gateway = gateway_client(&cluster.gateway_addr(), &public)?;
        wait_ready(&gateway).await?;
        let targets = Targets {
            gateway: gateway.base_url().to_string(),
            etcd: Vec::new(),
            orders: 0,
        };
        fill(plan, &public, &targets, 0, size, None).await?;
        let leader = find_leader(
            &cluster.node_addrs(),
            &cluster.transport(),
            Duration::from_secs(10),
        )
        .await
        .ok_or_else(|| anyhow!("the reference cluster has no leader"))?;
        let orders = cluster.node_client(leader).digest().await?.orders;
        Ok(Reference {
            cluster,
            public,
            targets,
            orders,
            leader,
            _dir: dir,
        })
    }

    /// The cluster as one side of alternating windows.
    pub(super) fn side(&mut self) -> Side<'_> {
        Side {
            pids: ClusterControl::pids(&mut self.cluster),
            public: &self.public,
            targets: &self.targets,
        }
    }

    /// Stops every process (SIGTERM, then SIGKILL after a grace) and removes the data.
    pub(super) fn stop(mut self) {
        tokio::task::block_in_place(|| self.cluster.stop());
    }
}
