//! CRDs: the stand-ins for `coordination.k8s.io/v1` Lease and `events.k8s.io/v1` Event (the
//! standalone API server has no built-in groups), applying CRDs and waiting until they are served.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::json;

use super::KubeError;

/// How long a CRD may take to become Established and served.
const CRD_TIMEOUT: Duration = Duration::from_secs(30);

fn standin(group: &str, kind: &str, plural: &str, schema: serde_json::Value) -> CustomResourceDefinition {
    let value = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.{group}"),
            // Groups under k8s.io need this annotation; the value says what it is.
            "annotations": {"api-approved.kubernetes.io": "unapproved, test double only"}
        },
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]
        }
    });
    // The literal above is a valid CRD; a failure here is a bug in this file.
    serde_json::from_value(value).expect("stand-in CRD literal is a valid CustomResourceDefinition")
}

/// Stand-ins for `coordination.k8s.io/v1` Lease and `events.k8s.io/v1` Event.
///
/// Note: custom resources refuse strategic-merge patches (415), so clients must renew Leases with
/// JSON merge/JSON patches, server-side apply or replace.
pub fn standin_crds() -> Vec<CustomResourceDefinition> {
    let lease_schema = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "holderIdentity": {"type": "string"},
                    "leaseDurationSeconds": {"type": "integer", "format": "int32"},
                    "acquireTime": {"type": "string", "format": "date-time"},
                    "renewTime": {"type": "string", "format": "date-time"},
                    "leaseTransitions": {"type": "integer", "format": "int32"},
                    "preferredHolder": {"type": "string"},
                    "strategy": {"type": "string"}
                }
            }
        }
    });
    // events.k8s.io/v1 Event keeps its fields at the top level, not under spec.
    let event_schema = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    vec![
        standin("coordination.k8s.io", "Lease", "leases", lease_schema),
        standin("events.k8s.io", "Event", "events", event_schema),
    ]
}

/// Parses `---` separated YAML documents into CRDs.
pub fn parse_yaml(yaml: &str) -> Result<Vec<CustomResourceDefinition>, KubeError> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let value = <serde_json::Value as serde::Deserialize>::deserialize(doc)
            .map_err(|e| KubeError::Crd(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        out.push(serde_json::from_value(value).map_err(|e| KubeError::Crd(e.to_string()))?);
    }
    Ok(out)
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

pub(super) async fn apply(client: &kube::Client, crds: &[CustomResourceDefinition]) -> Result<(), KubeError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("testenv").force();
    for crd in crds {
        let name = crd
            .metadata
            .name
            .clone()
            .ok_or_else(|| KubeError::Crd("CRD without metadata.name".into()))?;
        let mut body = crd.clone();
        body.metadata.managed_fields = None;
        body.metadata.resource_version = None;
        body.status = None;
        let mut value = serde_json::to_value(&body).map_err(|e| KubeError::Crd(e.to_string()))?;
        value["apiVersion"] = json!("apiextensions.k8s.io/v1");
        value["kind"] = json!("CustomResourceDefinition");
        api.patch(&name, &params, &Patch::Apply(&value)).await?;
    }
    let started = Instant::now();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let current = api.get(&name).await?;
            if established(&current) && served(client, &current).await {
                break;
            }
            if started.elapsed() > CRD_TIMEOUT {
                return Err(KubeError::NotReady {
                    what: format!("CRD {name}"),
                    secs: CRD_TIMEOUT.as_secs(),
                    last: "not Established and served".into(),
                    tail: String::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// True when a list of the CRD's first served version answers (discovery has caught up).
async fn served(client: &kube::Client, crd: &CustomResourceDefinition) -> bool {
    let spec = &crd.spec;
    let Some(version) = spec.versions.iter().find(|v| v.served) else {
        return false;
    };
    let gvk = GroupVersionKind::gvk(&spec.group, &version.name, &spec.names.kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, &spec.names.plural);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    api.list(&ListParams::default().limit(1)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standins_are_in_the_builtin_groups_and_marked() {
        let crds = standin_crds();
        let names: Vec<_> = crds.iter().filter_map(|c| c.metadata.name.clone()).collect();
        assert_eq!(names, ["leases.coordination.k8s.io", "events.events.k8s.io"]);
        for c in &crds {
            let ann = c.metadata.annotations.as_ref().expect("annotations");
            assert_eq!(ann["api-approved.kubernetes.io"], "unapproved, test double only");
        }
    }

    #[test]
    fn yaml_documents_are_parsed_and_empty_ones_skipped() {
        let yaml = serde_yaml_ng::to_string(&standin_crds()[0]).expect("yaml");
        let parsed = parse_yaml(&format!("---\n{yaml}\n---\n")).expect("parse");
        assert_eq!(parsed.len(), 1);
        assert!(parse_yaml("kind: [").is_err());
    }
}
