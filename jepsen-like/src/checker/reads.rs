//! `order_reads_linearizable`: orders are write-once registers, so a read of order n is
//! wrong if it returns 404 although a buy acknowledged n before the read was invoked; if
//! it returns a name or quantity other than the final order n's; if it returns an order
//! that is not in the final state, or whose every buy failed definitely; or if it returns
//! an order before any buy of its key was invoked.

use std::collections::HashMap;

use toystore_api::node::Order;

use super::facts::{Anomaly, Buy, Facts};
use crate::history::{EventType, Function, Op};

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let orders: HashMap<u64, &Order> = facts
        .final_state
        .reference_orders()
        .iter()
        .map(|o| (o.number, o))
        .collect();
    let by_key = facts.buys_by_key();
    let acknowledged = earliest_acknowledgements(facts);
    for op in facts.ops.iter().filter(|op| op.f == Function::ReadOrder) {
        let Some(number) = op.invoke.u64_field("number") else {
            continue;
        };
        let Some(completion) = &op.completion else {
            continue;
        };
        match completion.kind {
            EventType::Fail if completion.u64_field("code") == Some(404) => {
                if let Some((done, buy_ops)) = acknowledged.get(&number) {
                    if *done < op.invoke_ns() {
                        let mut ops = buy_ops.clone();
                        ops.extend(op.indices());
                        anomalies.push(Anomaly::new(
                            ops,
                            format!("read of order {number} answered 404 after its buy was acknowledged"),
                        ));
                    }
                }
            }
            EventType::Ok => {
                let Some(order) = orders.get(&number) else {
                    let name = completion.str_field("name").unwrap_or_default();
                    let quantity = completion.u64_field("quantity").unwrap_or(0);
                    anomalies.push(Anomaly::new(
                        op.indices(),
                        format!("read returned order {number} ({name} x{quantity}), which is not in the final state"),
                    ));
                    continue;
                };
                let buys = by_key.get(order.request_id.as_str());
                anomalies.extend(check_ok_read(op, order, buys.map(Vec::as_slice)));
            }
            _ => {}
        }
    }
    anomalies
}

/// The earliest completion of an ok buy, and its op indices, per order number.
fn earliest_acknowledgements(facts: &Facts) -> HashMap<u64, (u64, Vec<u64>)> {
    let mut acknowledged: HashMap<u64, (u64, Vec<u64>)> = HashMap::new();
    for buy in &facts.buys {
        if let Some(number) = buy.number {
            let done = buy.op.complete_ns();
            let entry = acknowledged
                .entry(number)
                .or_insert((done, buy.op.indices()));
            if done < entry.0 {
                *entry = (done, buy.op.indices());
            }
        }
    }
    acknowledged
}

/// An ok read of `order`: it must show what the replicas hold, and a buy of its key must
/// have been invoked before and not every one failed definitely.
fn check_ok_read(op: &Op, order: &Order, buys: Option<&[&Buy]>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let number = order.number;
    let completion = op.completion.as_ref().expect("a completed read");
    let name = completion.str_field("name").unwrap_or_default();
    let quantity = completion.u64_field("quantity").unwrap_or(0);
    if order.name != name || order.quantity != quantity {
        anomalies.push(Anomaly::new(
            op.indices(),
            format!(
                "read returned order {number} as {name} x{quantity}, but it is {} x{}",
                order.name, order.quantity
            ),
        ));
    }
    if let Some(buys) = buys {
        if buys.iter().all(|b| b.failed_code.is_some()) {
            anomalies.push(Anomaly::new(
                op.indices(),
                format!("read returned order {number}, whose every buy failed definitely"),
            ));
        }
        if buys.iter().all(|b| b.op.invoke_ns() > op.complete_ns()) {
            anomalies.push(Anomaly::new(
                op.indices(),
                format!(
                    "read returned order {number} before any buy of key {} was invoked",
                    order.request_id
                ),
            ));
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::facts::Facts;
    use super::super::fixtures::*;
    use crate::history::pair;

    #[test]
    fn reads_after_acknowledgement_and_404s_before_it_are_valid() {
        let mut h = History::new();
        h.read_404(1, 0); // before the buy: fine
        h.buy_ok(0, "Tux", 2, "k1", 0);
        h.read_ok(1, 0, "Tux", 2);
        let state = final_state(vec![order(0, "Tux", 2, "k1")], 3);
        let ops = pair(&h.events).unwrap();
        assert!(super::check(&Facts::new(&ops, &state)).is_empty());
    }

    #[test]
    fn a_stale_404_a_wrong_value_and_a_phantom_are_caught() {
        let mut h = History::new();
        h.buy_ok(0, "Tux", 2, "k1", 0);
        h.read_404(1, 0); // stale
        h.read_ok(1, 0, "Tux", 3); // wrong quantity
        h.read_ok(1, 7, "Uno", 1); // not in the final state
        let state = final_state(vec![order(0, "Tux", 2, "k1")], 3);
        let ops = pair(&h.events).unwrap();
        let anomalies = super::check(&Facts::new(&ops, &state));
        let text = format!("{anomalies:?}");
        assert_eq!(anomalies.len(), 3, "{text}");
        assert!(text.contains("404 after its buy"), "{text}");
        assert!(text.contains("not in the final state"), "{text}");
    }
}
