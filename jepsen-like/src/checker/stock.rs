//! `stock_conserved`: the ledger identity holds for every product, no reservation is left
//! held, and per product the ledger's confirmed quantity equals the quantity ordered in
//! the final state; then [`super::reservations`] matches orders and reservations one by
//! one (skipped for a `final.json` from before reservations were collected).

use std::collections::BTreeMap;

use super::facts::{Anomaly, Facts};

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut ordered: BTreeMap<&str, u64> = BTreeMap::new();
    for order in facts.final_state.reference_orders() {
        *ordered.entry(order.name.as_str()).or_default() += order.quantity;
    }
    for row in &facts.final_state.ledger {
        if !row.balances() {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "{}: initial {} + restocked {} != quantity {} + held {} + confirmed {}",
                    row.name, row.initial, row.restocked, row.quantity, row.held, row.confirmed
                ),
            ));
        }
        if row.held != 0 {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "{}: {} still held after the cluster settled",
                    row.name, row.held
                ),
            ));
        }
        let in_orders = ordered.remove(row.name.as_str()).unwrap_or(0);
        if row.confirmed != in_orders {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "{}: the catalog confirmed {} but the orders hold {in_orders}",
                    row.name, row.confirmed
                ),
            ));
        }
    }
    for (name, quantity) in ordered {
        anomalies.push(Anomaly::new(
            Vec::new(),
            format!("{quantity} of {name} ordered, but the ledger has no such product"),
        ));
    }
    if let Some(reservations) = &facts.final_state.reservations {
        anomalies.extend(super::reservations::check(facts, reservations));
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use toystore_api::catalog::ReservationState;

    use super::super::facts::Facts;
    use super::super::fixtures::*;

    #[test]
    fn a_ledger_matching_the_orders_is_valid() {
        let state = final_state(vec![order(0, "Tux", 2, "k1"), order(1, "Tux", 1, "k2")], 1);
        assert!(super::check(&Facts::new(&[], &state)).is_empty());
    }

    #[test]
    fn reservations_are_matched_when_collected_and_skipped_when_not() {
        let mut state = final_state(vec![order(0, "Tux", 2, "k1")], 1);
        state.reservations.as_mut().unwrap()[0].state = ReservationState::Released;
        let anomalies = super::check(&Facts::new(&[], &state));
        assert!(
            format!("{anomalies:?}").contains("reservation k1 is released"),
            "{anomalies:?}"
        );
        state.reservations = None; // an old final.json
        assert!(super::check(&Facts::new(&[], &state)).is_empty());
    }

    #[test]
    fn unbalanced_held_and_unmatched_rows_are_caught() {
        let mut state = final_state(vec![order(0, "Tux", 2, "k1")], 1);
        let tux = state.ledger.iter_mut().find(|r| r.name == "Tux").unwrap();
        tux.confirmed = 5; // more confirmed than ordered, and the identity breaks
        let uno = state.ledger.iter_mut().find(|r| r.name == "Uno").unwrap();
        uno.held = 1;
        uno.quantity -= 1;
        let anomalies = super::check(&Facts::new(&[], &state));
        let text = format!("{anomalies:?}");
        assert!(text.contains("Tux: initial"), "{text}");
        assert!(text.contains("confirmed 5 but the orders hold 2"), "{text}");
        assert!(text.contains("still held"), "{text}");
    }
}
