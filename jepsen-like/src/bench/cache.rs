//! The lab's caching experiment: sessions that query a random toy and, with probability
//! p, buy it. Swept over p with the gateway's cache on and off, the whole sweep repeated;
//! each figure is the median over the repeats. At the end every order a session bought is
//! read back and must match.

use std::time::{Duration, Instant};

use super::context::BenchContext;
use crate::chart::{self, LineChart, Series};
use crate::clients::{fresh_key, progress, random_toy, wait_ready};
use crate::markdown::{self as report, ms, Table};
use crate::stats::{median_by, Summary};

const SESSIONS: usize = 5;
const PROBABILITIES: [f64; 5] = [0.0, 0.2, 0.4, 0.6, 0.8];

/// What one run of one (mode, p) cell of the sweep measured.
struct Cell {
    cache_on: bool,
    p: f64,
    query_ms: Vec<f64>,
    buy_ms: Vec<f64>,
    hits: usize,
    query_errors: usize,
    buy_errors: usize,
}

impl Cell {
    fn new(cache_on: bool, p: f64) -> Cell {
        Cell {
            cache_on,
            p,
            query_ms: Vec::new(),
            buy_ms: Vec::new(),
            hits: 0,
            query_errors: 0,
            buy_errors: 0,
        }
    }

    fn absorb(&mut self, other: Cell) {
        self.query_ms.extend(other.query_ms);
        self.buy_ms.extend(other.buy_ms);
        self.hits += other.hits;
        self.query_errors += other.query_errors;
        self.buy_errors += other.buy_errors;
    }
}

/// The figures of one (mode, p) point: latencies are medians over the repeats' runs,
/// counts are totals over them.
struct Point {
    cache_on: bool,
    p: f64,
    queries: usize,
    hit_ratio: f64,
    query_mean: f64,
    query_p50: f64,
    query_p99: f64,
    buys: usize,
    buy_mean: f64,
    buy_p99: f64,
    errors: usize,
}

impl Point {
    fn of(runs: &[&Cell]) -> Point {
        // Wall time plays no part here; only the latency figures of each run are used.
        let queries_run: Vec<Summary> = runs
            .iter()
            .map(|c| Summary::of(&c.query_ms, c.query_errors, Duration::ZERO))
            .collect();
        let buys_run: Vec<Summary> = runs
            .iter()
            .map(|c| Summary::of(&c.buy_ms, c.buy_errors, Duration::ZERO))
            .collect();
        let queries: usize = runs.iter().map(|c| c.query_ms.len()).sum();
        let hits: usize = runs.iter().map(|c| c.hits).sum();
        Point {
            cache_on: runs[0].cache_on,
            p: runs[0].p,
            queries,
            hit_ratio: hits as f64 / queries.max(1) as f64,
            query_mean: median_by(&queries_run, |s| s.mean_ms),
            query_p50: median_by(&queries_run, |s| s.p50_ms),
            query_p99: median_by(&queries_run, |s| s.p99_ms),
            buys: runs.iter().map(|c| c.buy_ms.len()).sum(),
            buy_mean: median_by(&buys_run, |s| s.mean_ms),
            buy_p99: median_by(&buys_run, |s| s.p99_ms),
            errors: runs.iter().map(|c| c.query_errors + c.buy_errors).sum(),
        }
    }
}

/// An order a session bought, to read back at the end.
struct Bought {
    number: u64,
    name: &'static str,
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let (iterations, repeats) = if ctx.quick { (10, 1) } else { (200, 3) };
    let modes: Vec<bool> = if ctx.cluster.is_some() {
        vec![true, false]
    } else {
        println!("cache: --gateway given, so only the gateway's own cache setting is measured");
        vec![true]
    };
    let (cells, bought) = measure(ctx, &modes, iterations, repeats).await?;
    let mismatches = read_back(ctx, &bought).await;
    let points = points(&cells, &modes);
    let table = table(&points)?;
    let body = format!(
        "{SESSIONS} concurrent sessions, each {iterations} iterations per p: query a random toy, \
         then buy it with probability p. The sweep ran {repeats} time(s), cache on then off \
         each time; latencies are medians over the runs, counts are totals. Latencies seen by \
         the client.\n\n{}\n\
         Query latency saved by the cache (mean off - mean on):\n\n{}\n\
         Read-back of {} bought orders: {} mismatches.\n",
        table.render(),
        savings_table(&points),
        bought.len(),
        mismatches.len()
    );
    report::write_markdown(
        &ctx.out,
        "cache",
        "Cache: latency against buy probability",
        &body,
    )?;
    write_plot(ctx, &points)?;
    println!("{}", table.render());
    anyhow::ensure!(
        mismatches.is_empty(),
        "orders read back do not match what was bought: {mismatches:?}"
    );
    Ok(())
}

