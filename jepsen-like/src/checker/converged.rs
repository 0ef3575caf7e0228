//! `replicas_converged`: every replica holds the same orders and the same digest.

use super::facts::{Anomaly, Facts};

pub(crate) fn check(facts: &Facts) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut replicas = facts.final_state.replicas.iter();
    let Some((first_id, first)) = replicas.next() else {
        return vec![Anomaly::new(Vec::new(), "no replica state was collected")];
    };
    for (id, state) in replicas {
        if state.orders != first.orders {
            let differing = state
                .orders
                .iter()
                .zip(&first.orders)
                .position(|(a, b)| a != b)
                .unwrap_or(state.orders.len().min(first.orders.len()));
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "replica {id} ({} orders) differs from replica {first_id} ({} orders) from position {differing}",
                    state.orders.len(),
                    first.orders.len()
                ),
            ));
        }
        if state.digest != first.digest {
            anomalies.push(Anomaly::new(
                Vec::new(),
                format!(
                    "replica {id} digest {} != replica {first_id} digest {}",
                    state.digest, first.digest
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

    #[test]
    fn equal_replicas_are_valid_and_a_diverged_one_is_caught() {
        let mut state = final_state(vec![order(0, "Tux", 2, "k1")], 3);
        assert!(super::check(&Facts::new(&[], &state)).is_empty());
        let third = state.replicas.get_mut("3").unwrap();
        third.orders.clear();
        third.digest = "other".into();
        let anomalies = super::check(&Facts::new(&[], &state));
        assert_eq!(anomalies.len(), 2, "{anomalies:?}");
    }
}
