//! The lab's crash experiment: buys at a steady rate while the bench kills a follower,
//! restarts it, then kills the leader and restarts it. Reports client-visible errors, the
//! longest stall, latency over time with the faults marked, and every replica's digest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use testkit::observe::{converged_digests, find_leader};
use tokio::sync::Mutex;
use toystore_api::gateway::GatewayClient;
use toystore_api::node::Digest;

use super::context::BenchContext;
use crate::chart::{self, PointGroup, Timeline};
use crate::clients::{fresh_key, progress, random_toy};
use crate::cluster::ClusterControl;
use crate::markdown::{self as report, ms, Table};
use crate::stats::Summary;

/// One buy as the client saw it.
#[derive(Debug, Clone)]
struct Sample {
    /// Seconds from the start of the run to the send.
    sent_s: f64,
    latency_ms: f64,
    /// `None` for a 200, else the status or "no answer".
    error: Option<String>,
}

/// The faults in force, and a mark on the timeline for every fault and recovery.
#[derive(Default)]
struct Faults {
    killed_follower: Option<u64>,
    killed_leader: Option<u64>,
    marks: Vec<(f64, String)>,
}

impl Faults {
    /// The schedule: at 20 %, 40 %, 60 % and 80 % of the buys, kill a follower, restart
    /// it, kill the leader, restart it.
    async fn step(
        &mut self,
        cluster: &mut dyn ClusterControl,
        nodes: &[(u64, String)],
        (i, buys): (usize, usize),
        now: f64,
    ) -> anyhow::Result<()> {
        let at = |fraction: f64| i == (buys as f64 * fraction) as usize;
        if at(0.2) {
            let leader = find_leader(nodes, &cluster.transport(), Duration::from_secs(1)).await;
            let follower = nodes.iter().map(|n| n.0).find(|id| Some(*id) != leader);
            if let Some(id) = follower {
                cluster.kill_node(id)?;
                self.killed_follower = Some(id);
                self.marks.push((now, format!("kill follower {id}")));
            }
        } else if at(0.4) {
            if let Some(id) = self.killed_follower.take() {
                cluster.restart_node(id)?;
                self.marks.push((now, format!("restart {id}")));
            }
        } else if at(0.6) {
            if let Some(id) = find_leader(nodes, &cluster.transport(), Duration::from_secs(1)).await
            {
                cluster.kill_node(id)?;
                self.killed_leader = Some(id);
                self.marks.push((now, format!("kill leader {id}")));
            }
        } else if at(0.8) {
            if let Some(id) = self.killed_leader.take() {
                cluster.restart_node(id)?;
                self.marks.push((now, format!("restart {id}")));
            }
        }
        Ok(())
    }

    /// Restarts whatever is still down; returns the marks.
    fn heal(self, cluster: &mut dyn ClusterControl) -> anyhow::Result<Vec<(f64, String)>> {
        for id in [self.killed_follower, self.killed_leader]
            .into_iter()
            .flatten()
        {
            cluster.restart_node(id)?;
        }
        Ok(self.marks)
    }
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let Some(cluster) = ctx.cluster.as_deref_mut() else {
        println!("crash: --gateway given; the bench cannot kill nodes it did not start, skipped");
        return Ok(());
    };
    let (buys, rate) = if ctx.quick { (100, 25.0) } else { (1000, 50.0) };
    let nodes = cluster.node_addrs();
    let (samples, marks) = measure(&ctx.gateway, cluster, &nodes, buys, rate).await?;
    let transport = cluster.transport();
    let digests = converged_digests(&nodes, &transport, Duration::from_secs(60)).await;
    let run = Run {
        samples: &samples,
        marks: &marks,
        buys,
        rate,
    };
    write_results(ctx, &run, &digests)?;
    digests?;
    Ok(())
}

/// Sends `buys` buys at `rate` per second, open loop, while the faults are injected.
async fn measure(
    gateway: &GatewayClient,
    cluster: &mut dyn ClusterControl,
    nodes: &[(u64, String)],
    buys: usize,
    rate: f64,
) -> anyhow::Result<(Vec<Sample>, Vec<(f64, String)>)> {
    let samples = Arc::new(Mutex::new(Vec::with_capacity(buys)));
    let bar = progress(buys as u64, "crash");
    let start = Instant::now();
    let mut faults = Faults::default();
    let mut in_flight = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..buys {
        ticker.tick().await;
        let now = start.elapsed().as_secs_f64();
        faults.step(cluster, nodes, (i, buys), now).await?;
        in_flight.push(tokio::spawn(buy(
            gateway.clone(),
            samples.clone(),
            start,
            bar.clone(),
        )));
    }
    for task in in_flight {
        task.await?;
    }
    bar.finish_and_clear();
    let marks = faults.heal(cluster)?;
    let samples = Arc::try_unwrap(samples)
        .map_err(|_| anyhow::anyhow!("samples still shared"))?
        .into_inner();
    Ok((samples, marks))
}

