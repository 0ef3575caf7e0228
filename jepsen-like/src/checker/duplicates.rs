//! `no_duplicate_orders`: one order per idempotency key, numbers dense from 0, every ok
//! buy of a key answered with the same number, and no order for a key whose every buy
//! failed definitely (404, 409, 422).

use std::collections::HashMap;

use super::facts::{Anomaly, Facts};

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (replica, state) in &facts.final_state.replicas {
        let mut by_key: HashMap<&str, Vec<u64>> = HashMap::new();
        for order in &state.orders {
            by_key
                .entry(&order.request_id)
                .or_default()
                .push(order.number);
        }
        for (key, numbers) in by_key.iter().filter(|(_, n)| n.len() > 1) {
            anomalies.push(Anomaly::new(
                ops_of_key(facts, key),
                format!("replica {replica} holds orders {numbers:?} for the one key {key}"),
            ));
        }
        let mut numbers: Vec<u64> = state.orders.iter().map(|o| o.number).collect();
        numbers.sort_unstable();
        if let Some((position, number)) = numbers.iter().enumerate().find(|(i, n)| **n != *i as u64)
        {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "replica {replica}: order numbers are not dense from 0 (position {position} holds {number})"
                ),
            ));
        }
    }
    let final_keys: HashMap<&str, u64> = facts
        .final_state
        .reference_orders()
        .iter()
        .map(|o| (o.request_id.as_str(), o.number))
        .collect();
    for (key, buys) in facts.buys_by_key() {
        let numbers: Vec<u64> = buys.iter().filter_map(|b| b.number).collect();
        if numbers.windows(2).any(|w| w[0] != w[1]) {
            anomalies.push(Anomaly::new(
                buys.iter().flat_map(|b| b.op.indices()).collect(),
                format!("key {key} was answered with different order numbers {numbers:?}"),
            ));
        }
        let all_failed = buys.iter().all(|b| b.failed_code.is_some());
        if all_failed {
            if let Some(number) = final_keys.get(key) {
                anomalies.push(Anomaly::new(
                    buys.iter().flat_map(|b| b.op.indices()).collect(),
                    format!(
                        "every buy with key {key} failed definitely ({:?}), yet order {number} exists",
                        buys.iter().filter_map(|b| b.failed_code).collect::<Vec<_>>()
                    ),
                ));
            }
        }
    }
    anomalies
}

fn ops_of_key(facts: &Facts, key: &str) -> Vec<u64> {
    facts
        .buys
        .iter()
        .filter(|b| b.key == key)
        .flat_map(|b| b.op.indices())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::facts::Facts;
    use super::super::fixtures::*;
    use crate::history::pair;

    #[test]
    fn retries_of_one_key_with_one_order_are_valid() {
        let mut h = History::new();
        h.buy_info(0, "Tux", 1, "k1");
        h.buy_ok(0, "Tux", 1, "k1", 0);
        h.buy_ok(1, "Tux", 1, "k1", 0);
        h.buy_fail(2, "Uno", 1, "k2", 409);
        let state = final_state(vec![order(0, "Tux", 1, "k1")], 3);
        let ops = pair(&h.events).unwrap();
        assert!(super::check(&Facts::new(&ops, &state)).is_empty());
    }

    #[test]
    fn a_doubled_key_a_gap_and_an_order_for_a_failed_buy_are_caught() {
        let mut h = History::new();
        h.buy_ok(0, "Tux", 1, "k1", 0);
        h.buy_fail(1, "Uno", 1, "k2", 409);
        let state = final_state(
            vec![
                order(0, "Tux", 1, "k1"),
                order(1, "Tux", 1, "k1"),
                order(3, "Uno", 1, "k2"),
            ],
            1,
        );
        let ops = pair(&h.events).unwrap();
        let anomalies = super::check(&Facts::new(&ops, &state));
        let text = format!("{anomalies:?}");
        assert!(text.contains("for the one key k1"), "{text}");
        assert!(text.contains("not dense"), "{text}");
        assert!(text.contains("failed definitely"), "{text}");
    }

    #[test]
    fn one_key_answered_with_two_numbers_is_caught() {
        let mut h = History::new();
        h.buy_ok(0, "Tux", 1, "k1", 0);
        h.buy_ok(1, "Tux", 1, "k1", 1);
        let state = final_state(vec![order(0, "Tux", 1, "k1"), order(1, "Tux", 1, "k9")], 1);
        let ops = pair(&h.events).unwrap();
        let anomalies = super::check(&Facts::new(&ops, &state));
        assert!(format!("{anomalies:?}").contains("different order numbers"));
    }
}
