//! A whole toystore cluster of real processes on free loopback ports in a temp directory:
//! catalog, N raft nodes (node 1 bootstraps), gateway. The harness and the benchmarks
//! start one, break it (kill, pause, restart any process) and read its state.
//!
//! Node ports are chosen before anything starts, because each node needs every peer's
//! address up front. `peers_for` lets the harness put its own proxy on each link.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use testkit::{free_port, workspace_binary, ProcessSpec, ServiceProcess};
use toystore_api::node::{NodeClient, Role};

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub nodes: u64,
    /// Where the binaries are; `None` builds and uses the workspace's own.
    pub bin_dir: Option<PathBuf>,
    /// The catalog's seeded quantity per toy.
    pub initial_stock: u64,
    pub restock_to: u64,
    pub restock_interval: String,
    pub cache: bool,
    /// The gateway's deadline for a buy.
    pub gateway_deadline: String,
    /// Extra flags for every raft node (e.g. snapshot or reconciler settings).
    pub node_args: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            bin_dir: None,
            initial_stock: 100,
            restock_to: 100,
            restock_interval: "10s".to_string(),
            cache: true,
            gateway_deadline: "10s".to_string(),
            node_args: Vec::new(),
        }
    }
}

/// Ports of the raft nodes, chosen before any starts.
#[derive(Debug, Clone)]
pub struct NodePorts(pub BTreeMap<u64, u16>);

impl NodePorts {
    /// Free ports for nodes `1..=n`.
    pub fn allocate(n: u64) -> anyhow::Result<NodePorts> {
        let mut ports = BTreeMap::new();
        for id in 1..=n {
            let mut port = free_port()?;
            // Two calls can hand out the same port; ask again until they differ.
            while ports.values().any(|p| *p == port) {
                port = free_port()?;
            }
            ports.insert(id, port);
        }
        Ok(NodePorts(ports))
    }

