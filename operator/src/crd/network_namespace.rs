//! `NetworkNamespace` (`vitistack.io/v1alpha1`): the operator reads only `status.ipv4Prefix` (SPEC §1).
//!
//! In vitistack clusters the platform owns this CRD; ours (installed with `crds.install=true`) is the
//! smallest schema that serves the operator and tests, and the Rust type ignores every other field.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema::lenient;

/// A network of the platform; its IPv4 prefix chooses the Kea subnet for the NCs in its namespace.
// Each `printcolumn(..)` repeats `type_`, which clippy mistakes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "vitistack.io",
    version = "v1alpha1",
    kind = "NetworkNamespace",
    namespaced,
    shortname = "nn",
    status = "NetworkNamespaceStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A platform network; the kea-operator reads status.ipv4Prefix.",
    annotation("helm.sh/resource-policy", "keep"),
    printcolumn(name = "Prefix", type_ = "string", json_path = ".status.ipv4Prefix"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct NetworkNamespaceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_identifier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkNamespaceStatus {
    /// The IPv4 prefix (CIDR) of the network, set by the platform once allocated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub ipv4_prefix: Option<String>,
}
