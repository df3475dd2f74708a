//! The sweep (SPEC §2.8): every `RESYNC_INTERVAL_SECONDS`, right after a server restarted or came back,
//! and when this replica becomes leader, page through each server's reservations in the managed
//! subnets (one command per page) and compare them with what the NetworkConfigurations want.
//!
//! - Hosts with this instance's marker that no NC wants there (owner gone, interface removed, prefix
//!   or subnet changed) are deleted — after re-reading the owner NC from the API server under the
//!   MAC's lock, so a stale store or a reconcile running meanwhile can never cost a wanted host.
//! - Desired hosts that are missing (a wiped server), and hosts that differ from what their NC
//!   recorded, are handed to that NC's reconcile, which re-reads everything and repairs exactly.
//! - Hosts without our marker are never touched; when they hold what an NC wants, a Warning Event
//!   says so.
//!
//! Which subnets are paged: those the NCs map to now, plus the [`SweepScope`]: every subnet on a
//! server's first sweep, then those where this process wrote a host or the last sweep still saw one
//! of this instance's hosts. An NC whose cleanup timed out is gone, so no NC maps to its subnet any
//! more — yet its hosts there are exactly what the sweep must remove (SPEC §2.7).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::core::annotation::{ANNOTATION, Reservations};
use crate::core::namespace::resolve_prefix;
use crate::core::planner::{Action, EventType, NcIdentity, Outcome, PlannedAction};
use crate::core::sweep::{SweepNc, SweepPlan, managed_subnets, plan_sweep};
use crate::core::{Host, ServerId, Subnet, SubnetId};
use crate::crd::{NetworkConfiguration, NetworkNamespace};
use crate::kea::{KeaError, ServerEvent};

use super::context::{Context, NcGuard};
use super::{events, execute};

/// Hosts per `reservation-get-page` (SPEC §9: at most one command per 100 reservations).
const PAGE_LIMIT: u32 = 1000;
/// A guard against a server whose cursor never ends.
const MAX_PAGES: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("Kea: {0}")]
    Kea(#[from] KeaError),
    #[error("the server's hosts database is down; its answers are not trusted until it recovers")]
    Untrusted,
    #[error("the server is unhealthy: {0}")]
    Unhealthy(String),
    #[error("not the leader")]
    NotLeader,
}

impl SweepError {
    pub fn category(&self) -> &'static str {
        match self {
            SweepError::Kea(e) => e.category(),
            SweepError::Untrusted => "database_unavailable",
            SweepError::Unhealthy(_) => "unhealthy",
            SweepError::NotLeader => "not_leader",
        }
    }
}

/// What one sweep of one server did (logged, and counted in metrics).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub hosts: usize,
    pub pages: usize,
    pub orphans_removed: usize,
    pub requeued: usize,
    pub conflicts: usize,
}

/// Subnets a server's sweep pages beyond those the NCs map to now (see the module docs).
#[derive(Debug, Default)]
pub struct SweepScope {
    inner: Mutex<ScopeInner>,
}

#[derive(Debug, Default)]
struct ScopeInner {
    /// Counts notes, so a sweep never forgets a write that landed while it paged.
    seq: u64,
    /// Per server: the subnets of interest with the sequence of their last note.
    subnets: HashMap<ServerId, BTreeMap<SubnetId, u64>>,
    /// Servers with a complete sweep by this process (before it, every subnet is paged).
    swept: BTreeSet<ServerId>,
}

impl SweepScope {
    /// A write of this process landed in `subnet` on `server`.
    pub fn note_written(&self, server: ServerId, subnet: SubnetId) {
        let mut inner = self.inner.lock();
        inner.seq += 1;
        let seq = inner.seq;
        inner.subnets.entry(server).or_default().insert(subnet, seq);
    }

    /// The extra subnets to page on `server` (only those it still has), and the sequence to pass
    /// to [`SweepScope::swept`].
    fn extra(&self, server: ServerId, subnets: &[Subnet]) -> (BTreeSet<SubnetId>, u64) {
        let inner = self.inner.lock();
        let all = subnets.iter().map(|s| s.id);
        let extra = if inner.swept.contains(&server) {
            let known = inner.subnets.get(&server);
            all.filter(|id| known.is_some_and(|k| k.contains_key(id)))
                .collect()
        } else {
            all.collect()
        };
        (extra, inner.seq)
    }

