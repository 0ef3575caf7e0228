//! The storefront, the dashboard and the OpenAPI document as the real gateway binary
//! serves them (a catalog, one raft node and the gateway on free ports): content types,
//! the elements the pages' scripts work on, HEAD and trailing slashes, and the answers of
//! the routes those scripts call, field by field as the scripts read them.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use testkit::{wait_until_async, Cluster, ClusterOptions};

const DEADLINE: Duration = Duration::from_secs(30);

struct Gateway {
    _cluster: Cluster,
    http: reqwest::Client,
    base: String,
}

impl Gateway {
    async fn start() -> Gateway {
        let cluster = Cluster::start(ClusterOptions {
            nodes: 1,
            ..Default::default()
        })
        .expect("cluster starts");
        let base = format!("http://{}", cluster.gateway_addr());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        let gateway = Gateway {
            _cluster: cluster,
            http,
            base,
        };
        wait_until_async("the gateway to be healthy", DEADLINE, || async {
            let response = gateway.http.get(gateway.url("/health")).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await
        .unwrap();
        gateway
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Status, content type and body of a GET.
    async fn get(&self, path: &str) -> (u16, String, String) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let kind = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        (status, kind, response.text().await.unwrap())
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn pages_and_document_are_served_with_their_elements() {
    let gateway = Gateway::start().await;

    let (status, kind, store) = gateway.get("/").await;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    for wanted in [
        r#"id="products""#,
        r#"id="buy-form""#,
        r#"id="buy-name""#,
        r#"id="buy-quantity""#,
        r#"id="buy-result""#,
        r#"id="lookup-form""#,
        r#"id="lookup-number""#,
        r#"id="lookup-result""#,
        "Idempotency-Key",
        "crypto.randomUUID",
        r#"EventSource("/events")"#,
        r#"href="/dashboard""#,
    ] {
        assert!(store.contains(wanted), "storefront lacks {wanted}");
    }

    let (status, kind, dashboard) = gateway.get("/dashboard/").await;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    for wanted in [
        r#"id="nodes""#,
        r#"id="leader""#,
        r#"id="term""#,
        r#"id="buys-per-second""#,
        r#"id="p99""#,
        r#"id="rate-chart""#,
        "\"/metrics\"",
        "\"/cluster\"",
    ] {
        assert!(dashboard.contains(wanted), "dashboard lacks {wanted}");
    }

    let head = gateway.http.head(gateway.url("/")).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert!(head.text().await.unwrap().is_empty());

    let (status, kind, doc) = gateway.get("/openapi.json/").await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["paths"]["/orders"]["post"].is_object());
}

#[tokio::test]
async fn the_routes_the_pages_call_answer_as_their_scripts_read_them() {
    let gateway = Gateway::start().await;

    // The storefront's table: name, price, quantity of every toy.
    let (status, products) = gateway
        .json(gateway.http.get(gateway.url("/products")))
        .await;
    assert_eq!(status, 200);
    let tux = products["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Tux")
        .expect("Tux is for sale")
        .clone();
    assert!(tux["price"].is_f64());
    let stock = tux["quantity"].as_u64().unwrap();

    // The buy form: a JSON body and its own key; a retry under the key buys nothing more.
    let buy = || {
        gateway
            .http
            .post(gateway.url("/orders"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", "0f6c1d2e-page-buy")
            .body(r#"{"name":"Tux","quantity":2}"#)
    };
    let (status, first) = gateway.json(buy()).await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = gateway.json(buy()).await;
    let number = first["data"]["order_number"].as_u64().unwrap();
    assert_eq!(again["data"]["order_number"], number);
    let (_, after) = gateway
        .json(gateway.http.get(gateway.url("/products/Tux")))
        .await;
    assert_eq!(after["data"]["quantity"].as_u64(), Some(stock - 2));

    // The error the form shows in words.
    let (status, refused) = gateway
        .json(
            gateway
                .http
                .post(gateway.url("/orders"))
                .body(r#"{"name":"Nope","quantity":1}"#),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["message"].as_str()),
        (404, Some("product not found"))
    );

    // The lookup.
    let (status, order) = gateway
        .json(gateway.http.get(gateway.url(&format!("/orders/{number}"))))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            order["data"]["name"].as_str(),
            order["data"]["quantity"].as_u64()
        ),
        (Some("Tux"), Some(2))
    );

    // The dashboard: the leader and each node's role, applied index and reachability.
    let (status, cluster) = gateway
        .json(gateway.http.get(gateway.url("/cluster")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(cluster["data"]["leader"], 1);
    let node = &cluster["data"]["nodes"][0];
    assert_eq!(
        (node["state"].as_str(), node["reachable"].as_bool()),
        (Some("leader"), Some(true))
    );
    assert!(node["last_applied"].as_u64().is_some() && cluster["data"]["term"].as_u64().is_some());
}
