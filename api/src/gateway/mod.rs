//! The gateway's public wire (contract section 3): its types ([`types`]) and
//! [`GatewayClient`] ([`client`]), for the harness, the benchmarks and tests.

pub mod client;
pub mod types;

pub use client::{GatewayClient, ProductRead};
pub use types::*;
