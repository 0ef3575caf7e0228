//! `jepsen-like`: parses the command line and runs a subcommand.

use clap::{Parser, Subcommand};

/// Fault-injection harness, history checker and benchmarks for the toystore cluster.
#[derive(Debug, Parser)]
#[command(name = "jepsen-like", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a cluster, run clients while injecting faults, then check the history.
    Test(jepsen_like::run::TestArgs),
    /// Run `test` many times with consecutive seeds and summarise them in soak.md.
    Soak(jepsen_like::soak::SoakArgs),
    /// Check a saved run directory (history.jsonl + final.json) again.
    Check {
        /// The run directory.
        dir: std::path::PathBuf,
    },
    /// Rerun the course lab's experiments (load, cache, crash, scale; etcd) as tables and plots.
    Bench(jepsen_like::bench::BenchArgs),
    /// Make a cluster secret and an admin token (mode 0600) in DIR, and with --tls a
    /// throwaway CA and a certificate per service (`scripts/cluster.sh up --secure|--tls`).
    Secrets {
        /// Where to write them.
        dir: std::path::PathBuf,
        /// Also make the CA and the certificates.
        #[arg(long)]
        tls: bool,
        /// Host names and IP addresses the certificates are valid for.
        #[arg(long, value_delimiter = ',', default_value = "127.0.0.1,localhost")]
        hosts: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Exit codes: 0 valid, 1 anomaly found, 2 harness error.
    let result = match cli.command {
        Command::Test(args) => jepsen_like::run::test(args).await,
        Command::Soak(args) => jepsen_like::soak::soak(args).await,
        Command::Check { dir } => jepsen_like::run::check(&dir),
        Command::Bench(args) => jepsen_like::bench::run_command(args).await.map(|()| true),
        Command::Secrets { dir, tls, hosts } => testkit::secure::Secrets::create(
            &dir,
            tls,
            &testkit::options::CERTIFICATE_NAMES,
            &hosts,
        )
        .map(|_| {
            println!("secrets written to {}", dir.display());
            true
        }),
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(err) => {
            eprintln!("jepsen-like: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
