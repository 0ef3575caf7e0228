//! A closed-loop HTTP load generator: N keep-alive connections, one task each, every task
//! sending its next request as soon as the last one is answered, for a fixed window.
//!
//! The bench's etcd comparison drives the toystore gateway and etcd with this same code,
//! so neither side gets a different client. Each task first sends one unmeasured request
//! (which opens its connection); then all tasks start their windows together. Over plain
//! HTTP each task owns its connection ([`direct`]); over HTTPS the tasks share reqwest's
//! pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Barrier;
use toystore_api::Transport;

use crate::clients::CLIENT_TIMEOUT;
use crate::stats::Summary;

mod direct;
mod outcome;

use outcome::Outcome;

/// Builds request number `seq` of connection `conn` on the shared client.
pub(crate) type MakeRequest =
    Arc<dyn Fn(&reqwest::Client, usize, u64) -> reqwest::RequestBuilder + Send + Sync>;

/// An HTTP/1.1 client of `transport` (TLS roots, credential) whose pool keeps up to
/// `connections` keep-alive connections per host.
pub(crate) fn pooled_client(
    connections: usize,
    transport: &Transport,
) -> anyhow::Result<reqwest::Client> {
    let http = transport
        .http(|b| {
            b.timeout(CLIENT_TIMEOUT)
                .pool_max_idle_per_host(connections)
                .tcp_nodelay(true)
        })
        .context("build the load generator's HTTP client")?;
    Ok(http.client().clone())
}

/// What one connection's task measured.
struct TaskResult {
    latencies_ms: Vec<f64>,
    /// Latencies of `503 Service Unavailable` answers: load the server shed.
    shed_ms: Vec<f64>,
    /// Every other failure (shed answers included).
    errors: usize,
    /// What the first failure other than a shed answer was, for the log.
    first_failure: Option<String>,
    began: Instant,
    ended: Instant,
}

/// A closed-loop run with the shed requests apart: `ok` as from [`closed_loop`], `shed`
/// the 503 answers (their latency: how fast a refusal came).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ShedSummary {
    pub(crate) ok: Summary,
    pub(crate) shed: Summary,
}

/// Runs `connections` closed-loop tasks for `window` each, each on its own connection
/// to `transport`'s targets. A request counts as a success when it answers 2xx and its
/// body is read; latencies are of successes, throughput is successes per second of the
/// window.
pub(crate) async fn closed_loop(
    connections: usize,
    window: Duration,
    transport: &Transport,
    make: MakeRequest,
) -> anyhow::Result<Summary> {
    let results = run_tasks(connections, window, transport, make).await?;
    Ok(summarize(&results))
}

/// [`closed_loop`], keeping the 503 answers apart from the successes.
pub(crate) async fn closed_loop_shed(
    connections: usize,
    window: Duration,
    transport: &Transport,
    make: MakeRequest,
) -> anyhow::Result<ShedSummary> {
    let results = run_tasks(connections, window, transport, make).await?;
    let ok = summarize(&results);
    let shed: Vec<f64> = results
        .iter()
        .flat_map(|r| r.shed_ms.iter().copied())
        .collect();
    let shed = Summary::of(&shed, 0, span(&results));
    Ok(ShedSummary { ok, shed })
}

async fn run_tasks(
    connections: usize,
    window: Duration,
    transport: &Transport,
    make: MakeRequest,
) -> anyhow::Result<Vec<TaskResult>> {
    let connections = connections.max(1);
    let client = pooled_client(connections, transport)?;
    let barrier = Arc::new(Barrier::new(connections));
    let mut tasks = Vec::with_capacity(connections);
    for conn in 0..connections {
        let (client, make, barrier) = (client.clone(), make.clone(), barrier.clone());
        let mut direct = direct::Direct::new(transport);
        tasks.push(tokio::spawn(async move {
            let mut exchange = async |seq: u64| {
                let request = make(&client, conn, seq);
                match direct.as_mut() {
                    Some(direct) => match request.build() {
                        Ok(request) => direct.send(request).await,
                        Err(err) => Outcome::Failed(format!("bad request: {err}")),
                    },
                    None => send(&client, request).await,
                }
            };
            // Warm-up: opens this task's connection outside the window.
            let _ = exchange(0).await;
            barrier.wait().await;
            let began = Instant::now();
            let mut result = TaskResult {
                latencies_ms: Vec::new(),
                shed_ms: Vec::new(),
                errors: 0,
                first_failure: None,
                began,
                ended: began,
            };
            let mut seq = 1;
            while began.elapsed() < window {
                let sent = Instant::now();
                let outcome = exchange(seq).await;
                let ms = sent.elapsed().as_secs_f64() * 1000.0;
                match outcome {
                    Outcome::Ok => result.latencies_ms.push(ms),
                    Outcome::Shed => {
                        result.shed_ms.push(ms);
                        result.errors += 1;
                    }
                    Outcome::Failed(what) => {
                        result.errors += 1;
                        result.first_failure.get_or_insert(what);
                    }
                }
                seq += 1;
            }
            result.ended = Instant::now();
            result
        }));
    }
    let mut results: Vec<TaskResult> = Vec::with_capacity(connections);
    for task in tasks {
        results.push(task.await.context("load generator task")?);
    }
    let failures: Vec<&String> = results
        .iter()
        .filter_map(|r| r.first_failure.as_ref())
        .collect();
    if let Some(first) = failures.first() {
        // The harness has no log subscriber: its progress and findings go to stderr.
        eprintln!(
            "load generator: requests failed on {} connection(s); one of them: {first}",
            failures.len()
        );
    }
    Ok(results)
}

