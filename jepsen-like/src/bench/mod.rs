//! `jepsen-like bench`: the course lab's experiments, measured properly (contract section 8).
//!
//! - [`load`]: 5 clients, each 1000 requests of one type; latency and throughput per type.
//! - [`cache`]: query-then-maybe-buy sessions over p = 0..0.8, cache on and off.
//! - [`crash`]: steady buys while a follower, then the leader, is killed and restarted.
//! - [`scale`]: throughput and latency of buys and cached queries from 1 to 256 clients.
//! - [`overload`]: buys beside thousands of half-open connections, and at 4x and 16x the
//!   saturating load: fast 503s, bounded latency, flat memory.
//! - [`tls`]: the bench's cluster beside a twin with TLS on every link: what TLS costs.
//! - [`etcd`]: the same load generator against toystore and a 3-member etcd (not in `all`).
//! - [`breakdown`]: where a buy's time goes, stage by stage, from every service's `/metrics`.
//! - [`growth`]: buys, memory, disk, snapshot, restart and catch-up as the store fills to
//!   1M orders (not in `all`: it takes minutes).
//!
//! Each writes `<out>/<name>.md` and `<out>/<name>.png`. Figures come from
//! [`crate::stats`]; what an experiment may do to a cluster it started is
//! [`crate::cluster::ClusterControl`].

pub(crate) mod breakdown;
pub(crate) mod cache;
mod context;
mod cpu;
pub(crate) mod crash;
pub(crate) mod etcd;
pub(crate) mod growth;
pub(crate) mod load;
pub(crate) mod overload;
pub(crate) mod scale;
pub(crate) mod tls;

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

pub(crate) use context::BenchContext;

use toystore_api::transport::ClientTls;
use toystore_api::Transport;

use crate::clients::{gateway_client, wait_ready};
use crate::security::Security;

/// Which experiment to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Experiment {
    Load,
    Cache,
    Crash,
    Scale,
    /// Idle half-open connections and 4x/16x the saturating buy load.
    Overload,
    /// Plain against TLS links, two clusters side by side.
    Tls,
    /// Against a 3-member etcd; needs `etcd` on PATH, so not part of `all`.
    Etcd,
    /// Where a buy's time goes, stage by stage.
    Breakdown,
    /// How cost grows as the store fills to 1M orders; not part of `all`.
    Growth,
    All,
}

/// `--cache on|off`: how the gateway the bench starts caches product reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Cache {
    On,
    Off,
}

/// `jepsen-like bench EXPERIMENT [--gateway URL] [--out DIR] [--quick]`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which experiment: load, cache, crash, scale, overload, tls, breakdown, etcd, growth
    /// or all (all but etcd and growth).
    #[arg(value_enum)]
    pub(crate) experiment: Experiment,
    /// Measure a running cluster through this gateway (`host:port` or URL) instead of
    /// starting one. Parts that need to restart or kill processes are skipped.
    #[arg(long, env = "BENCH_GATEWAY")]
    pub(crate) gateway: Option<String>,
    /// Where the tables and plots go.
    #[arg(long, env = "BENCH_OUT", default_value = "bench-out")]
    pub(crate) out: PathBuf,
    /// Few requests per experiment: a smoke test (CI), not a measurement.
    #[arg(long, env = "BENCH_QUICK")]
    pub(crate) quick: bool,
    /// The started gateway's cache (`off` measures uncached product reads; the cache
    /// experiment switches it itself).
    #[arg(long, env = "BENCH_CACHE", value_enum, default_value_t = Cache::On)]
    pub(crate) cache: Cache,
    /// Binaries of the cluster to start (default: build the workspace's own).
    #[arg(long, env = "BENCH_BIN_DIR")]
    pub(crate) bin_dir: Option<PathBuf>,
    /// Raft nodes of the cluster to start.
    #[arg(long, env = "BENCH_NODES", default_value_t = 3)]
    pub(crate) nodes: u64,
    /// How the started cluster is secured: open, tokens, or tls.
    #[arg(long, env = "BENCH_SECURITY", value_enum, default_value_t = Security::Open)]
    pub(crate) security: Security,
    /// With `--gateway https://...`: the CA file that signed the gateway's certificate.
    #[arg(long, env = "BENCH_TLS_CA")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// Copy the started cluster's logs to `<out>/cluster-logs` also after a run that
    /// succeeded (a failed run's are always kept).
    #[arg(long, env = "BENCH_KEEP_LOGS")]
    pub(crate) keep_logs: bool,
}

/// Runs the bench command: starts a cluster unless `--gateway` is given.
pub async fn run_command(args: BenchArgs) -> anyhow::Result<()> {
    if args.experiment == Experiment::Etcd {
        etcd::etcd_binary()?; // before starting a cluster for nothing
    }
    if let Some(addr) = &args.gateway {
        let public = match &args.tls_ca {
            Some(path) => Transport {
                token: None,
                tls: Some(ClientTls {
                    ca_pem: std::fs::read(path)
                        .with_context(|| format!("read {}", path.display()))?,
                    identity_pem: None,
                }),
            },
            None => Transport::default(),
        };
        let mut ctx = BenchContext {
            gateway: gateway_client(addr, &public)?,
            public,
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
        security: args.security.into(),
        ..Default::default()
    };
    println!("starting a cluster in {}", dir.path().display());
    let mut cluster = testkit::Cluster::start_in(dir.path(), options)?;
    let public = cluster.public_transport()?;
    let mut ctx = BenchContext {
        gateway: gateway_client(&cluster.gateway_addr(), &public)?,
        public,
        cluster: Some(&mut cluster),
        out: args.out.clone(),
        quick: args.quick,
        cache_on: args.cache == Cache::On,
    };
    let result = run(args.experiment, &mut ctx).await;
    cluster.stop();
    if result.is_err() || args.keep_logs {
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

/// Runs `experiment` (or all of them in turn).
pub(crate) async fn run(experiment: Experiment, ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
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
    if all || experiment == Experiment::Overload {
        overload::run(ctx).await.context("overload experiment")?;
    }
    if all || experiment == Experiment::Tls {
        tls::run(ctx).await.context("tls experiment")?;
    }
    if all || experiment == Experiment::Breakdown {
        breakdown::run(ctx).await.context("breakdown experiment")?;
    }
    if experiment == Experiment::Etcd {
        etcd::run(ctx).await.context("etcd experiment")?;
    }
    if experiment == Experiment::Growth {
        growth::run(ctx).await.context("growth experiment")?;
    }
    Ok(())
}
