//! `catalog`: parses the command line and runs the service.

use clap::Parser;

/// mimalloc: the buy path allocates per request, and glibc malloc showed up as a tenth of
/// the CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let config = catalog::config::Config::parse();
    service_core::telemetry::init(config.log_format);
    let worker_threads = config.worker_threads;
    service_core::runtime::run("catalog", worker_threads, catalog::run(config))
}
