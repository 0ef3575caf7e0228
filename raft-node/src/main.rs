//! `raft-node`: not built yet; see the raft-node issue.

fn main() {
    eprintln!("raft-node: not implemented yet");
    std::process::exit(2);
}
