//! `LeaderRouter` against tiny fake nodes: it follows a 421's hint, moves past a node that
//! refuses connections, never retries a definite answer, gives up with 503 at its
//! deadline, wakes a backing-off request when another one finds the leader, and leaves a
//! hanging attempt for a node that has taken over.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gateway::metrics::GatewayMetrics;
use gateway::router::LeaderRouter;
use serde_json::{json, Value};
use service_core::Metrics;
use toystore_api::node::OrderRequest;

/// Serves `app` on a free loopback port; returns its address.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A fake node answering every `POST /orders` with `status` and `body`; counts requests.
async fn fake_node(status: u16, body: Value) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/orders",
        post(move || {
            let body = body.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (StatusCode::from_u16(status).unwrap(), Json(body))
            }
        }),
    );
    (serve(app).await, hits)
}

/// A port nothing listens on.
fn closed_port() -> String {
    format!("127.0.0.1:{}", testkit::free_port().unwrap())
}

fn router(nodes: BTreeMap<u64, String>, deadline: Duration) -> (LeaderRouter, GatewayMetrics) {
    router_with(nodes, Duration::from_millis(500), deadline)
}

fn router_with(
    nodes: BTreeMap<u64, String>,
    attempt_timeout: Duration,
    deadline: Duration,
) -> (LeaderRouter, GatewayMetrics) {
    let metrics = GatewayMetrics::register(&Metrics::new("gateway"));
    let router = LeaderRouter::new(&nodes, attempt_timeout, deadline, metrics.clone());
    (router, metrics)
}

async fn buy(router: &LeaderRouter) -> Result<u64, service_core::ApiError> {
    buy_with_key(router, "key-1").await
}

async fn buy_with_key(router: &LeaderRouter, key: &str) -> Result<u64, service_core::ApiError> {
    let request = OrderRequest {
        request_id: key.into(),
        name: "Tux".into(),
        quantity: 1,
    };
    router
        .call(|node| {
            let request = request.clone();
            async move { node.create_order(&request).await }
        })
        .await
        .map(|created| created.order_number)
}

#[tokio::test]
async fn follows_the_leader_hint_of_a_421() {
    let (leader, leader_hits) = fake_node(200, json!({"data": {"order_number": 7}})).await;
    let (follower, _) = fake_node(
        421,
        json!({"error": {"code": 421, "message": "not the leader", "leader_id": 2, "leader_addr": leader}}),
    )
    .await;
    let (router, metrics) = router([(1, follower), (2, leader)].into(), Duration::from_secs(5));
    assert_eq!(buy(&router).await.unwrap(), 7);
    assert_eq!(router.leader(), Some(2));
    assert_eq!(leader_hits.load(Ordering::SeqCst), 1);
    assert_eq!(metrics.retries.get(), 1);
    // The leader is remembered: the next buy goes straight to it.
    assert_eq!(buy(&router).await.unwrap(), 7);
    assert_eq!(metrics.retries.get(), 1);
}

#[tokio::test]
async fn moves_past_a_node_that_refuses_connections() {
    let (leader, _) = fake_node(200, json!({"data": {"order_number": 3}})).await;
    let (router, _) = router(
        [(1, closed_port()), (2, leader)].into(),
        Duration::from_secs(5),
    );
    assert_eq!(buy(&router).await.unwrap(), 3);
    assert_eq!(router.leader(), Some(2));
}

#[tokio::test]
async fn a_definite_answer_is_not_retried() {
    let (node, hits) = fake_node(
        409,
        json!({"error": {"code": 409, "message": "out of stock"}}),
    )
    .await;
    let (other, other_hits) = fake_node(200, json!({"data": {"order_number": 1}})).await;
    let (router, _) = router([(1, node), (2, other)].into(), Duration::from_secs(5));
    let err = buy(&router).await.unwrap_err();
    assert_eq!(err.status.as_u16(), 409);
    assert_eq!(err.message, "out of stock");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(other_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn gives_up_with_503_no_leader_at_the_deadline() {
    let (busy, hits) =
        fake_node(503, json!({"error": {"code": 503, "message": "no leader"}})).await;
    let (router, metrics) = router(
        [(1, busy), (2, closed_port())].into(),
        Duration::from_millis(400),
    );
    let err = buy(&router).await.unwrap_err();
    assert_eq!(err.status.as_u16(), 503);
    assert_eq!(err.message, "no leader");
    assert_eq!(err.retry_after_secs, Some(1));
    assert!(hits.load(Ordering::SeqCst) >= 1);
    assert!(metrics.retries.get() >= 1, "it tried more than once");
}

/// A node mid-election: 503 "no leader" until `elected` is set, then 200 after a short
/// delay (so a request that found the leader answers while the others are backing off).
async fn electing_node() -> (String, Arc<AtomicUsize>, Arc<AtomicBool>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let elected = Arc::new(AtomicBool::new(false));
    let (counter, flag) = (hits.clone(), elected.clone());
    let app = Router::new().route(
        "/orders",
        post(move || {
            let (counter, flag) = (counter.clone(), flag.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if flag.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    (StatusCode::OK, Json(json!({"data": {"order_number": 5}})))
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Json(json!({"error": {"code": 503, "message": "no leader"}})),
                    )
                }
            }
        }),
    );
    (serve(app).await, hits, elected)
}

