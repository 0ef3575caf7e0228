//! What a test run leaves for people: `report.md`, `latency.png`, `rate.png`, and the
//! summary table on stdout.

use std::collections::BTreeMap;
use std::path::Path;

use crate::chart::{self, LineChart, PointGroup, Series, Timeline};
use crate::checker::Results;
use crate::history::{self, Event, EventType, Function};
use crate::markdown::Table;

/// The summary table: one row per check, then the counts.
pub(crate) fn summary(results: &Results) -> String {
    let mut checks = Table::new(&["check", "valid", "anomalies"]);
    for (name, check) in &results.checks {
        checks.row(vec![
            name.clone(),
            if check.valid { "yes" } else { "NO" }.to_string(),
            check.anomalies.len().to_string(),
        ]);
    }
    let stats = &results.stats;
    let mut counts = Table::new(&["ops", "ok", "fail", "info", "ops/s", "faults", "orders"]);
    counts.row(vec![
        stats["ops"].to_string(),
        stats["ok"].to_string(),
        stats["fail"].to_string(),
        stats["info"].to_string(),
        format!("{:.1}", stats["ops_per_s"].as_f64().unwrap_or(0.0)),
        stats["faults"].to_string(),
        stats["orders"].to_string(),
    ]);
    format!(
        "{}\n{}\nVerdict: {}\n",
        checks.render(),
        counts.render(),
        if results.valid {
            "VALID"
        } else {
            "ANOMALIES FOUND"
        }
    )
}

/// Each anomaly on one line: check, op indexes, explanation.
pub(crate) fn anomaly_lines(results: &Results) -> Vec<String> {
    results
        .checks
        .iter()
        .flat_map(|(name, check)| {
            check
                .anomalies
                .iter()
                .map(move |a| format!("{name}: ops {:?}: {}", a.ops, a.explanation))
        })
        .collect()
}

pub(crate) fn write_report(
    dir: &Path,
    command: &str,
    events: &[Event],
    results: &Results,
) -> anyhow::Result<()> {
    let mut by_f = Table::new(&[
        "function",
        "ok",
        "fail",
        "info",
        "ok p50 ms",
        "ok p99 ms",
        "ok max ms",
    ]);
    if let Some(map) = results.stats["by_function"].as_object() {
        for (f, counts) in map {
            let latency = &results.stats["ok_latency_ms"][f];
            let ms = |q: &str| {
                latency[q]
                    .as_f64()
                    .map_or("-".to_string(), crate::markdown::ms)
            };
            by_f.row(vec![
                f.clone(),
                counts["ok"].as_u64().unwrap_or(0).to_string(),
                counts["fail"].as_u64().unwrap_or(0).to_string(),
                counts["info"].as_u64().unwrap_or(0).to_string(),
                ms("p50"),
                ms("p99"),
                ms("max"),
            ]);
        }
    }
    let mut faults = Table::new(&["start (s)", "stop (s)", "fault", "target", "note"]);
    let notes = fault_notes(events);
    for (fault, target, start, stop) in history::fault_windows(events) {
        let note = notes.get(&(fault.clone(), target.clone())).cloned();
        faults.row(vec![
            format!("{:.1}", start as f64 / 1e9),
            format!("{:.1}", stop as f64 / 1e9),
            fault,
            target,
            note.map_or_else(String::new, |n| n.join("; ")),
        ]);
    }
    let anomalies = anomaly_lines(results);
    let anomaly_text = if anomalies.is_empty() {
        "None.\n".to_string()
    } else {
        anomalies.iter().map(|a| format!("- {a}\n")).collect()
    };
    let text = format!(
        "# jepsen-like test report\n\n{}\n\nCommand: `{command}`\n\n## Verdict\n\n{}\n\
         ## Operations by function\n\n{}\n## Faults\n\n{}\n## Anomalies\n\n{anomaly_text}\n\
         ## Plots\n\n![latency](latency.png)\n\n![rate](rate.png)\n",
        crate::markdown::machine_line(),
        summary(results),
        by_f.render(),
        faults.render(),
    );
    std::fs::write(dir.join("report.md"), text)?;
    write_plots(dir, events)
}

