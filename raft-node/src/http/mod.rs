//! The node's HTTP surface (contract section 5).
//!
//! - [`orders`]: buying and reading orders.
//! - [`cluster`]: status, digest, membership, snapshots, health.
//! - [`raft_rpc`]: the Raft RPCs peers send (`/raft/*`).
//! - [`errors`]: Raft errors as contract answers (421 with the leader hint, 503).

pub mod cluster;
pub mod errors;
pub mod orders;
pub mod raft_rpc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use service_core::{routes, Metrics};

use crate::network::{APPEND_PATH, SNAPSHOT_PATH, VOTE_PATH};
use crate::node::SharedNode;

/// Raft RPC bodies (log batches, snapshot chunks) may be large; client bodies may not.
const RAFT_BODY_LIMIT: usize = 64 << 20;

/// The full router of a node.
pub fn router(node: SharedNode, metrics: Metrics) -> Router {
    let raft_routes = Router::new()
        .route(APPEND_PATH, post(raft_rpc::append))
        .route(VOTE_PATH, post(raft_rpc::vote))
        .route(SNAPSHOT_PATH, post(raft_rpc::snapshot))
        .layer(DefaultBodyLimit::max(RAFT_BODY_LIMIT));
    let routes = Router::new()
        .route("/orders", post(orders::create).get(orders::list))
        .route("/orders/{number}", get(orders::read))
        .route("/cluster/status", get(cluster::status))
        .route("/cluster/digest", get(cluster::digest))
        .route("/cluster/learners", post(cluster::add_learner))
        .route("/cluster/membership", post(cluster::change_membership))
        .route("/cluster/snapshot", post(cluster::snapshot))
        .route("/health", get(cluster::health))
        .merge(raft_routes)
        .with_state(node);
    routes::finish(routes, metrics)
}
