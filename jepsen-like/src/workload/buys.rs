//! Buys as a careful client sends them. A buy whose answer is lost (`info`) is retried with
//! its same key and body, up to [`RETRIES`] times, and now and then a second process races
//! the retry with the same request; as in Jepsen, a process that got `info` is retired and
//! its slot goes on under a fresh id. A probe sends an acknowledged key again with another
//! body, which the contract answers 422.
//!
//! Keys derive from the run's seed, the client slot and a counter, so a seed replays the
//! same requests.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::history::{EventType, Function};
use crate::workload::shared::{classify, Shared};

/// Retries of a buy that got `info`, after the first attempt.
pub(crate) const RETRIES: u32 = 3;

/// How often a retry is raced by another process sending the same request at once.
pub(crate) const RACE_PROBABILITY: f64 = 0.3;

/// Pause before retry n is n times this: a retry straight after a refused connection
/// would only meet the same dead gateway.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// What a buy sends: the body and its Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuyBody {
    pub(crate) name: String,
    pub(crate) quantity: u64,
    pub(crate) key: String,
}

impl BuyBody {
    /// The same key with another quantity: the contract's 422.
    pub(crate) fn altered(&self) -> BuyBody {
        let quantity = if self.quantity == 1 {
            2
        } else {
            self.quantity - 1
        };
        BuyBody {
            quantity,
            ..self.clone()
        }
    }

    fn invoke_value(&self, attempt: Attempt) -> Value {
        let mut value = json!({"name": self.name, "quantity": self.quantity, "key": self.key});
        // Extra fields beside the contract's three, for people reading the history.
        match attempt {
            Attempt::First => {}
            Attempt::Retry(n) => value["retry"] = json!(n),
            Attempt::Race(n) => {
                value["retry"] = json!(n);
                value["racer"] = json!(true);
            }
            Attempt::Probe => value["probe"] = json!(true),
        }
        value
    }
}

/// Key `n` of client slot `slot` in the run of `seed`: a seed replays the same keys, and
/// slots never share one.
pub(crate) fn key(seed: u64, slot: usize, n: u64) -> String {
    format!("{seed:x}-c{slot}-{n}")
}

/// Which send of a request this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    First,
    /// Retry n by the slot's fresh process.
    Retry(u32),
    /// Retry n by a second process at the same time.
    Race(u32),
    /// An acknowledged key with another body.
    Probe,
}

/// How one send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok(u64),
    /// A definite failure with this status.
    Fail(u16),
    /// No answer, or one that says nothing definite.
    Info,
}

impl Outcome {
    /// The more informative of two sends of the same request.
    fn or(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Ok(n), _) | (_, Outcome::Ok(n)) => Outcome::Ok(n),
            (Outcome::Fail(code), _) | (_, Outcome::Fail(code)) => Outcome::Fail(code),
            _ => Outcome::Info,
        }
    }
}

/// Sends `body` once as `process`, recording the invoke and its completion.
async fn send(shared: &Shared, process: i64, body: &BuyBody, attempt: Attempt) -> Outcome {
    shared.invoke(process, Function::Buy, body.invoke_value(attempt));
    match shared
        .gateway
        .buy(&body.name, body.quantity, Some(&body.key))
        .await
    {
        Ok(created) => {
            shared.saw(created.order_number);
            let value = json!({"order_number": created.order_number});
            shared.complete(process, Function::Buy, EventType::Ok, value);
            Outcome::Ok(created.order_number)
        }
        Err(err) => {
            let (kind, value) = classify(&err, &[400, 404, 409, 422]);
            shared.complete(process, Function::Buy, kind, value);
            match (kind, err.status()) {
                (EventType::Fail, Some(status)) => Outcome::Fail(status.as_u16()),
                _ => Outcome::Info,
            }
        }
    }
}

