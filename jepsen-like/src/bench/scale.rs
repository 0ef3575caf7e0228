//! Scaling: throughput and p50/p99 of buys and of queries (cached unless the gateway was
//! started with `--cache off`) from 1 to 256 clients,
//! closed loop (each client sends its next request when the last one is answered).

use std::time::{Duration, Instant};

use super::BenchContext;
use crate::chart::{self, LineChart, Series};
use crate::clients::{fresh_key, progress, random_toy, toy, toy_count};
use crate::markdown::{self as report, ms, Table};
use crate::stats::{median, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Buy,
    Query,
}

pub async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let (counts, window, repeats): (&[usize], Duration, usize) = if ctx.quick {
        (&[1, 4, 16], Duration::from_millis(500), 1)
    } else {
        (&[1, 4, 16, 64, 256], Duration::from_secs(3), 3)
    };
    let bar = progress((counts.len() * 2 * repeats) as u64, "scale");
    let mut table = Table::new(&["clients", "op", "ops/s", "p50 ms", "p99 ms", "errors"]);
    let mut rows: Vec<(Op, usize, f64, f64, f64)> = Vec::new();
    for &clients in counts {
        for op in [Op::Buy, Op::Query] {
            let mut rates = Vec::new();
            let mut p50s = Vec::new();
            let mut p99s = Vec::new();
            let mut errors = 0;
            for _ in 0..repeats {
                let summary = measure(ctx, op, clients, window).await?;
                anyhow::ensure!(summary.is_sane(), "{op:?} at {clients}: {summary:?}");
                rates.push(summary.throughput);
                p50s.push(summary.p50_ms);
                p99s.push(summary.p99_ms);
                errors += summary.errors;
                bar.inc(1);
            }
            let (rate, p50, p99) = (median(&rates), median(&p50s), median(&p99s));
            table.row(vec![
                clients.to_string(),
                match (op, ctx.cache_on) {
                    (Op::Buy, _) => "buy",
                    (Op::Query, true) => "query (cached)",
                    (Op::Query, false) => "query (uncached)",
                }
                .to_string(),
                format!("{rate:.0}"),
                ms(p50),
                ms(p99),
                errors.to_string(),
            ]);
            rows.push((op, clients, rate, p50, p99));
        }
    }
    bar.finish_and_clear();
    let body = format!(
        "Closed-loop clients for {:.1} s per point, median of {repeats} repeat(s). Queries {}; \
         buys go through the Raft leader and the catalog.\n\n{}",
        window.as_secs_f64(),
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
    let query_label = if ctx.cache_on {
        "cached queries"
    } else {
        "uncached queries"
    };
    let series =
        |op: Op, pick: fn(&(Op, usize, f64, f64, f64)) -> f64, label: &str, color| Series {
            label: label.to_string(),
            points: rows
                .iter()
                .filter(|r| r.0 == op)
                .map(|r| (r.1 as f64, pick(r)))
                .collect(),
            secondary: false,
            color,
        };
    // Buys and queries differ by two orders of magnitude, so each gets its own panels:
    // throughput on top, latency below.
    let panel = |title: &str, y_label: &str, series: Vec<Series>| LineChart {
        title: title.to_string(),
        x_label: "concurrent clients".into(),
        y_label: y_label.to_string(),
        log2_x: true,
        windows: Vec::new(),
        series,
    };
    let query_title = if ctx.cache_on {
        "Cached queries"
    } else {
        "Uncached queries"
    };
    chart::write_grid(
        &ctx.out.join("scale.png"),
        &[
            panel(
                "Buys: throughput",
                "successful buys per second",
                vec![series(Op::Buy, |r| r.2, "buys", 0)],
            ),
            panel(
                &format!("{query_title}: throughput"),
                "successful queries per second",
                vec![series(Op::Query, |r| r.2, query_label, 1)],
            ),
            panel(
                "Buys: latency",
                "latency (ms)",
                vec![
                    series(Op::Buy, |r| r.3, "buy p50", 0),
                    series(Op::Buy, |r| r.4, "buy p99", 2),
                ],
            ),
            panel(
                &format!("{query_title}: latency"),
                "latency (ms)",
                vec![
                    series(Op::Query, |r| r.3, "query p50", 1),
                    series(Op::Query, |r| r.4, "query p99", 3),
                ],
            ),
        ],
        2,
    )?;
    println!("{}", table.render());
    Ok(())
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
