//! The batch routes: every item taken or refused as its single call would be, one outcome
//! per item in order, nothing of a refused item changed, and the ledger balanced after.

mod common;

use common::Catalog;
use serde_json::{json, Value};

fn outcome_codes(body: &Value) -> Vec<u64> {
    body["data"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["error"]["code"].as_u64().unwrap_or(200))
        .collect()
}

#[tokio::test]
async fn a_batch_reserves_and_refuses_item_by_item() {
    let catalog = Catalog::start(&["--initial-stock", "10"]);
    let batch = json!({"items": [
        {"request_id": "b-1", "name": "Tux", "quantity": 4},
        {"request_id": "b-2", "name": "Tux", "quantity": 5},
        {"request_id": "b-3", "name": "Tux", "quantity": 2},   // 1 left: out of stock
        {"request_id": "b-4", "name": "Nope", "quantity": 1},  // no such product
        {"request_id": "", "name": "Tux", "quantity": 1},      // invalid key
        {"request_id": "b-1", "name": "Tux", "quantity": 4},   // a repeat takes nothing
        {"request_id": "b-1", "name": "Clue", "quantity": 4},  // the key with another body
        {"request_id": "b-6", "name": "Clue", "quantity": 0},  // invalid quantity
    ]});
    let (status, body) = catalog
        .post("/batch/reservations", &batch.to_string())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        outcome_codes(&body),
        vec![200, 200, 409, 404, 400, 200, 422, 400],
        "{body}"
    );
    let results = &body["data"]["results"];
    assert_eq!(results[0]["data"]["state"], "held");
    assert_eq!(results[0]["data"]["price"], 25.99);
    assert_eq!(results[2]["error"]["message"], "out of stock");
    assert_eq!(results[5]["data"]["request_id"], "b-1");

    let (_, tux) = catalog.get("/products/Tux").await;
    assert_eq!(tux["data"]["quantity"], 1, "4 + 5 taken, nothing else");
    let (_, clue) = catalog.get("/products/Clue").await;
    assert_eq!(clue["data"]["quantity"], 10, "refused items took nothing");

    let confirms = json!({"items": [
        {"request_id": "b-1", "order_number": 0},
        {"request_id": "b-2", "order_number": 1},
        {"request_id": "b-1", "order_number": 0},   // a repeat is harmless
        {"request_id": "b-2", "order_number": 9},   // confirmed for another order
        {"request_id": "b-3", "order_number": 2},   // never reserved
    ]});
    let (status, body) = catalog
        .post("/batch/confirmations", &confirms.to_string())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        outcome_codes(&body),
        vec![200, 200, 200, 409, 404],
        "{body}"
    );
    assert_eq!(body["data"]["results"][1]["data"]["state"], "confirmed");
    assert_eq!(body["data"]["results"][1]["data"]["order_number"], 1);

    let (_, ledger) = catalog.get("/ledger").await;
    let tux = ledger["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "Tux")
        .unwrap()
        .clone();
    assert_eq!(
        tux,
        json!({"name": "Tux", "quantity": 1, "restocked": 0, "held": 0, "confirmed": 9, "initial": 10})
    );
}

#[tokio::test]
async fn a_batch_that_is_empty_too_long_or_malformed_is_refused_whole() {
    let catalog = Catalog::start(&[]);
    let (status, body) = catalog
        .post("/batch/reservations", r#"{"items": []}"#)
        .await;
    assert_eq!(status, 400, "{body}");
    let items: Vec<Value> = (0..1025)
        .map(|i| json!({"request_id": format!("x-{i}"), "name": "Tux", "quantity": 1}))
        .collect();
    let (status, body) = catalog
        .post(
            "/batch/reservations",
            &json!({ "items": items }).to_string(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = catalog.post("/batch/confirmations", "{").await;
    assert_eq!(status, 400);
    let (status, _) = catalog
        .post(
            "/batch/confirmations",
            r#"{"items": [{"request_id": "a"}]}"#,
        )
        .await;
    assert_eq!(status, 400);
    let (_, tux) = catalog.get("/products/Tux").await;
    assert_eq!(tux["data"]["quantity"], 100, "nothing taken");
}
