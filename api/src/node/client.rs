//! A typed client of one order replica.
//!
//! It does no routing: a 421 comes back as [`CallError::Status`] whose detail carries the
//! leader hint ([`leader_hint`] reads it). Leader discovery and retries are the caller's job.

use std::time::Duration;

use super::types::{
    AddLearner, ChangeMembership, ClusterStatus, Digest, Order, OrderCreated, OrderRequest,
    OrdersPage, LEADER_ADDR_FIELD, LEADER_ID_FIELD, MAX_PAGE,
};
use crate::call::{self, CallError, Endpoint};
use crate::errors::ErrorKind;

/// How a single-order read is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadConsistency {
    /// On the leader only, after confirming leadership (contract default).
    Linearizable,
    /// From the answering node's own state machine; may be stale.
    Local,
}

/// Talks to one raft node at `host:port`.
#[derive(Debug, Clone)]
pub struct NodeClient {
    endpoint: Endpoint,
}

impl NodeClient {
    /// `addr` is `host:port`; `http` is shared so connections are pooled.
    pub fn new(addr: &str, http: impl Into<crate::transport::Http>) -> Self {
        NodeClient {
            endpoint: Endpoint::new(addr, http),
        }
    }

    /// A client with its own pool and the given per-request timeout.
    pub fn with_timeout(addr: &str, timeout: Duration) -> Self {
        NodeClient {
            endpoint: Endpoint::with_timeout(addr, timeout),
        }
    }

    /// `http://host:port` of the node.
    pub fn base_url(&self) -> &str {
        self.endpoint.base_url()
    }

    /// `POST /orders` (leader only).
    pub async fn create_order(&self, request: &OrderRequest) -> Result<OrderCreated, CallError> {
        call::send(self.endpoint.post("/orders").json(request)).await
    }

    /// `GET /orders/{n}`.
    pub async fn order(
        &self,
        number: u64,
        consistency: ReadConsistency,
    ) -> Result<Order, CallError> {
        let mut path = format!("/orders/{number}");
        if consistency == ReadConsistency::Local {
            path.push_str("?consistency=local");
        }
        call::send(self.endpoint.get(&path)).await
    }

    /// `GET /orders?after=..&limit=..`: one page of the local state machine.
    pub async fn orders_page(
        &self,
        after: Option<u64>,
        limit: u64,
    ) -> Result<OrdersPage, CallError> {
        let mut path = format!("/orders?limit={limit}");
        if let Some(after) = after {
            path.push_str(&format!("&after={after}"));
        }
        call::send(self.endpoint.get(&path)).await
    }

    /// Every order of the local state machine, page by page.
    pub async fn all_orders(&self) -> Result<Vec<Order>, CallError> {
        let mut orders: Vec<Order> = Vec::new();
        loop {
            let after = orders.last().map(|o| o.number);
            let page = self.orders_page(after, MAX_PAGE).await?;
            if page.orders.is_empty() {
                return Ok(orders);
            }
            orders.extend(page.orders);
        }
    }

    /// `GET /cluster/status`: this node's view of the cluster.
    pub async fn status(&self) -> Result<ClusterStatus, CallError> {
        call::send(self.endpoint.get("/cluster/status")).await
    }

    /// `GET /cluster/digest`: a hash of every order, equal on replicas that agree.
    pub async fn digest(&self) -> Result<Digest, CallError> {
        call::send(self.endpoint.get("/cluster/digest")).await
    }

    /// `POST /cluster/learners` (leader only): waits until the learner caught up.
    pub async fn add_learner(&self, id: u64, addr: &str) -> Result<ClusterStatus, CallError> {
        let body = AddLearner {
            id,
            addr: addr.to_string(),
        };
        call::send(self.endpoint.post("/cluster/learners").json(&body)).await
    }

    /// `POST /cluster/membership` (leader only).
    pub async fn change_membership(&self, voters: Vec<u64>) -> Result<ClusterStatus, CallError> {
        call::send(
            self.endpoint
                .post("/cluster/membership")
                .json(&ChangeMembership { voters }),
        )
        .await
    }

    /// `DELETE /cluster/learners/{id}`: takes a learner out of the membership (leader only).
    pub async fn remove_learner(&self, id: u64) -> Result<ClusterStatus, CallError> {
        call::send(self.endpoint.delete(&format!("/cluster/learners/{id}"))).await
    }

    /// `POST /cluster/snapshot`: builds one now and purges the log behind it.
    pub async fn snapshot(&self) -> Result<ClusterStatus, CallError> {
        call::send(self.endpoint.post("/cluster/snapshot")).await
    }

    /// `GET /health`: `Ok` only on 200 (a leader is known).
    pub async fn health(&self) -> Result<(), CallError> {
        call::send_expecting_success(self.endpoint.get("/health")).await
    }
}

/// The leader named by a 421 answer: `(leader_id, leader_addr)`, each `None` when unknown.
/// `None` overall when the error is not a 421.
pub fn leader_hint(err: &CallError) -> Option<(Option<u64>, Option<String>)> {
    let CallError::Status { status, detail } = err else {
        return None;
    };
    if status.as_u16() != ErrorKind::NotLeader.status() {
        return None;
    }
    let id = detail.extra.get(LEADER_ID_FIELD).and_then(|v| v.as_u64());
    let addr = detail
        .extra
        .get(LEADER_ADDR_FIELD)
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Some((id, addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::ErrorDetail;
    use reqwest::StatusCode;

    #[test]
    fn reads_the_leader_hint_of_a_421_only() {
        let mut detail = ErrorDetail {
            code: 421,
            message: "not the leader".into(),
            extra: Default::default(),
        };
        detail.extra.insert(LEADER_ID_FIELD.into(), 2.into());
        detail
            .extra
            .insert(LEADER_ADDR_FIELD.into(), "127.0.0.1:10011".into());
        let err = CallError::Status {
            status: StatusCode::MISDIRECTED_REQUEST,
            detail: detail.clone(),
        };
        assert_eq!(
            leader_hint(&err),
            Some((Some(2), Some("127.0.0.1:10011".to_string())))
        );
        let not_421 = CallError::Status {
            status: StatusCode::NOT_FOUND,
            detail,
        };
        assert_eq!(leader_hint(&not_421), None);
    }
}
