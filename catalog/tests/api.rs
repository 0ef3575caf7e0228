//! The catalog binary against the contract: seeded data and every 4xx of section 4.

mod common;

use std::time::Duration;

use common::Catalog;
use serde_json::json;
use toystore_api::catalog::{CatalogClient, ReservationState};

#[tokio::test]
async fn a_fresh_store_holds_the_ten_seeded_toys() {
    let catalog = Catalog::start(&[]);
    let (status, body) = catalog.get("/products").await;
    assert_eq!(status, 200);
    let products = body["data"].as_array().unwrap();
    assert_eq!(products.len(), 10);
    let names: Vec<&str> = products
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    assert!(products.iter().all(|p| p["quantity"] == 100));
    let (status, body) = catalog.get("/products/Tux").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"],
        json!({"name": "Tux", "price": 25.99, "quantity": 100})
    );
    let (status, body) = catalog.get("/health").await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn initial_stock_flag_sets_the_seeded_quantity() {
    let catalog = Catalog::start(&["--initial-stock", "7"]);
    let (_, body) = catalog.get("/products/Clue").await;
    assert_eq!(body["data"]["quantity"], 7);
}

#[tokio::test]
async fn reservation_life_cycle_keeps_the_ledger_balanced() {
    let catalog = Catalog::start(&[]);
    let reserve = r#"{"request_id": "r-1", "name": "Whale", "quantity": 3}"#;
    let (status, body) = catalog.post("/reservations", reserve).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["state"], "held");
    assert_eq!(body["data"]["price"], 34.99);
    // A repeat takes nothing.
    let (status, _) = catalog.post("/reservations", reserve).await;
    assert_eq!(status, 200);
    let (_, body) = catalog.get("/products/Whale").await;
    assert_eq!(body["data"]["quantity"], 97);
    let (_, held) = catalog
        .get("/reservations?state=held&older_than_ms=0")
        .await;
    assert_eq!(held["data"].as_array().unwrap().len(), 1);

    let (status, body) = catalog
        .post("/reservations/r-1/confirm", r#"{"order_number": 0}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["state"], "confirmed");
    let (status, _) = catalog
        .post("/reservations/r-1/confirm", r#"{"order_number": 0}"#)
        .await;
    assert_eq!(status, 200, "confirm is idempotent");
    let (status, body) = catalog.post("/reservations/r-1/release", "").await;
    assert_eq!(
        status, 409,
        "a confirmed reservation cannot be released: {body}"
    );

    let (_, ledger) = catalog.get("/ledger").await;
    let whale = ledger["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "Whale")
        .unwrap()
        .clone();
    assert_eq!(
        whale,
        json!({"name": "Whale", "quantity": 97, "restocked": 0, "held": 0, "confirmed": 3, "initial": 100})
    );
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one table row per case of the contract
async fn every_bad_request_gets_its_4xx_and_changes_nothing() {
    let catalog = Catalog::start(&[]);
    let cases: Vec<(&str, &str, String, u16)> = vec![
        ("POST", "/reservations", "{not json".into(), 400),
        ("POST", "/reservations", "".into(), 400),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Tux"}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Tux", "quantity": "1"}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Tux", "quantity": 0}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Tux", "quantity": -1}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Tux", "quantity": 1.5}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Tux", "quantity": 1000001}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a b", "name": "Tux", "quantity": 1}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "", "quantity": 1}"#.into(),
            400,
        ),
        (
            "POST",
            "/reservations",
            format!(
                r#"{{"request_id": "a", "name": "{}", "quantity": 1}}"#,
                "x".repeat(65)
            ),
            400,
        ),
        (
            "POST",
            "/reservations",
            format!(
                r#"{{"request_id": "a", "name": "Tux", "quantity": 1, "pad": "{}"}}"#,
                "x".repeat(20_000)
            ),
            413,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Dragon", "quantity": 1}"#.into(),
            404,
        ),
        (
            "POST",
            "/reservations",
            r#"{"request_id": "a", "name": "Tux", "quantity": 101}"#.into(),
            409,
        ),
        ("PUT", "/products/Tux/price", r#"{"price": -1}"#.into(), 400),
        ("PUT", "/products/Tux/price", r#"{"price": 0}"#.into(), 400),
        (
            "PUT",
            "/products/Tux/price",
            r#"{"price": "cheap"}"#.into(),
            400,
        ),
        (
            "PUT",
            "/products/Dragon/price",
            r#"{"price": 1.5}"#.into(),
            404,
        ),
        (
            "POST",
            "/reservations/nope/confirm",
            r#"{"order_number": 1}"#.into(),
            404,
        ),
        (
            "POST",
            "/reservations/nope/confirm",
            r#"{"order_number": -1}"#.into(),
            400,
        ),
        ("POST", "/reservations/nope/release", "".into(), 404),
        ("GET", "/reservations?older_than_ms=soon", "".into(), 400),
        ("GET", "/products/Dragon", "".into(), 404),
        ("GET", "/no/such/route", "".into(), 404),
        ("DELETE", "/products", "".into(), 405),
        ("GET", "/reservations/x/confirm", "".into(), 405),
    ];
    for (method, path, body, want) in cases {
        let request = catalog
            .http
            .request(method.parse().unwrap(), catalog.url(path))
            .body(body.clone());
        let (status, answer) = catalog.call(request).await;
        assert_eq!(status, want, "{method} {path} {body:.80}: {answer}");
        assert_eq!(answer["error"]["code"], want, "code in the body: {answer}");
        assert!(answer["error"]["message"].is_string());
    }
    // Nothing was taken or changed by any of them.
    let (_, ledger) = catalog.get("/ledger").await;
    for row in ledger["data"].as_array().unwrap() {
        assert_eq!(row["quantity"], 100, "{row}");
        assert_eq!(row["held"], 0, "{row}");
    }
    let (_, tux) = catalog.get("/products/Tux").await;
    assert_eq!(tux["data"]["price"], 25.99);
}

#[tokio::test]
async fn a_reused_request_id_with_another_body_is_422() {
    let catalog = Catalog::start(&[]);
    let (status, _) = catalog
        .post(
            "/reservations",
            r#"{"request_id": "k", "name": "Uno", "quantity": 1}"#,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = catalog
        .post(
            "/reservations",
            r#"{"request_id": "k", "name": "Uno", "quantity": 2}"#,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, uno) = catalog.get("/products/Uno").await;
    assert_eq!(uno["data"]["quantity"], 99);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let catalog = Catalog::start(&[]);
    catalog.get("/products").await;
    let text = catalog
        .http
        .get(catalog.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("catalog_http_requests_total"), "{text}");
    assert!(text.contains("catalog_event_subscribers"), "{text}");
}

#[tokio::test]
async fn group_flushes_are_counted_with_the_changes_they_carry() {
    let catalog = Catalog::start(&[]);
    for i in 0..3 {
        let body = format!(r#"{{"request_id": "flush-{i}", "name": "Uno", "quantity": 1}}"#);
        assert_eq!(catalog.post("/reservations", &body).await.0, 200);
    }
    let text = catalog
        .http
        .get(catalog.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    // One after another, each reservation waits for a flush of its own.
    assert_eq!(value("catalog_flush_changes_sum"), 3.0);
    assert!(value("catalog_flush_seconds_count") >= 3.0);
}

#[tokio::test]
async fn reservations_without_a_filter_lists_every_state() {
    let catalog = Catalog::start(&[]);
    for id in ["all-held", "all-confirmed", "all-released"] {
        let body = format!(r#"{{"request_id": "{id}", "name": "Risk", "quantity": 2}}"#);
        assert_eq!(catalog.post("/reservations", &body).await.0, 200);
    }
    let confirm = r#"{"order_number": 4}"#;
    assert_eq!(
        catalog
            .post("/reservations/all-confirmed/confirm", confirm)
            .await
            .0,
        200
    );
    assert_eq!(
        catalog
            .post("/reservations/all-released/release", "")
            .await
            .0,
        200
    );
    let client = CatalogClient::with_timeout(&catalog.addr(), Duration::from_secs(5));
    let mut listed: Vec<_> = client
        .reservations()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.request_id, r.state, r.order_number))
        .collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        listed,
        vec![
            (
                "all-confirmed".to_string(),
                ReservationState::Confirmed,
                Some(4)
            ),
            ("all-held".to_string(), ReservationState::Held, None),
            ("all-released".to_string(), ReservationState::Released, None),
        ]
    );
    // The reconciler's filter still sees the held one only.
    let held = client.held(0).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].request_id, "all-held");
}
