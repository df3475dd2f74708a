//! Removal of an NC's reservations (SPEC §2.7): on deletion (our or the Go operator's finalizer),
//! and when the provider changed away from `kea` while our finalizer is on it.
//!
//! Every host marked with this NC's uid is deleted on every server; "not found" counts as done, but
//! only from a server whose hosts database is up. The finalizer is released when every server has
//! confirmed — or, when a server stays unreachable past `KEA_CLEANUP_TIMEOUT_SECONDS` since deletion
//! started, released anyway and the remainder left to the sweep (it deletes hosts whose owner is gone).

use std::collections::BTreeSet;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::core::Mac;
use crate::core::annotation::{ANNOTATION, Reservations};
use crate::core::planner::{EventType, NcIdentity, host_lookup_keys, plan_deletion};
use crate::core::status;
use crate::crd::NetworkConfiguration;

use super::apply::spread;
use super::context::{Context, NcGuard};
use super::error::Error;
use super::{events, execute, gather, kube_io};

/// Why the cleanup runs (decides what happens after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The object is being deleted: release our and the Go operator's finalizers when done.
    Deleting,
    /// `spec.provider` is no longer `kea`: remove the reservations and our finalizer.
    ProviderChanged,
}

pub async fn cleanup(nc: &NetworkConfiguration, ctx: &Context, why: Why) -> Result<Action, Error> {
    let identity = NcIdentity::from_nc(nc)?;
    let annotation = Reservations::parse(nc.annotations().get(ANNOTATION).map(String::as_str)).reservations;
    let macs = gather::declared_macs(nc);
    let _locked = ctx
        .locks
        .lock(macs.iter().copied().chain(annotation.iter().map(|(_, r)| r.mac)))
        .await;

    let prefix = gather::prefix(ctx, &identity, nc).ok();
    let mut servers = gather::servers(ctx, prefix).await;
    let now = jiff::Timestamp::now();
    let now_seconds = u64::try_from(now.as_second()).unwrap_or(0);
    let keys = host_lookup_keys(
        &nc.spec.network_interfaces,
        prefix,
        &servers,
        &[],
        &annotation,
        now_seconds,
    );
    gather::hosts(ctx, &mut servers, &keys).await;

    let plan = plan_deletion(&identity, ctx.instance(), &servers);
    let results = execute::execute_all(ctx, plan.actions()).await;
    let result = plan.finish(results);
    events::publish(&ctx.recorder, nc, &result.events).await;

    let dry_run = ctx.config.controller.dry_run;
    let timed_out = kube_io::deletion_started(nc).is_some_and(|started| {
        now.duration_since(started).unsigned_abs() >= ctx.config.controller.cleanup_timeout
    });
    if result.complete || dry_run || (why == Why::Deleting && timed_out) {
        if !result.complete && !dry_run {
            let remaining: Vec<String> = result
                .remaining
                .iter()
                .map(|(server, _, message)| format!("{server}: {message}"))
                .collect();
            let note = format!(
                "cleanup timed out after {}s; releasing the finalizer, the sweep removes what is left ({})",
                ctx.config.controller.cleanup_timeout.as_secs(),
                remaining.join("; ")
            );
            tracing::warn!(nc = %identity.owner(), "{note}");
            events::send(
                &ctx.recorder,
                &nc_ref(nc),
                EventType::Warning,
                "CleanupTimedOut",
                "Delete",
                note,
            )
            .await;
        }
        match why {
            Why::Deleting => kube_io::release_finalizers(&ctx.client, nc).await?,
            Why::ProviderChanged => {
                // The finalizer write carries the resourceVersion: start from the annotation write's.
                let latest = kube_io::write_annotation(&ctx.client, nc, &Reservations::default()).await?;
                kube_io::release_finalizers(&ctx.client, &latest).await?;
            }
        }
        ctx.note_success(&identity.uid);
        tracing::info!(nc = %identity.owner(), ?why, "reservations removed; finalizer released");
        requeue_other_declarers(ctx, nc, &macs);
        return Ok(Action::await_change());
    }

    let remaining: Vec<String> = result
        .remaining
        .iter()
        .map(|(server, reason, message)| format!("{server} ({}): {message}", reason.as_str()))
        .collect();
    let message = format!("removing reservations; waiting for {}", remaining.join("; "));
    if why == Why::Deleting {
        kube_io::write_status(&ctx.client, nc, |previous| {
            status::render_deleting(previous, nc.metadata.generation, &message)
        })
        .await?;
    }
    let failures = ctx.note_failure(&identity.uid, ctx.config.requeue.network);
    let delay = spread(ctx.backoff.delay(ctx.config.requeue.network, failures));
    Ok(Action::requeue(until_deadline(nc, ctx, why, now, delay)))
}

/// The retry delay, cut to the cleanup deadline while deleting: the finalizer is released when
/// `KEA_CLEANUP_TIMEOUT_SECONDS` has passed, not at the next step of the per-object backoff (which
/// doubles up to 15 minutes and would overshoot a 10-minute timeout by far).
fn until_deadline(
    nc: &NetworkConfiguration,
    ctx: &Context,
    why: Why,
    now: jiff::Timestamp,
    delay: std::time::Duration,
) -> std::time::Duration {
    const AT_LEAST: std::time::Duration = std::time::Duration::from_millis(100);
    let Some(started) = kube_io::deletion_started(nc).filter(|_| why == Why::Deleting) else {
        return delay;
    };
    let elapsed = now.duration_since(started).unsigned_abs();
    let remaining = ctx.config.controller.cleanup_timeout.saturating_sub(elapsed);
    delay.min(remaining.max(AT_LEAST))
}

/// NCs that declare one of these MACs too may own them now (SPEC §2.5: the younger takes over once
/// the older is gone): reconcile them at once instead of at their conflict resync.
fn requeue_other_declarers(ctx: &Context, nc: &NetworkConfiguration, macs: &BTreeSet<Mac>) {
    let own = ObjectRef::<NcGuard>::new(&nc.name_any()).within(&nc.namespace().unwrap_or_default());
    for reference in ctx.mac_index.declarers(macs.iter().copied()) {
        if reference != own {
            let _ = ctx.requeue.send(reference);
        }
    }
}

fn nc_ref(nc: &NetworkConfiguration) -> k8s_openapi::api::core::v1::ObjectReference {
    use kube::Resource;
    nc.object_ref(&())
}
