//! The controller: watches NetworkConfigurations (and the NetworkNamespaces they use), reconciles
//! each into Kea reservations, cleans up on delete, sweeps every server periodically, and reports
//! through status, Events, metrics and the health endpoints. See `docs/architecture.md`.
//!
//! Stages of a reconcile ([`reconcile`]): deletion first (finalizer cleanup), then provider triage
//! (`kea` only; a provider change cleans up), then our finalizer, then [`apply::reconcile`]. The
//! decisions live in the pure `core` (planner, status); this module gathers inputs and performs IO.

mod apply;
mod cleanup;
mod context;
mod error;
mod events;
mod execute;
mod gather;
mod kube_io;
mod locks;
mod mac_index;
mod run;
mod subnets;
mod sweep;

use std::sync::Arc;

use kube::runtime::controller::Action;

pub use context::{Context, NcGuard, NnGuard};
pub use error::Error;
pub use run::{RunError, RunOptions, run, run_with};
pub use sweep::{SweepError, SweepReport, sweep_server};

use crate::crd::NetworkConfiguration;

/// How soon a reconcile that wrote with a stale resourceVersion runs again (the watch usually
/// delivers the fresh object first and triggers it sooner).
const STALE_READ_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

/// Label of `kea_operator_reconciliation_errors_total{controller}`.
pub const CONTROLLER: &str = "networkconfiguration";

/// One reconcile of one NetworkConfiguration.
pub async fn reconcile(obj: Arc<NcGuard>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Followers keep their watches warm but never write; becoming leader reconciles everything.
    if !ctx.is_leader() {
        ctx.health.tick();
        return Ok(Action::await_change());
    }
    let timer = ctx.metrics.reconcile_timer();
    let result = reconcile_inner(&obj, &ctx).await;
    ctx.health.tick();
    if let Err(error) = &result
        && error.is_stale_read()
    {
        tracing::debug!(nc = %mac_index::describe(&obj), %error, "object changed since read; reconciling again");
        return Ok(Action::requeue(STALE_READ_RETRY));
    }
    if result.is_ok() {
        timer.succeeded();
    }
    match &result {
        Ok(action) => tracing::debug!(nc = %mac_index::describe(&obj), ?action, "reconciled"),
        Err(error) => tracing::debug!(nc = %mac_index::describe(&obj), %error, "reconcile failed"),
    }
    result
}

async fn reconcile_inner(obj: &NcGuard, ctx: &Context) -> Result<Action, Error> {
    let nc: &NetworkConfiguration = match &obj.0 {
        Ok(nc) => nc,
        Err(invalid) => {
            // One malformed object must not stop the others (DeserializeGuard); it waits for a fix.
            tracing::warn!(
                nc = %mac_index::describe(obj),
                error = %invalid.error,
                "NetworkConfiguration cannot be read; fix the object (it is retried when it changes)"
            );
            ctx.metrics
                .record_reconciliation_error("invalid_object", CONTROLLER);
            return Ok(Action::await_change());
        }
    };
    // Deletion before provider triage: an NC whose provider changed while it is deleted still
    // gets its reservations removed.
    if nc.metadata.deletion_timestamp.is_some() {
        if nc.has_our_finalizer() || nc.has_legacy_finalizer() {
            return cleanup::cleanup(nc, ctx, cleanup::Why::Deleting).await;
        }
        return Ok(Action::await_change());
    }
    if !nc.is_kea() {
        if nc.has_our_finalizer() {
            return cleanup::cleanup(nc, ctx, cleanup::Why::ProviderChanged).await;
        }
        return Ok(Action::await_change());
    }
    let nc = kube_io::ensure_finalizer(&ctx.client, nc).await?;
    apply::reconcile(&nc, ctx).await
}

/// What happens when a reconcile fails on the Kubernetes side (Kea failures are in the status).
pub fn error_policy(obj: Arc<NcGuard>, error: &Error, ctx: Arc<Context>) -> Action {
    use kube::Resource;
    ctx.metrics
        .record_reconciliation_error(error.category(), CONTROLLER);
    let uid = obj.meta().uid.clone().unwrap_or_default();
    let failures = ctx.note_failure(&uid, std::time::Duration::from_secs(1));
    let delay = ctx.backoff.delay(std::time::Duration::from_secs(1), failures);
    tracing::warn!(nc = %mac_index::describe(&obj), %error, retry_in_s = delay.as_secs(), "reconcile failed");
    Action::requeue(apply::spread(delay))
}
