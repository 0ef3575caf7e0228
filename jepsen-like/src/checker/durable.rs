//! `acknowledged_orders_durable`: every buy answered ok is in every replica's final state
//! with its number, name, quantity and idempotency key.

use super::facts::{Anomaly, Facts};

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for buy in &facts.buys {
        let Some(number) = buy.number else { continue };
        for (replica, state) in &facts.final_state.replicas {
            match state.orders.iter().find(|o| o.number == number) {
                None => anomalies.push(Anomaly::new(
                    buy.op.indices(),
                    format!("acknowledged order {number} ({} x{}) is missing on replica {replica}", buy.name, buy.quantity),
                )),
                Some(order)
                    if order.name != buy.name
                        || order.quantity != buy.quantity
                        || order.request_id != buy.key =>
                {
                    anomalies.push(Anomaly::new(
                        buy.op.indices(),
                        format!(
                            "order {number} on replica {replica} is {} x{} (key {}), but the buy was {} x{} (key {})",
                            order.name, order.quantity, order.request_id, buy.name, buy.quantity, buy.key
                        ),
                    ))
                }
                Some(_) => {}
            }
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
    fn an_acknowledged_order_present_everywhere_is_valid() {
        let mut h = History::new();
        h.buy_ok(0, "Tux", 2, "k1", 0);
        let state = final_state(vec![order(0, "Tux", 2, "k1")], 3);
        let ops = pair(&h.events).unwrap();
        assert!(super::check(&Facts::new(&ops, &state)).is_empty());
    }

    #[test]
    fn a_lost_or_changed_order_is_caught() {
        let mut h = History::new();
        h.buy_ok(0, "Tux", 2, "k1", 0);
        h.buy_ok(1, "Uno", 1, "k2", 1);
        let mut state = final_state(vec![order(0, "Tux", 2, "k1"), order(1, "Uno", 3, "k2")], 3);
        state.replicas.get_mut("2").unwrap().orders.remove(0);
        let ops = pair(&h.events).unwrap();
        let anomalies = super::check(&Facts::new(&ops, &state));
        // order 1 has the wrong quantity on all three replicas; order 0 is missing on one.
        assert_eq!(anomalies.len(), 4, "{anomalies:?}");
        assert!(anomalies
            .iter()
            .any(|a| a.explanation.contains("missing on replica 2")));
    }
}
