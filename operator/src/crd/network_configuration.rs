//! `NetworkConfiguration` (`vitistack.io/v1alpha1`, short name `nc`): the resource this operator
//! reconciles (SPEC §1).
//!
//! Two schemas meet here. Our CRD (printed by [`crate::crd::crd_yaml`]) requires `clusterName`,
//! `datacenterName`, `supervisorName`, `provider` and `networkInterfaces`. The vitistack platform's CRD of
//! the same name has other identifiers and none of those. So the Rust types read only what the operator
//! needs, default the rest and ignore unknown fields, while the published schema stays strict (see
//! [`super::schema::RequireFields`]).
//!
//! Status is written by read-modify-write, matched by interface `name`: the `extra` maps keep every field
//! the operator does not own (the platform's `vlan`, `created`, …) so a write never drops them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::{RequireFields, lenient, lenient_vec};

/// The desired network interfaces of one machine; the operator keeps a Kea reservation per valid MAC.
// Each `printcolumn(..)` repeats `type_`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "vitistack.io",
    version = "v1alpha1",
    kind = "NetworkConfiguration",
    namespaced,
    shortname = "nc",
    status = "NetworkConfigurationStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Network interfaces whose MAC addresses get ISC Kea DHCPv4 host reservations.",
    annotation("helm.sh/resource-policy", "keep"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.readyInterfaces",
        description = "Interfaces reserved on the active Kea server / interfaces declared"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = RequireFields(&[
    "clusterName", "datacenterName", "supervisorName", "provider", "networkInterfaces",
]))]
pub struct NetworkConfigurationSpec {
    /// Cluster the machine belongs to (informational).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    /// Datacenter of the machine (informational).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datacenter_name: String,
    /// Supervisor of the machine (informational).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub supervisor_name: String,
    /// Which operator handles this object; this one handles `kea` (case-insensitive).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider: String,
    /// The NetworkNamespace (same namespace) whose `status.ipv4Prefix` selects the Kea subnet. When
    /// unset, the namespace must hold exactly one NetworkNamespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_namespace_name: Option<String>,
    /// Interfaces to reserve addresses for (may be empty).
    #[serde(default)]
    pub network_interfaces: Vec<NetworkInterface>,
}

/// One declared interface. The operator validates and normalizes the MAC itself (not the schema), so
/// that one typo is reported on its interface instead of rejecting the whole object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = RequireFields(&["name", "macAddress"]))]
pub struct NetworkInterface {
    /// Interface name, unique within the object (status entries are matched by it).
    #[serde(default)]
    pub name: String,
    /// MAC address, `aa:bb:cc:dd:ee:ff` or `AA-BB-CC-DD-EE-FF`.
    #[serde(default)]
    pub mac_address: String,
}

/// What the operator reports. Every field is optional and lenient on read: another writer's values (or
/// a platform schema that pruned ours) never make the object unreadable, and the operator recomputes
/// its own fields on every reconcile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfigurationStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub observed_generation: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub phase: Option<Phase>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub message: Option<String>,
    /// `reserved/declared`, e.g. `2/3`: interfaces reserved on the active server (printer column).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub ready_interfaces: Option<String>,
    /// `Ready` and `ServersInSync`, in the standard `metav1.Condition` shape.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient_vec"
    )]
    pub conditions: Vec<Condition>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient_vec"
    )]
    pub network_interfaces: Vec<InterfaceStatus>,
    /// Status fields written by others (the platform's `status`, `created`, …), kept on write.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Overall state of the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// Work is in progress (waiting for a lease or a prefix).
    Reconciling,
    /// Every valid interface is reserved on the active server.
    Ready,
    /// Something needs attention; the `Ready` condition says what.
    Error,
    /// The object is being deleted and its reservations removed.
    Deleting,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Reconciling => "Reconciling",
            Phase::Ready => "Ready",
            Phase::Error => "Error",
            Phase::Deleting => "Deleting",
        }
    }
}

/// Result for one declared interface, on the active server (`state`) and per server (`servers`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceStatus {
    /// Matches `spec.networkInterfaces[].name`.
    #[serde(default)]
    pub name: String,
    /// The normalized MAC (or the declared text when it is invalid).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub mac_address: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub state: Option<InterfaceState>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub ipv4_address: Option<String>,
    /// The active server's subnet-id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub kea_subnet_id: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub message: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient_vec"
    )]
    pub servers: Vec<ServerStatus>,
    /// Platform name for the result: `[ipv4Address]` once reserved.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient_vec"
    )]
    pub ipv4_addresses: Vec<String>,
    /// Platform name: the NetworkNamespace prefix the address comes from.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub ipv4_subnet: Option<String>,
    /// Platform name: reserved on the active server.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub dhcp_reserved: Option<bool>,
    /// Platform name: an address is known for the interface (lease or reservation).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub ip_allocated: Option<bool>,
    /// Platform name: always `dhcp` for this operator.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub allocation_method: Option<String>,
    /// Fields others wrote on this entry (`vlan`, `ipv6Addresses`, …), kept on write.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// State of one interface, judged on the active Kea server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum InterfaceState {
    /// Reserved on the active server.
    Reserved,
    /// No owned reservation and no current lease in the prefix yet; nothing written.
    WaitingForLease,
    /// The declared MAC is malformed or declared twice.
    InvalidMac,
    /// The MAC or address belongs to someone else; never overwritten.
    Conflict,
    /// Kea or the environment failed; retried.
    Error,
}

impl InterfaceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceState::Reserved => "Reserved",
            InterfaceState::WaitingForLease => "WaitingForLease",
            InterfaceState::InvalidMac => "InvalidMac",
            InterfaceState::Conflict => "Conflict",
            InterfaceState::Error => "Error",
        }
    }
}

/// One server's result for one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    /// `primary` or `secondary`.
    #[serde(default)]
    pub name: String,
    /// That server's subnet-id (ids may differ between HA partners).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub subnet_id: Option<u32>,
    #[serde(default)]
    pub reserved: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub error: Option<String>,
}
