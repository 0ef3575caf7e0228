//! Reservations per second through the real catalog binary, at 1 and 32 concurrent clients.
//!
//! Each reservation is flushed to disk before it is answered, so this measures the cost of
//! a durable write per request: the baseline for later group-commit work. Run with
//! `cargo bench -p catalog --bench reservations`. Prints medians over three rounds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::{Cluster, ClusterOptions};
use toystore_api::catalog::CatalogClient;
use toystore_api::catalog::ReserveRequest;

const ROUNDS: usize = 3;
const ROUND_TIME: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let catalog = Cluster::start(ClusterOptions {
        nodes: 0,
        gateway: false,
        catalog_args: vec!["--initial-stock".into(), "1000000000".into()],
        ..Default::default()
    })?;
    let client = CatalogClient::with_timeout(&catalog.catalog_addr(), Duration::from_secs(10));
    let ids = Arc::new(AtomicU64::new(0));
    println!("| clients | reservations/s (median of {ROUNDS}) | p50 ms | p99 ms |");
    println!("| ---: | ---: | ---: | ---: |");
    for clients in [1usize, 32] {
        let mut rates = Vec::new();
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        for _ in 0..ROUNDS {
            let (rate, mut latencies) = round(&client, clients, &ids).await?;
            latencies.sort_by(f64::total_cmp);
            rates.push(rate);
            p50s.push(percentile(&latencies, 0.50));
            p99s.push(percentile(&latencies, 0.99));
        }
        println!(
            "| {clients} | {:.0} | {:.2} | {:.2} |",
            median(&mut rates),
            median(&mut p50s),
            median(&mut p99s)
        );
    }
    Ok(())
}

/// One timed round: returns reservations per second and each latency in ms.
async fn round(
    client: &CatalogClient,
    clients: usize,
    ids: &Arc<AtomicU64>,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < ROUND_TIME {
                let id = ids.fetch_add(1, Ordering::Relaxed);
                let request = ReserveRequest {
                    request_id: format!("bench-{id}"),
                    name: "Tux".to_string(),
                    quantity: 1,
                };
                let sent = Instant::now();
                client.reserve(&request).await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    Ok((rate, all))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
