//! [`BenchContext`]: what every experiment gets.

use std::path::PathBuf;

use toystore_api::gateway::GatewayClient;
use toystore_api::Transport;

use crate::clients::gateway_client;
use crate::cluster::ClusterControl;

/// What every experiment gets.
pub(crate) struct BenchContext<'a> {
    pub(crate) gateway: GatewayClient,
    /// How a shopper reaches the gateway (the CA when it speaks TLS).
    pub(crate) public: Transport,
    pub(crate) cluster: Option<&'a mut dyn ClusterControl>,
    pub(crate) out: PathBuf,
    pub(crate) quick: bool,
    /// Whether the gateway caches (for labels; the cache experiment switches it).
    pub(crate) cache_on: bool,
}

impl BenchContext<'_> {
    /// A fresh gateway client (after the gateway was restarted, say).
    pub(crate) fn refresh_gateway(&mut self) -> anyhow::Result<()> {
        if let Some(cluster) = self.cluster.as_ref() {
            self.gateway = gateway_client(&cluster.gateway_addr(), &self.public)?;
        }
        Ok(())
    }
}
