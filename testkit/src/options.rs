//! How to start a cluster ([`ClusterOptions`]) and the command line each service gets
//! from them: which flags the catalog, a raft node and the gateway are started with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toystore_api::Transport;

use crate::binaries::binary;
use crate::ports::NodePorts;
use crate::process::ProcessSpec;
use crate::secure::Secrets;

/// How to start a cluster. The default is the contract's: three nodes, a caching gateway,
/// every service with its default flags, the workspace's own binaries.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Raft nodes `1..=nodes`; node 1 bootstraps. Zero starts a catalog alone.
    pub nodes: u64,
    /// Whether to start a gateway in front of the nodes.
    pub gateway: bool,
    /// Where the binaries are; `None` uses (and if need be builds) the workspace's own.
    pub bin_dir: Option<PathBuf>,
    /// The catalog's stock flags; `None` leaves the catalog's defaults.
    pub stock: Option<Stock>,
    /// The gateway's product cache.
    pub cache: bool,
    /// The gateway's `--deadline` for a buy; `None` leaves its default.
    pub gateway_deadline: Option<String>,
    /// Extra flags for the catalog.
    pub catalog_args: Vec<String>,
    /// Extra flags for every raft node (e.g. snapshot or reconciler settings).
    pub node_args: Vec<String>,
    /// The address the nodes dial for the catalog instead of its own: a test's front.
    pub catalog_via: Option<String>,
    /// Per node id, the address that node dials for the catalog (before `catalog_via`):
    /// a proxy on each node-to-catalog link.
    pub node_catalog: BTreeMap<u64, String>,
    /// The catalog's `--listen`; `None` picks a free port. Fixed up front when proxies
    /// must know where the catalog will be before it starts.
    pub catalog_listen: Option<String>,
    /// The gateway's `--nodes` instead of every node's own address: a proxy on each
    /// gateway-to-node link.
    pub gateway_nodes: Option<String>,
    /// The gateway's `--catalog` instead of the catalog's own address: a proxy on the
    /// gateway-to-catalog link.
    pub gateway_catalog: Option<String>,
    /// Extra environment per process, by its name (`catalog`, `node-2`, `gateway`): a
    /// preloaded library that fakes the clock or fails a system call.
    pub env: BTreeMap<String, Vec<(String, String)>>,
    /// Open (the contract's plain setup), credentials, or credentials and TLS.
    pub security: SecurityMode,
}

/// How a cluster is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityMode {
    /// No credential, plain HTTP: every route open.
    #[default]
    Open,
    /// A cluster secret and an admin token guard internal and admin routes.
    Tokens,
    /// Tokens, and TLS with mutual certificates between the services.
    Tls,
}

/// The service names certificates are made for: one per kind of process (every node
/// shares `node`, so a node added later needs no new certificate) and the operator.
pub const CERTIFICATE_NAMES: [&str; 4] = ["catalog", "node", "gateway", "admin"];

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            gateway: true,
            bin_dir: None,
            stock: None,
            cache: true,
            gateway_deadline: None,
            catalog_args: Vec::new(),
            node_args: Vec::new(),
            catalog_via: None,
            node_catalog: BTreeMap::new(),
            catalog_listen: None,
            gateway_nodes: None,
            gateway_catalog: None,
            env: BTreeMap::new(),
            security: SecurityMode::Open,
        }
    }
}

/// The catalog's `--initial-stock`, `--restock-to` and `--restock-interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stock {
    /// `--initial-stock`: each toy's quantity in a fresh store.
    pub initial: u64,
    /// `--restock-to`: what a sold-out toy is refilled to.
    pub restock_to: u64,
    /// `--restock-interval`: how often sold-out toys are refilled.
    pub restock_interval: String,
}

impl Default for Stock {
    /// The contract's defaults.
    fn default() -> Self {
        Stock {
            initial: 100,
            restock_to: 100,
            restock_interval: "10s".to_string(),
        }
    }
}

