//! A typed client of the catalog, for the raft node (reservations) and the gateway
//! (product reads and the event stream).

use std::time::Duration;

use futures::{Stream, StreamExt};
use service_core::call::{self, CallError};

use crate::api::{
    ConfirmRequest, Hello, Invalidate, LedgerRow, PriceChange, Product, Reservation,
    ReserveRequest, EVENT_HELLO, EVENT_INVALIDATE,
};

/// One event of the catalog's `/events` stream.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogEvent {
    Hello(Hello),
    Invalidate(Invalidate),
}

/// Talks to one catalog at `host:port`.
#[derive(Debug, Clone)]
pub struct CatalogClient {
    http: reqwest::Client,
    base: String,
}

impl CatalogClient {
    /// `addr` is `host:port`; `http` is shared so connections are pooled.
    pub fn new(addr: &str, http: reqwest::Client) -> Self {
        CatalogClient {
            http,
            base: format!("http://{addr}"),
        }
    }

    /// A client with its own pool and the given per-request timeout.
    pub fn with_timeout(addr: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("static reqwest config");
        Self::new(addr, http)
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn products(&self) -> Result<Vec<Product>, CallError> {
        call::send(self.http.get(format!("{}/products", self.base))).await
    }

    pub async fn product(&self, name: &str) -> Result<Product, CallError> {
        call::send(self.http.get(self.product_url(name))).await
    }

    pub async fn set_price(&self, name: &str, price: f64) -> Result<Product, CallError> {
        let url = format!("{}/price", self.product_url(name));
        call::send(self.http.put(url).json(&PriceChange { price })).await
    }

    pub async fn reserve(&self, request: &ReserveRequest) -> Result<Reservation, CallError> {
        call::send(
            self.http
                .post(format!("{}/reservations", self.base))
                .json(request),
        )
        .await
    }

    pub async fn confirm(
        &self,
        request_id: &str,
        order_number: u64,
    ) -> Result<Reservation, CallError> {
        let url = format!("{}/confirm", self.reservation_url(request_id));
        call::send(self.http.post(url).json(&ConfirmRequest { order_number })).await
    }

    pub async fn release(&self, request_id: &str) -> Result<Reservation, CallError> {
        let url = format!("{}/release", self.reservation_url(request_id));
        call::send(self.http.post(url)).await
    }

    /// Held reservations taken more than `older_than_ms` ago.
    pub async fn held(&self, older_than_ms: u64) -> Result<Vec<Reservation>, CallError> {
        let url = format!(
            "{}/reservations?state=held&older_than_ms={older_than_ms}",
            self.base
        );
        call::send(self.http.get(url)).await
    }

    /// `GET /health`: `Ok` only when the catalog answers 200.
    pub async fn health(&self) -> Result<(), CallError> {
        call::send_expecting_success(self.http.get(format!("{}/health", self.base))).await
    }

    pub async fn ledger(&self) -> Result<Vec<LedgerRow>, CallError> {
        call::send(self.http.get(format!("{}/ledger", self.base))).await
    }

    /// Subscribes to `/events`. The stream ends (or yields an error) when the connection
    /// is lost, or when no byte at all (not even a keep-alive comment) arrived for
    /// `idle_limit`, which catches a catalog that stopped answering without closing the
    /// connection. The caller decides how to resubscribe. Keep-alives are not yielded.
    pub async fn events(
        &self,
        idle_limit: Duration,
    ) -> Result<impl Stream<Item = Result<CatalogEvent, CallError>> + Send + 'static, CallError>
    {
        use eventsource_stream::Eventsource;
        // The event stream must not inherit a whole-request timeout.
        let response = reqwest::Client::new()
            .get(format!("{}/events", self.base))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(call::decode::<()>(response).await.unwrap_err());
        }
        let bytes = tokio_stream::StreamExt::timeout(response.bytes_stream(), idle_limit).map(
            move |item| match item {
                Ok(chunk) => chunk.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no byte for {idle_limit:?}")),
            },
        );
        Ok(bytes.eventsource().filter_map(|item| async move {
            match item {
                Err(err) => Some(Err(CallError::Unreachable {
                    connect: false,
                    reason: err.to_string(),
                })),
                Ok(event) => parse_event(&event.event, &event.data).transpose(),
            }
        }))
    }

    fn product_url(&self, name: &str) -> String {
        format!("{}/products/{}", self.base, encode_segment(name))
    }

    fn reservation_url(&self, request_id: &str) -> String {
        format!("{}/reservations/{}", self.base, encode_segment(request_id))
    }
}

/// Decodes one SSE event; unknown event names are skipped.
fn parse_event(name: &str, data: &str) -> Result<Option<CatalogEvent>, CallError> {
    let bad = |e: serde_json::Error| CallError::BadResponse(format!("{name} event: {e}"));
    match name {
        EVENT_HELLO => Ok(Some(CatalogEvent::Hello(
            serde_json::from_str(data).map_err(bad)?,
        ))),
        EVENT_INVALIDATE => Ok(Some(CatalogEvent::Invalidate(
            serde_json::from_str(data).map_err(bad)?,
        ))),
        _ => Ok(None),
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
    fn events_decode_by_name() {
        let hello = parse_event("hello", r#"{"epoch":"e1"}"#).unwrap();
        assert_eq!(
            hello,
            Some(CatalogEvent::Hello(Hello { epoch: "e1".into() }))
        );
        assert!(parse_event("other", "{}").unwrap().is_none());
        assert!(parse_event("invalidate", "{").is_err());
    }
}
