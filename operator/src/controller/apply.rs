//! Reconcile of a live `kea` NetworkConfiguration (SPEC §2): gather, plan, write, report.
//!
//! 1. Lock the NC's MACs (two NCs never write one MAC at once; the sweep takes the same locks).
//! 2. Gather: NetworkNamespace prefix (store), per-server subnets (cache), leases on the active
//!    server, the hosts at the planner's lookup keys on every server, other NCs' claims (index).
//! 3. Plan (pure). Record the intent in the annotation before writing (crash safety: every host
//!    that may exist afterwards is listed, so cleanup and the next reconcile find it).
//! 4. Execute per server, record outcomes, write the final annotation, publish Events, write the
//!    status (only when it changes) and pick the requeue.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;

use crate::core::annotation::{ANNOTATION, Reservations};
use crate::core::error_class::{Requeue, jitter};
use crate::core::planner::{self, NcIdentity, PlanInput, mac_claims};
use crate::core::status;
use crate::crd::NetworkConfiguration;

use super::context::Context;
use super::error::Error;
use super::{events, execute, gather, kube_io};

pub async fn reconcile(nc: &NetworkConfiguration, ctx: &Context) -> Result<Action, Error> {
    let identity = NcIdentity::from_nc(nc)?;
    let parsed = Reservations::parse(nc.annotations().get(ANNOTATION).map(String::as_str));
    if let Some(problem) = &parsed.problem {
        tracing::warn!(nc = %identity.owner(), "annotation {ANNOTATION} {problem}");
    }
    let annotation = parsed.reservations;
    let macs = gather::declared_macs(nc);
    let _locked = ctx
        .locks
        .lock(macs.iter().copied().chain(annotation.iter().map(|(_, r)| r.mac)))
        .await;

    let prefix = gather::prefix(ctx, &identity, nc);

    let mut servers = gather::servers(ctx, prefix.as_ref().ok().copied()).await;
    let mut active = gather::choose_active(ctx, &servers);
    let mut leases = Vec::new();
    if prefix.is_ok() && active.is_some() && !macs.is_empty() {
        match gather::leases(ctx, &macs).await {
            Ok((found, answered)) => {
                leases = found;
                active = answered.or(active);
            }
            Err(error) => {
                tracing::warn!(nc = %identity.owner(), %error, "cannot read leases");
                gather::all_unavailable(&mut servers, &error);
                active = None;
            }
        }
    }

    let claims = {
        let declarers = ctx.mac_index.declarers(macs.iter().copied());
        let others: Vec<Arc<_>> = declarers.iter().filter_map(|r| ctx.ncs.get(r)).collect();
        mac_claims(
            &identity.uid,
            &macs,
            others.iter().filter_map(|g| g.0.as_ref().ok()),
        )
    };

    let mut input = PlanInput {
        nc: identity.clone(),
        interfaces: nc.spec.network_interfaces.clone(),
        prefix,
        servers: Vec::new(),
        active,
        leases,
        annotation: annotation.clone(),
        instance: ctx.instance().to_string(),
        claims,
        legacy_finalizer: nc.has_legacy_finalizer(),
        now: jiff::Timestamp::now(),
    };
    input.servers = servers.clone();
    let keys = input.host_lookups();
    gather::hosts(ctx, &mut servers, &keys).await;
    input.servers = servers;

    let plan = planner::plan(&input);
    let dry_run = ctx.config.controller.dry_run;
    // Each write starts from the object the previous one returned: the final annotation is compared
    // with the intent just written (not the one read), and the status and finalizer writes carry the
    // current resourceVersion instead of meeting our own annotation write as a 409.
    let mut latest = nc.clone();
    if !plan.is_noop() && !dry_run {
        let intent = plan.intent_annotation();
        if intent != annotation {
            latest = kube_io::write_annotation(&ctx.client, &latest, &intent).await?;
        }
    }
    let results = execute::execute_all(ctx, plan.actions()).await;
    let applied = plan.into_applied(results);
    if !dry_run {
        latest = kube_io::write_annotation(&ctx.client, &latest, &applied.annotation()).await?;
    }
    events::publish(&ctx.recorder, nc, &applied.events()).await;

    let now = jiff::Timestamp::now();
    let requeue_config = ctx.config.requeue;
    let (update, latest) = kube_io::write_status(&ctx.client, &latest, |previous| {
        status::render(&applied, previous, now, &requeue_config)
    })
    .await?;

    if update.ready && update.in_sync && nc.has_legacy_finalizer() {
        // The Go operator's hosts are adopted everywhere: its finalizers are no longer needed.
        kube_io::drop_legacy_finalizers(&ctx.client, &latest).await?;
    }

    Ok(requeue(ctx, &identity.uid, &update))
}

/// The requeue after a reconcile: none when Ready on every server (drift is the sweep's job), else
/// the failure class's delay stretched by per-object backoff and spread by jitter.
fn requeue(ctx: &Context, uid: &str, update: &status::StatusUpdate) -> Action {
    if update.ready && update.in_sync {
        ctx.note_success(uid);
        return Action::await_change();
    }
    // Waiting (for a lease, a prefix, a subnet) or an invalid MAC is not a failure: it keeps its
    // class delay, so a device that obtains a lease is noticed within one interval. Only Kea
    // failures back off per object.
    let kea_failing = update.status.conditions.iter().any(|c| {
        (c.type_ == status::READY || c.type_ == status::SERVERS_IN_SYNC)
            && c.status == "False"
            && KEA_FAILURE_REASONS.contains(&c.reason.as_str())
    }) || update
        .status
        .network_interfaces
        .iter()
        .any(|i| i.state == Some(crate::crd::InterfaceState::Error));
    let base = match update.requeue {
        Requeue::After(delay) => delay,
        Requeue::Resync | Requeue::AwaitChange => ctx.config.controller.resync_interval,
    };
    let failures = if kea_failing {
        ctx.note_failure(uid, base)
    } else {
        ctx.note_success(uid);
        1
    };
    match status::requeue_after(
        update,
        &ctx.backoff,
        failures,
        ctx.config.controller.resync_interval,
    ) {
        Some(delay) => Action::requeue(spread(delay)),
        None => Action::await_change(),
    }
}

const KEA_FAILURE_REASONS: &[&str] = &["KeaUnavailable", "AuthenticationFailed", "PermissionDenied"];

pub fn spread(delay: Duration) -> Duration {
    jitter(delay, rand::random::<f64>())
}
