//! The health task: every `KEA_HEALTH_INTERVAL_SECONDS` each server is asked `list-commands` (the
//! required hooks must be loaded) and `status-get` (restart detection, hosts-database state), its
//! health is updated, the active server is chosen and changes are published as [`ServerEvent`]s.
//!
//! Choosing the active server: the primary while healthy, else the secondary. A server that comes
//! back (recovered, or restarted — which drops reservations held in memory) is marked
//! `needs_resync`, and the active server only returns to it after the controller re-synced it and
//! called [`KeaServers::mark_resynced`] (SPEC §4: "returns to the primary once it is healthy and first
//! re-syncs it"). Without a usable alternative a server is used even while it awaits its re-sync.
//!
//! Marking a server unhealthy: one garbage answer, 5xx or timeout must not take a working server
//! out for a whole interval (an unhealthy server fails every call fast, and each refused call grows
//! its object's backoff), so such failures mark it only after `KEA_HEALTH_FAILURE_THRESHOLD` checks
//! in a row failed; any answer resets the count. A refused connection is unambiguous — nothing
//! listens there — and marks it at once, as do Kea's own well-formed statements that the server
//! cannot serve (a required hook missing, the hosts database lost, the DHCPv4 daemon offline).

use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::breaker::BreakerState;
use super::client::{CommandSet, Hook};
use super::servers::{KeaServers, Slot};
use super::target::TargetSetting;
use super::wire::ServerStatus;
use super::{KeaError, OperationTarget, RequeueClass, ServerId};

/// What the health task publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Reads now go to `to`.
    Failover { from: ServerId, to: ServerId },
    /// A server marked unhealthy answers properly again. Sweep it, then [`KeaServers::mark_resynced`].
    Recovered(ServerId),
    /// `pid` changed or `uptime`/`reload` went back: the server restarted or reloaded its
    /// configuration, and reservations it held in memory are gone. Sweep it, then mark it re-synced.
    Restarted(ServerId),
    /// The server stopped answering properly; the reason is for logs and conditions.
    Unhealthy(ServerId, String),
}

/// A server's health as the last check saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum HealthState {
    /// Not checked yet: treated as usable.
    #[default]
    Unknown,
    Healthy,
    Unhealthy {
        reason: String,
        /// SPEC §3's class of the failure, so calls refused while unhealthy report the real cause.
        #[serde(skip)]
        class: RequeueClass,
    },
}

#[derive(Debug, Default)]
pub(super) struct SlotState {
    pub(super) health: HealthState,
    pub(super) target: Option<OperationTarget>,
    pub(super) status: Option<ServerStatus>,
    pub(super) missing_hooks: Vec<Hook>,
    pub(super) needs_resync: bool,
    /// Health checks failed in a row without an answer (reset by any answer).
    pub(super) consecutive_failures: u32,
}

/// A snapshot of one server's state, for `/readyz`, the `check` report and the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerHealth {
    pub server: ServerId,
    pub health: HealthState,
    pub breaker: BreakerState,
    pub active: bool,
    pub operation_target: Option<OperationTarget>,
    pub missing_hooks: Vec<Hook>,
    pub status: Option<ServerStatus>,
    /// Came back from an outage or a restart and has not been re-synced yet.
    pub needs_resync: bool,
}

impl ServerHealth {
    /// Whether "not found" from this server can be trusted: it is not marked unhealthy and its
    /// hosts database is connected (SPEC §4, cleanup).
    pub fn trusts_not_found(&self) -> bool {
        !matches!(self.health, HealthState::Unhealthy { .. })
            && !self.status.as_ref().is_some_and(|s| s.database_lost)
    }
}

/// Whether `now` shows a restart or a configuration reload since `before`.
pub fn restarted(before: &ServerStatus, now: &ServerStatus) -> bool {
    let changed = |a: Option<u64>, b: Option<u64>| matches!((a, b), (Some(a), Some(b)) if a != b);
    let went_back = |a: Option<u64>, b: Option<u64>| matches!((a, b), (Some(a), Some(b)) if b < a);
    changed(before.pid, now.pid)
        || went_back(before.uptime, now.uptime)
        || went_back(before.reload, now.reload)
}

