//! `clock`: the wall clock of the catalog or of a node jumps, forwards (up to 2 h) or
//! backwards (up to 1 h), through the libfaketime offset file the process was started
//! with; healing sets it back. The catalog's clock dates reservations, so a jump decides
//! which held reservations the reconciler takes for abandoned; timers and timeouts run on
//! the monotonic clock, which stays true.

use rand::Rng;

use crate::nemesis::context::Context;
use crate::nemesis::setup::write_atomically;

/// A clock that is off.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    file: std::path::PathBuf,
}

pub(crate) fn start(ctx: &mut Context<'_>) -> anyhow::Result<(Held, String)> {
    let name = if ctx.rng.random_bool(0.5) {
        "catalog".to_string()
    } else {
        format!("node-{}", ctx.random_node())
    };
    let file = ctx
        .setup
        .clock_file(&name)
        .ok_or_else(|| anyhow::anyhow!("clocks are not faked in this run"))?;
    let seconds: i64 = if ctx.rng.random_bool(0.5) {
        ctx.rng.random_range(30..=7200)
    } else {
        -ctx.rng.random_range(30..=3600)
    };
    write_atomically(&file, &format!("{seconds:+}"))?;
    Ok((Held { file }, format!("{name} clock {seconds:+} s")))
}

pub(crate) fn heal(held: &Held) -> anyhow::Result<()> {
    write_atomically(&held.file, "+0")
}