/// The `note`s and `error`s of nemesis events, by (fault, target); an error is marked.
fn fault_notes(events: &[Event]) -> BTreeMap<(String, String), Vec<String>> {
    let mut notes: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for event in events.iter().filter(|e| e.f == Function::Nemesis) {
        let key = (
            event.str_field("fault").unwrap_or("?").to_string(),
            event.str_field("target").unwrap_or("?").to_string(),
        );
        if let Some(note) = event.str_field("note") {
            notes.entry(key.clone()).or_default().push(note.to_string());
        }
        if let Some(error) = event.str_field("error") {
            notes
                .entry(key)
                .or_default()
                .push(format!("**error**: {error}"));
        }
    }
    notes
}

/// `latency.png` and `rate.png`, fault windows shaded.
pub(crate) fn write_plots(dir: &Path, events: &[Event]) -> anyhow::Result<()> {
    let ops = history::pair(events)?;
    let windows: Vec<(f64, f64)> = history::fault_windows(events)
        .into_iter()
        .map(|(_, _, a, b)| (a as f64 / 1e9, b as f64 / 1e9))
        .collect();
    let mut groups: BTreeMap<(usize, String), Vec<(f64, f64)>> = BTreeMap::new();
    let mut per_second: BTreeMap<EventType, BTreeMap<u64, f64>> = BTreeMap::new();
    for op in &ops {
        let Some(done) = &op.completion else { continue };
        let start_s = op.invoke.time_ns as f64 / 1e9;
        let latency_ms = (done.time_ns - op.invoke.time_ns) as f64 / 1e6;
        let key = match (op.f, done.kind) {
            (Function::Buy, EventType::Ok) => (0, "buy ok"),
            (Function::ReadOrder, EventType::Ok) => (1, "read_order ok"),
            (Function::Query, EventType::Ok) => (2, "query ok"),
            (_, EventType::Fail) => (3, "fail (definite)"),
            _ => (4, "info (indeterminate)"),
        };
        groups
            .entry((key.0, key.1.to_string()))
            .or_default()
            .push((start_s, latency_ms));
        *per_second
            .entry(done.kind)
            .or_default()
            .entry(done.time_ns / 1_000_000_000)
            .or_default() += 1.0;
    }
    chart::write_timeline(
        &dir.join("latency.png"),
        &Timeline {
            title: "Latency of every operation (fault windows shaded)".into(),
            groups: groups
                .into_iter()
                .map(|((color, label), points)| PointGroup {
                    label,
                    points,
                    color,
                })
                .collect(),
            marks: Vec::new(),
            windows: windows.clone(),
            y_label: "latency (ms)".into(),
        },
    )?;
    let seconds = events.last().map_or(0, |e| e.time_ns / 1_000_000_000);
    let series = rate_series(&per_second, seconds);
    chart::write_lines(
        &dir.join("rate.png"),
        &[LineChart {
            title: "Completions per second (fault windows shaded)".into(),
            x_label: "time since start (s)".into(),
            y_label: "operations completed per second".into(),
            log2_x: false,
            series,
            windows,
        }],
    )
}

/// Completions per second of each outcome, every second from 0 to `seconds`.
fn rate_series(per_second: &BTreeMap<EventType, BTreeMap<u64, f64>>, seconds: u64) -> Vec<Series> {
    [
        (EventType::Ok, "ok", 2),
        (EventType::Fail, "fail", 3),
        (EventType::Info, "info", 4),
    ]
    .into_iter()
    .map(|(kind, label, color)| {
        let counts = per_second.get(&kind);
        Series {
            label: label.to_string(),
            points: (0..=seconds)
                .map(|s| {
                    let n = counts.and_then(|c| c.get(&s)).copied().unwrap_or(0.0);
                    (s as f64, n)
                })
                .collect(),
            secondary: false,
            color,
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::history::Recorder;

    #[test]
    fn notes_and_errors_of_a_fault_are_gathered() {
        let recorder = Recorder::new();
        let event = |value| recorder.nemesis_value(value);
        event(json!({"fault": "snapshot", "target": "node-2", "phase": "start"}));
        event(
            json!({"fault": "snapshot", "target": "node-2", "phase": "stop", "note": "installed"}),
        );
        event(json!({"fault": "disk", "target": "none", "phase": "start", "error": "no fiu"}));
        let notes = super::fault_notes(&recorder.events());
        let of =
            |fault: &str, target: &str| notes[&(fault.to_string(), target.to_string())].clone();
        assert_eq!(of("snapshot", "node-2"), vec!["installed"]);
        assert_eq!(of("disk", "none"), vec!["**error**: no fiu"]);
    }
}
