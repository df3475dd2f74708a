//! The operator's Prometheus metrics (SPEC §6), with prometheus-client.
//!
//! The seed's five metrics keep their exact names; the rest cover what an operator of this operator
//! needs to see: breaker state, requests in flight and retries per server, which server is active,
//! failovers, the reconcile queue and durations, sweeps, orphans removed and leadership.
//!
//! Labels are bounded by construction: every label value is a `&'static str` chosen by the code (a
//! Kea command name, a server role, an error category) or a Kea subnet id — never a URL, an object
//! name or error text.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::core::SubnetId;
use crate::kea::{BreakerState, KeaError, ServerId};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReservationLabels {
    operation: &'static str,
    status: &'static str,
    subnet_id: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
    server: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    server: &'static str,
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    error_type: &'static str,
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeaErrorLabels {
    server: &'static str,
    category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailoverLabels {
    from: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SweepLabels {
    server: &'static str,
    result: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn kea_buckets() -> Histogram {
    // 1 ms … 33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn reconcile_buckets() -> Histogram {
    // 5 ms … 82 s
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// The metric set and its registry. Create one per process, share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reservations: Family<ReservationLabels, Counter>,
    operation_duration: HistogramFamily<OperationLabels>,
    server_health: Family<HealthLabels, Gauge>,
    active_network_configurations: Gauge,
    reconciliation_errors: Family<ErrorLabels, Counter>,
    breaker_state: Family<ServerLabels, Gauge>,
    in_flight: Family<ServerLabels, Gauge>,
    kea_errors: Family<KeaErrorLabels, Counter>,
    kea_retries: Family<ServerLabels, Counter>,
    active_server: Family<ServerLabels, Gauge>,
    failovers: Family<FailoverLabels, Counter>,
    queue_depth: Gauge,
    reconcile_duration: HistogramFamily<ResultLabels>,
    last_successful_sweep: Family<ServerLabels, Gauge<f64, AtomicU64>>,
    sweeps: Family<SweepLabels, Counter>,
    orphans_removed: Family<ServerLabels, Counter>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            reservations: Family::default(),
            operation_duration: Family::new_with_constructor(kea_buckets),
            server_health: Family::default(),
            active_network_configurations: Gauge::default(),
            reconciliation_errors: Family::default(),
            breaker_state: Family::default(),
            in_flight: Family::default(),
            kea_errors: Family::default(),
            kea_retries: Family::default(),
            active_server: Family::default(),
            failovers: Family::default(),
            queue_depth: Gauge::default(),
            reconcile_duration: Family::new_with_constructor(reconcile_buckets),
            last_successful_sweep: Family::default(),
            sweeps: Family::default(),
            orphans_removed: Family::default(),
            leader: Gauge::default(),
            registry: Registry::default(),
        };
        // Counters get `_total` appended by the encoder.
        registry.register(
            "kea_operator_dhcp_reservations",
            "Reservation writes by operation (add, delete, replace, adopt), status (success, error, conflict, dry_run) and Kea subnet",
            m.reservations.clone(),
        );
        registry.register(
            "kea_operator_dhcp_operation_duration_seconds",
            "Duration of Kea commands by command and server",
            m.operation_duration.clone(),
        );
        registry.register(
            "kea_operator_server_health",
            "Kea server health by check type (reachable, hooks, database, healthy): 1 good, 0 bad",
            m.server_health.clone(),
        );
        registry.register(
            "kea_operator_active_network_configurations",
            "NetworkConfigurations handled by this operator",
            m.active_network_configurations.clone(),
        );
        registry.register(
            "kea_operator_reconciliation_errors",
            "Reconcile errors by error type (bounded category) and controller",
            m.reconciliation_errors.clone(),
        );
        registry.register(
            "kea_operator_circuit_breaker_state",
            "Circuit breaker per Kea server: 0 closed, 1 half-open, 2 open",
            m.breaker_state.clone(),
        );
        registry.register(
            "kea_operator_kea_requests_in_flight",
            "Kea requests in flight per server (capped by KEA_MAX_IN_FLIGHT)",
            m.in_flight.clone(),
        );
        registry.register(
            "kea_operator_kea_request_errors",
            "Failed Kea requests by server and error category",
            m.kea_errors.clone(),
        );
        registry.register(
            "kea_operator_kea_retries",
            "Kea call retries by server",
            m.kea_retries.clone(),
        );
        registry.register(
            "kea_operator_kea_active_server",
            "1 for the Kea server reads go to, 0 for the others",
            m.active_server.clone(),
        );
        registry.register(
            "kea_operator_failovers",
            "Changes of the active Kea server",
            m.failovers.clone(),
        );
        registry.register(
            "kea_operator_reconcile_queue_depth",
            "NetworkConfigurations waiting to be reconciled",
            m.queue_depth.clone(),
        );
        registry.register(
            "kea_operator_reconcile_duration_seconds",
            "Duration of one reconcile by result (success, error)",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "kea_operator_last_successful_sweep_timestamp_seconds",
            "Unix time of the last sweep that completed on each Kea server",
            m.last_successful_sweep.clone(),
        );
        registry.register(
            "kea_operator_sweeps",
            "Sweeps by server and result (success, failure)",
            m.sweeps.clone(),
        );
        registry.register(
            "kea_operator_orphans_removed",
            "Reservations marked by this instance without a desired owner, removed by the sweep",
            m.orphans_removed.clone(),
        );
        registry.register(
            "kea_operator_leader_status",
            "1 while this replica holds the leader lease",
            m.leader.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The registry, for an HTTP handler or a test.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would only come from a metric type.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }

    // --- Kea layer ---------------------------------------------------------------------------

    /// One Kea command's duration, and its error category when it failed.
    pub fn observe_kea_call(
        &self,
        command: &'static str,
        server: ServerId,
        elapsed: Duration,
        error: Option<&KeaError>,
    ) {
        self.operation_duration
            .get_or_create(&OperationLabels {
                operation: command,
                server: server.as_str(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(error) = error {
            self.kea_errors
                .get_or_create(&KeaErrorLabels {
                    server: server.as_str(),
                    category: error.category(),
                })
                .inc();
        }
    }

    /// Counts a request in flight until the guard drops.
    pub fn kea_in_flight(&self, server: ServerId) -> InFlightGuard {
        let gauge = self.in_flight.get_or_create_owned(&ServerLabels {
            server: server.as_str(),
        });
        gauge.inc();
        InFlightGuard { gauge }
    }

    /// Current in-flight requests to `server`.
    pub fn kea_in_flight_now(&self, server: ServerId) -> i64 {
        self.in_flight
            .get_or_create(&ServerLabels {
                server: server.as_str(),
            })
            .get()
    }

    pub fn set_server_health(&self, server: ServerId, kind: &'static str, ok: bool) {
        self.server_health
            .get_or_create(&HealthLabels {
                server: server.as_str(),
                r#type: kind,
            })
            .set(i64::from(ok));
    }

    pub fn set_breaker_state(&self, server: ServerId, state: BreakerState) {
        self.breaker_state
            .get_or_create(&ServerLabels {
                server: server.as_str(),
            })
            .set(state.as_gauge());
    }

    pub fn set_active_server(&self, active: ServerId, all: impl Iterator<Item = ServerId>) {
        for server in all {
            self.active_server
                .get_or_create(&ServerLabels {
                    server: server.as_str(),
                })
                .set(i64::from(server == active));
        }
    }

    pub fn record_failover(&self, from: ServerId, to: ServerId) {
        self.failovers
            .get_or_create(&FailoverLabels {
                from: from.as_str(),
                to: to.as_str(),
            })
            .inc();
    }

    pub fn record_kea_retry(&self, server: ServerId) {
        self.kea_retries
            .get_or_create(&ServerLabels {
                server: server.as_str(),
            })
            .inc();
    }

    // --- controller --------------------------------------------------------------------------

    /// A reservation write: `operation` add/delete/replace/adopt, `status` success/error/conflict/dry_run.
    pub fn record_reservation(&self, operation: &'static str, status: &'static str, subnet: SubnetId) {
        self.reservations
            .get_or_create(&ReservationLabels {
                operation,
                status,
                subnet_id: subnet.0,
            })
            .inc();
    }

    pub fn set_active_network_configurations(&self, count: i64) {
        self.active_network_configurations.set(count);
    }

    /// `error_type` is a bounded category (e.g. [`KeaError::category`]).
    pub fn record_reconciliation_error(&self, error_type: &'static str, controller: &'static str) {
        self.reconciliation_errors
            .get_or_create(&ErrorLabels {
                error_type,
                controller,
            })
            .inc();
    }

    pub fn set_queue_depth(&self, depth: i64) {
        self.queue_depth.set(depth);
    }

    pub fn observe_reconcile(&self, elapsed: Duration, result: &'static str) {
        self.reconcile_duration
            .get_or_create(&ResultLabels { result })
            .observe(elapsed.as_secs_f64());
    }

    /// Measures a reconcile on every exit path: records `error` unless [`ReconcileTimer::succeeded`]
    /// was called.
    pub fn reconcile_timer(&self) -> ReconcileTimer<'_> {
        ReconcileTimer {
            metrics: self,
            started: Instant::now(),
            result: "error",
        }
    }

    /// A sweep of `server` finished; a successful one also sets the last-success time.
    pub fn record_sweep(&self, server: ServerId, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.sweeps
            .get_or_create(&SweepLabels {
                server: server.as_str(),
                result,
            })
            .inc();
        if success {
            let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
            self.last_successful_sweep
                .get_or_create(&ServerLabels {
                    server: server.as_str(),
                })
                .set(now);
        }
    }

    pub fn record_orphans_removed(&self, server: ServerId, count: u64) {
        self.orphans_removed
            .get_or_create(&ServerLabels {
                server: server.as_str(),
            })
            .inc_by(count);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }
}

/// Decrements the in-flight gauge on drop (also when the request future is cancelled).
#[derive(Debug)]
pub struct InFlightGuard {
    gauge: Gauge,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// See [`Metrics::reconcile_timer`].
#[derive(Debug)]
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    started: Instant,
    result: &'static str,
}

impl ReconcileTimer<'_> {
    pub fn succeeded(mut self) {
        self.result = "success";
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .observe_reconcile(self.started.elapsed(), self.result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names_and_added_metrics_are_exposed() {
        let m = Metrics::new();
        m.record_reservation("add", "success", SubnetId(1));
        m.observe_kea_call(
            "reservation-add",
            ServerId::Primary,
            Duration::from_millis(3),
            None,
        );
        m.observe_kea_call(
            "reservation-add",
            ServerId::Secondary,
            Duration::from_millis(3),
            Some(&KeaError::Unauthorized),
        );
        m.set_server_health(ServerId::Primary, "reachable", true);
        m.set_active_network_configurations(4);
        m.record_reconciliation_error("network", "networkconfiguration");
        m.set_breaker_state(ServerId::Primary, BreakerState::Open);
        drop(m.kea_in_flight(ServerId::Primary));
        m.record_kea_retry(ServerId::Primary);
        m.set_active_server(
            ServerId::Secondary,
            [ServerId::Primary, ServerId::Secondary].into_iter(),
        );
        m.record_failover(ServerId::Primary, ServerId::Secondary);
        m.set_queue_depth(2);
        m.reconcile_timer().succeeded();
        drop(m.reconcile_timer());
        m.record_sweep(ServerId::Primary, true);
        m.record_orphans_removed(ServerId::Primary, 3);
        m.set_leader(true);
        let text = m.render();
        for needle in [
            "kea_operator_dhcp_reservations_total{operation=\"add\",status=\"success\",subnet_id=\"1\"} 1",
            "kea_operator_dhcp_operation_duration_seconds_count{operation=\"reservation-add\",server=\"primary\"} 1",
            "kea_operator_server_health{server=\"primary\",type=\"reachable\"} 1",
            "kea_operator_active_network_configurations 4",
            "kea_operator_reconciliation_errors_total{error_type=\"network\",controller=\"networkconfiguration\"} 1",
            "kea_operator_circuit_breaker_state{server=\"primary\"} 2",
            "kea_operator_kea_requests_in_flight{server=\"primary\"} 0",
            "kea_operator_kea_request_errors_total{server=\"secondary\",category=\"auth\"} 1",
            "kea_operator_kea_retries_total{server=\"primary\"} 1",
            "kea_operator_kea_active_server{server=\"secondary\"} 1",
            "kea_operator_failovers_total{from=\"primary\",to=\"secondary\"} 1",
            "kea_operator_reconcile_queue_depth 2",
            "kea_operator_reconcile_duration_seconds_count{result=\"success\"} 1",
            "kea_operator_reconcile_duration_seconds_count{result=\"error\"} 1",
            "kea_operator_last_successful_sweep_timestamp_seconds{server=\"primary\"}",
            "kea_operator_sweeps_total{server=\"primary\",result=\"success\"} 1",
            "kea_operator_orphans_removed_total{server=\"primary\"} 3",
            "kea_operator_leader_status 1",
        ] {
            assert!(text.contains(needle), "missing {needle}\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn in_flight_guard_counts_while_held() {
        let m = Metrics::new();
        let a = m.kea_in_flight(ServerId::Primary);
        let b = m.kea_in_flight(ServerId::Primary);
        assert_eq!(m.kea_in_flight_now(ServerId::Primary), 2);
        drop((a, b));
        assert_eq!(m.kea_in_flight_now(ServerId::Primary), 0);
    }
}
