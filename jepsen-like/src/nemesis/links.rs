//! Faults of links, through the proxies on every link: `partition` (cut links, by
//! blackholing or resetting them), `slow` (50 to 200 ms per chunk) and `flaky` (a share of
//! connections dropped, some chunks stalled), each on a shape of links drawn at random.
//! Healing sets every link back to passing.

use rand::Rng;

use crate::nemesis::context::Context;
use crate::proxy::{End, LinkMode};

/// Cuts links in one of the shapes: a node isolated from everything; the leader's
/// outbound node links; a minority split off; the leader cut from the gateway only; the
/// catalog cut from the leader only; the catalog cut from every node; the catalog cut from
/// the gateway (its reads and its invalidation stream).
pub(crate) async fn partition(ctx: &mut Context<'_>) -> anyhow::Result<String> {
    let (mode, how) = if ctx.rng.random_bool(0.5) {
        (LinkMode::Blackhole, "blackhole")
    } else {
        (LinkMode::Reset, "reset")
    };
    let nodes = ctx.meshed_nodes();
    anyhow::ensure!(!nodes.is_empty(), "no node on the proxy mesh");
    let random = ctx.pick(&nodes);
    // Shapes about the leader need it on the mesh.
    let leader = ctx.cluster.leader().await.filter(|l| nodes.contains(l));
    let shape = match leader {
        Some(_) => ctx.rng.random_range(0..7),
        None => ctx.pick(&[0, 2, 5, 6]),
    };
    let leader = leader.unwrap_or(random);
    let target = match shape {
        0 => {
            ctx.mesh.isolate(random, mode);
            format!("node-{random} isolated")
        }
        1 => {
            // One way only: the leader hears the others but cannot reach them.
            for &other in nodes.iter().filter(|n| **n != leader) {
                ctx.mesh.cut(End::Node(leader), End::Node(other), mode);
            }
            format!("node-{leader} outbound to nodes cut")
        }
        2 => {
            let mut shuffled = nodes.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, ctx.rng.random_range(0..=i));
            }
            shuffled.truncate((nodes.len() - 1) / 2);
            ctx.mesh.split(&shuffled, mode);
            format!("minority {shuffled:?} split off")
        }
        3 => {
            ctx.mesh.cut(End::Gateway, End::Node(leader), mode);
            format!("leader node-{leader} cut from the gateway")
        }
        4 => {
            ctx.mesh.cut(End::Node(leader), End::Catalog, mode);
            format!("catalog cut from leader node-{leader}")
        }
        5 => {
            ctx.mesh.set(mode, |from, to| {
                matches!((from, to), (End::Node(_), End::Catalog))
            });
            "catalog cut from every node".to_string()
        }
        _ => {
            ctx.mesh.cut(End::Gateway, End::Catalog, mode);
            "catalog cut from the gateway".to_string()
        }
    };
    Ok(format!("{target} ({how})"))
}

/// Which links a `slow` or `flaky` fault covers, drawn at random; returns its name.
fn degrade(ctx: &mut Context<'_>, mode: LinkMode) -> String {
    let nodes = ctx.meshed_nodes();
    let node = if nodes.is_empty() {
        None
    } else {
        Some(ctx.pick(&nodes))
    };
    match (ctx.rng.random_range(0..4), node) {
        (0, Some(id)) => {
            let node = End::Node(id);
            ctx.mesh.set(mode, |from, to| from == node || to == node);
            format!("every link of node-{id}")
        }
        (1, _) => {
            ctx.mesh.set(mode, |from, _| from == End::Gateway);
            "gateway to nodes and catalog".to_string()
        }
        (2, _) => {
            ctx.mesh.set(mode, |_, to| to == End::Catalog);
            "nodes to catalog".to_string()
        }
        _ => {
            ctx.mesh.set(mode, |_, _| true);
            "every link".to_string()
        }
    }
}

/// Adds 50 to 200 ms to every chunk on some links.
pub(crate) fn slow(ctx: &mut Context<'_>) -> String {
    let mode = LinkMode::Slow {
        min_ms: 50,
        max_ms: 200,
    };
    format!("{} (50-200 ms a chunk)", degrade(ctx, mode))
}

/// Drops 10 to 30% of connections (and stalls some chunks) on some links.
pub(crate) fn flaky(ctx: &mut Context<'_>) -> String {
    let drop = ctx.rng.random_range(0.1..=0.3);
    let mode = LinkMode::Flaky { drop };
    format!("{} ({:.0}% dropped)", degrade(ctx, mode), drop * 100.0)
}

/// Every link passes again.
pub(crate) fn heal(ctx: &Context<'_>) -> anyhow::Result<()> {
    ctx.mesh.heal();
    anyhow::ensure!(ctx.mesh.healed(), "a link still does not pass");
    Ok(())
}
