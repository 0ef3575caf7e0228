//! TCP proxies on the node-to-node links, so the nemesis can partition the cluster without
//! root: node i dials peer j through the proxy of link i->j (its `--peers` says so).
//!
//! A link passes bytes, blackholes them (connections stay open, bytes are held until the
//! link passes again, as on a network that drops packets and then heals), or resets
//! (every connection on it is closed and new ones are closed at once).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkMode {
    Pass,
    Blackhole,
    Reset,
}

/// One directed link: listens on a loopback port, forwards to `target`.
pub(crate) struct LinkProxy {
    addr: SocketAddr,
    mode: watch::Sender<LinkMode>,
    accept: JoinHandle<()>,
}

impl LinkProxy {
    pub(crate) async fn start(target: SocketAddr) -> anyhow::Result<LinkProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind proxy")?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(LinkMode::Pass);
        let modes = mode.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let watch = modes.subscribe();
                if *watch.borrow() == LinkMode::Reset {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(forward(inbound, target, watch));
            }
        });
        Ok(LinkProxy { addr, mode, accept })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn set_mode(&self, mode: LinkMode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.mode.send_replace(LinkMode::Reset);
    }
}

async fn forward(inbound: TcpStream, target: SocketAddr, mode: watch::Receiver<LinkMode>) {
    let Ok(outbound) = TcpStream::connect(target).await else {
        return; // the peer is down: the caller sees its connection closed
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::select! {
        _ = pump(in_read, out_write, mode.clone()) => {}
        _ = pump(out_read, in_write, mode) => {}
    }
    // Leaving drops all four halves: both connections close.
}

/// Copies bytes one way while the link passes; holds them while it is blackholed;
/// returns (closing the connection) when it resets or either side closes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<LinkMode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_for_pass(&mut mode).await {
            return;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = mode.changed() => {
                if changed.is_err() { return; }
                continue;
            }
        };
        // Bytes read under Pass may meet a blackhole before they are written: hold them.
        if !wait_for_pass(&mut mode).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Waits while blackholed; false when the link resets (or the proxy is gone).
async fn wait_for_pass(mode: &mut watch::Receiver<LinkMode>) -> bool {
    loop {
        let current = *mode.borrow_and_update();
        match current {
            LinkMode::Pass => return true,
            LinkMode::Reset => return false,
            LinkMode::Blackhole => {
                if mode.changed().await.is_err() {
                    return false;
                }
            }
        }
    }
}

/// One proxy per directed link between the nodes of a cluster.
pub(crate) struct ProxyMesh {
    ports: BTreeMap<u64, u16>,
    links: BTreeMap<(u64, u64), LinkProxy>,
}

impl ProxyMesh {
    /// Proxies for every link i->j (i != j) of nodes listening on `ports`.
    pub(crate) async fn start(ports: &BTreeMap<u64, u16>) -> anyhow::Result<ProxyMesh> {
        let mut links = BTreeMap::new();
        for &from in ports.keys() {
            for (&to, &port) in ports {
                if from != to {
                    let target: SocketAddr = ([127, 0, 0, 1], port).into();
                    links.insert((from, to), LinkProxy::start(target).await?);
                }
            }
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
            .map(|(&peer, &port)| {
                if peer == id {
                    format!("{peer}=127.0.0.1:{port}")
                } else {
                    format!("{peer}={}", self.links[&(id, peer)].addr())
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Sets the link `from -> to`.
    pub(crate) fn cut(&self, from: u64, to: u64, mode: LinkMode) {
        if let Some(link) = self.links.get(&(from, to)) {
            link.set_mode(mode);
        }
    }

    /// Cuts every link to and from `id`.
    pub(crate) fn isolate(&self, id: u64, mode: LinkMode) {
        for (&(from, to), link) in &self.links {
            if from == id || to == id {
                link.set_mode(mode);
            }
        }
    }

    /// Cuts every link between `side` and the rest, both ways.
    pub(crate) fn split(&self, side: &[u64], mode: LinkMode) {
        for (&(from, to), link) in &self.links {
            if side.contains(&from) != side.contains(&to) {
                link.set_mode(mode);
            }
        }
    }

    /// Every link passes again.
    pub(crate) fn heal(&self) {
        for link in self.links.values() {
            link.set_mode(LinkMode::Pass);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> Option<Vec<u8>> {
        stream.write_all(text).await.ok()?;
        let mut buf = vec![0u8; text.len()];
        match tokio::time::timeout(Duration::from_millis(300), stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => Some(buf),
            _ => None,
        }
    }

    #[tokio::test]
    async fn passes_holds_and_resets() {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(
            round_trip(&mut stream, b"one").await.as_deref(),
            Some(&b"one"[..])
        );

        proxy.set_mode(LinkMode::Blackhole);
        assert_eq!(
            round_trip(&mut stream, b"two").await,
            None,
            "held while blackholed"
        );
        proxy.set_mode(LinkMode::Pass);
        let mut held = [0u8; 3];
        tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut held))
            .await
            .expect("held bytes arrive after healing")
            .unwrap();
        assert_eq!(&held, b"two");

        proxy.set_mode(LinkMode::Reset);
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "reset closes the connection"
        );
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(
            round_trip(&mut fresh, b"x").await,
            None,
            "new connections are closed too"
        );
    }

    #[tokio::test]
    async fn a_mesh_routes_peers_through_links_and_isolates() {
        let a = echo_server().await;
        let b = echo_server().await;
        let ports: BTreeMap<u64, u16> = [(1, a.port()), (2, b.port())].into();
        let mesh = ProxyMesh::start(&ports).await.unwrap();
        let peers = mesh.peers_for(1);
        assert!(
            peers.starts_with(&format!("1=127.0.0.1:{}", a.port())),
            "{peers}"
        );
        let link: SocketAddr = peers.split(',').nth(1).unwrap()[2..].parse().unwrap();
        let mut stream = TcpStream::connect(link).await.unwrap();
        assert!(round_trip(&mut stream, b"hi").await.is_some());
        mesh.isolate(2, LinkMode::Blackhole);
        assert_eq!(round_trip(&mut stream, b"hi").await, None);
        mesh.heal();
        let mut late = [0u8; 2];
        tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut late))
            .await
            .unwrap()
            .unwrap();
    }
}