/// [`Outcome::Ok`] when the request answered 2xx and its whole body arrived.
async fn send(client: &reqwest::Client, request: reqwest::RequestBuilder) -> Outcome {
    let request = match request.build() {
        Ok(request) => request,
        Err(err) => return Outcome::Failed(format!("bad request: {err}")),
    };
    match client.execute(request).await {
        // Paths are copied only for failures: this is the load generator's hot path.
        Ok(response) if response.status().is_success() => match response.bytes().await {
            Ok(_) => Outcome::Ok,
            Err(err) => Outcome::Failed(format!("{}: body cut short: {err}", error_path(&err))),
        },
        Ok(response) => {
            let status = response.status();
            let path = response.url().path().to_string();
            // Read it whole, so the connection goes back to the pool.
            let body = response.bytes().await.unwrap_or_default();
            Outcome::refused(&path, status, &body)
        }
        Err(err) => Outcome::Failed(format!("{}: {}", error_path(&err), with_causes(&err))),
    }
}

/// The path of the request an error is about, if reqwest kept it.
fn error_path(err: &reqwest::Error) -> &str {
    err.url().map_or("", |url| url.path())
}

/// An error and each error that caused it, joined.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Wall time from the first task's start to the last one's finish.
fn span(results: &[TaskResult]) -> Duration {
    let began = results.iter().map(|r| r.began).min();
    let ended = results.iter().map(|r| r.ended).max();
    match (began, ended) {
        (Some(began), Some(ended)) => ended.duration_since(began),
        _ => Duration::ZERO,
    }
}

/// One summary over every task: wall time from the first start to the last finish.
fn summarize(results: &[TaskResult]) -> Summary {
    let elapsed = span(results);
    let latencies: Vec<f64> = results
        .iter()
        .flat_map(|r| r.latencies_ms.iter().copied())
        .collect();
    let errors = results.iter().map(|r| r.errors).sum();
    Summary::of(&latencies, errors, elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot HTTP server on loopback answering every request with `response`.
    async fn answering(response: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        format!("http://{addr}/orders")
    }

    #[tokio::test]
    async fn a_failure_says_what_it_was() {
        let client = reqwest::Client::new();
        let url = answering(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\nconnection: close\r\n\r\nboom",
        )
        .await;
        let outcome = send(&client, client.post(&url)).await;
        assert_eq!(
            outcome,
            Outcome::Failed("/orders: 500 Internal Server Error boom".to_string())
        );
        let shed = answering(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(send(&client, client.get(&shed)).await, Outcome::Shed);
        // Nothing listens on port 1: the transport error and its cause are kept.
        match send(&client, client.get("http://127.0.0.1:1/orders")).await {
            Outcome::Failed(what) => {
                assert!(what.starts_with("/orders: error sending request"), "{what}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_summary_spans_every_task() {
        let start = Instant::now();
        let task = |ms: &[f64], errors, from: u64, to: u64| TaskResult {
            latencies_ms: ms.to_vec(),
            shed_ms: Vec::new(),
            errors,
            first_failure: None,
            began: start + Duration::from_millis(from),
            ended: start + Duration::from_millis(to),
        };
        let summary = summarize(&[
            task(&[1.0, 2.0], 1, 0, 1000),
            task(&[3.0, 4.0], 2, 100, 2000),
        ]);
        assert_eq!(summary.ok, 4);
        assert_eq!(summary.errors, 3);
        assert_eq!(summary.throughput, 2.0);
        assert_eq!(summary.p50_ms, 2.0);
    }
}
