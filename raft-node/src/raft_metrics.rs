//! The node's own Prometheus figures: Raft gauges fed from openraft's metrics watch, and
//! the commit latency of client writes.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntGauge};
use service_core::metrics::LATENCY_BUCKETS;
use service_core::Metrics;
use tokio_util::sync::CancellationToken;

use crate::typ::{NodeId, Raft};

/// Raft figures in the node's registry.
#[derive(Clone)]
pub(crate) struct RaftGauges {
    pub(crate) term: IntGauge,
    pub(crate) is_leader: IntGauge,
    pub(crate) last_log_index: IntGauge,
    pub(crate) last_applied: IntGauge,
    pub(crate) commit_latency: Histogram,
    /// `raft_node_buy_stage_seconds{stage}`: where a buy on the leader spends its time.
    pub(crate) buy_stages: BuyStages,
    /// Inside the commit stage: flush, replication, apply.
    pub(crate) raft_stages: RaftStages,
}

/// What a Raft commit is made of, each a histogram of its own.
#[derive(Clone)]
pub(crate) struct RaftStages {
    /// `raft_node_log_flush_seconds`: one flush of the log after an append (leader and
    /// followers alike).
    pub(crate) log_flush: Histogram,
    /// `raft_node_append_rpc_seconds`: one append carrying entries to one follower and
    /// back, its flush included; heartbeats are not timed.
    pub(crate) append_rpc: Histogram,
    /// `raft_node_apply_seconds`: applying one run of committed entries.
    pub(crate) apply: Histogram,
}

/// The stages of a buy on the leader, each a histogram.
#[derive(Clone)]
pub(crate) struct BuyStages {
    /// Looking the request id up in the state machine.
    pub(crate) lookup: Histogram,
    /// The reservation at the catalog, one round trip.
    pub(crate) reserve: Histogram,
    /// The Raft commit: leader flush, replication to a majority, apply.
    pub(crate) commit: Histogram,
}

impl RaftGauges {
    pub(crate) fn register(metrics: &Metrics) -> Self {
        let gauge = |name: &str, help: &str| {
            metrics.register(IntGauge::new(name, help).expect("valid gauge"))
        };
        RaftGauges {
            term: gauge("raft_term", "Current Raft term"),
            is_leader: gauge("raft_is_leader", "1 while this node is the leader"),
            last_log_index: gauge("raft_last_log_index", "Index of the last log entry"),
            last_applied: gauge("raft_last_applied", "Index of the last applied entry"),
            commit_latency: metrics.register(
                Histogram::with_opts(
                    HistogramOpts::new(
                        "raft_commit_latency_seconds",
                        "Time from proposing a client write to its commit and apply",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                )
                .expect("valid histogram"),
            ),
            buy_stages: BuyStages::register(metrics),
            raft_stages: RaftStages::register(metrics),
        }
    }
}

impl RaftStages {
    fn register(metrics: &Metrics) -> Self {
        let histogram = |name: &str, help: &str| {
            metrics.register(
                Histogram::with_opts(
                    HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                )
                .expect("valid histogram"),
            )
        };
        RaftStages {
            log_flush: histogram(
                "raft_node_log_flush_seconds",
                "Time to flush the Raft log after one append, on leader and followers",
            ),
            append_rpc: histogram(
                "raft_node_append_rpc_seconds",
                "Round trip of one append carrying entries to one follower, its flush included",
            ),
            apply: histogram(
                "raft_node_apply_seconds",
                "Time to apply one run of committed entries to the state machine",
            ),
        }
    }
}

impl BuyStages {
    fn register(metrics: &Metrics) -> Self {
        let stages = metrics.register(
            HistogramVec::new(
                HistogramOpts::new(
                    "raft_node_buy_stage_seconds",
                    "Time a buy on the leader spends in each stage: lookup, reserve, commit",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["stage"],
            )
            .expect("valid histogram"),
        );
        BuyStages {
            lookup: stages.with_label_values(&["lookup"]),
            reserve: stages.with_label_values(&["reserve"]),
            commit: stages.with_label_values(&["commit"]),
        }
    }
}

/// Copies openraft's metrics into the gauges on every change until shutdown.
pub(crate) async fn follow(
    raft: Raft,
    id: NodeId,
    gauges: RaftGauges,
    shutdown: CancellationToken,
) {
    let mut watch = raft.metrics();
    loop {
        {
            let m = watch.borrow_and_update();
            gauges.term.set(m.current_term as i64);
            gauges
                .is_leader
                .set(i64::from(m.current_leader == Some(id)));
            gauges
                .last_log_index
                .set(m.last_log_index.map_or(-1, |i| i as i64));
            gauges
                .last_applied
                .set(m.last_applied.map_or(-1, |l| l.index as i64));
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = watch.changed() => if changed.is_err() { return },
        }
    }
}
