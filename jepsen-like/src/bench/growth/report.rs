//! The growth bench's report: two tables (buys beside the small store; memory, disk and
//! maintenance), a verdict, and four charts.

use std::collections::BTreeMap;
use std::path::Path;

use super::plan::{Plan, CONNECTIONS};
use super::windows::Buys;
use crate::chart::{write_grid, LineChart, Series};
use crate::markdown as md;
use crate::stats::Summary;

/// "catalog 110 · leader 140 · followers 65, 70 · gateway 60" (µs of CPU per buy).
fn cpu_cell(cpu_us: &BTreeMap<String, f64>, leader: u64) -> String {
    let leader_name = format!("node-{leader}");
    let followers: Vec<String> = cpu_us
        .iter()
        .filter(|(name, _)| name.starts_with("node-") && **name != leader_name)
        .map(|(_, us)| format!("{us:.0}"))
        .collect();
    let one = |name: &str| {
        cpu_us
            .get(name)
            .map_or("-".to_string(), |us| format!("{us:.0}"))
    };
    format!(
        "catalog {} · leader {} · followers {} · gateway {}",
        one("catalog"),
        one(&leader_name),
        if followers.is_empty() {
            "-".to_string()
        } else {
            followers.join(", ")
        },
        one("gateway"),
    )
}

/// What one size measured.
pub(super) struct Row {
    /// Orders held when the store was measured (the buys after add more).
    pub orders: u64,
    /// Buys as filled, before the snapshot, restart and catch-up below.
    pub steady: Buys,
    /// The small store's buys, in the windows between `steady`'s.
    pub small: Buys,
    /// Orders the small store held when its windows began.
    pub small_orders: u64,
    /// The small store's leader.
    pub small_leader: u64,
    /// Which node led during `steady`.
    pub leader: u64,
    /// Buys right after the snapshot, the restart and the fresh node's catch-up.
    pub buys_after: Summary,
    /// The largest of the nodes'.
    pub rss_mib: f64,
    pub disk_mib: f64,
    pub snapshot_s: f64,
    pub restart_s: f64,
    pub catch_up_s: f64,
}

/// Writes `growth.md` and `growth.png` for the rows measured so far.
pub(super) fn write(out: &Path, rows: &[Row], plan: &Plan) -> anyhow::Result<()> {
    let body = format!(
        "The bench fills its cluster with buys ({fill} connections, through the gateway) up to \
         each size, then measures, with `orders` the count held. Buys: {windows} windows of \
         {measure:.0} s at {CONNECTIONS} connections, taking turns (A B A B) with as many on a \
         small store: a second cluster started for the size, filled to the first size, and \
         stopped after, so both are measured in the same minutes; for each, the window of \
         median throughput, the slowest's, and the CPU time each process spent per buy \
         (catalog, leader, each follower, gateway), and what each cluster used while the \
         other's windows ran. Then, on the grown cluster alone: the largest node's VmRSS and \
         store on disk; the leader's `POST /cluster/snapshot` (build and purge the log); a \
         follower SIGKILLed and restarted, until it has applied what the leader had; a fresh, \
         empty node added as a learner, until the same (it installs the snapshot and replays \
         the rest), then taken out again; last, buys again (median window).\n\n\
         ### Buys, beside a small store\n\n{buys}{verdict}\n\n\
         ### Memory, disk and maintenance\n\n{upkeep}{catch_up}\n\n![growth](growth.png)\n",
        fill = plan.fill_connections,
        measure = plan.measure.as_secs_f64(),
        windows = plan.windows,
        buys = buys_table(rows).render(),
        verdict = verdict(rows),
        upkeep = upkeep_table(rows).render(),
        catch_up = catch_up_line(rows),
    );
    md::write_markdown(out, "growth", "How cost grows with the data", &body)?;
    write_chart(out, rows)
}

/// The grown store's buys/s over the small store's, measured in the same minutes.
fn ratio(row: &Row) -> f64 {
    row.steady.median.throughput / row.small.median.throughput.max(1e-9)
}

fn buys_table(rows: &[Row]) -> md::Table {
    let mut table = md::Table::new(&[
        "orders",
        "buys/s (64 conn)",
        "slowest window",
        "p50 ms",
        "p99 ms",
        "small store: orders",
        "small store: buys/s",
        "small store: slowest",
        "ratio",
        "CPU µs per buy",
        "small store: CPU µs per buy",
        "CPU while the other is measured, cores (this · small)",
    ]);
    let cores = |c: Option<f64>| c.map_or("-".to_string(), |c| format!("{c:.2}"));
    for row in rows {
        table.row(vec![
            row.orders.to_string(),
            format!("{:.0}", row.steady.median.throughput),
            format!("{:.0}", row.steady.slowest),
            md::ms(row.steady.median.p50_ms),
            md::ms(row.steady.median.p99_ms),
            row.small_orders.to_string(),
            format!("{:.0}", row.small.median.throughput),
            format!("{:.0}", row.small.slowest),
            format!("{:.2}", ratio(row)),
            cpu_cell(&row.steady.cpu_us, row.leader),
            cpu_cell(&row.small.cpu_us, row.small_leader),
            format!(
                "{} · {}",
                cores(row.steady.idle_cores),
                cores(row.small.idle_cores)
            ),
        ]);
    }
    table
}

