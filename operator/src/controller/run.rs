//! `kea-operator run`: wires the Kea server set, the watches, the controller, the sweep, leader
//! election, the HTTP endpoints and signal handling together.
//!
//! Shutdown order on SIGTERM (a second signal aborts at once): stop taking new reconciles and let
//! running ones finish, stop the sweep, *then* release the Lease — so a successor never writes while
//! this replica still does. Losing the Lease ends the process (fail-stop), and so does the
//! controller stopping for any other reason; Kea being down never does (it is reported instead).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::core::error_class::Backoff;
use crate::core::planner::EventType;
use crate::http::{self, Health};
use crate::kea::{KeaError, KeaServers, ServerEvent};
use crate::leader::{LeaderElector, LeaderError, Leadership, LeaseSettings};
use crate::metrics::Metrics;

use super::context::{Context, NcGuard, NnGuard};
use super::locks::MacLocks;
use super::mac_index::MacIndex;
use super::subnets::SubnetCache;
use super::{error_policy, events, reconcile};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Kea client: {0}")]
    Kea(#[from] KeaError),
    #[error("cannot create the Kubernetes client (KUBECONFIG or in-cluster service account): {0}")]
    Kube(#[from] kube::Error),
    #[error("HTTP_ADDR: cannot serve the health and metrics endpoints: {0}")]
    Http(#[from] std::io::Error),
    #[error(transparent)]
    Leader(#[from] LeaderError),
}

impl RunError {
    pub fn category(&self) -> &'static str {
        match self {
            RunError::Config(_) => "config",
            RunError::Kea(e) => e.category(),
            RunError::Kube(_) => "kubernetes",
            RunError::Http(_) => "http",
            RunError::Leader(e) => e.category(),
        }
    }
}

/// Objects triggered by a watch event or a requeue and not yet picked up by a reconcile: the queue
/// `/healthz` watches for a stalled loop and `kea_operator_reconcile_queue_depth` reports. Counted
/// per object, as the controller runtime deduplicates per object.
#[derive(Default)]
struct Pending(Mutex<HashSet<ObjectRef<NcGuard>>>);

impl Pending {
    fn triggered(&self, reference: ObjectRef<NcGuard>) {
        self.0.lock().insert(reference);
    }
    fn started(&self, reference: &ObjectRef<NcGuard>) {
        self.0.lock().remove(reference);
    }
    fn len(&self) -> usize {
        self.0.lock().len()
    }
}

/// What re-triggers a reconcile: a spec change (generation, which deletion also bumps) or the start
/// of deletion. Status, annotation and finalizer writes — our own — do not, so a converged NC costs no
/// further Kea commands.
fn trigger_key(obj: &NcGuard) -> Option<u64> {
    let meta = obj.meta();
    let mut hasher = DefaultHasher::new();
    (&meta.uid, meta.generation, meta.deletion_timestamp.is_some()).hash(&mut hasher);
    Some(hasher.finish())
}

/// How an embedding (tests, tools) runs the operator in process; the binary uses [`run`].
#[derive(Default)]
pub struct RunOptions {
    /// The Kubernetes client; `None` infers it (KUBECONFIG or in-cluster).
    pub client: Option<kube::Client>,
    /// Watch only this namespace (tests sharing one API server); `None` watches all.
    pub namespace: Option<String>,
    /// Cancelled to stop the operator gracefully; `None` stops on SIGTERM/SIGINT.
    pub shutdown: Option<CancellationToken>,
    /// Where to serve the HTTP endpoints; `None` binds `HTTP_ADDR`.
    pub http_listener: Option<tokio::net::TcpListener>,
}

/// Runs the operator until SIGTERM/SIGINT (or until it loses the Lease).
pub async fn run(config: Config) -> Result<(), RunError> {
    run_with(config, RunOptions::default()).await
}

pub async fn run_with(config: Config, options: RunOptions) -> Result<(), RunError> {
    let config = Arc::new(config);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let metrics = Arc::new(Metrics::new());
    let kea = KeaServers::new(&config.kea, metrics.clone())?;
    let client = match options.client {
        Some(client) => client,
        None => kube::Client::try_default().await?,
    };
    let lease_namespace = if config.leader.elect {
        Some(config.leader.namespace()?)
    } else {
        None
    };

    let shutdown = match options.shutdown {
        Some(token) => token,
        None => {
            let token = CancellationToken::new();
            spawn_signal_handler(token.clone());
            token
        }
    };
    let stop_leading = CancellationToken::new();

    let health = Arc::new(Health::new(2, config.controller.health_stall));
    let http_stop = CancellationToken::new();
    let renderer: http::MetricsRenderer = {
        let metrics = metrics.clone();
        Arc::new(move || metrics.render())
    };
    let http_listener = match options.http_listener {
        Some(listener) => listener,
        None => tokio::net::TcpListener::bind(config.http_addr).await?,
    };
    let http_task = tokio::spawn(http::serve_on(
        http_listener,
        health.clone(),
        renderer,
        http_stop.clone(),
    ));

    let kea_tasks = [
        Some(kea.spawn_health_task(shutdown.clone())),
        kea.spawn_config_writer(shutdown.clone()),
    ];

    // Leader election (or none: then this replica always leads).
    let identity = identity();
    let (leader_tx, leader_rx) = watch::channel(if config.leader.elect {
        Leadership::Follower
    } else {
        Leadership::Leader
    });
    // Without election the sender lives as long as `run`, so watchers of leadership never see it close.
    let mut _fixed_leadership = None;
    let leader_task = match &lease_namespace {
        Some(namespace) => {
            let elector = LeaderElector::new(
                client.clone(),
                LeaseSettings {
                    namespace: namespace.clone(),
                    name: lease_name(&config.controller.instance),
                    identity: identity.clone(),
                    lease_duration: config.leader.lease_duration,
                    renew_interval: config.leader.renew,
                },
            )?;
            Some(tokio::spawn(elector.run(leader_tx, stop_leading.clone())))
        }
        None => {
            _fixed_leadership = Some(leader_tx);
            None
        }
    };
    metrics.set_leader(*leader_rx.borrow() == Leadership::Leader);

    // Watches: every NC (through DeserializeGuard, so one malformed object cannot break the watch)
    // and every NetworkNamespace, each into a store.
    let mac_index = Arc::new(MacIndex::default());
    let pending = Arc::new(Pending::default());
    let (nc_reader, nc_writer) = reflector::store::<NcGuard>();
    let (nn_reader, nn_writer) = reflector::store::<NnGuard>();
    let (nc_synced_tx, nc_synced) = watch::channel(false);
    let nc_stream = {
        let index = mac_index.clone();
        let health = health.clone();
        let pending = pending.clone();
        let mut synced = false;
        watcher(
            scoped::<NcGuard>(&client, options.namespace.as_deref()),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(forget_managed_fields)
        .reflect(nc_writer)
        .inspect_ok(move |event| {
            index.apply(event);
            if matches!(event, watcher::Event::InitDone) && !std::mem::replace(&mut synced, true) {
                health.watch_synced();
                nc_synced_tx.send_replace(true);
            }
        })
        .touched_objects()
        .predicate_filter(trigger_key, Default::default())
        .inspect_ok(move |obj| pending.triggered(ObjectRef::from_obj(obj)))
    };
    let nn_stream = {
        let health = health.clone();
        let mut synced = false;
        watcher(
            scoped::<NnGuard>(&client, options.namespace.as_deref()),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(forget_managed_fields)
        .reflect(nn_writer)
        .inspect_ok(move |event| {
            if matches!(event, watcher::Event::InitDone) && !std::mem::replace(&mut synced, true) {
                health.watch_synced();
            }
        })
        .touched_objects()
    };
    let (requeue_tx, requeue_rx) = mpsc::unbounded_channel::<ObjectRef<NcGuard>>();
    let reporter = Reporter {
        controller: "kea-operator".into(),
        instance: Some(identity.clone()),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        kea: kea.clone(),
        metrics: metrics.clone(),
        config: config.clone(),
        recorder: events::Publisher::new(client.clone(), reporter),
        ncs: nc_reader.clone(),
        nc_synced,
        nns: nn_reader,
        subnets: SubnetCache::default(),
        sweep_scope: Default::default(),
        mac_index,
        locks: MacLocks::default(),
        leadership: leader_rx.clone(),
        health: health.clone(),
        backoff: Backoff::default(),
        failures: Mutex::new(Default::default()),
        requeue: requeue_tx,
    });

    let status_task = tokio::spawn(report_state(ctx.clone(), pending.clone(), shutdown.clone()));
    let failover_task = tokio::spawn(report_server_events(
        ctx.clone(),
        lease_namespace.clone(),
        shutdown.clone(),
    ));
    let sweep_task = tokio::spawn(super::sweep::run(ctx.clone(), shutdown.clone()));

    let nn_mapper = {
        let ncs = nc_reader.clone();
        let pending = pending.clone();
        move |nn: NnGuard| {
            let namespace = nn.namespace().unwrap_or_default();
            let name = nn.name_any();
            let refs: Vec<ObjectRef<NcGuard>> = ncs
                .state()
                .iter()
                .filter(|guard| guard.namespace().as_deref() == Some(namespace.as_str()))
                .filter(|guard| match &guard.0 {
                    Ok(nc) => match nc.spec.network_namespace_name.as_deref().map(str::trim) {
                        Some(wanted) if !wanted.is_empty() => wanted == name,
                        // Unset: the namespace's only NetworkNamespace is used, so any NN change counts.
                        _ => true,
                    },
                    Err(_) => false,
                })
                .map(|guard| ObjectRef::from_obj(guard.as_ref()))
                .collect();
            for reference in &refs {
                pending.triggered(reference.clone());
            }
            refs
        }
    };
    let requeues = {
        let pending = pending.clone();
        futures::stream::unfold(
            requeue_rx,
            |mut rx| async move { rx.recv().await.map(|r| (r, rx)) },
        )
        .inspect(move |r| pending.triggered(r.clone()))
    };
    let became_leader = futures::stream::unfold(leader_rx.clone(), |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            if *rx.borrow_and_update() == Leadership::Leader {
                return Some(((), rx));
            }
        }
    });
    let concurrency = u16::try_from(config.controller.max_concurrent_reconciles).unwrap_or(u16::MAX);
    let controller = Controller::for_stream(nc_stream, nc_reader)
        .watches_stream(nn_stream, nn_mapper)
        .reconcile_on(requeues)
        .reconcile_all_on(became_leader)
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(
            {
                let pending = pending.clone();
                move |obj, ctx| {
                    pending.started(&ObjectRef::from_obj(obj.as_ref()));
                    reconcile(obj, ctx)
                }
            },
            error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "controller");
            }
        });
    tracing::info!(instance = %config.controller.instance, %identity, "kea-operator started");

    let outcome = match leader_task {
        Some(mut leader_task) => {
            tokio::pin!(controller);
            tokio::select! {
                () = &mut controller => {
                    stop_leading.cancel();
                    match leader_task.await {
                        Ok(result) => result.map_err(RunError::from),
                        Err(join) => { tracing::error!(%join, "leader election task failed"); Ok(()) }
                    }
                }
                result = &mut leader_task => {
                    // Fail-stop: the Lease is gone (or the task ended): stop writing at once.
                    shutdown.cancel();
                    match result {
                        Ok(Err(lost)) => Err(RunError::from(lost)),
                        Ok(Ok(())) => Ok(()),
                        Err(join) => Err(RunError::Leader(LeaderError::Lost(format!("leader election task failed: {join}")))),
                    }
                }
            }
        }
        None => {
            controller.await;
            Ok(())
        }
    };
    shutdown.cancel();
    for task in [status_task, failover_task, sweep_task] {
        let _ = task.await;
    }
    for task in kea_tasks.into_iter().flatten() {
        let _ = task.await;
    }
    http_stop.cancel();
    let _ = http_task.await;
    tracing::info!("kea-operator stopped");
    outcome
}

fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// First SIGTERM/SIGINT: graceful shutdown. Second: exit at once.
fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut signals = 0;
        loop {
            wait_for_signal().await;
            signals += 1;
            if signals == 1 {
                tracing::info!("shutting down: finishing running reconciles, then releasing the Lease");
                shutdown.cancel();
            } else {
                tracing::warn!("second signal: exiting now");
                std::process::exit(130);
            }
        }
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// This process as a leader-election candidate and Event reporter: the pod name plus a random
/// suffix, so a restarted pod is a new candidate.
fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "kea-operator".into());
    format!("{host}-{:08x}", rand::random::<u32>())
}

/// One Lease per installation (`KEA_OPERATOR_INSTANCE`), so two installations in one namespace do
/// not fence each other.
fn lease_name(instance: &str) -> String {
    let valid = !instance.is_empty()
        && instance.len() <= 40
        && instance
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !instance.starts_with('-')
        && !instance.ends_with('-');
    if valid {
        format!("kea-operator-{instance}")
    } else {
        "kea-operator".into()
    }
}

/// Every second: readiness (a usable Kea server), queue depth, stall detection, leader and NC gauges.
async fn report_state(ctx: Arc<Context>, pending: Arc<Pending>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        ctx.health.set_kea_usable(ctx.kea.is_any_usable());
        let queued = pending.len();
        ctx.health.set_queued(queued);
        ctx.metrics
            .set_queue_depth(i64::try_from(queued).unwrap_or(i64::MAX));
        ctx.metrics.set_leader(ctx.is_leader());
        let active = ctx
            .ncs
            .state()
            .iter()
            .filter(|g| g.0.as_ref().is_ok_and(|nc| nc.is_kea()))
            .count();
        ctx.metrics
            .set_active_network_configurations(i64::try_from(active).unwrap_or(i64::MAX));
    }
}

