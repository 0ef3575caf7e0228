//! The operation history, as `history.jsonl` holds it (contract section 7): one event per
//! line, every client invoke followed by exactly one completion of the same process, and
//! the nemesis's faults as `info` events of process -1.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The process id of the nemesis.
pub(crate) const NEMESIS: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EventType {
    Invoke,
    Ok,
    /// Definitely did not happen.
    Fail,
    /// May or may not have happened (timeout, lost connection), or a nemesis event.
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Function {
    Buy,
    ReadOrder,
    Query,
    Nemesis,
}

impl Function {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Function::Buy => "buy",
            Function::ReadOrder => "read_order",
            Function::Query => "query",
            Function::Nemesis => "nemesis",
        }
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Event {
    pub(crate) index: u64,
    pub(crate) process: i64,
    #[serde(rename = "type")]
    pub(crate) kind: EventType,
    pub(crate) f: Function,
    pub(crate) value: Value,
    pub(crate) time_ns: u64,
}

impl Event {
    pub(crate) fn u64_field(&self, key: &str) -> Option<u64> {
        self.value.get(key).and_then(Value::as_u64)
    }

    pub(crate) fn str_field(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }
}

/// Appends events with dense indexes and times since the recorder started; shared by
/// every client and the nemesis.
#[derive(Clone)]
pub(crate) struct Recorder {
    inner: Arc<Mutex<RecorderState>>,
    start: Instant,
}

struct RecorderState {
    events: Vec<Event>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Recorder {
            inner: Arc::new(Mutex::new(RecorderState { events: Vec::new() })),
            start: Instant::now(),
        }
    }

    /// Records one event now and returns its index.
    pub(crate) fn record(&self, process: i64, kind: EventType, f: Function, value: Value) -> u64 {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Timestamped under the lock so times never go backwards along indexes.
        let time_ns = self.start.elapsed().as_nanos() as u64;
        let index = state.events.len() as u64;
        state.events.push(Event {
            index,
            process,
            kind,
            f,
            value,
            time_ns,
        });
        index
    }

    /// A nemesis fault starting or stopping: `{"fault", "target", "phase"}`, and an `error`
    /// when it did not start or heal.
    pub(crate) fn nemesis_value(&self, value: Value) {
        self.record(NEMESIS, EventType::Info, Function::Nemesis, value);
    }

    pub(crate) fn events(&self) -> Vec<Event> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .clone()
    }
}

pub(crate) fn write(path: &Path, events: &[Event]) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for event in events {
        serde_json::to_writer(&mut out, event)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

pub(crate) fn load(path: &Path) -> anyhow::Result<Vec<Event>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut events = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Event = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}", path.display(), n + 1))?;
        events.push(event);
    }
    Ok(events)
}

/// An invoke paired with its completion.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) f: Function,
    pub(crate) invoke: Event,
    /// `None` if the history ended before the completion (treated as info).
    pub(crate) completion: Option<Event>,
}

impl Op {
    pub(crate) fn outcome(&self) -> EventType {
        self.completion.as_ref().map_or(EventType::Info, |c| c.kind)
    }

    /// The completion's index, else the invoke's.
    pub(crate) fn indices(&self) -> Vec<u64> {
        let mut indices = vec![self.invoke.index];
        indices.extend(self.completion.as_ref().map(|c| c.index));
        indices
    }

    pub(crate) fn invoke_ns(&self) -> u64 {
        self.invoke.time_ns
    }

    /// Completion time, or `u64::MAX` for an op that never completed.
    pub(crate) fn complete_ns(&self) -> u64 {
        self.completion.as_ref().map_or(u64::MAX, |c| c.time_ns)
    }
}

/// Pairs each client invoke with the next event of the same process. Fails on a history
/// that breaks the rules (a completion without an invoke, two invokes in a row).
pub(crate) fn pair(events: &[Event]) -> anyhow::Result<Vec<Op>> {
    let mut open: std::collections::HashMap<i64, Event> = Default::default();
    let mut ops = Vec::new();
    for event in events.iter().filter(|e| e.process != NEMESIS) {
        match event.kind {
            EventType::Invoke => {
                if let Some(previous) = open.insert(event.process, event.clone()) {
                    anyhow::bail!(
                        "process {} invoked at {} before completing {}",
                        event.process,
                        event.index,
                        previous.index
                    );
                }
            }
            _ => {
                let invoke = open.remove(&event.process).with_context(|| {
                    format!(
                        "completion {} of process {} without an invoke",
                        event.index, event.process
                    )
                })?;
                anyhow::ensure!(
                    invoke.f == event.f,
                    "completion {} does not match invoke {}",
                    event.index,
                    invoke.index
                );
                ops.push(Op {
                    f: event.f,
                    invoke,
                    completion: Some(event.clone()),
                });
            }
        }
    }
    for invoke in open.into_values() {
        ops.push(Op {
            f: invoke.f,
            invoke,
            completion: None,
        });
    }
    ops.sort_by_key(|op| op.invoke.index);
    Ok(ops)
}

/// The nemesis windows: (fault, target, start ns, stop ns).
pub(crate) fn fault_windows(events: &[Event]) -> Vec<(String, String, u64, u64)> {
    let mut open: Vec<(String, String, u64)> = Vec::new();
    let mut windows = Vec::new();
    let end = events.last().map_or(0, |e| e.time_ns);
    for event in events.iter().filter(|e| e.f == Function::Nemesis) {
        let fault = event.str_field("fault").unwrap_or("?").to_string();
        let target = event.str_field("target").unwrap_or("?").to_string();
        match event.str_field("phase") {
            Some("start") => open.push((fault, target, event.time_ns)),
            _ => {
                if let Some(pos) = open.iter().position(|o| o.0 == fault && o.1 == target) {
                    let (f, t, start) = open.remove(pos);
                    windows.push((f, t, start, event.time_ns));
                }
            }
        }
    }
    windows.extend(open.into_iter().map(|(f, t, s)| (f, t, s, end)));
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_jsonl_and_pairs_ops() {
        let recorder = Recorder::new();
        recorder.record(
            0,
            EventType::Invoke,
            Function::Buy,
            json!({"name": "Tux", "quantity": 1, "key": "k"}),
        );
        recorder.nemesis_value(json!({"fault": "kill", "target": "node-2", "phase": "start"}));
        recorder.record(
            1,
            EventType::Invoke,
            Function::Query,
            json!({"name": "Tux"}),
        );
        recorder.record(0, EventType::Ok, Function::Buy, json!({"order_number": 0}));
        recorder.nemesis_value(json!({"fault": "kill", "target": "node-2", "phase": "stop"}));
        let events = recorder.events();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        write(&path, &events).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded, events);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().next().unwrap().contains(r#""type":"invoke""#));
        let ops = pair(&loaded).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].outcome(), EventType::Ok);
        assert_eq!(ops[1].outcome(), EventType::Info, "never completed");
        assert_eq!(fault_windows(&loaded).len(), 1);
    }

    #[test]
    fn a_completion_without_invoke_is_refused() {
        let recorder = Recorder::new();
        recorder.record(0, EventType::Ok, Function::Buy, json!({"order_number": 0}));
        assert!(pair(&recorder.events()).is_err());
    }
}