    /// A sweep of `server` that started at `since` paged `paged` and saw this instance's hosts in
    /// `ours`: paged subnets without any are dropped, unless written to since.
    fn swept(&self, server: ServerId, since: u64, paged: &BTreeSet<SubnetId>, ours: BTreeSet<SubnetId>) {
        let mut inner = self.inner.lock();
        inner.swept.insert(server);
        let known = inner.subnets.entry(server).or_default();
        known.retain(|id, seq| !paged.contains(id) || *seq > since);
        for id in ours {
            known.entry(id).or_insert(since);
        }
    }
}

/// How soon a failed sweep is tried again (at most; a shorter resync interval wins).
const RETRY_FAILED_SWEEP: Duration = Duration::from_secs(5);

/// Runs sweeps until `shutdown`: on the interval, on server restart/recovery, on becoming leader.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let mut events = ctx.kea.subscribe();
    let mut leadership = ctx.leadership.clone();
    let mut interval = tokio::time::interval(ctx.config.controller.resync_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The desired set comes from the NC store: it must be complete, or live NCs' hosts would look
    // orphaned.
    let mut synced = ctx.nc_synced.clone();
    tokio::select! {
        _ = shutdown.cancelled() => return,
        result = synced.wait_for(|synced| *synced) => if result.is_err() { return },
    }
    let mut leadership_open = true;
    // A sweep that failed (a server still coming back: breaker open, database reconnecting) is
    // retried soon rather than at the next interval, so a recovered server is re-synced promptly.
    let mut failed: BTreeSet<ServerId> = BTreeSet::new();
    let retry_every = ctx
        .config
        .controller
        .resync_interval
        .min(RETRY_FAILED_SWEEP)
        .max(Duration::from_millis(200));
    loop {
        let servers: Vec<ServerId> = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => ctx.kea.ids(),
            _ = tokio::time::sleep(retry_every), if !failed.is_empty() => failed.iter().copied().collect(),
            changed = leadership.changed(), if leadership_open => {
                if changed.is_err() {
                    leadership_open = false;
                    continue;
                }
                ctx.kea.ids()
            }
            event = events.recv() => match event {
                Ok(ServerEvent::Restarted(server)) => {
                    ctx.subnets.invalidate(server);
                    vec![server]
                }
                Ok(ServerEvent::Recovered(server)) => vec![server],
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => ctx.kea.ids(),
                Err(RecvError::Closed) => return,
            },
        };
        if !ctx.is_leader() {
            continue;
        }
        for server in servers {
            match sweep_server(&ctx, server).await {
                Ok(report) => {
                    failed.remove(&server);
                    ctx.metrics.record_sweep(server, true);
                    ctx.metrics
                        .record_orphans_removed(server, report.orphans_removed as u64);
                    ctx.kea.mark_resynced(server);
                    tracing::info!(%server, hosts = report.hosts, pages = report.pages,
                        orphans_removed = report.orphans_removed, requeued = report.requeued,
                        conflicts = report.conflicts, "sweep done");
                }
                Err(SweepError::NotLeader) => {}
                Err(error) => {
                    failed.insert(server);
                    ctx.metrics.record_sweep(server, false);
                    tracing::warn!(%server, %error, retry_in_ms = retry_every.as_millis() as u64, "sweep failed; retrying");
                }
            }
        }
    }
}

