//! The harness that proves the toystore keeps its promises while nodes die: it starts a
//! real cluster, drives clients, injects faults, records a history and checks it.

pub mod bench;