impl ClusterOptions {
    fn binary(&self, name: &str) -> anyhow::Result<PathBuf> {
        binary(self.bin_dir.as_deref(), name)
    }

    /// The secrets of a cluster in `dir` (made by [`ClusterOptions::prepare`]), if secured.
    pub fn secrets(&self, dir: &Path) -> Option<Secrets> {
        (self.security != SecurityMode::Open)
            .then(|| Secrets::at(&dir.join("secrets"), self.security == SecurityMode::Tls))
    }

    /// Makes the secrets (and certificates) a secured cluster in `dir` needs.
    pub(crate) fn prepare(&self, dir: &Path) -> anyhow::Result<()> {
        if let Some(secrets) = self.secrets(dir) {
            let hosts = ["127.0.0.1".to_string(), "localhost".to_string()];
            Secrets::create(&secrets.dir, secrets.tls, &CERTIFICATE_NAMES, &hosts)?;
        }
        Ok(())
    }

    /// How a test or the harness reaches the cluster in `dir`: as the admin when secured.
    pub fn client_transport(&self, dir: &Path) -> anyhow::Result<Transport> {
        match self.secrets(dir) {
            Some(secrets) => secrets.admin_transport(),
            None => Ok(Transport::default()),
        }
    }

    /// How a shopper reaches the gateway of the cluster in `dir`: no credential, but the
    /// CA when the gateway speaks TLS.
    pub fn public_transport(&self, dir: &Path) -> anyhow::Result<Transport> {
        match self.secrets(dir) {
            Some(secrets) => secrets.public_transport(),
            None => Ok(Transport::default()),
        }
    }

    fn security_flags(&self, dir: &Path, name: &str, admin: bool) -> Vec<String> {
        let mut flags = self
            .secrets(dir)
            .map(|s| s.flags(name, admin))
            .unwrap_or_default();
        // Mutual TLS between the services; the gateway's public side asks for no certificate.
        if self.security == SecurityMode::Tls && name != "gateway" {
            flags.push("--tls-client-auth".to_string());
        }
        flags
    }

    /// The catalog, its store in `<dir>/catalog`.
    pub(crate) fn catalog_spec(&self, dir: &Path) -> anyhow::Result<ProcessSpec> {
        let mut args = vec![
            "--data-dir".to_string(),
            dir.join("catalog").display().to_string(),
        ];
        if let Some(stock) = &self.stock {
            args.extend([
                "--initial-stock".to_string(),
                stock.initial.to_string(),
                "--restock-interval".to_string(),
                stock.restock_interval.clone(),
                "--restock-to".to_string(),
                stock.restock_to.to_string(),
            ]);
        }
        args.extend(self.security_flags(dir, "catalog", true));
        args.extend(self.catalog_args.iter().cloned());
        let mut spec =
            ProcessSpec::new("catalog", self.binary("catalog")?, &log_dir(dir)).args(args);
        if let Some(listen) = &self.catalog_listen {
            spec = spec.listen(listen.clone());
        }
        Ok(self.with_env(spec))
    }

    /// Raft node `id` on `listen`, its store in `<dir>/node-<id>`.
    pub(crate) fn node_spec(&self, dir: &Path, node: NodeStart) -> anyhow::Result<ProcessSpec> {
        let id = node.id;
        let mut args = vec![
            "--id".to_string(),
            id.to_string(),
            "--data-dir".to_string(),
            dir.join(format!("node-{id}")).display().to_string(),
            "--peers".to_string(),
            node.peers,
            "--catalog".to_string(),
            self.node_catalog
                .get(&id)
                .or(self.catalog_via.as_ref())
                .cloned()
                .unwrap_or(node.catalog),
        ];
        if node.bootstrap {
            args.push("--bootstrap".to_string());
        }
        args.extend(self.security_flags(dir, "node", true));
        args.extend(self.node_args.iter().cloned());
        let spec = ProcessSpec::new(
            &format!("node-{id}"),
            self.binary("raft-node")?,
            &log_dir(dir),
        );
        Ok(self.with_env(spec.args(args).listen(node.listen)))
    }

