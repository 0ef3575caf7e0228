//! `docs/API.md` against the real thing: every flag and environment variable that the
//! three server binaries list in `--help`, every metric they export after a buy, and every
//! route of the gateway's OpenAPI document is named in the reference, so a flag or metric
//! added without a line in the docs fails here.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use testkit::{wait_until_async, workspace_binary, Cluster, ClusterOptions};

const DEADLINE: Duration = Duration::from_secs(30);

fn reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md");
    std::fs::read_to_string(path).expect("docs/API.md exists")
}

/// The `--flags` and `[env: NAME=]` variables of a binary's `--help`.
fn flags_and_env(binary: &str) -> BTreeSet<String> {
    let path = workspace_binary(binary).expect("binary built");
    let output = Command::new(path)
        .arg("--help")
        .output()
        .expect("--help runs");
    assert!(output.status.success(), "{binary} --help failed");
    let help = String::from_utf8(output.stdout).unwrap();
    let mut found = BTreeSet::new();
    for line in help.lines().map(str::trim) {
        if let Some(flag) = line.strip_prefix("--") {
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            found.insert(format!("--{name}"));
        }
        if let Some(rest) = line.strip_prefix("[env: ") {
            found.insert(rest.split('=').next().unwrap().to_string());
        }
    }
    found
}

#[test]
fn every_flag_and_env_var_of_every_server_is_documented() {
    let docs = reference();
    for binary in ["gateway", "catalog", "raft-node"] {
        let found = flags_and_env(binary);
        assert!(
            found.len() > 10,
            "{binary}: too few flags parsed: {found:?}"
        );
        for item in found {
            if item == "--help" || item == "--version" {
                continue;
            }
            assert!(
                docs.contains(&format!("`{item}")),
                "{binary}: {item} is not in docs/API.md"
            );
        }
    }
}

/// Metric names of a Prometheus text page.
fn metric_names(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|rest| rest.split(' ').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_exported_metric_and_public_route_is_documented() {
    let docs = reference();
    let cluster = Cluster::start(ClusterOptions {
        nodes: 1,
        ..Default::default()
    })
    .expect("cluster starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let gateway = format!("http://{}", cluster.gateway_addr());
    wait_until_async("a buy to commit", DEADLINE, || async {
        let response = http
            .post(format!("{gateway}/orders"))
            .body(r#"{"name":"Tux","quantity":1}"#)
            .send()
            .await
            .ok()?;
        response.status().is_success().then_some(())
    })
    .await
    .unwrap();

    let services = [
        ("gateway", cluster.gateway_addr()),
        ("catalog", cluster.catalog_addr()),
        ("raft_node", cluster.node_addr(1)),
    ];
    for (prefix, addr) in services {
        let page = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let names = metric_names(&page);
        assert!(
            names.contains(&format!("{prefix}_http_requests_total")),
            "{prefix}: {names:?}"
        );
        for name in names {
            let generic = name
                .strip_prefix(prefix)
                .filter(|rest| rest.starts_with("_http_"))
                .map(|rest| format!("<prefix>{rest}"));
            let documented = docs.contains(&format!("`{name}`"))
                || generic.is_some_and(|g| docs.contains(&format!("`{g}`")));
            assert!(documented, "metric {name} is not in docs/API.md");
        }
        assert!(
            docs.contains(&format!("`{prefix}`")),
            "prefix {prefix} not named"
        );
    }

    let document = serde_json::to_value(gateway::openapi::document()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let route = format!("`{} {path}", method.to_uppercase());
            assert!(docs.contains(&route), "{route}` is not in docs/API.md");
        }
    }
}