/// Sends `body` as `*process` and retries it while the answer is lost. Every process that
/// gets `info` is retired: `*process` is then a fresh id, for the slot's next operation.
pub(crate) async fn buy(
    shared: &Arc<Shared>,
    process: &mut i64,
    rng: &mut StdRng,
    body: &BuyBody,
) -> Outcome {
    let mut outcome = send(shared, *process, body, Attempt::First).await;
    let mut retry = 0;
    loop {
        if outcome != Outcome::Info {
            return outcome;
        }
        // The slot's own process got info (a racer's ok does not make it definite).
        *process = shared.fresh_process();
        if retry == RETRIES || Instant::now() >= shared.end {
            return outcome;
        }
        retry += 1;
        tokio::time::sleep(RETRY_BACKOFF * retry).await;
        let racer = rng.random_bool(RACE_PROBABILITY).then(|| {
            let (shared, body) = (shared.clone(), body.clone());
            let id = shared.fresh_process();
            tokio::spawn(async move { send(&shared, id, &body, Attempt::Race(retry)).await })
        });
        outcome = send(shared, *process, body, Attempt::Retry(retry)).await;
        if let Some(racer) = racer {
            // The racer's id is used once and never again, whatever it got.
            let raced = racer.await.unwrap_or(Outcome::Info);
            if outcome == Outcome::Info && raced != Outcome::Info {
                *process = shared.fresh_process();
                return raced;
            }
            outcome = outcome.or(raced);
        }
    }
}

/// Sends an acknowledged key with another body: anything but 422 is a broken promise
/// (an `ok` is also caught by the checker, since the order holds the first body).
pub(crate) async fn probe(shared: &Shared, process: &mut i64, acknowledged: &BuyBody) {
    let altered = acknowledged.altered();
    match send(shared, *process, &altered, Attempt::Probe).await {
        Outcome::Fail(422) => {}
        Outcome::Info => *process = shared.fresh_process(),
        other => tracing::warn!(
            "key {} sent again with another body got {other:?}, not 422",
            altered.key
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_seed_and_the_slot() {
        assert_eq!(key(255, 3, 7), "ff-c3-7");
        assert_eq!(key(255, 3, 7), key(255, 3, 7));
        assert_ne!(key(255, 3, 7), key(256, 3, 7));
        assert_ne!(key(1, 1, 11), key(1, 11, 1));
        let longest = key(u64::MAX, 999, u64::MAX);
        assert!(longest.len() <= 64, "{longest}");
        assert!(longest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn an_altered_body_keeps_the_key_and_changes_the_quantity() {
        for quantity in 1..=5 {
            let body = BuyBody {
                name: "Tux".into(),
                quantity,
                key: "k".into(),
            };
            let altered = body.altered();
            assert_eq!(altered.key, "k");
            assert_ne!(altered.quantity, quantity);
            assert!(altered.quantity >= 1);
        }
    }

    #[test]
    fn the_more_definite_outcome_wins() {
        assert_eq!(Outcome::Info.or(Outcome::Ok(3)), Outcome::Ok(3));
        assert_eq!(Outcome::Fail(409).or(Outcome::Info), Outcome::Fail(409));
        assert_eq!(Outcome::Fail(409).or(Outcome::Ok(1)), Outcome::Ok(1));
        assert_eq!(Outcome::Info.or(Outcome::Info), Outcome::Info);
    }

    #[test]
    fn retries_and_probes_are_marked_in_the_invoke() {
        let body = BuyBody {
            name: "Uno".into(),
            quantity: 2,
            key: "k".into(),
        };
        assert_eq!(
            body.invoke_value(Attempt::First),
            json!({"name": "Uno", "quantity": 2, "key": "k"})
        );
        assert_eq!(body.invoke_value(Attempt::Retry(2))["retry"], 2);
        assert_eq!(body.invoke_value(Attempt::Race(1))["racer"], true);
        assert_eq!(body.invoke_value(Attempt::Probe)["probe"], true);
    }
}
