//! `jepsen-like`: not built yet; see the jepsen-like issue.

fn main() {
    eprintln!("jepsen-like: not implemented yet");
    std::process::exit(2);
}
