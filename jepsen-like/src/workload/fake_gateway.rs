//! A stand-in gateway for the workload's tests: a few lines of HTTP/1.1 on a loopback port
//! that keep orders by idempotency key the way the contract says, and lose a share of the
//! answers (503, before or after committing), so retries, races and probes can be watched
//! without a cluster.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::final_state::{FinalState, ReplicaState};

/// One committed order: name, quantity, key.
type Stored = (String, u64, String);

#[derive(Default)]
struct Orders {
    /// In number order.
    list: Vec<Stored>,
    by_key: HashMap<String, u64>,
}

/// A running fake gateway; it stops with the test's runtime.
pub(crate) struct FakeGateway {
    pub(crate) addr: SocketAddr,
    orders: Arc<Mutex<Orders>>,
}

impl FakeGateway {
    /// Answers a buy with 503 in `lose` of the cases (half of those after committing it).
    pub(crate) async fn start(lose: f64) -> FakeGateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let orders = Arc::new(Mutex::new(Orders::default()));
        let shared = orders.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone(), lose));
            }
        });
        FakeGateway { addr, orders }
    }

    /// What a replica would hold: every committed order.
    pub(crate) fn final_state(&self) -> FinalState {
        let orders = self.orders.lock().unwrap();
        let orders = orders
            .list
            .iter()
            .enumerate()
            .map(
                |(number, (name, quantity, key))| toystore_api::node::Order {
                    number: number as u64,
                    name: name.clone(),
                    quantity: *quantity,
                    request_id: key.clone(),
                },
            )
            .collect();
        FinalState {
            replicas: [(
                "1".to_string(),
                ReplicaState {
                    orders,
                    digest: String::new(),
                },
            )]
            .into(),
            ledger: Vec::new(),
            reservations: None,
        }
    }
}

async fn serve(stream: TcpStream, orders: Arc<Mutex<Orders>>, lose: f64) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let key = headers.get("idempotency-key").cloned().unwrap_or_default();
        let (status, answer) = answer(&orders, method, path, &key, &body, lose);
        let text = answer.to_string();
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn error(code: u16, message: &str) -> (u16, Value) {
    (code, json!({"error": {"code": code, "message": message}}))
}

fn answer(
    orders: &Mutex<Orders>,
    method: &str,
    path: &str,
    key: &str,
    body: &[u8],
    lose: f64,
) -> (u16, Value) {
    let mut orders = orders.lock().unwrap();
    if method == "POST" && path == "/orders" {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let name = body["name"].as_str().unwrap_or_default().to_string();
        let quantity = body["quantity"].as_u64().unwrap_or(0);
        if let Some(&number) = orders.by_key.get(key) {
            let (first_name, first_quantity, _) = &orders.list[number as usize];
            if *first_name != name || *first_quantity != quantity {
                return error(422, "idempotency key reused with a different body");
            }
        }
        let roll: f64 = rand::random();
        if roll < lose / 2.0 {
            return error(503, "no leader");
        }
        let number = match orders.by_key.get(key) {
            Some(&number) => number,
            None => {
                let number = orders.list.len() as u64;
                orders.list.push((name, quantity, key.to_string()));
                orders.by_key.insert(key.to_string(), number);
                number
            }
        };
        if roll < lose {
            return error(503, "no leader");
        }
        return (200, json!({"data": {"order_number": number}}));
    }
    if let Some(number) = path.strip_prefix("/orders/") {
        let order = number
            .parse::<usize>()
            .ok()
            .and_then(|n| orders.list.get(n).map(|o| (n, o)));
        return match order {
            Some((n, (name, quantity, _))) => (
                200,
                json!({"data": {"number": n, "name": name, "quantity": quantity}}),
            ),
            None => error(404, "order not found"),
        };
    }
    if let Some(name) = path.strip_prefix("/products/") {
        return (
            200,
            json!({"data": {"name": name, "price": 1.5, "quantity": 100}}),
        );
    }
    error(404, "not found")
}
