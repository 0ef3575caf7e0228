//! The harness that proves the toystore keeps its promises while nodes die: it starts a
//! real cluster, drives clients, injects faults, records a history and checks it; and the
//! benchmarks that rerun the course lab's experiments.
//!
//! - [`cluster`]: what an experiment may do to a `testkit` cluster ([`cluster::ClusterControl`]).
//! - [`history`]: the recorded operations (`history.jsonl`).
//! - [`final_state`]: the replicas' orders and the ledger after a run (`final.json`).
//! - [`checker`]: the five checks and `results.json`.
//! - [`workload`]: the clients of a test run.
//! - [`proxy`]: TCP proxies on every link (node-node, gateway-node, node-catalog), for
//!   partitions, latency and dropped connections.
//! - [`nemesis`]: the faults, one at a time (or two overlapping), each healed and checked.
//! - [`run`]: `jepsen-like test` and `check` from start to verdict.
//! - [`soak`]: `jepsen-like soak`, many runs in a row and what each fault did to buys.
//! - [`report`]: `report.md`, `latency.png`, `rate.png`.
//! - [`bench`]: `jepsen-like bench`, the lab's experiments as tables and plots.
//! - [`loadgen`]: a closed-loop HTTP load generator (N keep-alive connections, fixed window).
//! - [`stats`]: latency summaries and medians, for the bench and the checker.
//! - [`clients`]: the gateway client, random toys and keys, progress bars.
//! - [`security`]: `--security open|tokens|tls` for the clusters both start.
//! - [`chart`], [`markdown`]: the plots and tables both write.

pub mod bench;
mod chart;
mod checker;
mod clients;
mod cluster;
mod final_state;
mod history;
mod loadgen;
mod markdown;
mod nemesis;
mod proxy;
mod report;
pub mod run;
mod security;
pub mod soak;
mod stats;
mod workload;
