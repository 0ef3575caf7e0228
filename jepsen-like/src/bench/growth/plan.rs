//! What the growth bench fills and measures ([`Plan`]), and the fill itself, shared by
//! the grown cluster and the small one beside it.

use std::time::Duration;

use toystore_api::Transport;

use crate::bench::etcd::{Targets, Workload};
use crate::loadgen::closed_loop;

/// The sizes and how hard to fill and measure.
pub(super) struct Plan {
    pub sizes: &'static [u64],
    pub fill_connections: usize,
    pub fill_window: Duration,
    /// Each measurement of buys: this many windows of `measure` on each cluster, the
    /// median reported.
    pub windows: usize,
    pub measure: Duration,
}

impl Plan {
    pub(super) fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                sizes: &[500, 1_500],
                fill_connections: 32,
                fill_window: Duration::from_secs(1),
                windows: 1,
                measure: Duration::from_secs(1),
            }
        } else {
            Plan {
                sizes: &[10_000, 100_000, 1_000_000],
                fill_connections: 256,
                fill_window: Duration::from_secs(5),
                windows: 5,
                measure: Duration::from_secs(4),
            }
        }
    }
}

/// Connections of the measured buys.
pub(super) const CONNECTIONS: usize = 64;

/// Buys through `targets`' gateway until the store holds `size` orders, from `orders`;
/// returns the new count. Every ok buy of a fresh key is one order (a Raft entry may
/// carry many, so the log index does not count them).
pub(super) async fn fill(
    plan: &Plan,
    public: &Transport,
    targets: &Targets,
    mut orders: u64,
    size: u64,
    bar: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<u64> {
    // Each window sized from the last one's rate, so the fill stops near the size; the
    // first is short, having no rate to go by.
    let mut rate: Option<f64> = None;
    while orders < size {
        let window = match rate {
            Some(rate) => {
                ((size - orders) as f64 / rate).clamp(0.2, plan.fill_window.as_secs_f64())
            }
            None => plan.fill_window.as_secs_f64().min(1.0),
        };
        let filled = closed_loop(
            plan.fill_connections,
            Duration::from_secs_f64(window),
            public,
            targets.toystore(Workload::Write),
        )
        .await?;
        orders += filled.ok as u64;
        rate = Some(filled.throughput.max(10.0));
        if let Some(bar) = bar {
            bar.set_position(orders.min(bar.length().unwrap_or(u64::MAX)));
        }
    }
    Ok(orders)
}
