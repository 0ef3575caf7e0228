//! Where a buy's time goes: buys at 1 and at 64 connections (quick: 1 and 8), each
//! between two readings of every service's `/metrics`; the difference of each stage
//! histogram's sum and count gives its mean over the window's buys.
//!
//! Stages, from the outside in: the gateway's `POST /orders` (routing, forwarding,
//! retries); the leader's `POST /orders`, split into lookup, reserve (one catalog round
//! trip) and commit (Raft); inside the reserve, the catalog's handler and its group flush;
//! inside the commit, the leader's log flush, the append round trip to a follower (the
//! follower's flush included) and the apply. A stage's mean is per event of that stage
//! (one flush serves many buys), so the table also gives events per buy.
//! Writes `<out>/breakdown.md` and `<out>/breakdown.png`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use toystore_api::Transport;

use super::context::BenchContext;
use super::etcd::{Targets, Workload};
use crate::chart::{write_bars, Bars};
use crate::clients::progress;
use crate::loadgen::closed_loop;
use crate::markdown as md;
use crate::stats::Summary;

/// One histogram of one service, by metric name and the labels that pick it.
struct Stage {
    label: &'static str,
    service: Service,
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Service {
    Gateway,
    Leader,
    Follower,
    Catalog,
}

const STAGES: &[Stage] = &[
    Stage {
        label: "gateway: POST /orders",
        service: Service::Gateway,
        metric: "gateway_http_request_duration_seconds",
        labels: &[("route", "/orders"), ("method", "POST")],
    },
    Stage {
        label: "leader: POST /orders",
        service: Service::Leader,
        metric: "raft_node_http_request_duration_seconds",
        labels: &[("route", "/orders"), ("method", "POST")],
    },
    Stage {
        label: "leader: lookup",
        service: Service::Leader,
        metric: "raft_node_buy_stage_seconds",
        labels: &[("stage", "lookup")],
    },
    Stage {
        label: "leader: reserve (catalog round trip)",
        service: Service::Leader,
        metric: "raft_node_buy_stage_seconds",
        labels: &[("stage", "reserve")],
    },
    Stage {
        label: "catalog: POST /reservations",
        service: Service::Catalog,
        metric: "catalog_http_request_duration_seconds",
        labels: &[("route", "/reservations"), ("method", "POST")],
    },
    Stage {
        label: "catalog: POST /batch/reservations",
        service: Service::Catalog,
        metric: "catalog_http_request_duration_seconds",
        labels: &[("route", "/batch/reservations"), ("method", "POST")],
    },
    Stage {
        label: "catalog: group flush",
        service: Service::Catalog,
        metric: "catalog_flush_seconds",
        labels: &[],
    },
    Stage {
        label: "leader: commit (Raft)",
        service: Service::Leader,
        metric: "raft_node_buy_stage_seconds",
        labels: &[("stage", "commit")],
    },
    Stage {
        label: "leader: log flush",
        service: Service::Leader,
        metric: "raft_node_log_flush_seconds",
        labels: &[],
    },
    Stage {
        label: "leader: append round trip to a follower",
        service: Service::Leader,
        metric: "raft_node_append_rpc_seconds",
        labels: &[],
    },
    Stage {
        label: "followers: log flush",
        service: Service::Follower,
        metric: "raft_node_log_flush_seconds",
        labels: &[],
    },
    Stage {
        label: "leader: apply",
        service: Service::Leader,
        metric: "raft_node_apply_seconds",
        labels: &[],
    },
];

/// A histogram's `(sum, count)`, summed over the processes of one service.
type Reading = BTreeMap<&'static str, (f64, f64)>;

/// Mean per event and events per buy of every stage over one window.
struct Row {
    connections: usize,
    buys: Summary,
    stages: Vec<(f64, f64)>,
}

pub(crate) async fn run(ctx: &mut BenchContext<'_>) -> anyhow::Result<()> {
    let Some(cluster) = ctx.cluster.as_deref() else {
        println!("breakdown: --gateway given; needs every service's /metrics, skipped");
        return Ok(());
    };
    let addrs = Addrs {
        gateway: cluster.gateway_addr(),
        catalog: cluster.catalog_addr(),
        nodes: cluster.node_addrs(),
    };
    let transport = cluster.transport();
    let (connections, window): (&[usize], _) = if ctx.quick {
        (&[1, 8], Duration::from_secs(1))
    } else {
        (&[1, 64], Duration::from_secs(8))
    };
    let targets = Targets {
        gateway: ctx.gateway.base_url().to_string(),
        etcd: Vec::new(),
        orders: 0,
    };
    let bar = progress(connections.len() as u64, "breakdown");
    let mut rows = Vec::new();
    for &conns in connections {
        // Warm the connections and the leader's view first, outside the readings.
        closed_loop(
            conns,
            Duration::from_millis(300),
            &ctx.public,
            targets.toystore(Workload::Write),
        )
        .await?;
        let before = read_all(&addrs, &transport).await?;
        let buys = closed_loop(
            conns,
            window,
            &ctx.public,
            targets.toystore(Workload::Write),
        )
        .await?;
        let after = read_all(&addrs, &transport).await?;
        let bought = buys.ok as f64;
        let stages = STAGES
            .iter()
            .map(|stage| {
                let (sum0, count0) = before.get(stage.label).copied().unwrap_or_default();
                let (sum1, count1) = after.get(stage.label).copied().unwrap_or_default();
                let events = count1 - count0;
                let mean_ms = if events > 0.0 {
                    (sum1 - sum0) / events * 1000.0
                } else {
                    f64::NAN
                };
                (mean_ms, events / bought.max(1.0))
            })
            .collect();
        rows.push(Row {
            connections: conns,
            buys,
            stages,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    write_report(ctx, &rows, window)
}

struct Addrs {
    gateway: String,
    catalog: String,
    nodes: Vec<(u64, String)>,
}

/// Every stage's `(sum, count)` now. The leader is the node whose `raft_is_leader` is 1.
async fn read_all(addrs: &Addrs, transport: &Transport) -> anyhow::Result<Reading> {
    let http = transport
        .http(|b| b.timeout(Duration::from_secs(5)))
        .context("metrics client")?;
    let scheme = http.scheme();
    let fetch = |addr: String| {
        let http = http.client().clone();
        async move {
            let url = format!("{scheme}://{addr}/metrics");
            let text = http
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            anyhow::Ok(text)
        }
    };
    let mut texts: Vec<(Service, String)> = vec![
        (Service::Gateway, fetch(addrs.gateway.clone()).await?),
        (Service::Catalog, fetch(addrs.catalog.clone()).await?),
    ];
    for (_, addr) in &addrs.nodes {
        let Ok(text) = fetch(addr.clone()).await else {
            continue; // a node down does not stop the reading
        };
        let leads = sample(&text, "raft_is_leader", &[]).is_some_and(|v| v == 1.0);
        let role = if leads {
            Service::Leader
        } else {
            Service::Follower
        };
        texts.push((role, text));
    }
    let mut reading = Reading::new();
    for stage in STAGES {
        let mut total = (0.0, 0.0);
        for (service, text) in &texts {
            if *service != stage.service {
                continue;
            }
            let sum = sample(text, &format!("{}_sum", stage.metric), stage.labels);
            let count = sample(text, &format!("{}_count", stage.metric), stage.labels);
            total.0 += sum.unwrap_or(0.0);
            total.1 += count.unwrap_or(0.0);
        }
        reading.insert(stage.label, total);
    }
    Ok(reading)
}

/// The value of the first sample of `name` in Prometheus text whose labels include
/// `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok()).flatten()
        })
}

fn write_report(ctx: &BenchContext<'_>, rows: &[Row], window: Duration) -> anyhow::Result<()> {
    let mut headers = vec!["stage".to_string()];
    for row in rows {
        headers.push(format!("{} conn: mean ms", row.connections));
        headers.push(format!("{} conn: per buy", row.connections));
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut table = md::Table::new(&headers);
    let mut cells = vec!["buys/s (p50 ms, p99 ms)".to_string()];
    for row in rows {
        cells.push(format!(
            "{:.0} ({}, {})",
            row.buys.throughput,
            md::ms(row.buys.p50_ms),
            md::ms(row.buys.p99_ms)
        ));
        cells.push(String::new());
    }
    table.row(cells);
    for (i, stage) in STAGES.iter().enumerate() {
        let mut cells = vec![stage.label.to_string()];
        for row in rows {
            let (mean, per_buy) = row.stages[i];
            cells.push(if mean.is_nan() {
                "-".into()
            } else {
                md::ms(mean)
            });
            cells.push(if per_buy > 0.0 {
                format!("{per_buy:.3}")
            } else {
                "-".into()
            });
        }
        table.row(cells);
    }
    let body = format!(
        "Buys through the gateway for {:.0} s per point, closed loop; every service's \
         `/metrics` read before and after. `mean ms` is the mean of one event of the \
         stage (a group flush, one append round trip, one catalog call), `per buy` how many \
         such events there were per buy: a flush shared by 40 buys shows 0.025. A buy waits \
         for the gateway's and the leader's handler once each; stages inside them overlap \
         with other buys'.\n\n{}",
        window.as_secs_f64(),
        table.render()
    );
    md::write_markdown(&ctx.out, "breakdown", "Where a buy's time goes", &body)?;
    write_chart(ctx, rows)
}

/// Mean ms of each stage as bars, one panel per connection count.
fn write_chart(ctx: &BenchContext<'_>, rows: &[Row]) -> anyhow::Result<()> {
    let panels: Vec<Bars> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| Bars {
            title: format!(
                "{} conn: {:.0} buys/s, mean ms per stage event",
                row.connections, row.buys.throughput
            ),
            x_label: "ms".into(),
            bars: STAGES
                .iter()
                .zip(&row.stages)
                .filter(|(_, (mean, _))| mean.is_finite())
                .map(|(stage, (mean, _))| (stage.label.to_string(), *mean))
                .collect(),
            color: i,
        })
        .collect();
    write_bars(&ctx.out.join("breakdown.png"), &panels)
}
