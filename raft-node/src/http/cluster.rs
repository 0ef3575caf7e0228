//! `/cluster/*` and `/health`: input checks, then the calls of [`crate::cluster`].

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};
use service_core::{ApiError, Data, JsonBody};
use toystore_api::node::{AddLearner, ChangeMembership, ClusterStatus, Digest};
use toystore_api::ErrorKind;

use crate::app::SharedApp;
use crate::cluster;
use crate::error::NodeError;

/// `GET /cluster/status`.
pub(crate) async fn status(State(app): State<SharedApp>) -> Data<ClusterStatus> {
    Data::new(cluster::status(&app))
}

/// `GET /cluster/digest`.
// openraft fixes the storage error type; it is large but not ours to box.
#[allow(clippy::result_large_err)]
pub(crate) async fn digest(State(app): State<SharedApp>) -> Result<Data<Digest>, ApiError> {
    let digest = app
        .state
        .off_runtime(|sm| sm.digest())
        .await
        .map_err(NodeError::storage)?;
    Ok(Data::new(digest))
}

/// `POST /cluster/learners`: adds a learner and waits until it has caught up.
pub(crate) async fn add_learner(
    State(app): State<SharedApp>,
    JsonBody(body): JsonBody<AddLearner>,
) -> Result<Data<ClusterStatus>, ApiError> {
    if body.id == 0 || !body.addr.contains(':') {
        return Err(ApiError::bad_request(
            "learner needs a positive id and a host:port address",
        ));
    }
    cluster::add_learner(&app, body.id, &body.addr).await?;
    Ok(Data::new(cluster::status(&app)))
}

/// `DELETE /cluster/learners/{id}`: takes a learner out of the membership.
pub(crate) async fn remove_learner(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Data<ClusterStatus>, ApiError> {
    let id: u64 = id
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request("learner id must be a positive integer"))?;
    cluster::remove_learner(&app, id).await?;
    Ok(Data::new(cluster::status(&app)))
}

/// `POST /cluster/membership`: sets the voters (every one must be a node already).
pub(crate) async fn change_membership(
    State(app): State<SharedApp>,
    JsonBody(body): JsonBody<ChangeMembership>,
) -> Result<Data<ClusterStatus>, ApiError> {
    let voters: BTreeSet<u64> = body.voters.iter().copied().collect();
    if voters.is_empty() || voters.contains(&0) {
        return Err(ApiError::bad_request(
            "voters must be a non-empty list of positive ids",
        ));
    }
    cluster::change_membership(&app, voters).await?;
    Ok(Data::new(cluster::status(&app)))
}

/// `POST /cluster/snapshot`: builds a snapshot now and answers once it covers everything
/// applied when asked.
pub(crate) async fn snapshot(
    State(app): State<SharedApp>,
) -> Result<Data<ClusterStatus>, ApiError> {
    cluster::snapshot(&app).await?;
    Ok(Data::new(cluster::status(&app)))
}

/// `GET /health`: 200 `{"status":"ok"}` (the contract's body, not an envelope) while a
/// leader is known, else 503 `no leader`; 503 `raft stopped` once Raft stopped on a fatal
/// error (the node is then on its way out).
pub(crate) async fn health(State(app): State<SharedApp>) -> Result<axum::Json<Value>, ApiError> {
    if let Some(fatal) = crate::failstop::fatal(&app.raft) {
        let message = format!("raft stopped: {fatal}");
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message));
    }
    match app.leader() {
        Some(leader) => Ok(axum::Json(json!({"status": "ok", "leader": leader}))),
        None => Err(ApiError::kind(ErrorKind::NoLeader)),
    }
}
