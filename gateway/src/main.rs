//! `gateway`: not built yet; see the gateway issue.

fn main() {
    eprintln!("gateway: not implemented yet");
    std::process::exit(2);
}
