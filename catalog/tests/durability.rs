//! What a reservation answered 200 survives: a graceful stop and a SIGKILL.

mod common;

use std::time::Duration;

use common::Catalog;

#[tokio::test]
async fn answered_reservations_survive_sigterm_and_sigkill() {
    let mut catalog = Catalog::start(&[]);
    let (status, _) = catalog
        .post(
            "/reservations",
            r#"{"request_id": "d1", "name": "Risk", "quantity": 4}"#,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        catalog
            .process()
            .terminate(Duration::from_secs(5))
            .is_some(),
        "exits on SIGTERM"
    );
    catalog.process().restart().unwrap();
    let (_, risk) = catalog.get("/products/Risk").await;
    assert_eq!(risk["data"]["quantity"], 96);

    let (status, _) = catalog
        .post(
            "/reservations",
            r#"{"request_id": "d2", "name": "Risk", "quantity": 5}"#,
        )
        .await;
    assert_eq!(status, 200);
    catalog.process().kill(); // SIGKILL straight after the answer
    catalog.process().restart().unwrap();
    let (_, risk) = catalog.get("/products/Risk").await;
    assert_eq!(risk["data"]["quantity"], 91);
    let (status, body) = catalog.get("/reservations?state=held").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 2, "{body}");
}
