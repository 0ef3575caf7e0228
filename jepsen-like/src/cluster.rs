//! What an experiment may do to a cluster: [`ClusterControl`], implemented for the
//! `testkit` cluster the harness and the bench start.

use testkit::{Cluster, ClusterOptions, Member};
use toystore_api::Transport;

/// What an experiment may do to a cluster the bench started itself. With `--gateway` the
/// bench has no such control, and experiments that need it say so and skip that part.
pub(crate) trait ClusterControl: Send {
    /// `host:port` of the gateway.
    fn gateway_addr(&self) -> String;
    /// `(id, host:port)` of every raft node.
    fn node_addrs(&self) -> Vec<(u64, String)>;
    /// `host:port` of the catalog.
    fn catalog_addr(&self) -> String;
    /// How the bench calls the nodes' internal routes: as the admin when secured.
    fn transport(&self) -> Transport;
    /// What the cluster was started with (to start another like it).
    fn options(&self) -> ClusterOptions;
    /// Restarts the gateway with its cache on or off.
    fn set_gateway_cache(&mut self, on: bool) -> anyhow::Result<()>;
    /// SIGKILLs node `id`.
    fn kill_node(&mut self, id: u64) -> anyhow::Result<()>;
    /// Starts node `id` again on its old address and store.
    fn restart_node(&mut self, id: u64) -> anyhow::Result<()>;
    /// `(name, pid)` of every running process (catalog, nodes, gateway), for RSS figures.
    fn pids(&mut self) -> Vec<(String, u32)>;
    /// Starts a fresh node `id` (not yet in the membership); returns its address.
    fn add_node(&mut self, id: u64) -> anyhow::Result<String>;
    /// Stops node `id` for good.
    fn remove_node(&mut self, id: u64) -> anyhow::Result<()>;
    /// The directory of node `id`'s store.
    fn node_dir(&self, id: u64) -> std::path::PathBuf;
}

impl ClusterControl for Cluster {
    fn gateway_addr(&self) -> String {
        Cluster::gateway_addr(self)
    }

    fn node_addrs(&self) -> Vec<(u64, String)> {
        Cluster::node_addrs(self)
    }

    fn catalog_addr(&self) -> String {
        Cluster::catalog_addr(self)
    }

    fn transport(&self) -> Transport {
        Cluster::transport(self)
    }

    fn options(&self) -> ClusterOptions {
        Cluster::options(self).clone()
    }

    fn set_gateway_cache(&mut self, on: bool) -> anyhow::Result<()> {
        Cluster::set_gateway_cache(self, on)
    }

    fn kill_node(&mut self, id: u64) -> anyhow::Result<()> {
        self.kill(Member::Node(id))
    }

    fn restart_node(&mut self, id: u64) -> anyhow::Result<()> {
        self.restart(Member::Node(id))
    }

    fn add_node(&mut self, id: u64) -> anyhow::Result<String> {
        Cluster::add_node(self, id)
    }

    fn remove_node(&mut self, id: u64) -> anyhow::Result<()> {
        Cluster::remove_node(self, id)
    }

    fn node_dir(&self, id: u64) -> std::path::PathBuf {
        self.dir().join(format!("node-{id}"))
    }

    fn pids(&mut self) -> Vec<(String, u32)> {
        let mut members = vec![Member::Catalog];
        members.extend(self.node_ids().into_iter().map(Member::Node));
        members.push(Member::Gateway);
        members
            .into_iter()
            .filter_map(|member| {
                let pid = self.process(member).ok()?.pid()?;
                Some((member.to_string(), pid))
            })
            .collect()
    }
}
