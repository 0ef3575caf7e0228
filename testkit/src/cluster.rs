//! The in-test cluster launcher: one catalog, N raft nodes (node 1 bootstraps) and an
//! optional gateway, real processes on loopback ports in one directory. Tests and the
//! harness start one, break it (kill, pause, resume, restart any [`Member`]) and read its
//! state (the `observe` module adds those questions). Dropping it kills every process.
//!
//! Node ports are chosen before anything starts, because each node needs every peer's
//! address up front; [`Cluster::start_with_peers`] lets a harness put a proxy on each link.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use toystore_api::catalog::CatalogClient;
use toystore_api::node::NodeClient;
use toystore_api::{Http, Transport};

use crate::options::{ClusterOptions, NodeStart};
use crate::ports::NodePorts;
use crate::process::ServiceProcess;

/// One process of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// The catalog.
    Catalog,
    /// The raft node of this id.
    Node(u64),
    /// The gateway.
    Gateway,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Member::Catalog => f.write_str("catalog"),
            Member::Node(id) => write!(f, "node-{id}"),
            Member::Gateway => f.write_str("gateway"),
        }
    }
}

/// Where a cluster keeps stores and logs: its own temporary directory, or one it was given.
enum Home {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

/// A running cluster.
pub struct Cluster {
    options: ClusterOptions,
    /// How tests reach it, read once from its secrets at start.
    transport: Transport,
    ports: NodePorts,
    // Fields drop in order: the processes die before their directory is removed.
    gateway: Option<ServiceProcess>,
    nodes: BTreeMap<u64, ServiceProcess>,
    catalog: ServiceProcess,
    home: Home,
}

impl Cluster {
    /// Starts everything in a fresh temporary directory, removed when the cluster is dropped.
    pub fn start(options: ClusterOptions) -> anyhow::Result<Cluster> {
        let home = Home::Temp(tempfile::tempdir().context("temp dir")?);
        let ports = NodePorts::allocate(options.nodes)?;
        let peers = ports.direct_peers();
        Self::launch(home, options, ports, |_| peers.clone())
    }

    /// Starts everything under `dir` (left in place), nodes dialling each other directly.
    pub fn start_in(dir: &Path, options: ClusterOptions) -> anyhow::Result<Cluster> {
        let ports = NodePorts::allocate(options.nodes)?;
        let peers = ports.direct_peers();
        Self::start_with_peers(dir, options, ports, |_| peers.clone())
    }

    /// Starts everything under `dir` on the node ports `ports`; node `id` gets
    /// `--peers peers_for(id)`, so a harness can route each link through a proxy.
    pub fn start_with_peers(
        dir: &Path,
        options: ClusterOptions,
        ports: NodePorts,
        peers_for: impl Fn(u64) -> String,
    ) -> anyhow::Result<Cluster> {
        Self::launch(Home::Given(dir.to_path_buf()), options, ports, peers_for)
    }

    fn launch(
        home: Home,
        options: ClusterOptions,
        ports: NodePorts,
        peers_for: impl Fn(u64) -> String,
    ) -> anyhow::Result<Cluster> {
        let dir = home.path().to_path_buf();
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        options.prepare(&dir)?;
        let transport = options.client_transport(&dir)?;
        let catalog =
            ServiceProcess::start(options.catalog_spec(&dir)?).context("start catalog")?;
        let mut cluster = Cluster {
            options,
            transport,
            ports,
            gateway: None,
            nodes: BTreeMap::new(),
            catalog,
            home,
        };
        let first = cluster.ports.0.keys().next().copied();
        for id in cluster.node_ids_planned() {
            cluster.start_node(id, peers_for(id), Some(id) == first)?;
        }
        if cluster.options.gateway {
            cluster.gateway = Some(cluster.start_gateway()?);
        }
        Ok(cluster)
    }

    fn node_ids_planned(&self) -> Vec<u64> {
        self.ports.0.keys().copied().collect()
    }

