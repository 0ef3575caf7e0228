//! `jepsen-like test` and `jepsen-like check`: the whole run, from starting a cluster to
//! the verdict, and the checker alone on saved files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use testkit::observe::converged_digests;
use testkit::{free_port, Cluster, ClusterOptions, Member, NodePorts, Stock};
use tokio::time::Instant;

use crate::checker::{self, Results};
use crate::clients::{gateway_client, wait_ready};
use crate::final_state::FinalState;
use crate::history::{self, Recorder};
use crate::nemesis::{self, Fault, FaultList, Nemesis, Setup};
use crate::proxy::ProxyMesh;
use crate::report;
use crate::security::Security;
use crate::workload::{self, WorkloadOptions};

/// `jepsen-like test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// Seconds of workload.
    #[arg(long, env = "JEPSEN_TIME", default_value_t = 60)]
    pub(crate) time: u64,
    /// Faults to inject, comma-separated: kill, kill-leader, pause, partition, kill-catalog,
    /// kill-gateway, slow, flaky, membership, snapshot, clock (needs libfaketime), disk
    /// (needs libfiu), combined; `all` for every kind, `none` for no faults.
    /// Each round of faults holds every kind listed once, in a seeded order.
    #[arg(long, env = "JEPSEN_NEMESIS", default_value = "kill,pause,partition,kill-leader,kill-catalog",
          value_parser = FaultList::parse)]
    pub(crate) nemesis: FaultList,
    /// Random seed (default: from the clock). The same seed sends the same requests
    /// (keys, toys, quantities) and draws the same fault schedule.
    #[arg(long, env = "JEPSEN_SEED")]
    pub(crate) seed: Option<u64>,
    /// Where history.jsonl, final.json, results.json, report.md and the plots go.
    #[arg(long, env = "JEPSEN_OUT", default_value = "jepsen-out")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) shape: RunShape,
}

/// What a run's cluster and clients look like: shared by `test` and `soak`.
#[derive(Debug, Clone, Args)]
pub struct RunShape {
    /// Concurrent clients.
    #[arg(long, env = "JEPSEN_CLIENTS", default_value_t = 10)]
    pub(crate) clients: usize,
    /// Operations per second over all clients.
    #[arg(long, env = "JEPSEN_RATE", default_value_t = 200.0)]
    pub(crate) rate: f64,
    /// Seconds between faults, and how long each lasts [default: 5, shortened (down to 3)
    /// when the listed kinds would not all fit into --time].
    #[arg(long, env = "JEPSEN_INTERVAL")]
    pub(crate) interval: Option<f64>,
    /// Every toy's initial stock, and what a sold-out toy is refilled to every 2 s; a low
    /// stock (say 5) makes buys meet 409 out of stock.
    #[arg(long, env = "JEPSEN_STOCK", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) stock: u64,
    /// Raft nodes.
    #[arg(long, env = "JEPSEN_NODES", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..=9))]
    pub(crate) nodes: u64,
    /// Directory of the catalog, raft-node and gateway binaries.
    #[arg(long, env = "JEPSEN_BIN_DIR", default_value = "target/release")]
    pub(crate) bin_dir: PathBuf,
    /// How the cluster is secured: open (plain HTTP), tokens, or tls (tokens and TLS on
    /// every link, mutual between the services).
    #[arg(long, env = "JEPSEN_SECURITY", value_enum, default_value_t = Security::Open)]
    pub(crate) security: Security,
}

/// The interval when `--interval` is not given.
const DEFAULT_INTERVAL: f64 = 5.0;
/// The shortest interval chosen for a run too short for every kind at the default.
const SHORTEST_AUTO_INTERVAL: f64 = 3.0;
/// What checking a heal adds to each fault, roughly, in seconds.
const HEAL_CHECK_SECONDS: f64 = 1.5;

