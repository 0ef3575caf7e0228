//! The harness that proves the toystore keeps its promises while nodes die: it starts a
//! real cluster, drives clients, injects faults, records a history and checks it; and the
//! benchmarks that rerun the course lab's experiments.
//!
//! - [`cluster`]: a whole cluster of real processes on free ports, to start and break.
//! - [`bench`]: `jepsen-like bench`, the lab's experiments as tables and plots.

pub mod bench;
pub mod cluster;
