//! Small hand-written histories and final states for the checks' tests.

use serde_json::json;
use toystore_api::catalog::LedgerRow;
use toystore_api::node::Order;

use crate::final_state::{FinalState, ReplicaState};
use crate::history::{Event, EventType, Function};

/// A history written op by op; each op completes before the next starts.
pub(crate) struct History {
    pub(crate) events: Vec<Event>,
}

impl History {
    pub(crate) fn new() -> Self {
        History { events: Vec::new() }
    }

    fn push(&mut self, process: i64, kind: EventType, f: Function, value: serde_json::Value) {
        let index = self.events.len() as u64;
        self.events.push(Event {
            index,
            process,
            kind,
            f,
            value,
            time_ns: (index + 1) * 1_000,
        });
    }

    fn buy(&mut self, p: i64, name: &str, quantity: u64, key: &str) {
        self.push(
            p,
            EventType::Invoke,
            Function::Buy,
            json!({"name": name, "quantity": quantity, "key": key}),
        );
    }

    pub(crate) fn buy_ok(&mut self, p: i64, name: &str, quantity: u64, key: &str, number: u64) {
        self.buy(p, name, quantity, key);
        self.push(
            p,
            EventType::Ok,
            Function::Buy,
            json!({"order_number": number}),
        );
    }

    pub(crate) fn buy_fail(&mut self, p: i64, name: &str, quantity: u64, key: &str, code: u64) {
        self.buy(p, name, quantity, key);
        self.push(p, EventType::Fail, Function::Buy, json!({"code": code}));
    }

    pub(crate) fn buy_info(&mut self, p: i64, name: &str, quantity: u64, key: &str) {
        self.buy(p, name, quantity, key);
        self.push(
            p,
            EventType::Info,
            Function::Buy,
            json!({"error": "timeout"}),
        );
    }

    pub(crate) fn read_ok(&mut self, p: i64, number: u64, name: &str, quantity: u64) {
        self.push(
            p,
            EventType::Invoke,
            Function::ReadOrder,
            json!({"number": number}),
        );
        self.push(
            p,
            EventType::Ok,
            Function::ReadOrder,
            json!({"number": number, "name": name, "quantity": quantity}),
        );
    }

    pub(crate) fn read_404(&mut self, p: i64, number: u64) {
        self.push(
            p,
            EventType::Invoke,
            Function::ReadOrder,
            json!({"number": number}),
        );
        self.push(
            p,
            EventType::Fail,
            Function::ReadOrder,
            json!({"code": 404}),
        );
    }
}

pub(crate) fn order(number: u64, name: &str, quantity: u64, key: &str) -> Order {
    Order {
        number,
        name: name.to_string(),
        quantity,
        request_id: key.to_string(),
    }
}

/// `replicas` equal replicas holding `orders`, and a ledger that matches them exactly.
pub(crate) fn final_state(orders: Vec<Order>, replicas: u64) -> FinalState {
    let ledger = ["Tux", "Uno"]
        .iter()
        .map(|name| {
            let confirmed: u64 = orders
                .iter()
                .filter(|o| o.name == *name)
                .map(|o| o.quantity)
                .sum();
            LedgerRow {
                name: name.to_string(),
                quantity: 100 - confirmed,
                restocked: 0,
                held: 0,
                confirmed,
                initial: 100,
            }
        })
        .collect();
    FinalState {
        replicas: (1..=replicas)
            .map(|id| {
                (
                    id.to_string(),
                    ReplicaState {
                        orders: orders.clone(),
                        digest: "same".to_string(),
                    },
                )
            })
            .collect(),
        ledger,
    }
}
