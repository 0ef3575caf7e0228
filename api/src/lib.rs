//! The toystore's wire: every service's request and response types and a typed client of
//! each, shared by the servers that answer and the clients that call. A client links this
//! crate, never the server it calls, so the gateway and the harness carry no sled and no
//! openraft.
//!
//! - [`envelope`]: the `{"data": ...}` / `{"error": {...}}` bodies of every answer.
//! - [`errors`]: the contract's named errors as an enum that callers match on.
//! - [`call`]: one service's address and pooled client; decoding answers into [`CallError`].
//! - [`transport`]: the credential and TLS roots every pooled client carries.
//! - [`catalog`]: products, reservations, ledger and events, and [`catalog::CatalogClient`].
//! - [`node`]: orders and cluster state of a raft node, and [`node::NodeClient`].
//! - [`gateway`]: the public API, and [`gateway::GatewayClient`].

pub mod call;
pub mod catalog;
pub mod envelope;
pub mod errors;
pub mod gateway;
pub mod node;
pub mod transport;

pub use call::{CallError, Endpoint};
pub use envelope::{Data, ErrorBody, ErrorDetail, Health, Outcome};
pub use errors::ErrorKind;
pub use transport::{Http, Secret, Transport};
