//! `order_reads_linearizable`: the buys and reads of the order log are linearizable.
//! [`super::bounds`] checks real time (when each order can have committed); this module
//! checks the values: an ok read of order n must return what the final order n holds,
//! must not return an order missing from the final state, nor one whose every buy failed
//! definitely.

use std::collections::HashMap;

use toystore_api::node::Order;

use super::facts::{Anomaly, Buy, Facts};
use crate::history::{EventType, Function, Op};

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let mut anomalies = super::bounds::check(facts);
    let orders: HashMap<u64, &Order> = facts
        .final_state
        .reference_orders()
        .iter()
        .map(|o| (o.number, o))
        .collect();
    let by_key = facts.buys_by_key();
    for op in facts.ops.iter().filter(|op| op.f == Function::ReadOrder) {
        let (Some(number), Some(completion)) = (op.invoke.u64_field("number"), &op.completion)
        else {
            continue;
        };
        if completion.kind != EventType::Ok {
            continue;
        }
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
    anomalies
}

/// An ok read of `order`: it must show what the replicas hold, and not every buy of its
/// key may have failed definitely. (A read before any buy of its key is a crossing.)
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
    if buys.is_some_and(|buys| buys.iter().all(|b| b.failed_code.is_some())) {
        anomalies.push(Anomaly::new(
            op.indices(),
            format!("read returned order {number}, whose every buy failed definitely"),
        ));
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::facts::Facts;
    use super::super::fixtures::*;
    use crate::history::{pair, Function};

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
        assert!(text.contains("404 was invoked"), "{text}");
        assert!(text.contains("as Tux x3, but it is Tux x2"), "{text}");
        assert!(text.contains("not in the final state"), "{text}");
    }

    #[test]
    fn a_read_of_an_order_whose_every_buy_failed_is_caught_among_overlapping_ops() {
        let mut h = History::new();
        h.invoke_buy(0, "Tux", 1, "k1");
        h.invoke_read(1, 0);
        h.invoke_buy(2, "Uno", 1, "k2");
        h.complete_read_ok(1, 0, "Tux", 1);
        h.complete_info(2, Function::Buy);
        h.buy_fail(3, "Tux", 1, "k1", 409);
        h.complete_buy_ok(0, 0); // pairs with invoke 0, so k1 did not fail every time
        let state = final_state(vec![order(0, "Tux", 1, "k1")], 3);
        let ops = pair(&h.events).unwrap();
        assert!(super::check(&Facts::new(&ops, &state)).is_empty());

        // Both buys of k1 failed definitely, yet an overlapping read saw its order.
        let mut h = History::new();
        h.buy_fail(0, "Tux", 1, "k1", 409);
        h.invoke_read(1, 0);
        h.buy_fail(2, "Tux", 1, "k1", 409);
        h.complete_read_ok(1, 0, "Tux", 1);
        let ops = pair(&h.events).unwrap();
        let anomalies = super::check(&Facts::new(&ops, &state));
        assert_eq!(anomalies.len(), 1, "{anomalies:?}");
        assert!(anomalies[0]
            .explanation
            .contains("every buy failed definitely"));
    }
}
