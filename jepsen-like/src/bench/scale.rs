//! Scaling: throughput and p50/p99 of buys and of queries (cached unless the gateway was
//! started with `--cache off`) from 1 to 256 clients,
//! closed loop (each client sends its next request when the last one is answered).

use std::time::{Duration, Instant};

use super::context::BenchContext;
use crate::chart::{self, LineChart, Series};
use crate::clients::{fresh_key, progress, random_toy, toy, toy_count};
use crate::markdown::{self as report, ms, Table};
use crate::stats::{median_by, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Buy,
    Query,
}

/// How many clients, for how long, how often.
struct Plan {
    counts: &'static [usize],
    window: Duration,
    repeats: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                counts: &[1, 4, 16],
                window: Duration::from_millis(500),
                repeats: 1,
            }
        } else {
            Plan {
                counts: &[1, 4, 16, 64, 256],
                window: Duration::from_secs(3),
                repeats: 3,
            }
        }
    }
}

/// One point of the sweep: figures are medians over the repeats, errors their total.
struct Row {
    op: Op,
    clients: usize,
    rate: f64,
    p50: f64,
    p99: f64,
    errors: usize,
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let plan = Plan::new(ctx.quick);
    let rows = measure_all(ctx, &plan).await?;
    let table = table(&rows, ctx.cache_on);
    let body = format!(
        "Closed-loop clients for {:.1} s per point, median of {} repeat(s). Queries {}; \
         buys go through the Raft leader and the catalog.\n\n{}",
        plan.window.as_secs_f64(),
        plan.repeats,
        if ctx.cache_on {
            "hit the gateway's cache (warmed first)"
        } else {
            "go to the catalog (gateway cache off)"
        },
        table.render()
    );
    report::write_markdown(
        &ctx.out,
        "scale",
        "Scale: throughput and latency against clients",
        &body,
    )?;
    plot(ctx, &rows)?;
    println!("{}", table.render());
    Ok(())
}

/// Every (clients, op) point of the plan, in table order.
async fn measure_all(ctx: &BenchContext<'_>, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let bar = progress((plan.counts.len() * 2 * plan.repeats) as u64, "scale");
    let mut rows = Vec::new();
    for &clients in plan.counts {
        for op in [Op::Buy, Op::Query] {
            let mut runs = Vec::new();
            for _ in 0..plan.repeats {
                let summary = measure(ctx, op, clients, plan.window).await?;
                anyhow::ensure!(summary.is_sane(), "{op:?} at {clients}: {summary:?}");
                runs.push(summary);
                bar.inc(1);
            }
            rows.push(Row {
                op,
                clients,
                rate: median_by(&runs, |s| s.throughput),
                p50: median_by(&runs, |s| s.p50_ms),
                p99: median_by(&runs, |s| s.p99_ms),
                errors: runs.iter().map(|s| s.errors).sum(),
            });
        }
    }
    bar.finish_and_clear();
    Ok(rows)
}

fn table(rows: &[Row], cache_on: bool) -> Table {
    let mut table = Table::new(&["clients", "op", "ops/s", "p50 ms", "p99 ms", "errors"]);
    for row in rows {
        let op = match (row.op, cache_on) {
            (Op::Buy, _) => "buy",
            (Op::Query, true) => "query (cached)",
            (Op::Query, false) => "query (uncached)",
        };
        table.row(vec![
            row.clients.to_string(),
            op.to_string(),
            format!("{:.0}", row.rate),
            ms(row.p50),
            ms(row.p99),
            row.errors.to_string(),
        ]);
    }
    table
}

/// Buys and queries differ by two orders of magnitude, so each gets its own panels:
/// throughput on top, latency below.
fn plot(ctx: &BenchContext<'_>, rows: &[Row]) -> anyhow::Result<()> {
    let series = |op: Op, pick: fn(&Row) -> f64, label: &str, color| Series {
        label: label.to_string(),
        points: rows
            .iter()
            .filter(|r| r.op == op)
            .map(|r| (r.clients as f64, pick(r)))
            .collect(),
        secondary: false,
        color,
    };
    let panel = |title: &str, y_label: &str, series: Vec<Series>| LineChart {
        title: title.to_string(),
        x_label: "concurrent clients".into(),
        y_label: y_label.to_string(),
        log2_x: true,
        windows: Vec::new(),
        series,
    };
    let (query_title, query_label) = if ctx.cache_on {
        ("Cached queries", "cached queries")
    } else {
        ("Uncached queries", "uncached queries")
    };
    chart::write_grid(
        &ctx.out.join("scale.png"),
        &[
            panel(
                "Buys: throughput",
                "successful buys per second",
                vec![series(Op::Buy, |r| r.rate, "buys", 0)],
            ),
            panel(
                &format!("{query_title}: throughput"),
                "successful queries per second",
                vec![series(Op::Query, |r| r.rate, query_label, 1)],
            ),
            panel(
                "Buys: latency",
                "latency (ms)",
                vec![
                    series(Op::Buy, |r| r.p50, "buy p50", 0),
                    series(Op::Buy, |r| r.p99, "buy p99", 2),
                ],
            ),
            panel(
                &format!("{query_title}: latency"),
                "latency (ms)",
                vec![
                    series(Op::Query, |r| r.p50, "query p50", 1),
                    series(Op::Query, |r| r.p99, "query p99", 3),
                ],
            ),
        ],
        2,
    )
}

async fn measure(
    ctx: &BenchContext<'_>,
    op: Op,
    clients: usize,
    window: Duration,
) -> anyhow::Result<Summary> {
    if op == Op::Query {
        for index in 0..toy_count() {
            let _ = ctx.gateway.product(toy(index)).await; // warm the cache
        }
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let gateway = ctx.gateway.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while start.elapsed() < window {
                let sent = Instant::now();
                let ok = match op {
                    Op::Buy => gateway
                        .buy(random_toy(), 1, Some(&fresh_key()))
                        .await
                        .is_ok(),
                    Op::Query => gateway.product(random_toy()).await.is_ok(),
                };
                if ok {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    Ok(Summary::of(&latencies, errors, start.elapsed()))
}