/// The sweep, `repeats` times over every mode and p; leaves the cache on.
async fn measure(
    ctx: &mut BenchContext<'_>,
    modes: &[bool],
    iterations: usize,
    repeats: usize,
) -> anyhow::Result<(Vec<Cell>, Vec<Bought>)> {
    let mut cells = Vec::new();
    let mut bought = Vec::new();
    for _ in 0..repeats {
        for &cache_on in modes {
            switch_cache(ctx, cache_on).await?;
            for p in PROBABILITIES {
                let (cell, orders) = run_cell(ctx, cache_on, p, iterations).await?;
                anyhow::ensure!(
                    cell.query_ms.len() + cell.query_errors == SESSIONS * iterations,
                    "queries at p = {p} do not add up"
                );
                anyhow::ensure!(!cell.query_ms.is_empty(), "no successful query at p = {p}");
                cells.push(cell);
                bought.extend(orders);
            }
        }
    }
    switch_cache(ctx, true).await?;
    Ok((cells, bought))
}

/// Restarts the gateway with its cache on or off, if the bench started it.
async fn switch_cache(ctx: &mut BenchContext<'_>, on: bool) -> anyhow::Result<()> {
    if let Some(cluster) = ctx.cluster.as_mut() {
        cluster.set_gateway_cache(on)?;
        ctx.refresh_gateway()?;
        wait_ready(&ctx.gateway).await?;
    }
    Ok(())
}

/// One point per (mode, p), from every run of that cell.
fn points(cells: &[Cell], modes: &[bool]) -> Vec<Point> {
    let mut points = Vec::new();
    for &cache_on in modes {
        for p in PROBABILITIES {
            let runs: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.cache_on == cache_on && c.p == p)
                .collect();
            points.push(Point::of(&runs));
        }
    }
    points
}

fn table(points: &[Point]) -> anyhow::Result<Table> {
    let optional = |v: f64| if v.is_finite() { ms(v) } else { "-".into() };
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
    for point in points {
        let query = [point.query_mean, point.query_p50, point.query_p99];
        anyhow::ensure!(
            query
                .iter()
                .chain([&point.hit_ratio])
                .all(|v| v.is_finite()),
            "query figures at p = {} are not numbers",
            point.p
        );
        table.row(vec![
            if point.cache_on { "on" } else { "off" }.to_string(),
            format!("{:.1}", point.p),
            point.queries.to_string(),
            format!("{:.2}", point.hit_ratio),
            ms(point.query_mean),
            ms(point.query_p50),
            ms(point.query_p99),
            point.buys.to_string(),
            optional(point.buy_mean),
            optional(point.buy_p99),
            point.errors.to_string(),
        ]);
    }
    Ok(table)
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
            let mut cell = Cell::new(cache_on, p);
            let mut orders = Vec::new();
            for _ in 0..iterations {
                let name = random_toy();
                let sent = Instant::now();
                match gateway.product(name).await {
                    Ok(read) => {
                        cell.query_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                        cell.hits += usize::from(read.cache_hit == Some(true));
                    }
                    Err(_) => cell.query_errors += 1,
                }
                if rand::random_bool(p) {
                    let sent = Instant::now();
                    match gateway.buy(name, 1, Some(&fresh_key())).await {
                        Ok(created) => {
                            cell.buy_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                            orders.push(Bought {
                                number: created.order_number,
                                name,
                            });
                        }
                        Err(_) => cell.buy_errors += 1,
                    }
                }
                bar.inc(1);
            }
            (cell, orders)
        }));
    }
    let mut total = Cell::new(cache_on, p);
    let mut bought = Vec::new();
    for task in tasks {
        let (cell, orders) = task.await?;
        total.absorb(cell);
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

fn savings_table(points: &[Point]) -> String {
    let mut table = Table::new(&[
        "p",
        "query mean on ms",
        "query mean off ms",
        "saved ms",
        "saved %",
    ]);
    for p in PROBABILITIES {
        let find = |on: bool| {
            points
                .iter()
                .find(|c| c.cache_on == on && c.p == p)
                .map(|c| c.query_mean)
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

/// Four panels: query and buy latency against p, mean on top and p99 below; cache on
/// thick, cache off thin.
fn write_plot(ctx: &BenchContext<'_>, points: &[Point]) -> anyhow::Result<()> {
    let modes: Vec<bool> = [true, false]
        .into_iter()
        .filter(|on| points.iter().any(|c| c.cache_on == *on))
        .collect();
    let panel = |buys: bool, figure: &str, pick: fn(&Point) -> f64| {
        let what = if buys { "buy" } else { "query" };
        LineChart {
            title: format!(
                "{} {figure} latency against buy probability",
                if buys { "Buy" } else { "Query" }
            ),
            x_label: "buy probability p".into(),
            y_label: format!("{figure} latency (ms)"),
            log2_x: false,
            windows: Vec::new(),
            series: modes
                .iter()
                .map(|&on| Series {
                    label: format!("{what} {figure}, cache {}", if on { "on" } else { "off" }),
                    points: points
                        .iter()
                        .filter(|c| c.cache_on == on)
                        .map(|c| (c.p, pick(c)))
                        .filter(|(_, y)| y.is_finite())
                        .collect(),
                    secondary: !on,
                    color: usize::from(buys),
                })
                .collect(),
        }
    };
    chart::write_grid(
        &ctx.out.join("cache.png"),
        &[
            panel(false, "mean", |c| c.query_mean),
            panel(true, "mean", |c| c.buy_mean),
            panel(false, "p99", |c| c.query_p99),
            panel(true, "p99", |c| c.buy_p99),
        ],
        2,
    )
}
