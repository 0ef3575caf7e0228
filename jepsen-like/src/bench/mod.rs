//! `jepsen-like bench`: the course lab's experiments, measured properly (contract section 8).
//!
//! - [`load`]: 5 clients, each 1000 requests of one type; latency and throughput per type.
//! - [`cache`]: query-then-maybe-buy sessions over p = 0..0.8, cache on and off.
//! - [`crash`]: steady buys while a follower, then the leader, is killed and restarted.
//! - [`scale`]: throughput and latency of buys and cached queries from 1 to 256 clients.
//!
//! Each writes `<out>/<name>.md` and `<out>/<name>.png`. Helpers: [`stats`], and
//! [`ClusterControl`], what an experiment may do to a cluster it started.

pub mod cache;
pub mod crash;
pub mod load;
pub mod scale;
pub mod stats;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use toystore_api::gateway::GatewayClient;
use toystore_api::node::{NodeClient, Role};

/// The ten seeded toys.
pub const TOYS: [&str; 10] = [
    "Tux", "Whale", "Elephant", "Bird", "Risk", "Sand", "Jenga", "Uno", "Pinball", "Clue",
];

/// Per-request timeout of bench clients: above the gateway's own 10 s deadline, so the
/// gateway, not the client, decides when a buy has failed.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Which experiment to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Experiment {
    Load,
    Cache,
    Crash,
    Scale,
    All,
}

/// `--cache on|off`: how the gateway the bench starts caches product reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cache {
    On,
    Off,
}

/// `jepsen-like bench EXPERIMENT [--gateway URL] [--out DIR] [--quick]`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which experiment: load, cache, crash, scale or all.
    #[arg(value_enum)]
    pub experiment: Experiment,
    /// Measure a running cluster through this gateway (`host:port` or URL) instead of
    /// starting one. Parts that need to restart or kill processes are skipped.
    #[arg(long, env = "BENCH_GATEWAY")]
    pub gateway: Option<String>,
    /// Where the tables and plots go.
    #[arg(long, env = "BENCH_OUT", default_value = "bench-out")]
    pub out: PathBuf,
    /// Few requests per experiment: a smoke test (CI), not a measurement.
    #[arg(long, env = "BENCH_QUICK")]
    pub quick: bool,
    /// The started gateway's cache (`off` measures uncached product reads; the cache
    /// experiment switches it itself).
    #[arg(long, env = "BENCH_CACHE", value_enum, default_value_t = Cache::On)]
    pub cache: Cache,
    /// Binaries of the cluster to start (default: build the workspace's own).
    #[arg(long, env = "BENCH_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Raft nodes of the cluster to start.
    #[arg(long, env = "BENCH_NODES", default_value_t = 3)]
    pub nodes: u64,
}

/// Runs the bench command: starts a cluster unless `--gateway` is given.
pub async fn run_command(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(addr) = &args.gateway {
        let mut ctx = BenchContext {
            gateway: gateway_client(addr),
            cluster: None,
            out: args.out.clone(),
            quick: args.quick,
            cache_on: args.cache == Cache::On,
        };
        return run(args.experiment, &mut ctx).await;
    }
    let dir = tempfile::tempdir().context("temp dir")?;
    let options = testkit::ClusterOptions {
        nodes: args.nodes,
        bin_dir: args.bin_dir.clone(),
        // Enough stock that no experiment runs dry.
        stock: Some(testkit::Stock {
            initial: 1_000_000_000,
            ..Default::default()
        }),
        cache: args.cache == Cache::On,
        ..Default::default()
    };
    println!("starting a cluster in {}", dir.path().display());
    let mut cluster = testkit::Cluster::start_in(dir.path(), options)?;
    let mut ctx = BenchContext {
        gateway: gateway_client(&cluster.gateway_addr()),
        cluster: Some(&mut cluster),
        out: args.out.clone(),
        quick: args.quick,
        cache_on: args.cache == Cache::On,
    };
    let result = run(args.experiment, &mut ctx).await;
    cluster.stop();
    if result.is_err() {
        // Keep the logs of a failed run where a person can read them.
        let logs = args.out.join("cluster-logs");
        let _ = std::fs::create_dir_all(&logs);
        if let Ok(entries) = std::fs::read_dir(dir.path().join("logs")) {
            for entry in entries.flatten() {
                let _ = std::fs::copy(entry.path(), logs.join(entry.file_name()));
            }
        }
    }
    result
}

