//! A test cluster of real processes: one catalog and N raft nodes on free loopback ports,
//! in a temporary directory, all stopped when the fixture is dropped.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use testkit::{wait_until_async, ProcessSpec, ServiceProcess};
use toystore_api::catalog::CatalogClient;
use toystore_api::node::NodeClient;
use toystore_api::node::{ClusterStatus, Digest, OrderCreated, OrderRequest};
use toystore_api::CallError;

/// How long a test waits for a leader, a catch-up or a convergence.
pub const SETTLE: Duration = Duration::from_secs(30);

/// A free loopback port (nodes need each other's addresses before any of them starts).
pub fn free_port() -> u16 {
    testkit::free_port().expect("a free port")
}

/// The catalog binary next to this test's profile directory, built with `-p catalog` if
/// missing (`workspace_binary` builds `--bin` in the current package, which is this one).
fn catalog_binary() -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("profile dir");
    let path = profile_dir.join("catalog");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--quiet", "-p", "catalog", "--bin", "catalog"]);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(
            build.status().expect("run cargo").success(),
            "build catalog"
        );
    }
    path
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub catalog: ServiceProcess,
    pub nodes: BTreeMap<u64, ServiceProcess>,
    pub addrs: BTreeMap<u64, String>,
    extra_args: Vec<String>,
    /// Where nodes reach the catalog, when a test puts something in front of it.
    catalog_route: Option<String>,
}

impl Cluster {
    /// A catalog and `n` bootstrapped nodes; `extra_args` go to every node.
    pub fn start(n: u64, extra_args: &[&str]) -> Cluster {
        Self::start_with(n, extra_args, &[])
    }

    /// As [`start`](Self::start), with extra catalog arguments too.
    pub fn start_with(n: u64, extra_args: &[&str], catalog_args: &[&str]) -> Cluster {
        Self::start_routed(n, extra_args, catalog_args, |_| None)
    }

    /// As [`start_with`](Self::start_with); `route` gets the catalog's address and may
    /// return another one for the nodes to use instead (a test's interposed front).
    pub fn start_routed(
        n: u64,
        extra_args: &[&str],
        catalog_args: &[&str],
        route: impl FnOnce(&str) -> Option<String>,
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog_bin = catalog_binary();
        let catalog = ServiceProcess::start(
            ProcessSpec::new("catalog", catalog_bin, dir.path())
                .args([
                    "--data-dir".into(),
                    dir.path().join("catalog").into_os_string(),
                ])
                .args(catalog_args.iter().copied()),
        )
        .expect("start catalog");
        let addrs: BTreeMap<u64, String> = (1..=n)
            .map(|id| (id, format!("127.0.0.1:{}", free_port())))
            .collect();
        let mut cluster = Cluster {
            dir,
            catalog,
            nodes: BTreeMap::new(),
            addrs,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            catalog_route: None,
        };
        cluster.catalog_route = route(&cluster.catalog.addr().to_string());
        for id in 1..=n {
            cluster.start_node(id, true);
        }
        cluster
    }

