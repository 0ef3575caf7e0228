//! The one-by-one half of `stock_conserved`: per-product totals can balance while one
//! key's stock is released and another's confirmed twice, so every order is matched with
//! the catalog's reservation of its request id. Every order has a confirmed reservation
//! with its name, quantity and number; no reservation is confirmed without its order;
//! none is left held; and the ledger's held and confirmed columns are the sums of the
//! reservations in those states.

use std::collections::{BTreeMap, HashMap};

use toystore_api::catalog::{Reservation, ReservationState};

use super::facts::{Anomaly, Facts};

pub(crate) fn check(facts: &Facts, reservations: &[Reservation]) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut by_key: HashMap<&str, &Reservation> = HashMap::new();
    for r in reservations {
        let kept = *by_key.entry(r.request_id.as_str()).or_insert(r);
        if !std::ptr::eq(kept, r) {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!("the catalog lists request id {} twice", r.request_id),
            ));
        }
    }
    let orders = facts.final_state.reference_orders();
    for order in orders {
        let number = order.number;
        let Some(r) = by_key.get(order.request_id.as_str()) else {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "order {number} ({} x{}, key {}) has no reservation",
                    order.name, order.quantity, order.request_id
                ),
            ));
            continue;
        };
        if r.state != ReservationState::Confirmed {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "order {number}'s reservation {} is {}, not confirmed",
                    r.request_id,
                    r.state.as_str()
                ),
            ));
        }
        if r.name != order.name || r.quantity != order.quantity {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "reservation {} took {} x{}, but order {number} is {} x{}",
                    r.request_id, r.name, r.quantity, order.name, order.quantity
                ),
            ));
        }
        if r.state == ReservationState::Confirmed && r.order_number != Some(number) {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "reservation {} is confirmed for order {:?}, but its order is {number}",
                    r.request_id, r.order_number
                ),
            ));
        }
    }
    let ordered: HashMap<&str, u64> = orders
        .iter()
        .map(|o| (o.request_id.as_str(), o.number))
        .collect();
    for r in reservations {
        if ordered.contains_key(r.request_id.as_str()) {
            continue; // judged with its order above
        }
        let problem = match r.state {
            ReservationState::Confirmed => "is confirmed",
            ReservationState::Held => "is left held",
            ReservationState::Released => continue,
        };
        anomalies.push(Anomaly::new(
            Vec::new(),
            format!(
                "reservation {} ({} x{}) {problem}, but no order has its key",
                r.request_id, r.name, r.quantity
            ),
        ));
    }
    anomalies.extend(ledger_sums(facts, reservations));
    anomalies
}

/// The ledger's held and confirmed columns against the reservations in those states.
fn ledger_sums(facts: &Facts, reservations: &[Reservation]) -> Vec<Anomaly> {
    let mut sums: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in reservations {
        let (held, confirmed) = sums.entry(r.name.as_str()).or_default();
        match r.state {
            ReservationState::Held => *held += r.quantity,
            ReservationState::Confirmed => *confirmed += r.quantity,
            ReservationState::Released => {}
        }
    }
    let mut anomalies = Vec::new();
    for row in &facts.final_state.ledger {
        let (held, confirmed) = sums.remove(row.name.as_str()).unwrap_or_default();
        if (row.held, row.confirmed) != (held, confirmed) {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "{}: the ledger has held {} and confirmed {}, the reservations {held} and {confirmed}",
                    row.name, row.held, row.confirmed
                ),
            ));
        }
    }
    for (name, _) in sums {
        anomalies.push(Anomaly::new(
            Vec::new(),
            format!("reservations of {name}, but the ledger has no such product"),
        ));
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use toystore_api::catalog::ReservationState::{Confirmed, Held, Released};

    use super::super::facts::Facts;
    use super::super::fixtures::*;
    use crate::final_state::FinalState;

    fn explanations(state: &FinalState) -> Vec<String> {
        let reservations = state.reservations.clone().unwrap();
        super::check(&Facts::new(&[], state), &reservations)
            .into_iter()
            .map(|a| a.explanation)
            .collect()
    }

    #[test]
    fn confirmed_reservations_for_every_order_and_released_ones_without_are_valid() {
        let mut state = final_state(vec![order(0, "Tux", 2, "k1"), order(1, "Uno", 1, "k2")], 3);
        let released = reservation("k3", "Tux", 5, Released, None);
        state.reservations.as_mut().unwrap().push(released);
        assert_eq!(explanations(&state), Vec::<String>::new());
    }

    #[test]
    fn swapped_released_and_leftover_reservations_are_caught_though_totals_balance() {
        let mut state = final_state(vec![order(0, "Tux", 1, "k1"), order(1, "Tux", 1, "k2")], 3);
        // k1's stock went back and k9's (no order) was confirmed instead: Tux still
        // totals one confirmed unit per order.
        let reservations = state.reservations.as_mut().unwrap();
        reservations[0].state = Released;
        reservations[0].order_number = None;
        reservations.push(reservation("k9", "Tux", 1, Confirmed, Some(0)));
        reservations.push(reservation("k8", "Uno", 1, Held, None));
        let uno = state.ledger.iter_mut().find(|r| r.name == "Uno").unwrap();
        uno.held = 1;
        uno.quantity -= 1;
        assert_eq!(
            explanations(&state),
            vec![
                "order 0's reservation k1 is released, not confirmed",
                "reservation k9 (Tux x1) is confirmed, but no order has its key",
                "reservation k8 (Uno x1) is left held, but no order has its key",
            ]
        );
    }

    #[test]
    fn a_reservation_of_another_body_or_number_and_a_missing_one_are_caught() {
        let mut state = final_state(
            vec![
                order(0, "Tux", 1, "k1"),
                order(1, "Tux", 1, "k2"),
                order(2, "Uno", 1, "k3"),
            ],
            3,
        );
        let reservations = state.reservations.as_mut().unwrap();
        reservations[0].quantity = 2;
        reservations[1].order_number = Some(7);
        reservations[2].state = Held;
        reservations.push(reservation("k1", "Tux", 1, Released, None));
        let found = explanations(&state);
        let expected = [
            "the catalog lists request id k1 twice",
            "reservation k1 took Tux x2, but order 0 is Tux x1",
            "confirmed for order Some(7), but its order is 1",
            "order 2's reservation k3 is held, not confirmed",
            "Uno: the ledger has held 0 and confirmed 1, the reservations 1 and 0",
            "Tux: the ledger has held 0 and confirmed 2, the reservations 0 and 3",
        ];
        for e in expected {
            assert!(found.iter().any(|f| f.contains(e)), "{e} not in {found:?}");
        }
        state
            .reservations
            .as_mut()
            .unwrap()
            .retain(|r| r.request_id != "k2");
        assert!(explanations(&state)
            .iter()
            .any(|f| f == "order 1 (Tux x1, key k2) has no reservation"));
    }
}
