//! Binding, signals and graceful shutdown, the same for every service.
//!
//! The contract wants the first log line to be `listening on <addr>` (so port 0 works for
//! tests), and SIGTERM/SIGINT to stop the process within 5 s: stop accepting, let in-flight
//! requests finish, then return so `main` can flush its store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long in-flight requests get after a shutdown signal before the server stops waiting.
/// Below the contract's 5 s so the store flush after it still fits.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Binds `listen` (`host:port`, port 0 for any) and logs `listening on <addr>`.
pub async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on {addr}");
    Ok(listener)
}

/// Turns `run`'s result into the process exit code, printing a failure as one line
/// (the contract's "exits non-zero with a one-line reason").
pub fn exit_code(service: &str, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{service}: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A token cancelled on the first SIGTERM or SIGINT.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
        }
        trigger.cancel();
    });
    token
}

/// Limits on connections, the same flags for every service.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitFlags {
    /// Connections served at once; a connection over the cap is closed at once, so idle
    /// or slow clients cannot use up the process's file descriptors.
    #[arg(long, env = "TOYSTORE_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Time a client has to send a request's headers (and the TLS handshake), counted
    /// from when the connection is idle; it also closes idle keep-alive connections.
    #[arg(long, env = "TOYSTORE_HEADER_TIMEOUT", default_value = "30s",
          value_parser = crate::flags::positive_duration)]
    pub header_timeout: Duration,
}

/// The default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8192;

impl Default for LimitFlags {
    fn default() -> Self {
        LimitFlags {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// How a listener serves: TLS or not, and its limits.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// TLS on the listener, when set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connection limits.
    pub limits: LimitFlags,
}

/// Serves `router` until `shutdown` is cancelled, then gives in-flight requests
/// [`SHUTDOWN_GRACE`] to finish. Long-lived streams should watch `shutdown` themselves.
///
/// Connections are served by hyper directly (not `axum::serve`) so that the header read
/// timeout, the connection cap and TLS apply to every service alike.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    options: ServeOptions,
) -> anyhow::Result<()> {
    raise_fd_limit();
    let service = TowerToHyperService::new(crate::routes::tolerant(router));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(options.limits.header_timeout));
    let builder = Arc::new(builder);
    let acceptor = options.tls.map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(options.limits.max_connections as usize));
    let handshake_limit = options.limits.header_timeout;
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of descriptors or a peer that reset before accept: back off a
                    // little rather than spin.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection cap reached; closing the new connection");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (builder, service, watcher) = (builder.clone(), service.clone(), graceful.watcher());
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let served = match acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(handshake_limit, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(err)) => {
                                tracing::debug!(%peer, "TLS handshake failed: {err}");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(err) = served {
                tracing::debug!(%peer, "connection ended: {err}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests still open after {SHUTDOWN_GRACE:?}; closing them");
    }
    Ok(())
}

/// Lifts the soft limit on open files to the hard one: every connection is a descriptor,
/// and the usual soft limit of 1024 would cap a service far below `--max-connections`.
fn raise_fd_limit() {
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::debug!("could not raise the open-file limit: {err}");
    }
}
