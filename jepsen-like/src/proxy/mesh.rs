//! A proxy on every link of a cluster the harness starts, so the nemesis can cut, slow or
//! break any of them without root: node i dials peer j through link i->j (its `--peers`
//! says so), the catalog through link i->catalog (its `--catalog`), and the gateway dials
//! node j through link gateway->j (its `--nodes`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use crate::proxy::link::{LinkMode, LinkProxy};

/// One end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum End {
    Gateway,
    Node(u64),
    Catalog,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Gateway => f.write_str("gateway"),
            End::Node(id) => write!(f, "node-{id}"),
            End::Catalog => f.write_str("catalog"),
        }
    }
}

/// Every proxied link of a cluster, by (from, to).
pub(crate) struct ProxyMesh {
    ports: BTreeMap<u64, u16>,
    links: BTreeMap<(End, End), LinkProxy>,
}

impl ProxyMesh {
    /// Proxies for every link i->j (i != j) between nodes listening on `ports`, from the
    /// gateway to each node, and from each node to the catalog at `catalog`.
    pub(crate) async fn start(
        ports: &BTreeMap<u64, u16>,
        catalog: SocketAddr,
    ) -> anyhow::Result<ProxyMesh> {
        let mut links = BTreeMap::new();
        for (&to, &port) in ports {
            let node: SocketAddr = ([127, 0, 0, 1], port).into();
            for &from in ports.keys().filter(|from| **from != to) {
                links.insert(
                    (End::Node(from), End::Node(to)),
                    LinkProxy::start(node).await?,
                );
            }
            links.insert((End::Gateway, End::Node(to)), LinkProxy::start(node).await?);
            links.insert(
                (End::Node(to), End::Catalog),
                LinkProxy::start(catalog).await?,
            );
        }
        Ok(ProxyMesh {
            ports: ports.clone(),
            links,
        })
    }

    /// The `--peers` of node `id`: itself directly, every other node through its link.
    pub(crate) fn peers_for(&self, id: u64) -> String {
        self.ports
            .iter()
            .map(
                |(&peer, &port)| match self.links.get(&(End::Node(id), End::Node(peer))) {
                    Some(link) => format!("{peer}={}", link.addr()),
                    None => format!("{peer}=127.0.0.1:{port}"),
                },
            )
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The `--catalog` of node `id`: its link to the catalog.
    pub(crate) fn catalog_for(&self, id: u64) -> Option<String> {
        self.links
            .get(&(End::Node(id), End::Catalog))
            .map(|link| link.addr().to_string())
    }

    /// The gateway's `--nodes`: every node through the gateway's link to it.
    pub(crate) fn gateway_nodes(&self) -> String {
        self.ports
            .keys()
            .filter_map(|&id| {
                let link = self.links.get(&(End::Gateway, End::Node(id)))?;
                Some(format!("{id}={}", link.addr()))
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes the mesh has links for.
    pub(crate) fn nodes(&self) -> Vec<u64> {
        self.ports.keys().copied().collect()
    }

    /// Sets every link for which `which(from, to)` holds; returns how many.
    pub(crate) fn set(&self, mode: LinkMode, which: impl Fn(End, End) -> bool) -> usize {
        let mut count = 0;
        for (&(from, to), link) in &self.links {
            if which(from, to) {
                link.set_mode(mode);
                count += 1;
            }
        }
        count
    }

    /// Sets the link `from -> to`.
    pub(crate) fn cut(&self, from: End, to: End, mode: LinkMode) {
        self.set(mode, |f, t| f == from && t == to);
    }

    /// Sets every link to and from node `id`: peers, gateway and catalog.
    pub(crate) fn isolate(&self, id: u64, mode: LinkMode) {
        let node = End::Node(id);
        self.set(mode, |from, to| from == node || to == node);
    }

    /// Sets every node-to-node link between `side` and the other nodes, both ways.
    pub(crate) fn split(&self, side: &[u64], mode: LinkMode) {
        let inside = |end: End| matches!(end, End::Node(id) if side.contains(&id));
        self.set(mode, |from, to| {
            matches!((from, to), (End::Node(_), End::Node(_))) && inside(from) != inside(to)
        });
    }

    /// Every link passes again.
    pub(crate) fn heal(&self) {
        self.set(LinkMode::Pass, |_, _| true);
    }

    /// Whether every link passes.
    pub(crate) fn healed(&self) -> bool {
        self.links
            .values()
            .all(|link| link.mode() == LinkMode::Pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::link::tests::{echo_server, round_trip};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    fn addr_of(list: &str, id: u64) -> SocketAddr {
        let prefix = format!("{id}=");
        let entry = list.split(',').find(|e| e.starts_with(&prefix)).unwrap();
        entry[prefix.len()..].parse().unwrap()
    }

    #[tokio::test]
    async fn every_link_is_routed_and_cut_alone() {
        let (a, b, catalog) = (
            echo_server().await,
            echo_server().await,
            echo_server().await,
        );
        let ports: BTreeMap<u64, u16> = [(1, a.port()), (2, b.port())].into();
        let mesh = ProxyMesh::start(&ports, catalog).await.unwrap();
        let peers = mesh.peers_for(1);
        assert!(
            peers.starts_with(&format!("1=127.0.0.1:{}", a.port())),
            "{peers}"
        );
        let mut one_to_two = TcpStream::connect(addr_of(&peers, 2)).await.unwrap();
        let gateway_nodes = mesh.gateway_nodes();
        let mut gateway_to_two = TcpStream::connect(addr_of(&gateway_nodes, 2))
            .await
            .unwrap();
        let catalog_link: SocketAddr = mesh.catalog_for(2).unwrap().parse().unwrap();
        let mut two_to_catalog = TcpStream::connect(catalog_link).await.unwrap();
        for stream in [&mut one_to_two, &mut gateway_to_two, &mut two_to_catalog] {
            assert!(round_trip(stream, b"hi").await.is_some());
        }

        // The leader cut from the gateway only: peers and catalog still pass.
        mesh.cut(End::Gateway, End::Node(2), LinkMode::Blackhole);
        assert!(!mesh.healed());
        assert_eq!(round_trip(&mut gateway_to_two, b"hi").await, None);
        assert!(round_trip(&mut one_to_two, b"hi").await.is_some());
        assert!(round_trip(&mut two_to_catalog, b"hi").await.is_some());
        mesh.heal();
        assert!(mesh.healed());
        let mut late = [0u8; 2];
        tokio::time::timeout(Duration::from_secs(2), gateway_to_two.read_exact(&mut late))
            .await
            .unwrap()
            .unwrap();

        // An isolated node loses its peers, the gateway and the catalog.
        mesh.isolate(2, LinkMode::Blackhole);
        for stream in [&mut one_to_two, &mut gateway_to_two, &mut two_to_catalog] {
            assert_eq!(round_trip(stream, b"hi").await, None);
        }
        mesh.heal();

        // A split touches node-to-node links only.
        assert_eq!(mesh.set(LinkMode::Pass, |_, _| true), 6);
        mesh.split(&[2], LinkMode::Reset);
        let reset = mesh
            .links
            .values()
            .filter(|l| l.mode() == LinkMode::Reset)
            .count();
        assert_eq!(reset, 2);
    }
}
