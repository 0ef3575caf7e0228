//! How cost grows with the data. The bench fills its cluster with orders up to each size
//! (10k, 100k and 1M; quick: 500 and 1,500) and at each measures: buys/s at 64
//! connections, in windows taking turns with a small store's ([`reference`]: a second
//! cluster filled to the first size, so both are measured in the same minutes), and the
//! CPU each service spent per buy; every node's memory (VmRSS) and store on disk; how long
//! the leader takes to build a snapshot and purge its log (`POST /cluster/snapshot`); how
//! long a follower that was SIGKILLed takes, from its restart, to hold everything the
//! leader had applied; and how long a fresh node takes to do the same (it starts empty
//! and, the log behind the snapshot being purged, installs the snapshot, then replays what
//! followed); last, buys again, as the store serves right after all that. Writes
//! `growth.md` and `growth.png` ([`report`]).

mod plan;
mod reference;
mod report;
mod windows;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use reqwest::StatusCode;
use testkit::observe::find_leader;
use toystore_api::node::NodeClient;
use toystore_api::{Http, Transport};

use super::context::BenchContext;
use super::etcd::{rss_kib, Targets};
use crate::clients::progress;
use crate::cluster::ClusterControl;
use plan::{fill, Plan};
use reference::Reference;
use report::Row;
use windows::{alternate, Buys, Side};

/// How long a catch-up or an admin call may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(600);

/// The cluster as the bench sees it: its nodes' clients and the load's targets.
struct Bench<'a> {
    cluster: &'a mut dyn ClusterControl,
    transport: Transport,
    http: Http,
    public: Transport,
    targets: Targets,
    /// The next id for a fresh node.
    next_id: u64,
    /// Orders in the store, as the bench counts them.
    orders: u64,
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let plan = Plan::new(ctx.quick);
    let targets = Targets {
        gateway: ctx.gateway.base_url().to_string(),
        etcd: Vec::new(),
        orders: 0,
    };
    let public = ctx.public.clone();
    let out = ctx.out.clone();
    let Some(cluster) = ctx.cluster.as_deref_mut() else {
        println!("growth: skipped (it kills, restarts and adds nodes: run it without --gateway)");
        return Ok(());
    };
    let transport = cluster.transport();
    let http = transport
        .http(|b| b.timeout(DEADLINE))
        .context("the cluster's transport")?;
    let next_id = cluster.node_addrs().iter().map(|n| n.0).max().unwrap_or(0) + 100;
    let mut bench = Bench {
        cluster,
        transport,
        http,
        public,
        targets,
        next_id,
        orders: 0,
    };
    let largest = plan.sizes.last().copied().unwrap_or(0);
    let bar = progress(largest, "growth");
    let mut rows = Vec::new();
    for &size in plan.sizes {
        bench.orders = fill(
            &plan,
            &bench.public,
            &bench.targets,
            bench.orders,
            size,
            Some(&bar),
        )
        .await?;
        bar.println(format!(
            "{size} orders: starting a small store beside it, then measuring"
        ));
        rows.push(bench.measure(&plan).await?);
        // After every size, so a run cut short still leaves what it measured.
        report::write(&out, &rows, &plan)?;
    }
    bar.finish_and_clear();
    Ok(())
}

