//! The real-time half of `order_reads_linearizable`: order numbers are the version order
//! of one append-only list, so every buy and read bounds the time c(N) at which order N
//! committed, and c(N) < c(N+1). An N whose lower bound lies after its upper bound cannot
//! have committed at any time: the history is not linearizable.
//!
//! Lower bounds: the first invoke of N's key (from an ok buy of N or the final order N),
//! and the invoke of every read of N that answered 404. Upper bounds: the ok of a buy
//! answered N and of every read that returned N. Info ops give no upper bound. Bounds
//! are carried along N (a lower bound of N holds for every later number, an upper bound
//! for every earlier one), in O(n log n) for n ops.

use std::collections::{BTreeMap, HashMap};

use super::facts::{Anomaly, Facts};
use crate::history::{EventType, Function};

/// One end of the window in which an order committed, and the op that sets it.
#[derive(Debug, Clone)]
struct Bound {
    time_ns: u64,
    ops: Vec<u64>,
    why: Why,
}

/// What an op says about order `number`; kept so the anomaly can be explained.
#[derive(Debug, Clone)]
enum Why {
    FirstBuy { key: String, number: u64 },
    Read404 { number: u64 },
    BuyOk { number: u64 },
    ReadOk { number: u64 },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::FirstBuy { key, number } => {
                write!(f, "the first buy of key {key} (order {number}) was invoked")
            }
            Why::Read404 { number } => {
                write!(f, "a read of order {number} that answered 404 was invoked")
            }
            Why::BuyOk { number } => write!(f, "a buy was answered with order {number}"),
            Why::ReadOk { number } => write!(f, "a read returned order {number}"),
        }
    }
}

impl Bound {
    fn describe(&self) -> String {
        format!("{} at {:.6} s", self.why, self.time_ns as f64 / 1e9)
    }
}

#[derive(Debug, Default)]
struct Window {
    after: Option<Bound>,
    before: Option<Bound>,
}

impl Window {
    fn raise(&mut self, bound: Bound) {
        if self
            .after
            .as_ref()
            .is_none_or(|b| bound.time_ns > b.time_ns)
        {
            self.after = Some(bound);
        }
    }

    fn lower(&mut self, bound: Bound) {
        if self
            .before
            .as_ref()
            .is_none_or(|b| bound.time_ns < b.time_ns)
        {
            self.before = Some(bound);
        }
    }
}

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let mut windows = collect(facts);
    propagate(&mut windows);
    crossings(&windows)
}

/// Every op's own bound on the order it names.
fn collect(facts: &Facts) -> BTreeMap<u64, Window> {
    let mut first_invoke: HashMap<&str, (u64, Vec<u64>)> = HashMap::new();
    for buy in &facts.buys {
        let entry = first_invoke
            .entry(buy.key.as_str())
            .or_insert((buy.op.invoke_ns(), vec![buy.op.invoke.index]));
        if buy.op.invoke_ns() < entry.0 {
            *entry = (buy.op.invoke_ns(), vec![buy.op.invoke.index]);
        }
    }
    let first_buy = |key: &str, number: u64| {
        first_invoke.get(key).map(|(time_ns, ops)| Bound {
            time_ns: *time_ns,
            ops: ops.clone(),
            why: Why::FirstBuy {
                key: key.to_string(),
                number,
            },
        })
    };
    let mut windows: BTreeMap<u64, Window> = BTreeMap::new();
    for buy in &facts.buys {
        let Some(number) = buy.number else { continue };
        let window = windows.entry(number).or_default();
        window.raise(first_buy(&buy.key, number).expect("an ok buy invoked its key"));
        window.lower(Bound {
            time_ns: buy.op.complete_ns(),
            ops: buy.op.indices(),
            why: Why::BuyOk { number },
        });
    }
    for order in facts.final_state.reference_orders() {
        if let Some(bound) = first_buy(&order.request_id, order.number) {
            windows.entry(order.number).or_default().raise(bound);
        }
    }
    for op in facts.ops.iter().filter(|op| op.f == Function::ReadOrder) {
        let (Some(number), Some(completion)) = (op.invoke.u64_field("number"), &op.completion)
        else {
            continue;
        };
        match completion.kind {
            EventType::Ok => windows.entry(number).or_default().lower(Bound {
                time_ns: completion.time_ns,
                ops: op.indices(),
                why: Why::ReadOk { number },
            }),
            EventType::Fail if completion.u64_field("code") == Some(404) => {
                windows.entry(number).or_default().raise(Bound {
                    time_ns: op.invoke_ns(),
                    ops: op.indices(),
                    why: Why::Read404 { number },
                });
            }
            _ => {}
        }
    }
    windows
}

