//! Starting a real catalog binary on a free port with its own temp store.

#![allow(dead_code)] // each test file uses its own part of this fixture

use std::time::Duration;

use tempfile::TempDir;
use testkit::{workspace_binary, ProcessSpec, ServiceProcess};

pub struct Catalog {
    pub process: ServiceProcess,
    pub dir: TempDir,
    pub http: reqwest::Client,
}

impl Catalog {
    /// A fresh catalog with the given extra flags.
    pub fn start(extra: &[&str]) -> Catalog {
        let dir = tempfile::tempdir().expect("temp dir");
        let process = ServiceProcess::start(spec(&dir, extra)).expect("catalog starts");
        Catalog {
            process,
            dir,
            // No pooled connections: a test restarts the process under them.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.url())
    }

    pub fn addr(&self) -> String {
        self.process.addr().to_string()
    }

    /// Sends a request and returns status and decoded JSON body.
    pub async fn call(&self, request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let response = request.send().await.expect("catalog answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.call(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
}

fn spec(dir: &TempDir, extra: &[&str]) -> ProcessSpec {
    let binary = workspace_binary("catalog").expect("catalog binary");
    ProcessSpec::new("catalog", binary, dir.path())
        .args([
            "--data-dir".to_string(),
            dir.path().join("store").display().to_string(),
        ])
        .args(extra.iter().map(|s| s.to_string()))
}
