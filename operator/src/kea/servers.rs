//! [`KeaServers`]: the HA set (primary and optional secondary) with per-server circuit breaker,
//! retry, in-flight cap and health, and the three ways to run an operation on it.
//!
//! - [`KeaServers::read`] runs on the active server and, when it fails as a server (transport error,
//!   timeout, 5xx, 401/403, hook missing, breaker open), goes to the next server **at once** — no
//!   backoff first, so a failover takes one connect attempt, well under 2 s when a server refuses
//!   connections. Only when no server could answer does it back off and try the round again.
//! - [`KeaServers::on`] runs on one named server, with breaker and retry.
//! - [`KeaServers::write`] fans out per `KEA_HA_WRITE_MODE` and reports every server separately:
//!   Kea HA does not replicate reservations, so the controller must know which server missed a write.
//!
//! Operations are closures `Fn(KeaClient, OperationTarget) -> Future`: the client of the server being
//! tried and that server's resolved `operation-target`. They are plain async code, so tests can pass
//! closures that never touch the network and drive the timing with paused tokio time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::config::{HaWriteMode, KeaConfig};
use crate::metrics::Metrics;

use super::breaker::{Breaker, BreakerState, Permit};
use super::client::KeaClient;
use super::config_write::ConfigWriteRequest;
use super::health::{HealthState, ServerEvent, SlotState};
use super::retry::Backoff;
use super::target::TargetSetting;
use super::transport::Transport;
use super::{KeaError, OperationTarget, RequeueClass, ServerId};

/// A value and the server that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered<T> {
    pub server: ServerId,
    pub value: T,
}

/// One server's outcome of a write.
#[derive(Debug)]
pub struct ServerResult<T> {
    pub server: ServerId,
    pub result: Result<T, KeaError>,
}

/// The per-server outcomes of [`KeaServers::write`], in server order (primary first). With
/// `active-server` only the active server is listed.
#[derive(Debug)]
pub struct WriteOutcome<T> {
    pub results: Vec<ServerResult<T>>,
}

impl<T> WriteOutcome<T> {
    pub fn all_succeeded(&self) -> bool {
        self.results.iter().all(|r| r.result.is_ok())
    }

    pub fn get(&self, server: ServerId) -> Option<&Result<T, KeaError>> {
        self.results
            .iter()
            .find(|r| r.server == server)
            .map(|r| &r.result)
    }

    pub fn errors(&self) -> impl Iterator<Item = (ServerId, &KeaError)> {
        self.results
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| (r.server, e)))
    }

    pub fn into_results(self) -> Vec<ServerResult<T>> {
        self.results
    }
}

/// The HA set of Kea servers. Cheap to clone (shared inside).
#[derive(Clone, Debug)]
pub struct KeaServers {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) slots: Vec<Slot>,
    pub(super) backoff: Backoff,
    pub(super) write_mode: HaWriteMode,
    pub(super) target_setting: TargetSetting,
    pub(super) health_interval: Duration,
    /// `KEA_HEALTH_FAILURE_THRESHOLD`, at least 1.
    pub(super) health_failure_threshold: u32,
    pub(super) active: Mutex<ServerId>,
    pub(super) events: broadcast::Sender<ServerEvent>,
    pub(super) metrics: Arc<Metrics>,
    /// `KEA_CONFIG_WRITE` and its debounce.
    pub(super) config_write: Option<Duration>,
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) id: ServerId,
    pub(super) client: KeaClient,
    pub(super) breaker: Breaker,
    pub(super) state: Mutex<SlotState>,
    pub(super) config_write: ConfigWriteRequest,
}

impl Slot {
    /// A retry stops here: the health task marked the server unhealthy or other calls opened its
    /// breaker (an open breaker means nothing more is sent).
    fn held_back(&self) -> bool {
        self.unhealthy_reason().is_some() || self.breaker.state() == BreakerState::Open
    }

