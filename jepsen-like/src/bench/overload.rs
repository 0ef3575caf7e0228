//! The gateway under abuse, measured rather than timed in a test:
//!
//! - **idle connections**: buys on one connection, alone and then while thousands of
//!   other connections sit open having sent half a request header (a slowloris client);
//!   the buys must keep their latency until the gateway's header timeout drops the rest.
//! - **overload**: buys from the saturating number of connections, then 4x and 16x that:
//!   the gateway must shed what it cannot serve within its deadline with fast `503`s,
//!   keeping its throughput, a bounded latency for what it admits, and flat memory.
//!
//! Writes `<out>/overload.md` and `<out>/overload.png`. Needs a cluster the bench started
//! (for the gateway's resident memory); with `--gateway` it skips.

use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::context::BenchContext;
use super::etcd::{rss_kib, Targets, Workload};
use crate::chart::{self, LineChart, Series};
use crate::clients::progress;
use crate::loadgen::{closed_loop, closed_loop_shed, ShedSummary};
use crate::markdown::{self as md, ms, Table};
use crate::stats::Summary;

/// Sizes and windows.
struct Plan {
    idle: usize,
    /// Saturating, then 4x and 16x.
    connections: [usize; 3],
    window: Duration,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                idle: 300,
                connections: [16, 64, 256],
                window: Duration::from_secs(1),
            }
        } else {
            Plan {
                idle: 3000,
                connections: [64, 256, 1024],
                window: Duration::from_secs(5),
            }
        }
    }
}

/// A line of the overload table.
struct Step {
    connections: usize,
    result: ShedSummary,
    /// The gateway's resident memory after the step, KiB.
    rss_kib: Option<u64>,
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let Some(cluster) = ctx.cluster.as_deref_mut() else {
        println!("overload: --gateway given; needs the gateway's process for its memory, skipped");
        return Ok(());
    };
    let gateway_pid = cluster
        .pids()
        .into_iter()
        .find(|(name, _)| name == "gateway")
        .map(|(_, pid)| pid);
    let gateway_addr = cluster.gateway_addr();
    // Thousands of sockets on this side too: lift the usual soft limit of 1024.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let plan = Plan::new(ctx.quick);
    let targets = Targets {
        gateway: ctx.gateway.base_url().to_string(),
        etcd: Vec::new(),
        orders: 0,
    };
    let rss = || gateway_pid.and_then(rss_kib);
    let bar = progress(2 + plan.connections.len() as u64, "overload");

    let alone = closed_loop(
        1,
        plan.window,
        &ctx.public,
        targets.toystore(Workload::Write),
    )
    .await?;
    bar.inc(1);
    let rss_before = rss();
    let idle = open_idle(&gateway_addr, plan.idle).await?;
    let crowded = closed_loop(
        1,
        plan.window,
        &ctx.public,
        targets.toystore(Workload::Write),
    )
    .await?;
    let rss_idle = rss();
    let still_open = idle.iter().filter(|s| is_open(s)).count();
    drop(idle);
    bar.inc(1);

