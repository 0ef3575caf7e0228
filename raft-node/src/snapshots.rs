//! When to snapshot: once the log since the last snapshot holds `--snapshot-logs` entries
//! or half as many as the snapshot covers, whichever is more, each node a little off the
//! others.
//!
//! A snapshot copies the whole state, so taking one every fixed number of entries costs
//! more per entry the more orders there are: at a million orders, a snapshot every 5,000
//! entries rewrites the state every couple of seconds. Spacing them in proportion to the
//! state keeps the copying per entry bounded (about two entries copied per entry applied),
//! and the log kept between snapshots stays under half the state. openraft's own policy
//! counts entries only, so it is off and this task triggers the builds.
//!
//! Every node applies the same log, so with one rule they would all build at the same
//! index, and a build at a million orders takes seconds of CPU: both followers slow at
//! once is a commit slowed for everyone. Each node's points sit at its own phase of the
//! spacing ([`phase`]), so in a three-node cluster the builds come one node at a time.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::typ::Raft;

/// How long one build may take before the task asks for another.
const BUILD_WAIT: Duration = Duration::from_secs(120);

/// Where node `id`'s snapshot points sit within the spacing, in `[0, 1)`: multiples of the
/// golden ratio's fraction spread any set of ids well (ids 1, 2 and 3: 0.62, 0.24, 0.85).
pub(crate) fn phase(id: u64) -> f64 {
    (id as f64 * 0.618_033_988_749_895).fract()
}

/// The log index at which the next snapshot is due after one at `snapshot_index`.
///
/// The points are where a continuous "slot" count, rising by one per spacing, reaches a
/// whole number plus `phase`: up to `2 * min_logs` the spacing is `min_logs`, beyond it
/// each point is 1.5 times the one before (the log since a snapshot reaching half of
/// what it covers). A snapshot off the node's points (an operator's, an installed one)
/// is followed by the next point at least half a spacing later, so none comes right
/// after another.
pub(crate) fn next_point(min_logs: u64, snapshot_index: Option<u64>, phase: f64) -> u64 {
    let min = min_logs.max(1) as f64;
    let last = snapshot_index.unwrap_or(0) as f64;
    let earliest = last + min.max(last / 2.0) / 2.0;
    let slot = |index: f64| {
        if index <= 2.0 * min {
            index / min
        } else {
            2.0 + (index / (2.0 * min)).ln() / 1.5f64.ln()
        }
    };
    let index_at = |slot: f64| {
        if slot <= 2.0 {
            slot * min
        } else {
            2.0 * min * 1.5f64.powf(slot - 2.0)
        }
    };
    let target = (slot(earliest) - phase).ceil() + phase;
    index_at(target).ceil() as u64
}

/// Triggers a snapshot whenever one is due at node `id`'s [`next_point`], until `shutdown`.
pub(crate) async fn run(raft: Raft, id: u64, min_logs: u64, shutdown: CancellationToken) {
    let phase = phase(id);
    let mut metrics = raft.metrics();
    loop {
        let (applied, snapshot) = {
            let m = metrics.borrow_and_update();
            (m.last_applied.map(|l| l.index), m.snapshot.map(|s| s.index))
        };
        let Some(applied) = applied else {
            if !next_change(&mut metrics, &shutdown).await {
                return;
            }
            continue;
        };
        if applied >= next_point(min_logs, snapshot, phase) {
            tokio::select! {
                result = build_covering(&raft, applied, BUILD_WAIT) => {
                    if let Err(err) = result {
                        tracing::warn!("snapshot at {applied} not built: {err}");
                        // Again after the next change; a stopped Raft ends the task there.
                        if !next_change(&mut metrics, &shutdown).await {
                            return;
                        }
                    }
                }
                () = shutdown.cancelled() => return,
            }
            continue;
        }
        if !next_change(&mut metrics, &shutdown).await {
            return;
        }
    }
}

/// Builds a snapshot that covers log index `index` and waits for it, up to `timeout`.
///
/// openraft ignores a trigger while a build is under way (the operator's and this task's
/// can meet), and that build may end short of `index`: each new snapshot short of it is
/// followed by another trigger until one covers it.
pub(crate) async fn build_covering(
    raft: &Raft,
    index: u64,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let before = raft.metrics().borrow().snapshot;
        if before.is_some_and(|s| s.index >= index) {
            return Ok(());
        }
        raft.trigger()
            .snapshot()
            .await
            .map_err(|e| format!("raft stopped: {e}"))?;
        let left = deadline.saturating_duration_since(Instant::now());
        raft.wait(Some(left))
            .metrics(|m| m.snapshot != before, "a new snapshot")
            .await
            .map_err(|e| e.to_string())?;
    }
}

/// Waits for the next metrics change; false once Raft or the node stops.
async fn next_change(
    metrics: &mut tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, openraft::BasicNode>>,
    shutdown: &CancellationToken,
) -> bool {
    tokio::select! {
        changed = metrics.changed() => changed.is_ok(),
        () = shutdown.cancelled() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{next_point, phase};

    /// Node `id`'s snapshot points from an empty log up to `until`.
    fn points(id: u64, min_logs: u64, until: u64) -> Vec<u64> {
        let mut points = Vec::new();
        let mut last = None;
        while last.unwrap_or(0) < until {
            let next = next_point(min_logs, last, phase(id));
            points.push(next);
            last = Some(next);
        }
        points
    }

    #[test]
    fn at_phase_zero_snapshots_space_out_with_the_state() {
        assert_eq!(next_point(5000, None, 0.0), 5000);
        assert_eq!(next_point(5000, Some(5000), 0.0), 10_000);
        assert_eq!(next_point(5000, Some(10_000), 0.0), 15_000);
        assert_eq!(next_point(5000, Some(15_000), 0.0), 22_500);
        // 10,000 * 1.5^10: the log behind a snapshot reaches half of what it covers.
        assert_eq!(next_point(5000, Some(576_650), 0.0), 864_976);
    }

    #[test]
    fn the_next_point_is_never_sooner_than_half_a_spacing_nor_later_than_two() {
        for min_logs in [1, 100, 5000] {
            for id in 1..=9 {
                for last in (0..3_000_000).step_by(7919) {
                    let next = next_point(min_logs, Some(last), phase(id));
                    let spacing = min_logs.max(last / 2);
                    let since = next - last;
                    assert!(since >= spacing / 2, "{min_logs} {id} {last} -> {next}");
                    assert!(since <= 2 * spacing + 1, "{min_logs} {id} {last} -> {next}");
                }
            }
        }
    }

    #[test]
    fn three_nodes_never_snapshot_at_the_same_index() {
        let min_logs = 5000;
        let all: Vec<(u64, u64)> = (1..=3)
            .flat_map(|id| {
                points(id, min_logs, 50_000_000)
                    .into_iter()
                    .map(move |p| (id, p))
            })
            .collect();
        for &(a, pa) in &all {
            for &(b, pb) in &all {
                if a >= b {
                    continue;
                }
                let apart = pa.abs_diff(pb) as f64;
                let spacing = (min_logs.max(pa.max(pb) / 2)) as f64;
                // Phases 0.24 apart at the closest: a sixth of the spacing or more, which at
                // a million orders is tens of thousands of orders between two builds.
                assert!(apart >= spacing / 6.0, "node-{a} at {pa}, node-{b} at {pb}");
            }
        }
    }
}