    pub(super) fn unhealthy_reason(&self) -> Option<(String, RequeueClass)> {
        match &self.state.lock().health {
            HealthState::Unhealthy { reason, class } => Some((reason.clone(), *class)),
            _ => None,
        }
    }
}

impl KeaServers {
    /// Builds the clients (TLS material and credentials are loaded and checked here: a bad setting is
    /// a [`KeaError::Config`] naming the variable). No request is sent.
    pub fn new(config: &KeaConfig, metrics: Arc<Metrics>) -> Result<Self, KeaError> {
        let transport = Transport::new(config)?;
        Ok(Self::with_transport(config, transport, metrics))
    }

    /// As [`KeaServers::new`] with a prepared transport (tests change its limits).
    pub fn with_transport(config: &KeaConfig, transport: Transport, metrics: Arc<Metrics>) -> Self {
        let urls = [
            Some((ServerId::Primary, &config.primary)),
            config.secondary.as_ref().map(|u| (ServerId::Secondary, u)),
        ];
        let slots: Vec<Slot> = urls
            .into_iter()
            .flatten()
            .map(|(id, url)| Slot {
                id,
                client: KeaClient::new(
                    id,
                    url.clone(),
                    transport.clone(),
                    config.max_in_flight,
                    metrics.clone(),
                ),
                breaker: Breaker::new(config.breaker),
                state: Mutex::new(SlotState::default()),
                config_write: ConfigWriteRequest::default(),
            })
            .collect();
        for slot in &slots {
            metrics.set_breaker_state(slot.id, slot.breaker.state());
        }
        metrics.set_active_server(ServerId::Primary, slots.iter().map(|s| s.id));
        let (events, _) = broadcast::channel(64);
        KeaServers {
            inner: Arc::new(Inner {
                slots,
                backoff: Backoff::new(config.retry),
                write_mode: config.ha_write_mode,
                target_setting: config.operation_target,
                health_interval: config.health_interval,
                health_failure_threshold: config.health_failure_threshold.max(1),
                active: Mutex::new(ServerId::Primary),
                events,
                metrics,
                config_write: config.config_write.then_some(config.config_write_debounce),
            }),
        }
    }

    /// The configured servers, primary first.
    pub fn ids(&self) -> Vec<ServerId> {
        self.inner.slots.iter().map(|s| s.id).collect()
    }

    /// The client of one server (for direct, single-shot calls such as the preflight check).
    pub fn client(&self, server: ServerId) -> Option<KeaClient> {
        self.slot(server).map(|s| s.client.clone())
    }

    /// The server reads go to: the primary while healthy, else the secondary.
    pub fn active(&self) -> ServerId {
        *self.inner.active.lock()
    }

    pub fn write_mode(&self) -> HaWriteMode {
        self.inner.write_mode
    }

