//! Real test environments, started from tests: real ISC Kea 3.0.4 and a real Kubernetes API server.
//!
//! Both need things a plain `cargo test` machine may lack (a Kea root filesystem, the API server
//! binaries): run `just setup` once. A test that needs them uses [`need!`]: with
//! `REQUIRE_REAL_ENV=1` (CI) a missing environment fails the test; otherwise it is skipped with the
//! reason printed. An environment that exists but fails always fails the test.
//!
//! # Real Kea
//! ```no_run
//! # async fn t() {
//! use testenv::kea::KeaProcess;
//! let mut kea = testenv::need!(KeaProcess::builder().basic_auth("admin", "pw").start().await);
//! let answer = kea.command("list-commands", None).await.unwrap();
//! assert_eq!(answer["result"], 0);
//! kea.restart().await.unwrap(); // same config file: what config-write persisted survives
//! # }
//! ```
//! Also [`kea::HaPair`], [`kea::ControlAgent`] (daemon stoppable behind the agent) and
//! [`kea::Postgres`] (a private PostgreSQL with Kea's schema). Every process runs in its own process
//! group with a parent-death signal, so a killed test leaves nothing behind; state lives in a
//! per-instance directory and leftovers of crashed runs are reaped at the next start.
//!
//! # Real Kubernetes API server
//! ```no_run
//! # async fn t() {
//! use testenv::kube::KubeEnv;
//! let env = testenv::need!(KubeEnv::shared().await);
//! let client = env.client().await.unwrap();
//! let ns = env.namespace("my-test"); // unique per call; namespaces are plain strings here
//! # }
//! ```
//! See [`kube`] for the shared-per-run server, private servers, CRDs and the audit log.

pub mod certs;
mod env;
pub mod kea;
pub mod kube;
pub mod ports;
pub mod process;

pub use env::{MissingEnvironment, REQUIRE_REAL_ENV, require_real_env, skip_or_fail};
