//! What each fault kind does to buys, over the histories of many runs: how many buys
//! invoked during its windows were answered ok, failed or were lost, how slow the ok ones
//! were, and the longest stretch without any ok buy (the outage a client sees). Buys
//! invoked while no fault was in force are the baseline row, `none`.

use std::collections::BTreeMap;

use crate::history::{self, Event, EventType, Function};
use crate::stats::{median, percentile};

/// The row of buys invoked while no fault was in force.
pub(crate) const BASELINE: &str = "none";

/// One fault kind's effect on buys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Effect {
    pub(crate) kind: String,
    /// Fault windows of this kind.
    pub(crate) windows: usize,
    pub(crate) buys: usize,
    pub(crate) ok: usize,
    pub(crate) fail: usize,
    pub(crate) info: usize,
    /// Latency of the ok buys, p50 and p99, milliseconds.
    pub(crate) ok_p50_ms: f64,
    pub(crate) ok_p99_ms: f64,
    /// Per window, the longest time without an ok buy completing: the median and the
    /// largest over this kind's windows, seconds.
    pub(crate) gap_median_s: f64,
    pub(crate) gap_max_s: f64,
}

impl Effect {
    /// Share of the buys answered ok, percent.
    pub(crate) fn ok_percent(&self) -> f64 {
        100.0 * self.ok as f64 / self.buys.max(1) as f64
    }
}

#[derive(Default)]
struct Tally {
    windows: usize,
    ok: usize,
    fail: usize,
    info: usize,
    latencies_ms: Vec<f64>,
    gaps_s: Vec<f64>,
}

/// The effect of every fault kind met in `runs` (one history each), the baseline first.
pub(crate) fn tally(runs: &[&[Event]]) -> anyhow::Result<Vec<Effect>> {
    let mut kinds: BTreeMap<String, Tally> = BTreeMap::new();
    kinds.entry(BASELINE.to_string()).or_default();
    for events in runs {
        let windows: Vec<(String, u64, u64)> = history::fault_windows(events)
            .into_iter()
            .filter(|(_, target, _, _)| target != "none")
            .map(|(kind, _, start, stop)| (kind, start, stop))
            .collect();
        let buys: Vec<history::Op> = history::pair(events)?
            .into_iter()
            .filter(|op| op.f == Function::Buy)
            .collect();
        let mut ok_done: Vec<u64> = buys
            .iter()
            .filter(|op| op.outcome() == EventType::Ok)
            .filter_map(|op| op.completion.as_ref().map(|c| c.time_ns))
            .collect();
        ok_done.sort_unstable();
        for (kind, start, stop) in &windows {
            let tally = kinds.entry(kind.clone()).or_default();
            tally.windows += 1;
            tally
                .gaps_s
                .push(longest_gap(&ok_done, *start, *stop) as f64 / 1e9);
        }
        for op in &buys {
            let at = op.invoke.time_ns;
            let mut during: Vec<&str> = windows
                .iter()
                .filter(|(_, start, stop)| (*start..=*stop).contains(&at))
                .map(|(kind, _, _)| kind.as_str())
                .collect();
            during.sort_unstable();
            during.dedup();
            if during.is_empty() {
                during.push(BASELINE);
            }
            for kind in during {
                let tally = kinds.entry(kind.to_string()).or_default();
                match (op.outcome(), &op.completion) {
                    (EventType::Ok, Some(done)) => {
                        tally.ok += 1;
                        tally
                            .latencies_ms
                            .push(done.time_ns.saturating_sub(at) as f64 / 1e6);
                    }
                    (EventType::Fail, _) => tally.fail += 1,
                    _ => tally.info += 1,
                }
            }
        }
    }
    let mut effects: Vec<Effect> = kinds
        .into_iter()
        .map(|(kind, mut tally)| {
            tally.latencies_ms.sort_by(f64::total_cmp);
            Effect {
                windows: tally.windows,
                buys: tally.ok + tally.fail + tally.info,
                ok: tally.ok,
                fail: tally.fail,
                info: tally.info,
                ok_p50_ms: percentile(&tally.latencies_ms, 0.50),
                ok_p99_ms: percentile(&tally.latencies_ms, 0.99),
                gap_median_s: median(&tally.gaps_s),
                gap_max_s: tally.gaps_s.iter().copied().fold(f64::NAN, f64::max),
                kind,
            }
        })
        .collect();
    effects.sort_by_key(|e| e.kind != BASELINE);
    Ok(effects)
}

