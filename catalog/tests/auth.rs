//! With credentials configured, the catalog refuses every guarded route without the right
//! one (401/403, JSON), changes nothing while refusing, and lets the right one in.

use testkit::access::{refusals, Guard, Probe};
use testkit::{Cluster, ClusterOptions, SecurityMode};

const PROBES: [Probe; 8] = [
    Probe {
        method: "POST",
        path: "/reservations",
        body: r#"{"request_id":"auth-1","name":"Tux","quantity":5}"#,
        guard: Guard::Member,
    },
    Probe {
        method: "POST",
        path: "/reservations/auth-1/confirm",
        body: r#"{"order_number":1}"#,
        guard: Guard::Member,
    },
    Probe {
        method: "POST",
        path: "/reservations/auth-1/release",
        body: "",
        guard: Guard::Member,
    },
    Probe {
        method: "POST",
        path: "/batch/reservations",
        body: r#"{"items":[{"request_id":"auth-2","name":"Tux","quantity":5}]}"#,
        guard: Guard::Member,
    },
    Probe {
        method: "POST",
        path: "/batch/confirmations",
        body: r#"{"items":[{"request_id":"auth-2","order_number":1}]}"#,
        guard: Guard::Member,
    },
    Probe {
        method: "GET",
        path: "/reservations?state=held",
        body: "",
        guard: Guard::Member,
    },
    Probe {
        method: "GET",
        path: "/ledger",
        body: "",
        guard: Guard::Member,
    },
    Probe {
        method: "PUT",
        path: "/products/Tux/price",
        body: r#"{"price":0.01}"#,
        guard: Guard::Admin,
    },
];

#[tokio::test]
async fn guarded_routes_refuse_wrong_credentials_and_change_nothing() {
    let cluster = Cluster::start(ClusterOptions {
        nodes: 0,
        gateway: false,
        security: SecurityMode::Tokens,
        ..Default::default()
    })
    .expect("catalog starts");
    let secrets = cluster.options().secrets(cluster.dir()).unwrap();
    let catalog = cluster.catalog_client();
    let before = catalog.ledger().await.expect("the admin reads the ledger");
    let tux = catalog.product("Tux").await.expect("public read");

    let base = format!("http://{}", cluster.catalog_addr());
    let failures = refusals(&base, &secrets, &PROBES).await.unwrap();
    assert!(failures.is_empty(), "{failures:#?}");

    assert_eq!(catalog.ledger().await.unwrap(), before, "stock moved");
    assert_eq!(catalog.product("Tux").await.unwrap().price, tux.price);
    assert!(
        catalog.held(0).await.unwrap().is_empty(),
        "a reservation was made"
    );

    // Public routes need nothing; the admin token changes a price.
    let anonymous = reqwest::Client::new();
    let products = anonymous
        .get(format!("{base}/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(products.status(), 200);
    let updated = catalog.set_price("Tux", 19.99).await.expect("admin may");
    assert_eq!(updated.price, 19.99);
}