    pub fn addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.0[&id])
    }

    /// `1=127.0.0.1:p1,2=...`: every node at its real address.
    pub fn direct_peers(&self) -> String {
        self.0
            .keys()
            .map(|id| format!("{id}={}", self.addr(*id)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A running cluster. Dropping it kills every process.
pub struct Cluster {
    dir: PathBuf,
    options: ClusterOptions,
    ports: NodePorts,
    catalog: ServiceProcess,
    nodes: BTreeMap<u64, ServiceProcess>,
    gateway: ServiceProcess,
}

impl Cluster {
    /// Starts everything under `dir` with nodes dialling each other directly.
    pub fn start(dir: &Path, options: ClusterOptions) -> anyhow::Result<Cluster> {
        let ports = NodePorts::allocate(options.nodes)?;
        let peers = ports.direct_peers();
        Self::start_with_peers(dir, options, ports, |_| peers.clone())
    }

    /// Starts everything; node `id` gets `--peers peers_for(id)` (so a harness can route
    /// each link through a proxy).
    pub fn start_with_peers(
        dir: &Path,
        options: ClusterOptions,
        ports: NodePorts,
        peers_for: impl Fn(u64) -> String,
    ) -> anyhow::Result<Cluster> {
        std::fs::create_dir_all(dir)?;
        let catalog = ServiceProcess::start(
            ProcessSpec::new("catalog", binary(&options, "catalog")?, &dir.join("logs")).args([
                "--data-dir".to_string(),
                dir.join("catalog").display().to_string(),
                "--initial-stock".to_string(),
                options.initial_stock.to_string(),
                "--restock-interval".to_string(),
                options.restock_interval.clone(),
                "--restock-to".to_string(),
                options.restock_to.to_string(),
            ]),
        )
        .context("start catalog")?;
        let mut nodes = BTreeMap::new();
        for (&id, &port) in &ports.0 {
            let mut args = vec![
                "--id".to_string(),
                id.to_string(),
                "--data-dir".to_string(),
                dir.join(format!("node-{id}")).display().to_string(),
                "--peers".to_string(),
                peers_for(id),
                "--catalog".to_string(),
                catalog.addr().to_string(),
            ];
            if id == 1 {
                args.push("--bootstrap".to_string());
            }
            args.extend(options.node_args.iter().cloned());
            let spec = ProcessSpec::new(
                &format!("node-{id}"),
                binary(&options, "raft-node")?,
                &dir.join("logs"),
            )
            .args(args)
            .listen(format!("127.0.0.1:{port}"));
            nodes.insert(
                id,
                ServiceProcess::start(spec).with_context(|| format!("start node {id}"))?,
            );
        }
        let gateway = ServiceProcess::start(gateway_spec(
            dir,
            &options,
            &ports,
            &catalog,
            options.cache,
        )?)
        .context("start gateway")?;
        Ok(Cluster {
            dir: dir.to_path_buf(),
            options,
            ports,
            catalog,
            nodes,
            gateway,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn gateway_addr(&self) -> String {
        self.gateway.addr().to_string()
    }

    pub fn catalog_addr(&self) -> String {
        self.catalog.addr().to_string()
    }

    pub fn node_ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// `(id, host:port)` of every node.
    pub fn node_addrs(&self) -> Vec<(u64, String)> {
        self.ports
            .0
            .keys()
            .map(|id| (*id, self.ports.addr(*id)))
            .collect()
    }

    pub fn node_ports(&self) -> &NodePorts {
        &self.ports
    }

    fn node(&mut self, id: u64) -> anyhow::Result<&mut ServiceProcess> {
        self.nodes
            .get_mut(&id)
            .ok_or_else(|| anyhow!("no node {id}"))
    }

    pub fn kill_node(&mut self, id: u64) -> anyhow::Result<()> {
        self.node(id)?.kill();
        Ok(())
    }

    pub fn restart_node(&mut self, id: u64) -> anyhow::Result<()> {
        self.node(id)?.restart()
    }

    pub fn pause_node(&mut self, id: u64) -> anyhow::Result<()> {
        self.node(id)?.pause()
    }

    pub fn resume_node(&mut self, id: u64) -> anyhow::Result<()> {
        self.node(id)?.resume()
    }

    /// True while node `id`'s process is alive (running or paused).
    pub fn node_running(&mut self, id: u64) -> bool {
        self.nodes.get_mut(&id).is_some_and(|n| n.is_running())
    }

    pub fn catalog_running(&mut self) -> bool {
        self.catalog.is_running()
    }

    pub fn kill_catalog(&mut self) {
        self.catalog.kill();
    }

    pub fn restart_catalog(&mut self) -> anyhow::Result<()> {
        self.catalog.restart()
    }

    /// Restarts the gateway on its address with the cache on or off.
    pub fn restart_gateway(&mut self, cache: bool) -> anyhow::Result<()> {
        let addr = self.gateway.addr();
        self.gateway.terminate(Duration::from_secs(5));
        let spec = gateway_spec(&self.dir, &self.options, &self.ports, &self.catalog, cache)?
            .listen(addr.to_string());
        self.gateway = ServiceProcess::start(spec)?;
        self.options.cache = cache;
        Ok(())
    }

    /// The node that says it leads, asking every running node.
    pub async fn leader(&self) -> Option<u64> {
        for (id, addr) in self.node_addrs() {
            let client = NodeClient::with_timeout(&addr, Duration::from_millis(500));
            if matches!(client.status().await, Ok(s) if s.state == Role::Leader) {
                return Some(id);
            }
        }
        None
    }

    /// Waits until some node leads.
    pub async fn wait_for_leader(&self, deadline: Duration) -> anyhow::Result<u64> {
        testkit::wait_until_async("a leader", deadline, || self.leader()).await
    }

    /// SIGTERM to everything (gateway first), SIGKILL after a grace period.
    pub fn stop(&mut self) {
        self.gateway.terminate(Duration::from_secs(5));
        for node in self.nodes.values_mut() {
            node.terminate(Duration::from_secs(5));
        }
        self.catalog.terminate(Duration::from_secs(5));
    }
}

impl crate::bench::ClusterControl for Cluster {
    fn gateway_addr(&self) -> String {
        Cluster::gateway_addr(self)
    }

    fn node_addrs(&self) -> Vec<(u64, String)> {
        Cluster::node_addrs(self)
    }

    fn set_gateway_cache(&mut self, on: bool) -> anyhow::Result<()> {
        self.restart_gateway(on)
    }

    fn kill_node(&mut self, id: u64) -> anyhow::Result<()> {
        Cluster::kill_node(self, id)
    }

    fn restart_node(&mut self, id: u64) -> anyhow::Result<()> {
        Cluster::restart_node(self, id)
    }
}

fn binary(options: &ClusterOptions, name: &str) -> anyhow::Result<PathBuf> {
    match &options.bin_dir {
        Some(dir) => {
            let path = dir.join(name);
            anyhow::ensure!(path.exists(), "no {name} binary in {}", dir.display());
            Ok(path)
        }
        None => workspace_binary(name),
    }
}

fn gateway_spec(
    dir: &Path,
    options: &ClusterOptions,
    ports: &NodePorts,
    catalog: &ServiceProcess,
    cache: bool,
) -> anyhow::Result<ProcessSpec> {
    Ok(
        ProcessSpec::new("gateway", binary(options, "gateway")?, &dir.join("logs")).args([
            "--catalog".to_string(),
            catalog.addr().to_string(),
            "--nodes".to_string(),
            ports.direct_peers(),
            "--cache".to_string(),
            if cache { "on" } else { "off" }.to_string(),
            "--deadline".to_string(),
            options.gateway_deadline.clone(),
        ]),
    )
}