/// Sweeps one server.
pub async fn sweep_server(ctx: &Context, server: ServerId) -> Result<SweepReport, SweepError> {
    if !ctx.is_leader() {
        return Err(SweepError::NotLeader);
    }
    check_trusted(ctx, server)?;
    ctx.subnets.invalidate(server);
    let subnets = ctx.subnets.get(&ctx.kea, server).await?;
    let nns = ctx.valid_nns();
    // Borrowed from the store, not cloned: a sweep of 10,000 NCs must not hold a second copy of them.
    let guards = ctx.ncs.state();
    let ncs: Vec<&NetworkConfiguration> = guards
        .iter()
        .filter_map(|guard| guard.0.as_ref().ok())
        .filter(|nc| nc.is_kea())
        .collect();
    let sweep_ncs: Vec<SweepNc> = ncs.iter().filter_map(|nc| sweep_nc(nc, &nns)).collect();

    let mut report = SweepReport::default();
    let mut hosts: Vec<Host> = Vec::new();
    let mut paged = managed_subnets(server, &subnets, &sweep_ncs);
    let (extra, since) = ctx.sweep_scope.extra(server, &subnets);
    paged.extend(extra);
    for subnet in paged.iter().copied() {
        let mut cursor = None;
        loop {
            let page = ctx
                .kea
                .on(server, move |client, _| async move {
                    client.reservation_get_page(subnet, PAGE_LIMIT, cursor).await
                })
                .await?;
            report.pages += 1;
            hosts.extend(page.hosts);
            match page.next {
                Some(next) if Some(next) != cursor && report.pages < MAX_PAGES => cursor = Some(next),
                _ => break,
            }
        }
    }
    report.hosts = hosts.len();
    // The pages were read without the hosts database being known down; check again before acting
    // on what they did not show.
    check_trusted(ctx, server)?;
    let plan = plan_sweep(server, ctx.instance(), &sweep_ncs, &subnets, &hosts);

    let by_uid: HashMap<&str, &NetworkConfiguration> = ncs
        .iter()
        .filter_map(|nc| nc.metadata.uid.as_deref().map(|uid| (uid, *nc)))
        .collect();
    report.conflicts = report_conflicts(ctx, server, &plan, &by_uid).await;

    let mut requeue: BTreeSet<String> = plan.requeue().clone();
    for action in plan.actions() {
        match &action.action {
            // Missing hosts are restored by their NC's reconcile (it re-reads leases, claims, hosts).
            Action::Add { .. } => {
                requeue.insert(action.uid.clone());
            }
            Action::Delete { host } => {
                if delete_orphan(ctx, server, host, &subnets).await {
                    report.orphans_removed += 1;
                }
            }
            Action::Replace { .. } | Action::Adopt { .. } => {}
        }
    }
    for uid in &requeue {
        if let Some(nc) = by_uid.get(uid.as_str()) {
            let reference =
                ObjectRef::<NcGuard>::new(&nc.name_any()).within(&nc.namespace().unwrap_or_default());
            if ctx.requeue.send(reference).is_ok() {
                report.requeued += 1;
            }
        }
    }
    let ours = hosts
        .iter()
        .filter(|h| h.instance_marker(ctx.instance()).is_some())
        .map(|h| h.subnet_id)
        .collect();
    ctx.sweep_scope.swept(server, since, &paged, ours);
    Ok(report)
}

/// A sweep acts on what pages did *not* show: only from a healthy server whose hosts database is up.
fn check_trusted(ctx: &Context, server: ServerId) -> Result<(), SweepError> {
    let Some(health) = ctx.kea.health(server) else {
        return Ok(());
    };
    if health.status.as_ref().is_some_and(|s| s.database_lost) {
        return Err(SweepError::Untrusted);
    }
    if let crate::kea::HealthState::Unhealthy { reason, .. } = &health.health {
        return Err(SweepError::Unhealthy(reason.clone()));
    }
    Ok(())
}

/// The sweep's view of one NC (None for objects without the metadata the API server always sets).
fn sweep_nc(nc: &NetworkConfiguration, nns: &[NetworkNamespace]) -> Option<SweepNc> {
    let identity = NcIdentity::from_nc(nc).ok()?;
    let prefix = resolve_prefix(
        &identity.namespace,
        nc.spec.network_namespace_name.as_deref(),
        nns.iter(),
    )
    .ok()
    .map(|r| r.prefix);
    let annotation = Reservations::parse(nc.annotations().get(ANNOTATION).map(String::as_str)).reservations;
    Some(SweepNc {
        nc: identity,
        interfaces: nc.spec.network_interfaces.clone(),
        prefix,
        annotation,
        deleting: nc.metadata.deletion_timestamp.is_some(),
    })
}

/// Deletes a host the sweep judged an orphan, after checking again under the MAC's lock with the
/// owner read fresh from the API server (the store may lag; a reconcile may have run meanwhile).
async fn delete_orphan(ctx: &Context, server: ServerId, host: &Host, subnets: &[Subnet]) -> bool {
    let _locked = ctx.locks.lock([host.hw_address]).await;
    let Some(marker) = host.instance_marker(ctx.instance()) else {
        return false;
    };
    // The page may be stale: a reconcile may have deleted or replaced this host meanwhile (another
    // NC taking the MAC over), and `reservation-del` removes whatever holds the key. Only the host
    // Kea holds now, unchanged, may be deleted; anything else is judged again by the next sweep.
    let (subnet, mac) = (host.subnet_id, host.hw_address);
    let current = ctx
        .kea
        .on(server, move |client, target| async move {
            client.reservation_get(subnet, mac, target).await
        })
        .await;
    match current {
        Ok(Some(now)) if now.ip_address == host.ip_address && now.user_context == host.user_context => {}
        Ok(_) => return false,
        Err(error) => {
            tracing::warn!(%server, %error, "sweep: cannot re-read an orphan; kept");
            return false;
        }
    }
    let owner = match fresh_owner(ctx, &marker.owner, &marker.uid).await {
        Ok(owner) => owner,
        Err(error) => {
            tracing::warn!(%server, %error, "sweep: cannot read the owner of an orphan; kept");
            return false;
        }
    };
    let nns = ctx.valid_nns();
    let owners: Vec<SweepNc> = owner.iter().filter_map(|nc| sweep_nc(nc, &nns)).collect();
    let recheck = plan_sweep(
        server,
        ctx.instance(),
        &owners,
        subnets,
        std::slice::from_ref(host),
    );
    let still_orphan = recheck
        .actions()
        .iter()
        .any(|a| matches!(&a.action, Action::Delete { host: h } if h == host));
    if !still_orphan {
        return false;
    }
    let planned = PlannedAction {
        id: crate::core::planner::ActionId(0),
        server,
        action: Action::Delete { host: host.clone() },
        interface: None,
    };
    let outcomes = execute::execute_on(ctx, server, &[&planned]).await;
    let done = outcomes.iter().all(|(_, o)| *o == Outcome::Done);
    if done {
        tracing::info!(%server, mac = %host.hw_address, ip = %host.ip_address, subnet = %host.subnet_id,
            owner = %marker.owner, "sweep removed an orphaned reservation");
    }
    done
}

