//! The `/events` stream and the restock loop, against the real binary.

mod common;

use std::time::Duration;

use common::Catalog;
use futures::StreamExt;
use toystore_api::catalog::{CatalogClient, CatalogEvent};

async fn next_event(
    stream: &mut (impl futures::Stream<Item = Result<CatalogEvent, toystore_api::CallError>> + Unpin),
) -> CatalogEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("well-formed event")
}

#[tokio::test]
async fn a_reservation_and_a_price_change_are_pushed_to_subscribers() {
    let catalog = Catalog::start(&[]);
    let client = CatalogClient::with_timeout(&catalog.addr(), Duration::from_secs(5));
    let mut events = Box::pin(client.events(Duration::from_secs(10)).await.unwrap());
    let CatalogEvent::Hello(hello) = next_event(&mut events).await else {
        panic!("the first event must be hello");
    };
    assert!(!hello.epoch.is_empty());

    let (status, _) = catalog
        .post(
            "/reservations",
            r#"{"request_id": "e1", "name": "Bird", "quantity": 2}"#,
        )
        .await;
    assert_eq!(status, 200);
    let CatalogEvent::Invalidate(change) = next_event(&mut events).await else {
        panic!("expected invalidate");
    };
    assert_eq!((change.name.as_str(), change.quantity), ("Bird", 98));

    client.set_price("Bird", 41.5).await.unwrap();
    let CatalogEvent::Invalidate(price) = next_event(&mut events).await else {
        panic!("expected invalidate");
    };
    assert_eq!(price.price, 41.5);
    assert!(price.version > change.version, "versions grow per product");
}

#[tokio::test]
async fn sold_out_toys_are_restocked_and_announced() {
    let catalog = Catalog::start(&[
        "--initial-stock",
        "2",
        "--restock-interval",
        "200ms",
        "--restock-to",
        "5",
    ]);
    let client = CatalogClient::with_timeout(&catalog.addr(), Duration::from_secs(5));
    let mut events = Box::pin(client.events(Duration::from_secs(10)).await.unwrap());
    next_event(&mut events).await; // hello
    let (status, _) = catalog
        .post(
            "/reservations",
            r#"{"request_id": "all", "name": "Sand", "quantity": 2}"#,
        )
        .await;
    assert_eq!(status, 200);
    // The sale, then the restock, arrive in order.
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|c: &toystore_api::catalog::Invalidate| c.quantity == 5)
    {
        if let CatalogEvent::Invalidate(change) = next_event(&mut events).await {
            assert_eq!(change.name, "Sand");
            seen.push(change);
        }
    }
    assert_eq!(seen[0].quantity, 0);
    let ledger = client.ledger().await.unwrap();
    let sand = ledger.iter().find(|row| row.name == "Sand").unwrap();
    assert_eq!((sand.restocked, sand.quantity, sand.held), (5, 5, 2));
    assert!(ledger.iter().all(|row| row.balances()));
}
