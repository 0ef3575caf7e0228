//! The whole cluster over TLS, with credentials and mutual certificates between services:
//! buys through the gateway's https port commit on every replica, plain HTTP is refused on
//! every port, and a client that does not trust the cluster's CA cannot connect.

use std::time::Duration;

use testkit::{wait_until_async, Cluster, ClusterOptions, SecurityMode};
use toystore_api::gateway::GatewayClient;
use toystore_api::transport::ClientTls;
use toystore_api::Transport;

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_commit_over_tls_and_plain_http_is_refused() {
    let mut cluster = Cluster::start(ClusterOptions {
        security: SecurityMode::Tls,
        ..Default::default()
    })
    .expect("TLS cluster starts");
    let secrets = cluster.options().secrets(cluster.dir()).unwrap();

    // A public client: trusts the CA, no credential, no certificate of its own.
    let public = Transport {
        token: None,
        tls: Some(ClientTls {
            ca_pem: std::fs::read(secrets.ca()).unwrap(),
            identity_pem: None,
        }),
    };
    let http = public.http(|b| b.timeout(Duration::from_secs(15))).unwrap();
    let gateway = GatewayClient::new(&cluster.gateway_addr(), http);
    assert!(gateway.base_url().starts_with("https://"));
    wait_until_async("the gateway to be healthy", DEADLINE, || async {
        gateway.health().await.ok()
    })
    .await
    .unwrap();

    let mut numbers = Vec::new();
    for i in 0..5 {
        let key = format!("tls-{i}");
        let order = gateway
            .buy("Tux", 1, Some(&key))
            .await
            .expect("buy over TLS");
        numbers.push(order.order_number);
    }
    assert_eq!(numbers, vec![0, 1, 2, 3, 4]);
    assert_eq!(gateway.order(4).await.unwrap().name, "Tux");
    let view = gateway.cluster().await.expect("cluster view over TLS");
    assert!(view.nodes.iter().all(|n| n.reachable), "{view:?}");
    let digest = cluster
        .converged(DEADLINE)
        .await
        .expect("replicas converge");
    assert_eq!(digest.orders, 5);

    // Plain HTTP reaches no service: the TLS listener drops the connection.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut addrs = vec![cluster.gateway_addr(), cluster.catalog_addr()];
    addrs.extend(cluster.node_addrs().into_iter().map(|(_, a)| a));
    for addr in &addrs {
        let answer = plain.get(format!("http://{addr}/health")).send().await;
        assert!(answer.is_err(), "plain HTTP answered on {addr}: {answer:?}");
    }

    // A client that trusts another CA cannot connect; the node, which asks for a client
    // certificate, refuses a client without one even if it trusts the CA.
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let answer = stranger
        .get(format!("https://{}/health", cluster.gateway_addr()))
        .send()
        .await;
    assert!(answer.is_err(), "an untrusted certificate was accepted");
    let (_, node_addr) = cluster.node_addrs()[0].clone();
    let no_certificate = public.builder().unwrap().build().unwrap();
    let answer = no_certificate
        .get(format!("https://{node_addr}/health"))
        .send()
        .await;
    assert!(
        answer.is_err(),
        "a node served a client without a certificate"
    );
}