/// What one check of one server found.
pub(super) type Observation = Result<(CommandSet, ServerStatus), KeaError>;

/// Whether one failed check is enough to mark a server unhealthy, whatever
/// `KEA_HEALTH_FAILURE_THRESHOLD` says. A refused connection means nothing listens (the server or
/// its pod is gone) and failover must be fast (SPEC §9: primary killed → first successful write on
/// the secondary within 2 s); a control agent saying the DHCPv4 daemon is offline, or
/// Kea saying its hosts database is lost, is the server's own well-formed statement. A 5xx, a
/// timeout, a reset, a TLS or authentication failure or a garbled answer may be a one-off (a proxy
/// or a busy server) and waits for the threshold.
fn conclusive(e: &KeaError) -> bool {
    e.is_connect_failure()
        || matches!(
            e,
            KeaError::DaemonUnavailable { .. } | KeaError::DatabaseUnavailable { .. }
        )
}

impl KeaServers {
    /// A snapshot of one server's state.
    pub fn health(&self, server: ServerId) -> Option<ServerHealth> {
        let slot = self.slot(server)?;
        let active = self.active() == server;
        let state = slot.state.lock();
        Some(ServerHealth {
            server,
            health: state.health.clone(),
            breaker: slot.breaker.state(),
            active,
            operation_target: match self.inner.target_setting {
                TargetSetting::Fixed(target) => Some(target),
                TargetSetting::Auto => state.target,
            },
            missing_hooks: state.missing_hooks.clone(),
            status: state.status.clone(),
            needs_resync: state.needs_resync,
        })
    }

    /// Snapshots of every server, primary first.
    pub fn health_all(&self) -> Vec<ServerHealth> {
        self.ids().into_iter().filter_map(|id| self.health(id)).collect()
    }

    /// The controller re-synced `server` after `Recovered`/`Restarted`: it may become active again.
    pub fn mark_resynced(&self, server: ServerId) {
        if let Some(slot) = self.slot(server) {
            slot.state.lock().needs_resync = false;
            self.update_active();
        }
    }

    /// One health round over every server (concurrently); updates health, metrics and the active
    /// server, and publishes events.
    pub async fn check_health(&self) {
        let checks = self.inner.slots.iter().map(|slot| async move {
            let observe = || async {
                let commands = slot.client.list_commands().await?;
                let status = slot.client.status_get().await?;
                Ok::<_, KeaError>((commands, status))
            };
            let mut observation: Observation = observe().await;
            // A keep-alive connection the server closed (it restarted) fails the first request on
            // it; one immediate second try tells that from a server that is really gone.
            if matches!(observation, Err(KeaError::Network { .. })) {
                observation = observe().await;
            }
            let restarted = self.observe(slot, observation);
            // After a restart (or at first contact) `auto` resolves the target again: the
            // server's configuration may have changed.
            if (restarted || self.needs_target(slot))
                && let Err(e) = self.target_for(slot).await
            {
                tracing::warn!(server = %slot.id, error = %e, "cannot resolve the operation target yet");
            }
        });
        futures::future::join_all(checks).await;
        self.update_active();
    }

    fn needs_target(&self, slot: &Slot) -> bool {
        let state = slot.state.lock();
        matches!(self.inner.target_setting, TargetSetting::Auto)
            && state.target.is_none()
            && !matches!(state.health, HealthState::Unhealthy { .. })
    }

