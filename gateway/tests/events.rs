//! `GET /events`, the browsers' live feed. In process: the cap's 503 and its JSON, and HEAD
//! giving its place back. Against the real binaries (a catalog, one raft node, the
//! gateway): a buy's invalidation reaching a subscriber, the trailing slash and HEAD,
//! `resync` when the catalog restarts under the gateway, and the feed still flowing with
//! the cache off.

mod common;

use std::pin::Pin;
use std::time::Duration;

use axum::http::StatusCode;
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use testkit::{wait_until_async, Cluster, ClusterOptions, Member};

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn past_the_cap_a_subscriber_gets_a_json_503_and_head_holds_no_place() {
    let app = common::app(); // room for 4 streams
    let open = |method: &'static str| {
        let app = app.clone();
        async move {
            let request = axum::http::Request::builder()
                .method(method)
                .uri("/events")
                .body(axum::body::Body::empty())
                .unwrap();
            tower::ServiceExt::oneshot(app, request).await.unwrap()
        }
    };
    for _ in 0..10 {
        let head = open("HEAD").await;
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-type"], "text/event-stream");
    }
    let mut held = Vec::new();
    for _ in 0..4 {
        let response = open("GET").await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "HEADs left no place taken"
        );
        held.push(response);
    }
    let (status, headers, body) = common::send(app.clone(), "GET", "/events", &[], vec![]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "5");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": 503, "message": "too many event subscribers"}})
    );
    held.pop();
    let (status, _, hello) = common::send(app, "GET", "/events", &[], vec![]).await;
    assert_eq!(status, StatusCode::OK, "a closed stream freed its place");
    assert!(String::from_utf8_lossy(&hello).starts_with("event: hello\n"));
}

/// One subscription to a gateway's `/events`.
struct Feed {
    events: Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>,
}

impl Feed {
    async fn open(http: &reqwest::Client, url: &str) -> Feed {
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let events = response
            .bytes_stream()
            .eventsource()
            .map(|item| item.map_err(|e| e.to_string()));
        Feed {
            events: Box::pin(events),
        }
    }

    /// The first event (skipping others) named `name` whose data `wanted` accepts.
    async fn until(&mut self, name: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(event) = self.events.next().await {
                let event = event.expect("the stream stays readable");
                let data: Value = serde_json::from_str(&event.data).unwrap();
                if event.event == name && wanted(&data) {
                    return Some(data);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(data)) => data,
            Ok(None) => panic!("the stream ended before a {name} event"),
            Err(_) => panic!("no wanted {name} event within {DEADLINE:?}"),
        }
    }
}

async fn buy(http: &reqwest::Client, base: &str, name: &str) {
    let response = http
        .post(format!("{base}/orders"))
        .body(format!(r#"{{"name":"{name}","quantity":1}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{:?}",
        response.text().await
    );
}

async fn stock(http: &reqwest::Client, base: &str, name: &str) -> u64 {
    let body: Value = http
        .get(format!("{base}/products/{name}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["quantity"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_reach_subscribers_and_a_catalog_restart_sends_resync() {
    let mut cluster = Cluster::start(ClusterOptions {
        nodes: 1,
        ..Default::default()
    })
    .expect("cluster starts");
    let base = format!("http://{}", cluster.gateway_addr());
    let http = reqwest::Client::new();
    wait_until_async("the gateway to be healthy", DEADLINE, || async {
        let response = http.get(format!("{base}/health")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await
    .unwrap();

    let mut feed = Feed::open(&http, &format!("{base}/events/")).await;
    let hello = feed.until("hello", |_| true).await;
    if hello["live"] == false {
        feed.until("resync", |d| d["reason"] == "catalog_back")
            .await;
    }
    let before = stock(&http, &base, "Whale").await;
    buy(&http, &base, "Whale").await;
    let change = feed.until("invalidate", |d| d["name"] == "Whale").await;
    assert_eq!(change["quantity"].as_u64(), Some(before - 1));
    assert!(change["price"].is_f64() && change["version"].is_u64());

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gateway_event_subscribers 1\n"),
        "{metrics}"
    );

    // HEAD through the real server: the stream's headers, no body, and no place kept.
    let head = http.head(format!("{base}/events/")).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["content-type"], "text/event-stream");
    assert!(head.bytes().await.unwrap().is_empty());
    wait_until_async("the HEAD's stream to be gone", DEADLINE, || async {
        let page = http.get(format!("{base}/metrics")).send().await.ok()?;
        let page = page.text().await.ok()?;
        page.contains("gateway_event_subscribers 1\n").then_some(())
    })
    .await
    .unwrap();

    // The gateway loses the catalog's stream and gets it back: the page hears of both.
    cluster.restart(Member::Catalog).unwrap();
    let lost = feed
        .until("resync", |d| d["reason"] == "catalog_lost")
        .await;
    assert_eq!(lost["live"], false);
    let back = feed
        .until("resync", |d| d["reason"] == "catalog_back")
        .await;
    assert_eq!(back["live"], true);
    buy(&http, &base, "Whale").await;
    feed.until("invalidate", |d| d["name"] == "Whale").await;

    // With the cache off the gateway still follows the catalog, for the pages.
    drop(feed);
    cluster.set_gateway_cache(false).unwrap();
    let mut feed = Feed::open(&http, &format!("{base}/events")).await;
    if feed.until("hello", |_| true).await["live"] == false {
        feed.until("resync", |d| d["reason"] == "catalog_back")
            .await;
    }
    buy(&http, &base, "Bird").await;
    feed.until("invalidate", |d| d["name"] == "Bird").await;
}
