//! The gateway's command line: every flag also read from an environment variable.

use std::time::Duration;

use clap::Parser;
use service_core::flags::{parse_peers, positive_duration, Peers};
use service_core::telemetry::LogFormat;

/// Whether product reads are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheMode {
    /// Product reads are cached and invalidated by the catalog's events.
    On,
    /// Every product read goes to the catalog.
    Off,
}

/// The toystore gateway: the public REST API.
#[derive(Debug, Clone, Parser)]
#[command(name = "gateway", version, about)]
pub struct Config {
    /// Address to listen on (`host:port`; port 0 picks a free port).
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:6060")]
    pub listen: String,

    /// The catalog's address (`host:port`).
    #[arg(long, env = "GATEWAY_CATALOG", default_value = "127.0.0.1:10086")]
    pub catalog: String,

    /// The order nodes to start from as `id=host:port,...`; the gateway then follows the
    /// membership the nodes report (added and removed nodes), and falls back to these when
    /// no node answers.
    #[arg(long, env = "GATEWAY_NODES", value_parser = parse_nodes,
          default_value = "1=127.0.0.1:10010,2=127.0.0.1:10011,3=127.0.0.1:10012")]
    pub nodes: Peers,

    /// Cache product reads (invalidated by the catalog's event stream).
    #[arg(long, env = "GATEWAY_CACHE", value_enum, default_value_t = CacheMode::On)]
    pub cache: CacheMode,

    /// Most product entries the cache holds.
    #[arg(long, env = "GATEWAY_CACHE_CAPACITY", default_value_t = 10_000)]
    pub cache_capacity: u64,

    /// How long a buy or an order read may keep retrying across nodes before 503 (e.g. `10s`).
    #[arg(long, env = "GATEWAY_DEADLINE", default_value = "10s", value_parser = positive_duration)]
    pub deadline: Duration,

    /// Timeout of one attempt at one node (e.g. `3s`).
    #[arg(long, env = "GATEWAY_REQUEST_TIMEOUT", default_value = "3s", value_parser = positive_duration)]
    pub request_timeout: Duration,

    /// Threads running the service's async work: 1 is a single-threaded runtime (flushes
    /// and whole-store scans still run on a blocking pool), more a multi-threaded one.
    #[arg(long, env = "GATEWAY_WORKER_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: u16,

    /// Log format on stderr.
    #[arg(long, env = "GATEWAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Buys in progress at once; one more is answered 503 `overloaded` with Retry-After
    /// at once rather than queued behind the others.
    #[arg(long, env = "GATEWAY_MAX_PENDING_BUYS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_pending_buys: u32,

    /// `GET /events` streams open at once (each holds a connection); one more is answered
    /// 503 `too many event subscribers` at once.
    #[arg(long, env = "GATEWAY_MAX_EVENT_SUBSCRIBERS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_event_subscribers: u32,

    /// Credentials and TLS. The gateway's own routes are public; it presents the cluster
    /// secret to the nodes and the catalog.
    #[command(flatten)]
    pub security: service_core::security::SecurityFlags,

    /// Connection limits.
    #[command(flatten)]
    pub limits: service_core::server::LimitFlags,
}

fn parse_nodes(text: &str) -> Result<Peers, String> {
    let nodes = parse_peers(text)?;
    if nodes.0.is_empty() {
        return Err("at least one node is needed".to_string());
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let config = Config::try_parse_from(["gateway"]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:6060");
        assert_eq!(config.nodes.0.len(), 3);
        assert_eq!(config.cache, CacheMode::On);
        assert_eq!(config.deadline, Duration::from_secs(10));
        assert_eq!(config.max_event_subscribers, 1024);
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            vec!["gateway", "--nodes", ""],
            vec!["gateway", "--nodes", "1=x"],
            vec!["gateway", "--cache", "maybe"],
            vec!["gateway", "--deadline", "0s"],
            vec!["gateway", "--max-event-subscribers", "0"],
        ] {
            assert!(Config::try_parse_from(&args).is_err(), "{args:?}");
        }
    }
}
