//! The lab's crash experiment: buys at a steady rate while the bench kills a follower,
//! restarts it, then kills the leader and restarts it. Reports client-visible errors, the
//! longest stall, latency over time with the faults marked, and every replica's digest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use testkit::observe::{converged_digests, find_leader};
use toystore_api::node::Digest;

use super::BenchContext;
use crate::chart::{self, PointGroup, Timeline};
use crate::clients::{fresh_key, progress, random_toy};
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

pub async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let Some(cluster) = ctx.cluster.as_mut() else {
        println!("crash: --gateway given; the bench cannot kill nodes it did not start, skipped");
        return Ok(());
    };
    let (buys, rate) = if ctx.quick { (100, 25.0) } else { (1000, 50.0) };
    let nodes = cluster.node_addrs();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let samples = Arc::new(Mutex::new(Vec::with_capacity(buys)));
    let bar = progress(buys as u64, "crash");
    let start = Instant::now();
    let mut marks = Vec::new();
    let mut in_flight = Vec::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut killed_follower = None;
    let mut killed_leader = None;
    for i in 0..buys {
        ticker.tick().await;
        // The fault schedule: at 20 %, 40 %, 60 % and 80 % of the buys.
        let at = |fraction: f64| i == (buys as f64 * fraction) as usize;
        let now = start.elapsed().as_secs_f64();
        if at(0.2) {
            let leader = find_leader(&nodes, Duration::from_secs(1)).await;
            let follower = nodes.iter().map(|n| n.0).find(|id| Some(*id) != leader);
            if let Some(id) = follower {
                cluster.kill_node(id)?;
                killed_follower = Some(id);
                marks.push((now, format!("kill follower {id}")));
            }
        } else if at(0.4) {
            if let Some(id) = killed_follower.take() {
                cluster.restart_node(id)?;
                marks.push((now, format!("restart {id}")));
            }
        } else if at(0.6) {
            if let Some(id) = find_leader(&nodes, Duration::from_secs(1)).await {
                cluster.kill_node(id)?;
                killed_leader = Some(id);
                marks.push((now, format!("kill leader {id}")));
            }
        } else if at(0.8) {
            if let Some(id) = killed_leader.take() {
                cluster.restart_node(id)?;
                marks.push((now, format!("restart {id}")));
            }
        }
        let gateway = ctx.gateway.clone();
        let samples = samples.clone();
        let bar = bar.clone();
        in_flight.push(tokio::spawn(async move {
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
        }));
    }
    for task in in_flight {
        task.await?;
    }
    bar.finish_and_clear();
    for id in [killed_follower, killed_leader].into_iter().flatten() {
        cluster.restart_node(id)?;
    }
    let digests = converged_digests(&nodes, Duration::from_secs(60)).await;
    let samples = Arc::try_unwrap(samples)
        .map_err(|_| anyhow::anyhow!("samples still shared"))?
        .into_inner();
    write_results(ctx, &samples, &marks, buys, rate, &digests)?;
    digests?;
    Ok(())
}

fn write_results(
    ctx: &BenchContext<'_>,
    samples: &[Sample],
    marks: &[(f64, String)],
    buys: usize,
    rate: f64,
    digests: &anyhow::Result<Vec<(u64, Digest)>>,
) -> anyhow::Result<()> {
    let ok: Vec<f64> = samples
        .iter()
        .filter(|s| s.error.is_none())
        .map(|s| s.latency_ms)
        .collect();
    let errors: Vec<&Sample> = samples.iter().filter(|s| s.error.is_some()).collect();
    anyhow::ensure!(
        samples.len() == buys,
        "{} of {buys} buys recorded",
        samples.len()
    );
    let elapsed = samples
        .iter()
        .map(|s| s.sent_s + s.latency_ms / 1000.0)
        .fold(0.0, f64::max);
    let summary = Summary::of(&ok, errors.len(), Duration::from_secs_f64(elapsed));
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
    let mut faults = Table::new(&["t (s)", "fault"]);
    for (t, what) in marks {
        faults.row(vec![format!("{t:.2}"), what.clone()]);
    }
    let mut error_lines = String::new();
    for sample in &errors {
        error_lines.push_str(&format!(
            "- at {:.2} s: {} after {:.0} ms\n",
            sample.sent_s,
            sample.error.as_deref().unwrap_or("?"),
            sample.latency_ms
        ));
    }
    let digest_text = match digests {
        Ok(list) => {
            list.iter()
                .map(|(id, d)| format!("- node {id}: `{}`", d.digest))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n\nAll replicas converged to the same digest."
        }
        Err(err) => format!("Replicas did NOT converge: {err}"),
    };
    let body = format!(
        "{buys} buys sent at {rate:.0}/s (open loop, each a fresh Idempotency-Key) while the bench \
         kills and restarts a follower, then the leader. The largest stall is the slowest buy \
         that still succeeded.\n\n{}\nFaults:\n\n{}\nClient-visible errors: {}\n{}\n\
         Digests at the end:\n\n{}\n",
        table.render(),
        faults.render(),
        errors.len(),
        error_lines,
        digest_text
    );
    report::write_markdown(&ctx.out, "crash", "Crash: buys across node failures", &body)?;
    let points = |want_ok: bool| -> Vec<(f64, f64)> {
        samples
            .iter()
            .filter(|s| s.error.is_none() == want_ok)
            .map(|s| (s.sent_s, s.latency_ms))
            .collect()
    };
    chart::write_timeline(
        &ctx.out.join("crash.png"),
        &Timeline {
            title: format!("Buy latency while nodes are killed ({buys} buys at {rate:.0}/s)"),
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
            marks: marks.to_vec(),
            windows: Vec::new(),
            y_label: "latency (ms)".into(),
        },
    )?;
    println!("{}", table.render());
    Ok(())
}