impl TestArgs {
    /// `--interval`, or the default shortened so that every listed kind fits into `--time`:
    /// each fault takes a pause and its own interval (`combined` one and a half), plus the
    /// heal check. Never below 3 s, where faults would be too short to matter.
    pub(crate) fn interval(&self) -> f64 {
        if let Some(interval) = self.shape.interval {
            return interval;
        }
        let kinds = self.nemesis.0.len() as f64;
        if kinds == 0.0 {
            return DEFAULT_INTERVAL;
        }
        let combined = self.nemesis.0.contains(&Fault::Combined);
        let per_interval = 2.0 * kinds + if combined { 0.5 } else { 0.0 };
        let fits = (self.time as f64 - HEAL_CHECK_SECONDS * kinds) / per_interval;
        ((fits * 2.0).floor() / 2.0).clamp(SHORTEST_AUTO_INTERVAL, DEFAULT_INTERVAL)
    }
}

/// A finished run: its verdict and history, and the nemesis's failure, if any.
pub(crate) struct Run {
    pub(crate) results: Results,
    pub(crate) events: Vec<history::Event>,
    /// A fault that did not start or heal (the files are written all the same).
    pub(crate) nemesis_error: Option<anyhow::Error>,
}

/// Node ids past `--nodes` the proxy mesh sets ports aside for: the `membership` fault
/// starts fresh nodes on them.
const SPARE_NODES: u64 = 4;

/// How long the cluster gets to settle after the faults are healed.
const SETTLE_DEADLINE: Duration = Duration::from_secs(90);

/// Runs a test; `Ok(true)` when every check passed.
pub async fn test(args: TestArgs) -> anyhow::Result<bool> {
    let run = execute(&args).await?;
    match run.nemesis_error {
        Some(err) => Err(err.context("a fault did not start or heal (the files are written)")),
        None => Ok(run.results.valid),
    }
}

/// Runs a test into `args.out`: cluster, workload and faults, heal, settle, check. Keeps
/// the cluster's logs there unless the run was valid and every fault went as planned.
pub(crate) async fn execute(args: &TestArgs) -> anyhow::Result<Run> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let shape = &args.shape;
    let command = format!(
        "jepsen-like test --time {} --clients {} --rate {} --nemesis {} --interval {} --seed {seed} --stock {} --nodes {} --security {}",
        args.time,
        shape.clients,
        shape.rate,
        args.nemesis.names(),
        args.interval(),
        shape.stock,
        shape.nodes,
        shape.security.name()
    );
    println!("{command}");
    let dir = tempfile::tempdir()?;
    let (mut cluster, mesh, setup) = launch(args, dir.path()).await?;
    let outcome = drive(args, seed, &mut cluster, &mesh, &setup, &command).await;
    tokio::task::block_in_place(|| cluster.stop());
    if !matches!(&outcome, Ok((results, _, None)) if results.valid) {
        keep_logs(dir.path(), &args.out);
    }
    let (results, events, nemesis_error) = outcome?;
    Ok(Run {
        results,
        events,
        nemesis_error,
    })
}

