//! The catalog's command line: every flag also read from an environment variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use service_core::flags::positive_duration;
use service_core::security::SecurityFlags;
use service_core::server::LimitFlags;
use service_core::telemetry::LogFormat;

/// The toystore catalog: products, stock and reservations.
#[derive(Debug, Clone, Parser)]
#[command(name = "catalog", version, about)]
pub struct Config {
    /// Address to listen on (`host:port`; port 0 picks a free port).
    #[arg(long, env = "CATALOG_LISTEN", default_value = "127.0.0.1:10086")]
    pub listen: String,

    /// Directory of the sled store.
    #[arg(long, env = "CATALOG_DATA_DIR", default_value = "data/catalog")]
    pub data_dir: PathBuf,

    /// Quantity of each toy in a fresh store (ignored once the store exists).
    #[arg(long, env = "CATALOG_INITIAL_STOCK", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub initial_stock: u64,

    /// Quantity a sold-out toy is restocked to.
    #[arg(long, env = "CATALOG_RESTOCK_TO", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub restock_to: u64,

    /// How often sold-out toys are restocked (e.g. `10s`, `500ms`).
    #[arg(long, env = "CATALOG_RESTOCK_INTERVAL", default_value = "10s",
          value_parser = positive_duration)]
    pub restock_interval: Duration,

    /// Threads running the service's async work: 1 is a single-threaded runtime (flushes
    /// and whole-store scans still run on a blocking pool), more a multi-threaded one.
    #[arg(long, env = "CATALOG_WORKER_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: u16,

    /// Log format on stderr.
    #[arg(long, env = "CATALOG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Credentials and TLS.
    #[command(flatten)]
    pub security: SecurityFlags,

    /// Connection limits.
    #[command(flatten)]
    pub limits: LimitFlags,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let config = Config::try_parse_from(["catalog"]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:10086");
        assert_eq!(config.initial_stock, 100);
        assert_eq!(config.restock_to, 100);
        assert_eq!(config.restock_interval, Duration::from_secs(10));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::try_parse_from(["catalog", "--restock-interval", "0s"]).is_err());
        assert!(Config::try_parse_from(["catalog", "--restock-interval", "soon"]).is_err());
        assert!(Config::try_parse_from(["catalog", "--initial-stock", "-1"]).is_err());
        let config = Config::try_parse_from(["catalog", "--restock-interval", "250ms"]).unwrap();
        assert_eq!(config.restock_interval, Duration::from_millis(250));
    }
}
