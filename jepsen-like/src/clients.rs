//! What every client of the gateway in this crate shares: the HTTP client, waiting for a
//! ready cluster, random toys and keys, and progress bars.

use std::time::Duration;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use toystore_api::catalog::SEED_PRODUCTS;
use toystore_api::gateway::GatewayClient;
use toystore_api::Transport;

/// Per-request timeout of bench clients: above the gateway's own 10 s deadline, so the
/// gateway, not the client, decides when a buy has failed.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// A gateway client with [`CLIENT_TIMEOUT`] and a pool large enough for every bench
/// client, speaking `https` when `transport` carries TLS roots.
pub(crate) fn gateway_client(addr: &str, transport: &Transport) -> anyhow::Result<GatewayClient> {
    let http = transport.http(|b| b.timeout(CLIENT_TIMEOUT).pool_max_idle_per_host(512))?;
    Ok(GatewayClient::new(addr, http))
}

/// Waits until the gateway answers /health 200 and a buy-capable leader exists.
pub(crate) async fn wait_ready(gateway: &GatewayClient) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let healthy = gateway.health().await.is_ok();
        let leader = matches!(gateway.cluster().await, Ok(view) if view.leader.is_some());
        if healthy && leader {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("gateway {} not ready within 60 s", gateway.base_url());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The name of the seeded toy at `index` (modulo their number).
pub(crate) fn toy(index: usize) -> &'static str {
    SEED_PRODUCTS[index % SEED_PRODUCTS.len()].0
}

/// How many toys are seeded.
pub(crate) fn toy_count() -> usize {
    SEED_PRODUCTS.len()
}

/// A random seeded toy.
pub(crate) fn random_toy() -> &'static str {
    toy(rand::random_range(0..toy_count()))
}

/// A fresh idempotency key.
pub(crate) fn fresh_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A progress bar for `total` steps.
pub(crate) fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}
