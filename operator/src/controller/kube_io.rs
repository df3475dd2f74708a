//! The operator's writes to Kubernetes: finalizers, the reservations annotation and the status.
//!
//! - Finalizers are written with a JSON merge patch that carries the resourceVersion that was read,
//!   so a concurrent change makes it fail (409) instead of dropping someone else's finalizer.
//! - The annotation (`kea.vitistack.io/reservations`) is ours alone: a merge patch of that one key.
//! - Status is read-modify-write with the resourceVersion (SPEC §1): a merge patch would replace the
//!   whole interfaces array and drop fields other writers (the platform) keep there.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::core::annotation::{ANNOTATION, Reservations};
use crate::core::status::StatusUpdate;
use crate::crd::{FINALIZER, LEGACY_FINALIZERS, NetworkConfiguration, NetworkConfigurationStatus};

use super::error::Error;

/// How often a status write is retried after a 409 before the reconcile gives up (and is requeued).
const STATUS_ATTEMPTS: usize = 4;

pub fn api(client: &kube::Client, nc: &NetworkConfiguration) -> Api<NetworkConfiguration> {
    Api::namespaced(client.clone(), &nc.namespace().unwrap_or_default())
}

/// Adds our finalizer when it is missing (legacy finalizers stay until the reservations have been
/// adopted: see `apply`). Returns the object as written, or the input when nothing changed.
pub async fn ensure_finalizer(
    client: &kube::Client,
    nc: &NetworkConfiguration,
) -> Result<NetworkConfiguration, Error> {
    if nc.has_our_finalizer() {
        return Ok(nc.clone());
    }
    let mut finalizers = nc.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    set_finalizers(client, nc, finalizers).await
}

/// Removes our finalizer and the Go operator's (cleanup done, or the provider changed).
pub async fn release_finalizers(client: &kube::Client, nc: &NetworkConfiguration) -> Result<(), Error> {
    let kept: Vec<String> = nc
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER && !LEGACY_FINALIZERS.contains(&f.as_str()))
        .cloned()
        .collect();
    if kept.len() == nc.finalizers().len() {
        return Ok(());
    }
    match set_finalizers(client, nc, kept).await {
        Ok(_) => Ok(()),
        // Already gone: the API server removed the object once the last finalizer went.
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Drops the Go operator's finalizers once ours is in place and its hosts are adopted.
pub async fn drop_legacy_finalizers(client: &kube::Client, nc: &NetworkConfiguration) -> Result<(), Error> {
    if !nc.has_legacy_finalizer() || !nc.has_our_finalizer() {
        return Ok(());
    }
    let kept: Vec<String> = nc
        .finalizers()
        .iter()
        .filter(|f| !LEGACY_FINALIZERS.contains(&f.as_str()))
        .cloned()
        .collect();
    set_finalizers(client, nc, kept).await.map(|_| ())
}

async fn set_finalizers(
    client: &kube::Client,
    nc: &NetworkConfiguration,
    finalizers: Vec<String>,
) -> Result<NetworkConfiguration, Error> {
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": nc.resource_version(),
        }
    });
    let written = api(client, nc)
        .patch(&nc.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(written)
}

/// Writes the annotation when its rendering differs from what the object carries (removed when empty).
/// Returns the object as it is now (the written one, or the input when nothing changed): later
/// writes of the same reconcile start from it, so their comparisons and resourceVersions are current.
pub async fn write_annotation(
    client: &kube::Client,
    nc: &NetworkConfiguration,
    reservations: &Reservations,
) -> Result<NetworkConfiguration, Error> {
    let current = nc.annotations().get(ANNOTATION);
    let wanted = (!reservations.is_empty()).then(|| reservations.render());
    if current == wanted.as_ref() {
        return Ok(nc.clone());
    }
    let patch = json!({ "metadata": { "annotations": { ANNOTATION: wanted } } });
    let written = api(client, nc)
        .patch(&nc.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(written)
}

/// Read-modify-write of the status: `render` computes the new status from the one just read; the
/// write carries that read's resourceVersion and is retried on 409. Nothing is written when the
/// status would not change. Returns the update and the object as it is now.
pub async fn write_status(
    client: &kube::Client,
    nc: &NetworkConfiguration,
    render: impl Fn(Option<&NetworkConfigurationStatus>) -> StatusUpdate,
) -> Result<(StatusUpdate, NetworkConfiguration), Error> {
    let api = api(client, nc);
    let name = nc.name_any();
    let mut current = nc.clone();
    for attempt in 0..STATUS_ATTEMPTS {
        let update = render(current.status.as_ref());
        if !update.changed {
            return Ok((update, current));
        }
        let mut next = current.clone();
        next.status = Some(update.status.clone());
        match api.replace_status(&name, &PostParams::default(), &next).await {
            Ok(written) => return Ok((update, written)),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt + 1 < STATUS_ATTEMPTS => {
                current = api.get_status(&name).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::StatusConflict(name))
}

/// When the object's deletion started (for `KEA_CLEANUP_TIMEOUT_SECONDS`).
pub fn deletion_started(nc: &NetworkConfiguration) -> Option<jiff::Timestamp> {
    nc.metadata.deletion_timestamp.as_ref().map(|Time(t)| *t)
}
