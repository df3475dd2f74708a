//! The end-to-end suite: the real `kea-operator` binary (or its image) as a separate process,
//! against a real Kubernetes API server and Kea — a kea-sim pair process, a real Kea 3.0.4 HA pair,
//! or kea-sim containers — configured only through its environment, as the chart does.
//!
//! - [`world::World`]: one scenario's environment (private API server, CRDs, Kea, operators, the
//!   invariant oracle); [`world::World::finish`] checks SPEC §10's invariants and the RBAC subset.
//! - [`operator::Operator`]: start/stop/kill/pause/restart, logs, `/metrics`, `/readyz`.
//! - [`kea::KeaBackend`]: leases, hosts per server, foreign hosts, down/hung/restart, kea-sim faults.
//! - [`k8s::K8s`]: NetworkNamespaces, NetworkConfigurations, conditions, Events.
//! - [`scenarios`]: the 13 scenarios of the suite, each `run(lane)`; `tests/scenarios.rs` runs them
//!   in the lane `E2E_LANE` names (`just e2e-local`, `e2e-real-kea`, `e2e-containers`, and `just e2e`
//!   on a kind cluster).
//! - [`apiserver::ApiServer`] and [`cluster`]: a private API server, or a real cluster with the chart
//!   (the cluster lane: operator pods from the chart's template, a kea-sim pod, port-forwards).
//! - [`sandbox`]: the local sandbox of `just demo` (`src/bin/demo.rs`), built from the same pieces.
//!
//! docs/testing.md ("End-to-end") explains the lanes and how to read a failure.

pub mod apiserver;
pub mod artifacts;
pub mod bench;
pub mod cluster;
pub mod docker;
pub mod invariants;
pub mod k8s;
pub mod kea;
pub mod lane;
pub mod operator;
pub mod rbac;
pub mod run;
pub mod sandbox;
pub mod scenarios;
pub mod wait;
pub mod world;
