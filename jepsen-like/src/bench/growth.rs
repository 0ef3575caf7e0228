//! How cost grows with the data. The bench fills its cluster with orders up to each size
//! (10k, 100k and 1M; quick: 500 and 1,500) and at each measures: buys/s at 64
//! connections and the CPU each service spent per buy; every node's memory (VmRSS) and
//! store on disk; how long the leader takes to
//! build a snapshot and purge its log (`POST /cluster/snapshot`); how long a follower that
//! was SIGKILLed takes, from its restart, to hold everything the leader had applied; and how
//! long a fresh node takes to do the same (it starts empty and, the log behind the
//! snapshot being purged, installs the snapshot, then replays what followed); last, buys
//! again, as the store serves right after all that. Writes `growth.md` and `growth.png`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use reqwest::StatusCode;
use testkit::observe::find_leader;
use toystore_api::node::NodeClient;
use toystore_api::{Http, Transport};

use super::context::BenchContext;
use super::cpu::CpuTimes;
use super::etcd::{rss_kib, Targets, Workload};
use crate::chart::{write_grid, LineChart, Series};
use crate::clients::progress;
use crate::cluster::ClusterControl;
use crate::loadgen::closed_loop;
use crate::markdown as md;
use crate::stats::Summary;

/// The sizes and how hard to fill and measure.
struct Plan {
    sizes: &'static [u64],
    fill_connections: usize,
    fill_window: Duration,
    /// Each measurement of buys: this many windows of `measure`, the median reported.
    windows: usize,
    measure: Duration,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                sizes: &[500, 1_500],
                fill_connections: 32,
                fill_window: Duration::from_secs(1),
                windows: 1,
                measure: Duration::from_secs(1),
            }
        } else {
            Plan {
                sizes: &[10_000, 100_000, 1_000_000],
                fill_connections: 256,
                fill_window: Duration::from_secs(5),
                windows: 5,
                measure: Duration::from_secs(4),
            }
        }
    }
}

/// What one size measured.
struct Row {
    /// Orders held when the store was measured (the buys after add more).
    orders: u64,
    /// Buys as filled, before the snapshot, restart and catch-up below: the window of
    /// median throughput.
    buys: Summary,
    /// The slowest window's buys/s.
    slowest: f64,
    /// CPU µs per buy of each process (`catalog`, `node-N`, `gateway`) during `buys`.
    cpu_us: BTreeMap<String, f64>,
    /// Which node led during `buys`.
    leader: u64,
    /// Buys right after the snapshot, the restart and the fresh node's catch-up.
    buys_after: Summary,
    /// The largest of the nodes'.
    rss_mib: f64,
    disk_mib: f64,
    snapshot_s: f64,
    restart_s: f64,
    catch_up_s: f64,
}

/// One measurement of buys.
struct Buys {
    /// The window of median throughput.
    median: Summary,
    /// The slowest window's buys/s.
    slowest: f64,
    /// CPU µs per buy of each process, over every window.
    cpu_us: BTreeMap<String, f64>,
    /// Buys that succeeded, in every window.
    ok: usize,
}

