//! A proxy on every link of a cluster the harness starts, so the nemesis can cut, slow or
//! break any of them without root: node i dials peer j through link i->j (its `--peers`
//! says so), the catalog through link i->catalog (its `--catalog`), and the gateway dials
//! node j through link gateway->j (its `--nodes`, or the membership address of a node
//! added later) and the catalog through link gateway->catalog. Spare node ids get their
//! links up front, for the nodes the `membership` fault adds.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Every node the mesh has links for: the first ones and the spares.
    ports: BTreeMap<u64, u16>,
    /// The nodes started with the cluster (the rest are spares, for nodes added later).
    initial: BTreeSet<u64>,
    links: BTreeMap<(End, End), LinkProxy>,
}

impl ProxyMesh {
    /// Proxies for every link i->j (i != j) between nodes listening on `ports` and on
    /// `spares` (ports set aside for nodes a fault adds later), from the gateway to each
    /// node and to the catalog at `catalog`, and from each node to the catalog.
    pub(crate) async fn start(
        ports: &BTreeMap<u64, u16>,
        spares: &BTreeMap<u64, u16>,
        catalog: SocketAddr,
    ) -> anyhow::Result<ProxyMesh> {
        let all: BTreeMap<u64, u16> = ports.iter().chain(spares).map(|(i, p)| (*i, *p)).collect();
        let mut links = BTreeMap::new();
        for (&to, &port) in &all {
            let node: SocketAddr = ([127, 0, 0, 1], port).into();
            for &from in all.keys().filter(|from| **from != to) {
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
        links.insert(
            (End::Gateway, End::Catalog),
            LinkProxy::start(catalog).await?,
        );
        Ok(ProxyMesh {
            ports: all,
            initial: ports.keys().copied().collect(),
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

    /// The gateway's `--nodes`: every node it starts with, through the gateway's link to it.
    pub(crate) fn gateway_nodes(&self) -> String {
        self.initial
            .iter()
            .filter_map(|&id| Some(format!("{id}={}", self.gateway_link(id)?)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The gateway's link to node `id`. A node added later is put in the membership at
    /// this address, so the gateway, which learns new nodes from the membership, dials
    /// it through its own link (the nodes dial it through theirs, named in `--peers`).
    pub(crate) fn gateway_link(&self, id: u64) -> Option<SocketAddr> {
        Some(self.links.get(&(End::Gateway, End::Node(id)))?.addr())
    }

    /// The gateway's `--catalog`: its link to the catalog.
    pub(crate) fn gateway_catalog(&self) -> String {
        self.links[&(End::Gateway, End::Catalog)].addr().to_string()
    }

    /// `--bootstrap-voters` for the first node: the nodes started with the cluster.
    pub(crate) fn initial_voters(&self) -> String {
        let ids: Vec<String> = self.initial.iter().map(u64::to_string).collect();
        ids.join(",")
    }

    /// The port set aside for node `id`, if the mesh has one.
    pub(crate) fn port(&self, id: u64) -> Option<u16> {
        self.ports.get(&id).copied()
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
        let mesh = ProxyMesh::start(&ports, &BTreeMap::new(), catalog)
            .await
            .unwrap();
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

        // The gateway's own link to the catalog is cut alone too.
        let mut gateway_to_catalog = TcpStream::connect(mesh.gateway_catalog()).await.unwrap();
        assert!(round_trip(&mut gateway_to_catalog, b"hi").await.is_some());
        mesh.cut(End::Gateway, End::Catalog, LinkMode::Blackhole);
        assert_eq!(round_trip(&mut gateway_to_catalog, b"hi").await, None);
        assert!(round_trip(&mut two_to_catalog, b"hi").await.is_some());
        mesh.heal();

        // A split touches node-to-node links only.
        assert_eq!(mesh.set(LinkMode::Pass, |_, _| true), 7);
        mesh.split(&[2], LinkMode::Reset);
        let reset = mesh
            .links
            .values()
            .filter(|l| l.mode() == LinkMode::Reset)
            .count();
        assert_eq!(reset, 2);
    }

    #[tokio::test]
    async fn a_spare_node_is_meshed_but_neither_bootstrapped_nor_seeded() {
        let catalog = echo_server().await;
        let ports: BTreeMap<u64, u16> = [(1, 7101), (2, 7102)].into();
        let spares: BTreeMap<u64, u16> = [(3, 7103)].into();
        let mesh = ProxyMesh::start(&ports, &spares, catalog).await.unwrap();
        let peers = mesh.peers_for(1);
        assert_eq!(peers.split(',').count(), 3, "{peers}");
        assert_ne!(
            addr_of(&peers, 3).port(),
            7103,
            "node 1 reaches 3 by its link"
        );
        let gateway_nodes = mesh.gateway_nodes();
        assert_eq!(gateway_nodes.split(',').count(), 2, "{gateway_nodes}");
        assert_eq!(mesh.initial_voters(), "1,2");
        assert_eq!(mesh.port(3), Some(7103));
        assert!(mesh.gateway_link(3).is_some());
        assert!(mesh.catalog_for(3).is_some());
        // 3 nodes: 6 node links, 3 gateway links, 3 catalog links, the gateway's catalog link.
        assert_eq!(mesh.set(LinkMode::Pass, |_, _| true), 13);
    }
}
