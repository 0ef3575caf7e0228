//! `final.json`: every replica's orders and digest, and the catalog's ledger, collected
//! once the cluster has settled after a run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use toystore_api::catalog::CatalogClient;
use toystore_api::catalog::LedgerRow;
use toystore_api::node::NodeClient;
use toystore_api::node::Order;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FinalState {
    /// Node id (as a string) to what that replica holds.
    pub(crate) replicas: BTreeMap<String, ReplicaState>,
    pub(crate) ledger: Vec<LedgerRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplicaState {
    pub(crate) orders: Vec<Order>,
    pub(crate) digest: String,
}

impl FinalState {
    /// Reads every replica's orders (paged) and digest, and the catalog's ledger.
    pub(crate) async fn collect(
        nodes: &[(u64, String)],
        catalog: &str,
    ) -> anyhow::Result<FinalState> {
        let mut replicas = BTreeMap::new();
        for (id, addr) in nodes {
            let client = NodeClient::with_timeout(addr, Duration::from_secs(10));
            let orders = client
                .all_orders()
                .await
                .with_context(|| format!("orders of node {id}"))?;
            let digest = client
                .digest()
                .await
                .with_context(|| format!("digest of node {id}"))?
                .digest;
            replicas.insert(id.to_string(), ReplicaState { orders, digest });
        }
        let ledger = CatalogClient::with_timeout(catalog, Duration::from_secs(10))
            .ledger()
            .await
            .context("catalog ledger")?;
        Ok(FinalState { replicas, ledger })
    }

    pub(crate) fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("write {}", path.display()))
    }

    pub(crate) fn load(path: &Path) -> anyhow::Result<FinalState> {
        let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
    }

    /// The orders of the first replica (all are equal when the cluster converged).
    pub(crate) fn reference_orders(&self) -> &[Order] {
        self.replicas
            .values()
            .next()
            .map_or(&[], |r| r.orders.as_slice())
    }
}
