//! Plumbing shared by every toystore HTTP service (catalog, raft-node, gateway).
//!
//! The contract (`shared/API.md`, section 2) fixes one wire convention for all services;
//! it lives here once so that every service answers the same way:
//!
//! - [`envelope`]: the `{"data": ...}` / `{"error": {...}}` bodies and [`ApiError`].
//! - [`call`]: calling another toystore service and decoding its envelope.
//! - [`extract`]: body, path and query extractors answering 400/413 as JSON.
//! - [`metrics`]: per-route request counters and latency histograms, `GET /metrics`.
//! - [`process`]: starting, signalling and stopping service binaries (tests, harness).
//! - [`routes`]: the JSON 404 / 405 fallbacks and the layer stack every router gets.
//! - [`telemetry`]: `tracing` setup (`RUST_LOG`, `--log-format text|json`).
//! - [`server`]: binding (`listening on <addr>`), signals, graceful shutdown in bounded time.
//! - [`validate`]: the contract's limits on names, quantities and keys.

pub mod call;
pub mod envelope;
pub mod extract;
pub mod metrics;
pub mod process;
pub mod routes;
pub mod server;
pub mod telemetry;
pub mod validate;

pub use envelope::{ApiError, Data, ErrorBody, ErrorDetail};
pub use extract::{JsonBody, PathParams, QueryParams};
pub use metrics::Metrics;
