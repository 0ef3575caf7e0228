//! The clients of a `jepsen-like test` run: each is one process of the history, sending
//! buys, order reads and product queries to the gateway at its share of the total rate,
//! recording every invoke and its one completion.
//!
//! Buys use a fresh idempotency key, and now and then deliberately repeat an earlier key
//! with the same body (a client retry). Order reads ask for acknowledged numbers and for
//! numbers just past them (orders possibly in flight).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::time::Instant;
use toystore_api::gateway::GatewayClient;
use toystore_api::{CallError, Http, Transport};

use crate::clients::{toy, toy_count};
use crate::history::{EventType, Function, Recorder};

/// Client request timeout: above the gateway's deadline, so a slow failover ends as the
/// gateway's answer rather than a client-side timeout.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(12);

#[derive(Debug, Clone)]
pub(crate) struct WorkloadOptions {
    pub(crate) clients: usize,
    /// Total operations per second over all clients.
    pub(crate) rate: f64,
    pub(crate) duration: Duration,
    pub(crate) seed: u64,
}

/// Shared between clients: the highest acknowledged order number, for reads.
#[derive(Default)]
struct Acknowledged {
    /// One more than the highest number seen (0: none yet).
    next: AtomicU64,
}

impl Acknowledged {
    fn saw(&self, number: u64) {
        self.next.fetch_max(number + 1, Ordering::Relaxed);
    }
}

/// The clients' shared pool: [`CLIENT_TIMEOUT`], a connection per client kept alive.
pub(crate) fn http(transport: &Transport, options: &WorkloadOptions) -> anyhow::Result<Http> {
    let clients = options.clients;
    Ok(transport.http(|b| b.timeout(CLIENT_TIMEOUT).pool_max_idle_per_host(clients))?)
}

/// Runs every client until the duration is over; returns the number of ops done.
pub(crate) async fn run(
    gateway_addr: &str,
    http: Http,
    recorder: &Recorder,
    options: &WorkloadOptions,
) -> u64 {
    let gateway = GatewayClient::new(gateway_addr, http);
    let acknowledged = Arc::new(Acknowledged::default());
    let end = Instant::now() + options.duration;
    let per_client = Duration::from_secs_f64(options.clients as f64 / options.rate.max(0.1));
    let mut tasks = Vec::new();
    for process in 0..options.clients {
        let client = Client {
            process: process as i64,
            gateway: gateway.clone(),
            recorder: recorder.clone(),
            acknowledged: acknowledged.clone(),
            rng: StdRng::seed_from_u64(options.seed.wrapping_add(process as u64)),
            past_buys: Vec::new(),
        };
        tasks.push(tokio::spawn(client.run(end, per_client)));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap_or(0);
    }
    done
}

struct Client {
    process: i64,
    gateway: GatewayClient,
    recorder: Recorder,
    acknowledged: Arc<Acknowledged>,
    rng: StdRng,
    /// (name, quantity, key) of this client's earlier buys, to retry some.
    past_buys: Vec<(String, u64, String)>,
}

impl Client {
    async fn run(mut self, end: Instant, interval: Duration) -> u64 {
        // Start at a random phase, so clients do not fire in lockstep.
        let phase = interval.mul_f64(self.rng.random::<f64>());
        let mut next = Instant::now() + phase;
        let mut done = 0;
        loop {
            tokio::time::sleep_until(next).await;
            if Instant::now() >= end {
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

    fn invoke(&self, f: Function, value: serde_json::Value) {
        self.recorder
            .record(self.process, EventType::Invoke, f, value);
    }

    fn complete(&self, f: Function, kind: EventType, value: serde_json::Value) {
        self.recorder.record(self.process, kind, f, value);
    }

    async fn buy(&mut self) {
        let retry = !self.past_buys.is_empty() && self.rng.random_bool(0.1);
        let (name, quantity, key) = if retry {
            self.past_buys[self.rng.random_range(0..self.past_buys.len())].clone()
        } else {
            let name = toy(self.rng.random_range(0..toy_count())).to_string();
            let quantity = self.rng.random_range(1..=3);
            let key = format!("p{}-{}", self.process, uuid::Uuid::new_v4().simple());
            self.past_buys.push((name.clone(), quantity, key.clone()));
            (name, quantity, key)
        };
        self.invoke(
            Function::Buy,
            json!({"name": name, "quantity": quantity, "key": key}),
        );
        match self.gateway.buy(&name, quantity, Some(&key)).await {
            Ok(created) => {
                self.acknowledged.saw(created.order_number);
                self.complete(
                    Function::Buy,
                    EventType::Ok,
                    json!({"order_number": created.order_number}),
                );
            }
            Err(err) => {
                let (kind, value) = classify(&err, &[404, 409, 422, 400]);
                self.complete(Function::Buy, kind, value);
            }
        }
    }

    async fn read_order(&mut self) {
        let next = self.acknowledged.next.load(Ordering::Relaxed);
        // Mostly acknowledged numbers; sometimes just past them (possibly in flight).
        let number = if next == 0 || self.rng.random_bool(0.2) {
            next + self.rng.random_range(0..3)
        } else {
            self.rng.random_range(0..next)
        };
        self.invoke(Function::ReadOrder, json!({"number": number}));
        match self.gateway.order(number).await {
            Ok(order) => self.complete(
                Function::ReadOrder,
                EventType::Ok,
                json!({"number": order.number, "name": order.name, "quantity": order.quantity}),
            ),
            Err(err) => {
                let (kind, value) = classify(&err, &[404, 400]);
                self.complete(Function::ReadOrder, kind, value);
            }
        }
    }

    async fn query(&mut self) {
        let name = toy(self.rng.random_range(0..toy_count()));
        self.invoke(Function::Query, json!({"name": name}));
        match self.gateway.product(name).await {
            Ok(read) => self.complete(
                Function::Query,
                EventType::Ok,
                json!({"name": read.product.name, "price": read.product.price, "quantity": read.product.quantity}),
            ),
            Err(err) => {
                let (kind, value) = classify(&err, &[404, 400]);
                self.complete(Function::Query, kind, value);
            }
        }
    }
}

/// A definite failure (one of `definite` statuses) is `fail`; anything else (503, a lost
/// connection, a timeout) may or may not have happened: `info`.
fn classify(err: &CallError, definite: &[u16]) -> (EventType, serde_json::Value) {
    match err {
        CallError::Status { status, detail } if definite.contains(&status.as_u16()) => (
            EventType::Fail,
            json!({"code": status.as_u16(), "message": detail.message}),
        ),
        CallError::Status { status, detail } => (
            EventType::Info,
            json!({"code": status.as_u16(), "error": detail.message}),
        ),
        other => (EventType::Info, json!({"error": other.to_string()})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use toystore_api::ErrorDetail;

    fn status(code: u16) -> CallError {
        CallError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            detail: ErrorDetail {
                code,
                message: "m".into(),
                extra: Default::default(),
            },
        }
    }

    #[test]
    fn only_definite_answers_are_failures() {
        assert_eq!(classify(&status(409), &[404, 409]).0, EventType::Fail);
        assert_eq!(classify(&status(503), &[404, 409]).0, EventType::Info);
        let lost = CallError::Unreachable {
            connect: false,
            reason: "reset".into(),
        };
        assert_eq!(classify(&lost, &[404]).0, EventType::Info);
    }
}
