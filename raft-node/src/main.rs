//! `raft-node`: one replica of the toystore order service.

use clap::Parser;

#[tokio::main]
async fn main() {
    let config = raft_node::Config::parse();
    if let Err(err) = raft_node::run(config).await {
        eprintln!("raft-node: {err:#}");
        std::process::exit(1);
    }
}
