//! kea-sim: a faithful, stateful simulator of the ISC Kea 3.0.4 DHCPv4 control API, with
//! failure injection.
//!
//! It answers the control API as kea-dhcp4 3.0.4 does (HTTP status, `result`, `text` and
//! `arguments`, byte for byte in Kea's JSON layout), keeps real state (host reservations in
//! memory and in a simulated hosts database, leases), simulates devices obtaining leases
//! through DHCP, runs HA pairs, and breaks on demand: latency, hangs, resets, HTTP errors,
//! garbage, forced results, restarts, refused connections, partitions, database outages.
//!
//! Use it in tests like `wiremock`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use kea_sim::{Fault, KeaSim, command};
//!
//! let sim = KeaSim::builder().subnet(1, "10.100.0.0/16").pool(1, "10.100.1.10 - 10.100.1.200").start().await;
//! sim.inject(Fault::http_status(503).on_command("reservation-add").times(1));
//! sim.expect(command("reservation-add")).times(0);
//! // ... point the code under test at sim.url() ...
//! assert!(sim.hosts().is_empty());
//! # }
//! ```
//!
//! or run the `kea-sim` binary (`kea-sim --config kea-dhcp4.json`) and drive it through its
//! admin API ([`AdminClient`]). `kea-sim/README.md` documents both, and lists what was measured
//! on real Kea that this crate reproduces.

pub mod admin;
pub mod agent;
pub mod commands;
pub mod config;
pub mod dhcp;
pub mod element;
pub mod faults;
pub mod ha;
pub mod http;
pub mod model;
pub mod reqlog;
pub mod runtime;
pub mod server;
pub mod sim;
pub mod store;

pub use admin::{AdminClient, AdminError};
pub use config::{ConfigError, Hooks, OnFail, ServerConfig};
pub use dhcp::DhcpError;
pub use faults::{Fault, FaultAction, FaultView};
pub use model::{HostView, IdentType, LeaseOrigin, LeaseView};
pub use reqlog::ReceivedCommand;
pub use runtime::{Mode, StartError};
pub use sim::{
    CommandRequest, Expectation, KeaSim, KeaSimBuilder, KeaSimPair, KeaSimPairBuilder, Match, Mock,
    ResponseTemplate, Times, argument, arguments_contain, command, service,
};
pub use store::DbOutage;

/// The README's Rust example is compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
