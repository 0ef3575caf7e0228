//! One client slot of a run: at its share of the rate it buys, reads an order or queries a
//! toy, as one process of the history at a time (a fresh one after every `info`).
//!
//! Buys mostly use a fresh key; a few repeat an earlier request of the slot (a client
//! retry long after the fact) or probe an acknowledged key with another body. Order reads
//! ask for acknowledged numbers and for numbers just past them (orders possibly in flight).

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::time::Instant;

use crate::clients::{toy, toy_count};
use crate::history::{EventType, Function};
use crate::workload::buys::{self, BuyBody, Outcome};
use crate::workload::shared::{classify, Shared};

/// Share of buys that send an acknowledged key with another body (expecting 422).
const PROBE_PROBABILITY: f64 = 0.02;

/// Share of buys that repeat one of the slot's earlier requests, same key and body.
const REPEAT_PROBABILITY: f64 = 0.05;

pub(crate) struct Client {
    slot: usize,
    /// The process id the slot runs as now.
    process: i64,
    shared: Arc<Shared>,
    rng: StdRng,
    seed: u64,
    /// Keys made so far by this slot.
    keys: u64,
    /// Every request the slot sent, to repeat some.
    sent: Vec<BuyBody>,
    /// The requests answered ok, to probe some.
    acknowledged: Vec<BuyBody>,
}

impl Client {
    /// Slot `slot` of a run of `seed`; it starts as process `slot`.
    pub(crate) fn new(slot: usize, shared: Arc<Shared>, seed: u64) -> Self {
        Client {
            slot,
            process: slot as i64,
            shared,
            rng: StdRng::seed_from_u64(seed.wrapping_add(slot as u64)),
            seed,
            keys: 0,
            sent: Vec::new(),
            acknowledged: Vec::new(),
        }
    }

    /// Runs one operation every `interval` until the end of the run; returns how many.
    pub(crate) async fn run(mut self, interval: Duration) -> u64 {
        // Start at a random phase, so clients do not fire in lockstep.
        let phase = interval.mul_f64(self.rng.random::<f64>());
        let mut next = Instant::now() + phase;
        let mut done = 0;
        loop {
            tokio::time::sleep_until(next).await;
            if Instant::now() >= self.shared.end {
                return done;
            }
            let roll = self.rng.random::<f64>();
            if roll < 0.5 {
                self.buy().await;
            } else if roll < 0.8 {
                self.read_order().await;
            } else {
                self.query().await;
            }
            done += 1;
            next += interval;
            if next < Instant::now() {
                next = Instant::now(); // running behind: do not burst to catch up
            }
        }
    }

    async fn buy(&mut self) {
        let roll = self.rng.random::<f64>();
        if roll < PROBE_PROBABILITY && !self.acknowledged.is_empty() {
            let target =
                self.acknowledged[self.rng.random_range(0..self.acknowledged.len())].clone();
            buys::probe(&self.shared, &mut self.process, &target).await;
            return;
        }
        let body = if roll < PROBE_PROBABILITY + REPEAT_PROBABILITY && !self.sent.is_empty() {
            self.sent[self.rng.random_range(0..self.sent.len())].clone()
        } else {
            self.fresh_body()
        };
        let outcome = buys::buy(&self.shared, &mut self.process, &mut self.rng, &body).await;
        if matches!(outcome, Outcome::Ok(_)) && !self.acknowledged.contains(&body) {
            self.acknowledged.push(body);
        }
    }

    fn fresh_body(&mut self) -> BuyBody {
        let body = BuyBody {
            name: toy(self.rng.random_range(0..toy_count())).to_string(),
            quantity: self.rng.random_range(1..=3),
            key: buys::key(self.seed, self.slot, self.keys),
        };
        self.keys += 1;
        self.sent.push(body.clone());
        body
    }

    async fn read_order(&mut self) {
        let next = self.shared.acknowledged_next();
        // Mostly acknowledged numbers; sometimes just past them (possibly in flight). The
        // draws do not depend on `next`, which other slots move: a seed makes the same
        // draws whatever the timing.
        let (past, offset, fraction) = (
            self.rng.random_bool(0.2),
            self.rng.random_range(0..3),
            self.rng.random::<f64>(),
        );
        let number = if next == 0 || past {
            next + offset
        } else {
            ((fraction * next as f64) as u64).min(next - 1)
        };
        let process = self.process;
        self.shared
            .invoke(process, Function::ReadOrder, json!({"number": number}));
        match self.shared.gateway.order(number).await {
            Ok(order) => self.shared.complete(
                process,
                Function::ReadOrder,
                EventType::Ok,
                json!({"number": order.number, "name": order.name, "quantity": order.quantity}),
            ),
            Err(err) => {
                let (kind, value) = classify(&err, &[404, 400]);
                self.shared
                    .complete(process, Function::ReadOrder, kind, value);
                self.retire_after(kind);
            }
        }
    }

    async fn query(&mut self) {
        let name = toy(self.rng.random_range(0..toy_count()));
        let process = self.process;
        self.shared
            .invoke(process, Function::Query, json!({"name": name}));
        match self.shared.gateway.product(name).await {
            Ok(read) => self.shared.complete(
                process,
                Function::Query,
                EventType::Ok,
                json!({"name": read.product.name, "price": read.product.price, "quantity": read.product.quantity}),
            ),
            Err(err) => {
                let (kind, value) = classify(&err, &[404, 400]);
                self.shared.complete(process, Function::Query, kind, value);
                self.retire_after(kind);
            }
        }
    }

    /// Jepsen's rule: a process whose operation ended in `info` may still be running it,
    /// so it never invokes again; the slot goes on as a fresh process.
    fn retire_after(&mut self, kind: EventType) {
        if kind == EventType::Info {
            self.process = self.shared.fresh_process();
        }
    }
}