/// Starts the run's cluster in `dir` with a proxy on every link (node to node, gateway to
/// node and to the catalog, node to catalog; spare nodes' too) and what the chosen faults
/// need.
async fn launch(args: &TestArgs, dir: &Path) -> anyhow::Result<(Cluster, ProxyMesh, Setup)> {
    let shape = &args.shape;
    let ports = NodePorts::allocate(shape.nodes)?;
    let mut all = ports.clone();
    for id in shape.nodes + 1..=shape.nodes + SPARE_NODES {
        all.add(id)?;
    }
    let spares = all.0.split_off(&(shape.nodes + 1));
    // The catalog's port is fixed before it starts: the nodes' links to it need it.
    let mut catalog_port = free_port()?;
    while ports
        .0
        .values()
        .chain(spares.values())
        .any(|p| *p == catalog_port)
    {
        catalog_port = free_port()?;
    }
    let catalog = SocketAddr::from(([127, 0, 0, 1], catalog_port));
    let mesh = ProxyMesh::start(&ports.0, &spares, catalog).await?;
    let mut options = ClusterOptions {
        nodes: shape.nodes,
        bin_dir: Some(shape.bin_dir.clone()),
        stock: Some(Stock {
            initial: shape.stock,
            restock_to: shape.stock,
            restock_interval: "2s".into(),
        }),
        gateway_deadline: Some("5s".into()),
        node_args: vec![
            "--reconcile-after".into(),
            "3s".into(),
            "--reconcile-interval".into(),
            "1s".into(),
            "--bootstrap-voters".into(),
            mesh.initial_voters(),
        ],
        catalog_listen: Some(catalog.to_string()),
        node_catalog: ports
            .0
            .keys()
            .chain(spares.keys())
            .filter_map(|&id| Some((id, mesh.catalog_for(id)?)))
            .collect(),
        gateway_nodes: Some(mesh.gateway_nodes()),
        gateway_catalog: Some(mesh.gateway_catalog()),
        security: shape.security.into(),
        ..Default::default()
    };
    let setup = Setup::prepare(&args.nemesis, dir, shape.nodes, &mut options)?;
    let cluster = tokio::task::block_in_place(|| {
        Cluster::start_with_peers(dir, options, ports, |id| mesh.peers_for(id))
    })?;
    Ok((cluster, mesh, setup))
}

/// A bar that counts the run's seconds, and the task that moves it.
fn progress(seconds: u64) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = ProgressBar::new(seconds);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} s")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message("running");
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                bar.inc(1);
            }
        })
    };
    (bar, ticker)
}

/// Runs the workload and the nemesis, heals, settles, collects and checks; returns the
/// results, the history, and the error of a fault that did not start or heal.
async fn drive(
    args: &TestArgs,
    seed: u64,
    cluster: &mut Cluster,
    mesh: &ProxyMesh,
    setup: &Setup,
    command: &str,
) -> anyhow::Result<(Results, Vec<history::Event>, Option<anyhow::Error>)> {
    cluster.wait_for_leader(Duration::from_secs(30)).await?;
    let public = cluster.public_transport()?;
    let gateway = gateway_client(&cluster.gateway_addr(), &public)?;
    wait_ready(&gateway).await?;

    let recorder = Recorder::new();
    let duration = Duration::from_secs(args.time);
    let end = Instant::now() + duration;
    let (bar, ticker) = progress(args.time);
    let workload = {
        let gateway = cluster.gateway_addr();
        let recorder = recorder.clone();
        let options = WorkloadOptions {
            clients: args.shape.clients,
            rate: args.shape.rate,
            duration,
            seed,
        };
        let http = workload::http(&public, &options)?;
        tokio::spawn(async move { workload::run(&gateway, http, &recorder, &options).await })
    };
    let highest_id = cluster.node_ids().into_iter().max().unwrap_or(0);
    let mut nemesis = Nemesis {
        ctx: nemesis::Context {
            cluster,
            mesh,
            setup,
            rng: rand::rngs::StdRng::seed_from_u64(seed ^ 0x6e656d65),
            highest_id,
        },
        recorder: recorder.clone(),
        gateway,
    };
    let interval = Duration::from_secs_f64(args.interval());
    let faulted = nemesis.run(&args.nemesis.0, interval, end).await;
    let cluster = nemesis.ctx.cluster;
    workload.await.context("workload task")?;
    ticker.abort();
    bar.finish_and_clear();
    if let Err(err) = &faulted {
        println!("nemesis failed: {err:#}");
    }

    heal_everything(cluster, mesh, setup)?;
    println!("healed; waiting for the cluster to settle");
    if let Err(err) = settle(cluster).await {
        println!("cluster did not settle: {err:#}");
    }
    let final_state = FinalState::collect(
        &cluster.node_addrs(),
        &cluster.catalog_addr(),
        &cluster.transport(),
    )
    .await?;
    let events = recorder.events();
    let results = write_and_check(&args.out, command, &events, &final_state)?;
    Ok((results, events, faulted.err()))
}

