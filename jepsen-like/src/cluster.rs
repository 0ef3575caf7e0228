//! The harness's clusters are `testkit`'s: this is what an experiment may do to one.

use testkit::{Cluster, Member};

impl crate::bench::ClusterControl for Cluster {
    fn gateway_addr(&self) -> String {
        Cluster::gateway_addr(self)
    }

    fn node_addrs(&self) -> Vec<(u64, String)> {
        Cluster::node_addrs(self)
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
}