fn upkeep_table(rows: &[Row]) -> md::Table {
    let mut table = md::Table::new(&[
        "orders",
        "node RSS MiB (max)",
        "node disk MiB (max)",
        "snapshot build s",
        "restart after SIGKILL s",
        "fresh node catch-up s",
        "catch-up µs per order",
        "buys/s after restart + catch-up",
    ]);
    for row in rows {
        table.row(vec![
            row.orders.to_string(),
            format!("{:.1}", row.rss_mib),
            format!("{:.1}", row.disk_mib),
            format!("{:.2}", row.snapshot_s),
            format!("{:.2}", row.restart_s),
            format!("{:.2}", row.catch_up_s),
            format!("{:.1}", catch_up_us(row)),
            format!("{:.0}", row.buys_after.throughput),
        ]);
    }
    table
}

fn catch_up_us(row: &Row) -> f64 {
    row.catch_up_s * 1e6 / row.orders.max(1) as f64
}

/// The largest size against the small store beside it, against the same at the first
/// size (where the two stores are alike, so the ratio shows what taking turns leaves of
/// noise), and against this cluster's own first row (minutes earlier).
fn verdict(rows: &[Row]) -> String {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) if rows.len() > 1 => format!(
            "\n\nBuys/s at {} orders are {:.2}x those of the small store ({} orders) measured \
             in the windows between theirs; at {} orders, where the two stores are alike, the \
             same ratio is {:.2}x. Against this cluster's own buys/s at {} orders, measured \
             minutes earlier, {:.2}x.",
            last.orders,
            ratio(last),
            last.small_orders,
            first.orders,
            ratio(first),
            first.orders,
            last.steady.median.throughput / first.steady.median.throughput.max(1e-9),
        ),
        _ => String::new(),
    }
}

fn catch_up_line(rows: &[Row]) -> String {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) if rows.len() > 1 => format!(
            "\n\nA fresh node's catch-up took {:.1} µs per order at {} orders and {:.1} at {}.",
            catch_up_us(first),
            first.orders,
            catch_up_us(last),
            last.orders,
        ),
        _ => String::new(),
    }
}

fn write_chart(out: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let line = |label: &str, color: usize, f: &dyn Fn(&Row) -> f64| Series {
        label: label.to_string(),
        points: rows.iter().map(|r| (r.orders as f64, f(r))).collect(),
        secondary: false,
        color,
    };
    let chart = |title: &str, y_label: &str, series: Vec<Series>| LineChart {
        title: title.to_string(),
        x_label: "orders in the store".into(),
        y_label: y_label.to_string(),
        log2_x: true,
        series,
        windows: Vec::new(),
    };
    write_grid(
        &out.join("growth.png"),
        &[
            chart(
                "Buys at 64 connections",
                "buys per second",
                vec![
                    line("buys/s", 0, &|r| r.steady.median.throughput),
                    line("small store, windows between", 2, &|r| {
                        r.small.median.throughput
                    }),
                    line("after restart + catch-up", 3, &|r| r.buys_after.throughput),
                ],
            ),
            chart(
                "Memory and disk of the largest node",
                "MiB",
                vec![
                    line("RSS", 1, &|r| r.rss_mib),
                    line("store on disk", 2, &|r| r.disk_mib),
                ],
            ),
            chart(
                "Snapshot, restart, catch-up",
                "seconds",
                vec![
                    line("snapshot build", 3, &|r| r.snapshot_s),
                    line("restart after SIGKILL", 4, &|r| r.restart_s),
                    line("fresh node catch-up", 5, &|r| r.catch_up_s),
                ],
            ),
            chart(
                "Catch-up per order",
                "microseconds per order",
                vec![line("fresh node", 5, &catch_up_us)],
            ),
        ],
        2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_cell_names_the_leader_and_lists_only_the_others_as_followers() {
        let cpu: BTreeMap<String, f64> = [
            ("catalog", 104.4),
            ("gateway", 50.6),
            ("node-1", 61.9),
            ("node-2", 143.2),
            ("node-3", 80.0),
        ]
        .into_iter()
        .map(|(name, us)| (name.to_string(), us))
        .collect();
        assert_eq!(
            cpu_cell(&cpu, 2),
            "catalog 104 · leader 143 · followers 62, 80 · gateway 51"
        );
        // A process the bench could not read is a dash, not a zero.
        assert_eq!(
            cpu_cell(&BTreeMap::new(), 1),
            "catalog - · leader - · followers - · gateway -"
        );
    }
}
