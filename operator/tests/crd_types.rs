//! The resource types read the vitistack platform's objects and keep what others wrote (SPEC §1), while
//! our own CRD schema stays strict.

use kea_operator::crd::{
    InterfaceState, NetworkConfiguration, NetworkConfigurationStatus, NetworkNamespace, Phase, crd_yaml,
};
use kube::CustomResourceExt;
use serde_json::{Value, json};

/// An object as the platform's schema (vitistack/common) allows it: other identifiers, no
/// clusterName/datacenterName/supervisorName, interfaces with `vlan` and `ipv4Addresses`.
fn platform_nc() -> Value {
    json!({
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "NetworkConfiguration",
        "metadata": {"name": "vm-1", "namespace": "tenant-a", "uid": "u-1", "generation": 3},
        "spec": {
            "name": "vm-1",
            "description": "a machine",
            "datacenterIdentifier": "no-west-az1",
            "provider": "Kea",
            "networkNamespaceName": "net-a",
            "networkInterfaces": [
                {"name": "eth0", "macAddress": "AA-BB-CC-DD-EE-01", "vlan": "100", "ipv4Addresses": ["10.0.0.9"]}
            ]
        },
        "status": {
            "phase": "Provisioning",
            "status": "ok",
            "created": "2026-01-01T00:00:00Z",
            "networkInterfaces": [
                {"name": "eth0", "macAddress": "AA-BB-CC-DD-EE-01", "vlan": "100", "dhcpReserved": true}
            ]
        }
    })
}

#[test]
fn reads_the_platform_object_and_ignores_unknown_fields() {
    let nc: NetworkConfiguration = serde_json::from_value(platform_nc()).expect("platform NC deserializes");
    assert!(nc.is_kea(), "provider is compared case-insensitively");
    assert_eq!(nc.spec.network_namespace_name.as_deref(), Some("net-a"));
    assert_eq!(nc.spec.network_interfaces.len(), 1);
    assert_eq!(nc.spec.network_interfaces[0].mac_address, "AA-BB-CC-DD-EE-01");
    assert_eq!(
        nc.spec.cluster_name, "",
        "absent platform fields default to empty"
    );
    let status = nc.status.expect("status read");
    assert_eq!(
        status.phase, None,
        "a phase this operator does not know reads as absent, not as an error"
    );
}

#[test]
fn a_platform_object_without_interfaces_reads_as_empty() {
    let mut raw = platform_nc();
    raw["spec"]
        .as_object_mut()
        .expect("spec object")
        .remove("networkInterfaces");
    let nc: NetworkConfiguration = serde_json::from_value(raw).expect("deserializes");
    assert!(nc.spec.network_interfaces.is_empty());
}

#[test]
fn status_fields_others_wrote_survive_read_modify_write() {
    let mut nc: NetworkConfiguration = serde_json::from_value(platform_nc()).expect("deserializes");
    let status = nc.status.as_mut().expect("status");
    status.phase = Some(Phase::Ready);
    status.network_interfaces[0].state = Some(InterfaceState::Reserved);
    let written = serde_json::to_value(&nc).expect("serializes");
    assert_eq!(written["status"]["status"], "ok");
    assert_eq!(written["status"]["created"], "2026-01-01T00:00:00Z");
    assert_eq!(written["status"]["phase"], "Ready");
    let iface = &written["status"]["networkInterfaces"][0];
    assert_eq!(
        iface["vlan"], "100",
        "per-interface fields of other writers are kept"
    );
    assert_eq!(iface["state"], "Reserved");
    assert_eq!(iface["dhcpReserved"], true);
}

#[test]
fn garbage_in_operator_status_fields_never_breaks_reading() {
    let status: NetworkConfigurationStatus = serde_json::from_value(json!({
        "observedGeneration": "seven",
        "phase": 42,
        "conditions": [{"type": "Ready"}, "nonsense"],
        "networkInterfaces": [
            {"name": "eth0", "state": "Bogus", "keaSubnetId": -1, "servers": [{"name": 5}, {"name": "primary", "reserved": true}]},
            17
        ]
    }))
    .expect("lenient status");
    assert_eq!(status.observed_generation, None);
    assert_eq!(status.phase, None);
    assert!(
        status.conditions.is_empty(),
        "conditions missing required fields are dropped"
    );
    assert_eq!(status.network_interfaces.len(), 1);
    let iface = &status.network_interfaces[0];
    assert_eq!(iface.state, None);
    assert_eq!(iface.kea_subnet_id, None);
    assert_eq!(iface.servers.len(), 1);
    assert!(iface.servers[0].reserved);
}