    fn start_node(&mut self, id: u64, peers: String, bootstrap: bool) -> anyhow::Result<()> {
        let spec = self.options.node_spec(
            self.dir(),
            NodeStart {
                id,
                listen: self.ports.addr(id),
                peers,
                catalog: self.catalog_addr(),
                bootstrap,
            },
        )?;
        let process = ServiceProcess::start(spec).with_context(|| format!("start node {id}"))?;
        self.nodes.insert(id, process);
        Ok(())
    }

    fn start_gateway(&self) -> anyhow::Result<ServiceProcess> {
        let spec = self
            .options
            .gateway_spec(self.dir(), &self.ports, &self.gateway_catalog())?;
        ServiceProcess::start(spec).context("start gateway")
    }

    /// Adds node `id` on a free port, started without `--bootstrap` and with every known
    /// node as a peer; returns its address (for `add_learner`).
    pub fn add_node(&mut self, id: u64) -> anyhow::Result<String> {
        anyhow::ensure!(!self.ports.0.contains_key(&id), "node {id} exists");
        self.ports.add(id)?;
        let peers = self.ports.direct_peers();
        self.start_node(id, peers, false)?;
        Ok(self.ports.addr(id))
    }

    /// Adds node `id` on `port` (one the caller set aside) with `--peers peers`, so a
    /// harness can route the new node's links through proxies it started beforehand;
    /// returns its address.
    pub fn add_node_at(&mut self, id: u64, port: u16, peers: String) -> anyhow::Result<String> {
        anyhow::ensure!(!self.ports.0.contains_key(&id), "node {id} exists");
        anyhow::ensure!(
            !self.ports.0.values().any(|p| *p == port),
            "port {port} is taken by another node"
        );
        self.ports.0.insert(id, port);
        self.start_node(id, peers, false)?;
        Ok(self.ports.addr(id))
    }

    /// Stops node `id` (SIGTERM, SIGKILL after 5 s) and forgets it: it leaves
    /// [`node_ids`](Self::node_ids) and [`node_addrs`](Self::node_addrs), its store stays
    /// in the directory. For a node taken out of the Raft membership for good.
    pub fn remove_node(&mut self, id: u64) -> anyhow::Result<()> {
        let mut process = self
            .nodes
            .remove(&id)
            .ok_or_else(|| anyhow!("no node {id}"))?;
        process.terminate(Duration::from_secs(5));
        self.ports.0.remove(&id);
        Ok(())
    }

    /// The directory of stores and logs.
    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    /// Where every process logs (`<name>.log`).
    pub fn log_dir(&self) -> PathBuf {
        crate::options::log_dir(self.dir())
    }

