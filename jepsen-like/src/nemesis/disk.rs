//! `disk`: a node's fsync fails. Every node runs under libfiu; `fiu-ctrl` turns on the
//! failure of `posix/io/sync/*` (fsync, fdatasync: EIO) in one running node. The node must
//! fail-stop: it may not acknowledge an append or a vote it could not make durable, so by
//! the end of the interval it has exited, or stopped Raft, or at least fallen behind.
//! Healing restarts it without the fault, on its store.

use std::process::Command;

use anyhow::{bail, Context as _};
use rand::Rng;
use testkit::Member;
use toystore_api::node::Role;

use crate::nemesis::context::{blocking, Context};

/// A node whose fsync fails.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    node: u64,
}

pub(crate) async fn start(ctx: &mut Context<'_>) -> anyhow::Result<(Held, String)> {
    let prefix = ctx
        .setup
        .fiu_prefix()
        .context("nodes do not run under libfiu in this run")?
        .to_path_buf();
    let node = if ctx.rng.random_bool(0.5) {
        ctx.leader_or_random().await
    } else {
        ctx.random_node()
    };
    let pid = ctx
        .cluster
        .process(Member::Node(node))?
        .pid()
        .with_context(|| format!("node-{node} is not running"))?;
    let output = blocking(|| {
        Command::new("fiu-ctrl")
            .arg("-f")
            .arg(&prefix)
            .args(["-c", "enable name=posix/io/sync/*,failinfo=5"])
            .arg(pid.to_string())
            .output()
    })
    .context("run fiu-ctrl (apt-get install fiu-utils)")?;
    // fiu-ctrl exits 0 even when the command failed; it says so on stdout.
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() || said.contains("rror") {
        bail!("fiu-ctrl on node-{node} (pid {pid}): {said}");
    }
    Ok((Held { node }, format!("node-{node} fsync fails (EIO)")))
}

/// Says how the node stopped, then restarts it without the fault.
pub(crate) async fn heal(ctx: &mut Context<'_>, held: Held) -> anyhow::Result<String> {
    let node = held.node;
    let member = Member::Node(node);
    let state = if !ctx.cluster.is_running(member) {
        "had exited".to_string()
    } else {
        match ctx.status(node).await {
            Ok(status) if status.state == Role::Shutdown => "had stopped Raft".to_string(),
            Ok(status) => format!("was still running as {:?}", status.state),
            Err(_) => "no longer answered".to_string(),
        }
    };
    blocking(|| ctx.cluster.restart(member))?;
    Ok(format!("node-{node} {state}; restarted without the fault"))
}
