//! `GET /openapi.json`: the document names every public route with the right method, each
//! route it names is really mounted, every example in it is valid under its own schema
//! (checked with a JSON Schema 2020-12 validator, the dialect of OpenAPI 3.1), and it is a
//! well-formed OpenAPI 3 document whose references all resolve.

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{app, send};

/// Every public route of the contract, as (method, OpenAPI path).
const PUBLIC_ROUTES: [(&str, &str); 11] = [
    ("get", "/products"),
    ("get", "/products/{name}"),
    ("post", "/orders"),
    ("get", "/orders/{number}"),
    ("get", "/cluster"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/"),
    ("get", "/dashboard"),
    ("get", "/events"),
];

async fn served_document() -> Value {
    let (status, headers, body) = send(app(), "GET", "/openapi.json", &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    serde_json::from_slice(&body).expect("the document is JSON")
}

#[tokio::test]
async fn every_public_route_is_in_the_document() {
    let doc = served_document().await;
    for (method, path) in PUBLIC_ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the document"
        );
    }
    let buy_params = doc["paths"]["/orders"]["post"]["parameters"]
        .as_array()
        .expect("POST /orders has parameters");
    let key = buy_params
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("the Idempotency-Key header is documented");
    assert_eq!(key["in"], "header");
    assert_eq!(key["required"], false);
    assert_eq!(key["schema"]["pattern"], "^[A-Za-z0-9_-]{1,64}$");
    assert!(
        doc["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"].is_object()
    );
    let ops: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        ops,
        PUBLIC_ROUTES.len(),
        "the document has an operation the test does not know"
    );
}

#[tokio::test]
async fn every_documented_route_is_mounted() {
    let doc = served_document().await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = path.replace("{name}", "Tux").replace("{number}", "0");
        for method in item.as_object().unwrap().keys() {
            let body = if method == "post" {
                br#"{"name":"Tux","quantity":0}"#.to_vec()
            } else {
                Vec::new()
            };
            let (status, _, body) = send(app(), &method.to_uppercase(), &uri, &[], body).await;
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains("no such route") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}: {status} {text}"
            );
        }
    }
}

/// A schema that can resolve `#/components/...` references: the document's components
/// sit beside the schema's own keywords at the root.
fn rooted(schema: &Value, doc: &Value) -> Value {
    let mut root = schema.as_object().cloned().unwrap_or_default();
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), doc["components"].clone());
    Value::Object(root)
}

/// Every (where, schema, example) of the document: component schemas, media types and
/// parameters.
fn examples(doc: &Value) -> Vec<(String, Value, Value)> {
    let mut found = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            found.push((format!("schema {name}"), schema.clone(), example.clone()));
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let here = format!("{method} {path}");
            for param in op["parameters"].as_array().into_iter().flatten() {
                if let Some(example) = param.get("example") {
                    let at = format!("{here} parameter {}", param["name"]);
                    found.push((at, param["schema"].clone(), example.clone()));
                }
            }
            let mut media = vec![(format!("{here} request"), &op["requestBody"]["content"])];
            for (status, response) in op["responses"].as_object().unwrap() {
                media.push((format!("{here} {status}"), &response["content"]));
            }
            for (at, content) in media {
                for (kind, media) in content.as_object().into_iter().flatten() {
                    if let Some(example) = media.get("example") {
                        found.push((
                            format!("{at} {kind}"),
                            media["schema"].clone(),
                            example.clone(),
                        ));
                    }
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn every_example_validates_against_its_schema() {
    let doc = served_document().await;
    let found = examples(&doc);
    // 6 request/response examples per route at least in total, plus the schemas' own.
    assert!(found.len() >= 25, "only {} examples found", found.len());
    for (at, schema, example) in &found {
        let validator = jsonschema::draft202012::new(&rooted(schema, &doc))
            .unwrap_or_else(|e| panic!("{at}: schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(example)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{at}: example {example} is invalid: {errors:?}"
        );
    }
    let documented: Vec<&str> = found.iter().map(|(at, _, _)| at.as_str()).collect();
    for wanted in [
        "post /orders request application/json",
        "post /orders 409 application/json",
        "get /cluster 200 application/json",
        "schema Product",
    ] {
        assert!(
            documented.contains(&wanted),
            "no example at {wanted}: {documented:?}"
        );
    }
}

#[tokio::test]
async fn the_validator_rejects_what_the_schemas_forbid() {
    // Without this, a validator that resolved no reference would pass every example.
    let doc = served_document().await;
    let buy =
        &doc["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let validator = jsonschema::draft202012::new(&rooted(buy, &doc)).unwrap();
    assert!(validator.is_valid(&json!({"name": "Tux", "quantity": 1})));
    for bad in [
        json!({"name": "Tux", "quantity": 0}),
        json!({"name": "Tux", "quantity": 1_000_001}),
        json!({"name": "", "quantity": 1}),
        json!({"name": "Tux"}),
        json!({"name": "Tux", "quantity": "1"}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad} passed");
    }
    let cluster = &doc["paths"]["/cluster"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    let validator = jsonschema::draft202012::new(&rooted(cluster, &doc)).unwrap();
    let odd_role = json!({"data": {"leader": 1, "term": 1, "nodes": [
        {"id": 1, "addr": "a:1", "state": "boss", "reachable": true, "last_applied": 1}]}});
    assert!(!validator.is_valid(&odd_role));
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_well_formed_openapi_3() {
    let doc = served_document().await;
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "openapi {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(!doc["paths"].as_object().unwrap().is_empty());
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("component schemas");
    for name in [
        "Product",
        "BuyRequest",
        "OrderCreated",
        "OrderView",
        "ClusterView",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("reference outside the components: {target}"));
        assert!(schemas.contains_key(name), "dangling reference {target}");
    }
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().expect("an operationId"))
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "operationIds repeat");
    // What the gateway serves is the document the crate builds, byte for byte in meaning.
    assert_eq!(
        doc,
        serde_json::to_value(gateway::openapi::document()).unwrap()
    );
}