/// c(N) < c(N+1): a lower bound holds for every later number, an upper bound for every
/// earlier one, whatever numbers lie between.
fn propagate(windows: &mut BTreeMap<u64, Window>) {
    let mut after: Option<Bound> = None;
    for window in windows.values_mut() {
        if let Some(bound) = after.take() {
            window.raise(bound);
        }
        after.clone_from(&window.after);
    }
    let mut before: Option<Bound> = None;
    for window in windows.values_mut().rev() {
        if let Some(bound) = before.take() {
            window.lower(bound);
        }
        before.clone_from(&window.before);
    }
}

/// One anomaly per run of consecutive crossed numbers that share an op, so one stale
/// read behind many orders is one anomaly; it names the first and the last number's ops.
fn crossings(windows: &BTreeMap<u64, Window>) -> Vec<Anomaly> {
    struct Run<'a> {
        first: u64,
        last: u64,
        bounds: (&'a Bound, &'a Bound),
        last_bounds: (&'a Bound, &'a Bound),
    }
    let mut runs: Vec<Run> = Vec::new();
    let mut open = false;
    for (&number, window) in windows {
        let crossed = match (&window.after, &window.before) {
            (Some(after), Some(before)) if after.time_ns > before.time_ns => Some((after, before)),
            _ => None,
        };
        let Some((after, before)) = crossed else {
            open = false;
            continue;
        };
        match runs.last_mut() {
            Some(run)
                if open
                    && (run.last_bounds.0.ops == after.ops
                        || run.last_bounds.1.ops == before.ops) =>
            {
                run.last = number;
                run.last_bounds = (after, before);
            }
            _ => runs.push(Run {
                first: number,
                last: number,
                bounds: (after, before),
                last_bounds: (after, before),
            }),
        }
        open = true;
    }
    runs.into_iter()
        .map(|run| {
            let (after, before) = run.bounds;
            let mut ops: Vec<u64> = [after, before, run.last_bounds.0, run.last_bounds.1]
                .iter()
                .flat_map(|b| b.ops.iter().copied())
                .collect();
            ops.sort_unstable();
            ops.dedup();
            let also = if run.first == run.last {
                String::new()
            } else {
                format!(" (and so on up to order {})", run.last)
            };
            Anomaly::new(
                ops,
                format!(
                    "order {} must have committed after {} but before {}{also}",
                    run.first,
                    after.describe(),
                    before.describe()
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::facts::{Anomaly, Facts};
    use super::super::fixtures::*;
    use crate::final_state::FinalState;
    use crate::history::{pair, Function};

    fn anomalies(h: &History, state: &FinalState) -> Vec<Anomaly> {
        let ops = pair(&h.events).unwrap();
        super::check(&Facts::new(&ops, state))
    }

    #[test]
    fn overlapping_buys_and_reads_that_fit_a_commit_order_are_valid() {
        let mut h = History::new();
        h.invoke_buy(0, "Tux", 1, "a");
        h.invoke_buy(1, "Uno", 2, "b");
        h.invoke_read(2, 1);
        h.complete_buy_ok(1, 0); // b committed first
        h.complete_read_404(2); // 1 (a) not yet committed: a is still in flight
        h.invoke_read(2, 1);
        h.complete_buy_ok(0, 1);
        h.complete_read_ok(2, 1, "Tux", 1);
        // An info buy: its order 2 may commit any time after its invoke, even after a
        // 404 that came later, because info gives no upper bound.
        h.invoke_buy(3, "Tux", 3, "c");
        h.complete_info(3, Function::Buy);
        h.read_404(4, 2);
        h.read_ok(4, 2, "Tux", 3);
        h.invoke_read(5, 3); // never completes: no bound at all
        let state = final_state(
            vec![
                order(0, "Uno", 2, "b"),
                order(1, "Tux", 1, "a"),
                order(2, "Tux", 3, "c"),
            ],
            3,
        );
        assert_eq!(anomalies(&h, &state), Vec::new());
    }

    #[test]
    fn a_read_that_goes_back_to_404_is_caught_while_the_buy_is_in_flight() {
        let mut h = History::new();
        h.invoke_buy(0, "Tux", 1, "a");
        h.read_ok(1, 0, "Tux", 1);
        h.read_404(2, 0); // saw it, then it is gone
        h.complete_info(0, Function::Buy);
        let state = final_state(vec![order(0, "Tux", 1, "a")], 3);
        let found = anomalies(&h, &state);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ops, vec![1, 2, 3, 4]);
        assert!(
            found[0].explanation.contains("404 was invoked"),
            "{found:?}"
        );
        assert!(found[0].explanation.contains("a read returned order 0"));
    }

    #[test]
    fn numbers_against_real_time_are_caught() {
        // a is acknowledged before b is even invoked, yet b got the smaller number.
        let mut h = History::new();
        h.buy_ok(0, "Tux", 1, "a", 1);
        h.buy_ok(1, "Uno", 1, "b", 0);
        let state = final_state(vec![order(0, "Uno", 1, "b"), order(1, "Tux", 1, "a")], 3);
        let found = anomalies(&h, &state);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .explanation
                .starts_with("order 0 must have committed after the first buy of key b"),
            "{found:?}"
        );
        assert!(found[0].explanation.contains("answered with order 1"));
        // The same two buys overlapping may commit in either order.
        let mut h = History::new();
        h.invoke_buy(0, "Tux", 1, "a");
        h.invoke_buy(1, "Uno", 1, "b");
        h.complete_buy_ok(0, 1);
        h.complete_buy_ok(1, 0);
        assert_eq!(anomalies(&h, &state), Vec::new());
    }

    #[test]
    fn a_404_below_an_acknowledged_number_is_caught() {
        let mut h = History::new();
        h.buy_info(0, "Tux", 1, "a"); // may become order 0 any time
        h.buy_ok(1, "Uno", 1, "b", 1);
        h.read_404(2, 0); // but 1 is acknowledged, so 0 committed before
        let state = final_state(vec![order(0, "Tux", 1, "a"), order(1, "Uno", 1, "b")], 3);
        let found = anomalies(&h, &state);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].explanation.starts_with("order 0 "), "{found:?}");
        assert_eq!(found[0].ops, vec![2, 3, 4, 5]);
    }

    #[test]
    fn one_stale_read_behind_many_orders_is_one_anomaly() {
        let mut h = History::new();
        h.buy_ok(0, "Tux", 1, "a", 0);
        h.buy_ok(0, "Tux", 1, "b", 1);
        h.buy_ok(0, "Tux", 1, "c", 2);
        h.read_404(1, 0);
        h.read_ok(1, 5, "Uno", 1); // a phantom far above: a separate, valid window
        let state = final_state(
            vec![
                order(0, "Tux", 1, "a"),
                order(1, "Tux", 1, "b"),
                order(2, "Tux", 1, "c"),
            ],
            3,
        );
        let found = anomalies(&h, &state);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].explanation.contains("up to order 2"), "{found:?}");
    }
}
