//! Legal histories for the property tests: a planned run of buys and reads executed
//! against a model of the order store, each op taking effect at one instant inside its
//! own invoke-completion window while the windows of neighbouring ops overlap. What it
//! produces is linearizable by construction, so every check must pass it.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{json, Value};
use toystore_api::catalog::{Reservation, ReservationState};
use toystore_api::node::Order;

use super::fixtures::{ledger_at_rest, reservation};
use crate::final_state::{FinalState, ReplicaState};
use crate::history::{Event, EventType, Function};

/// Time between the instants at which consecutive ops take effect; windows reach up to
/// three times as far either side, so up to about six ops overlap.
const SPACING_NS: u64 = 1_000;
const INITIAL_STOCK: u64 = 1_000;
pub(crate) const PRODUCTS: [&str; 2] = ["Tux", "Uno"];

#[derive(Debug, Clone, Copy)]
pub(crate) enum BuyOutcome {
    Ok,
    /// Committed, but the answer was lost.
    InfoCommitted,
    /// The answer was lost before anything committed; the catalog may have released it.
    InfoLost,
    /// A definite failure (409), or the same number if the key already committed.
    Fail,
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// `retry` picks an earlier key (and its body) to buy again.
    Buy {
        product: usize,
        quantity: u64,
        outcome: BuyOutcome,
        retry: Option<usize>,
    },
    /// Reads order `committed + offset` (clamped at 0); `info` loses the answer.
    Read { offset: i64, info: bool },
}

/// One step and how long before and after its effect it is invoked and completes.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) step: Step,
    pub(crate) before_ns: u64,
    pub(crate) after_ns: u64,
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        3 => Just(BuyOutcome::Ok),
        1 => Just(BuyOutcome::InfoCommitted),
        1 => Just(BuyOutcome::InfoLost),
        1 => Just(BuyOutcome::Fail),
    ];
    let buy = (
        0..PRODUCTS.len(),
        1..4u64,
        outcome,
        prop::option::weighted(0.3, any::<usize>()),
    )
        .prop_map(|(product, quantity, outcome, retry)| Step::Buy {
            product,
            quantity,
            outcome,
            retry,
        });
    let read = (-3..3i64, prop::bool::weighted(0.2))
        .prop_map(|(offset, info)| Step::Read { offset, info });
    prop_oneof![buy, read]
}

/// Plans of up to 40 steps after two plain ok buys, so every final state holds at least
/// two orders to mutate.
pub(crate) fn plan() -> impl Strategy<Value = Vec<Planned>> {
    let window = 1..3 * SPACING_NS;
    let planned =
        (step(), window.clone(), window).prop_map(|(step, before_ns, after_ns)| Planned {
            step,
            before_ns,
            after_ns,
        });
    prop::collection::vec(planned, 0..40).prop_map(|mut steps| {
        for product in [1, 0] {
            let buy = Step::Buy {
                product,
                quantity: 1,
                outcome: BuyOutcome::Ok,
                retry: None,
            };
            steps.insert(
                0,
                Planned {
                    step: buy,
                    before_ns: 1,
                    after_ns: 1,
                },
            );
        }
        steps
    })
}

enum KeyState {
    Committed(u64),
    Released,
}

#[derive(Default)]
struct Model {
    orders: Vec<Order>,
    keys: HashMap<String, KeyState>,
    /// (key, product, quantity) of every key bought so far, for retries.
    bought: Vec<(String, usize, u64)>,
    reservations: Vec<Reservation>,
}

impl Model {
    fn commit(&mut self, key: &str, product: usize, quantity: u64) -> u64 {
        let number = self.orders.len() as u64;
        let name = PRODUCTS[product].to_string();
        self.orders.push(Order {
            number,
            name: name.clone(),
            quantity,
            request_id: key.to_string(),
        });
        self.keys
            .insert(key.to_string(), KeyState::Committed(number));
        self.reservations.push(reservation(
            key,
            &name,
            quantity,
            ReservationState::Confirmed,
            Some(number),
        ));
        number
    }

