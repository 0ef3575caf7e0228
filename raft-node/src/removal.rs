//! A node removed from the voters without learning it (the final membership was committed
//! without it) still believes it is a voter and would campaign forever, raising its term
//! with every attempt; when added back, that term would depose the leader. Peers refuse
//! its votes ([`crate::network::NOT_A_VOTER`]); on the first refusal it stops calling
//! elections, and starts again once a leader replicates to it again (its log grows: it was
//! added back) or after a long pause. A leader it still names from before its removal does
//! not count: that leader no longer talks to it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::typ::{NodeId, Raft};

/// How long elections stay off without word from a leader: long enough that a removed
/// node barely moves its term, short enough that a real mistake heals by itself.
const QUIET_FOR: Duration = Duration::from_secs(30);

/// Turns elections off while peers say this node is not a voter.
pub(crate) async fn run(raft: Raft, id: NodeId, refused: Arc<Notify>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = refused.notified() => {}
        }
        tracing::warn!("peers refuse this node's votes as a non-voter; elections paused");
        raft.runtime_config().elect(false);
        let mut metrics = raft.metrics();
        let paused_at = metrics.borrow().last_log_index;
        let heard_from_leader = async {
            loop {
                if metrics.changed().await.is_err() {
                    return;
                }
                let now = metrics.borrow();
                if now.last_log_index > paused_at && now.current_leader.is_some_and(|l| l != id) {
                    return;
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = heard_from_leader => tracing::info!("a leader is back in touch; elections on"),
            _ = tokio::time::sleep(QUIET_FOR) => tracing::info!("elections on again after {QUIET_FOR:?}"),
        }
        raft.runtime_config().elect(true);
    }
}