#[test]
fn a_malformed_interface_in_spec_is_an_error_not_silently_dropped() {
    // Dropping it would make the planner delete that interface's reservation; the controller reads NCs
    // through DeserializeGuard and reports the object instead.
    let mut raw = platform_nc();
    raw["spec"]["networkInterfaces"][0]["macAddress"] = json!(12);
    assert!(serde_json::from_value::<NetworkConfiguration>(raw).is_err());
}

fn schema_of(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    serde_json::to_value(&crd.spec.versions[0].schema).expect("schema serializes")["openAPIV3Schema"].clone()
}

#[test]
fn our_crd_requires_the_seed_fields_without_defaults() {
    let schema = schema_of(&NetworkConfiguration::crd());
    let spec = &schema["properties"]["spec"];
    assert_eq!(
        spec["required"],
        json!([
            "clusterName",
            "datacenterName",
            "networkInterfaces",
            "provider",
            "supervisorName"
        ])
    );
    for field in [
        "clusterName",
        "datacenterName",
        "supervisorName",
        "provider",
        "networkInterfaces",
    ] {
        assert!(
            spec["properties"][field].get("default").is_none(),
            "{field} must not be defaulted by the schema"
        );
    }
    assert_eq!(
        spec["properties"]["networkInterfaces"]["items"]["required"],
        json!(["macAddress", "name"])
    );
    assert!(
        spec["required"]
            .as_array()
            .is_some_and(|r| !r.contains(&json!("networkNamespaceName")))
    );
}

#[test]
fn our_crd_keeps_unknown_status_fields_and_has_the_printer_columns() {
    let crd = NetworkConfiguration::crd();
    let schema = schema_of(&crd);
    let iface = &schema["properties"]["status"]["properties"]["networkInterfaces"]["items"];
    assert_eq!(iface["x-kubernetes-preserve-unknown-fields"], true);
    let version = &crd.spec.versions[0];
    assert!(version.subresources.as_ref().is_some_and(|s| s.status.is_some()));
    let columns: Vec<(&str, &str)> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Phase", ".status.phase"),
            ("Ready", ".status.readyInterfaces"),
            ("Age", ".metadata.creationTimestamp")
        ]
    );
    assert_eq!(crd.spec.names.short_names, Some(vec!["nc".to_string()]));
    assert_eq!(crd.spec.scope, "Namespaced");
}

#[test]
fn both_crds_carry_the_helm_keep_policy() {
    for crd in [NetworkConfiguration::crd(), NetworkNamespace::crd()] {
        let keep = crd
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("helm.sh/resource-policy"));
        assert_eq!(keep.map(String::as_str), Some("keep"), "{:?}", crd.metadata.name);
    }
}

#[test]
fn network_namespace_reads_only_the_prefix() {
    let nn: NetworkNamespace = serde_json::from_value(json!({
        "apiVersion": "vitistack.io/v1alpha1", "kind": "NetworkNamespace",
        "metadata": {"name": "net-a", "namespace": "tenant-a"},
        "spec": {"datacenterIdentifier": "no-west-az1", "supervisorIdentifier": "sup"},
        "status": {"ipv4Prefix": "10.100.1.0/24", "vlanId": 100, "phase": "Ready"}
    }))
    .expect("platform NN deserializes");
    assert_eq!(
        nn.status.and_then(|s| s.ipv4_prefix).as_deref(),
        Some("10.100.1.0/24")
    );
}

#[test]
fn builders_compose() {
    let nc = NetworkConfiguration::test()
        .named("tenant-a", "vm-2")
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .legacy_finalized()
        .created("2026-02-01T00:00:00Z");
    assert_eq!(nc.metadata.uid.as_deref(), Some("uid-vm-2"));
    assert!(nc.has_legacy_finalizer());
    assert!(!nc.has_our_finalizer());
    assert!(NetworkConfiguration::test().finalized().has_our_finalizer());
    assert!(!NetworkConfiguration::test().provider("metal").is_kea());
    assert_eq!(
        NetworkNamespace::test()
            .prefix("10.1.0.0/16")
            .status
            .and_then(|s| s.ipv4_prefix)
            .as_deref(),
        Some("10.1.0.0/16")
    );
}

#[test]
fn crd_yaml_snapshot() {
    insta::assert_snapshot!(crd_yaml());
}
