//! The node's HTTP surface (contract section 5): handlers check input, call the domain
//! modules and turn their errors into answers.
//!
//! - [`orders`]: buying and reading orders.
//! - [`cluster`]: status, digest, membership, snapshots, health.
//! - [`raft_rpc`]: the Raft RPCs peers send (`/raft/*`).
//! - [`errors`]: [`crate::error::NodeError`] as contract answers.

mod cluster;
mod errors;
mod orders;
mod raft_rpc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;
use service_core::auth::{guard, Access, Credentials};
use service_core::{routes, Metrics};

use crate::app::SharedApp;
use crate::network::{APPEND_PATH, SNAPSHOT_PATH, VOTE_PATH};

/// Raft RPC bodies (log batches, snapshot chunks) may be large; client bodies may not.
const RAFT_BODY_LIMIT: usize = 64 << 20;

/// The full router of a node: `/health` and `/metrics` are public, Raft's RPCs, orders and
/// cluster reads are for cluster members, membership and snapshots for the admin.
pub(crate) fn router(app: SharedApp, metrics: Metrics, credentials: &Credentials) -> Router {
    let raft_routes = Router::new()
        .route(APPEND_PATH, post(raft_rpc::append))
        .route(VOTE_PATH, post(raft_rpc::vote))
        .route(SNAPSHOT_PATH, post(raft_rpc::snapshot))
        .layer(DefaultBodyLimit::max(RAFT_BODY_LIMIT));
    let member = Router::new()
        .route("/orders", post(orders::create).get(orders::list))
        .route("/orders/{number}", get(orders::read))
        .route("/cluster/status", get(cluster::status))
        .route("/cluster/digest", get(cluster::digest))
        .merge(raft_routes);
    let admin = Router::new()
        .route("/cluster/learners", post(cluster::add_learner))
        .route("/cluster/learners/{id}", delete(cluster::remove_learner))
        .route("/cluster/membership", post(cluster::change_membership))
        .route("/cluster/snapshot", post(cluster::snapshot));
    let routes = Router::new()
        .route("/health", get(cluster::health))
        .merge(guard(member, credentials, Access::Member))
        .merge(guard(admin, credentials, Access::Admin))
        .with_state(app);
    routes::finish(routes, metrics)
}