#[tokio::test]
async fn a_backing_off_buy_wakes_when_another_finds_the_leader() {
    let (node, hits, elected) = electing_node().await;
    let (router, metrics) = router([(1, node)].into(), Duration::from_secs(20));
    let router = Arc::new(router);
    let waiting = tokio::spawn({
        let router = router.clone();
        async move { buy_with_key(&router, "waiting").await }
    });
    // Six refusals: the waiting buy's backoff has grown to its 500 ms cap.
    testkit::wait_until_async("six attempts", Duration::from_secs(10), || {
        let n = hits.load(Ordering::SeqCst);
        async move { (n >= 6).then_some(()) }
    })
    .await
    .unwrap();
    elected.store(true, Ordering::SeqCst);
    assert_eq!(buy_with_key(&router, "fresh").await.unwrap(), 5);
    assert_eq!(waiting.await.unwrap().unwrap(), 5);
    assert!(
        metrics.leader_wakeups.get() >= 1,
        "the waiting buy slept out its backoff instead of waking on the new leader"
    );
}

/// The status body of node `id` in `state` at `term`, naming `leader`.
fn status(id: u64, state: &str, term: u64, leader: u64) -> Value {
    json!({"data": {
        "id": id, "state": state, "term": term, "leader_id": leader,
        "last_log_index": 1, "last_applied": 1, "committed": 1, "snapshot_index": null,
        "voters": [1, 2, 3], "learners": [], "nodes": {}
    }})
}

/// A node that answers buys with `order_number` and `GET /cluster/status` with `body`.
async fn node_with_status(order_number: u64, body: Value) -> String {
    serve(
        Router::new()
            .route(
                "/orders",
                post(move || async move { Json(json!({"data": {"order_number": order_number}})) }),
            )
            .route("/cluster/status", get(move || async move { Json(body) })),
    )
    .await
}

/// A node that takes buys and status requests and never answers, like a paused one.
async fn silent_node() -> String {
    serve(
        Router::new()
            .route("/orders", post(std::future::pending::<StatusCode>))
            .route("/cluster/status", get(std::future::pending::<StatusCode>)),
    )
    .await
}

#[tokio::test]
async fn a_hanging_attempt_is_left_for_a_node_a_majority_names_leader() {
    // Node 1 was the leader and went silent; nodes 2 and 3 agree that 2 leads now.
    let nodes = [
        (1, silent_node().await),
        (2, node_with_status(9, status(2, "leader", 5, 2)).await),
        (3, node_with_status(0, status(3, "follower", 5, 2)).await),
    ];
    // Attempts time out only after a minute: only leaving the hanging one finishes soon.
    let (router, metrics) = router_with(
        nodes.into(),
        Duration::from_secs(60),
        Duration::from_secs(120),
    );
    let bought = tokio::time::timeout(Duration::from_secs(20), buy(&router))
        .await
        .expect("the buy waited for the silent node's attempt timeout");
    assert_eq!(bought.unwrap(), 9);
    assert_eq!(router.leader(), Some(2));
    assert_eq!(metrics.attempts_abandoned.get(), 1);
}

#[tokio::test]
async fn a_leader_claim_no_majority_backs_does_not_draw_requests() {
    // Node 1 is the leader, slow to answer; node 2 still claims an old leadership, but
    // node 3 names node 1. The buy must wait for node 1 rather than move to node 2.
    let slow_leader = serve(Router::new().route(
        "/orders",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Json(json!({"data": {"order_number": 4}}))
        }),
    ))
    .await;
    let nodes = [
        (1, slow_leader),
        (2, node_with_status(99, status(2, "leader", 3, 2)).await),
        (3, node_with_status(0, status(3, "follower", 4, 1)).await),
    ];
    let (router, metrics) = router_with(
        nodes.into(),
        Duration::from_secs(60),
        Duration::from_secs(120),
    );
    assert_eq!(buy(&router).await.unwrap(), 4);
    assert_eq!(metrics.attempts_abandoned.get(), 0);
    assert_eq!(router.leader(), Some(1));
}
