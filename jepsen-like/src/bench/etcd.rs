//! toystore against etcd (contract section 8; "Buys at etcd speed"): one closed-loop load
//! generator ([`crate::loadgen`]) drives the bench's toystore cluster and a 3-member etcd
//! started beside it, alternating A B A B in one run:
//!
//! - buys (`POST /orders`) vs puts (`/v3/kv/put`) at 1, 16, 64 and 256 connections;
//! - linearizable order reads (`GET /orders/{n}`) vs linearizable gets (`/v3/kv/range`);
//! - cached product queries vs serializable gets;
//!
//! with toystore/etcd ratios, and the RSS of every process after the 64-connection writes.
//! Writes `<out>/etcd.md` and `<out>/etcd.png`. Not part of `bench all`: it needs the
//! `etcd-server` package.

mod report;
mod server;
mod targets;

use std::time::Duration;

use anyhow::Context;
use toystore_api::Transport;

pub(crate) use self::report::Point;
use self::report::Row;
pub(crate) use self::server::etcd_binary;
pub(crate) use self::server::rss_kib;
use self::server::EtcdCluster;
use self::targets::seed_etcd;
pub(crate) use self::targets::{Targets, Workload};
use super::context::BenchContext;
use crate::clients::{fresh_key, progress, toy, toy_count};
use crate::loadgen::closed_loop;
use crate::markdown as md;
use crate::stats::Summary;

/// Connections per point, how long, how many A B rounds.
struct Plan {
    write_connections: &'static [usize],
    read_connections: usize,
    /// The write point after which the RSS is read.
    rss_connections: usize,
    window: Duration,
    rounds: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                write_connections: &[1, 16],
                read_connections: 16,
                rss_connections: 16,
                window: Duration::from_secs(1),
                rounds: 1,
            }
        } else {
            Plan {
                write_connections: &[1, 16, 64, 256],
                read_connections: 64,
                rss_connections: 64,
                window: Duration::from_secs(3),
                rounds: 3,
            }
        }
    }

    /// Every row's (workload, connections), writes first (reads need the orders).
    fn points(&self) -> Vec<(Workload, usize)> {
        let mut points: Vec<_> = self
            .write_connections
            .iter()
            .map(|&c| (Workload::Write, c))
            .collect();
        points.push((Workload::LinearRead, self.read_connections));
        points.push((Workload::CachedRead, self.read_connections));
        points
    }
}

/// RSS in KiB of the toystore processes and of the etcd members.
type Memory = (Vec<(String, u64)>, Vec<(String, u64)>);

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let binary = etcd_binary()?;
    let version = server::version(&binary);
    let plan = Plan::new(ctx.quick);
    println!("starting a 3-member etcd ({version})");
    let mut etcd = EtcdCluster::start(&binary, 3).await?;
    let result = measure_and_report(ctx, &plan, &etcd, &version).await;
    etcd.stop();
    result
}

async fn measure_and_report(
    ctx: &mut BenchContext<'_>,
    plan: &Plan,
    etcd: &EtcdCluster,
    version: &str,
) -> anyhow::Result<()> {
    seed_etcd(&etcd.client_urls()[0]).await?;
    let mut targets = Targets {
        gateway: ctx.gateway.base_url().to_string(),
        etcd: etcd.client_urls(),
        orders: 0,
    };
    let (rows, memory) = measure_all(ctx, plan, &mut targets, etcd).await?;
    write_report(ctx, plan, &rows, &memory, version)
}

async fn measure_all(
    ctx: &mut BenchContext<'_>,
    plan: &Plan,
    targets: &mut Targets,
    etcd: &EtcdCluster,
) -> anyhow::Result<(Vec<Row>, Memory)> {
    let points = plan.points();
    let bar = progress((points.len() * plan.rounds * 2) as u64, "etcd");
    let mut rows = Vec::new();
    let mut memory = (Vec::new(), Vec::new());
    for (workload, connections) in points {
        if workload == Workload::LinearRead {
            targets.orders = order_count(ctx).await?;
            for index in 0..toy_count() {
                let _ = ctx.gateway.product(toy(index)).await; // warm the cache
            }
        }
        let mut sides: [Vec<Summary>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..plan.rounds {
            let sides_of = [
                (targets.toystore(workload), ctx.public.clone()),
                (targets.etcd(workload), Transport::default()),
            ];
            for (side, (make, transport)) in sides_of.into_iter().enumerate() {
                let summary = closed_loop(connections, plan.window, &transport, make).await?;
                let (name, _) = workload.labels();
                anyhow::ensure!(
                    summary.is_sane(),
                    "{name} side {side} at {connections}: {summary:?}"
                );
                sides[side].push(summary);
                bar.inc(1);
            }
        }
        if workload == Workload::Write && connections == plan.rss_connections {
            memory = read_memory(ctx, etcd);
        }
        rows.push(Row {
            workload,
            connections,
            toystore: Point::of(&sides[0]),
            etcd: Point::of(&sides[1]),
        });
    }
    bar.finish_and_clear();
    Ok((rows, memory))
}

/// How many orders exist: one more buy, whose number is the highest (numbers are dense
/// from 0 and the bench is the only client).
async fn order_count(ctx: &BenchContext<'_>) -> anyhow::Result<u64> {
    let created = ctx
        .gateway
        .buy(toy(0), 1, Some(&fresh_key()))
        .await
        .context("a buy before the order reads")?;
    Ok(created.order_number + 1)
}

fn read_memory(ctx: &mut BenchContext<'_>, etcd: &EtcdCluster) -> Memory {
    let rss = |pids: Vec<(String, u32)>| {
        pids.into_iter()
            .filter_map(|(name, pid)| Some((name, rss_kib(pid)?)))
            .collect::<Vec<_>>()
    };
    let toystore = ctx.cluster.as_mut().map(|c| c.pids()).unwrap_or_default();
    (rss(toystore), rss(etcd.pids()))
}

fn write_report(
    ctx: &BenchContext<'_>,
    plan: &Plan,
    rows: &[Row],
    memory: &Memory,
    version: &str,
) -> anyhow::Result<()> {
    let table = report::table(rows);
    let memory_note = if memory.0.is_empty() {
        " (toystore's processes were not started by the bench: not measured)"
    } else {
        ""
    };
    let body = format!(
        "One closed-loop load generator for both sides: one task per keep-alive connection, \
         each sending its next request when the last is answered; {:.1} s per point, \
         alternating toystore and etcd (A B A B) over {} round(s); medians over rounds, errors \
         summed. Ratios are toystore / etcd: an ops/s ratio below 1 or a latency ratio above 1 \
         means etcd is faster. etcd: {version}, 3 members on this machine with default settings \
         (fsync on), connections spread over the members. toystore: a buy reserves at the \
         catalog and commits through Raft, flushed on a majority, before it answers; order \
         reads are linearizable on the leader; queries hit the gateway's cache{}.\n\n{}\n\
         Resident memory (VmRSS) after the {}-connection buys and puts{memory_note}:\n\n{}",
        plan.window.as_secs_f64(),
        plan.rounds,
        if ctx.cache_on {
            ""
        } else {
            " (off in this run)"
        },
        table.render(),
        plan.rss_connections,
        report::memory_table(&memory.0, &memory.1).render(),
    );
    md::write_markdown(
        &ctx.out,
        "etcd",
        "toystore vs etcd: same load generator, same machine",
        &body,
    )?;
    report::plot(&ctx.out.join("etcd.png"), rows)?;
    println!("{}", table.render());
    Ok(())
}
