//! Faults of whole processes: `kill` (SIGKILL a random node), `kill-leader`, `pause`
//! (SIGSTOP the leader or a random node), `kill-catalog` and `kill-gateway` (clients then
//! meet refused connections); each healed by a restart on the same address and store, or
//! by SIGCONT.

use rand::Rng;
use testkit::Member;

use crate::nemesis::context::{blocking, Context};
use crate::nemesis::fault::Fault;

/// A process fault in force.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Held {
    Killed(Member),
    Paused(Member),
}

/// Starts `fault`, one of [`Fault::PROCESSES`] but `clock`; returns what to heal and the
/// target's name.
pub(crate) async fn start(ctx: &mut Context<'_>, fault: Fault) -> anyhow::Result<(Held, String)> {
    let held = match fault {
        Fault::Kill => Held::Killed(Member::Node(ctx.random_node())),
        Fault::KillLeader => Held::Killed(Member::Node(ctx.leader_or_random().await)),
        Fault::Pause => {
            let target = if ctx.rng.random_bool(0.5) {
                ctx.leader_or_random().await
            } else {
                ctx.random_node()
            };
            Held::Paused(Member::Node(target))
        }
        Fault::KillCatalog => Held::Killed(Member::Catalog),
        Fault::KillGateway => Held::Killed(Member::Gateway),
        other => anyhow::bail!("{} is not a process fault", other.name()),
    };
    match held {
        Held::Killed(member) => {
            anyhow::ensure!(ctx.cluster.is_running(member), "{member} is not running");
            blocking(|| ctx.cluster.kill(member))?;
            Ok((held, member.to_string()))
        }
        Held::Paused(member) => {
            ctx.cluster.pause(member)?;
            Ok((held, member.to_string()))
        }
    }
}

/// Restarts or resumes what [`start`] stopped.
pub(crate) fn heal(ctx: &mut Context<'_>, held: Held) -> anyhow::Result<()> {
    match held {
        Held::Killed(member) => blocking(|| ctx.cluster.restart(member)),
        Held::Paused(member) => ctx.cluster.resume(member),
    }
}
