//! Who may talk to a node: guarded routes refuse wrong credentials and change nothing; a
//! node with the wrong cluster secret cannot vote itself in or move the others' term; a
//! node removed from the voters stops campaigning instead of inflating the term.

mod common;

use std::time::Duration;

use common::{leader_of, Cluster, ClusterOptions, SETTLE};
use testkit::access::{refusals, Guard, Probe};
use testkit::secure::write_private;
use testkit::{free_port, wait_until_async, ProcessSpec, SecurityMode, ServiceProcess};
use toystore_api::node::NodeClient;
use toystore_api::{Secret, Transport};

fn probe(method: &'static str, path: &'static str, body: &'static str, guard: Guard) -> Probe {
    Probe {
        method,
        path,
        body,
        guard,
    }
}

fn secured(n: u64) -> Cluster {
    Cluster::start(ClusterOptions {
        security: SecurityMode::Tokens,
        ..common::options(n, &[])
    })
    .expect("cluster starts")
}

#[tokio::test]
async fn guarded_routes_refuse_wrong_credentials_and_change_nothing() {
    let mut cluster = secured(3);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    let before = client.status().await.expect("the admin reads the status");
    let secrets = cluster.options().secrets(cluster.dir()).unwrap();
    let probes = [
        probe("POST", "/raft/append", "not bincode", Guard::Member),
        probe("POST", "/raft/vote", "not bincode", Guard::Member),
        probe("POST", "/raft/snapshot", "not bincode", Guard::Member),
        probe(
            "POST",
            "/orders",
            r#"{"request_id":"auth-1","name":"Tux","quantity":1}"#,
            Guard::Member,
        ),
        probe("GET", "/orders?after=0", "", Guard::Member),
        probe("GET", "/orders/0", "", Guard::Member),
        probe("GET", "/cluster/status", "", Guard::Member),
        probe("GET", "/cluster/digest", "", Guard::Member),
        probe(
            "POST",
            "/cluster/learners",
            r#"{"id":9,"addr":"127.0.0.1:9"}"#,
            Guard::Admin,
        ),
        probe(
            "POST",
            "/cluster/membership",
            r#"{"voters":[1]}"#,
            Guard::Admin,
        ),
        probe("POST", "/cluster/snapshot", "", Guard::Admin),
        probe("DELETE", "/cluster/learners/9", "", Guard::Admin),
    ];
    let base = format!("http://{}", cluster.node_addr(leader));
    let failures = refusals(&base, &secrets, &probes).await.unwrap();
    assert!(failures.is_empty(), "{failures:#?}");

    let after = client.status().await.unwrap();
    assert_eq!(after.term, before.term, "the term moved");
    assert_eq!(after.voters, before.voters);
    assert!(after.learners.is_empty());
    assert_eq!(after.snapshot_index, before.snapshot_index);
    assert_eq!(
        client.digest().await.unwrap().orders,
        0,
        "an order was made"
    );
    // The admin token is let in.
    client.snapshot().await.expect("the admin may snapshot");
}

#[tokio::test]
async fn a_node_with_the_wrong_secret_cannot_vote_itself_in_or_move_the_term() {
    let mut cluster = secured(3);
    let leader = leader_of(&mut cluster).await;
    let term = cluster.node_client(leader).status().await.unwrap().term;

    // Node 4 bootstraps its own idea of the cluster (1..4) and campaigns for it with a
    // secret the others do not know.
    let wrong = cluster.dir().join("wrong.token");
    write_private(&wrong, b"not-the-cluster-secret-0123456789").unwrap();
    let listen = format!("127.0.0.1:{}", free_port().unwrap());
    let peers = format!("{},4={listen}", cluster.node_ports().direct_peers());
    let spec = ProcessSpec::new(
        "node-4-wrong",
        testkit::workspace_binary("raft-node").unwrap(),
        &cluster.log_dir(),
    )
    .args([
        "--id".to_string(),
        "4".to_string(),
        "--data-dir".to_string(),
        cluster.dir().join("node-4").display().to_string(),
        "--peers".to_string(),
        peers,
        "--catalog".to_string(),
        cluster.catalog_addr(),
        "--bootstrap".to_string(),
        "--cluster-token-file".to_string(),
        wrong.display().to_string(),
    ])
    .listen(listen.clone());
    let _intruder = ServiceProcess::start(spec).expect("node 4 starts");
    let intruder = NodeClient::new(
        &listen,
        Transport::with_token(Some(
            Secret::new("not-the-cluster-secret-0123456789").unwrap(),
        ))
        .http(|b| b.timeout(Duration::from_secs(2)))
        .unwrap(),
    );
    // It campaigns again and again, each time refused.
    wait_until_async(
        "node 4 to campaign past the cluster's term",
        SETTLE,
        || async {
            let status = intruder.status().await.ok()?;
            (status.term >= term + 3).then_some(())
        },
    )
    .await
    .expect("node 4 campaigns");

    let status = cluster.node_client(leader).status().await.unwrap();
    assert_eq!(status.term, term, "the intruder moved the term");
    assert_eq!(status.leader_id, Some(leader));
    assert_eq!(status.voters, vec![1, 2, 3]);
}

#[tokio::test]
async fn a_removed_node_stops_campaigning_and_barely_moves_the_term() {
    let mut cluster = common::start(3, &[]);
    let leader = leader_of(&mut cluster).await;
    let client = cluster.node_client(leader);
    let term = client.status().await.unwrap().term;
    client
        .change_membership(vec![leader])
        .await
        .expect("shrink to the leader alone");
    let removed: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != leader).collect();

    // A removed node that missed its removal campaigns once, is refused as a non-voter by
    // the leader and pauses its elections (one that learned of it never campaigns). Its one
    // campaign may still cost the leader one election, never a run of them.
    let logs = |ids: &[u64]| -> String {
        ids.iter()
            .map(|id| {
                std::fs::read_to_string(cluster.log_dir().join(format!("node-{id}.log")))
                    .unwrap_or_default()
            })
            .collect()
    };
    let paused = wait_until_async(
        "a removed node to pause its elections",
        Duration::from_secs(10),
        || async { logs(&removed).contains("elections paused").then_some(()) },
    )
    .await
    .is_ok();
    let after_removal = testkit::observe::agreed_leader(
        &[(leader, cluster.node_addr(leader))],
        &cluster.transport(),
        SETTLE,
    )
    .await
    .expect("the remaining voter leads");
    assert_eq!(after_removal, leader);
    let status = client.status().await.unwrap();
    assert!(
        status.term <= term + 2,
        "removed nodes drove the term from {term} to {} (paused: {paused})",
        status.term
    );

    // Added back, they follow the leader. A rejoining node whose term is ahead may cost
    // one election, so the operator (this loop) retries through it.
    wait_until_async("nodes 1-3 voters again", SETTLE, || async {
        let leader = cluster.leader().await?;
        let client = cluster.node_client(leader);
        for id in &removed {
            let status = client.status().await.ok()?;
            if !status.learners.contains(id) && !status.voters.contains(id) {
                client
                    .add_learner(*id, &cluster.node_addr(*id))
                    .await
                    .ok()?;
            }
        }
        client.change_membership(vec![1, 2, 3]).await.ok()
    })
    .await
    .expect("voters again");
    let new_leader = leader_of(&mut cluster).await;
    let final_term = cluster.node_client(new_leader).status().await.unwrap().term;
    assert!(
        final_term <= term + 4,
        "the term went from {term} to {final_term}"
    );
    common::converged(&mut cluster).await;
}
