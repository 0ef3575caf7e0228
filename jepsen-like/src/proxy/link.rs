//! One directed link as a TCP proxy on a loopback port, and what the nemesis can make of
//! it ([`LinkMode`]): pass bytes; blackhole them (connections stay open, bytes are held
//! until the link passes again, as on a network that drops packets and then heals);
//! reset (every connection is closed and new ones are closed at once); slow (every chunk
//! waits a random latency); or flaky (a share of connections is dropped, some chunks
//! stall). This kernel has no `tc netem`, so latency and loss are made here.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LinkMode {
    Pass,
    Blackhole,
    Reset,
    /// Each chunk is held a random time between the two bounds, in milliseconds.
    Slow {
        min_ms: u64,
        max_ms: u64,
    },
    /// A new connection is refused with probability `drop`; an open one is closed at a
    /// chunk with probability `drop / 10`, and stalls for 1 to 2 s as often.
    Flaky {
        drop: f64,
    },
}

impl LinkMode {
    /// Whether bytes move at all (perhaps late) in this mode.
    fn moves(self) -> bool {
        !matches!(self, LinkMode::Blackhole | LinkMode::Reset)
    }
}

/// What to do with one chunk read under the current mode.
#[derive(Debug, PartialEq)]
enum ChunkFate {
    Forward,
    /// Forward after this long.
    Delay(Duration),
    /// Close the connection.
    Drop,
}

fn chunk_fate(mode: LinkMode, rng: &mut impl Rng) -> ChunkFate {
    match mode {
        LinkMode::Slow { min_ms, max_ms } => ChunkFate::Delay(Duration::from_millis(
            rng.random_range(min_ms..=max_ms.max(min_ms)),
        )),
        LinkMode::Flaky { drop } => {
            let roll = rng.random::<f64>();
            if roll < drop / 10.0 {
                ChunkFate::Drop
            } else if roll < drop / 5.0 {
                ChunkFate::Delay(Duration::from_millis(rng.random_range(1000..=2000)))
            } else {
                ChunkFate::Forward
            }
        }
        _ => ChunkFate::Forward,
    }
}

/// Whether a connection arriving under `mode` is closed at once.
fn refuse(mode: LinkMode, rng: &mut impl Rng) -> bool {
    match mode {
        LinkMode::Reset => true,
        LinkMode::Flaky { drop } => rng.random::<f64>() < drop,
        _ => false,
    }
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
                let current = *watch.borrow();
                if refuse(current, &mut rand::rng()) {
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

    pub(crate) fn mode(&self) -> LinkMode {
        *self.mode.borrow()
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

/// Copies bytes one way while the link moves them, late if it is slow; holds them while it
/// is blackholed; returns (closing the connection) when it resets, when a flaky link drops
/// it, or when either side closes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<LinkMode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_until_moving(&mut mode).await {
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
        // Bytes read while moving may meet a blackhole before they are written: hold them.
        if !wait_until_moving(&mut mode).await {
            return;
        }
        let fate = chunk_fate(*mode.borrow(), &mut rand::rng());
        match fate {
            ChunkFate::Forward => {}
            ChunkFate::Delay(delay) => tokio::time::sleep(delay).await,
            ChunkFate::Drop => return,
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Waits while blackholed; false when the link resets (or the proxy is gone).
async fn wait_until_moving(mode: &mut watch::Receiver<LinkMode>) -> bool {
    loop {
        let current = *mode.borrow_and_update();
        if current.moves() {
            return true;
        }
        if current == LinkMode::Reset || mode.changed().await.is_err() {
            return false;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::time::Instant;

    pub(crate) async fn echo_server() -> SocketAddr {
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

    pub(crate) async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> Option<Vec<u8>> {
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
    async fn a_slow_link_delays_every_chunk_both_ways() {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        proxy.set_mode(LinkMode::Slow {
            min_ms: 60,
            max_ms: 80,
        });
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let started = Instant::now();
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(120),
            "one delay each way: {:?}",
            started.elapsed()
        );
        proxy.set_mode(LinkMode::Pass);
        assert_eq!(proxy.mode(), LinkMode::Pass);
    }

    #[test]
    fn a_flaky_link_refuses_drops_and_stalls_a_share() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let flaky = LinkMode::Flaky { drop: 0.5 };
        let refused = (0..1000).filter(|_| refuse(flaky, &mut rng)).count();
        assert!((400..600).contains(&refused), "{refused}");
        let fates: Vec<ChunkFate> = (0..1000).map(|_| chunk_fate(flaky, &mut rng)).collect();
        let dropped = fates.iter().filter(|f| **f == ChunkFate::Drop).count();
        let stalled = fates
            .iter()
            .filter(|f| matches!(f, ChunkFate::Delay(d) if *d >= Duration::from_secs(1)))
            .count();
        assert!((20..90).contains(&dropped), "{dropped}");
        assert!((20..90).contains(&stalled), "{stalled}");
        assert!(!refuse(LinkMode::Pass, &mut rng));
        assert!(refuse(LinkMode::Reset, &mut rng));
        assert_eq!(chunk_fate(LinkMode::Pass, &mut rng), ChunkFate::Forward);
    }
}
