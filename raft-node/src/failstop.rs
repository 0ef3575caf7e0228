//! Fail-stop on a broken disk: when Raft stops on a fatal error of its own (a write or a
//! flush of the store failed), the node shuts down and exits non-zero, as if it had
//! crashed, rather than staying up with a dead Raft, its health still `ok` and its last
//! leader still named. A supervisor restarts it on its store; what was not flushed was
//! never acknowledged.

use tokio_util::sync::CancellationToken;

use crate::typ::Raft;

/// Waits until Raft reports a fatal error, then logs it and cancels `shutdown` (the
/// server stops taking requests); returns the error. `None` when `shutdown` was
/// cancelled for another reason first.
pub(crate) async fn watch(raft: Raft, shutdown: CancellationToken) -> Option<String> {
    let mut metrics = raft.metrics();
    loop {
        if let Some(fatal) = fatal(&raft) {
            tracing::error!("raft stopped on a fatal error, shutting down: {fatal}");
            shutdown.cancel();
            return Some(fatal);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            changed = metrics.changed() => if changed.is_err() {
                // The metrics sender is gone with Raft itself: fatal unless we stopped it.
                return (!shutdown.is_cancelled()).then(|| "raft is gone".to_string());
            },
        }
    }
}

/// The fatal error Raft stopped on, if it did.
pub(crate) fn fatal(raft: &Raft) -> Option<String> {
    let metrics = raft.metrics();
    let state = metrics.borrow();
    state.running_state.as_ref().err().map(|e| e.to_string())
}
