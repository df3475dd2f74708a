//! kea-operator: keeps ISC Kea DHCPv4 host reservations equal to what `NetworkConfiguration`
//! resources declare. See `docs/architecture.md`.
//!
//! Layout: `core` is pure (no IO); `kea` talks to Kea; `crd` holds the Kubernetes types; the controller,
//! HTTP endpoints and leader election sit at the edges.

pub mod core;
pub mod leader;
pub mod http;
pub mod crd;
pub mod config;
pub mod kea;
pub mod metrics;
pub mod check;