    /// Takes effect: the completion's type and value.
    fn buy(
        &mut self,
        i: usize,
        product: usize,
        quantity: u64,
        outcome: BuyOutcome,
        retry: Option<usize>,
    ) -> (Value, EventType, Value) {
        let (key, product, quantity) = match retry {
            Some(r) if !self.bought.is_empty() => self.bought[r % self.bought.len()].clone(),
            _ => {
                let fresh = (format!("k{i}"), product, quantity);
                self.bought.push(fresh.clone());
                fresh
            }
        };
        let invoke = json!({"name": PRODUCTS[product], "quantity": quantity, "key": key});
        let committed = match self.keys.get(&key) {
            Some(KeyState::Committed(n)) => Some(*n),
            Some(KeyState::Released) => None,
            None => match outcome {
                BuyOutcome::Ok | BuyOutcome::InfoCommitted => {
                    Some(self.commit(&key, product, quantity))
                }
                // Every other lost buy reached the catalog and was released by the
                // reconciler; the rest never got that far.
                BuyOutcome::InfoLost if i & 1 == 0 => {
                    self.keys.insert(key.clone(), KeyState::Released);
                    self.reservations.push(reservation(
                        &key,
                        PRODUCTS[product],
                        quantity,
                        ReservationState::Released,
                        None,
                    ));
                    None
                }
                _ => None,
            },
        };
        let info = (EventType::Info, json!({"error": "timeout"}));
        let (kind, value) = match (outcome, committed) {
            (BuyOutcome::InfoCommitted | BuyOutcome::InfoLost, _) => info,
            (_, Some(n)) => (EventType::Ok, json!({"order_number": n})),
            (_, None) => (EventType::Fail, json!({"code": 409})),
        };
        (invoke, kind, value)
    }

    fn read(&self, offset: i64, info: bool) -> (Value, EventType, Value) {
        let number = (self.orders.len() as i64 + offset).max(0) as u64;
        let invoke = json!({"number": number});
        if info {
            return (invoke, EventType::Info, json!({"error": "timeout"}));
        }
        match self.orders.get(number as usize) {
            Some(o) => (
                invoke,
                EventType::Ok,
                json!({"number": number, "name": o.name, "quantity": o.quantity}),
            ),
            None => (invoke, EventType::Fail, json!({"code": 404})),
        }
    }
}

/// Runs `plan` against the model: the history (one process per op) and the final state
/// of three equal replicas and a catalog that agrees with them.
pub(crate) fn simulate(plan: &[Planned]) -> (Vec<Event>, FinalState) {
    let mut model = Model::default();
    // (time, tie-break, process, type, f, value)
    let mut timed: Vec<(u64, usize, i64, EventType, Function, Value)> = Vec::new();
    for (i, planned) in plan.iter().enumerate() {
        let at = (i as u64 + 4) * SPACING_NS;
        let (f, (invoke, kind, value)) = match planned.step {
            Step::Buy {
                product,
                quantity,
                outcome,
                retry,
            } => (
                Function::Buy,
                model.buy(i, product, quantity, outcome, retry),
            ),
            Step::Read { offset, info } => (Function::ReadOrder, model.read(offset, info)),
        };
        let process = i as i64;
        timed.push((
            at - planned.before_ns,
            2 * i,
            process,
            EventType::Invoke,
            f,
            invoke,
        ));
        timed.push((at + planned.after_ns, 2 * i + 1, process, kind, f, value));
    }
    timed.sort_by_key(|t| (t.0, t.1));
    let events = timed
        .into_iter()
        .enumerate()
        .map(|(index, (time_ns, _, process, kind, f, value))| Event {
            index: index as u64,
            process,
            kind,
            f,
            value,
            time_ns,
        })
        .collect();
    let ledger = ledger_at_rest(&model.orders, &PRODUCTS, INITIAL_STOCK);
    let replica = ReplicaState {
        orders: model.orders,
        digest: "same".to_string(),
    };
    let replicas = (1..=3)
        .map(|id| (id.to_string(), replica.clone()))
        .collect();
    let state = FinalState {
        replicas,
        ledger,
        reservations: Some(model.reservations),
    };
    (events, state)
}