/// One buy, recorded as the client saw it.
async fn buy(
    gateway: GatewayClient,
    samples: Arc<Mutex<Vec<Sample>>>,
    start: Instant,
    bar: ProgressBar,
) {
    let sent = Instant::now();
    let sent_s = start.elapsed().as_secs_f64();
    let result = gateway.buy(random_toy(), 1, Some(&fresh_key())).await;
    let error = result.err().map(|err| match err.status() {
        Some(status) => status.as_u16().to_string(),
        None => "no answer".to_string(),
    });
    samples.lock().await.push(Sample {
        sent_s,
        latency_ms: sent.elapsed().as_secs_f64() * 1000.0,
        error,
    });
    bar.inc(1);
}

/// What a run measured, for the report.
struct Run<'a> {
    samples: &'a [Sample],
    marks: &'a [(f64, String)],
    buys: usize,
    rate: f64,
}

fn write_results(
    ctx: &BenchContext<'_>,
    run: &Run<'_>,
    digests: &anyhow::Result<Vec<(u64, Digest)>>,
) -> anyhow::Result<()> {
    let (buys, rate) = (run.buys, run.rate);
    anyhow::ensure!(
        run.samples.len() == buys,
        "{} of {buys} buys recorded",
        run.samples.len()
    );
    let table = summary_table(run.samples, buys);
    let mut faults = Table::new(&["t (s)", "fault"]);
    for (t, what) in run.marks {
        faults.row(vec![format!("{t:.2}"), what.clone()]);
    }
    let errors: Vec<&Sample> = run.samples.iter().filter(|s| s.error.is_some()).collect();
    let error_lines: String = errors
        .iter()
        .map(|sample| {
            format!(
                "- at {:.2} s: {} after {:.0} ms\n",
                sample.sent_s,
                sample.error.as_deref().unwrap_or("?"),
                sample.latency_ms
            )
        })
        .collect();
    let body = format!(
        "{buys} buys sent at {rate:.0}/s (open loop, each a fresh Idempotency-Key) while the bench \
         kills and restarts a follower, then the leader. The largest stall is the slowest buy \
         that still succeeded.\n\n{}\nFaults:\n\n{}\nClient-visible errors: {}\n{}\n\
         Digests at the end:\n\n{}\n",
        table.render(),
        faults.render(),
        errors.len(),
        error_lines,
        digest_text(digests)
    );
    report::write_markdown(&ctx.out, "crash", "Crash: buys across node failures", &body)?;
    plot(ctx, run)?;
    println!("{}", table.render());
    Ok(())
}

/// One row: counts, latency of the successful buys, and the largest stall.
fn summary_table(samples: &[Sample], buys: usize) -> Table {
    let ok: Vec<f64> = samples
        .iter()
        .filter(|s| s.error.is_none())
        .map(|s| s.latency_ms)
        .collect();
    let errors = samples.len() - ok.len();
    let elapsed = samples
        .iter()
        .map(|s| s.sent_s + s.latency_ms / 1000.0)
        .fold(0.0, f64::max);
    let summary = Summary::of(&ok, errors, Duration::from_secs_f64(elapsed));
    let mut table = Table::new(&[
        "buys",
        "ok",
        "errors",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "largest stall ms",
    ]);
    table.row(vec![
        buys.to_string(),
        summary.ok.to_string(),
        summary.errors.to_string(),
        ms(summary.mean_ms),
        ms(summary.p50_ms),
        ms(summary.p99_ms),
        ms(summary.max_ms),
    ]);
    table
}

fn digest_text(digests: &anyhow::Result<Vec<(u64, Digest)>>) -> String {
    match digests {
        Ok(list) => {
            list.iter()
                .map(|(id, d)| format!("- node {id}: `{}`", d.digest))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n\nAll replicas converged to the same digest."
        }
        Err(err) => format!("Replicas did NOT converge: {err}"),
    }
}

/// Latency of every buy against its send time, ok and failed apart, faults marked.
fn plot(ctx: &BenchContext<'_>, run: &Run<'_>) -> anyhow::Result<()> {
    let points = |want_ok: bool| -> Vec<(f64, f64)> {
        run.samples
            .iter()
            .filter(|s| s.error.is_none() == want_ok)
            .map(|s| (s.sent_s, s.latency_ms))
            .collect()
    };
    chart::write_timeline(
        &ctx.out.join("crash.png"),
        &Timeline {
            title: format!(
                "Buy latency while nodes are killed ({} buys at {:.0}/s)",
                run.buys, run.rate
            ),
            groups: vec![
                PointGroup {
                    label: "ok".to_string(),
                    points: points(true),
                    color: 2,
                },
                PointGroup {
                    label: "error".to_string(),
                    points: points(false),
                    color: 1,
                },
            ],
            marks: run.marks.to_vec(),
            windows: Vec::new(),
            y_label: "latency (ms)".into(),
        },
    )
}
