//! What TLS costs: the bench's own cluster beside a twin started with TLS on every link
//! (or, when the bench's cluster already speaks TLS, a twin with tokens only), both
//! driven by the same closed-loop load generator, alternating A B A B in one run:
//!
//! - buys at 1, 16 and 64 keep-alive connections (the TLS between gateway, leader,
//!   followers and catalog is on every buy's path);
//! - linearizable order reads and cached queries at 64 connections;
//! - cached queries with a new connection per request, so each pays a full handshake.
//!
//! Writes `<out>/tls.md` and `<out>/tls.png`. Needs a cluster the bench started.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use testkit::{Cluster, SecurityMode};
use toystore_api::Transport;

use super::context::BenchContext;
use super::etcd::{Point, Targets, Workload};
use crate::chart::{self, LineChart, Series};
use crate::clients::{fresh_key, gateway_client, progress, toy, toy_count, wait_ready};
use crate::loadgen::{closed_loop, MakeRequest};
use crate::markdown::{self as md, ms, Table};
use crate::stats::Summary;

/// One measured request mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// A workload on keep-alive connections.
    KeepAlive(Workload),
    /// Cached queries, each on a new connection.
    Handshake,
}

impl Mix {
    fn label(self) -> &'static str {
        match self {
            Mix::KeepAlive(Workload::Write) => "buy",
            Mix::KeepAlive(Workload::LinearRead) => "order read",
            Mix::KeepAlive(Workload::CachedRead) => "cached query",
            Mix::Handshake => "cached query, new connection each",
        }
    }
}

/// Points, window and rounds.
struct Plan {
    points: Vec<(Mix, usize)>,
    window: Duration,
    rounds: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        let (writes, reads, window, rounds): (&[usize], usize, _, _) = if quick {
            (&[1, 16], 16, Duration::from_secs(1), 1)
        } else {
            (&[1, 16, 64], 64, Duration::from_secs(3), 3)
        };
        let mut points: Vec<_> = writes
            .iter()
            .map(|&c| (Mix::KeepAlive(Workload::Write), c))
            .collect();
        points.push((Mix::KeepAlive(Workload::LinearRead), reads));
        points.push((Mix::KeepAlive(Workload::CachedRead), reads));
        points.push((Mix::Handshake, 16));
        Plan {
            points,
            window,
            rounds,
        }
    }
}

/// One cluster under measurement: how to reach its gateway and what it has to read.
struct Side {
    name: &'static str,
    targets: Targets,
    transport: Transport,
}

/// One line of the table.
struct Row {
    mix: Mix,
    connections: usize,
    /// Without TLS, then with.
    sides: [Point; 2],
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let Some(cluster) = ctx.cluster.as_deref() else {
        println!(
            "tls: --gateway given; the bench needs a cluster of its own to start a twin, skipped"
        );
        return Ok(());
    };
    let mut twin_options = cluster.options();
    let own = twin_options.security;
    twin_options.security = if own == SecurityMode::Tls {
        SecurityMode::Tokens
    } else {
        SecurityMode::Tls
    };
    println!(
        "starting a twin cluster ({})",
        security_name(twin_options.security)
    );
    let twin_dir = tempfile::tempdir().context("temp dir")?;
    let twin = tokio::task::block_in_place(|| Cluster::start_in(twin_dir.path(), twin_options))?;
    let result = measure_and_report(ctx, own, &twin).await;
    let mut twin = twin;
    tokio::task::block_in_place(|| twin.stop());
    result
}

async fn measure_and_report(
    ctx: &mut BenchContext<'_>,
    own: SecurityMode,
    twin: &Cluster,
) -> anyhow::Result<()> {
    let twin_public = twin.public_transport()?;
    let twin_gateway = gateway_client(&twin.gateway_addr(), &twin_public)?;
    wait_ready(&twin_gateway).await?;
    let own_side = Side {
        name: security_name(own),
        targets: targets(ctx.gateway.base_url()),
        transport: ctx.public.clone(),
    };
    let twin_side = Side {
        name: security_name(twin.options().security),
        targets: targets(twin_gateway.base_url()),
        transport: twin_public,
    };
    // The side without TLS first in the table, whichever cluster it is.
    let mut sides = if own == SecurityMode::Tls {
        [twin_side, own_side]
    } else {
        [own_side, twin_side]
    };
    let gateways = if own == SecurityMode::Tls {
        [twin_gateway, ctx.gateway.clone()]
    } else {
        [ctx.gateway.clone(), twin_gateway]
    };
    let plan = Plan::new(ctx.quick);
    let rows = measure(&plan, &mut sides, &gateways).await?;
    write_report(ctx, &plan, &sides, &rows)
}

fn targets(gateway: &str) -> Targets {
    Targets {
        gateway: gateway.to_string(),
        etcd: Vec::new(),
        orders: 0,
    }
}

fn security_name(mode: SecurityMode) -> &'static str {
    match mode {
        SecurityMode::Open => "plain",
        SecurityMode::Tokens => "tokens",
        SecurityMode::Tls => "TLS",
    }
}