    let mut steps = Vec::new();
    for &connections in &plan.connections {
        let make = targets.toystore(Workload::Write);
        let result = closed_loop_shed(connections, plan.window, &ctx.public, make).await?;
        steps.push(Step {
            connections,
            result,
            rss_kib: rss(),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let idle_table = idle_table(
        &alone, &crowded, plan.idle, still_open, rss_before, rss_idle,
    );
    let overload_table = overload_table(&steps);
    let body = format!(
        "**Idle connections.** Buys on one keep-alive connection for {window:.1} s, first \
         alone, then while {idle} other connections are open, each having sent half a request \
         header and nothing since (the gateway closes such a connection after its header \
         timeout, 30 s by default; its connection cap is 8,192).\n\n{}\n\
         **Overload.** Closed-loop buys for {window:.1} s from {} connections (enough to \
         saturate the cluster), then 4x and 16x as many. The gateway admits at most \
         `--max-pending-buys` (512) buys at once and answers the rest `503 overloaded` with \
         `Retry-After` at once, so throughput should hold, admitted buys wait a bounded time \
         and memory stays flat; shed answers are counted apart from other errors.\n\n{}",
        idle_table.render(),
        plan.connections[0],
        overload_table.render(),
        window = plan.window.as_secs_f64(),
        idle = plan.idle,
    );
    md::write_markdown(&ctx.out, "overload", "The gateway under abuse", &body)?;
    plot(&ctx.out.join("overload.png"), &steps)?;
    println!("{}\n{}", idle_table.render(), overload_table.render());
    Ok(())
}

/// Opens `count` connections that each send the start of a request header and stop.
async fn open_idle(addr: &str, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("idle connection {} to {addr}", streams.len()))?;
        stream
            .write_all(b"POST /orders HTTP/1.1\r\nHost: toystore\r\nContent-Length: 40\r\n")
            .await
            .context("half a header")?;
        streams.push(stream);
    }
    Ok(streams)
}

/// True while the server has neither closed `stream` nor answered on it.
fn is_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn idle_table(
    alone: &Summary,
    crowded: &Summary,
    idle: usize,
    still_open: usize,
    rss_before: Option<u64>,
    rss_idle: Option<u64>,
) -> Table {
    let mut table = Table::new(&[
        "buys on 1 connection",
        "buys/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "gateway RSS MiB",
    ]);
    let line = |label: String, s: &Summary, rss: Option<u64>| {
        vec![
            label,
            format!("{:.0}", s.throughput),
            ms(s.p50_ms),
            ms(s.p99_ms),
            s.errors.to_string(),
            mib(rss),
        ]
    };
    table.row(line("alone".to_string(), alone, rss_before));
    table.row(line(
        format!("with {idle} half-open connections ({still_open} still open after)"),
        crowded,
        rss_idle,
    ));
    table
}

fn overload_table(steps: &[Step]) -> Table {
    let mut table = Table::new(&[
        "connections",
        "load",
        "buys/s",
        "buy p50 ms",
        "buy p99 ms",
        "503s/s",
        "503 p99 ms",
        "other errors",
        "gateway RSS MiB",
    ]);
    let base = steps.first().map_or(1, |s| s.connections.max(1));
    for step in steps {
        let (ok, shed) = (step.result.ok, step.result.shed);
        let shed_rate = if shed.ok > 0 { shed.throughput } else { 0.0 };
        table.row(vec![
            step.connections.to_string(),
            format!("{}x", step.connections / base),
            format!("{:.0}", ok.throughput),
            ms(ok.p50_ms),
            ms(ok.p99_ms),
            format!("{shed_rate:.0}"),
            if shed.ok > 0 {
                ms(shed.p99_ms)
            } else {
                "-".to_string()
            },
            (ok.errors - shed.ok).to_string(),
            mib(step.rss_kib),
        ]);
    }
    table
}

/// Against connections: buys/s and 503s/s; admitted buys' p50 and p99.
fn plot(path: &std::path::Path, steps: &[Step]) -> anyhow::Result<()> {
    let series = |label: &str, color, secondary, pick: &dyn Fn(&Step) -> f64| Series {
        label: label.to_string(),
        points: steps
            .iter()
            .map(|s| (s.connections as f64, pick(s)))
            .collect(),
        secondary,
        color,
    };
    let panel = |title: &str, y_label: &str, series: Vec<Series>| LineChart {
        title: title.to_string(),
        x_label: "closed-loop connections".into(),
        y_label: y_label.to_string(),
        log2_x: true,
        windows: Vec::new(),
        series,
    };
    let shed_rate = |s: &Step| {
        if s.result.shed.ok > 0 {
            s.result.shed.throughput
        } else {
            0.0
        }
    };
    chart::write_grid(
        path,
        &[
            panel(
                "Answers per second",
                "per second",
                vec![
                    series("buys", 0, false, &|s| s.result.ok.throughput),
                    series("503 overloaded", 1, false, &shed_rate),
                ],
            ),
            panel(
                "Admitted buys: latency",
                "latency (ms)",
                vec![
                    series("p50", 0, false, &|s| s.result.ok.p50_ms),
                    series("p99", 0, true, &|s| s.result.ok.p99_ms),
                ],
            ),
        ],
        2,
    )
}
