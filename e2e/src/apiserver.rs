//! The Kubernetes API server a scenario runs against: a private one of its own (every lane on
//! this machine) or a real cluster's (the cluster lane). Scenarios see one type, so they are
//! written once.

use std::path::PathBuf;

use testenv::kube::{AuditEvent, KubeEnv, UNDER_TEST_USER};

use crate::cluster::Cluster;

/// Where the API server is.
pub enum ApiServer {
    /// A private etcd + API server of this scenario (testenv).
    Private(Box<KubeEnv>),
    /// A real cluster with the chart installed (boxed: it holds the chart's pod template).
    Cluster(Box<Cluster>),
}

impl ApiServer {
    /// A namespace name no other scenario (or run) uses. On a private server namespaces are plain
    /// strings; in a cluster, [`crate::k8s::K8s`] creates the namespace on first use.
    pub fn namespace(&self, prefix: &str) -> String {
        testenv::kube::namespace_name(prefix)
    }

    /// A client with the harness's (admin) identity.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(match self {
            ApiServer::Private(k) => k.client().await?,
            ApiServer::Cluster(c) => c.client().clone(),
        })
    }

    pub fn url(&self) -> String {
        match self {
            ApiServer::Private(k) => k.url().to_string(),
            ApiServer::Cluster(c) => c.url().to_string(),
        }
    }

    /// Every audited request so far.
    pub fn audit_events(&self) -> anyhow::Result<Vec<AuditEvent>> {
        Ok(match self {
            ApiServer::Private(k) => k.audit_events()?,
            ApiServer::Cluster(c) => c.audit_events()?,
        })
    }

    /// The username the operator's requests carry: the under-test client certificate of a
    /// private server, the chart's ServiceAccount in a cluster.
    pub fn operator_user(&self) -> String {
        match self {
            ApiServer::Private(_) => UNDER_TEST_USER.to_string(),
            ApiServer::Cluster(c) => c.operator_user(),
        }
    }

    /// The kubeconfig an operator process uses (a private server only: pods use their
    /// ServiceAccount).
    pub fn under_test_kubeconfig_path(&self) -> Option<PathBuf> {
        match self {
            ApiServer::Private(k) => Some(k.under_test_kubeconfig_path()),
            ApiServer::Cluster(_) => None,
        }
    }

    /// The cluster, in the cluster lane.
    pub fn cluster(&self) -> Option<&Cluster> {
        match self {
            ApiServer::Private(_) => None,
            ApiServer::Cluster(c) => Some(c),
        }
    }
}