async fn measure(
    plan: &Plan,
    sides: &mut [Side; 2],
    gateways: &[toystore_api::gateway::GatewayClient; 2],
) -> anyhow::Result<Vec<Row>> {
    let bar = progress((plan.points.len() * plan.rounds * 2) as u64, "tls");
    let mut rows = Vec::new();
    for &(mix, connections) in &plan.points {
        if mix == Mix::KeepAlive(Workload::LinearRead) {
            for (side, gateway) in sides.iter_mut().zip(gateways) {
                side.targets.orders = order_count(gateway).await?;
                for index in 0..toy_count() {
                    let _ = gateway.product(toy(index)).await; // warm the cache
                }
            }
        }
        let mut summaries: [Vec<Summary>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..plan.rounds {
            for (index, side) in sides.iter().enumerate() {
                let summary = closed_loop(
                    connections,
                    plan.window,
                    &side.transport,
                    request(side, mix),
                )
                .await?;
                anyhow::ensure!(
                    summary.is_sane(),
                    "{} on {} at {connections}: {summary:?}",
                    mix.label(),
                    side.name
                );
                summaries[index].push(summary);
                bar.inc(1);
            }
        }
        rows.push(Row {
            mix,
            connections,
            sides: [Point::of(&summaries[0]), Point::of(&summaries[1])],
        });
    }
    bar.finish_and_clear();
    Ok(rows)
}

/// The request of `mix` on `side`; `Connection: close` makes every request open (and
/// handshake) a connection of its own.
fn request(side: &Side, mix: Mix) -> MakeRequest {
    match mix {
        Mix::KeepAlive(workload) => side.targets.toystore(workload),
        Mix::Handshake => {
            let inner = side.targets.toystore(Workload::CachedRead);
            Arc::new(move |http, conn, seq| {
                inner(http, conn, seq).header(reqwest::header::CONNECTION, "close")
            })
        }
    }
}

/// How many orders exist on the cluster behind `gateway` (numbers are dense from 0).
async fn order_count(gateway: &toystore_api::gateway::GatewayClient) -> anyhow::Result<u64> {
    let created = gateway
        .buy(toy(0), 1, Some(&fresh_key()))
        .await
        .context("a buy before the order reads")?;
    Ok(created.order_number + 1)
}

fn table(sides: &[Side; 2], rows: &[Row]) -> Table {
    let (a, b) = (sides[0].name, sides[1].name);
    let headers = [
        "workload".to_string(),
        "conns".to_string(),
        format!("{a} ops/s"),
        format!("{b} ops/s"),
        format!("ops/s {b}/{a}"),
        format!("{a} p50 ms"),
        format!("{b} p50 ms"),
        format!("{a} p99 ms"),
        format!("{b} p99 ms"),
        "errors".to_string(),
    ];
    let mut table = Table::new(&headers.iter().map(String::as_str).collect::<Vec<_>>());
    for row in rows {
        let [x, y] = row.sides;
        let ratio = if x.rate > 0.0 {
            format!("{:.2}", y.rate / x.rate)
        } else {
            "-".to_string()
        };
        table.row(vec![
            row.mix.label().to_string(),
            row.connections.to_string(),
            format!("{:.0}", x.rate),
            format!("{:.0}", y.rate),
            ratio,
            ms(x.p50),
            ms(y.p50),
            ms(x.p99),
            ms(y.p99),
            format!("{}/{}", x.errors, y.errors),
        ]);
    }
    table
}

fn write_report(
    ctx: &BenchContext<'_>,
    plan: &Plan,
    sides: &[Side; 2],
    rows: &[Row],
) -> anyhow::Result<()> {
    let table = table(sides, rows);
    let body = format!(
        "Two clusters on this machine, alike but for their links: {a} and {b} (TLS: rustls on \
         every listener and client, mutual certificates between the services, the cluster \
         secret and admin token as with tokens). One closed-loop load generator, {:.1} s per \
         point, alternating the two (A B A B) over {} round(s); medians over rounds, errors \
         summed. Keep-alive rows open their connections before the window, so they show what \
         encryption costs a request; the last row opens a connection per request and so pays a \
         full handshake each time.\n\n{}",
        plan.window.as_secs_f64(),
        plan.rounds,
        table.render(),
        a = sides[0].name,
        b = sides[1].name,
    );
    md::write_markdown(&ctx.out, "tls", "What TLS costs", &body)?;
    plot(&ctx.out.join("tls.png"), sides, rows)?;
    println!("{}", table.render());
    Ok(())
}

/// Buys against connections, both sides: throughput, and p50/p99.
fn plot(path: &std::path::Path, sides: &[Side; 2], rows: &[Row]) -> anyhow::Result<()> {
    let buys: Vec<&Row> = rows
        .iter()
        .filter(|r| r.mix == Mix::KeepAlive(Workload::Write))
        .collect();
    let series = |label: String, color, secondary, pick: &dyn Fn(&Row) -> f64| Series {
        label,
        points: buys
            .iter()
            .map(|r| (r.connections as f64, pick(r)))
            .collect(),
        secondary,
        color,
    };
    let panel = |title: &str, y_label: &str, series: Vec<Series>| LineChart {
        title: title.to_string(),
        x_label: "keep-alive connections".into(),
        y_label: y_label.to_string(),
        log2_x: true,
        windows: Vec::new(),
        series,
    };
    let (a, b) = (sides[0].name, sides[1].name);
    chart::write_grid(
        path,
        &[
            panel(
                "Buys: throughput",
                "successful buys per second",
                vec![
                    series(a.to_string(), 0, false, &|r| r.sides[0].rate),
                    series(b.to_string(), 1, false, &|r| r.sides[1].rate),
                ],
            ),
            panel(
                "Buys: latency",
                "latency (ms)",
                vec![
                    series(format!("{a} p50"), 0, false, &|r| r.sides[0].p50),
                    series(format!("{b} p50"), 1, false, &|r| r.sides[1].p50),
                    series(format!("{a} p99"), 0, true, &|r| r.sides[0].p99),
                    series(format!("{b} p99"), 1, true, &|r| r.sides[1].p99),
                ],
            ),
        ],
        2,
    )
}