    /// The gateway, dialling every node at its real address.
    pub(crate) fn gateway_spec(
        &self,
        dir: &Path,
        ports: &NodePorts,
        catalog: &str,
    ) -> anyhow::Result<ProcessSpec> {
        let mut args = vec![
            "--catalog".to_string(),
            catalog.to_string(),
            "--nodes".to_string(),
            self.gateway_nodes
                .clone()
                .unwrap_or_else(|| ports.direct_peers()),
            "--cache".to_string(),
            if self.cache { "on" } else { "off" }.to_string(),
        ];
        if let Some(deadline) = &self.gateway_deadline {
            args.extend(["--deadline".to_string(), deadline.clone()]);
        }
        args.extend(self.security_flags(dir, "gateway", false));
        let spec = ProcessSpec::new("gateway", self.binary("gateway")?, &log_dir(dir)).args(args);
        Ok(self.with_env(spec))
    }

    /// `spec` with the extra environment [`ClusterOptions::env`] names for its process.
    fn with_env(&self, spec: ProcessSpec) -> ProcessSpec {
        let vars = self.env.get(&spec.name).cloned().unwrap_or_default();
        vars.iter()
            .fold(spec, |spec, (key, value)| spec.env(key, value))
    }
}

/// What a raft node is started with besides the options.
pub(crate) struct NodeStart {
    pub id: u64,
    pub listen: String,
    pub peers: String,
    pub catalog: String,
    pub bootstrap: bool,
}

/// Every process of a cluster in `dir` logs to `<dir>/logs/<name>.log`.
pub fn log_dir(dir: &Path) -> PathBuf {
    dir.join("logs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_pair(args: &[std::ffi::OsString], flag: &str, value: &str) -> bool {
        args.windows(2).any(|w| w[0] == flag && w[1] == value)
    }

    #[test]
    fn links_and_environment_can_be_routed_per_process() {
        let bin = tempfile::tempdir().unwrap();
        for name in ["catalog", "raft-node", "gateway"] {
            std::fs::write(bin.path().join(name), "").unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let options = ClusterOptions {
            bin_dir: Some(bin.path().to_path_buf()),
            catalog_via: Some("127.0.0.1:7000".into()),
            node_catalog: [(2, "127.0.0.1:7002".to_string())].into(),
            catalog_listen: Some("127.0.0.1:7777".into()),
            gateway_nodes: Some("1=127.0.0.1:8001".into()),
            env: [(
                "node-2".to_string(),
                vec![("TZ".to_string(), "UTC".to_string())],
            )]
            .into(),
            ..Default::default()
        };
        let catalog = options.catalog_spec(dir.path()).unwrap();
        assert_eq!(catalog.listen, "127.0.0.1:7777");
        assert!(catalog.env.is_empty());
        let node = |id: u64| {
            let start = NodeStart {
                id,
                listen: "127.0.0.1:9000".into(),
                peers: String::new(),
                catalog: "127.0.0.1:7777".into(),
                bootstrap: false,
            };
            options.node_spec(dir.path(), start).unwrap()
        };
        let (one, two) = (node(1), node(2));
        assert!(
            has_pair(&one.args, "--catalog", "127.0.0.1:7000"),
            "catalog_via"
        );
        assert!(
            has_pair(&two.args, "--catalog", "127.0.0.1:7002"),
            "its own link"
        );
        assert!(one.env.is_empty());
        assert_eq!(two.env, vec![("TZ".to_string(), "UTC".to_string())]);
        let gateway = options
            .gateway_spec(dir.path(), &NodePorts::default(), "127.0.0.1:7777")
            .unwrap();
        assert!(has_pair(&gateway.args, "--nodes", "1=127.0.0.1:8001"));
    }
}
