//! `membership`: Raft membership changes under load, through the leader's admin routes
//! (`/cluster/learners`, `/cluster/membership`; the harness calls as the admin). Either a
//! voter is taken out of the voters and put back when the fault heals (its process keeps
//! running), or a fresh node is started on one of the mesh's spare ports (its links
//! proxied like every other node's), added as a learner and promoted, and when the fault
//! heals an old voter is removed and stopped for good.

use std::collections::BTreeSet;

use anyhow::ensure;
use rand::Rng;

use crate::nemesis::context::{blocking, Context};

/// A membership change in progress.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Held {
    /// This node is out of the voters (and of the membership), still running.
    Removed(u64),
    /// `added` joined the voters; `retiring` leaves them when the fault heals.
    Replacing { added: u64, retiring: u64 },
}

/// The voters the leader reports.
async fn voters(ctx: &Context<'_>) -> anyhow::Result<BTreeSet<u64>> {
    let status = ctx.on_leader("read the membership", |c| async move { c.status().await });
    Ok(status.await?.voters.into_iter().collect())
}

async fn set_voters(ctx: &Context<'_>, voters: &BTreeSet<u64>) -> anyhow::Result<()> {
    let list: Vec<u64> = voters.iter().copied().collect();
    ctx.on_leader(&format!("make {list:?} the voters"), |client| {
        let list = list.clone();
        async move { client.change_membership(list).await }
    })
    .await?;
    Ok(())
}

/// Adds node `id` as a learner. Its membership address is the gateway's proxied link to it
/// when the mesh has one: the gateway learns added nodes from the membership.
async fn add_learner(ctx: &Context<'_>, id: u64) -> anyhow::Result<()> {
    let addr = match ctx.mesh.gateway_link(id) {
        Some(link) => link.to_string(),
        None => ctx.cluster.node_addr(id),
    };
    ctx.on_leader(&format!("add node-{id} as a learner"), |client| {
        let addr = addr.clone();
        async move { client.add_learner(id, &addr).await }
    })
    .await?;
    Ok(())
}

pub(crate) async fn start(ctx: &mut Context<'_>) -> anyhow::Result<(Held, String)> {
    let mut current = voters(ctx).await?;
    ensure!(current.len() >= 2, "too few voters to change: {current:?}");
    let list: Vec<u64> = current.iter().copied().collect();
    let old = ctx.pick(&list);
    let added = ctx.highest_id + 1;
    // A fresh node takes a port the mesh set aside, so its links are proxied like the
    // others'; once those are used up, only voters are taken out and put back.
    let spare = ctx.mesh.port(added);
    if ctx.rng.random_bool(0.5) || spare.is_none() {
        current.remove(&old);
        set_voters(ctx, &current).await?;
        return Ok((Held::Removed(old), format!("node-{old} out of the voters")));
    }
    ctx.highest_id = added;
    let peers = ctx.mesh.peers_for(added);
    blocking(|| {
        ctx.cluster
            .add_node_at(added, spare.unwrap_or_default(), peers)
    })?;
    add_learner(ctx, added).await?;
    current.insert(added);
    set_voters(ctx, &current).await?;
    let target = format!("node-{added} added and promoted, node-{old} to be removed");
    Ok((
        Held::Replacing {
            added,
            retiring: old,
        },
        target,
    ))
}

pub(crate) async fn heal(ctx: &mut Context<'_>, held: Held) -> anyhow::Result<()> {
    let mut current = voters(ctx).await?;
    match held {
        Held::Removed(id) => {
            add_learner(ctx, id).await?;
            current.insert(id);
            set_voters(ctx, &current).await
        }
        Held::Replacing { added, retiring } => {
            ensure!(
                current.contains(&added),
                "node-{added} is not a voter: {current:?}"
            );
            current.remove(&retiring);
            set_voters(ctx, &current).await?;
            blocking(|| ctx.cluster.remove_node(retiring))
        }
    }
}
