//! kea-operator: keeps ISC Kea DHCPv4 host reservations equal to what `NetworkConfiguration`
//! resources declare. See `docs/architecture.md`.
//!
//! Layout: `core` is pure (no IO); `kea` talks to Kea; `crd` holds the Kubernetes types; the
//! `controller`, the HTTP endpoints (`http`), leader election (`leader`), `metrics`, `config` and the
//! `check` preflight sit at the edges.

pub mod check;
pub mod config;
pub mod controller;
pub mod core;
pub mod crd;
pub mod http;
pub mod kea;
pub mod leader;
pub mod metrics;
