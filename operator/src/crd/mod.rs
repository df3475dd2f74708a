//! Kubernetes resource types: `NetworkConfiguration` and `NetworkNamespace` (SPEC §1).
//!
//! The Rust types are the source of the CRD YAML: [`crd_yaml`] prints it (`kea-operator crd`), and the
//! copy committed in `charts/kea-operator/templates/crds.yaml` is checked against it by
//! `operator/tests/crd_yaml.rs`. After changing a type, regenerate the chart copy with
//!
//! ```text
//! UPDATE_CRDS=1 cargo nextest run -p kea-operator --test crd_yaml
//! ```

mod network_configuration;
mod network_namespace;
pub mod schema;
#[cfg(any(test, feature = "test-builders"))]
pub mod testing;

use kube::CustomResourceExt;

pub use network_configuration::{
    InterfaceState, InterfaceStatus, NetworkConfiguration, NetworkConfigurationSpec,
    NetworkConfigurationStatus, NetworkInterface, Phase, ServerStatus,
};
pub use network_namespace::{NetworkNamespace, NetworkNamespaceSpec, NetworkNamespaceStatus};

/// Our finalizer: cleanup of the NC's reservations on every server runs before it is released.
pub const FINALIZER: &str = "kea.vitistack.io/reservations";

/// Finalizers of the earlier Go operator: adopted (cleaned up like ours, then replaced), and their
/// presence allows adopting that operator's unmarked hosts (SPEC §1).
pub const LEGACY_FINALIZERS: &[&str] = &[
    "vitistack.io/networkconfiguration-finalizer",
    "networkconfiguration.finalizers.vitistack.io",
];

/// The provider value this operator handles (compared case-insensitively).
pub const PROVIDER: &str = "kea";

impl NetworkConfiguration {
    /// Whether this operator handles the object (`spec.provider` is `kea`, any case).
    pub fn is_kea(&self) -> bool {
        self.spec.provider.trim().eq_ignore_ascii_case(PROVIDER)
    }

    /// Whether the object carries our finalizer.
    pub fn has_our_finalizer(&self) -> bool {
        self.finalizers().iter().any(|f| f == FINALIZER)
    }

    /// Whether the object carries one of the Go operator's finalizers (adoption, SPEC §1).
    pub fn has_legacy_finalizer(&self) -> bool {
        self.finalizers()
            .iter()
            .any(|f| LEGACY_FINALIZERS.contains(&f.as_str()))
    }

    fn finalizers(&self) -> &[String] {
        self.metadata.finalizers.as_deref().unwrap_or_default()
    }
}

/// Both CRDs as one YAML stream (`---`-separated), exactly as `kea-operator crd` prints it.
pub fn crd_yaml() -> String {
    let docs = [NetworkConfiguration::crd(), NetworkNamespace::crd()];
    let mut out = String::new();
    for crd in docs {
        out.push_str("---\n");
        // A CRD is plain data; serializing it cannot fail short of a bug in serde_yaml_ng.
        out.push_str(&serde_yaml_ng::to_string(&crd).expect("a CustomResourceDefinition serializes to YAML"));
    }
    out
}