/// How long a catch-up or an admin call may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(600);
/// Connections of the measured buys.
const CONNECTIONS: usize = 64;

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
        bench.fill(&plan, size, &bar).await?;
        bar.println(format!("{size} orders: measuring"));
        rows.push(bench.measure(&plan).await?);
        // After every size, so a run cut short still leaves what it measured.
        write_report(&out, &rows, &plan)?;
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

    /// Buys until the store holds `size` orders. Every ok buy of a fresh key is one order
    /// (a Raft entry may carry many, so the log index does not count them).
    async fn fill(
        &mut self,
        plan: &Plan,
        size: u64,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        // Windows sized from the last rate, so the fill stops near the size.
        let mut rate = 3000.0;
        while self.orders < size {
            let remaining = (size - self.orders) as f64 / rate;
            let window =
                Duration::from_secs_f64(remaining.clamp(0.2, plan.fill_window.as_secs_f64()));
            let filled = closed_loop(
                plan.fill_connections,
                window,
                &self.public,
                self.targets.toystore(Workload::Write),
            )
            .await?;
            self.orders += filled.ok as u64;
            rate = filled.throughput.max(10.0);
            bar.set_position(self.orders.min(bar.length().unwrap_or(u64::MAX)));
        }
        Ok(())
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

        let steady = self.buys(plan).await?;

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
        let after = self.buys(plan).await?;
        self.orders = orders + (steady.ok + after.ok) as u64;
        Ok(Row {
            orders,
            buys: steady.median,
            slowest: steady.slowest,
            cpu_us: steady.cpu_us,
            leader: leader_id,
            buys_after: after.median,
            rss_mib,
            disk_mib,
            snapshot_s,
            restart_s,
            catch_up_s,
        })
    }

    /// Buys at [`CONNECTIONS`] in the plan's windows, and the CPU µs per buy of each
    /// process over all of them.
    async fn buys(&mut self, plan: &Plan) -> anyhow::Result<Buys> {
        let pids = self.cluster.pids();
        let before = CpuTimes::read(&pids);
        let mut windows = Vec::with_capacity(plan.windows);
        for _ in 0..plan.windows.max(1) {
            let window = closed_loop(
                CONNECTIONS,
                plan.measure,
                &self.public,
                self.targets.toystore(Workload::Write),
            )
            .await?;
            windows.push(window);
        }
        let ok = windows.iter().map(|w| w.ok).sum();
        let cpu_us = before.per_op_us(&CpuTimes::read(&pids), ok);
        windows.sort_by(|a, b| a.throughput.total_cmp(&b.throughput));
        let slowest = windows[0].throughput;
        let median = windows.swap_remove(windows.len() / 2);
        Ok(Buys {
            median,
            slowest,
            cpu_us,
            ok,
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

/// "catalog 110 · leader 140 · followers 65, 70 · gateway 60" (µs of CPU per buy).
fn cpu_cell(cpu_us: &BTreeMap<String, f64>, leader: u64) -> String {
    let leader_name = format!("node-{leader}");
    let followers: Vec<String> = cpu_us
        .iter()
        .filter(|(name, _)| name.starts_with("node-") && **name != leader_name)
        .map(|(_, us)| format!("{us:.0}"))
        .collect();
    let one = |name: &str| {
        cpu_us
            .get(name)
            .map_or("-".to_string(), |us| format!("{us:.0}"))
    };
    format!(
        "catalog {} · leader {} · followers {} · gateway {}",
        one("catalog"),
        one(&leader_name),
        if followers.is_empty() {
            "-".to_string()
        } else {
            followers.join(", ")
        },
        one("gateway"),
    )
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

fn write_report(out: &Path, rows: &[Row], plan: &Plan) -> anyhow::Result<()> {
    let mut table = md::Table::new(&[
        "orders",
        "buys/s (64 conn)",
        "slowest window",
        "p50 ms",
        "p99 ms",
        "CPU µs per buy",
        "buys/s after restart + catch-up",
        "node RSS MiB (max)",
        "node disk MiB (max)",
        "snapshot build s",
        "restart after SIGKILL s",
        "fresh node catch-up s",
        "catch-up µs per order",
    ]);
    for row in rows {
        table.row(vec![
            row.orders.to_string(),
            format!("{:.0}", row.buys.throughput),
            format!("{:.0}", row.slowest),
            md::ms(row.buys.p50_ms),
            md::ms(row.buys.p99_ms),
            cpu_cell(&row.cpu_us, row.leader),
            format!("{:.0}", row.buys_after.throughput),
            format!("{:.1}", row.rss_mib),
            format!("{:.1}", row.disk_mib),
            format!("{:.2}", row.snapshot_s),
            format!("{:.2}", row.restart_s),
            format!("{:.2}", row.catch_up_s),
            format!("{:.1}", row.catch_up_s * 1e6 / row.orders.max(1) as f64),
        ]);
    }
    let verdict = match (rows.first(), rows.last()) {
        (Some(first), Some(last)) if rows.len() > 1 => format!(
            "\n\nBuys/s at {} orders are {:.2}x those at {}; a fresh node's catch-up took {:.1} µs \
             per order at {} and {:.1} at {}.",
            last.orders,
            last.buys.throughput / first.buys.throughput.max(1e-9),
            first.orders,
            first.catch_up_s * 1e6 / first.orders.max(1) as f64,
            first.orders,
            last.catch_up_s * 1e6 / last.orders.max(1) as f64,
            last.orders,
        ),
        _ => String::new(),
    };
    let body = format!(
        "The bench fills its cluster with buys ({} connections, through the gateway) up to each \
         size, then measures, with `orders` the count held: buys in {windows} windows of \
         {measure:.0} s at {CONNECTIONS} connections (the window of median throughput, and \
         the slowest's), and the CPU time each process spent per buy (catalog, \
         leader, each follower, gateway); the largest node's VmRSS and store on disk; the \
         leader's `POST /cluster/snapshot` (build and purge the log); a follower SIGKILLed and \
         restarted, until it has applied what the leader had; a fresh, empty node added as a \
         learner, until the same (it installs the snapshot and replays the rest), then taken \
         out again; last, buys again (median window).\n\n\
         {}{verdict}\n\n![growth](growth.png)\n",
        plan.fill_connections,
        table.render(),
        measure = plan.measure.as_secs_f64(),
        windows = plan.windows,
    );
    md::write_markdown(out, "growth", "How cost grows with the data", &body)?;
    write_chart(out, rows)
}

fn write_chart(out: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let line = |label: &str, color: usize, f: &dyn Fn(&Row) -> f64| Series {
        label: label.to_string(),
        points: rows.iter().map(|r| (r.orders as f64, f(r))).collect(),
        secondary: false,
        color,
    };
    let chart = |title: &str, y_label: &str, series: Vec<Series>| LineChart {
        title: title.to_string(),
        x_label: "orders in the store".into(),
        y_label: y_label.to_string(),
        log2_x: true,
        series,
        windows: Vec::new(),
    };
    write_grid(
        &out.join("growth.png"),
        &[
            chart(
                "Buys at 64 connections",
                "buys per second",
                vec![
                    line("buys/s", 0, &|r| r.buys.throughput),
                    line("after restart + catch-up", 3, &|r| r.buys_after.throughput),
                ],
            ),
            chart(
                "Memory and disk of the largest node",
                "MiB",
                vec![
                    line("RSS", 1, &|r| r.rss_mib),
                    line("store on disk", 2, &|r| r.disk_mib),
                ],
            ),
            chart(
                "Snapshot, restart, catch-up",
                "seconds",
                vec![
                    line("snapshot build", 3, &|r| r.snapshot_s),
                    line("restart after SIGKILL", 4, &|r| r.restart_s),
                    line("fresh node catch-up", 5, &|r| r.catch_up_s),
                ],
            ),
            chart(
                "Catch-up per order",
                "microseconds per order",
                vec![line("fresh node", 5, &|r| {
                    r.catch_up_s * 1e6 / r.orders.max(1) as f64
                })],
            ),
        ],
        2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_cell_names_the_leader_and_lists_only_the_others_as_followers() {
        let cpu: BTreeMap<String, f64> = [
            ("catalog", 104.4),
            ("gateway", 50.6),
            ("node-1", 61.9),
            ("node-2", 143.2),
            ("node-3", 80.0),
        ]
        .into_iter()
        .map(|(name, us)| (name.to_string(), us))
        .collect();
        assert_eq!(
            cpu_cell(&cpu, 2),
            "catalog 104 · leader 143 · followers 62, 80 · gateway 51"
        );
        // A process the bench could not read is a dash, not a zero.
        assert_eq!(
            cpu_cell(&BTreeMap::new(), 1),
            "catalog - · leader - · followers - · gateway -"
        );
    }
}