    /// Events from the health task: failover, recovery, restart, unhealthy. The controller sweeps a
    /// server on `Restarted` and `Recovered`.
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.inner.events.subscribe()
    }

    /// Whether at least one server can take requests (for `/readyz`): its last health check passed
    /// and its breaker admits calls. Before the first check nothing is known, so nothing is usable.
    pub fn is_any_usable(&self) -> bool {
        self.inner
            .slots
            .iter()
            .any(|s| s.state.lock().health == HealthState::Healthy && s.breaker.would_admit())
    }

    pub(super) fn slot(&self, server: ServerId) -> Option<&Slot> {
        self.inner.slots.iter().find(|s| s.id == server)
    }

    /// The server's `operation-target`: the forced one, or the one `auto` resolved (`None` until the
    /// server's configuration has been read).
    pub fn operation_target(&self, server: ServerId) -> Option<OperationTarget> {
        match self.inner.target_setting {
            TargetSetting::Fixed(target) => Some(target),
            TargetSetting::Auto => self.slot(server).and_then(|s| s.state.lock().target),
        }
    }

    /// Resolves (and caches) the server's `operation-target`; `auto` reads the server's
    /// configuration once, and again after a restart.
    pub async fn resolve_target(&self, server: ServerId) -> Result<OperationTarget, KeaError> {
        let slot = self.slot(server).ok_or_else(|| not_configured(server))?;
        self.target_for(slot).await
    }

    pub(super) async fn target_for(&self, slot: &Slot) -> Result<OperationTarget, KeaError> {
        if let TargetSetting::Fixed(target) = self.inner.target_setting {
            return Ok(target);
        }
        if let Some(target) = slot.state.lock().target {
            return Ok(target);
        }
        let summary = slot.client.config_get_summary().await?;
        let target = self.inner.target_setting.resolve(summary.has_hosts_database);
        slot.state.lock().target = Some(target);
        tracing::info!(server = %slot.id, target = %target, hosts_database = summary.has_hosts_database,
            "operation target resolved");
        Ok(target)
    }

    async fn attempt<T, F, Fut>(&self, slot: &Slot, op: &F) -> Result<T, KeaError>
    where
        F: Fn(KeaClient, OperationTarget) -> Fut,
        Fut: Future<Output = Result<T, KeaError>>,
    {
        let target = self.target_for(slot).await?;
        op(slot.client.clone(), target).await
    }

    fn record(&self, slot: &Slot, permit: Permit<'_>, success: bool) {
        let before = slot.breaker.state();
        permit.record(success);
        let after = slot.breaker.state();
        self.inner.metrics.set_breaker_state(slot.id, after);
        // The breaker closed again: while it was open the server took no calls, so it missed
        // writes even if its health probes passed all along (no `Recovered` from the health task
        // then). The sweep re-syncs it as after any recovery.
        if before != BreakerState::Closed && after == BreakerState::Closed {
            self.publish(ServerEvent::Recovered(slot.id));
        }
    }

    async fn pause_before_retry(&self, server: Option<ServerId>, retry: u32) {
        let delay = self.inner.backoff.delay(retry, &mut rand::rng());
        if let Some(server) = server {
            self.inner.metrics.record_kea_retry(server);
        }
        tracing::debug!(
            retry = retry + 1,
            delay_ms = delay.as_millis() as u64,
            "retrying Kea call"
        );
        tokio::time::sleep(delay).await;
    }

    /// Runs `op` on one server with its breaker and the retry policy. Fails fast (nothing sent) when
    /// the server's breaker is open or the health check marks it unhealthy.
    pub async fn on<T, F, Fut>(&self, server: ServerId, op: F) -> Result<T, KeaError>
    where
        F: Fn(KeaClient, OperationTarget) -> Fut,
        Fut: Future<Output = Result<T, KeaError>>,
    {
        let slot = self.slot(server).ok_or_else(|| not_configured(server))?;
        if let Some((reason, class)) = slot.unhealthy_reason() {
            return Err(KeaError::Unhealthy { reason, class });
        }
        let permit = slot
            .breaker
            .try_acquire()
            .map_err(|retry_in| KeaError::CircuitOpen { retry_in })?;
        let mut retry = 0;
        loop {
            match self.attempt(slot, &op).await {
                Ok(value) => {
                    self.record(slot, permit, true);
                    return Ok(value);
                }
                Err(e) => {
                    let exhausted = retry + 1 >= self.inner.backoff.attempts();
                    if !e.is_retryable() || exhausted || slot.held_back() {
                        self.record(slot, permit, !e.is_server_failure());
                        return Err(e);
                    }
                    self.pause_before_retry(Some(server), retry).await;
                    // Asked again after the pause: other calls may have opened the breaker while
                    // this one slept.
                    if slot.held_back() {
                        self.record(slot, permit, !e.is_server_failure());
                        return Err(e);
                    }
                    retry += 1;
                }
            }
        }
    }

    /// Runs `op` on the active server, failing over at once to the next server on a server failure.
    /// Returns the value and which server answered. A Kea answer that is not a server failure ("not
    /// found", a conflict, a result-1 error) is returned as it is, without trying another server.
    pub async fn read<T, F, Fut>(&self, op: F) -> Result<Answered<T>, KeaError>
    where
        F: Fn(KeaClient, OperationTarget) -> Fut,
        Fut: Future<Output = Result<T, KeaError>>,
    {
        let order = self.read_order();
        let mut permits: Vec<Option<Permit<'_>>> = order.iter().map(|_| None).collect();
        let mut failed = vec![false; order.len()];
        let mut errors: Vec<(ServerId, KeaError)> = Vec::new();
        let attempts = self.inner.backoff.attempts();
        for round in 0..attempts {
            errors.clear();
            for (i, slot) in order.iter().enumerate() {
                // Other calls opened this server's breaker since our last round: send nothing more.
                if permits[i].is_some() && slot.breaker.state() == BreakerState::Open {
                    errors.push((
                        slot.id,
                        KeaError::CircuitOpen {
                            retry_in: Duration::ZERO,
                        },
                    ));
                    continue;
                }
                if permits[i].is_none() {
                    match slot.breaker.try_acquire() {
                        Ok(permit) => permits[i] = Some(permit),
                        Err(retry_in) => {
                            errors.push((slot.id, KeaError::CircuitOpen { retry_in }));
                            continue;
                        }
                    }
                }
                match self.attempt(slot, &op).await {
                    Ok(value) => {
                        failed[i] = false;
                        self.settle(&order, permits, &failed);
                        if slot.id != self.active() {
                            tracing::debug!(server = %slot.id, "read served by a server other than the active one");
                        }
                        return Ok(Answered {
                            server: slot.id,
                            value,
                        });
                    }
                    Err(e) if e.should_fail_over() => {
                        failed[i] = e.is_server_failure();
                        tracing::debug!(server = %slot.id, category = e.category(), "read failing over");
                        errors.push((slot.id, e));
                    }
                    Err(e) => {
                        failed[i] = false;
                        self.settle(&order, permits, &failed);
                        return Err(e);
                    }
                }
            }
            let retryable = errors.iter().any(|(_, e)| e.is_retryable());
            if !retryable || round + 1 >= attempts {
                break;
            }
            self.pause_before_retry(None, round).await;
        }
        self.settle(&order, permits, &failed);
        Err(KeaError::NoServerAnswered { errors })
    }

    /// Records each tried server's outcome once (a read and its rounds count as one call).
    fn settle(&self, order: &[&Slot], permits: Vec<Option<Permit<'_>>>, failed: &[bool]) {
        for ((slot, permit), failed) in order.iter().zip(permits).zip(failed) {
            if let Some(permit) = permit {
                self.record(slot, permit, !failed);
            }
        }
    }

    /// Active server first, then the others; servers marked unhealthy go last (they are still tried
    /// when nothing else answers: the mark may be stale).
    fn read_order(&self) -> Vec<&Slot> {
        let active = self.active();
        let mut order: Vec<&Slot> = self.inner.slots.iter().collect();
        order.sort_by_key(|s| (s.unhealthy_reason().is_some(), s.id != active, s.id));
        order
    }

    /// Runs `op` on every server (`all-servers`) or on the active one (`active-server`), concurrently,
    /// each with its breaker and retry, and reports each server's outcome.
    pub async fn write<T, F, Fut>(&self, op: F) -> WriteOutcome<T>
    where
        F: Fn(KeaClient, OperationTarget) -> Fut,
        Fut: Future<Output = Result<T, KeaError>>,
    {
        let servers = match self.inner.write_mode {
            HaWriteMode::AllServers => self.ids(),
            HaWriteMode::ActiveServer => vec![self.active()],
        };
        let op = &op;
        let results = join_all(servers.into_iter().map(|server| async move {
            ServerResult {
                server,
                result: self.on(server, op).await,
            }
        }))
        .await;
        WriteOutcome { results }
    }
}

fn not_configured(server: ServerId) -> KeaError {
    KeaError::Config {
        variable: "KEA_SECONDARY_URL",
        message: format!("no {server} server is configured"),
    }
}
