//! Buys measured in windows, on one cluster or on several taken in turn (A B A B ...):
//! each cluster's median window, its slowest, its CPU per buy over its own windows, and
//! the CPU it used while it sat idle during the others' windows (which the others' figures
//! then carry).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use toystore_api::Transport;

use super::plan::CONNECTIONS;
use crate::bench::cpu::CpuTimes;
use crate::bench::etcd::{Targets, Workload};
use crate::loadgen::closed_loop;
use crate::stats::Summary;

/// One cluster to measure: where its gateway is and which processes are its own.
pub(super) struct Side<'a> {
    pub public: &'a Transport,
    pub targets: &'a Targets,
    pub pids: Vec<(String, u32)>,
}

/// What one cluster's windows came to.
pub(super) struct Buys {
    /// The window of median throughput.
    pub median: Summary,
    /// The slowest window's buys/s.
    pub slowest: f64,
    /// CPU µs per buy of each process, over this cluster's windows.
    pub cpu_us: BTreeMap<String, f64>,
    /// Buys that succeeded, in every window.
    pub ok: usize,
    /// Cores' worth of CPU this cluster used while the others' windows ran (`None`
    /// with no other cluster).
    pub idle_cores: Option<f64>,
}

/// Per side: its windows, its CPU while measured, its CPU and the wall time while idle.
#[derive(Default)]
struct Tally {
    windows: Vec<Summary>,
    busy: CpuTimes,
    idle: CpuTimes,
    idle_for: Duration,
}

/// `rounds` rounds; in each, one window of `window` on every side in order, at
/// [`CONNECTIONS`] connections.
pub(super) async fn alternate(
    sides: &[Side<'_>],
    rounds: usize,
    window: Duration,
) -> anyhow::Result<Vec<Buys>> {
    let mut tallies: Vec<Tally> = sides.iter().map(|_| Tally::default()).collect();
    for _ in 0..rounds.max(1) {
        for (measured, side) in sides.iter().enumerate() {
            let before: Vec<CpuTimes> = sides.iter().map(|s| CpuTimes::read(&s.pids)).collect();
            let started = Instant::now();
            let summary = closed_loop(
                CONNECTIONS,
                window,
                side.public,
                side.targets.toystore(Workload::Write),
            )
            .await?;
            let took = started.elapsed();
            for (index, (other, tally)) in sides.iter().zip(&mut tallies).enumerate() {
                let used = before[index].until(&CpuTimes::read(&other.pids));
                if index == measured {
                    tally.busy.add(&used);
                } else {
                    tally.idle.add(&used);
                    tally.idle_for += took;
                }
            }
            tallies[measured].windows.push(summary);
        }
    }
    Ok(tallies.into_iter().map(Tally::into_buys).collect())
}

impl Tally {
    fn into_buys(mut self) -> Buys {
        let ok = self.windows.iter().map(|w| w.ok).sum();
        self.windows
            .sort_by(|a, b| a.throughput.total_cmp(&b.throughput));
        let slowest = self.windows[0].throughput;
        let idle_cores =
            (!self.idle_for.is_zero()).then(|| self.idle.total() / self.idle_for.as_secs_f64());
        Buys {
            cpu_us: self.busy.per_op_us(ok),
            median: self.windows.swap_remove(self.windows.len() / 2),
            slowest,
            ok,
            idle_cores,
        }
    }
}
