//! A JSON body extractor that answers the way the contract wants.
//!
//! axum's own `Json` answers 415 without a content type and 422 for a wrongly typed field;
//! the contract wants 400 for every malformed body and 413 past 16 KiB, each as a JSON
//! error. Any content type is accepted, so `curl -d` works as people expect.
//! [`PathParams`] and [`QueryParams`] do the same for path segments and query strings,
//! whose axum rejections are plain text.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::envelope::ApiError;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The limit of [`BatchBody`]: a batch of the most items, each at the longest key and name.
pub const MAX_BATCH_BODY_BYTES: usize = 512 * 1024;

/// A request body decoded from JSON, within `LIMIT` bytes ([`MAX_BODY_BYTES`] unless said).
#[derive(Debug, Clone)]
pub struct JsonBody<T, const LIMIT: usize = MAX_BODY_BYTES>(pub T);

/// A batch request's JSON body: [`JsonBody`] with the larger [`MAX_BATCH_BODY_BYTES`]
/// limit, for the internal routes that take many items in one call.
pub type BatchBody<T> = JsonBody<T, MAX_BATCH_BODY_BYTES>;

impl<T, S, const LIMIT: usize> FromRequest<S> for JsonBody<T, LIMIT>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_up_to(req.into_body(), LIMIT).await?;
        decode(&bytes).map(JsonBody)
    }
}

/// Path parameters; a segment that does not decode is a JSON 400.
#[derive(Debug, Clone)]
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParams(value))
            .map_err(|err| ApiError::bad_request(err.body_text()))
    }
}

/// A query string; a malformed or mistyped one is a JSON 400.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| QueryParams(value))
            .map_err(|err| ApiError::bad_request(err.body_text()))
    }
}

/// Reads a whole body, refusing it with 413 once it passes `limit` bytes.
async fn read_up_to(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        // to_bytes reports both an over-long body and a broken stream; only the first is 413.
        let text = err.to_string();
        if text.contains("length limit") {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {limit} bytes"),
            )
        } else {
            ApiError::bad_request(format!("could not read request body: {text}"))
        }
    })
}

/// Decodes JSON with the contract's 400 messages.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request("missing JSON body"));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        use serde_json::error::Category;
        match err.classify() {
            Category::Data => ApiError::bad_request(format!("invalid body: {err}")),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("malformed JSON: {err}"))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Buy {
        name: String,
        quantity: u32,
    }

    async fn extract(body: Vec<u8>) -> Result<JsonBody<Buy>, ApiError> {
        let req = Request::builder().body(Body::from(body)).unwrap();
        JsonBody::<Buy>::from_request(req, &()).await
    }

    #[tokio::test]
    async fn accepts_a_well_formed_body_without_content_type() {
        let JsonBody(buy) = extract(br#"{"name":"Tux","quantity":2}"#.to_vec())
            .await
            .unwrap();
        assert_eq!(buy.quantity, 2);
    }

    #[tokio::test]
    async fn malformed_missing_and_mistyped_bodies_are_400() {
        for body in [
            &b"{"[..],
            b"",
            br#"{"name":"Tux"}"#,
            br#"{"name":"Tux","quantity":"2"}"#,
            br#"{"name":"Tux","quantity":-1}"#,
            br#"[1,2]"#,
        ] {
            let err = extract(body.to_vec()).await.unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{:?}", body);
        }
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let mut body = br#"{"name":""#.to_vec();
        body.extend(std::iter::repeat_n(b'a', MAX_BODY_BYTES));
        body.extend(br#"","quantity":1}"#);
        let err = extract(body).await.unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
