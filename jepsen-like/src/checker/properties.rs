//! Property tests of the whole checker: a legal history ([`super::simulation`]) is always
//! valid, and one mutation of it (an order dropped, two numbers swapped, a quantity or a
//! name changed, an order duplicated, two acknowledged numbers swapped) is always flagged.

use proptest::prelude::*;

use super::simulation::{plan, simulate, PRODUCTS};
use crate::final_state::FinalState;
use crate::history::{Event, EventType, Function};

#[derive(Debug, Clone)]
enum Mutation {
    DropOrder(usize),
    SwapNumbers(usize, usize),
    ChangeQuantity(usize),
    ChangeName(usize),
    DuplicateOrder(usize),
    SwapAcknowledged(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = any::<usize>();
    prop_oneof![
        i.prop_map(Mutation::DropOrder),
        (i, i).prop_map(|(a, b)| Mutation::SwapNumbers(a, b)),
        i.prop_map(Mutation::ChangeQuantity),
        i.prop_map(Mutation::ChangeName),
        i.prop_map(Mutation::DuplicateOrder),
        (i, i).prop_map(|(a, b)| Mutation::SwapAcknowledged(a, b)),
    ]
}

/// Two different positions below `len` (which is at least 2), chosen by `a` and `b`.
fn two(len: usize, a: usize, b: usize) -> (usize, usize) {
    let first = a % len;
    let second = (first + 1 + b % (len - 1)) % len;
    (first, second)
}

/// Applies `mutation` to every replica alike, so only a check that reasons about the
/// history, the catalog or the numbers can see it.
fn apply(mutation: &Mutation, events: &mut [Event], state: &mut FinalState) {
    for replica in state.replicas.values_mut() {
        let orders = &mut replica.orders;
        let len = orders.len();
        match *mutation {
            Mutation::DropOrder(i) => {
                orders.remove(i % len);
            }
            Mutation::SwapNumbers(a, b) => {
                let (a, b) = two(len, a, b);
                let number = orders[a].number;
                orders[a].number = orders[b].number;
                orders[b].number = number;
                orders.sort_by_key(|o| o.number);
            }
            Mutation::ChangeQuantity(i) => orders[i % len].quantity += 1,
            Mutation::ChangeName(i) => {
                let order = &mut orders[i % len];
                let other = PRODUCTS
                    .iter()
                    .find(|p| **p != order.name)
                    .expect("two products");
                order.name = other.to_string();
            }
            Mutation::DuplicateOrder(i) => {
                let mut copy = orders[i % len].clone();
                copy.number = len as u64;
                orders.push(copy);
            }
            Mutation::SwapAcknowledged(..) => {}
        }
    }
    if let Mutation::SwapAcknowledged(a, b) = *mutation {
        // Two ok buys of different numbers trade their answers.
        let acked: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.f == Function::Buy && e.kind == EventType::Ok)
            .map(|(i, _)| i)
            .collect();
        let first_number = events[acked[0]].value.clone();
        let others: Vec<usize> = acked
            .iter()
            .copied()
            .filter(|i| events[*i].value != first_number)
            .collect();
        let (a, b) = (acked[a % acked.len()], others[b % others.len()]);
        let (a, b) = if events[a].value == events[b].value {
            (acked[0], b)
        } else {
            (a, b)
        };
        let value = events[a].value.clone();
        events[a].value = events[b].value.clone();
        events[b].value = value;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_legal_history_is_valid(plan in plan()) {
        let (events, state) = simulate(&plan);
        let results = super::check(&events, &state).unwrap();
        let anomalies = crate::report::anomaly_lines(&results);
        prop_assert!(results.valid, "{anomalies:#?}");
    }

    #[test]
    fn one_mutation_of_a_legal_history_is_flagged(plan in plan(), mutation in mutation()) {
        let (mut events, mut state) = simulate(&plan);
        apply(&mutation, &mut events, &mut state);
        let results = super::check(&events, &state).unwrap();
        prop_assert!(!results.valid, "{mutation:?} went unseen");
    }
}
