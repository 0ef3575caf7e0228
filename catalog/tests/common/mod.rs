//! A catalog alone, as `testkit` starts it, and the raw HTTP calls these tests make.

#![allow(dead_code)] // each test file uses its own part of this fixture

use std::time::Duration;

use testkit::{Cluster, ClusterOptions, Member, ServiceProcess};

pub(crate) struct Catalog {
    pub(crate) cluster: Cluster,
    pub(crate) http: reqwest::Client,
}

impl Catalog {
    /// A fresh catalog with the given extra flags.
    pub(crate) fn start(extra: &[&str]) -> Catalog {
        let cluster = Cluster::start(ClusterOptions {
            nodes: 0,
            gateway: false,
            catalog_args: extra.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .expect("catalog starts");
        Catalog::around(cluster)
    }

    /// The catalog of a cluster a test started itself.
    pub(crate) fn around(cluster: Cluster) -> Catalog {
        // No pooled connections: a test restarts the process under them.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Catalog { cluster, http }
    }

    pub(crate) fn process(&mut self) -> &mut ServiceProcess {
        self.cluster.process(Member::Catalog).expect("a catalog")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    pub(crate) fn addr(&self) -> String {
        self.cluster.catalog_addr()
    }

    /// Sends a request and returns status and decoded JSON body.
    pub(crate) async fn call(&self, request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let response = request.send().await.expect("catalog answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
        (status, body)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(self.http.get(self.url(path))).await
    }

    pub(crate) async fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let request = self.http.post(self.url(path));
        let request = request.header("content-type", "application/json");
        self.call(request.body(body.to_string())).await
    }
}
