//! `disk`: a node's fsync fails. Every node runs under libfiu; `fiu-ctrl` turns on the
//! failure of `posix/io/sync/*` (fsync, fdatasync) and `linux/io/sync_file_range` (EIO) in
//! one running node. The node must fail-stop: by the end of the interval it has exited,
//! unless no write came its way. A node still up that stopped Raft, or whose acknowledged
//! log grew, did not: the heal reports that as an error. Healing restarts it without the
//! fault, on its store.

use anyhow::{bail, Context as _};
use rand::Rng;
use testkit::Member;
use toystore_api::node::Role;

use crate::nemesis::context::{blocking, Context};

/// A node whose fsync fails.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    node: u64,
    /// Its last acknowledged (flushed) log index once the fault was on.
    index: Option<u64>,
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
    let output = blocking(|| testkit::fiu::fail_syncs(&prefix, pid))
        .context("run fiu-ctrl (apt-get install fiu-utils)")?;
    // fiu-ctrl exits 0 even when the command failed; it says so on stdout.
    let said = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || said.contains("rror") {
        bail!("fiu-ctrl on node-{node} (pid {pid}): {said}");
    }
    // Read after the fault is on: any later append had to be flushed, and failed.
    let index = ctx.status(node).await.ok().and_then(|s| s.last_log_index);
    let target = format!("node-{node} fsync and sync_file_range fail (EIO)");
    Ok((Held { node, index }, target))
}

/// Says how the node stopped, restarts it without the fault, and fails if it did not
/// fail-stop.
pub(crate) async fn heal(ctx: &mut Context<'_>, held: Held) -> anyhow::Result<String> {
    let node = held.node;
    let member = Member::Node(node);
    let verdict = if ctx.cluster.is_running(member) {
        match ctx.status(node).await {
            Ok(status) if status.state == Role::Shutdown => {
                Err(format!("node-{node} stopped Raft but kept running"))
            }
            Ok(status) if grew(held.index, status.last_log_index) => Err(format!(
                "node-{node} acknowledged log entries {:?} to {:?} with a failing disk",
                held.index, status.last_log_index
            )),
            Ok(_) => Ok(format!("node-{node} met no write to fail on")),
            Err(_) => Ok(format!("node-{node} stopped answering")),
        }
    } else {
        Ok(format!("node-{node} failed and exited"))
    };
    blocking(|| ctx.cluster.restart(member))?;
    let note = verdict.map_err(|e| anyhow::anyhow!("{e}: no fail-stop"))?;
    Ok(format!("{note}; restarted without the fault"))
}

/// Whether a log known to end at `before` ends later at `after`.
fn grew(before: Option<u64>, after: Option<u64>) -> bool {
    matches!((before, after), (Some(before), Some(after)) if after > before)
}
