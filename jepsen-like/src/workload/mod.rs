//! The clients of a `jepsen-like test` run: `--clients` slots, each sending buys, order
//! reads and product queries to the gateway at its share of the total rate, recording
//! every invoke and its one completion.
//!
//! - [`client`]: one slot's loop and its choice of operation.
//! - [`buys`]: seeded keys, retries of lost buys (raced now and then), 422 probes.
//! - [`shared`]: what every slot shares: gateway, recorder, process ids, acknowledged numbers.

mod buys;
mod client;
#[cfg(test)]
mod fake_gateway;
mod shared;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use toystore_api::gateway::GatewayClient;
use toystore_api::{Http, Transport};

use crate::history::Recorder;
use client::Client;
use shared::Shared;

/// Client request timeout: above the gateway's deadline, so a slow failover ends as the
/// gateway's answer rather than a client-side timeout.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(12);

#[derive(Debug, Clone)]
pub(crate) struct WorkloadOptions {
    pub(crate) clients: usize,
    /// Total operations per second over all clients.
    pub(crate) rate: f64,
    pub(crate) duration: Duration,
    /// Keys and every client's choices derive from it.
    pub(crate) seed: u64,
}

/// The clients' shared pool: [`CLIENT_TIMEOUT`], a connection per client kept alive.
pub(crate) fn http(transport: &Transport, options: &WorkloadOptions) -> anyhow::Result<Http> {
    let clients = options.clients;
    Ok(transport.http(|b| b.timeout(CLIENT_TIMEOUT).pool_max_idle_per_host(clients))?)
}

/// Runs every client until the duration is over; returns the number of operations begun
/// by the slots (retries and racers not counted).
pub(crate) async fn run(
    gateway_addr: &str,
    http: Http,
    recorder: &Recorder,
    options: &WorkloadOptions,
) -> u64 {
    let gateway = GatewayClient::new(gateway_addr, http);
    let end = Instant::now() + options.duration;
    let shared = Arc::new(Shared::new(gateway, recorder.clone(), options.clients, end));
    let per_client = Duration::from_secs_f64(options.clients as f64 / options.rate.max(0.1));
    let tasks: Vec<_> = (0..options.clients)
        .map(|slot| {
            let client = Client::new(slot, shared.clone(), options.seed);
            tokio::spawn(client.run(per_client))
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap_or(0);
    }
    done
}
