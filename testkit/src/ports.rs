//! Loopback ports chosen before a process starts: Raft peers must know each other's
//! addresses up front, and a harness may put a proxy in front of each.

use std::collections::BTreeMap;

use anyhow::bail;

/// A loopback port that was free a moment ago: for processes that must know each other's
/// addresses before they start (Raft peers). It is picked at random below Linux's
/// ephemeral range (32768 and up), because the kernel hands ports from that range to
/// outgoing connections, which could take a port between this check and the service's
/// own bind. Parallel tests draw different random ports, so they rarely meet; when they
/// do, the service fails with a clear "cannot listen".
pub fn free_port() -> anyhow::Result<u16> {
    use std::sync::atomic::{AtomicU64, Ordering};
    const LOW: u64 = 15_000;
    const SPAN: u64 = 17_000; // up to 31999
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let seed = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    for _ in 0..1000 {
        let draw = DRAWS.fetch_add(1, Ordering::Relaxed);
        // A splitmix64 step: spreads consecutive draws over the whole span.
        let mut x = seed.wrapping_add(draw.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        let port = (LOW + x % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free loopback port between {LOW} and {}", LOW + SPAN - 1)
}

/// Ports of the raft nodes by id, chosen before any starts.
#[derive(Debug, Clone, Default)]
pub struct NodePorts(pub BTreeMap<u64, u16>);

impl NodePorts {
    /// Distinct free ports for nodes `1..=n`.
    pub fn allocate(n: u64) -> anyhow::Result<NodePorts> {
        let mut ports = NodePorts::default();
        for id in 1..=n {
            ports.add(id)?;
        }
        Ok(ports)
    }

    /// A free port for node `id`, distinct from the others' (two draws can meet).
    pub fn add(&mut self, id: u64) -> anyhow::Result<u16> {
        let mut port = free_port()?;
        while self.0.values().any(|p| *p == port) {
            port = free_port()?;
        }
        self.0.insert(id, port);
        Ok(port)
    }

    /// `127.0.0.1:<port>` of node `id`.
    pub fn addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.0[&id])
    }

    /// `(id, host:port)` of every node.
    pub fn addrs(&self) -> Vec<(u64, String)> {
        self.0.keys().map(|id| (*id, self.addr(*id))).collect()
    }

    /// `1=127.0.0.1:p1,2=...`: every node at its real address (`--peers`, `--nodes`).
    pub fn direct_peers(&self) -> String {
        self.addrs()
            .iter()
            .map(|(id, addr)| format!("{id}={addr}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        assert!(
            ports.iter().all(|p| (15_000..32_000).contains(p)),
            "{ports:?}"
        );
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert!(distinct.len() > 40, "draws should spread: {ports:?}");
        std::net::TcpListener::bind(("127.0.0.1", ports[0])).unwrap();
    }

    #[test]
    fn node_ports_are_distinct_and_named_in_peers() {
        let ports = NodePorts::allocate(3).unwrap();
        let distinct: std::collections::HashSet<_> = ports.0.values().collect();
        assert_eq!(distinct.len(), 3);
        let peers = ports.direct_peers();
        assert!(
            peers.starts_with(&format!("1=127.0.0.1:{}", ports.0[&1])),
            "{peers}"
        );
        assert_eq!(peers.split(',').count(), 3);
    }
}
