//! Plumbing shared by every toystore HTTP service (catalog, raft-node, gateway).
//!
//! The contract (`docs/API.md`, section 2) fixes one wire convention for all services;
//! it lives here once so that every service answers the same way:
//!
//! - [`auth`]: who may call which route; the bearer-credential check.
//! - [`security`]: the credential and TLS flags, loaded once at start.
//! - [`tls`]: the listener's rustls setup.
//! - [`envelope`]: [`ApiError`], the `{"error": {...}}` answer (the wire types themselves
//!   live in `toystore-api`, which servers and clients share).
//! - [`extract`]: body, path and query extractors answering 400/413 as JSON.
//! - [`id_index`]: request ids to the numbers of the records holding them, in memory (the
//!   stores of the catalog and the nodes).
//! - [`flags`]: parsers of command-line values several services take.
//! - [`metrics`]: per-route request counters and latency histograms, `GET /metrics`.
//! - [`routes`]: the JSON 404 / 405 fallbacks and the layer stack every router gets.
//! - [`telemetry`]: `tracing` setup (`RUST_LOG`, `--log-format text|json`).
//! - [`server`]: binding (`listening on <addr>`), signals, graceful shutdown in bounded time.
//! - [`runtime`]: the tokio runtime `main` runs the service on (`--worker-threads`).
//! - [`validate`]: the contract's limits on names, quantities and keys.

pub mod auth;
pub mod envelope;
pub mod extract;
pub mod flags;
pub mod id_index;
pub mod metrics;
pub mod routes;
pub mod runtime;
pub mod security;
pub mod server;
pub mod telemetry;
pub mod tls;
pub mod validate;

pub use envelope::ApiError;
pub use extract::{BatchBody, JsonBody, PathParams, QueryParams};
pub use metrics::Metrics;
pub use toystore_api::Data;
