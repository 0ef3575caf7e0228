//! What every router gets on top of its own routes: JSON 404/405 fallbacks, `/metrics`,
//! request metrics, a body read timeout, panic containment and request tracing; and, around the whole router,
//! tolerance of a trailing slash (clients in the wild post to `/orders/`). `HEAD` is
//! answered wherever `GET` is by axum itself.

use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;
use axum::Router;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::envelope::ApiError;
use crate::metrics::{self, Metrics};

/// Time a client has to send a whole request body once its headers have arrived.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Wraps a service's routes with the common routes and layers.
pub fn finish(routes: Router, metrics: Metrics) -> Router {
    routes
        .route(
            "/metrics",
            get(metrics::serve_metrics).with_state(metrics.clone()),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            ApiError::internal("internal error").into_response()
        }))
        .layer(TraceLayer::new_for_http())
}

/// The router as it is served: a trailing slash is trimmed before routing, so `/orders/`
/// and `/products/Tux/` reach the same handlers (and metrics labels) as without it.
pub fn tolerant(router: Router) -> NormalizePath<Router> {
    NormalizePathLayer::trim_trailing_slash().layer(router)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn app() -> Router {
        let routes = Router::new().route("/ping", get(|| async { "pong" }));
        finish(routes, Metrics::new("test"))
    }

    async fn status_and_body(req: Request<Body>) -> (StatusCode, String) {
        let response = app().oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn unknown_route_and_wrong_method_answer_json() {
        let (status, body) =
            status_and_body(Request::get("/nope").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains(r#""code":404"#), "{body}");
        let (status, body) =
            status_and_body(Request::delete("/ping").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body.contains(r#""code":405"#), "{body}");
    }

    #[tokio::test]
    async fn a_trailing_slash_and_head_reach_the_same_route() {
        for (method, uri) in [("GET", "/ping/"), ("GET", "/ping//"), ("HEAD", "/ping")] {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            let response = tolerant(app()).oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{method} {uri}");
        }
        let response = tolerant(app())
            .oneshot(Request::get("/nope/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn metrics_count_requests_by_route() {
        let app = app();
        let _ = app
            .clone()
            .oneshot(Request::get("/ping").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let response = app
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(
            text.contains(r#"test_http_requests_total{method="GET",route="/ping",status="200"} 1"#),
            "{text}"
        );
    }
}
