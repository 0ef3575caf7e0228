//! `raft-node`: parses the command line and runs one replica of the order service.

use clap::Parser;

/// mimalloc: the buy path allocates per request, and glibc malloc showed up as a tenth of
/// the CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = raft_node::Config::parse();
    service_core::telemetry::init(config.log_format);
    service_core::server::exit_code("raft-node", raft_node::run(config).await)
}
