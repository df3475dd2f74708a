//! Chainable builders for tests (unit, integration and e2e): `NetworkConfiguration::test().interface(..)`.
//!
//! Compiled for this crate's unit tests and, for other crates and `operator/tests`, with the
//! `test-builders` feature. The defaults are a complete, valid `kea` NC in namespace `default`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{
    FINALIZER, LEGACY_FINALIZERS, NetworkConfiguration, NetworkConfigurationSpec, NetworkConfigurationStatus,
    NetworkInterface, NetworkNamespace, NetworkNamespaceSpec, NetworkNamespaceStatus,
};

/// Fixed so snapshots and ordering rules (older NC wins) are deterministic.
pub const TEST_CREATED: &str = "2026-01-01T00:00:00Z";

fn timestamp(text: &str) -> Time {
    Time(
        text.parse()
            .unwrap_or_else(|e| panic!("test timestamp {text:?} is not RFC 3339: {e}")),
    )
}

impl NetworkConfiguration {
    /// A valid `kea` NC `default/test-nc`, uid `uid-test-nc`, generation 1, created [`TEST_CREATED`],
    /// with no interfaces.
    pub fn test() -> Self {
        let mut nc = NetworkConfiguration::new(
            "test-nc",
            NetworkConfigurationSpec {
                cluster_name: "cluster-a".into(),
                datacenter_name: "dc-1".into(),
                supervisor_name: "supervisor-1".into(),
                provider: "kea".into(),
                network_namespace_name: None,
                network_interfaces: Vec::new(),
            },
        );
        nc.metadata.namespace = Some("default".into());
        nc.metadata.uid = Some("uid-test-nc".into());
        nc.metadata.generation = Some(1);
        nc.metadata.creation_timestamp = Some(timestamp(TEST_CREATED));
        nc
    }

    /// Sets namespace and name; the uid follows the name (`uid-<name>`) unless set later.
    pub fn named(mut self, namespace: &str, name: &str) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self.metadata.name = Some(name.into());
        self.metadata.uid = Some(format!("uid-{name}"));
        self
    }

    pub fn with_uid(mut self, uid: &str) -> Self {
        self.metadata.uid = Some(uid.into());
        self
    }

    /// Creation timestamp, RFC 3339 (e.g. `2026-01-02T00:00:00Z`).
    pub fn created(mut self, rfc3339: &str) -> Self {
        self.metadata.creation_timestamp = Some(timestamp(rfc3339));
        self
    }

    pub fn generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }

    pub fn provider(mut self, provider: &str) -> Self {
        self.spec.provider = provider.into();
        self
    }

    pub fn network_namespace(mut self, name: &str) -> Self {
        self.spec.network_namespace_name = Some(name.into());
        self
    }

    /// Appends an interface; the MAC is taken verbatim (invalid ones test validation).
    pub fn interface(mut self, name: &str, mac: &str) -> Self {
        self.spec.network_interfaces.push(NetworkInterface {
            name: name.into(),
            mac_address: mac.into(),
        });
        self
    }

    /// Adds our finalizer.
    pub fn finalized(self) -> Self {
        self.finalizer(FINALIZER)
    }

    /// Adds the Go operator's first finalizer (adoption).
    pub fn legacy_finalized(self) -> Self {
        self.finalizer(LEGACY_FINALIZERS[0])
    }

    pub fn finalizer(mut self, finalizer: &str) -> Self {
        self.metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(finalizer.into());
        self
    }

    /// Marks the object as being deleted.
    pub fn deleting(mut self) -> Self {
        self.metadata.deletion_timestamp = Some(timestamp("2026-01-03T00:00:00Z"));
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
        self
    }

    pub fn with_status(mut self, status: NetworkConfigurationStatus) -> Self {
        self.status = Some(status);
        self
    }
}

impl NetworkNamespace {
    /// `default/test-nn` with prefix `10.100.1.0/24`.
    pub fn test() -> Self {
        let mut nn = NetworkNamespace::new("test-nn", NetworkNamespaceSpec::default());
        nn.metadata.namespace = Some("default".into());
        nn.metadata.uid = Some("uid-test-nn".into());
        nn.status = Some(NetworkNamespaceStatus {
            ipv4_prefix: Some("10.100.1.0/24".into()),
        });
        nn
    }

    pub fn named(mut self, namespace: &str, name: &str) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self.metadata.name = Some(name.into());
        self
    }

    /// Sets `status.ipv4Prefix` verbatim (invalid text tests `PrefixNotReady`).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.status = Some(NetworkNamespaceStatus {
            ipv4_prefix: Some(prefix.into()),
        });
        self
    }

    /// No status yet (prefix not allocated).
    pub fn without_prefix(mut self) -> Self {
        self.status = None;
        self
    }
}
