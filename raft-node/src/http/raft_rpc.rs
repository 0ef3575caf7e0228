//! The server side of the Raft RPCs: bincode in, bincode `Result` out (see [`crate::network`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use service_core::ApiError;

use crate::app::SharedApp;

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    bincode::deserialize(body).map_err(|e| ApiError::bad_request(format!("bad raft rpc: {e}")))
}

fn encode<T: Serialize>(answer: &T) -> Response {
    match bincode::serialize(answer) {
        Ok(bytes) => ([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => ApiError::internal(format!("encode raft answer: {e}")).into_response(),
    }
}

pub(crate) async fn append(
    State(app): State<SharedApp>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = decode(&body)?;
    Ok(encode(&app.raft.append_entries(request).await))
}

pub(crate) async fn vote(State(app): State<SharedApp>, body: Bytes) -> Result<Response, ApiError> {
    let request = decode(&body)?;
    Ok(encode(&app.raft.vote(request).await))
}

pub(crate) async fn snapshot(
    State(app): State<SharedApp>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = decode(&body)?;
    Ok(encode(&app.raft.install_snapshot(request).await))
}
