//! The gateway follows the Raft membership without a restart: started with `--nodes` 1 to 3
//! only (and the cluster secret, so its `/cluster/status` polls are authenticated), it
//! lists node 4 in `GET /cluster` once node 4 has joined, and once the voters are node 4
//! alone it drops nodes 1 to 3 and routes buys to node 4, even with 1 to 3 dead.

use std::time::Duration;

use testkit::{wait_until_async, Cluster, ClusterOptions, Member, SecurityMode};
use toystore_api::gateway::{ClusterView, GatewayClient};
use toystore_api::node::Role;

const DEADLINE: Duration = Duration::from_secs(30);

fn listed(view: &ClusterView) -> Vec<u64> {
    view.nodes.iter().map(|node| node.id).collect()
}

/// Polls the gateway's `GET /cluster` until `wanted` holds; returns that view.
async fn view_until(
    gateway: &GatewayClient,
    what: &str,
    wanted: impl Fn(&ClusterView) -> bool,
) -> ClusterView {
    wait_until_async(what, DEADLINE, || async {
        let view = gateway.cluster().await.ok()?;
        wanted(&view).then_some(view)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_learns_an_added_node_and_drops_removed_ones() {
    let mut cluster = Cluster::start(ClusterOptions {
        security: SecurityMode::Tokens,
        gateway_deadline: Some("20s".into()),
        ..Default::default()
    })
    .expect("cluster starts");
    let gateway = GatewayClient::new(&cluster.gateway_addr(), cluster.http(DEADLINE));
    wait_until_async("the gateway to be healthy", DEADLINE, || async {
        gateway.health().await.ok()
    })
    .await
    .unwrap();
    assert_eq!(
        gateway
            .buy("Tux", 1, Some("m-0"))
            .await
            .unwrap()
            .order_number,
        0
    );
    let view = gateway.cluster().await.unwrap();
    assert_eq!(listed(&view), vec![1, 2, 3]);
    let leader = view.leader.expect("a leader");

    // Node 4 joins as a learner, then as a voter; the gateway is not told.
    let addr = cluster.add_node(4).unwrap();
    let admin = cluster.node_client(leader);
    admin.add_learner(4, &addr).await.unwrap();
    admin.change_membership(vec![1, 2, 3, 4]).await.unwrap();
    let view = view_until(&gateway, "node 4 listed, reachable", |view| {
        view.nodes.iter().any(|node| node.id == 4 && node.reachable)
    })
    .await;
    assert_eq!(listed(&view), vec![1, 2, 3, 4]);
    let four = view.nodes.iter().find(|node| node.id == 4).unwrap();
    assert_eq!(four.addr, addr);

    // Node 4 becomes the only voter, so it leads; 1 to 3 leave the membership.
    admin.change_membership(vec![4]).await.unwrap();
    let node4 = cluster.node_client(4);
    wait_until_async("node 4 to lead", DEADLINE, || async {
        let status = node4.status().await.ok()?;
        (status.state == Role::Leader).then_some(())
    })
    .await
    .unwrap();
    let view = view_until(&gateway, "only node 4 listed", |view| {
        listed(view) == vec![4]
    })
    .await;
    assert_eq!(view.leader, Some(4));

    // Every node the gateway was started with is gone; buys still go through, to node 4.
    for id in 1..=3 {
        cluster.kill(Member::Node(id)).unwrap();
    }
    assert_eq!(
        gateway
            .buy("Tux", 1, Some("m-1"))
            .await
            .unwrap()
            .order_number,
        1
    );
    assert_eq!(
        gateway
            .buy("Tux", 1, Some("m-0"))
            .await
            .unwrap()
            .order_number,
        0,
        "a retried key still finds its order on the new leader"
    );
    assert_eq!(gateway.order(1).await.unwrap().name, "Tux");
    assert_eq!(node4.digest().await.unwrap().orders, 2);
    assert_eq!(listed(&gateway.cluster().await.unwrap()), vec![4]);
}
