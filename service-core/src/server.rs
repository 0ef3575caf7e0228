//! Binding, signals and graceful shutdown, the same for every service.
//!
//! The contract wants the first log line to be `listening on <addr>` (so port 0 works for
//! tests), and SIGTERM/SIGINT to stop the process within 5 s: stop accepting, let in-flight
//! requests finish, then return so `main` can flush its store.

use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use axum::{Router, ServiceExt};
use tokio::net::TcpListener;
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

/// Serves `router` until `shutdown` is cancelled, then gives in-flight requests
/// [`SHUTDOWN_GRACE`] to finish. Long-lived streams should watch `shutdown` themselves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let service = ServiceExt::<Request>::into_make_service(crate::routes::tolerant(router));
    let graceful =
        axum::serve(listener, service).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tokio::select! {
        result = graceful => result.context("server failed")?,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!("in-flight requests still open after {SHUTDOWN_GRACE:?}; closing them");
        }
    }
    Ok(())
}