    /// Applies one observation to a server's state; returns whether a restart was detected.
    pub(super) fn observe(&self, slot: &Slot, observation: Observation) -> bool {
        let metrics = &self.inner.metrics;
        let mut events = Vec::new();
        let mut restarted_now = false;
        {
            let mut state = slot.state.lock();
            let new_health = match &observation {
                Err(e) => {
                    state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                    let failures = state.consecutive_failures;
                    let threshold = self.inner.health_failure_threshold;
                    if conclusive(e)
                        || failures >= threshold
                        || matches!(state.health, HealthState::Unhealthy { .. })
                    {
                        HealthState::Unhealthy {
                            reason: e.to_string(),
                            class: e.requeue_class(),
                        }
                    } else {
                        // Below the threshold the server keeps its state (healthy, or not checked
                        // yet): no event, and calls still go to it.
                        tracing::warn!(
                            server = %slot.id, category = e.category(), error = %e, failures, threshold,
                            "Kea health check failed ({failures}/{threshold}); not marked unhealthy yet"
                        );
                        state.health.clone()
                    }
                }
                Ok((commands, status)) => {
                    state.consecutive_failures = 0;
                    state.missing_hooks = commands.missing_hooks();
                    if let Some(before) = &state.status
                        && restarted(before, status)
                    {
                        restarted_now = true;
                        state.needs_resync = true;
                        state.target = None;
                        events.push(ServerEvent::Restarted(slot.id));
                    }
                    state.status = Some(status.clone());
                    let missing = commands.missing_required_hooks();
                    if !missing.is_empty() {
                        let names: Vec<&str> = missing.iter().map(|h| h.as_str()).collect();
                        HealthState::Unhealthy {
                            reason: format!("hook library not loaded: {}", names.join(", ")),
                            class: RequeueClass::Permission,
                        }
                    } else if status.database_lost {
                        HealthState::Unhealthy {
                            reason: "Kea lost its hosts database connection".into(),
                            class: RequeueClass::Network,
                        }
                    } else {
                        HealthState::Healthy
                    }
                }
            };
            match (&state.health, &new_health) {
                (HealthState::Unhealthy { .. }, HealthState::Healthy) => {
                    state.needs_resync = true;
                    events.push(ServerEvent::Recovered(slot.id));
                }
                (previous, HealthState::Unhealthy { reason, .. }) if previous != &new_health => {
                    events.push(ServerEvent::Unhealthy(slot.id, reason.clone()));
                }
                _ => {}
            }
            state.health = new_health;

            let reachable = observation.is_ok();
            metrics.set_server_health(slot.id, "reachable", reachable);
            metrics.set_server_health(
                slot.id,
                "hooks",
                reachable && state.missing_hooks.iter().all(|h| !h.is_required()),
            );
            metrics.set_server_health(
                slot.id,
                "database",
                reachable && !state.status.as_ref().is_some_and(|s| s.database_lost),
            );
            metrics.set_server_health(slot.id, "healthy", state.health == HealthState::Healthy);
        }
        metrics.set_breaker_state(slot.id, slot.breaker.state());
        for event in events {
            self.publish(event);
        }
        restarted_now
    }

    /// Chooses the active server and publishes a failover when it changes.
    pub(super) fn update_active(&self) {
        let usable = |slot: &Slot, synced: bool| {
            let state = slot.state.lock();
            !matches!(state.health, HealthState::Unhealthy { .. }) && (!synced || !state.needs_resync)
        };
        let slots = &self.inner.slots;
        let chosen = slots
            .iter()
            .find(|s| usable(s, true))
            .or_else(|| slots.iter().find(|s| usable(s, false)))
            .map(|s| s.id);
        let Some(chosen) = chosen else {
            return; // nothing usable: keep the current choice rather than flap
        };
        let previous = {
            let mut active = self.inner.active.lock();
            std::mem::replace(&mut *active, chosen)
        };
        self.inner
            .metrics
            .set_active_server(chosen, slots.iter().map(|s| s.id));
        if previous != chosen {
            self.inner.metrics.record_failover(previous, chosen);
            self.publish(ServerEvent::Failover {
                from: previous,
                to: chosen,
            });
        }
    }

