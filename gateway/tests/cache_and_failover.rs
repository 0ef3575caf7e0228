//! The gateway against real binaries: a catalog, three raft nodes and the gateway on free
//! ports (`testkit`'s `Cluster`). Cache hits and misses, read-your-writes after a buy,
//! push invalidation of a price change, the catalog dying and coming back, and a leader
//! killed in the middle of a stream of buys.

use std::collections::HashMap;
use std::time::Duration;

use testkit::{wait_until_async, Cluster, ClusterOptions, Member};
use toystore_api::catalog::CatalogClient;
use toystore_api::gateway::GatewayClient;
use toystore_api::node::NodeClient;

const DEADLINE: Duration = Duration::from_secs(30);

fn start() -> Cluster {
    Cluster::start(ClusterOptions {
        gateway_deadline: Some("10s".into()),
        ..Default::default()
    })
    .expect("cluster starts")
}

fn gateway(cluster: &Cluster) -> GatewayClient {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    GatewayClient::new(&cluster.gateway_addr(), http)
}

async fn ready(gateway: &GatewayClient) {
    wait_until_async("the gateway to be healthy", DEADLINE, || async {
        gateway.health().await.ok()
    })
    .await
    .unwrap();
}

/// Waits until the gateway has subscribed to the catalog's events (a read is a hit).
async fn cache_hit(gateway: &GatewayClient, name: &str) -> toystore_api::catalog::Product {
    wait_until_async("a cache hit", DEADLINE, || async {
        let read = gateway.product(name).await.ok()?;
        (read.cache_hit == Some(true)).then_some(read.product)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_hit_the_cache_and_changes_invalidate_it() {
    let cluster = start();
    let gateway = gateway(&cluster);
    ready(&gateway).await;

    // First a miss, then (once subscribed) hits.
    let first = gateway.product("Tux").await.unwrap();
    assert_eq!(first.product.quantity, 100);
    let cached = cache_hit(&gateway, "Tux").await;
    assert_eq!(cached.quantity, 100);

    // Read-your-writes: after this gateway's buy, the next read shows the new stock.
    let created = gateway.buy("Tux", 3, Some("ryw-1")).await.unwrap();
    assert_eq!(created.order_number, 0);
    let after = gateway.product("Tux").await.unwrap();
    assert_eq!(after.product.quantity, 97);
    assert_eq!(after.cache_hit, Some(false), "the buy dropped the entry");

    // A change made at the catalog directly reaches the cache through /events.
    cache_hit(&gateway, "Whale").await;
    let catalog = CatalogClient::with_timeout(&cluster.catalog_addr(), Duration::from_secs(5));
    catalog.set_price("Whale", 12.5).await.unwrap();
    wait_until_async("the new price through the cache", DEADLINE, || async {
        let read = gateway.product("Whale").await.ok()?;
        (read.product.price == 12.5).then_some(())
    })
    .await
    .unwrap();

    // The same key with the same body is the same order; with another body, 422.
    assert_eq!(
        gateway
            .buy("Tux", 3, Some("ryw-1"))
            .await
            .unwrap()
            .order_number,
        0
    );
    let err = gateway.buy("Tux", 4, Some("ryw-1")).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422), "{err}");
    let err = gateway.buy("Tux", 1000, None).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{err}");
    let err = gateway.buy("Dragon", 1, None).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");
    let order = gateway.order(0).await.unwrap();
    assert_eq!((order.name.as_str(), order.quantity), ("Tux", 3));
    let err = gateway.order(99).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");

    let view = gateway.cluster().await.unwrap();
    assert!(view.leader.is_some());
    assert_eq!(view.nodes.len(), 3);
    assert!(view.nodes.iter().all(|n| n.reachable));

    let metrics = reqwest::get(format!("http://{}/metrics", cluster.gateway_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "gateway_cache_hits_total",
        "gateway_cache_misses_total",
        "gateway_invalidations_total",
        "gateway_leader_changes_total",
        "gateway_retries_total",
        "gateway_http_requests_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let hits: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("gateway_cache_hits_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(hits >= 2.0, "the hits above are counted: {hits}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_catalog_drops_the_cache_and_its_return_restores_it() {
    let mut cluster = start();
    let gateway = gateway(&cluster);
    ready(&gateway).await;
    cache_hit(&gateway, "Uno").await;

    tokio::task::block_in_place(|| cluster.kill(Member::Catalog)).unwrap();
    // No stale hit may be served once the stream is gone: reads fail with 503.
    wait_until_async("queries to answer 503", DEADLINE, || async {
        match gateway.product("Uno").await {
            Err(err) if err.status().map(|s| s.as_u16()) == Some(503) => Some(()),
            _ => None,
        }
    })
    .await
    .unwrap();

    tokio::task::block_in_place(|| cluster.restart(Member::Catalog)).unwrap();
    let product = cache_hit(&gateway, "Uno").await;
    assert_eq!(product.quantity, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_costs_latency_but_never_a_doubled_order() {
    let mut cluster = start();
    let gateway = gateway(&cluster);
    ready(&gateway).await;

    let buyer = {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..40 {
                let key = format!("failover-{i}");
                let result = gateway.buy("Jenga", 1, Some(&key)).await;
                outcomes.push((key, result));
            }
            outcomes
        })
    };
    // Let some buys land, then kill the leader under the stream.
    wait_until_async("a few orders", DEADLINE, || async {
        gateway.order(5).await.ok()
    })
    .await
    .unwrap();
    let leader = cluster.leader().await.expect("a leader");
    tokio::task::block_in_place(|| cluster.kill(Member::Node(leader))).unwrap();

    let outcomes = buyer.await.unwrap();
    let mut acknowledged = HashMap::new();
    for (key, result) in &outcomes {
        match result {
            Ok(created) => {
                acknowledged.insert(key.clone(), created.order_number);
            }
            // Only a clear answer may come back: 503 after the deadline, nothing vaguer.
            Err(err) => assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{key}: {err}"),
        }
    }
    assert!(
        acknowledged.len() >= 30,
        "most buys succeed across the failover: {}",
        acknowledged.len()
    );

    tokio::task::block_in_place(|| cluster.restart(Member::Node(leader))).unwrap();
    let (_, addr) = cluster
        .node_addrs()
        .into_iter()
        .find(|(id, _)| *id != leader)
        .unwrap();
    let orders = NodeClient::with_timeout(&addr, Duration::from_secs(5))
        .all_orders()
        .await
        .unwrap();
    let mut per_key: HashMap<&str, Vec<u64>> = HashMap::new();
    for order in &orders {
        per_key
            .entry(&order.request_id)
            .or_default()
            .push(order.number);
    }
    for (key, numbers) in &per_key {
        assert_eq!(numbers.len(), 1, "key {key} has orders {numbers:?}");
    }
    for (key, number) in &acknowledged {
        assert_eq!(
            per_key.get(key.as_str()),
            Some(&vec![*number]),
            "acknowledged {key} lost or moved"
        );
    }
    let numbers: Vec<u64> = orders.iter().map(|o| o.number).collect();
    assert_eq!(
        numbers,
        (0..orders.len() as u64).collect::<Vec<_>>(),
        "dense numbers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailing_slash_and_head_are_answered_like_the_plain_route() {
    let cluster = start();
    let gateway = gateway(&cluster);
    ready(&gateway).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", gateway.base_url());
    // Clients in the wild post to `/orders/`; the order is taken as on `/orders`.
    let bought = http
        .post(url("/orders/"))
        .header("content-type", "application/json")
        .body(r#"{"name": "Clue", "quantity": 2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bought.status(), 200);
    let body: serde_json::Value = bought.json().await.unwrap();
    let number = body["data"]["order_number"].as_u64().unwrap();
    let order: serde_json::Value = http
        .get(url(&format!("/orders/{number}/")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["data"]["name"], "Clue");
    let product = http.get(url("/products/Clue/")).send().await.unwrap();
    assert_eq!(product.status(), 200);
    let head = http.head(url("/products/Clue")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let missing = http.get(url("/no-such-route/")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}
