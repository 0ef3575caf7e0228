//! Small hand-written histories and final states for the checks' tests.

use serde_json::json;
use toystore_api::catalog::{LedgerRow, Reservation, ReservationState};
use toystore_api::node::Order;

use crate::final_state::{FinalState, ReplicaState};
use crate::history::{Event, EventType, Function};

/// A history written event by event. The composite helpers (`buy_ok`, `read_404`, ...)
/// complete each op before the next starts; `invoke_*` and `complete_*` let ops of
/// different processes overlap.
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

    pub(crate) fn invoke_buy(&mut self, p: i64, name: &str, quantity: u64, key: &str) {
        self.push(
            p,
            EventType::Invoke,
            Function::Buy,
            json!({"name": name, "quantity": quantity, "key": key}),
        );
    }

    pub(crate) fn buy_ok(&mut self, p: i64, name: &str, quantity: u64, key: &str, number: u64) {
        self.invoke_buy(p, name, quantity, key);
        self.complete_buy_ok(p, number);
    }

    pub(crate) fn complete_buy_ok(&mut self, p: i64, number: u64) {
        self.push(
            p,
            EventType::Ok,
            Function::Buy,
            json!({"order_number": number}),
        );
    }

    /// An indeterminate completion (timeout, lost connection) of `f`.
    pub(crate) fn complete_info(&mut self, p: i64, f: Function) {
        self.push(p, EventType::Info, f, json!({"error": "timeout"}));
    }

    pub(crate) fn invoke_read(&mut self, p: i64, number: u64) {
        self.push(
            p,
            EventType::Invoke,
            Function::ReadOrder,
            json!({"number": number}),
        );
    }

    pub(crate) fn complete_read_ok(&mut self, p: i64, number: u64, name: &str, quantity: u64) {
        self.push(
            p,
            EventType::Ok,
            Function::ReadOrder,
            json!({"number": number, "name": name, "quantity": quantity}),
        );
    }

    pub(crate) fn complete_read_404(&mut self, p: i64) {
        self.push(
            p,
            EventType::Fail,
            Function::ReadOrder,
            json!({"code": 404}),
        );
    }

    pub(crate) fn buy_fail(&mut self, p: i64, name: &str, quantity: u64, key: &str, code: u64) {
        self.invoke_buy(p, name, quantity, key);
        self.push(p, EventType::Fail, Function::Buy, json!({"code": code}));
    }

    pub(crate) fn buy_info(&mut self, p: i64, name: &str, quantity: u64, key: &str) {
        self.invoke_buy(p, name, quantity, key);
        self.complete_info(p, Function::Buy);
    }

    pub(crate) fn read_ok(&mut self, p: i64, number: u64, name: &str, quantity: u64) {
        self.invoke_read(p, number);
        self.complete_read_ok(p, number, name, quantity);
    }

    pub(crate) fn read_404(&mut self, p: i64, number: u64) {
        self.invoke_read(p, number);
        self.complete_read_404(p);
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

pub(crate) fn reservation(
    key: &str,
    name: &str,
    quantity: u64,
    state: ReservationState,
    order_number: Option<u64>,
) -> Reservation {
    Reservation {
        request_id: key.to_string(),
        name: name.to_string(),
        quantity,
        price: 1.0,
        state,
        order_number,
        created_ms: 0,
    }
}

/// `replicas` equal replicas holding `orders`, a ledger that matches them exactly, and
/// one confirmed reservation per order.
pub(crate) fn final_state(orders: Vec<Order>, replicas: u64) -> FinalState {
    let reservations = orders
        .iter()
        .map(|o| {
            let confirmed = ReservationState::Confirmed;
            reservation(
                &o.request_id,
                &o.name,
                o.quantity,
                confirmed,
                Some(o.number),
            )
        })
        .collect();
    let ledger = ledger_at_rest(&orders, &["Tux", "Uno"], 100);
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
        reservations: Some(reservations),
    }
}

/// The ledger of `products` once `orders` are all confirmed and nothing is held: each
/// started at `initial`, nothing restocked.
pub(crate) fn ledger_at_rest(orders: &[Order], products: &[&str], initial: u64) -> Vec<LedgerRow> {
    products
        .iter()
        .map(|name| {
            let confirmed: u64 = orders
                .iter()
                .filter(|o| o.name == *name)
                .map(|o| o.quantity)
                .sum();
            LedgerRow {
                name: name.to_string(),
                quantity: initial - confirmed,
                restocked: 0,
                held: 0,
                confirmed,
                initial,
            }
        })
        .collect()
}
