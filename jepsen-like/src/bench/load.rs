//! The lab's load test: 5 concurrent clients, each sending 1000 requests of one type.
//! Types run one after the other (query, buy, read_order), so each is measured alone; the
//! whole test is repeated and each figure is the median over the runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::BenchContext;
use crate::chart::{self, LineChart, Series};
use crate::clients::{fresh_key, progress, random_toy};
use crate::markdown::{self as report, ms, Table};
use crate::stats::{median_by, Summary};

const CLIENTS: usize = 5;
const KINDS: [Kind; 3] = [Kind::Query, Kind::Buy, Kind::ReadOrder];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Query,
    Buy,
    ReadOrder,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Buy => "buy",
            Kind::ReadOrder => "read_order",
        }
    }
}

/// Latencies (ms) of the successful requests, the error count, wall time, order numbers.
struct Phase {
    latencies: Vec<f64>,
    errors: usize,
    elapsed: Duration,
    orders: Vec<u64>,
}

/// What one request type did over every run: each run's summary, and every latency pooled
/// for the plot.
struct Measured {
    kind: Kind,
    runs: Vec<Summary>,
    pooled: Vec<f64>,
}

/// A row of the table: counts are totals over the runs, the other figures medians.
struct Row {
    kind: Kind,
    requests: usize,
    errors: usize,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    throughput: f64,
}

impl Row {
    fn of(measured: &Measured) -> Row {
        let runs = &measured.runs;
        Row {
            kind: measured.kind,
            requests: runs.iter().map(|s| s.ok + s.errors).sum(),
            errors: runs.iter().map(|s| s.errors).sum(),
            mean_ms: median_by(runs, |s| s.mean_ms),
            p50_ms: median_by(runs, |s| s.p50_ms),
            p99_ms: median_by(runs, |s| s.p99_ms),
            max_ms: median_by(runs, |s| s.max_ms),
            throughput: median_by(runs, |s| s.throughput),
        }
    }
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let (per_client, repeats) = if ctx.quick { (20, 1) } else { (1000, 3) };
    let measured = measure(ctx, per_client, repeats).await?;
    let rows: Vec<Row> = measured.iter().map(Row::of).collect();
    let table = table(&rows);
    let body = format!(
        "{CLIENTS} concurrent clients, each {per_client} requests of one type; latency of \
         successful requests, seen by the client. The test ran {repeats} time(s): requests and \
         errors are totals, the other figures medians over the runs.\n\n{}",
        table.render()
    );
    report::write_markdown(&ctx.out, "load", "Load: latency per request type", &body)?;
    plot(ctx, &measured, &rows, per_client, repeats)?;
    println!("{}", table.render());
    Ok(())
}

/// Runs the three types one after the other, `repeats` times.
async fn measure(
    ctx: &BenchContext<'_>,
    per_client: usize,
    repeats: usize,
) -> anyhow::Result<Vec<Measured>> {
    let mut measured: Vec<Measured> = KINDS
        .into_iter()
        .map(|kind| Measured {
            kind,
            runs: Vec::new(),
            pooled: Vec::new(),
        })
        .collect();
    for _ in 0..repeats {
        let mut orders: Arc<Vec<u64>> = Arc::new(Vec::new());
        for entry in &mut measured {
            let kind = entry.kind;
            let phase = run_phase(ctx, kind, per_client, orders.clone()).await?;
            if kind == Kind::Buy {
                orders = Arc::new(phase.orders.clone());
            }
            let summary = Summary::of(&phase.latencies, phase.errors, phase.elapsed);
            anyhow::ensure!(
                summary.ok + summary.errors == CLIENTS * per_client,
                "{} requests do not add up",
                kind.name()
            );
            anyhow::ensure!(
                summary.is_sane(),
                "{} figures are not numbers: {summary:?}",
                kind.name()
            );
            entry.runs.push(summary);
            entry.pooled.extend(phase.latencies);
        }
    }
    Ok(measured)
}

fn table(rows: &[Row]) -> Table {
    let mut table = Table::new(&[
        "type", "requests", "errors", "mean ms", "p50 ms", "p99 ms", "max ms", "req/s",
    ]);
    for row in rows {
        table.row(vec![
            row.kind.name().to_string(),
            row.requests.to_string(),
            row.errors.to_string(),
            ms(row.mean_ms),
            ms(row.p50_ms),
            ms(row.p99_ms),
            ms(row.max_ms),
            format!("{:.0}", row.throughput),
        ]);
    }
    table
}

/// The latency distribution of each type, up to its 99th percentile.
fn plot(
    ctx: &BenchContext<'_>,
    measured: &[Measured],
    rows: &[Row],
    per_client: usize,
    repeats: usize,
) -> anyhow::Result<()> {
    let series = measured
        .iter()
        .zip(rows)
        .enumerate()
        .map(|(index, (m, row))| Series {
            label: format!("{} (p50 {:.2} ms)", m.kind.name(), row.p50_ms),
            points: cdf(&m.pooled),
            secondary: false,
            color: index,
        })
        .collect();
    chart::write_lines(
        &ctx.out.join("load.png"),
        &[LineChart {
            title: format!(
                "Latency distribution, {CLIENTS} clients x {per_client} requests x {repeats} run(s)"
            ),
            x_label: "latency (ms, up to the 99th percentile)".into(),
            y_label: "fraction of requests at or below".into(),
            log2_x: false,
            windows: Vec::new(),
            series,
        }],
    )
}

async fn run_phase(
    ctx: &BenchContext<'_>,
    kind: Kind,
    per_client: usize,
    orders: Arc<Vec<u64>>,
) -> anyhow::Result<Phase> {
    let bar = progress((CLIENTS * per_client) as u64, kind.name());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let gateway = ctx.gateway.clone();
        let bar = bar.clone();
        let orders = orders.clone();
        tasks.push(tokio::spawn(async move {
            let mut phase = Phase {
                latencies: Vec::new(),
                errors: 0,
                elapsed: Duration::ZERO,
                orders: Vec::new(),
            };
            for _ in 0..per_client {
                let sent = Instant::now();
                let ok = match kind {
                    Kind::Query => gateway.product(random_toy()).await.is_ok(),
                    Kind::Buy => match gateway.buy(random_toy(), 1, Some(&fresh_key())).await {
                        Ok(created) => {
                            phase.orders.push(created.order_number);
                            true
                        }
                        Err(_) => false,
                    },
                    Kind::ReadOrder => {
                        let number = if orders.is_empty() {
                            0
                        } else {
                            orders[rand::random_range(0..orders.len())]
                        };
                        gateway.order(number).await.is_ok()
                    }
                };
                if ok {
                    phase.latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                } else {
                    phase.errors += 1;
                }
                bar.inc(1);
            }
            phase
        }));
    }
    let mut total = Phase {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
        orders: Vec::new(),
    };
    for task in tasks {
        let phase = task.await?;
        total.latencies.extend(phase.latencies);
        total.errors += phase.errors;
        total.orders.extend(phase.orders);
    }
    total.elapsed = start.elapsed();
    bar.finish_and_clear();
    Ok(total)
}

/// The empirical distribution up to the 99th percentile, as (latency, fraction) points.
fn cdf(latencies: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted = latencies.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let cut = ((n as f64) * 0.99).ceil() as usize;
    let step = (cut / 200).max(1);
    sorted
        .iter()
        .take(cut)
        .enumerate()
        .filter(|(i, _)| i % step == 0 || i + 1 == cut)
        .map(|(i, v)| (*v, (i + 1) as f64 / n as f64))
        .collect()
}
