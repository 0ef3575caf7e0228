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
    /// Rerun the course lab's experiments (load, cache, crash, scale) as tables and plots.
    Bench(jepsen_like::bench::BenchArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => jepsen_like::bench::run_command(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("jepsen-like: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