impl Bench<'_> {
    fn client(&self, id: u64) -> anyhow::Result<NodeClient> {
        let addr = self
            .cluster
            .node_addrs()
            .into_iter()
            .find(|n| n.0 == id)
            .ok_or_else(|| anyhow!("no node {id}"))?
            .1;
        Ok(NodeClient::new(&addr, self.http.clone()))
    }

    async fn leader(&self) -> anyhow::Result<(u64, NodeClient)> {
        let nodes = self.cluster.node_addrs();
        let id = find_leader(&nodes, &self.transport, Duration::from_secs(2))
            .await
            .ok_or_else(|| anyhow!("no leader"))?;
        Ok((id, self.client(id)?))
    }

    /// What the leader has applied (the log index).
    async fn applied(&self) -> anyhow::Result<u64> {
        let (_, leader) = self.leader().await?;
        Ok(leader.status().await?.last_applied.unwrap_or(0))
    }

    /// The cluster as one side of alternating windows.
    fn side(&mut self) -> Side<'_> {
        Side {
            pids: self.cluster.pids(),
            public: &self.public,
            targets: &self.targets,
        }
    }

    /// Measures the store as filled, then buys at 64 connections (which add orders).
    async fn measure(&mut self, plan: &Plan) -> anyhow::Result<Row> {
        let (leader_id, leader) = self.leader().await?;
        let orders = leader.digest().await?.orders;
        let nodes: Vec<u64> = self.cluster.node_addrs().iter().map(|n| n.0).collect();
        let rss_mib = self
            .cluster
            .pids()
            .into_iter()
            .filter(|(name, _)| name.starts_with("node-"))
            .filter_map(|(_, pid)| rss_kib(pid))
            .map(|kib| kib as f64 / 1024.0)
            .fold(0.0, f64::max);
        let disk_mib = nodes
            .iter()
            .map(|id| dir_bytes(&self.cluster.node_dir(*id)) as f64 / (1024.0 * 1024.0))
            .fold(0.0, f64::max);

        let first_size = plan.sizes.first().copied().unwrap_or(0);
        let mut small = Reference::start(self.cluster.options(), first_size, plan).await?;
        let (small_orders, small_leader) = (small.orders, small.leader);
        let measured = alternate(&[self.side(), small.side()], plan.windows, plan.measure).await;
        small.stop();
        let [steady, small]: [Buys; 2] = measured?
            .try_into()
            .map_err(|_| anyhow!("one measurement per cluster"))?;

        let started = Instant::now();
        leader.snapshot().await.context("build a snapshot")?;
        let snapshot_s = started.elapsed().as_secs_f64();

        let follower = nodes
            .iter()
            .copied()
            .find(|id| *id != leader_id)
            .ok_or_else(|| anyhow!("no follower"))?;
        let target = self.applied().await?;
        tokio::task::block_in_place(|| self.cluster.kill_node(follower))?;
        let started = Instant::now();
        tokio::task::block_in_place(|| self.cluster.restart_node(follower))?;
        self.caught_up(follower, target).await?;
        let restart_s = started.elapsed().as_secs_f64();

        let catch_up_s = self.fresh_node_catch_up().await?;
        let after = alternate(&[self.side()], plan.windows, plan.measure)
            .await?
            .pop()
            .ok_or_else(|| anyhow!("no measurement"))?;
        self.orders = orders + (steady.ok + after.ok) as u64;
        Ok(Row {
            orders,
            steady,
            small,
            small_orders,
            small_leader,
            leader: leader_id,
            buys_after: after.median,
            rss_mib,
            disk_mib,
            snapshot_s,
            restart_s,
            catch_up_s,
        })
    }

    /// Waits until node `id` answers and has applied `target`.
    async fn caught_up(&self, id: u64, target: u64) -> anyhow::Result<()> {
        let client = self.client(id)?;
        testkit::wait_until_async(&format!("node-{id} caught up"), DEADLINE, || async {
            let status = client.status().await.ok()?;
            (status.last_applied.unwrap_or(0) >= target).then_some(())
        })
        .await
    }

    /// Starts an empty node, adds it as a learner, times it until it holds what the leader
    /// had applied, then takes it out again.
    async fn fresh_node_catch_up(&mut self) -> anyhow::Result<f64> {
        let id = self.next_id;
        self.next_id += 1;
        let target = self.applied().await?;
        let started = Instant::now();
        let addr = tokio::task::block_in_place(|| self.cluster.add_node(id))?;
        let (_, leader) = self.leader().await?;
        match leader.add_learner(id, &addr).await {
            Ok(_) => {}
            // Added, still catching up when the node stopped waiting: the bench waits on.
            Err(err) if err.status() == Some(StatusCode::SERVICE_UNAVAILABLE) => {}
            Err(err) => {
                return Err(anyhow!(err).context(format!("add node-{id} as a learner")));
            }
        }
        self.caught_up(id, target).await?;
        let elapsed = started.elapsed().as_secs_f64();
        leader
            .remove_learner(id)
            .await
            .with_context(|| format!("take learner node-{id} out"))?;
        tokio::task::block_in_place(|| self.cluster.remove_node(id))?;
        Ok(elapsed)
    }
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
