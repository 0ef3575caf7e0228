//! The lab's caching experiment: sessions that query a random toy and, with probability
//! p, buy it. Swept over p with the gateway's cache on and off. At the end every order a
//! session bought is read back and must match.

use std::time::Instant;

use super::stats::{mean, percentile};
use super::{progress, random_toy, BenchContext};
use crate::chart::{self, LineChart, Series};
use crate::markdown::{self as report, ms, Table};

const SESSIONS: usize = 5;
const PROBABILITIES: [f64; 5] = [0.0, 0.2, 0.4, 0.6, 0.8];

/// One (mode, p) cell of the sweep.
struct Cell {
    cache_on: bool,
    p: f64,
    query_ms: Vec<f64>,
    buy_ms: Vec<f64>,
    hits: usize,
    errors: usize,
}

/// An order a session bought, to read back at the end.
struct Bought {
    number: u64,
    name: &'static str,
}

pub async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let iterations = if ctx.quick { 10 } else { 200 };
    let modes: Vec<bool> = if ctx.cluster.is_some() {
        vec![true, false]
    } else {
        println!("cache: --gateway given, so only the gateway's own cache setting is measured");
        vec![true]
    };
    let mut cells = Vec::new();
    let mut bought = Vec::new();
    for &cache_on in &modes {
        if let Some(cluster) = ctx.cluster.as_mut() {
            cluster.set_gateway_cache(cache_on)?;
            ctx.refresh_gateway();
            super::wait_ready(&ctx.gateway).await?;
        }
        for p in PROBABILITIES {
            let (cell, orders) = run_cell(ctx, cache_on, p, iterations).await?;
            cells.push(cell);
            bought.extend(orders);
        }
    }
    if let Some(cluster) = ctx.cluster.as_mut() {
        cluster.set_gateway_cache(true)?;
        ctx.refresh_gateway();
        super::wait_ready(&ctx.gateway).await?;
    }
    let mismatches = read_back(ctx, &bought).await;

    let mut table = Table::new(&[
        "cache",
        "p",
        "queries",
        "hit ratio",
        "query mean ms",
        "query p50 ms",
        "query p99 ms",
        "buys",
        "buy mean ms",
        "buy p99 ms",
        "errors",
    ]);
    for cell in &cells {
        let mut q = cell.query_ms.clone();
        q.sort_by(f64::total_cmp);
        let mut b = cell.buy_ms.clone();
        b.sort_by(f64::total_cmp);
        anyhow::ensure!(!q.is_empty(), "no successful query at p = {}", cell.p);
        table.row(vec![
            if cell.cache_on { "on" } else { "off" }.to_string(),
            format!("{:.1}", cell.p),
            q.len().to_string(),
            format!("{:.2}", cell.hits as f64 / q.len() as f64),
            ms(mean(&q)),
            ms(percentile(&q, 0.50)),
            ms(percentile(&q, 0.99)),
            b.len().to_string(),
            if b.is_empty() {
                "-".into()
            } else {
                ms(mean(&b))
            },
            if b.is_empty() {
                "-".into()
            } else {
                ms(percentile(&b, 0.99))
            },
            cell.errors.to_string(),
        ]);
    }
    let savings = savings_table(&cells);
    let body = format!(
        "{SESSIONS} concurrent sessions, each {iterations} iterations per p: query a random toy, \
         then buy it with probability p. Latencies seen by the client.\n\n{}\n\
         Query latency saved by the cache (mean off - mean on):\n\n{}\n\
         Read-back of {} bought orders: {} mismatches.\n",
        table.render(),
        savings,
        bought.len(),
        mismatches.len()
    );
    report::write_markdown(
        &ctx.out,
        "cache",
        "Cache: latency against buy probability",
        &body,
    )?;
    write_plot(ctx, &cells)?;
    println!("{}", table.render());
    anyhow::ensure!(
        mismatches.is_empty(),
        "orders read back do not match what was bought: {mismatches:?}"
    );
    Ok(())
}

