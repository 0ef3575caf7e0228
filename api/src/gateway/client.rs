//! A typed client of the gateway's public API.
//!
//! Answers keep the HTTP status apart from "no answer" ([`CallError`]), which a history
//! checker needs: a buy that got no answer may still have committed. Product reads also
//! report the `X-Cache` header.

use std::time::Duration;

use super::types::{
    BuyRequest, ClusterView, OrderCreated, OrderView, Product, CACHE_HEADER, IDEMPOTENCY_KEY_HEADER,
};
use crate::call::{self, encode_segment, CallError, Endpoint};

/// A product read and whether the gateway served it from its cache.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductRead {
    /// The product as the gateway answered it.
    pub product: Product,
    /// `Some(true)` for `X-Cache: hit`, `Some(false)` for `miss`, `None` without the header.
    pub cache_hit: Option<bool>,
}

/// Talks to one gateway at `host:port`.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    endpoint: Endpoint,
}

impl GatewayClient {
    /// `addr` is `host:port` (or a URL starting with `http://`); `http` is shared so connections are pooled.
    pub fn new(addr: &str, http: impl Into<crate::transport::Http>) -> Self {
        GatewayClient {
            endpoint: Endpoint::new(addr, http),
        }
    }

    /// A client with its own pool and the given per-request timeout.
    pub fn with_timeout(addr: &str, timeout: Duration) -> Self {
        GatewayClient {
            endpoint: Endpoint::with_timeout(addr, timeout),
        }
    }

    /// `http://host:port` of the gateway.
    pub fn base_url(&self) -> &str {
        self.endpoint.base_url()
    }

    /// `GET /products/{name}`.
    pub async fn product(&self, name: &str) -> Result<ProductRead, CallError> {
        let path = format!("/products/{}", encode_segment(name));
        let response = self.endpoint.get(&path).send().await?;
        let cache_hit = response
            .headers()
            .get(CACHE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("hit"));
        let product = call::decode(response).await?;
        Ok(ProductRead { product, cache_hit })
    }

    /// `GET /products`.
    pub async fn products(&self) -> Result<Vec<Product>, CallError> {
        call::send(self.endpoint.get("/products")).await
    }

    /// `POST /orders`, with `key` as the `Idempotency-Key` when given.
    pub async fn buy(
        &self,
        name: &str,
        quantity: u64,
        key: Option<&str>,
    ) -> Result<OrderCreated, CallError> {
        let body = BuyRequest {
            name: name.to_string(),
            quantity,
        };
        let mut request = self.endpoint.post("/orders").json(&body);
        if let Some(key) = key {
            request = request.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        call::send(request).await
    }

    /// `GET /orders/{number}`.
    pub async fn order(&self, number: u64) -> Result<OrderView, CallError> {
        call::send(self.endpoint.get(&format!("/orders/{number}"))).await
    }

    /// `GET /cluster`.
    pub async fn cluster(&self) -> Result<ClusterView, CallError> {
        call::send(self.endpoint.get("/cluster")).await
    }

    /// `GET /health`: `Ok` only on 200.
    pub async fn health(&self) -> Result<(), CallError> {
        call::send_expecting_success(self.endpoint.get("/health")).await
    }
}
