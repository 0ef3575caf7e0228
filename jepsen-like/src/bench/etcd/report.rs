//! The comparison's figures: medians over rounds per side, the table with toystore/etcd
//! ratios, the memory table and the plot of writes against connections.

use std::path::Path;

use super::targets::Workload;
use crate::chart::{self, LineChart, Series};
use crate::markdown::{ms, Table};
use crate::stats::{median_by, Summary};

/// One side of a row: medians over the rounds, errors their total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) rate: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) errors: usize,
}

impl Point {
    /// Medians of throughput, p50 and p99 over `rounds`; errors summed.
    pub(crate) fn of(rounds: &[Summary]) -> Point {
        Point {
            rate: median_by(rounds, |s| s.throughput),
            p50: median_by(rounds, |s| s.p50_ms),
            p99: median_by(rounds, |s| s.p99_ms),
            errors: rounds.iter().map(|s| s.errors).sum(),
        }
    }
}

/// One line of the comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    pub(crate) workload: Workload,
    pub(crate) connections: usize,
    pub(crate) toystore: Point,
    pub(crate) etcd: Point,
}

/// `a / b`, when both are finite numbers and `b` is positive.
pub(crate) fn ratio(a: f64, b: f64) -> Option<f64> {
    (a.is_finite() && b.is_finite() && b > 0.0).then(|| a / b)
}

fn show_ratio(a: f64, b: f64) -> String {
    ratio(a, b).map_or_else(|| "-".to_string(), |r| format!("{r:.2}"))
}

/// The comparison table: each figure for toystore and etcd, and toystore/etcd.
pub(crate) fn table(rows: &[Row]) -> Table {
    let mut table = Table::new(&[
        "toystore vs etcd",
        "conns",
        "toystore ops/s",
        "etcd ops/s",
        "ops/s ratio",
        "toystore p50 ms",
        "etcd p50 ms",
        "p50 ratio",
        "toystore p99 ms",
        "etcd p99 ms",
        "p99 ratio",
        "errors (t/e)",
    ]);
    for row in rows {
        let (t, e) = (row.toystore, row.etcd);
        let (left, right) = row.workload.labels();
        table.row(vec![
            format!("{left} vs {right}"),
            row.connections.to_string(),
            format!("{:.0}", t.rate),
            format!("{:.0}", e.rate),
            show_ratio(t.rate, e.rate),
            ms(t.p50),
            ms(e.p50),
            show_ratio(t.p50, e.p50),
            ms(t.p99),
            ms(e.p99),
            show_ratio(t.p99, e.p99),
            format!("{}/{}", t.errors, e.errors),
        ]);
    }
    table
}

/// Resident memory per process, then each system's total.
pub(crate) fn memory_table(toystore: &[(String, u64)], etcd: &[(String, u64)]) -> Table {
    let mut table = Table::new(&["process", "RSS MiB"]);
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    for (name, kib) in toystore.iter().chain(etcd) {
        table.row(vec![name.clone(), mib(*kib)]);
    }
    for (system, members) in [("toystore", toystore), ("etcd", etcd)] {
        if !members.is_empty() {
            let total = members.iter().map(|(_, kib)| kib).sum();
            table.row(vec![format!("**{system} total**"), mib(total)]);
        }
    }
    table
}

/// Writes against connections: throughput on the left, p50 and p99 on the right.
pub(crate) fn plot(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let writes: Vec<&Row> = rows
        .iter()
        .filter(|r| r.workload == Workload::Write)
        .collect();
    let series = |label: &str, color, secondary, pick: &dyn Fn(&Row) -> f64| Series {
        label: label.to_string(),
        points: writes
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
    chart::write_grid(
        path,
        &[
            panel(
                "Writes: throughput",
                "successful writes per second",
                vec![
                    series("toystore buys", 0, false, &|r| r.toystore.rate),
                    series("etcd puts", 1, false, &|r| r.etcd.rate),
                ],
            ),
            panel(
                "Writes: latency",
                "latency (ms)",
                vec![
                    series("buy p50", 0, false, &|r| r.toystore.p50),
                    series("put p50", 1, false, &|r| r.etcd.p50),
                    series("buy p99", 0, true, &|r| r.toystore.p99),
                    series("put p99", 1, true, &|r| r.etcd.p99),
                ],
            ),
        ],
        2,
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn point(rate: f64, p50: f64, p99: f64, errors: usize) -> Point {
        Point {
            rate,
            p50,
            p99,
            errors,
        }
    }

    #[test]
    fn ratios_need_a_positive_denominator() {
        assert_eq!(ratio(50.0, 200.0), Some(0.25));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
        assert_eq!(show_ratio(3.0, 0.0), "-");
    }

    #[test]
    fn a_point_takes_medians_over_rounds() {
        let rounds: Vec<Summary> = [vec![1.0, 2.0, 3.0], vec![5.0; 6], vec![2.0; 4]]
            .iter()
            .map(|l| Summary::of(l, 1, Duration::from_secs(1)))
            .collect();
        let p = Point::of(&rounds);
        assert_eq!(p, point(4.0, 2.0, 3.0, 3));
    }

    #[test]
    fn renders_the_comparison_and_memory_tables() {
        let row = Row {
            workload: Workload::Write,
            connections: 16,
            toystore: point(500.0, 30.0, 60.0, 1),
            etcd: point(2000.0, 7.5, 20.0, 0),
        };
        let text = table(&[row]).render();
        let line = text.lines().nth(2).unwrap();
        assert_eq!(
            line,
            "| buy vs put | 16 | 500 | 2000 | 0.25 | 30.00 | 7.50 | 4.00 | 60.00 | 20.00 | 3.00 | 1/0 |"
        );
        assert!(!text.to_lowercase().contains("nan"));
        let memory = memory_table(&[("node-1".into(), 2048)], &[("etcd-1".into(), 1024)]);
        let text = memory.render();
        assert!(text.contains("| node-1 | 2.0 |"), "{text}");
        assert!(text.contains("| **etcd total** | 1.0 |"), "{text}");
    }
}