async fn run_cell(
    ctx: &BenchContext<'_>,
    cache_on: bool,
    p: f64,
    iterations: usize,
) -> anyhow::Result<(Cell, Vec<Bought>)> {
    let label = format!("cache {} p={p:.1}", if cache_on { "on" } else { "off" });
    let bar = progress((SESSIONS * iterations) as u64, &label);
    let mut tasks = Vec::new();
    for _ in 0..SESSIONS {
        let gateway = ctx.gateway.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let mut cell = Cell {
                cache_on,
                p,
                query_ms: Vec::new(),
                buy_ms: Vec::new(),
                hits: 0,
                errors: 0,
            };
            let mut orders = Vec::new();
            for _ in 0..iterations {
                let name = random_toy();
                let sent = Instant::now();
                match gateway.product(name).await {
                    Ok(read) => {
                        cell.query_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                        cell.hits += usize::from(read.cache_hit == Some(true));
                    }
                    Err(_) => cell.errors += 1,
                }
                if rand::random_bool(p) {
                    let sent = Instant::now();
                    match gateway.buy(name, 1, Some(&super::fresh_key())).await {
                        Ok(created) => {
                            cell.buy_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                            orders.push(Bought {
                                number: created.order_number,
                                name,
                            });
                        }
                        Err(_) => cell.errors += 1,
                    }
                }
                bar.inc(1);
            }
            (cell, orders)
        }));
    }
    let mut total = Cell {
        cache_on,
        p,
        query_ms: Vec::new(),
        buy_ms: Vec::new(),
        hits: 0,
        errors: 0,
    };
    let mut bought = Vec::new();
    for task in tasks {
        let (cell, orders) = task.await?;
        total.query_ms.extend(cell.query_ms);
        total.buy_ms.extend(cell.buy_ms);
        total.hits += cell.hits;
        total.errors += cell.errors;
        bought.extend(orders);
    }
    bar.finish_and_clear();
    Ok((total, bought))
}

/// Reads back every bought order; returns a description of each mismatch.
async fn read_back(ctx: &BenchContext<'_>, bought: &[Bought]) -> Vec<String> {
    let bar = progress(bought.len() as u64, "read back");
    let mut mismatches = Vec::new();
    for order in bought {
        match ctx.gateway.order(order.number).await {
            Ok(view) if view.name == order.name && view.quantity == 1 => {}
            Ok(view) => mismatches.push(format!(
                "order {} is {} x{}, bought {} x1",
                order.number, view.name, view.quantity, order.name
            )),
            Err(err) => mismatches.push(format!("order {}: {err}", order.number)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    mismatches
}

fn savings_table(cells: &[Cell]) -> String {
    let mut table = Table::new(&[
        "p",
        "query mean on ms",
        "query mean off ms",
        "saved ms",
        "saved %",
    ]);
    for p in PROBABILITIES {
        let find = |on: bool| {
            cells
                .iter()
                .find(|c| c.cache_on == on && c.p == p)
                .map(|c| mean(&c.query_ms))
        };
        if let (Some(on), Some(off)) = (find(true), find(false)) {
            table.row(vec![
                format!("{p:.1}"),
                ms(on),
                ms(off),
                ms(off - on),
                format!("{:.0}", 100.0 * (off - on) / off),
            ]);
        }
    }
    table.render()
}

fn write_plot(ctx: &BenchContext<'_>, cells: &[Cell]) -> anyhow::Result<()> {
    let line = |on: bool, buys: bool| Series {
        label: format!(
            "{} mean, cache {}",
            if buys { "buy" } else { "query" },
            if on { "on" } else { "off" }
        ),
        points: cells
            .iter()
            .filter(|c| c.cache_on == on)
            .map(|c| (c.p, mean(if buys { &c.buy_ms } else { &c.query_ms })))
            .filter(|(_, y)| y.is_finite())
            .collect(),
        secondary: !on,
        color: usize::from(buys),
    };
    let modes: Vec<bool> = [true, false]
        .into_iter()
        .filter(|on| cells.iter().any(|c| c.cache_on == *on))
        .collect();
    let chart = |buys: bool| LineChart {
        title: format!(
            "{} latency against buy probability",
            if buys { "Buy" } else { "Query" }
        ),
        x_label: "buy probability p".into(),
        y_label: "mean latency (ms)".into(),
        log2_x: false,
        windows: Vec::new(),
        series: modes.iter().map(|&on| line(on, buys)).collect(),
    };
    chart::write_lines(&ctx.out.join("cache.png"), &[chart(false), chart(true)])
}