/// The owner NC as the API server has it now, if it still exists with the marker's uid.
async fn fresh_owner(
    ctx: &Context,
    owner: &str,
    uid: &str,
) -> Result<Option<NetworkConfiguration>, kube::Error> {
    let Some((namespace, name)) = owner.split_once('/') else {
        return Ok(None);
    };
    let api: Api<NetworkConfiguration> = Api::namespaced(ctx.client.clone(), namespace);
    let found = api.get_opt(name).await?;
    Ok(found.filter(|nc| nc.metadata.uid.as_deref() == Some(uid) && nc.is_kea()))
}

async fn report_conflicts(
    ctx: &Context,
    server: ServerId,
    plan: &SweepPlan,
    by_uid: &HashMap<&str, &NetworkConfiguration>,
) -> usize {
    let mut per_nc: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for conflict in plan.conflicts() {
        per_nc.entry(conflict.uid.as_str()).or_default().push(format!(
            "{} {} in subnet {} on {server} is held by a reservation this operator does not own ({} {})",
            conflict.desired.hw_address,
            conflict.desired.ip_address,
            conflict.desired.subnet_id,
            conflict.holder.hw_address,
            conflict.holder.ip_address,
        ));
    }
    for (uid, notes) in &per_nc {
        tracing::warn!(%server, nc_uid = uid, "sweep: {}", notes.join("; "));
        if let Some(nc) = by_uid.get(uid) {
            use kube::Resource;
            events::send(
                &ctx.recorder,
                &nc.object_ref(&()),
                EventType::Warning,
                "Conflict",
                "Sweep",
                notes.join("; "),
            )
            .await;
        }
    }
    plan.conflicts().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnets(ids: &[u32]) -> Vec<Subnet> {
        ids.iter()
            .map(|id| Subnet {
                id: SubnetId(*id),
                prefix: format!("10.{id}.0.0/16").parse().unwrap(),
                shared_network: None,
            })
            .collect()
    }

    fn ids(set: &BTreeSet<SubnetId>) -> Vec<u32> {
        set.iter().map(|s| s.0).collect()
    }

    #[test]
    fn scope_pages_everything_first_then_what_holds_or_got_our_hosts() {
        let scope = SweepScope::default();
        let server = ServerId::Primary;
        let all = subnets(&[1, 2, 3]);
        let (extra, since) = scope.extra(server, &all);
        assert_eq!(ids(&extra), [1, 2, 3], "first sweep: every subnet");
        scope.swept(server, since, &extra, [SubnetId(2)].into());
        assert_eq!(
            ids(&scope.extra(server, &all).0),
            [2],
            "only where our hosts were seen"
        );

        // A write during the next sweep is kept even though its subnet was paged clean.
        let (extra, since) = scope.extra(server, &all);
        scope.note_written(server, SubnetId(3));
        scope.swept(server, since, &[SubnetId(2), SubnetId(3)].into(), BTreeSet::new());
        assert_eq!(ids(&scope.extra(server, &all).0), [3]);
        assert_eq!(ids(&extra), [2]);

        // A subnet the server no longer has is never paged; other servers are independent.
        assert!(scope.extra(server, &subnets(&[1, 2])).0.is_empty());
        assert_eq!(ids(&scope.extra(ServerId::Secondary, &all).0), [1, 2, 3]);
    }
}
