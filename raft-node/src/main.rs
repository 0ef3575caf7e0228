//! `raft-node`: parses the command line and runs one replica of the order service.

use clap::Parser;

/// mimalloc: the buy path allocates per request, and glibc malloc showed up as a tenth of
/// the CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let config = raft_node::Config::parse();
    service_core::telemetry::init(config.log_format);
    let worker_threads = config.worker_threads;
    service_core::runtime::run("raft-node", worker_threads, raft_node::run(config))
}
