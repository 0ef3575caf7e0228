//! Every 4xx of the public API, answered by the gateway itself before any backend is
//! asked (backends here are unreachable ports), and a property test that no request,
//! however odd, gets a 500 or crashes the handler.

mod common;

use axum::http::StatusCode;
use gateway::admission::Admission;
use proptest::prelude::*;

use common::{app, app_with_admission};

/// One request through `app`: its status and JSON body (`Null` when the body is none).
async fn send(
    app: axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let (status, _, bytes) = common::send(app, method, uri, headers, body).await;
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status.as_u16(), json)
}

/// method, uri, headers, body, expected status
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, String, u16);

#[tokio::test]
#[allow(clippy::too_many_lines)] // one table row per case of the contract
async fn every_client_error_of_the_contract_is_a_json_4xx() {
    let long_name = "x".repeat(65);
    let long_key = "k".repeat(65);
    let oversized = format!(
        r#"{{"name": "Tux", "quantity": 1, "pad": "{}"}}"#,
        "x".repeat(17_000)
    );
    let cases: Vec<Case> = vec![
        ("POST", "/orders".into(), vec![], "{not json".into(), 400),
        ("POST", "/orders".into(), vec![], "".into(), 400),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": "Tux"}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"quantity": 1}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": "Tux", "quantity": "1"}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": 7, "quantity": 1}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": "Tux", "quantity": 0}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": "Tux", "quantity": -2}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": "Tux", "quantity": 1.5}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": "Tux", "quantity": 1000001}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            r#"{"name": "", "quantity": 1}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![],
            format!(r#"{{"name": "{long_name}", "quantity": 1}}"#),
            400,
        ),
        ("POST", "/orders".into(), vec![], "[1, 2]".into(), 400),
        ("POST", "/orders".into(), vec![], oversized, 413),
        (
            "POST",
            "/orders".into(),
            vec![("idempotency-key", "has space")],
            r#"{"name": "Tux", "quantity": 1}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![("idempotency-key", "")],
            r#"{"name": "Tux", "quantity": 1}"#.into(),
            400,
        ),
        (
            "POST",
            "/orders".into(),
            vec![("idempotency-key", &long_key)],
            r#"{"name": "Tux", "quantity": 1}"#.into(),
            400,
        ),
        ("GET", "/orders/abc".into(), vec![], "".into(), 400),
        ("GET", "/orders/-1".into(), vec![], "".into(), 400),
        ("GET", "/orders/1.5".into(), vec![], "".into(), 400),
        (
            "GET",
            "/orders/99999999999999999999999".into(),
            vec![],
            "".into(),
            400,
        ),
        (
            "GET",
            format!("/products/{long_name}"),
            vec![],
            "".into(),
            400,
        ),
        ("GET", "/products/%FF".into(), vec![], "".into(), 400),
        ("GET", "/nothing/here".into(), vec![], "".into(), 404),
        ("DELETE", "/orders".into(), vec![], "".into(), 405),
        ("GET", "/orders".into(), vec![], "".into(), 405),
        ("PUT", "/products/Tux".into(), vec![], "".into(), 405),
    ];
    for (method, uri, headers, body, want) in cases {
        let (status, json) = send(app(), method, &uri, &headers, body.clone().into_bytes()).await;
        assert_eq!(
            status, want,
            "{method} {uri} {headers:?} {body:.60}: {json}"
        );
        assert_eq!(json["error"]["code"], want, "{json}");
        assert!(json["error"]["message"].is_string(), "{json}");
    }
}

#[tokio::test]
async fn unreachable_backends_are_503_with_retry_after() {
    let (status, json) = send(
        app(),
        "POST",
        "/orders",
        &[],
        br#"{"name": "Tux", "quantity": 1}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 503, "{json}");
    assert_eq!(json["error"]["message"], "no leader");
    let (status, _) = send(app(), "GET", "/products/Tux", &[], Vec::new()).await;
    assert_eq!(status, 503);
    let (status, _) = send(app(), "GET", "/health", &[], Vec::new()).await;
    assert_eq!(status, 503);
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,70}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("quantity".to_string()),
                    ".{0,8}".prop_map(|s| s)
                ],
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_body_or_path_gets_a_500(
        body in json_value(),
        raw in prop::collection::vec(any::<u8>(), 0..64),
        segment in "[a-zA-Z0-9%._~-]{0,80}",
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
        use_raw in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let bytes = if use_raw { raw.clone() } else { serde_json::to_vec(&body).unwrap() };
            for uri in [
                "/orders".to_string(),
                format!("/orders/{segment}"),
                format!("/products/{segment}"),
                format!("/{segment}"),
            ] {
                let (status, json) = send(app(), method, &uri, &[], bytes.clone()).await;
                prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR.as_u16(), "{method} {uri}: {json}");
                prop_assert!(status >= 400 || status == 200, "{method} {uri}: {status}");
                if status >= 400 {
                    prop_assert_eq!(&json["error"]["code"], &serde_json::Value::from(status));
                }
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_buy_over_the_cap_is_shed_at_once_with_retry_after() {
    let (app, admission) =
        app_with_admission(|m| Admission::new(1, m.pending_buys.clone(), m.buys_shed.clone()));
    // The one place is taken by a buy in progress.
    let _in_progress = admission.admit().expect("the first place");
    let (status, headers, bytes) = common::send(
        app,
        "POST",
        "/orders",
        &[("content-type", "application/json")],
        br#"{"name": "Tux", "quantity": 1}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "1");
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    // "overloaded", not the router's "no leader": the buy never reached the (dead) nodes.
    assert_eq!(json["error"]["message"], "overloaded");
}
