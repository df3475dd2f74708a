//! The cluster lane (`just e2e`, scripts/e2e/kind.sh): the same scenarios against a real cluster
//! (kind) where the chart is installed. What differs from the other lanes lives here:
//!
//! - the API server is the cluster's, reached with the contributor's kubeconfig; namespaces are
//!   real, so [`crate::k8s::K8s`] creates each one on first use (labelled [`E2E_LABEL`]);
//! - the operator runs as pods built from **the chart's own Deployment** pod template (its
//!   ServiceAccount, so the chart's RBAC is enforced for real; its security context and image),
//!   with the scenario's environment ([`crate::operator::pod`]); bare pods rather than the
//!   Deployment because a scenario decides when a replica dies and comes back;
//! - Kea is a kea-sim pod per scenario ([`crate::kea::cluster`]), reached by the operator through
//!   a Service and by the harness through port-forwards ([`forward`]);
//! - kill -9 and SIGSTOP are sent on the kind node (`docker exec <node>`, [`node`]): the images are
//!   `FROM scratch`, so there is no shell in the pod to send them from;
//! - the audit log is the API server's, turned on by kind.sh's cluster config and read on the
//!   control-plane node (`E2E_CLUSTER_AUDIT_LOG`, `E2E_CLUSTER_NODE`; the API server writes it
//!   readable by root only); the operator's identity is its ServiceAccount.
//!
//! Scenarios share one cluster whose operators watch every namespace, so the lane runs them one at
//! a time; [`Cluster::reset`] removes what an earlier (possibly failed) scenario left behind.

pub mod forward;
pub mod node;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{AsyncBufReadExt as _, TryStreamExt as _};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec, Secret};
use kea_operator::crd::{NetworkConfiguration, NetworkNamespace};
use kube::api::{Api, DeleteParams, ListParams, LogParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt as _};
use serde_json::json;
use testenv::kube::AuditEvent;

use crate::operator::POD_NAMESPACE;
use crate::wait::{Probe, eventually};

/// The label on everything the lane creates (namespaces, pods): `reset` deletes by it.
pub const E2E_LABEL: &str = "kea-operator-e2e";
/// The Secret (in [`POD_NAMESPACE`]) holding the files scenarios give the operator pods.
pub const FILES_SECRET: &str = "kea-operator-e2e-files";
/// The variable kind.sh sets to the path of the API server's audit log on the control-plane node.
pub const AUDIT_LOG_VAR: &str = "E2E_CLUSTER_AUDIT_LOG";
/// The variable kind.sh sets to the control-plane node's container name.
pub const NODE_VAR: &str = "E2E_CLUSTER_NODE";

/// Why the cluster lane cannot use the cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("kubeconfig: {0} (the cluster lane runs through scripts/e2e/kind.sh, which creates the cluster)")]
    Config(String),
    #[error("Kubernetes API: {0}")]
    Api(#[from] kube::Error),
    #[error(
        "no Deployment labelled app.kubernetes.io/name=kea-operator in {POD_NAMESPACE}: install the chart first \
         (scripts/e2e/kind.sh does)"
    )]
    NoChart,
    #[error(
        "{AUDIT_LOG_VAR} and {NODE_VAR} are not set: the lane reads the API server's audit log on the control-plane \
         node (scripts/e2e/kind.sh sets them)"
    )]
    NoAuditLog,
    #[error("reading the audit log on node {node}: {message}")]
    AuditRead { node: String, message: String },
    #[error(transparent)]
    Audit(#[from] testenv::kube::KubeError),
    #[error("{0}")]
    Cleanup(String),
}

impl ClusterError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        match self {
            ClusterError::Config(_) => "config",
            ClusterError::Api(_) => "api",
            ClusterError::NoChart => "no-chart",
            ClusterError::NoAuditLog => "no-audit-log",
            ClusterError::AuditRead { .. } => "audit-read",
            ClusterError::Audit(_) => "audit",
            ClusterError::Cleanup(_) => "cleanup",
        }
    }
}

/// A cluster with the chart installed.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    url: String,
    /// The chart Deployment's pod template: what an operator pod of a scenario starts from.
    template: PodTemplateSpec,
    /// (node container, path of the audit log in it).
    audit_log: (String, String),
}