/// Whatever the nemesis left: every link passes, every clock is true, every process runs.
fn heal_everything(cluster: &mut Cluster, mesh: &ProxyMesh, setup: &Setup) -> anyhow::Result<()> {
    mesh.heal();
    setup.reset_clocks()?;
    tokio::task::block_in_place(|| {
        let mut members = vec![Member::Catalog, Member::Gateway];
        members.extend(cluster.node_ids().into_iter().map(Member::Node));
        for member in members {
            if cluster.is_running(member) {
                let _ = cluster.resume(member);
            } else {
                cluster.restart(member)?;
            }
        }
        anyhow::Ok(())
    })
}

/// Waits for a leader, equal digests on every node, and no held reservation.
async fn settle(cluster: &Cluster) -> anyhow::Result<()> {
    let nodes = cluster.node_addrs();
    let transport = cluster.transport();
    let catalog = cluster.catalog_client();
    testkit::wait_until_async("a settled cluster", SETTLE_DEADLINE, || async {
        cluster.leader().await?;
        converged_digests(&nodes, &transport, Duration::from_millis(1))
            .await
            .ok()?;
        let ledger = catalog.ledger().await.ok()?;
        ledger.iter().all(|row| row.held == 0).then_some(())
    })
    .await
}

/// Writes history, final state, results, report and plots; prints the summary.
fn write_and_check(
    out: &Path,
    command: &str,
    events: &[history::Event],
    final_state: &FinalState,
) -> anyhow::Result<Results> {
    history::write(&out.join("history.jsonl"), events)?;
    final_state.write(&out.join("final.json"))?;
    let results = checker::check(events, final_state)?;
    std::fs::write(
        out.join("results.json"),
        serde_json::to_vec_pretty(&results)?,
    )?;
    report::write_report(out, command, events, &results)?;
    for line in report::anomaly_lines(&results) {
        println!("ANOMALY {line}");
    }
    println!("{}", report::summary(&results));
    println!("results in {}", out.display());
    Ok(results)
}

/// `jepsen-like check DIR`: the checker on saved files. `Ok(true)` when valid.
pub fn check(dir: &Path) -> anyhow::Result<bool> {
    let events = history::load(&dir.join("history.jsonl"))?;
    let final_state = FinalState::load(&dir.join("final.json"))?;
    let results = checker::check(&events, &final_state)?;
    for line in report::anomaly_lines(&results) {
        println!("{line}");
    }
    println!("{}", report::summary(&results));
    Ok(results.valid)
}

fn keep_logs(cluster_dir: &Path, out: &Path) {
    let target = out.join("cluster-logs");
    let _ = std::fs::create_dir_all(&target);
    if let Ok(entries) = std::fs::read_dir(cluster_dir.join("logs")) {
        for entry in entries.flatten() {
            let _ = std::fs::copy(entry.path(), target.join(entry.file_name()));
        }
    }
    println!("cluster logs kept in {}", target.display());
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        test: TestArgs,
    }

    fn interval(args: &[&str]) -> f64 {
        let mut argv = vec!["jepsen-like"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().test.interval()
    }

    #[test]
    fn the_default_interval_shrinks_only_to_fit_every_kind() {
        // The contract's default run keeps its 5 s.
        assert_eq!(interval(&[]), 5.0);
        // Every kind in 120 s: short enough for all 13 to start.
        let all = interval(&["--time", "120", "--nemesis", "all"]);
        assert!((3.0..5.0).contains(&all), "{all}");
        let kinds = FaultList::parse("all").unwrap().0.len() as f64;
        assert!(kinds * (2.0 * all + HEAL_CHECK_SECONDS) + all / 2.0 <= 120.0);
        // Never below the floor, and a given interval is kept.
        assert_eq!(interval(&["--time", "10", "--nemesis", "all"]), 3.0);
        assert_eq!(interval(&["--nemesis", "all", "--interval", "1.5"]), 1.5);
        assert_eq!(interval(&["--nemesis", "none"]), 5.0);
    }
}
