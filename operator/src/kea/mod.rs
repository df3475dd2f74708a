//! Everything that talks to Kea: transport, TLS and credentials, typed operations, typed errors, the
//! HA server set with health, failover, write fan-out, circuit breaker and retry.
//!
//! # Contract for the controller
//!
//! - **Errors** ([`KeaError`]): `category()` is a bounded label (network, timeout, auth, permission,
//!   server_error, protocol, unsupported, not_found, conflict, kea_error, database_unavailable,
//!   circuit_open, config) for metrics and Events; `requeue_class()` is SPEC §3's class
//!   ([`RequeueClass`]) with `requeue_after()` and `is_transient()`. Kea answers that mean its hosts
//!   database is down classify as `database_unavailable` in the Network class (`KeaUnavailable`).
//!   Messages never contain credentials.
//! - **One server** ([`KeaClient`]): typed operations over the `core` types. Reads map Kea's
//!   "not found" (result 3) to `None`/empty; `reservation_del` maps it to [`Deletion::NotFound`].
//!   A client sends each call once. Addresses are never changed with `reservation-update`
//!   (del + add instead, SPEC §2).
//! - **The HA set** ([`KeaServers`]): `read(op)` runs on the active server and fails over at once,
//!   returning which server answered; `on(server, op)` runs on one server; `write(op)` fans out per
//!   `KEA_HA_WRITE_MODE` and returns each server's result. All three apply the server's circuit
//!   breaker and, for transient errors, retry with exponential backoff and jitter; requests in flight
//!   per server are capped. An `op` is `Fn(KeaClient, OperationTarget) -> impl Future<Output =
//!   Result<T, KeaError>>`; the target is the server's resolved `operation-target`.
//! - **Health** ([`KeaServers::spawn_health_task`]): every `KEA_HEALTH_INTERVAL_SECONDS`,
//!   `list-commands` + `status-get` per server; a refused connection marks a server unhealthy at
//!   once, other failed checks after `KEA_HEALTH_FAILURE_THRESHOLD` in a row; events on
//!   [`KeaServers::subscribe`]:
//!   [`ServerEvent::Failover`], [`ServerEvent::Recovered`], [`ServerEvent::Restarted`],
//!   [`ServerEvent::Unhealthy`]. On `Recovered`/`Restarted` the controller sweeps that server and then
//!   calls [`KeaServers::mark_resynced`]; reads return to a recovered primary only after that.
//!   [`KeaServers::is_any_usable`] feeds `/readyz`. [`ServerHealth::trusts_not_found`] says whether
//!   a server's "not found" may be believed (hosts database up).
//! - **Metrics**: operation durations, in-flight gauges, breaker state, server health, failovers and
//!   retries are recorded here through the shared [`Metrics`](crate::metrics::Metrics) handle.

mod auth;
mod breaker;
mod client;
mod config_write;
mod error;
mod health;
mod retry;
mod servers;
mod target;
pub mod tls;
mod transport;
mod wire;

pub use auth::BasicAuth;
pub use breaker::{Breaker, BreakerState, Permit};
pub use client::{CommandSet, Deletion, Hook, HostPage, KeaClient, SubnetList, SubnetSource};
pub use error::{ConflictKind, KeaError, KeaFailure, RequeueClass};
pub use health::{HealthState, ServerEvent, ServerHealth, restarted};
pub use retry::Backoff;
pub use servers::{Answered, KeaServers, ServerResult, WriteOutcome};
pub use target::{OperationTarget, TargetSetting};
pub use transport::{DEFAULT_MAX_ANSWER_BYTES, Transport};
pub use wire::{Answer, ConfigSummary, PageCursor, Request, ServerStatus, Version, parse_answer};

/// Which server of the HA pair; also the `server` label of metrics (never a URL). The domain type,
/// shared with the planner.
pub use crate::core::ServerId;
