//! The checker: the contract's six checks over a history and a final state.
//!
//! - [`durable`] checks `acknowledged_orders_durable`.
//! - [`duplicates`] checks `no_duplicate_orders`.
//! - [`reads`] (with [`bounds`]) checks `order_reads_linearizable`.
//! - [`matching`] checks `orders_match_buys`.
//! - [`stock`] (with [`reservations`]) checks `stock_conserved`.
//! - [`converged`] checks `replicas_converged`.

pub(crate) mod bounds;
pub(crate) mod converged;
pub(crate) mod duplicates;
pub(crate) mod durable;
pub(crate) mod facts;
pub(crate) mod matching;
pub(crate) mod reads;
pub(crate) mod reservations;
pub(crate) mod stock;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::final_state::FinalState;
use crate::history::{self, Event, EventType, Function, Op};

pub(crate) use facts::{Anomaly, Facts};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CheckResult {
    pub(crate) valid: bool,
    pub(crate) anomalies: Vec<Anomaly>,
}

impl CheckResult {
    fn from(anomalies: Vec<Anomaly>) -> Self {
        CheckResult {
            valid: anomalies.is_empty(),
            anomalies,
        }
    }
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Results {
    pub(crate) valid: bool,
    pub(crate) checks: BTreeMap<String, CheckResult>,
    pub(crate) stats: Value,
}

/// Runs every check.
pub(crate) fn check(events: &[Event], final_state: &FinalState) -> anyhow::Result<Results> {
    let ops = history::pair(events)?;
    let facts = Facts::new(&ops, final_state);
    let mut checks = BTreeMap::new();
    checks.insert(
        "acknowledged_orders_durable".to_string(),
        CheckResult::from(durable::check(&facts)),
    );
    checks.insert(
        "no_duplicate_orders".to_string(),
        CheckResult::from(duplicates::check(&facts)),
    );
    checks.insert(
        "order_reads_linearizable".to_string(),
        CheckResult::from(reads::check(&facts)),
    );
    checks.insert(
        "orders_match_buys".to_string(),
        CheckResult::from(matching::check(&facts)),
    );
    checks.insert(
        "stock_conserved".to_string(),
        CheckResult::from(stock::check(&facts)),
    );
    checks.insert(
        "replicas_converged".to_string(),
        CheckResult::from(converged::check(&facts)),
    );
    let valid = checks.values().all(|c| c.valid);
    Ok(Results {
        valid,
        checks,
        stats: stats(events, &ops, final_state),
    })
}

/// Counts per function and outcome, latency of the successful ones, faults, orders.
pub(crate) fn stats(events: &[Event], ops: &[Op], final_state: &FinalState) -> Value {
    let mut per_f: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut ok_ms: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for op in ops {
        let outcome = match op.outcome() {
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            _ => "info",
        };
        *per_f
            .entry(op.f.name())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
        if outcome == "ok" {
            let ms = op.complete_ns().saturating_sub(op.invoke_ns()) as f64 / 1e6;
            ok_ms.entry(op.f.name()).or_default().push(ms);
        }
    }
    let latency: BTreeMap<&str, Value> = ok_ms
        .into_iter()
        .map(|(f, ms)| {
            // Wall time plays no part; only the latency figures are used.
            let summary = crate::stats::Summary::of(&ms, 0, std::time::Duration::ZERO);
            let json = serde_json::json!({
                "p50": summary.p50_ms, "p99": summary.p99_ms, "max": summary.max_ms,
            });
            (f, json)
        })
        .collect();
    let count = |kind: EventType| ops.iter().filter(|op| op.outcome() == kind).count();
    let faults = events
        .iter()
        .filter(|e| e.f == Function::Nemesis && e.str_field("phase") == Some("start"))
        .count();
    let duration_s = events.last().map_or(0.0, |e| e.time_ns as f64 / 1e9);
    serde_json::json!({
        "ops": ops.len(),
        "ok": count(EventType::Ok),
        "fail": count(EventType::Fail),
        "info": count(EventType::Info),
        "by_function": per_f,
        "ok_latency_ms": latency,
        "faults": faults,
        "duration_s": duration_s,
        "ops_per_s": if duration_s > 0.0 { ops.len() as f64 / duration_s } else { 0.0 },
        "orders": final_state.reference_orders().len(),
    })
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod simulation;

#[cfg(test)]
mod tests {
    use super::fixtures::*;

    #[test]
    fn stats_count_outcomes_and_time_the_successes() {
        let mut h = History::new();
        h.buy_ok(0, "Tux", 1, "k1", 0);
        h.buy_fail(1, "Uno", 1, "k2", 409);
        h.read_ok(2, 0, "Tux", 1);
        let state = final_state(vec![order(0, "Tux", 1, "k1")], 3);
        let results = super::check(&h.events, &state).unwrap();
        let stats = &results.stats;
        assert_eq!(stats["by_function"]["buy"]["ok"], 1);
        assert_eq!(stats["by_function"]["buy"]["fail"], 1);
        assert_eq!(stats["by_function"]["read_order"]["ok"], 1);
        // Fixture ops complete 1 µs after they are invoked.
        for f in ["buy", "read_order"] {
            for q in ["p50", "p99", "max"] {
                let ms = stats["ok_latency_ms"][f][q].as_f64().unwrap();
                assert!((ms - 0.001).abs() < 1e-9, "{f} {q} = {ms}");
            }
        }
        assert!(stats["ok_latency_ms"].get("query").is_none());
    }
}
