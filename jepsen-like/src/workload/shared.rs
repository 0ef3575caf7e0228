//! What every client process of a run shares: the gateway, the recorder, the highest
//! acknowledged order number (for reads), the next free process id, and the end of the
//! run; and how one completion is classified (`ok`, `fail` or `info`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde_json::{json, Value};
use tokio::time::Instant;
use toystore_api::gateway::GatewayClient;
use toystore_api::CallError;

use crate::history::{EventType, Function, Recorder};

/// Shared by every client slot and every racing retry.
pub(crate) struct Shared {
    pub(crate) gateway: GatewayClient,
    pub(crate) recorder: Recorder,
    /// One more than the highest order number acknowledged (0: none yet).
    acknowledged: AtomicU64,
    /// The next process id to hand out: a process that got `info` is retired for good
    /// (it may still be running, as far as the history knows), so its slot goes on under
    /// a fresh id. Starts at the number of clients, above the first ids.
    next_process: AtomicI64,
    /// When the workload stops: no new operation, no further retry, after it.
    pub(crate) end: Instant,
}

impl Shared {
    pub(crate) fn new(
        gateway: GatewayClient,
        recorder: Recorder,
        clients: usize,
        end: Instant,
    ) -> Self {
        Shared {
            gateway,
            recorder,
            acknowledged: AtomicU64::new(0),
            next_process: AtomicI64::new(clients as i64),
            end,
        }
    }

    /// A process id never used before.
    pub(crate) fn fresh_process(&self) -> i64 {
        self.next_process.fetch_add(1, Ordering::Relaxed)
    }

    /// Notes an acknowledged order number.
    pub(crate) fn saw(&self, number: u64) {
        self.acknowledged.fetch_max(number + 1, Ordering::Relaxed);
    }

    /// One more than the highest acknowledged order number (0: none yet).
    pub(crate) fn acknowledged_next(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    pub(crate) fn invoke(&self, process: i64, f: Function, value: Value) {
        self.recorder.record(process, EventType::Invoke, f, value);
    }

    pub(crate) fn complete(&self, process: i64, f: Function, kind: EventType, value: Value) {
        self.recorder.record(process, kind, f, value);
    }
}

/// A definite failure (one of `definite` statuses) is `fail`; anything else (503, a lost
/// connection, a timeout) may or may not have happened: `info`.
pub(crate) fn classify(err: &CallError, definite: &[u16]) -> (EventType, Value) {
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

    #[test]
    fn fresh_processes_start_above_the_clients_and_never_repeat() {
        let gateway = GatewayClient::with_timeout("127.0.0.1:9", std::time::Duration::from_secs(1));
        let shared = Shared::new(gateway, Recorder::new(), 4, Instant::now());
        assert_eq!(shared.fresh_process(), 4);
        assert_eq!(shared.fresh_process(), 5);
        shared.saw(7);
        shared.saw(3);
        assert_eq!(shared.acknowledged_next(), 8);
    }
}