/// The longest time in `[start, stop]` between ok completions (`sorted`), counting from
/// the window's start and to its stop.
fn longest_gap(sorted: &[u64], start: u64, stop: u64) -> u64 {
    let from = sorted.partition_point(|t| *t < start);
    let to = sorted.partition_point(|t| *t <= stop);
    let mut last = start;
    let mut longest = 0;
    for &t in &sorted[from..to] {
        longest = longest.max(t - last);
        last = t;
    }
    longest.max(stop.saturating_sub(last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Builds a history from (process, type, f, value, seconds) rows.
    fn history(rows: &[(i64, &str, &str, serde_json::Value, f64)]) -> Vec<Event> {
        rows.iter()
            .enumerate()
            .map(|(index, (process, kind, f, value, seconds))| {
                serde_json::from_value(json!({
                    "index": index, "process": process, "type": kind, "f": f,
                    "value": value, "time_ns": (seconds * 1e9) as u64,
                }))
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn buys_are_counted_under_the_faults_in_force_when_they_were_sent() {
        let buy = json!({"name": "Tux", "quantity": 1, "key": "k"});
        let kill = |phase| json!({"fault": "kill", "target": "node-1", "phase": phase});
        let events = history(&[
            (0, "invoke", "buy", buy.clone(), 0.0),
            (0, "ok", "buy", json!({"order_number": 0}), 0.010),
            (-1, "info", "nemesis", kill("start"), 1.0),
            (1, "invoke", "buy", buy.clone(), 1.5),
            (1, "info", "buy", json!({}), 4.0),
            (2, "invoke", "buy", buy.clone(), 2.0),
            (2, "ok", "buy", json!({"order_number": 1}), 2.5),
            (-1, "info", "nemesis", kill("stop"), 3.0),
            (3, "invoke", "buy", buy.clone(), 3.5),
            (3, "fail", "buy", json!({"code": 409}), 3.6),
        ]);
        let effects = tally(&[&events]).unwrap();
        assert_eq!(effects.len(), 2);
        let (none, kill) = (&effects[0], &effects[1]);
        assert_eq!(none.kind, BASELINE);
        assert_eq!((none.buys, none.ok, none.fail, none.info), (2, 1, 1, 0));
        assert!((none.ok_p50_ms - 10.0).abs() < 1e-6);
        assert_eq!(kill.kind, "kill");
        assert_eq!(kill.windows, 1);
        assert_eq!((kill.buys, kill.ok, kill.fail, kill.info), (2, 1, 0, 1));
        assert!((kill.ok_p99_ms - 500.0).abs() < 1e-6);
        assert!((kill.ok_percent() - 50.0).abs() < 1e-9);
        // The window runs 1.0 to 3.0 s with one ok at 2.5 s: the longest gap is 1.5 s.
        assert!((kill.gap_max_s - 1.5).abs() < 1e-6, "{kill:?}");
    }

    #[test]
    fn a_window_without_any_ok_is_one_gap_and_failed_starts_are_not_windows() {
        assert_eq!(longest_gap(&[], 10, 30), 20);
        assert_eq!(longest_gap(&[5, 12, 20, 40], 10, 30), 10);
        let events = history(&[
            (
                -1,
                "info",
                "nemesis",
                json!({"fault": "disk", "target": "none", "phase": "start", "error": "no fiu"}),
                1.0,
            ),
            (
                0,
                "invoke",
                "buy",
                json!({"name": "Tux", "quantity": 1, "key": "k"}),
                2.0,
            ),
            (0, "ok", "buy", json!({"order_number": 0}), 2.1),
        ]);
        let effects = tally(&[&events]).unwrap();
        assert_eq!(effects.len(), 1, "{effects:?}");
        assert_eq!(effects[0].ok, 1);
    }
}
