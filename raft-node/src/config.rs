//! Command-line and environment configuration of a node.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use service_core::flags::{parse_peers, Peers};
use service_core::telemetry::LogFormat;

use crate::typ::NodeId;

/// One replica of the toystore order service.
#[derive(Debug, Clone, Parser)]
#[command(name = "raft-node", version, about)]
pub struct Config {
    /// This node's id (a positive integer, unique in the cluster).
    #[arg(long, env = "NODE_ID", value_parser = clap::value_parser!(u64).range(1..))]
    pub id: NodeId,

    /// Address to listen on (`host:port`; port 0 picks a free one).
    #[arg(long, env = "NODE_LISTEN", default_value = "127.0.0.1:10010")]
    pub listen: String,

    /// Directory of this node's sled store [default: data/node-<id>].
    #[arg(long, env = "NODE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The cluster's nodes as `id=host:port,...`; peers are dialled at these addresses.
    #[arg(long, env = "NODE_PEERS", value_parser = parse_peers, default_value = "")]
    pub peers: Peers,

    /// The catalog's address (`host:port`).
    #[arg(long, env = "NODE_CATALOG", default_value = "127.0.0.1:10086")]
    pub catalog: String,

    /// Initialize the cluster with `--peers` as voters if this node's store is empty.
    #[arg(long, env = "NODE_BOOTSTRAP")]
    pub bootstrap: bool,

    /// With `--bootstrap`: which of `--peers` form the first membership (comma-separated
    /// ids) [default: all of them]. The others are addresses only, for nodes that join
    /// later; etcd calls the same split `--initial-cluster`.
    #[arg(long, env = "NODE_BOOTSTRAP_VOTERS", value_delimiter = ',')]
    pub bootstrap_voters: Vec<NodeId>,

    /// Leader heartbeat interval in milliseconds; also openraft's timeout of one append
    /// RPC, so it must cover a follower's disk flush.
    #[arg(long, env = "NODE_HEARTBEAT_MS", default_value_t = 100)]
    pub heartbeat_ms: u64,

    /// Lower bound of the randomized election timeout, milliseconds.
    #[arg(long, env = "NODE_ELECTION_TIMEOUT_MIN_MS", default_value_t = 250)]
    pub election_timeout_min_ms: u64,

    /// Upper bound of the randomized election timeout, milliseconds. openraft also uses it
    /// as the leader lease: a follower waits lease + timeout after the last heartbeat.
    #[arg(long, env = "NODE_ELECTION_TIMEOUT_MAX_MS", default_value_t = 400)]
    pub election_timeout_max_ms: u64,

    /// Build a snapshot (and purge the log behind it) once this many entries followed the
    /// last one, or half as many as it covers if that is more; each node shifted by a
    /// fraction of that from its id, so the nodes do not build at once.
    #[arg(long, env = "NODE_SNAPSHOT_LOGS", default_value_t = 5000)]
    pub snapshot_logs: u64,

    /// Held reservations older than this are reconciled by the leader (e.g. `10s`).
    #[arg(long, env = "NODE_RECONCILE_AFTER", default_value = "10s", value_parser = humantime::parse_duration)]
    pub reconcile_after: Duration,

    /// How often the leader looks for held reservations (e.g. `2s`).
    #[arg(long, env = "NODE_RECONCILE_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub reconcile_interval: Duration,

    /// Threads running the service's async work: 1 is a single-threaded runtime (flushes
    /// and whole-store scans still run on a blocking pool), more a multi-threaded one.
    #[arg(long, env = "NODE_WORKER_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: u16,

    /// Log format on stderr.
    #[arg(long, env = "NODE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Credentials and TLS.
    #[command(flatten)]
    pub security: service_core::security::SecurityFlags,

    /// Connection limits.
    #[command(flatten)]
    pub limits: service_core::server::LimitFlags,
}

impl Config {
    /// The data directory, defaulting to `data/node-<id>`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("data/node-{}", self.id)))
    }

    /// Checks what clap cannot: the timing bounds agree with each other.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_ms == 0 {
            return Err("--heartbeat-ms must be positive".into());
        }
        if self.election_timeout_min_ms <= self.heartbeat_ms {
            return Err("--election-timeout-min-ms must exceed --heartbeat-ms".into());
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return Err("--election-timeout-max-ms must exceed --election-timeout-min-ms".into());
        }
        if self.reconcile_interval.is_zero() {
            return Err("--reconcile-interval must be positive".into());
        }
        if self.snapshot_logs == 0 {
            return Err("--snapshot-logs must be positive".into());
        }
        if self.bootstrap && !self.peers.0.contains_key(&self.id) {
            return Err("--bootstrap needs this node's own id in --peers".into());
        }
        if !self.bootstrap || self.bootstrap_voters.is_empty() {
            return Ok(());
        }
        if let Some(id) = self
            .bootstrap_voters
            .iter()
            .find(|id| !self.peers.0.contains_key(id))
        {
            return Err(format!(
                "--bootstrap-voters names {id}, which --peers does not"
            ));
        }
        if !self.bootstrap_voters.contains(&self.id) {
            return Err("--bootstrap-voters must include this node's own id".into());
        }
        Ok(())
    }

    /// The first membership a bootstrapping node proposes: `--bootstrap-voters` of
    /// `--peers`, or every peer.
    pub fn initial_voters(&self) -> std::collections::BTreeMap<NodeId, String> {
        self.peers
            .0
            .iter()
            .filter(|(id, _)| {
                self.bootstrap_voters.is_empty() || self.bootstrap_voters.contains(id)
            })
            .map(|(id, addr)| (*id, addr.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_must_be_ordered() {
        let config = Config::try_parse_from(["raft-node", "--id", "1"]).unwrap();
        assert!(config.validate().is_ok());
        let bad =
            Config::try_parse_from(["raft-node", "--id", "1", "--heartbeat-ms", "400"]).unwrap();
        assert!(bad.validate().is_err());
        assert!(Config::try_parse_from(["raft-node", "--id", "0"]).is_err());
        let zero = Config::try_parse_from(["raft-node", "--id", "1", "--reconcile-interval", "0s"])
            .unwrap();
        assert!(zero.validate().is_err());
    }

    #[test]
    fn bootstrap_voters_pick_from_the_peers() {
        let parse = |extra: &[&str]| {
            let mut args = vec![
                "raft-node",
                "--id",
                "1",
                "--bootstrap",
                "--peers",
                "1=a:1,2=b:2,3=c:3,4=d:4",
            ];
            args.extend_from_slice(extra);
            Config::try_parse_from(args).unwrap()
        };
        let all = parse(&[]);
        assert!(all.validate().is_ok());
        assert_eq!(all.initial_voters().len(), 4);
        let three = parse(&["--bootstrap-voters", "1,2,3"]);
        assert!(three.validate().is_ok());
        assert_eq!(
            three.initial_voters().keys().copied().collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(parse(&["--bootstrap-voters", "1,5"]).validate().is_err());
        assert!(parse(&["--bootstrap-voters", "2,3"]).validate().is_err());
        // Without --bootstrap the list is ignored: nodes that join later share the flags.
        let joiner =
            Config::try_parse_from(["raft-node", "--id", "4", "--bootstrap-voters", "1,2,3"])
                .unwrap();
        assert!(joiner.validate().is_ok());
    }
}
