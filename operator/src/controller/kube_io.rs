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

/// Request shapes against a verifier standing in for the API server (tower-test): the exact
/// method, path, content type and body of each write, and the 409 path of the status write (which
/// is what the chart's `get networkconfigurations/status` rule is for).
#[cfg(test)]
mod tests {
    use hyper::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};
    use tower_test::mock::{self, Handle};

    use super::*;
    use crate::core::error_class::Requeue;

    type Verifier = Handle<Request<Body>, Response<Body>>;

    const PATH: &str = "/apis/vitistack.io/v1alpha1/namespaces/ns-a/networkconfigurations/vm-1";

    fn client() -> (kube::Client, Verifier) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        (kube::Client::new(service, "default"), handle)
    }

    fn nc(resource_version: &str) -> NetworkConfiguration {
        let mut nc = NetworkConfiguration::test().named("ns-a", "vm-1");
        nc.metadata.resource_version = Some(resource_version.into());
        nc
    }

    /// Takes the next request, checks method and path, answers `status` with `body`; returns the
    /// request's content type and JSON body.
    async fn expect(v: &mut Verifier, method: &str, path: &str, status: u16, body: Value) -> (String, Value) {
        let (request, send) = v.next_request().await.expect("a request");
        assert_eq!(request.method().as_str(), method);
        assert_eq!(request.uri().path(), path);
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = request.into_body().collect_bytes().await.expect("request body");
        let sent = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        let response = Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&body).expect("json")))
            .expect("response");
        send.send_response(response);
        (content_type, sent)
    }

    fn conflict() -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict",
               "message": "the object has been modified", "code": 409})
    }

    fn as_json(nc: &NetworkConfiguration) -> Value {
        serde_json::to_value(nc).expect("json")
    }

    #[tokio::test]
    async fn the_finalizer_is_added_with_a_merge_patch_carrying_the_resource_version() {
        let (client, mut v) = client();
        let read = nc("7").legacy_finalized();
        let mut written = read.clone();
        written.metadata.finalizers = Some(vec![LEGACY_FINALIZERS[0].into(), FINALIZER.into()]);
        let server = tokio::spawn(async move { expect(&mut v, "PATCH", PATH, 200, as_json(&written)).await });
        let out = ensure_finalizer(&client, &read).await.expect("patched");
        assert!(out.has_our_finalizer());
        let (content_type, body) = server.await.expect("verifier");
        assert_eq!(content_type, "application/merge-patch+json");
        assert_eq!(
            body,
            json!({"metadata": {"finalizers": [LEGACY_FINALIZERS[0], FINALIZER], "resourceVersion": "7"}})
        );
    }

    #[tokio::test]
    async fn releasing_keeps_foreign_finalizers_and_a_gone_object_is_done() {
        let (client, mut v) = client();
        let mut read = nc("9");
        read.metadata.finalizers = Some(vec![
            "example.com/theirs".into(),
            LEGACY_FINALIZERS[0].into(),
            FINALIZER.into(),
        ]);
        let gone = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
        let server = tokio::spawn(async move { expect(&mut v, "PATCH", PATH, 404, gone).await });
        release_finalizers(&client, &read).await.expect("404 is done");
        let (_, body) = server.await.expect("verifier");
        assert_eq!(
            body,
            json!({"metadata": {"finalizers": ["example.com/theirs"], "resourceVersion": "9"}})
        );
    }

    #[tokio::test]
    async fn the_annotation_patch_touches_only_its_key_and_removes_it_when_empty() {
        let (client, mut v) = client();
        let mut read = nc("3");
        read.metadata.annotations = Some([(ANNOTATION.to_string(), "{}".to_string())].into());
        let written = as_json(&nc("4"));
        let server = tokio::spawn(async move { expect(&mut v, "PATCH", PATH, 200, written).await });
        write_annotation(&client, &read, &Reservations::default())
            .await
            .expect("patched");
        let (content_type, body) = server.await.expect("verifier");
        assert_eq!(content_type, "application/merge-patch+json");
        assert_eq!(body, json!({"metadata": {"annotations": {ANNOTATION: null}}}));
    }

    #[tokio::test]
    async fn a_status_conflict_is_read_again_and_rendered_from_the_fresh_status() {
        let (client, mut v) = client();
        let read = nc("5");
        // What another writer put there meanwhile: the fresh read carries it, with resourceVersion 6.
        let mut fresh = nc("6");
        fresh.status = Some(NetworkConfigurationStatus {
            message: Some("theirs".into()),
            ..Default::default()
        });
        let fresh_json = as_json(&fresh);
        let render = |previous: Option<&NetworkConfigurationStatus>| {
            let mut status = previous.cloned().unwrap_or_default();
            status.ready_interfaces = Some("1/1".into());
            StatusUpdate {
                changed: true,
                status,
                ready: true,
                in_sync: true,
                requeue: Requeue::AwaitChange,
            }
        };
        let status_path = format!("{PATH}/status");
        let server = tokio::spawn(async move {
            let (_, first) = expect(&mut v, "PUT", &status_path, 409, conflict()).await;
            let (_, get) = expect(&mut v, "GET", &status_path, 200, fresh_json.clone()).await;
            let mut written = fresh_json.clone();
            written["metadata"]["resourceVersion"] = json!("7");
            let (_, second) = expect(&mut v, "PUT", &status_path, 200, written).await;
            (first, get, second)
        });
        let (update, latest) = write_status(&client, &read, render).await.expect("written");
        assert!(update.changed);
        assert_eq!(latest.resource_version().as_deref(), Some("7"));
        let (first, get, second) = server.await.expect("verifier");
        assert_eq!(first["metadata"]["resourceVersion"], json!("5"));
        assert_eq!(get, Value::Null);
        assert_eq!(second["metadata"]["resourceVersion"], json!("6"));
        assert_eq!(
            second["status"]["message"],
            json!("theirs"),
            "the other writer's field survives"
        );
        assert_eq!(second["status"]["readyInterfaces"], json!("1/1"));
    }

    #[tokio::test]
    async fn an_unchanged_status_is_not_written() {
        let (client, _v) = client();
        let read = nc("5");
        let (update, latest) = write_status(&client, &read, |_| StatusUpdate {
            changed: false,
            status: NetworkConfigurationStatus::default(),
            ready: true,
            in_sync: true,
            requeue: Requeue::AwaitChange,
        })
        .await
        .expect("nothing to write");
        assert!(!update.changed);
        assert_eq!(latest.resource_version().as_deref(), Some("5"));
    }
}
