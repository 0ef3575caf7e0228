//! Calling another toystore service and decoding its `{"data"}` / `{"error"}` envelope.
//!
//! Callers must tell a definite answer from no answer: a buy whose request may have been
//! sent but got no reply is indeterminate and may only be retried under the same key.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::envelope::{Data, ErrorBody, ErrorDetail};
use crate::errors::ErrorKind;
use crate::transport::{Http, Transport};

/// Where a service lives and the pooled HTTP client that reaches it. Every typed client
/// (catalog, node, gateway) wraps one.
#[derive(Debug, Clone)]
pub struct Endpoint {
    http: Http,
    base: String,
}

impl Endpoint {
    /// `addr` is `host:port` (reached with the scheme of `http`'s transport) or a URL
    /// starting with `http://` or `https://`; `http` is shared so connections are pooled.
    pub fn new(addr: &str, http: impl Into<Http>) -> Self {
        let http = http.into();
        let base = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_string()
        } else {
            format!("{}://{addr}", http.scheme())
        };
        Endpoint { http, base }
    }

    /// An endpoint with its own plain-HTTP pool and the given per-request timeout.
    pub fn with_timeout(addr: &str, timeout: std::time::Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("static reqwest config");
        Self::new(addr, http)
    }

    /// `http://host:port`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `http://host:port` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The pooled HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        self.http.client()
    }

    /// The transport the pooled client follows.
    pub fn transport(&self) -> &Transport {
        self.http.transport()
    }

    /// `GET` of `path` (which starts with `/`).
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.client().get(self.url(path))
    }

    /// `POST` to `path` (which starts with `/`).
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.client().post(self.url(path))
    }

    /// `PUT` to `path` (which starts with `/`).
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.client().put(self.url(path))
    }

    /// `DELETE` of `path` (which starts with `/`).
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.client().delete(self.url(path))
    }
}

/// Why a call to another service did not give data.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error status and body.
    #[error("{status}: {}", detail.message)]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The decoded error body (or the first 200 bytes of a body that is none).
        detail: ErrorDetail,
    },
    /// No answer.
    #[error("unreachable ({}): {reason}", if *connect { "connect" } else { "no reply" })]
    Unreachable {
        /// The connection was never made: the request certainly did not arrive.
        connect: bool,
        /// What the HTTP client said.
        reason: String,
    },
    /// An answer that does not follow the envelope.
    #[error("bad response: {0}")]
    BadResponse(String),
}

impl CallError {
    /// The HTTP status, if the service answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Which of the contract's named errors the service answered, if any.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            CallError::Status { detail, .. } => detail.kind(),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for CallError {
    fn from(err: reqwest::Error) -> Self {
        if err.is_decode() {
            CallError::BadResponse(err.to_string())
        } else {
            CallError::Unreachable {
                connect: err.is_connect(),
                reason: err.to_string(),
            }
        }
    }
}

/// Sends a request and decodes the envelope.
pub async fn send<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, CallError> {
    let response = request.send().await?;
    decode(response).await
}

/// Sends a request whose success body is not an envelope (`/health` answers
/// `{"status":"ok"}`): `Ok` on 2xx, the decoded error otherwise.
pub async fn send_expecting_success(request: reqwest::RequestBuilder) -> Result<(), CallError> {
    let response = request.send().await?;
    if response.status().is_success() {
        return Ok(());
    }
    decode::<()>(response).await
}

/// Decodes a response's envelope: `data` on 2xx, the error detail otherwise.
pub async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, CallError> {
    let status = response.status();
    let bytes = response.bytes().await?;
    if status.is_success() {
        serde_json::from_slice::<Data<T>>(&bytes)
            .map(|d| d.data)
            .map_err(|e| CallError::BadResponse(format!("{status}: {e}")))
    } else {
        let detail = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.error)
            .unwrap_or_else(|_| ErrorDetail {
                code: status.as_u16(),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                extra: Default::default(),
            });
        Err(CallError::Status { status, detail })
    }
}

/// Percent-encodes a path segment (product names may hold spaces or slashes).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("Tux"), "Tux");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn accepts_an_address_or_a_url() {
        let http = reqwest::Client::new();
        assert_eq!(
            Endpoint::new("127.0.0.1:6060", http.clone()).base_url(),
            "http://127.0.0.1:6060"
        );
        assert_eq!(
            Endpoint::new("http://127.0.0.1:6060/", http).base_url(),
            "http://127.0.0.1:6060"
        );
    }
}
