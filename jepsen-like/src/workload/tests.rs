//! The workload against a stand-in gateway that loses answers: Jepsen's process rule,
//! retries with the same request, racing retries, 422 probes, seeded keys, and a history
//! the checker accepts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use toystore_api::Transport;

use crate::checker::{self, Facts};
use crate::history::{pair, Event, EventType, Function, Op, Recorder};
use crate::workload::fake_gateway::FakeGateway;

async fn history(lose: f64, seed: u64, clients: usize, millis: u64) -> (Vec<Event>, FakeGateway) {
    let fake = FakeGateway::start(lose).await;
    // The workload's own entry points, as the run calls them.
    let options = super::WorkloadOptions {
        clients,
        rate: 800.0,
        duration: Duration::from_millis(millis),
        seed,
    };
    let recorder = Recorder::new();
    let http = super::http(&Transport::default(), &options).unwrap();
    super::run(&fake.addr.to_string(), http, &recorder, &options).await;
    (recorder.events(), fake)
}

fn body(event: &Event) -> (String, u64, String) {
    (
        event.str_field("name").unwrap().to_string(),
        event.u64_field("quantity").unwrap(),
        event.str_field("key").unwrap().to_string(),
    )
}

/// Jepsen's rule: a process that got info never invokes again. Returns the retired ids.
fn assert_retired_processes_stay_retired(events: &[Event]) -> HashSet<i64> {
    let mut retired = HashSet::new();
    for event in events {
        if event.kind == EventType::Invoke {
            assert!(
                !retired.contains(&event.process),
                "process {} invoked after info at {}",
                event.process,
                event.index
            );
        }
        if event.kind == EventType::Info {
            retired.insert(event.process);
        }
    }
    retired
}

/// Checks every retry, racer and probe against the first request of its key; returns how
/// many of each there were.
fn count_resends(buys: &[&Op]) -> (usize, usize, usize) {
    let mut first: HashMap<String, (String, u64, String)> = HashMap::new();
    let (mut retries, mut racers, mut probes) = (0, 0, 0);
    for op in buys {
        let sent = body(&op.invoke);
        let original = first
            .entry(sent.2.clone())
            .or_insert_with(|| sent.clone())
            .clone();
        if let Some(retry) = op.invoke.u64_field("retry") {
            retries += 1;
            assert_eq!(
                sent, original,
                "retry {} changed the request",
                op.invoke.index
            );
            assert!((1..=3).contains(&retry));
        }
        if op.invoke.value.get("racer").is_some() {
            racers += 1;
        }
        if op.invoke.value.get("probe").is_some() {
            probes += 1;
            assert_ne!(sent, original, "a probe changes the body");
            let completion = op.completion.as_ref().unwrap();
            let answer = (completion.kind, completion.u64_field("code"));
            assert_eq!(answer, (EventType::Fail, Some(422)));
        }
    }
    (retries, racers, probes)
}

/// Whether some racer ran while another send of the same key did.
fn a_racer_overlapped(buys: &[&Op]) -> bool {
    let racers = buys
        .iter()
        .filter(|op| op.invoke.value.get("racer").is_some());
    racers.into_iter().any(|racer| {
        buys.iter().any(|other| {
            other.invoke.index != racer.invoke.index
                && other.invoke.value.get("racer").is_none()
                && other.invoke.str_field("key") == racer.invoke.str_field("key")
                && other.invoke_ns() < racer.complete_ns()
                && racer.invoke_ns() < other.complete_ns()
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_retire_processes_and_retry_the_same_request() {
    let clients = 4;
    let (events, fake) = history(0.4, 7, clients, 2_000).await;
    let ops = pair(&events).expect("every process alternates invoke and completion");

    let retired = assert_retired_processes_stay_retired(&events);
    let processes: HashSet<i64> = events.iter().map(|e| e.process).collect();
    assert!(
        processes.iter().any(|p| *p >= clients as i64),
        "fresh ids from --clients up"
    );
    assert!(
        retired.len() > 10,
        "a lossy gateway retires many: {}",
        retired.len()
    );

    let buys: Vec<&Op> = ops.iter().filter(|op| op.f == Function::Buy).collect();
    // Probes are counted (and checked) here too, but few happen when processes retire
    // this often: the test below makes sure of them.
    let (retries, racers, _) = count_resends(&buys);
    assert!(
        retries > 10 && racers > 0,
        "retries {retries}, racers {racers}"
    );
    assert!(a_racer_overlapped(&buys), "no racer overlapped its retry");

    // What the stand-in committed matches the first body of each key, and every ok holds.
    let state = fake.final_state();
    let facts = Facts::new(&ops, &state);
    assert_eq!(checker::matching::check(&facts), Vec::new());
    assert_eq!(checker::durable::check(&facts), Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_send_an_acknowledged_key_with_another_body() {
    // Nothing lost, so every process keeps the keys it got answers for, and 2% of its ops
    // probe one of them.
    let (events, _) = history(0.0, 11, 3, 1_000).await;
    let ops = pair(&events).expect("every process alternates invoke and completion");
    let buys: Vec<&Op> = ops.iter().filter(|op| op.f == Function::Buy).collect();
    let (_, _, probes) = count_resends(&buys);
    assert!(probes > 0, "no probe in {} buys", buys.len());
}

/// The buys each slot's first process sent, in order: what a seed decides.
fn first_requests(events: &[Event], clients: usize) -> BTreeMap<i64, Vec<Value>> {
    let mut by_process: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for event in events {
        if event.kind == EventType::Invoke
            && event.f == Function::Buy
            && event.process < clients as i64
        {
            by_process
                .entry(event.process)
                .or_default()
                .push(event.value.clone());
        }
    }
    by_process
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_replays_the_same_requests() {
    let (a, _) = history(0.0, 42, 3, 600).await;
    let (b, _) = history(0.0, 42, 3, 600).await;
    let (c, _) = history(0.0, 43, 3, 600).await;
    let (a, b, c) = (
        first_requests(&a, 3),
        first_requests(&b, 3),
        first_requests(&c, 3),
    );
    assert_eq!(a.len(), 3);
    for (process, sent) in &a {
        let n = sent.len().min(b[process].len()).min(10);
        assert!(n >= 5, "process {process} sent only {n} buys");
        assert_eq!(sent[..n], b[process][..n], "process {process}");
        assert_ne!(sent[..n], c[process][..n], "another seed, other requests");
    }
}