    /// Keeps a temporary directory after the cluster is dropped; returns its path.
    pub fn keep_dir(&mut self) -> PathBuf {
        let home = std::mem::replace(&mut self.home, Home::Given(PathBuf::new()));
        let path = match home {
            Home::Temp(temp) => temp.keep(),
            Home::Given(path) => path,
        };
        self.home = Home::Given(path.clone());
        path
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// `host:port` of the catalog.
    pub fn catalog_addr(&self) -> String {
        self.catalog.addr().to_string()
    }

    /// What the gateway dials for the catalog: `gateway_catalog` or the catalog itself.
    fn gateway_catalog(&self) -> String {
        self.options
            .gateway_catalog
            .clone()
            .unwrap_or_else(|| self.catalog_addr())
    }

    /// `host:port` of the gateway. Panics if the cluster was started without one.
    pub fn gateway_addr(&self) -> String {
        let gateway = self.gateway.as_ref().expect("a cluster with a gateway");
        gateway.addr().to_string()
    }

    /// Ids of every node started, running or not.
    pub fn node_ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// `host:port` of node `id`. Panics on an unknown id.
    pub fn node_addr(&self, id: u64) -> String {
        self.ports.addr(id)
    }

    /// `(id, host:port)` of every node.
    pub fn node_addrs(&self) -> Vec<(u64, String)> {
        self.ports.addrs()
    }

    /// The port of every node, chosen before any started.
    pub fn node_ports(&self) -> &NodePorts {
        &self.ports
    }

    /// How tests reach this cluster: as the admin, over TLS, when it is secured.
    pub fn transport(&self) -> Transport {
        self.transport.clone()
    }

    /// How a shopper reaches this cluster's gateway: no credential, the CA when TLS is on.
    pub fn public_transport(&self) -> anyhow::Result<Transport> {
        self.options.public_transport(self.dir())
    }

    /// A pooled client of this cluster's transport with a per-request `timeout`.
    pub fn http(&self, timeout: Duration) -> Http {
        self.transport()
            .http(|b| b.timeout(timeout))
            .expect("the cluster's own TLS material loads")
    }

    /// A client of node `id` with a 10 s timeout.
    pub fn node_client(&self, id: u64) -> NodeClient {
        NodeClient::new(&self.node_addr(id), self.http(Duration::from_secs(10)))
    }

    /// A client of the catalog with a 5 s timeout.
    pub fn catalog_client(&self) -> CatalogClient {
        CatalogClient::new(&self.catalog_addr(), self.http(Duration::from_secs(5)))
    }
}

impl Cluster {
    /// The process of `member`, to signal or inspect directly.
    pub fn process(&mut self, member: Member) -> anyhow::Result<&mut ServiceProcess> {
        match member {
            Member::Catalog => Ok(&mut self.catalog),
            Member::Node(id) => self
                .nodes
                .get_mut(&id)
                .ok_or_else(|| anyhow!("no node {id}")),
            Member::Gateway => self.gateway.as_mut().ok_or_else(|| anyhow!("no gateway")),
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self, member: Member) -> anyhow::Result<()> {
        self.process(member)?.kill();
        Ok(())
    }

    /// SIGSTOP: alive but silent, like a long GC pause.
    pub fn pause(&mut self, member: Member) -> anyhow::Result<()> {
        self.process(member)?.pause()
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&mut self, member: Member) -> anyhow::Result<()> {
        self.process(member)?.resume()
    }

    /// Starts `member` again on its address and store (killing it first if it runs).
    pub fn restart(&mut self, member: Member) -> anyhow::Result<()> {
        self.process(member)?.restart()
    }

    /// True while the process is alive (running or paused).
    pub fn is_running(&mut self, member: Member) -> bool {
        self.process(member).is_ok_and(|p| p.is_running())
    }

    /// Ids of the nodes whose processes are alive.
    pub fn running_nodes(&mut self) -> Vec<u64> {
        self.nodes
            .iter_mut()
            .filter_map(|(id, p)| p.is_running().then_some(*id))
            .collect()
    }

    /// Restarts the gateway on its address with its cache on or off.
    pub fn set_gateway_cache(&mut self, on: bool) -> anyhow::Result<()> {
        let gateway = self.gateway.as_mut().ok_or_else(|| anyhow!("no gateway"))?;
        let addr = gateway.addr();
        gateway.terminate(Duration::from_secs(5));
        self.options.cache = on;
        let spec = self
            .options
            .gateway_spec(self.dir(), &self.ports, &self.gateway_catalog())?;
        self.gateway = Some(ServiceProcess::start(spec.listen(addr.to_string()))?);
        Ok(())
    }

    /// SIGTERM to everything (gateway first), SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let grace = Duration::from_secs(5);
        if let Some(gateway) = self.gateway.as_mut() {
            gateway.terminate(grace);
        }
        for node in self.nodes.values_mut() {
            node.terminate(grace);
        }
        self.catalog.terminate(grace);
    }
}

impl Home {
    fn path(&self) -> &Path {
        match self {
            Home::Temp(temp) => temp.path(),
            Home::Given(path) => path,
        }
    }
}
