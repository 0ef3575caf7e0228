//! [`ApiError`]: how a handler answers an error, as the contract's section 2 envelope
//! `{"error": {"code": 404, "message": "product not found"}}` with the status in the body
//! too, optionally with extra fields beside `code` and `message` (the raft node's leader
//! hint uses that) and a `Retry-After` header.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};
use toystore_api::{CallError, ErrorBody, ErrorDetail, ErrorKind};

/// An error answer: a status, a message, and optional extra fields and headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status, also written into the body as `code`.
    pub status: StatusCode,
    /// What went wrong, in words.
    pub message: String,
    /// Fields beside `code` and `message`.
    pub extra: Map<String, Value>,
    /// A `Retry-After` header, in seconds.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error of any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            extra: Map::new(),
            retry_after_secs: None,
        }
    }

    /// One of the contract's named errors; a 503 among them asks to retry after 1 s.
    pub fn kind(kind: ErrorKind) -> Self {
        let status = StatusCode::from_u16(kind.status()).expect("contract statuses are valid");
        let error = Self::new(status, kind.message());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            error.with_retry_after(1)
        } else {
            error
        }
    }

    /// How a caller answers its own client when a catalog call failed: the catalog's 4xx
    /// as they are (404 product not found, 409 out of stock, ...), anything else as 503
    /// `catalog unavailable`. The raft node's buy path and the gateway's reads share it.
    pub fn catalog_failure(err: CallError) -> Self {
        match err {
            CallError::Status { status, detail } if status.is_client_error() => {
                Self::new(status, detail.message)
            }
            other => {
                tracing::warn!("catalog call failed: {other}");
                Self::kind(ErrorKind::CatalogUnavailable)
            }
        }
    }

    /// 400: the request is malformed or out of the contract's limits.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request clashes with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 422: a key already used with another body.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 503: the service cannot do its job just now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500: a fault of ours, never of the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Adds a field beside `code` and `message`.
    pub fn with_field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// Adds a `Retry-After` header (seconds).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The body as it goes on the wire.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.status.as_u16(),
                message: self.message.clone(),
                extra: self.extra.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_keeps_extra_fields_beside_code_and_message() {
        let err = ApiError::new(StatusCode::MISDIRECTED_REQUEST, "not the leader")
            .with_field("leader_id", 2)
            .with_field("leader_addr", Value::Null);
        let json = serde_json::to_value(err.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": 421, "message": "not the leader",
                "leader_id": 2, "leader_addr": null}})
        );
        let back: ErrorBody = serde_json::from_value(json).unwrap();
        assert_eq!(back.error.extra["leader_id"], 2);
    }

    #[test]
    fn retry_after_becomes_a_header() {
        let response = ApiError::kind(ErrorKind::NoLeader).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
    }

    #[test]
    fn catalog_client_errors_pass_and_the_rest_is_unavailable() {
        let detail = ErrorDetail {
            code: 409,
            message: "out of stock".into(),
            extra: Map::new(),
        };
        let passed = ApiError::catalog_failure(CallError::Status {
            status: StatusCode::CONFLICT,
            detail,
        });
        assert_eq!(passed.status, StatusCode::CONFLICT);
        assert_eq!(passed.message, "out of stock");
        let down = ApiError::catalog_failure(CallError::Unreachable {
            connect: true,
            reason: "refused".into(),
        });
        assert_eq!(
            down.body().error.kind(),
            Some(ErrorKind::CatalogUnavailable)
        );
        assert_eq!(down.retry_after_secs, Some(1));
    }
}