/// What an experiment may do to a cluster the bench started itself. With `--gateway` the
/// bench has no such control, and experiments that need it say so and skip that part.
pub trait ClusterControl: Send {
    /// `host:port` of the gateway.
    fn gateway_addr(&self) -> String;
    /// `(id, host:port)` of every raft node.
    fn node_addrs(&self) -> Vec<(u64, String)>;
    /// Restarts the gateway with its cache on or off.
    fn set_gateway_cache(&mut self, on: bool) -> anyhow::Result<()>;
    /// SIGKILLs node `id`.
    fn kill_node(&mut self, id: u64) -> anyhow::Result<()>;
    /// Starts node `id` again on its old address and store.
    fn restart_node(&mut self, id: u64) -> anyhow::Result<()>;
}

/// What every experiment gets.
pub struct BenchContext<'a> {
    pub gateway: GatewayClient,
    pub cluster: Option<&'a mut dyn ClusterControl>,
    pub out: PathBuf,
    pub quick: bool,
    /// Whether the gateway caches (for labels; the cache experiment switches it).
    pub cache_on: bool,
}

impl BenchContext<'_> {
    /// A fresh gateway client (after the gateway was restarted, say).
    pub fn refresh_gateway(&mut self) {
        if let Some(cluster) = self.cluster.as_ref() {
            self.gateway = gateway_client(&cluster.gateway_addr());
        }
    }
}

pub fn gateway_client(addr: &str) -> GatewayClient {
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .pool_max_idle_per_host(512)
        .build()
        .expect("static reqwest config");
    GatewayClient::new(addr, http)
}

/// Runs `experiment` (or all of them in turn).
pub async fn run(experiment: Experiment, ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&ctx.out).with_context(|| format!("create {}", ctx.out.display()))?;
    wait_ready(&ctx.gateway).await?;
    let all = experiment == Experiment::All;
    if all || experiment == Experiment::Load {
        load::run(ctx).await.context("load experiment")?;
    }
    if all || experiment == Experiment::Cache {
        cache::run(ctx).await.context("cache experiment")?;
    }
    if all || experiment == Experiment::Crash {
        crash::run(ctx).await.context("crash experiment")?;
    }
    if all || experiment == Experiment::Scale {
        scale::run(ctx).await.context("scale experiment")?;
    }
    Ok(())
}

/// Waits until the gateway answers /health 200 and a buy-capable leader exists.
pub async fn wait_ready(gateway: &GatewayClient) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let healthy = gateway.health().await.is_ok();
        let leader = matches!(gateway.cluster().await, Ok(view) if view.leader.is_some());
        if healthy && leader {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("gateway {} not ready within 60 s", gateway.base_url());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls every node's digest until all are equal; returns them, or fails after `deadline`.
pub async fn converged_digests(
    nodes: &[(u64, String)],
    deadline: Duration,
) -> anyhow::Result<Vec<(u64, String)>> {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let mut digests = Vec::new();
        for (id, addr) in nodes {
            let client = NodeClient::with_timeout(addr, Duration::from_secs(2));
            if let Ok(digest) = client.digest().await {
                digests.push((*id, digest.digest));
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

/// The node that reports itself leader, if any.
pub async fn find_leader(nodes: &[(u64, String)]) -> Option<u64> {
    for (id, addr) in nodes {
        let client = NodeClient::with_timeout(addr, Duration::from_secs(1));
        if let Ok(status) = client.status().await {
            if status.state == Role::Leader {
                return Some(*id);
            }
        }
    }
    None
}

/// A progress bar for `total` steps.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A random toy and a fresh idempotency key.
pub fn random_toy() -> &'static str {
    TOYS[rand::random_range(0..TOYS.len())]
}

pub fn fresh_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
