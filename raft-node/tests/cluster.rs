//! The order service as real processes: a catalog and raft nodes on loopback.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::response::IntoResponse;
use common::{buy, converged, leader_of, options, start, Cluster, ClusterOptions, Member, SETTLE};
use testkit::wait_until_async;
use toystore_api::node::{leader_hint, ReadConsistency};

fn status_of(err: &toystore_api::CallError) -> u16 {
    err.status().map(|s| s.as_u16()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_get_dense_numbers_repeats_are_idempotent_and_followers_redirect() {
    let mut cluster = start(3, &[]);
    let leader_id = leader_of(&mut cluster).await;
    let leader = cluster.node_client(leader_id);
    for i in 0..5u64 {
        let created = buy(&leader, &format!("req-{i}"), "Tux", 1).await.unwrap();
        assert_eq!(created.order_number, i);
    }
    // A repeat is answered with the same number and takes no stock.
    assert_eq!(
        buy(&leader, "req-2", "Tux", 1).await.unwrap().order_number,
        2
    );
    let err = buy(&leader, "req-2", "Tux", 3).await.unwrap_err();
    assert_eq!(status_of(&err), 422);
    let tux = cluster.catalog_client().product("Tux").await.unwrap();
    assert_eq!(tux.quantity, 95);
    // Bad input is refused without a state change.
    let err = buy(&leader, "bad key!", "Tux", 1).await.unwrap_err();
    assert_eq!(status_of(&err), 400);
    let err = buy(&leader, "req-9", "Tux", 0).await.unwrap_err();
    assert_eq!(status_of(&err), 400);
    let err = buy(&leader, "req-9", "NoSuchToy", 1).await.unwrap_err();
    assert_eq!(status_of(&err), 404);

    let order = leader
        .order(3, ReadConsistency::Linearizable)
        .await
        .unwrap();
    assert_eq!(
        (order.number, order.name.as_str(), order.quantity),
        (3, "Tux", 1)
    );
    let err = leader
        .order(99, ReadConsistency::Linearizable)
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 404);

    let follower_id = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader_id)
        .unwrap();
    let follower = cluster.node_client(follower_id);
    let err = buy(&follower, "req-x", "Tux", 1).await.unwrap_err();
    assert_eq!(
        leader_hint(&err),
        Some((Some(leader_id), Some(cluster.node_addr(leader_id))))
    );
    let err = follower
        .order(0, ReadConsistency::Linearizable)
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 421);
    let digest = converged(&mut cluster).await;
    assert_eq!((digest.orders, digest.last_order), (5, Some(4)));
    let local = follower.order(4, ReadConsistency::Local).await.unwrap();
    assert_eq!(local.request_id, "req-4");
    let page = follower.orders_page(Some(1), 2).await.unwrap();
    assert_eq!(
        page.orders.iter().map(|o| o.number).collect::<Vec<_>>(),
        vec![2, 3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_and_catches_up_after_restart() {
    let mut cluster = start(3, &[]);
    let old_leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(old_leader);
    for i in 0..10u64 {
        assert_eq!(
            buy(&client, &format!("k-{i}"), "Whale", 1)
                .await
                .unwrap()
                .order_number,
            i
        );
    }
    cluster.kill(Member::Node(old_leader)).unwrap();
    let new_leader = leader_of(&mut cluster).await;
    assert_ne!(new_leader, old_leader);
    let client = cluster.node_client(new_leader);
    for i in 0..10u64 {
        let order = client
            .order(i, ReadConsistency::Linearizable)
            .await
            .unwrap();
        assert_eq!(order.request_id, format!("k-{i}"));
    }
    // A retry of an acknowledged buy on the new leader gets its number back.
    assert_eq!(
        buy(&client, "k-7", "Whale", 1).await.unwrap().order_number,
        7
    );
    assert_eq!(
        buy(&client, "k-10", "Whale", 1).await.unwrap().order_number,
        10
    );

    cluster.restart(Member::Node(old_leader)).unwrap();
    let digest = converged(&mut cluster).await;
    assert_eq!(digest.orders, 11);
    assert_eq!(
        cluster.node_client(old_leader).digest().await.unwrap(),
        digest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_killing_every_node() {
    let mut cluster = start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    let mut acknowledged = Vec::new();
    for i in 0..15u64 {
        let created = buy(&client, &format!("d-{i}"), "Risk", 1).await.unwrap();
        acknowledged.push((created.order_number, format!("d-{i}")));
    }
    // SIGKILL right after the acknowledgements: only what was flushed can come back.
    for id in cluster.node_ids() {
        cluster.kill(Member::Node(id)).unwrap();
    }
    for id in cluster.node_ids() {
        cluster.restart(Member::Node(id)).unwrap();
    }
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    for (number, request_id) in &acknowledged {
        let order = client
            .order(*number, ReadConsistency::Linearizable)
            .await
            .unwrap();
        assert_eq!(&order.request_id, request_id);
    }
    let digest = converged(&mut cluster).await;
    assert_eq!(digest.orders, acknowledged.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_past_a_snapshot_catches_up_by_installing_it() {
    let mut cluster = start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    let lagging = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    cluster.kill(Member::Node(lagging)).unwrap();
    for i in 0..12u64 {
        buy(&client, &format!("s-{i}"), "Uno", 1).await.unwrap();
    }
    let status = client.snapshot().await.unwrap();
    let snapshot_index = status.snapshot_index.expect("snapshot built");
    assert!(snapshot_index >= 12, "{status:?}");

    cluster.restart(Member::Node(lagging)).unwrap();
    let digest = converged(&mut cluster).await;
    assert_eq!(digest.orders, 12);
    let lagging_status = cluster.node_client(lagging).status().await.unwrap();
    assert!(
        lagging_status.snapshot_index >= Some(snapshot_index),
        "the restarted node did not install the snapshot: {lagging_status:?}"
    );
    // Numbering continues densely after the snapshot.
    assert_eq!(
        buy(&client, "s-12", "Uno", 1).await.unwrap().order_number,
        12
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_asked_for_while_others_build_still_cover_what_was_applied() {
    // Each answer covers what was applied when it was asked, while buys move the applied
    // index. openraft drops a trigger while a build is under way, so requests that meet
    // must not wait on the older build alone; builds take milliseconds here, so they meet
    // only now and then (at a million orders a build takes seconds and they meet often).
    let mut cluster = start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    let buying = Arc::new(AtomicBool::new(true));
    let buyers: Vec<_> = ["Tux", "Whale", "Risk", "Jenga"]
        .into_iter()
        .map(|name| {
            let (client, buying) = (client.clone(), buying.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while buying.load(Ordering::Relaxed) && i < 90 {
                    buy(&client, &format!("{name}-{i}"), name, 1).await.unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    let askers: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    let applied = client.status().await.unwrap().last_applied.unwrap();
                    let status = client.snapshot().await.unwrap();
                    let covered = status.snapshot_index.expect("snapshot built");
                    assert!(covered >= applied, "{covered} < {applied}");
                }
            })
        })
        .collect();
    let asked = futures::future::join_all(askers).await;
    buying.store(false, Ordering::Relaxed);
    for task in buyers {
        task.await.unwrap();
    }
    for result in asked {
        result.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_node_joins_as_learner_then_voter_a_voter_leaves_and_a_learner_is_removed() {
    let mut cluster = start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    buy(&client, "m-0", "Sand", 1).await.unwrap();
    let addr = cluster.add_node(4).unwrap();
    let status = client.add_learner(4, &addr).await.unwrap();
    assert!(status.learners.contains(&4), "{status:?}");
    let status = client.change_membership(vec![1, 2, 3, 4]).await.unwrap();
    assert_eq!(status.voters, vec![1, 2, 3, 4]);
    buy(&client, "m-1", "Sand", 1).await.unwrap();
    assert_eq!(converged(&mut cluster).await.orders, 2);
    assert_eq!(cluster.node_client(4).digest().await.unwrap().orders, 2);

    let leaving = *[1u64, 2, 3].iter().find(|id| **id != leader).unwrap();
    let voters: Vec<u64> = [1u64, 2, 3, 4]
        .into_iter()
        .filter(|id| *id != leaving)
        .collect();
    let status = client.change_membership(voters.clone()).await.unwrap();
    assert_eq!(status.voters, voters);
    assert!(
        !status.nodes.contains_key(&leaving.to_string()),
        "{status:?}"
    );
    cluster.kill(Member::Node(leaving)).unwrap();
    assert_eq!(
        buy(&client, "m-2", "Sand", 1).await.unwrap().order_number,
        2
    );

    // A learner never promoted is taken out by id; a voter is refused.
    let addr = cluster.add_node(5).unwrap();
    let status = client.add_learner(5, &addr).await.unwrap();
    assert_eq!(status.learners, vec![5]);
    let refused = client.remove_learner(4).await.unwrap_err();
    assert_eq!(status_of(&refused), 409, "{refused}");
    let status = client.remove_learner(5).await.unwrap();
    assert!(status.learners.is_empty(), "{status:?}");
    assert!(!status.nodes.contains_key("5"), "{status:?}");
    assert_eq!(status.voters, voters);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_catalog_down_a_buy_is_503_and_commits_nothing() {
    let mut cluster = start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    buy(&client, "c-0", "Jenga", 1).await.unwrap();
    cluster.kill(Member::Catalog).unwrap();
    let err = buy(&client, "c-1", "Jenga", 1).await.unwrap_err();
    assert_eq!(status_of(&err), 503);
    assert!(err.to_string().contains("catalog unavailable"), "{err}");
    assert_eq!(
        cluster.node_client(leader).digest().await.unwrap().orders,
        1
    );
    cluster.restart(Member::Catalog).unwrap();
    assert_eq!(
        buy(&client, "c-1", "Jenga", 1).await.unwrap().order_number,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_held_reservation_is_released_and_its_request_expires() {
    let mut cluster = start(
        3,
        &[
            "--reconcile-after",
            "500ms",
            "--reconcile-interval",
            "200ms",
        ],
    );
    let leader = leader_of(&mut cluster).await;
    let catalog = cluster.catalog_client();
    // A reservation whose order never reaches Raft, as if the leader died after reserving.
    catalog
        .reserve(&toystore_api::catalog::ReserveRequest {
            request_id: "orphan-1".into(),
            name: "Clue".into(),
            quantity: 3,
        })
        .await
        .unwrap();
    assert_eq!(catalog.product("Clue").await.unwrap().quantity, 97);
    wait_until_async("the orphan reservation to be released", SETTLE, || {
        let catalog = catalog.clone();
        async move {
            let held = catalog.held(0).await.ok()?;
            let clue = catalog.product("Clue").await.ok()?;
            (held.is_empty() && clue.quantity == 100).then_some(())
        }
    })
    .await
    .unwrap();
    let client = cluster.node_client(leader);
    let err = buy(&client, "orphan-1", "Clue", 3).await.unwrap_err();
    assert_eq!(status_of(&err), 409);
    assert!(err.to_string().contains("request expired"), "{err}");
    // A normal buy is untouched by the reconciler.
    assert_eq!(
        buy(&client, "fresh-1", "Clue", 1)
            .await
            .unwrap()
            .order_number,
        0
    );
    assert_eq!(
        cluster.node_client(leader).digest().await.unwrap().orders,
        1
    );
}

/// A front for the catalog on `listener` that passes every request through, except that
/// while `refuse` is set it answers confirmations 503 itself, as if the catalog were
/// briefly unreachable.
fn serve_catalog_front(listener: std::net::TcpListener, catalog: &str, refuse: Arc<AtomicBool>) {
    let target = format!("http://{catalog}");
    let http = reqwest::Client::new();
    let forward = move |request: axum::extract::Request| {
        let (target, http, refuse) = (target.clone(), http.clone(), refuse.clone());
        async move {
            let (parts, body) = request.into_parts();
            if parts.uri.path().ends_with("/confirm") && refuse.load(Ordering::SeqCst) {
                let body = r#"{"error":{"code":503,"message":"front refuses"}}"#;
                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, body).into_response();
            }
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let answer = http
                .request(parts.method, format!("{target}{path}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match answer {
                Ok(answer) => {
                    let status = answer.status();
                    let bytes = answer.bytes().await.unwrap_or_default();
                    (status, [("content-type", "application/json")], bytes).into_response()
                }
                Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    };
    listener.set_nonblocking(true).expect("nonblocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(forward)).await });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_order_whose_confirm_failed_is_confirmed_by_the_reconciler() {
    let refuse = Arc::new(AtomicBool::new(true));
    // The nodes dial the front, which is bound now and serves once the catalog is up.
    let front = std::net::TcpListener::bind("127.0.0.1:0").expect("bind front");
    let node_args = [
        "--reconcile-after",
        "500ms",
        "--reconcile-interval",
        "200ms",
    ];
    let mut cluster = Cluster::start(ClusterOptions {
        catalog_via: Some(front.local_addr().expect("front addr").to_string()),
        ..options(3, &node_args)
    })
    .expect("cluster starts");
    serve_catalog_front(front, &cluster.catalog_addr(), refuse.clone());
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    let catalog = cluster.catalog_client();
    // The order commits; its confirmation is refused, so the reservation stays held.
    let created = buy(&client, "unconfirmed-1", "Tux", 2).await.unwrap();
    let held = catalog.held(0).await.unwrap();
    assert_eq!(
        held.iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        ["unconfirmed-1"]
    );
    refuse.store(false, Ordering::SeqCst);
    let tux = wait_until_async("the reconciler to confirm the reservation", SETTLE, || {
        let catalog = catalog.clone();
        async move {
            if !catalog.held(0).await.ok()?.is_empty() {
                return None;
            }
            let ledger = catalog.ledger().await.ok()?;
            ledger.into_iter().find(|row| row.name == "Tux")
        }
    })
    .await
    .unwrap();
    // Confirmed, not released: the stock stays sold and the order stands.
    assert_eq!((tux.confirmed, tux.held, tux.quantity), (2, 0, 98));
    assert_eq!(
        buy(&client, "unconfirmed-1", "Tux", 2)
            .await
            .unwrap()
            .order_number,
        created.order_number
    );
    assert_eq!(
        cluster.node_client(leader).digest().await.unwrap().orders,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_old_leader_serves_no_stale_read_after_it_resumes() {
    let mut cluster = start(3, &[]);
    let old = leader_of(&mut cluster).await;
    buy(&cluster.node_client(old), "p-0", "Bird", 1)
        .await
        .unwrap();
    cluster.pause(Member::Node(old)).unwrap();
    let others: Vec<u64> = cluster
        .node_ids()
        .into_iter()
        .filter(|id| *id != old)
        .collect();
    let new_leader = wait_until_async("a new leader while the old one is paused", SETTLE, || {
        let clients: Vec<_> = others
            .iter()
            .map(|id| (*id, cluster.node_client(*id)))
            .collect();
        async move {
            for (id, client) in clients {
                let status = client.status().await.ok()?;
                if status.state == toystore_api::node::Role::Leader && status.leader_id == Some(id)
                {
                    return Some(id);
                }
            }
            None
        }
    })
    .await
    .unwrap();
    let created = buy(&cluster.node_client(new_leader), "p-1", "Bird", 1)
        .await
        .unwrap();
    assert_eq!(created.order_number, 1);
    cluster.resume(Member::Node(old)).unwrap();
    // Right after resuming, the old leader may still believe it leads: it must not answer
    // a linearizable read from its stale state, nor take a buy.
    let old_client = cluster.node_client(old);
    match old_client.order(1, ReadConsistency::Linearizable).await {
        Ok(order) => assert_eq!(order.request_id, "p-1"),
        Err(err) => assert!(matches!(status_of(&err), 421 | 503), "{err}"),
    }
    match buy(&old_client, "p-2", "Bird", 1).await {
        Ok(created) => panic!("a deposed leader took a buy: {created:?}"),
        Err(err) => assert!(matches!(status_of(&err), 421 | 503), "{err}"),
    }
    leader_of(&mut cluster).await;
    assert_eq!(converged(&mut cluster).await.orders, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_needs_a_leader_and_sigterm_exits_cleanly() {
    let mut cluster = start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let survivor = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    let client = cluster.node_client(survivor);
    client.health().await.unwrap();
    let body: serde_json::Value =
        reqwest::get(format!("http://{}/health", cluster.node_addr(survivor)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(body["status"], "ok", "the contract's bare body: {body}");

    // Query strings are checked like bodies: a JSON 400, not a crash.
    let http = reqwest::Client::new();
    for query in ["after=abc", "limit=-1", "limit=1001"] {
        let url = format!("http://{}/orders?{query}", cluster.node_addr(survivor));
        let response = http.get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], 400, "{query}");
    }

    // SIGTERM: a clean exit well within the contract's 5 s.
    for id in cluster.node_ids().into_iter().filter(|id| *id != survivor) {
        let code = cluster
            .process(Member::Node(id))
            .unwrap()
            .terminate(std::time::Duration::from_secs(5));
        assert_eq!(code, Some(0), "node {id} did not exit cleanly");
    }
    wait_until_async("the lone node to report no leader", SETTLE, || {
        let client = client.clone();
        async move {
            match client.health().await {
                Err(err) if status_of(&err) == 503 => Some(()),
                _ => None,
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buy_is_confirmed_in_the_background_and_its_stages_are_timed() {
    let mut cluster = start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    for i in 0..3 {
        buy(&client, &format!("staged-{i}"), "Whale", 1)
            .await
            .unwrap();
    }
    // The answer does not wait for the confirm; the catalog sees it soon after.
    let catalog = cluster.catalog_client();
    let whale = wait_until_async("the confirms to reach the catalog", SETTLE, || {
        let catalog = catalog.clone();
        async move {
            let ledger = catalog.ledger().await.ok()?;
            let row = ledger.into_iter().find(|row| row.name == "Whale")?;
            (row.confirmed == 3).then_some(row)
        }
    })
    .await
    .unwrap();
    assert_eq!((whale.held, whale.quantity), (0, 97));
    let metrics = reqwest::get(format!("{}/metrics", client.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for stage in ["lookup", "reserve", "commit"] {
        let line = format!("raft_node_buy_stage_seconds_count{{stage=\"{stage}\"}} 3");
        assert!(metrics.contains(&line), "no `{line}` in:\n{metrics}");
    }
}