/// Failovers, recoveries and restarts as logs and, from the leader, Events on the operator's Lease.
async fn report_server_events(
    ctx: Arc<Context>,
    lease_namespace: Option<String>,
    shutdown: CancellationToken,
) {
    let mut events_rx = ctx.kea.subscribe();
    let reference = lease_namespace.map(|namespace| {
        let mut lease = k8s_openapi::api::coordination::v1::Lease::default();
        lease.metadata.name = Some(lease_name(&ctx.config.controller.instance));
        lease.metadata.namespace = Some(namespace);
        lease.object_ref(&())
    });
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = events_rx.recv() => event,
        };
        let event = match event {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let (type_, reason, note) = match &event {
            ServerEvent::Failover { from, to } => (
                EventType::Warning,
                "Failover",
                format!("Kea {from} is not usable; reads now go to {to}"),
            ),
            ServerEvent::Recovered(server) => (
                EventType::Normal,
                "ServerRecovered",
                format!("Kea {server} answers again; re-syncing it"),
            ),
            ServerEvent::Restarted(server) => (
                EventType::Warning,
                "ServerRestarted",
                format!("Kea {server} restarted or reloaded its configuration; re-syncing its reservations"),
            ),
            ServerEvent::Unhealthy(server, why) => (
                EventType::Warning,
                "ServerUnhealthy",
                format!("Kea {server} is unhealthy: {why}"),
            ),
        };
        tracing::warn!(event = ?event, "{note}");
        if let Some(reference) = &reference
            && ctx.is_leader()
        {
            events::send(&ctx.recorder, reference, type_, reason, "HealthCheck", note).await;
        }
    }
}

/// The stores keep every NC and NetworkNamespace for the process's life; their `managedFields`
/// (one entry per field manager, often larger than the spec and status together) are never read,
/// so they are dropped before an object is stored (kube-rs's advice for large stores).
fn forget_managed_fields<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}
