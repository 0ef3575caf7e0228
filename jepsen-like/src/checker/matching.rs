//! `orders_match_buys`: every order in the final state belongs to a buy invoked in the
//! history with the same key, name and quantity, whatever that buy's outcome; and it holds
//! the first body sent with its key, since a later one under the same key must be refused
//! (422). This is what catches an order nobody sent, or one sent with another body, when
//! every answer to its key was lost (info) and no other check has a number to compare.

use std::collections::HashSet;

use super::facts::{Anomaly, Facts};

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let by_key = facts.buys_by_key();
    let mut seen = HashSet::new();
    let mut anomalies = Vec::new();
    // Every replica, since a replica that diverged may hold an order the others lack;
    // an order held by several replicas is reported once.
    let orders = facts.final_state.replicas.values().flat_map(|r| &r.orders);
    for order in orders {
        let identity = (order.number, &order.request_id, &order.name, order.quantity);
        if !seen.insert(identity) {
            continue;
        }
        let buys = by_key.get(order.request_id.as_str());
        let Some(buys) = buys else {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "order {} ({} x{}) has key {}, which no buy in the history used",
                    order.number, order.name, order.quantity, order.request_id
                ),
            ));
            continue;
        };
        // The first body sent with a key is the one an order may hold; `buys` are in
        // history order, so the first is the earliest invoke.
        let first = buys[0];
        if first.name != order.name || first.quantity != order.quantity {
            let asked: Vec<String> = buys
                .iter()
                .map(|b| format!("{} x{}", b.name, b.quantity))
                .collect();
            anomalies.push(Anomaly::new(
                buys.iter().flat_map(|b| b.op.indices()).collect(),
                format!(
                    "order {} is {} x{}, but the first buy of its key {} asked for {} (all: {})",
                    order.number,
                    order.name,
                    order.quantity,
                    order.request_id,
                    format_args!("{} x{}", first.name, first.quantity),
                    asked.join(", ")
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
    use crate::history::{pair, Function};

    #[test]
    fn orders_of_buys_with_any_outcome_are_valid() {
        let mut h = History::new();
        h.invoke_buy(0, "Tux", 1, "ok");
        h.invoke_buy(1, "Uno", 2, "info");
        h.invoke_buy(2, "Tux", 3, "never-completed");
        h.complete_info(1, Function::Buy);
        h.complete_buy_ok(0, 0);
        // A failed buy whose key still committed through another of its attempts.
        h.buy_fail(3, "Uno", 1, "failed", 503);
        h.buy_info(4, "Uno", 1, "failed");
        let state = final_state(
            vec![
                order(0, "Tux", 1, "ok"),
                order(1, "Uno", 2, "info"),
                order(2, "Tux", 3, "never-completed"),
                order(3, "Uno", 1, "failed"),
            ],
            3,
        );
        let ops = pair(&h.events).unwrap();
        assert_eq!(super::check(&Facts::new(&ops, &state)), Vec::new());
    }

    #[test]
    fn an_order_nobody_sent_or_sent_with_another_body_is_caught() {
        let mut h = History::new();
        h.invoke_buy(0, "Tux", 1, "a");
        h.invoke_buy(1, "Uno", 2, "b");
        h.complete_info(0, Function::Buy);
        h.complete_info(1, Function::Buy);
        let mut state = final_state(
            vec![
                order(0, "Tux", 2, "a"),     // quantity changed
                order(1, "Tux", 2, "b"),     // name changed
                order(2, "Uno", 1, "ghost"), // never sent
            ],
            3,
        );
        // A diverged replica's extra order is caught once, not once per replica.
        state
            .replicas
            .get_mut("3")
            .unwrap()
            .orders
            .push(order(3, "Uno", 1, "ghost-2"));
        let ops = pair(&h.events).unwrap();
        let anomalies = super::check(&Facts::new(&ops, &state));
        let text: Vec<&str> = anomalies.iter().map(|a| a.explanation.as_str()).collect();
        assert_eq!(
            text,
            vec![
                "order 0 is Tux x2, but the first buy of its key a asked for Tux x1 (all: Tux x1)",
                "order 1 is Tux x2, but the first buy of its key b asked for Uno x2 (all: Uno x2)",
                "order 2 (Uno x1) has key ghost, which no buy in the history used",
                "order 3 (Uno x1) has key ghost-2, which no buy in the history used",
            ]
        );
        assert_eq!(anomalies[0].ops, vec![0, 2]);
    }

    #[test]
    fn an_order_holds_the_first_body_of_its_key_not_a_later_one() {
        // A probe sent the acknowledged key "a" again with another quantity (422), and an
        // info buy of key "b" was followed by a probe: the orders hold the first bodies.
        let mut h = History::new();
        h.buy_ok(0, "Tux", 1, "a", 0);
        h.buy_info(1, "Uno", 2, "b");
        h.buy_fail(2, "Tux", 2, "a", 422);
        h.buy_fail(3, "Uno", 3, "b", 422);
        let ops = pair(&h.events).unwrap();
        let good = final_state(vec![order(0, "Tux", 1, "a"), order(1, "Uno", 2, "b")], 3);
        assert_eq!(super::check(&Facts::new(&ops, &good)), Vec::new());

        // The probe's body committed instead of the first one: caught, though a buy with
        // that body was sent.
        let bad = final_state(vec![order(0, "Tux", 1, "a"), order(1, "Uno", 3, "b")], 3);
        let anomalies = super::check(&Facts::new(&ops, &bad));
        assert_eq!(anomalies.len(), 1, "{anomalies:?}");
        assert!(anomalies[0]
            .explanation
            .contains("first buy of its key b asked for Uno x2"));
    }
}
