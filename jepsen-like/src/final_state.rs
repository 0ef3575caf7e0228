//! `final.json`: every replica's orders and digest, the catalog's ledger and its
//! reservations, collected once the cluster has settled after a run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use toystore_api::catalog::CatalogClient;
use toystore_api::catalog::LedgerRow;
use toystore_api::catalog::Reservation;
use toystore_api::node::NodeClient;
use toystore_api::node::Order;
use toystore_api::Transport;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FinalState {
    /// Node id (as a string) to what that replica holds.
    pub(crate) replicas: BTreeMap<String, ReplicaState>,
    pub(crate) ledger: Vec<LedgerRow>,
    /// Every reservation the catalog holds, in any state; `None` in a `final.json` written
    /// before reservations were collected, so old runs can still be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reservations: Option<Vec<Reservation>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReplicaState {
    pub(crate) orders: Vec<Order>,
    pub(crate) digest: String,
}

impl FinalState {
    /// Reads every replica's orders (paged) and digest, and the catalog's ledger and
    /// reservations.
    /// `transport` must carry a member's credential: these are internal routes.
    pub(crate) async fn collect(
        nodes: &[(u64, String)],
        catalog: &str,
        transport: &Transport,
    ) -> anyhow::Result<FinalState> {
        let http = transport.http(|b| b.timeout(Duration::from_secs(10)))?;
        let mut replicas = BTreeMap::new();
        for (id, addr) in nodes {
            let client = NodeClient::new(addr, http.clone());
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
        let catalog = CatalogClient::new(catalog, http);
        let ledger = catalog.ledger().await.context("catalog ledger")?;
        let reservations = catalog
            .reservations()
            .await
            .context("catalog reservations")?;
        Ok(FinalState {
            replicas,
            ledger,
            reservations: Some(reservations),
        })
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

#[cfg(test)]
mod tests {
    use super::FinalState;

    #[test]
    fn a_final_json_without_reservations_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("final.json");
        let old = r#"{"replicas": {"1": {"orders": [], "digest": "d"}}, "ledger": []}"#;
        std::fs::write(&path, old).unwrap();
        let state = FinalState::load(&path).unwrap();
        assert_eq!(state.reservations, None);
        assert_eq!(state.replicas["1"].digest, "d");
    }

    #[test]
    fn reservations_round_trip_through_final_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("final.json");
        let text = r#"{"replicas": {}, "ledger": [], "reservations": [
            {"request_id": "k1", "name": "Tux", "quantity": 2, "price": 25.99,
             "state": "confirmed", "order_number": 0, "created_ms": 5}]}"#;
        std::fs::write(&path, text).unwrap();
        let state = FinalState::load(&path).unwrap();
        state.write(&path).unwrap();
        let again = FinalState::load(&path).unwrap();
        assert_eq!(again, state);
        let reservations = again.reservations.unwrap();
        assert_eq!(reservations[0].order_number, Some(0));
        assert_eq!(reservations[0].request_id, "k1");
    }
}
