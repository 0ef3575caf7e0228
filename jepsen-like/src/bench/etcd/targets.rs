//! The requests of each side, as [`MakeRequest`]s for the shared load generator:
//! toystore buys, order reads and product queries on the gateway; etcd puts and
//! linearizable or serializable gets on etcd's JSON gateway (`/v3/kv/...`, keys and values
//! in base64). Connections spread over the etcd members, as etcd's own client does.

use std::sync::Arc;

use anyhow::{ensure, Context};
use serde_json::json;

use crate::clients::{fresh_key, random_toy};
use crate::loadgen::MakeRequest;

/// How many keys the gets read from (written before the first get).
pub(crate) const GET_KEYS: usize = 1000;

/// What a row of the comparison measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// Buys vs puts.
    Write,
    /// Linearizable order reads vs linearizable gets.
    LinearRead,
    /// Cached product queries vs serializable gets.
    CachedRead,
}

impl Workload {
    /// `(toystore side, etcd side)` as the table names them.
    pub(crate) fn labels(self) -> (&'static str, &'static str) {
        match self {
            Workload::Write => ("buy", "put"),
            Workload::LinearRead => ("order read", "linearizable get"),
            Workload::CachedRead => ("cached query", "serializable get"),
        }
    }
}

/// Where both sides listen, and what exists to be read.
#[derive(Debug, Clone)]
pub(crate) struct Targets {
    /// `http://host:port` of the gateway.
    pub(crate) gateway: String,
    /// `http://host:port` of every etcd member.
    pub(crate) etcd: Vec<String>,
    /// Orders 0..orders exist.
    pub(crate) orders: u64,
}

impl Targets {
    /// The toystore side of `workload`.
    pub(crate) fn toystore(&self, workload: Workload) -> MakeRequest {
        let base = self.gateway.clone();
        let orders = self.orders.max(1);
        match workload {
            Workload::Write => Arc::new(move |http, _, _| {
                http.post(format!("{base}/orders"))
                    .header("Idempotency-Key", fresh_key())
                    .json(&json!({"name": random_toy(), "quantity": 1}))
            }),
            Workload::LinearRead => Arc::new(move |http, _, _| {
                let number = rand::random_range(0..orders);
                http.get(format!("{base}/orders/{number}"))
            }),
            Workload::CachedRead => {
                Arc::new(move |http, _, _| http.get(format!("{base}/products/{}", random_toy())))
            }
        }
    }

    /// The etcd side of `workload`.
    pub(crate) fn etcd(&self, workload: Workload) -> MakeRequest {
        let members = self.etcd.clone();
        let member = move |conn: usize| members[conn % members.len()].clone();
        match workload {
            Workload::Write => Arc::new(move |http, conn, _| {
                // The value is what a buy sends, so both sides carry the same payload.
                let value = json!({"name": random_toy(), "quantity": 1}).to_string();
                let body = json!({
                    "key": base64(format!("order/{}", fresh_key()).as_bytes()),
                    "value": base64(value.as_bytes()),
                });
                http.post(format!("{}/v3/kv/put", member(conn))).json(&body)
            }),
            Workload::LinearRead | Workload::CachedRead => {
                let serializable = workload == Workload::CachedRead;
                Arc::new(move |http, conn, _| {
                    let key = get_key(rand::random_range(0..GET_KEYS));
                    let body = json!({"key": base64(key.as_bytes()), "serializable": serializable});
                    http.post(format!("{}/v3/kv/range", member(conn)))
                        .json(&body)
                })
            }
        }
    }
}

/// The name of get key `index`.
fn get_key(index: usize) -> String {
    format!("get/{index:04}")
}

/// Writes the [`GET_KEYS`] keys the gets read.
pub(crate) async fn seed_etcd(etcd: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for index in 0..GET_KEYS {
        let key = get_key(index);
        let body = json!({"key": base64(key.as_bytes()), "value": base64(b"{\"name\":\"Tux\",\"quantity\":1}")});
        let response = http
            .post(format!("{etcd}/v3/kv/put"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("put {key} at {etcd}"))?;
        ensure!(
            response.status().is_success(),
            "put {key}: {}",
            response.status()
        );
    }
    Ok(())
}

/// Standard base64 with padding (RFC 4648), as etcd's JSON gateway wants bytes.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        // The test vectors of RFC 4648, section 10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn etcd_requests_spread_over_members_with_encoded_keys() {
        let targets = Targets {
            gateway: "http://127.0.0.1:1".into(),
            etcd: vec!["http://127.0.0.1:2".into(), "http://127.0.0.1:3".into()],
            orders: 5,
        };
        let http = reqwest::Client::new();
        let make = targets.etcd(Workload::CachedRead);
        let request = make(&http, 1, 0).build().unwrap();
        assert_eq!(request.url().as_str(), "http://127.0.0.1:3/v3/kv/range");
        let body: serde_json::Value =
            serde_json::from_slice(request.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body["serializable"], true);
        assert!(body["key"].as_str().unwrap().starts_with("Z2V0")); // "get"
        let buy = targets.toystore(Workload::Write)(&http, 0, 0)
            .build()
            .unwrap();
        assert!(buy.headers().contains_key("Idempotency-Key"));
        assert_eq!(buy.url().as_str(), "http://127.0.0.1:1/orders");
    }
}
