//! A node's failures as contract answers: 421 `not the leader` with the leader hint, the
//! named 4xx of the order path, 503 when Raft or the catalog cannot serve.

use serde_json::Value;
use service_core::ApiError;
use toystore_api::node::{LEADER_ADDR_FIELD, LEADER_ID_FIELD};
use toystore_api::ErrorKind;

use crate::error::NodeError;

impl From<NodeError> for ApiError {
    fn from(err: NodeError) -> Self {
        match err {
            NodeError::NotLeader {
                leader_id,
                leader_addr,
            } => ApiError::kind(ErrorKind::NotLeader)
                .with_field(LEADER_ID_FIELD, leader_id.map_or(Value::Null, Value::from))
                .with_field(
                    LEADER_ADDR_FIELD,
                    leader_addr.map_or(Value::Null, Value::from),
                ),
            NodeError::NoQuorum(reason) => {
                tracing::debug!("leadership not confirmed: {reason}");
                ApiError::kind(ErrorKind::NoLeader)
            }
            NodeError::RequestExpired => ApiError::kind(ErrorKind::RequestExpired),
            NodeError::RequestIdReused => ApiError::kind(ErrorKind::RequestIdReused),
            NodeError::OrderNotFound => ApiError::kind(ErrorKind::OrderNotFound),
            NodeError::Catalog(err) => ApiError::catalog_failure(err),
            NodeError::MembershipRefused(_) => ApiError::conflict(err.to_string()),
            NodeError::Unfinished(_) | NodeError::RaftStopped(_) => {
                ApiError::unavailable(err.to_string())
            }
            NodeError::Storage(_) => ApiError::internal(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_leader_carries_the_hint_or_nulls() {
        let known = ApiError::from(NodeError::NotLeader {
            leader_id: Some(2),
            leader_addr: Some("127.0.0.1:10011".into()),
        })
        .body();
        assert_eq!(known.error.kind(), Some(ErrorKind::NotLeader));
        assert_eq!(known.error.extra[LEADER_ID_FIELD], 2);
        assert_eq!(known.error.extra[LEADER_ADDR_FIELD], "127.0.0.1:10011");
        let unknown = ApiError::from(NodeError::NotLeader {
            leader_id: None,
            leader_addr: None,
        })
        .body();
        assert_eq!(unknown.error.extra[LEADER_ID_FIELD], Value::Null);
    }

    #[test]
    fn domain_errors_keep_their_contract_status() {
        let cases = [
            (NodeError::RequestExpired, 409),
            (NodeError::RequestIdReused, 422),
            (NodeError::OrderNotFound, 404),
            (NodeError::NoQuorum("slow".into()), 503),
            (NodeError::MembershipRefused("x".into()), 409),
            (NodeError::Storage("x".into()), 500),
        ];
        for (err, status) in cases {
            assert_eq!(ApiError::from(err).status.as_u16(), status);
        }
    }
}
