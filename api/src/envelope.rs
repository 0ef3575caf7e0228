//! The response envelope of section 2 of the contract.
//!
//! Success is `200 {"data": ...}`; an error carries its HTTP status in the body too:
//! `{"error": {"code": 404, "message": "product not found"}}`, optionally with extra
//! fields beside `code` and `message` (the raft node's leader hint uses that).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::errors::ErrorKind;

/// A successful answer: serialises as `{"data": T}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Data<T> {
    /// The answer itself.
    pub data: T,
}

impl<T> Data<T> {
    /// Wraps an answer.
    pub fn new(data: T) -> Self {
        Data { data }
    }
}

#[cfg(feature = "axum")]
impl<T: Serialize> axum::response::IntoResponse for Data<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self).into_response()
    }
}

/// The body of a `GET /health` that can do its job: `{"status": "ok"}`. A service that
/// cannot answers 503 with an [`ErrorBody`] instead.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"status": "ok"})))]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

impl Health {
    /// The one healthy answer.
    pub fn ok() -> Self {
        Health {
            status: "ok".to_string(),
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"error": {"code": 404, "message": "product not found"}})))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// `code` and `message`, plus whatever extra fields the service adds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub code: u16,
    /// What went wrong, in words; fixed for the contract's named errors.
    pub message: String,
    /// Fields beside `code` and `message`, such as a 421's leader hint.
    // Left out of the schema: JSON Schema objects accept extra properties anyway.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Map<String, Value>,
}

impl ErrorDetail {
    /// Which of the contract's named errors this is, if any.
    pub fn kind(&self) -> Option<ErrorKind> {
        ErrorKind::of(self.code, &self.message)
    }
}

/// One item's outcome in a batch answer: `{"data": T}` or `{"error": {...}}`, the same
/// shapes as a whole answer, so one item of a batch reads like the single call it replaces.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome<T> {
    /// The item succeeded.
    Data(T),
    /// The item failed, as the single call would have.
    Error(ErrorDetail),
}

impl<T> Outcome<T> {
    /// `Ok` for data, the error detail otherwise.
    pub fn into_result(self) -> Result<T, ErrorDetail> {
        match self {
            Outcome::Data(data) => Ok(data),
            Outcome::Error(detail) => Err(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_keeps_extra_fields_beside_code_and_message() {
        let json = serde_json::json!({"error": {"code": 421, "message": "not the leader",
            "leader_id": 2, "leader_addr": null}});
        let body: ErrorBody = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(body.error.extra["leader_id"], 2);
        assert_eq!(body.error.kind(), Some(ErrorKind::NotLeader));
        assert_eq!(serde_json::to_value(&body).unwrap(), json);
    }

    #[test]
    fn an_outcome_reads_like_a_whole_answer() {
        let ok: Outcome<u64> = serde_json::from_value(serde_json::json!({"data": 7})).unwrap();
        assert_eq!(ok, Outcome::Data(7));
        let json = serde_json::json!({"error": {"code": 409, "message": "out of stock"}});
        let failed: Outcome<u64> = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(
            failed.clone().into_result().unwrap_err().kind(),
            Some(ErrorKind::OutOfStock)
        );
        assert_eq!(serde_json::to_value(&failed).unwrap(), json);
    }
}
