//! When to snapshot: once the log since the last snapshot holds `--snapshot-logs` entries
//! or half as many as the snapshot covers, whichever is more.
//!
//! A snapshot copies the whole state, so taking one every fixed number of entries costs
//! more per entry the more orders there are: at a million orders, a snapshot every 5,000
//! entries rewrites the state every couple of seconds. Spacing them in proportion to the
//! state keeps the copying per entry bounded (about two entries copied per entry applied),
//! and the log kept between snapshots stays under half the state. openraft's own policy
//! counts entries only, so it is off and this task triggers the builds.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::typ::Raft;

/// How long one build may take before the task asks for another.
const BUILD_WAIT: Duration = Duration::from_secs(120);

/// Entries since the last snapshot that call for the next one.
pub(crate) fn due(min_logs: u64, snapshot_index: Option<u64>) -> u64 {
    min_logs.max(snapshot_index.unwrap_or(0) / 2)
}

/// Triggers a snapshot whenever one is [`due`], until `shutdown`.
pub(crate) async fn run(raft: Raft, min_logs: u64, shutdown: CancellationToken) {
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
        let since = applied.saturating_sub(snapshot.unwrap_or(0));
        if since >= due(min_logs, snapshot) {
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
    use super::due;

    #[test]
    fn snapshots_space_out_with_the_state() {
        assert_eq!(due(5000, None), 5000);
        assert_eq!(due(5000, Some(8000)), 5000);
        assert_eq!(due(5000, Some(100_000)), 50_000);
        assert_eq!(due(5000, Some(1_000_000)), 500_000);
        assert_eq!(due(100, Some(150)), 100);
    }
}
