//! `snapshot`: a follower falls behind (killed, or isolated on the proxies) while the
//! cluster runs with a small snapshot threshold; when the fault heals, the leader builds a
//! snapshot and purges its log, and the follower is let back: it can only catch up by
//! installing that snapshot, which the heal waits for.

use std::time::Duration;

use anyhow::ensure;
use rand::Rng;
use testkit::Member;

use crate::nemesis::context::{blocking, Context};
use crate::proxy::LinkMode;

/// How long the follower gets to install the snapshot and catch up.
const CATCH_UP: Duration = Duration::from_secs(30);

/// A follower held behind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    node: u64,
    killed: bool,
    /// Its last applied index when it fell behind.
    applied: u64,
}

pub(crate) async fn start(ctx: &mut Context<'_>) -> anyhow::Result<(Held, String)> {
    let leader = ctx.cluster.leader().await;
    let followers: Vec<u64> = ctx
        .cluster
        .node_ids()
        .into_iter()
        .filter(|id| Some(*id) != leader)
        .collect();
    ensure!(!followers.is_empty(), "no follower to hold behind");
    let node = ctx.pick(&followers);
    let applied = ctx.status(node).await?.last_applied.unwrap_or(0);
    // A node off the mesh (added once the spares ran out) can only be held behind by a kill.
    let killed = ctx.mesh.port(node).is_none() || ctx.rng.random_bool(0.5);
    if killed {
        blocking(|| ctx.cluster.kill(Member::Node(node)))?;
    } else {
        // Reset rather than blackholed: a replication stream stuck mid-read would postpone
        // the leader's purge, and the follower would catch up from the log instead.
        ctx.mesh.isolate(node, LinkMode::Reset);
    }
    let how = if killed { "killed" } else { "isolated" };
    let held = Held {
        node,
        killed,
        applied,
    };
    Ok((held, format!("node-{node} behind a snapshot ({how})")))
}

/// Snapshots the leader, lets the follower back, and waits until it has caught up with
/// that snapshot; says whether it installed it (rather than replaying a log the leader
/// had not purged yet, which openraft postpones while a replication reads it).
pub(crate) async fn heal(ctx: &mut Context<'_>, held: Held) -> anyhow::Result<String> {
    let snapshot = ctx
        .on_leader("build a snapshot", |client| async move {
            client.snapshot().await
        })
        .await;
    // Let the follower back whatever happened, then report.
    if held.killed {
        blocking(|| ctx.cluster.restart(Member::Node(held.node)))?;
    } else {
        ctx.mesh.heal();
    }
    let index = snapshot?.snapshot_index.unwrap_or(0);
    if index <= held.applied {
        return Ok("nothing committed meanwhile, no snapshot to install".to_string());
    }
    let node = held.node;
    let client = ctx.cluster.node_client(node);
    let status = testkit::wait_until_async(
        &format!("node-{node} to catch up with the snapshot at {index}"),
        CATCH_UP,
        || async {
            let status = client.status().await.ok()?;
            (status.last_applied? >= index).then_some(status)
        },
    )
    .await?;
    Ok(if status.snapshot_index >= Some(index) {
        format!("node-{node} installed a snapshot at {index} or later")
    } else {
        format!("node-{node} caught up from the log (purge at {index} postponed)")
    })
}
