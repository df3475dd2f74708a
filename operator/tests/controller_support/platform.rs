//! CRDs written from the vitistack platform's schema (SPEC §1): the NetworkConfiguration spec has
//! `name` (required), `provider`, `networkNamespaceName` and interfaces of the platform's struct;
//! status has `phase`, `status`, `message`, `created`, `conditions` and interfaces of the same struct.
//! Nothing keeps unknown fields, so the API server prunes every status field of ours the platform
//! does not know (`state`, `servers`, `observedGeneration`, …).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

fn identifier() -> Value {
    json!({"type": "string", "minLength": 2, "maxLength": 32, "pattern": "^[A-Za-z0-9_-]+$"})
}

/// The platform's interface struct (spec and status alike).
fn interface() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "macAddress": {"type": "string"},
            "vlan": {"type": "string"},
            "ipv4Addresses": strings,
            "ipv4Subnet": {"type": "string"},
            "ipv4Gateway": {"type": "string"},
            "ipv6Addresses": strings,
            "dns": strings,
            "dhcpReserved": {"type": "boolean"}
        }
    })
}

fn condition() -> Value {
    json!({
        "type": "object",
        "required": ["lastTransitionTime", "message", "reason", "status", "type"],
        "properties": {
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "message": {"type": "string", "maxLength": 32768},
            "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            "reason": {"type": "string", "minLength": 1, "maxLength": 1024},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "type": {"type": "string", "maxLength": 316}
        }
    })
}

fn crd(kind: &str, plural: &str, spec: Value, status: Value) -> CustomResourceDefinition {
    let value = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.vitistack.io")},
        "spec": {
            "group": "vitistack.io",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(),
                      "listKind": format!("{kind}List")},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec,
                        "status": status
                    }
                }}
            }]
        }
    });
    serde_json::from_value(value).expect("a valid CustomResourceDefinition")
}

/// NetworkConfiguration and NetworkNamespace as the platform defines them.
pub fn platform_crds() -> Vec<CustomResourceDefinition> {
    let nc_spec = json!({
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": identifier(),
            "description": {"type": "string", "maxLength": 256},
            "provider": {"type": "string", "minLength": 1, "maxLength": 32},
            "networkNamespaceName": {"type": "string"},
            "clusterIdentifier": identifier(),
            "datacenterIdentifier": identifier(),
            "supervisorIdentifier": identifier(),
            "networkInterfaces": {"type": "array", "items": interface()}
        }
    });
    let nc_status = json!({
        "type": "object",
        "properties": {
            "phase": {"type": "string"},
            "status": {"type": "string"},
            "message": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
            "conditions": {"type": "array", "items": condition()},
            "networkInterfaces": {"type": "array", "items": interface()}
        }
    });
    let nn_spec = json!({
        "type": "object",
        "required": ["clusterIdentifier", "datacenterIdentifier", "environment", "provider", "supervisorIdentifier"],
        "properties": {
            "clusterIdentifier": identifier(),
            "datacenterIdentifier": identifier(),
            "environment": {"type": "string"},
            "provider": {"type": "string"},
            "supervisorIdentifier": identifier()
        }
    });
    let nn_status = json!({
        "type": "object",
        "properties": {
            "phase": {"type": "string"},
            "status": {"type": "string"},
            "ipv4Prefix": {"type": "string"},
            "ipv6Prefix": {"type": "string"},
            "vlanId": {"type": "integer"},
            "conditions": {"type": "array", "items": condition()}
        }
    });
    vec![
        crd(
            "NetworkConfiguration",
            "networkconfigurations",
            nc_spec,
            nc_status,
        ),
        crd("NetworkNamespace", "networknamespaces", nn_spec, nn_status),
    ]
}
