//! The test kit: the real toystore binaries as child processes, for every multi-process
//! test and for the `jepsen-like` harness. Dev-only; it links the wire crate
//! (`toystore-api`), never a server.
//!
//! - [`process`]: one service process: start, wait for `listening on`, signal, restart.

pub mod process;