    /// `--peers` naming every node known to the fixture.
    pub fn peers(&self) -> String {
        self.addrs
            .iter()
            .map(|(id, addr)| format!("{id}={addr}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts node `id` (its address must be in `addrs`).
    pub fn start_node(&mut self, id: u64, bootstrap: bool) {
        let bin = std::env::var("CARGO_BIN_EXE_raft-node").expect("raft-node binary");
        let mut args = vec![
            "--id".to_string(),
            id.to_string(),
            "--data-dir".into(),
            self.dir
                .path()
                .join(format!("node-{id}"))
                .to_string_lossy()
                .into_owned(),
            "--peers".into(),
            self.peers(),
            "--catalog".into(),
            self.catalog_route
                .clone()
                .unwrap_or_else(|| self.catalog.addr().to_string()),
        ];
        if bootstrap {
            args.push("--bootstrap".into());
        }
        args.extend(self.extra_args.iter().cloned());
        let spec = ProcessSpec::new(&format!("node-{id}"), bin, self.dir.path())
            .listen(self.addrs[&id].clone())
            .args(args);
        let process = ServiceProcess::start(spec).expect("start node");
        self.nodes.insert(id, process);
    }

    /// Adds a fresh node `id` on a free port, started without `--bootstrap`.
    pub fn add_node(&mut self, id: u64) -> String {
        let addr = format!("127.0.0.1:{}", free_port());
        self.addrs.insert(id, addr.clone());
        self.start_node(id, false);
        addr
    }

    pub fn client(&self, id: u64) -> NodeClient {
        NodeClient::with_timeout(&self.addrs[&id], Duration::from_secs(10))
    }

    pub fn catalog_client(&self) -> CatalogClient {
        CatalogClient::with_timeout(&self.catalog.addr().to_string(), Duration::from_secs(5))
    }

    /// Ids of the nodes whose processes run.
    pub fn running(&mut self) -> Vec<u64> {
        self.nodes
            .iter_mut()
            .filter_map(|(id, p)| p.is_running().then_some(*id))
            .collect()
    }

    /// Waits until a running node is leader and every running node names it.
    pub async fn leader(&mut self) -> u64 {
        let running = self.running();
        let clients: Vec<(u64, NodeClient)> =
            running.iter().map(|id| (*id, self.client(*id))).collect();
        wait_until_async("a leader every running node agrees on", SETTLE, || {
            let clients = clients.clone();
            async move {
                let mut named = Vec::new();
                let mut leader = None;
                for (id, client) in &clients {
                    let status = client.status().await.ok()?;
                    if status.state == toystore_api::node::Role::Leader {
                        leader = Some(*id);
                    }
                    named.push(status.leader_id?);
                }
                let leader = leader?;
                named.iter().all(|n| *n == leader).then_some(leader)
            }
        })
        .await
        .expect("leader elected")
    }

    pub async fn status(&self, id: u64) -> ClusterStatus {
        self.client(id).status().await.expect("status")
    }

    pub async fn digest(&self, id: u64) -> Digest {
        self.client(id).digest().await.expect("digest")
    }

    /// Waits until every running node has the same digest as `reference` (a node id).
    pub async fn converged(&mut self, reference: u64) -> Digest {
        let running = self.running();
        let clients: Vec<NodeClient> = running.iter().map(|id| self.client(*id)).collect();
        let target = self.client(reference);
        wait_until_async("replicas to converge", SETTLE, || {
            let clients = clients.clone();
            let target = target.clone();
            async move {
                let want = target.digest().await.ok()?;
                for client in &clients {
                    if client.digest().await.ok()? != want {
                        return None;
                    }
                }
                Some(want)
            }
        })
        .await
        .expect("replicas converge")
    }
}

impl Cluster {
    /// Waits until every running node has applied the same log index as `reference`.
    pub async fn caught_up(&mut self, reference: u64) {
        let running = self.running();
        let clients: Vec<NodeClient> = running.iter().map(|id| self.client(*id)).collect();
        let target = self.client(reference);
        wait_until_async("replicas to apply the same log", SETTLE, || {
            let clients = clients.clone();
            let target = target.clone();
            async move {
                let want = target.status().await.ok()?.last_applied;
                for client in &clients {
                    if client.status().await.ok()?.last_applied != want {
                        return None;
                    }
                }
                Some(())
            }
        })
        .await
        .expect("replicas catch up")
    }
}

/// A buy on node `id`.
pub async fn buy(
    client: &NodeClient,
    request_id: &str,
    name: &str,
    quantity: u64,
) -> Result<OrderCreated, CallError> {
    client
        .create_order(&OrderRequest {
            request_id: request_id.to_string(),
            name: name.to_string(),
            quantity,
        })
        .await
}
