//! The test kit: the real toystore binaries as child processes, for every multi-process
//! test and for the `jepsen-like` harness. Dev-only; it links the wire crate
//! (`toystore-api`), never a server.
//!
//! - [`cluster`]: the launcher: a catalog, N raft nodes and a gateway, to start and break.
//! - [`options`]: how a cluster is started, and the flags each service gets from that.
//! - [`observe`]: who leads, and whether the replicas converged, asked over HTTP.
//! - [`access`]: the table test of guarded routes refusing wrong credentials.
//! - [`secure`]: cluster secret, admin token and throwaway TLS certificates.
//! - [`fiu`]: libfiu, to make a running process's disk syncs fail.
//! - [`process`]: one service process: start, wait for `listening on`, signal, restart.
//! - [`binaries`]: where the `catalog`, `raft-node` and `gateway` binaries are.
//! - [`ports`]: free loopback ports, and the raft nodes' ports chosen up front.
//! - [`wait`]: polling a condition until a deadline.

pub mod access;
pub mod binaries;
pub mod cluster;
pub mod fiu;
pub mod observe;
pub mod options;
pub mod ports;
pub mod process;
pub mod secure;
pub mod wait;

pub use binaries::workspace_binary;
pub use cluster::{Cluster, Member};
pub use options::{ClusterOptions, SecurityMode, Stock};
pub use ports::{free_port, NodePorts};
pub use process::{ProcessSpec, ServiceProcess};
pub use wait::{wait_until, wait_until_async};
