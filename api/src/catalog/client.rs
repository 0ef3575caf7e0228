//! A typed client of the catalog.

use std::time::Duration;

use futures::{Stream, StreamExt};

use super::types::{
    BatchAnswer, ConfirmBatch, ConfirmItem, ConfirmRequest, Hello, Invalidate, LedgerRow,
    PriceChange, Product, Reservation, ReserveBatch, ReserveRequest, EVENT_HELLO, EVENT_INVALIDATE,
};
use crate::call::{self, encode_segment, CallError, Endpoint};

/// One event of the catalog's `/events` stream.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogEvent {
    /// The first event of a stream: which catalog process it comes from.
    Hello(Hello),
    /// A product changed.
    Invalidate(Invalidate),
}

/// Talks to one catalog at `host:port`.
#[derive(Debug, Clone)]
pub struct CatalogClient {
    endpoint: Endpoint,
}

impl CatalogClient {
    /// `addr` is `host:port`; `http` is shared so connections are pooled.
    pub fn new(addr: &str, http: impl Into<crate::transport::Http>) -> Self {
        CatalogClient {
            endpoint: Endpoint::new(addr, http),
        }
    }

    /// A client with its own pool and the given per-request timeout.
    pub fn with_timeout(addr: &str, timeout: Duration) -> Self {
        CatalogClient {
            endpoint: Endpoint::with_timeout(addr, timeout),
        }
    }

    /// `http://host:port` of the catalog.
    pub fn base_url(&self) -> &str {
        self.endpoint.base_url()
    }

    /// `GET /products`.
    pub async fn products(&self) -> Result<Vec<Product>, CallError> {
        call::send(self.endpoint.get("/products")).await
    }

    /// `GET /products/{name}`.
    pub async fn product(&self, name: &str) -> Result<Product, CallError> {
        call::send(self.endpoint.get(&product_path(name))).await
    }

    /// `PUT /products/{name}/price`.
    pub async fn set_price(&self, name: &str, price: f64) -> Result<Product, CallError> {
        let path = format!("{}/price", product_path(name));
        call::send(self.endpoint.put(&path).json(&PriceChange { price })).await
    }

    /// `POST /reservations`: takes the stock, once per request id.
    pub async fn reserve(&self, request: &ReserveRequest) -> Result<Reservation, CallError> {
        call::send(self.endpoint.post("/reservations").json(request)).await
    }

    /// `POST /batch/reservations`: takes the stock of every item, once per request id; one
    /// result per item, in order. An `Err` means the batch as a whole got no answer (each
    /// item's outcome is then unknown, as for a single call).
    pub async fn reserve_batch(
        &self,
        items: Vec<ReserveRequest>,
    ) -> Result<Vec<Result<Reservation, CallError>>, CallError> {
        let count = items.len();
        let request = self
            .endpoint
            .post("/batch/reservations")
            .json(&ReserveBatch { items });
        let answer: BatchAnswer<Reservation> = call::send(request).await?;
        item_results(answer, count)
    }

    /// `POST /batch/confirmations`: held to confirmed for every item; one result per
    /// item, in order.
    pub async fn confirm_batch(
        &self,
        items: Vec<ConfirmItem>,
    ) -> Result<Vec<Result<Reservation, CallError>>, CallError> {
        let count = items.len();
        let request = self
            .endpoint
            .post("/batch/confirmations")
            .json(&ConfirmBatch { items });
        let answer: BatchAnswer<Reservation> = call::send(request).await?;
        item_results(answer, count)
    }

    /// `POST /reservations/{request_id}/confirm`: held to confirmed.
    pub async fn confirm(
        &self,
        request_id: &str,
        order_number: u64,
    ) -> Result<Reservation, CallError> {
        let path = format!("{}/confirm", reservation_path(request_id));
        call::send(
            self.endpoint
                .post(&path)
                .json(&ConfirmRequest { order_number }),
        )
        .await
    }

    /// `POST /reservations/{request_id}/release`: held to released, the stock back.
    pub async fn release(&self, request_id: &str) -> Result<Reservation, CallError> {
        let path = format!("{}/release", reservation_path(request_id));
        call::send(self.endpoint.post(&path)).await
    }

    /// Held reservations taken more than `older_than_ms` ago.
    pub async fn held(&self, older_than_ms: u64) -> Result<Vec<Reservation>, CallError> {
        let path = format!("/reservations?state=held&older_than_ms={older_than_ms}");
        call::send(self.endpoint.get(&path)).await
    }

    /// Every reservation, in any state (`GET /reservations` without a filter).
    pub async fn reservations(&self) -> Result<Vec<Reservation>, CallError> {
        call::send(self.endpoint.get("/reservations")).await
    }

    /// `GET /health`: `Ok` only when the catalog answers 200.
    pub async fn health(&self) -> Result<(), CallError> {
        call::send_expecting_success(self.endpoint.get("/health")).await
    }

    /// `GET /ledger`: one row per product.
    pub async fn ledger(&self) -> Result<Vec<LedgerRow>, CallError> {
        call::send(self.endpoint.get("/ledger")).await
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
        let streaming = self
            .endpoint
            .transport()
            .builder()
            .and_then(|b| {
                b.build()
                    .map_err(|e| crate::transport::TransportError::Tls(e.to_string()))
            })
            .map_err(|e| CallError::Unreachable {
                connect: true,
                reason: e.to_string(),
            })?;
        let response = streaming.get(self.endpoint.url("/events")).send().await?;
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
}

fn product_path(name: &str) -> String {
    format!("/products/{}", encode_segment(name))
}

fn reservation_path(request_id: &str) -> String {
    format!("/reservations/{}", encode_segment(request_id))
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

/// A batch answer as one `Result` per item, each error as the single call's `CallError`.
fn item_results<T>(
    answer: BatchAnswer<T>,
    count: usize,
) -> Result<Vec<Result<T, CallError>>, CallError> {
    if answer.results.len() != count {
        return Err(CallError::BadResponse(format!(
            "{} results for {count} items",
            answer.results.len()
        )));
    }
    Ok(answer
        .results
        .into_iter()
        .map(|outcome| {
            outcome.into_result().map_err(|detail| CallError::Status {
                status: reqwest::StatusCode::from_u16(detail.code)
                    .unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR),
                detail,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