    pub(super) fn publish(&self, event: ServerEvent) {
        match &event {
            ServerEvent::Failover { from, to } => {
                tracing::warn!(%from, %to, "Kea failover: reads go to {to}")
            }
            ServerEvent::Recovered(server) => tracing::info!(%server, "Kea server recovered"),
            ServerEvent::Restarted(server) => {
                tracing::warn!(%server, "Kea server restarted or reloaded its configuration")
            }
            ServerEvent::Unhealthy(server, reason) => {
                tracing::warn!(%server, %reason, "Kea server unhealthy")
            }
        }
        // No receiver is fine (e.g. during `check`).
        let _ = self.inner.events.send(event);
    }

    /// Runs [`KeaServers::check_health`] now and then every `KEA_HEALTH_INTERVAL_SECONDS` until
    /// `cancel` fires.
    pub fn spawn_health_task(&self, cancel: CancellationToken) -> JoinHandle<()> {
        let servers = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(servers.inner.health_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = tick.tick() => {}
                }
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = servers.check_health() => {}
                }
            }
        })
    }

    /// The health interval (`KEA_HEALTH_INTERVAL_SECONDS`).
    pub fn health_interval(&self) -> Duration {
        self.inner.health_interval
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::KeaConfig;
    use crate::metrics::Metrics;

    fn status(pid: u64, uptime: u64, reload: u64) -> ServerStatus {
        ServerStatus {
            pid: Some(pid),
            uptime: Some(uptime),
            reload: Some(reload),
            database_lost: false,
            ha_state: None,
        }
    }

    fn all_commands() -> CommandSet {
        [
            "list-commands",
            "status-get",
            "reservation-add",
            "reservation-get",
            "reservation-del",
            "reservation-get-page",
            "lease4-get-by-hw-address",
            "subnet4-list",
        ]
        .into_iter()
        .collect()
    }

    fn pair() -> KeaServers {
        pair_with_threshold(KeaConfig::new("http://127.0.0.1:9".parse().unwrap()).health_failure_threshold)
    }

    fn pair_with_threshold(threshold: u32) -> KeaServers {
        let mut config = KeaConfig::new("http://127.0.0.1:9".parse().unwrap())
            .with_secondary("http://127.0.0.1:10".parse().unwrap());
        config.health_failure_threshold = threshold;
        KeaServers::new(&config, Arc::new(Metrics::new())).unwrap()
    }

    fn refused() -> KeaError {
        KeaError::Network {
            reason: "connection refused".into(),
            connect: true,
        }
    }

    /// Failures that may be one-offs on a working server: they wait for the threshold.
    fn ambiguous_failures() -> Vec<KeaError> {
        vec![
            KeaError::ServerError { status: 503 },
            KeaError::Protocol {
                reason: "expected JSON".into(),
            },
            KeaError::Timeout {
                after: Duration::from_secs(10),
            },
            KeaError::Network {
                reason: "connection reset".into(),
                connect: false,
            },
            KeaError::Tls {
                reason: "handshake".into(),
            },
            KeaError::Unauthorized,
        ]
    }

    /// Both servers checked and healthy, reads on the primary, events drained.
    fn healthy_pair(threshold: u32) -> (KeaServers, tokio::sync::broadcast::Receiver<ServerEvent>) {
        let servers = pair_with_threshold(threshold);
        let rx = servers.subscribe();
        for (slot, pid) in servers.inner.slots.iter().zip([1, 2]) {
            servers.observe(slot, Ok((all_commands(), status(pid, 10, 10))));
        }
        servers.update_active();
        assert_eq!(servers.active(), ServerId::Primary);
        (servers, rx)
    }

    fn primary_health(servers: &KeaServers) -> HealthState {
        servers.health(ServerId::Primary).unwrap().health
    }

    fn events(rx: &mut tokio::sync::broadcast::Receiver<ServerEvent>) -> Vec<ServerEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn restart_is_pid_change_or_uptime_or_reload_going_back() {
        assert!(!restarted(&status(1, 10, 10), &status(1, 40, 40)));
        assert!(restarted(&status(1, 10, 10), &status(2, 40, 40)));
        assert!(restarted(&status(1, 100, 10), &status(1, 3, 3)));
        assert!(
            restarted(&status(1, 100, 90), &status(1, 130, 2)),
            "a config reload"
        );
        let unknown = ServerStatus {
            pid: None,
            uptime: None,
            reload: None,
            database_lost: false,
            ha_state: None,
        };
        assert!(!restarted(&unknown, &status(1, 1, 1)));
    }

    #[tokio::test]
    async fn failover_recovery_resync_and_return_to_primary() {
        let servers = pair();
        let mut rx = servers.subscribe();
        let [primary, secondary] = [&servers.inner.slots[0], &servers.inner.slots[1]];
        assert!(
            !servers.is_any_usable(),
            "nothing is known before the first check"
        );
        servers.observe(primary, Ok((all_commands(), status(1, 10, 10))));
        servers.observe(secondary, Ok((all_commands(), status(2, 10, 10))));
        servers.update_active();
        assert_eq!(servers.active(), ServerId::Primary);
        assert!(events(&mut rx).is_empty());

        servers.observe(primary, Err(refused()));
        servers.update_active();
        assert_eq!(servers.active(), ServerId::Secondary);
        let seen = events(&mut rx);
        assert!(
            matches!(&seen[0], ServerEvent::Unhealthy(ServerId::Primary, r) if r.contains("connection refused"))
        );
        assert_eq!(
            seen[1],
            ServerEvent::Failover {
                from: ServerId::Primary,
                to: ServerId::Secondary
            }
        );
        assert!(servers.is_any_usable());

        // Still down: no repeated events.
        servers.observe(primary, Err(refused()));
        servers.update_active();
        assert!(events(&mut rx).is_empty());

        // Back, and restarted meanwhile: recovered + restarted, but reads stay on the secondary until
        // the primary is re-synced.
        servers.observe(primary, Ok((all_commands(), status(7, 2, 2))));
        servers.update_active();
        assert_eq!(
            events(&mut rx),
            vec![
                ServerEvent::Restarted(ServerId::Primary),
                ServerEvent::Recovered(ServerId::Primary)
            ]
        );
        assert_eq!(servers.active(), ServerId::Secondary);
        assert!(servers.health(ServerId::Primary).unwrap().needs_resync);

        servers.mark_resynced(ServerId::Primary);
        assert_eq!(servers.active(), ServerId::Primary);
        assert_eq!(
            events(&mut rx),
            vec![ServerEvent::Failover {
                from: ServerId::Secondary,
                to: ServerId::Primary
            }]
        );
    }

    #[tokio::test]
    async fn missing_hooks_and_a_lost_database_make_a_server_unhealthy() {
        let servers = pair();
        let primary = &servers.inner.slots[0];
        let only_leases: CommandSet = ["lease4-get-by-hw-address", "subnet4-list"].into_iter().collect();
        servers.observe(primary, Ok((only_leases, status(1, 1, 1))));
        let health = servers.health(ServerId::Primary).unwrap();
        assert!(
            matches!(&health.health, HealthState::Unhealthy { reason, .. } if reason.contains("host_cmds"))
        );
        assert_eq!(health.missing_hooks, vec![Hook::HostCmds]);

        let mut lost = status(1, 2, 2);
        lost.database_lost = true;
        servers.observe(primary, Ok((all_commands(), lost)));
        let health = servers.health(ServerId::Primary).unwrap();
        assert!(
            matches!(&health.health, HealthState::Unhealthy { reason, .. } if reason.contains("database"))
        );
        assert!(!health.trusts_not_found());
    }

    #[tokio::test]
    async fn a_restart_while_active_moves_reads_to_the_partner_until_resynced() {
        let servers = pair();
        let [primary, secondary] = [&servers.inner.slots[0], &servers.inner.slots[1]];
        servers.observe(primary, Ok((all_commands(), status(1, 10, 10))));
        servers.observe(secondary, Ok((all_commands(), status(2, 10, 10))));
        servers.update_active();
        servers.observe(primary, Ok((all_commands(), status(1, 11, 1))));
        servers.update_active();
        assert_eq!(servers.active(), ServerId::Secondary);
        servers.mark_resynced(ServerId::Primary);
        assert_eq!(servers.active(), ServerId::Primary);
    }

    #[tokio::test]
    async fn with_nothing_usable_the_choice_stays() {
        let servers = pair();
        // Two timeouts in a row: the default threshold.
        for slot in servers.inner.slots.iter().chain(&servers.inner.slots) {
            servers.observe(
                slot,
                Err(KeaError::Timeout {
                    after: Duration::from_secs(1),
                }),
            );
        }
        servers.update_active();
        assert_eq!(servers.active(), ServerId::Primary);
        assert!(!servers.is_any_usable());
    }

    #[tokio::test]
    async fn one_failed_check_keeps_a_server_healthy_two_in_a_row_mark_it() {
        for failure in ambiguous_failures() {
            let (servers, mut rx) = healthy_pair(2);
            let primary = &servers.inner.slots[0];

            servers.observe(primary, Err(failure.clone()));
            servers.update_active();
            assert_eq!(primary_health(&servers), HealthState::Healthy, "{failure:?}");
            assert_eq!(servers.active(), ServerId::Primary, "{failure:?}");
            assert!(
                events(&mut rx).is_empty(),
                "{failure:?}: no event below the threshold"
            );
            assert!(servers.is_any_usable());
            // The probe itself failed; the server is still counted healthy.
            let text = servers.inner.metrics.render();
            assert!(
                text.contains("kea_operator_server_health{server=\"primary\",type=\"reachable\"} 0")
                    && text.contains("kea_operator_server_health{server=\"primary\",type=\"healthy\"} 1"),
                "{failure:?}: {text}"
            );

            servers.observe(primary, Err(failure.clone()));
            servers.update_active();
            assert!(
                matches!(primary_health(&servers), HealthState::Unhealthy { ref reason, class }
                    if *reason == failure.to_string() && class == failure.requeue_class()),
                "{failure:?}"
            );
            assert_eq!(servers.active(), ServerId::Secondary, "{failure:?}");
            assert_eq!(
                events(&mut rx),
                vec![
                    ServerEvent::Unhealthy(ServerId::Primary, failure.to_string()),
                    ServerEvent::Failover {
                        from: ServerId::Primary,
                        to: ServerId::Secondary
                    }
                ],
                "{failure:?}"
            );
            let text = servers.inner.metrics.render();
            assert!(
                text.contains("kea_operator_server_health{server=\"primary\",type=\"healthy\"} 0"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn an_answer_resets_the_count() {
        let (servers, mut rx) = healthy_pair(2);
        let primary = &servers.inner.slots[0];
        for _ in 0..3 {
            servers.observe(primary, Err(KeaError::ServerError { status: 502 }));
            assert_eq!(primary_health(&servers), HealthState::Healthy);
            servers.observe(primary, Ok((all_commands(), status(1, 20, 10))));
            assert_eq!(primary_health(&servers), HealthState::Healthy);
        }
        servers.update_active();
        assert_eq!(servers.active(), ServerId::Primary);
        assert!(events(&mut rx).is_empty(), "no flapping");
        assert!(!servers.health(ServerId::Primary).unwrap().needs_resync);

        // A higher threshold counts the same way: two failures, an answer, two failures.
        let (servers, mut rx) = healthy_pair(3);
        let primary = &servers.inner.slots[0];
        let garbage = || {
            Err(KeaError::Protocol {
                reason: "not JSON".into(),
            })
        };
        servers.observe(primary, garbage());
        servers.observe(primary, garbage());
        servers.observe(primary, Ok((all_commands(), status(1, 20, 10))));
        servers.observe(primary, garbage());
        servers.observe(primary, garbage());
        assert_eq!(primary_health(&servers), HealthState::Healthy);
        servers.observe(primary, garbage());
        assert!(matches!(primary_health(&servers), HealthState::Unhealthy { .. }));
        assert!(matches!(
            events(&mut rx).as_slice(),
            [ServerEvent::Unhealthy(ServerId::Primary, _)]
        ));
    }

    #[tokio::test]
    async fn a_refused_connection_or_an_offline_daemon_marks_unhealthy_at_once() {
        let conclusive = [
            refused(),
            KeaError::Network {
                reason: "cannot connect (dns error)".into(),
                connect: true,
            },
            KeaError::DaemonUnavailable {
                command: "list-commands".into(),
                text: "unable to forward command to the dhcp4 service".into(),
            },
            KeaError::DatabaseUnavailable {
                command: "status-get".into(),
                text: "Host database not available".into(),
            },
        ];
        for failure in conclusive {
            // Even with a high threshold.
            let (servers, mut rx) = healthy_pair(5);
            let primary = &servers.inner.slots[0];
            servers.observe(primary, Err(failure.clone()));
            servers.update_active();
            assert!(
                matches!(primary_health(&servers), HealthState::Unhealthy { .. }),
                "{failure:?}"
            );
            assert_eq!(servers.active(), ServerId::Secondary, "{failure:?}");
            assert_eq!(
                events(&mut rx)[0],
                ServerEvent::Unhealthy(ServerId::Primary, failure.to_string())
            );
        }

        // A failure below the threshold, then a refused connection: at once, not after the count.
        let (servers, _rx) = healthy_pair(5);
        let primary = &servers.inner.slots[0];
        servers.observe(primary, Err(KeaError::ServerError { status: 500 }));
        assert_eq!(primary_health(&servers), HealthState::Healthy);
        servers.observe(primary, Err(refused()));
        assert!(
            matches!(primary_health(&servers), HealthState::Unhealthy { ref reason, .. }
            if reason.contains("connection refused"))
        );
    }

    #[tokio::test]
    async fn an_unhealthy_server_stays_unhealthy_on_any_failure_until_it_answers() {
        let (servers, mut rx) = healthy_pair(5);
        let primary = &servers.inner.slots[0];
        servers.observe(primary, Err(refused()));
        let _ = events(&mut rx);
        // The first failure after the outage is below the threshold again, but the server never
        // answered in between: it stays out (the reason follows the latest failure).
        servers.observe(primary, Err(KeaError::ServerError { status: 503 }));
        assert!(
            matches!(primary_health(&servers), HealthState::Unhealthy { ref reason, .. }
            if reason.contains("503"))
        );
        servers.observe(primary, Ok((all_commands(), status(1, 40, 10))));
        assert_eq!(primary_health(&servers), HealthState::Healthy);
        let seen = events(&mut rx);
        assert!(
            seen.contains(&ServerEvent::Recovered(ServerId::Primary)),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn an_unchecked_server_is_not_marked_on_one_ambiguous_failure() {
        let servers = pair();
        let primary = &servers.inner.slots[0];
        servers.observe(primary, Err(KeaError::ServerError { status: 503 }));
        assert_eq!(primary_health(&servers), HealthState::Unknown);
        assert!(!servers.is_any_usable(), "not ready before a check passed");
        servers.observe(primary, Err(KeaError::ServerError { status: 503 }));
        assert!(matches!(primary_health(&servers), HealthState::Unhealthy { .. }));
    }

    #[tokio::test]
    async fn threshold_one_marks_unhealthy_on_the_first_failure() {
        for failure in ambiguous_failures() {
            let (servers, mut rx) = healthy_pair(1);
            let primary = &servers.inner.slots[0];
            servers.observe(primary, Err(failure.clone()));
            servers.update_active();
            assert!(
                matches!(primary_health(&servers), HealthState::Unhealthy { .. }),
                "{failure:?}"
            );
            assert_eq!(servers.active(), ServerId::Secondary);
            assert_eq!(
                events(&mut rx),
                vec![
                    ServerEvent::Unhealthy(ServerId::Primary, failure.to_string()),
                    ServerEvent::Failover {
                        from: ServerId::Primary,
                        to: ServerId::Secondary
                    }
                ]
            );
        }
    }
}