impl Cluster {
    /// Connects with the kubeconfig (`KUBECONFIG` or `~/.kube/config`, current context) and reads
    /// the chart's Deployment.
    pub async fn connect() -> Result<Cluster, ClusterError> {
        testenv::certs::install_crypto_provider();
        let audit_log = match (std::env::var(NODE_VAR), std::env::var(AUDIT_LOG_VAR)) {
            (Ok(node), Ok(path)) => (node, path),
            _ => return Err(ClusterError::NoAuditLog),
        };
        let config = kube::Config::infer()
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        let url = config.cluster_url.to_string();
        let client = Client::try_from(config)?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), POD_NAMESPACE);
        let chart = deployments
            .list(&ListParams::default().labels("app.kubernetes.io/name=kea-operator"))
            .await?
            .items
            .into_iter()
            .next()
            .ok_or(ClusterError::NoChart)?;
        let template = chart.spec.map(|s| s.template).ok_or(ClusterError::NoChart)?;
        Ok(Cluster {
            client,
            url,
            template,
            audit_log,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chart's pod template.
    pub fn template(&self) -> &PodTemplateSpec {
        &self.template
    }

    /// The username the operator pods act as: their ServiceAccount.
    pub fn operator_user(&self) -> String {
        let sa = self
            .template
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".into());
        format!("system:serviceaccount:{POD_NAMESPACE}:{sa}")
    }

    /// Every event of the API server's audit log so far (every scenario of the run).
    pub fn audit_events(&self) -> Result<Vec<AuditEvent>, ClusterError> {
        let (node, path) = &self.audit_log;
        let text = crate::docker::exec(node, &["cat", path]).map_err(|e| ClusterError::AuditRead {
            node: node.clone(),
            message: e.to_string(),
        })?;
        Ok(text.lines().filter_map(testenv::kube::parse_audit_line).collect())
    }

    /// Writes `contents` as key `name` of the files Secret (created if missing). The operator pods
    /// mount it; the kubelet refreshes a mounted Secret within its sync period (about a minute),
    /// as it does for a rotated password in production.
    pub async fn put_file(&self, name: &str, contents: &str) -> Result<(), ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), POD_NAMESPACE);
        let patch = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": FILES_SECRET, "labels": {E2E_LABEL: "true"}},
            "data": {name: ByteString(contents.as_bytes().to_vec())},
        });
        api.patch(
            FILES_SECRET,
            &PatchParams::apply("kea-operator-e2e").force(),
            &Patch::Apply(patch),
        )
        .await?;
        Ok(())
    }

    /// Removes what earlier scenarios left: operator and kea-sim pods first (nothing may write
    /// finalizers again), then the finalizers of NCs in the lane's namespaces (their operator is
    /// gone: a namespace would stay Terminating), then the NCs, NNs and namespaces themselves.
    pub async fn reset(&self) -> Result<(), ClusterError> {
        let labelled = ListParams::default().labels(E2E_LABEL);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), POD_NAMESPACE);
        let now = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        for pod in pods.list(&labelled).await?.items {
            let _ = pods.delete(&pod.name_any(), &now).await;
        }
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let stale: Vec<String> = namespaces
            .list(&labelled)
            .await?
            .items
            .iter()
            .map(|n| n.name_any())
            .collect();
        for ns in &stale {
            let ns_pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            let _ = ns_pods.delete_collection(&now, &ListParams::default()).await;
            let ncs: Api<NetworkConfiguration> = Api::namespaced(self.client.clone(), ns);
            for nc in ncs.list(&ListParams::default()).await?.items {
                let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
                let _ = ncs.patch(&nc.name_any(), &PatchParams::default(), &release).await;
            }
            let _ = ncs.delete_collection(&now, &ListParams::default()).await;
            let nns: Api<NetworkNamespace> = Api::namespaced(self.client.clone(), ns);
            let _ = nns.delete_collection(&now, &ListParams::default()).await;
            let _ = namespaces.delete(ns, &DeleteParams::default()).await;
        }
        eventually(
            "the lane's leftovers to be gone",
            Duration::from_secs(120),
            async || {
                let left_pods = pods.list(&labelled).await?.items.len();
                let left_ncs = Api::<NetworkConfiguration>::all(self.client.clone())
                    .list(&ListParams::default())
                    .await?
                    .items
                    .iter()
                    .filter(|nc| stale.iter().any(|ns| nc.namespace().as_deref() == Some(ns)))
                    .count();
                Ok(if left_pods == 0 && left_ncs == 0 {
                    Probe::Done(())
                } else {
                    Probe::NotYet(format!("{left_pods} pods, {left_ncs} NCs"))
                })
            },
        )
        .await
        .map_err(|e| ClusterError::Cleanup(format!("{e:#}")))
    }
}

/// Appends `text` to the file at `path` (a log kept across a pod's runs).
pub fn append(path: &Path, text: &str) {
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
}

/// Appends pod `name`'s log to `log` as it is written, until its container ends: the harness
/// prints a failed scenario's logs from files, whatever lane.
pub async fn follow_log(pods: Api<Pod>, name: String, log: PathBuf) {
    let params = LogParams {
        follow: true,
        ..Default::default()
    };
    let Ok(stream) = pods.log_stream(&name, &params).await else {
        append(&log, "=== e2e: the pod's log could not be followed ===\n");
        return;
    };
    let mut lines = stream.lines();
    while let Ok(Some(line)) = lines.try_next().await {
        append(&log, &format!("{line}\n"));
    }
}

/// Creates namespace `name` (labelled [`E2E_LABEL`], so [`Cluster::reset`] finds it) unless it
/// exists.
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<(), kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([(E2E_LABEL.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
