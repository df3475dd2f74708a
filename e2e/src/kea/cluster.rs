//! The cluster lane's Kea: the kea-sim image as a pod in the scenario's namespace, one process
//! serving the HA pair (`--ha-partner`) as in the local lane, behind a Service the operator pods
//! reach (`kea-sim.<ns>.svc:8000` primary, `:8002` secondary). The harness reaches its admin API
//! and both Kea ports through port-forwards, so [`super::sim::SimPair`] drives it exactly as it
//! drives the local process: faults, down/up, restart and DHCP are kea-sim's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;

use super::{BackendError, KeaAuth, sim};
use crate::cluster::{Cluster, E2E_LABEL, follow_log, forward::Forward};
use crate::wait::{Probe, eventually};

const NAME: &str = "kea-sim";
const PRIMARY_PORT: u16 = 8000;
const ADMIN_PORT: u16 = 8001;
const SECONDARY_PORT: u16 = 8002;

/// The running pod and the harness's ways in.
pub struct SimPod {
    ns: String,
    /// Admin API, primary, secondary (local ends).
    forwards: [Forward; 3],
    log: PathBuf,
    follower: JoinHandle<()>,
}

/// Where each party reaches the pair.
pub struct Endpoints {
    /// The admin API, for the harness.
    pub admin: String,
    /// Both Kea ports, for the harness (primary, secondary).
    pub harness: [String; 2],
    /// Both Kea ports, for the operator pods: the Service's names.
    pub operator: [String; 2],
}

fn setup_err(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Setup {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// The pod: the image of `just images` (loaded into kind, never pulled), non-root and read-only
/// like the operator's, the config from a ConfigMap.
fn pod_manifest(ns: &str, image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": NAME, "namespace": ns, "labels": {"app": NAME, E2E_LABEL: "true"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": NAME,
                "image": image,
                "imagePullPolicy": "Never",
                "args": ["--config", "/etc/kea-e2e/kea-dhcp4.json",
                         "--listen", format!("0.0.0.0:{PRIMARY_PORT}"),
                         "--ha-partner", format!("0.0.0.0:{SECONDARY_PORT}"),
                         "--admin-listen", format!("0.0.0.0:{ADMIN_PORT}")],
                "ports": [{"containerPort": PRIMARY_PORT}, {"containerPort": ADMIN_PORT}, {"containerPort": SECONDARY_PORT}],
                "readinessProbe": {"tcpSocket": {"port": ADMIN_PORT}, "periodSeconds": 1},
                "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/kea-e2e", "readOnly": true}]
            }],
            "volumes": [{"name": "config", "configMap": {"name": NAME}}]
        }
    })
}

fn service_manifest(ns: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": ns},
        "spec": {
            "selector": {"app": NAME},
            "ports": [
                {"name": "primary", "port": PRIMARY_PORT, "targetPort": PRIMARY_PORT},
                {"name": "secondary", "port": SECONDARY_PORT, "targetPort": SECONDARY_PORT}
            ]
        }
    })
}

/// The operator's URLs for the pair in `ns`.
pub fn service_urls(ns: &str) -> [String; 2] {
    [
        format!("http://{NAME}.{ns}.svc:{PRIMARY_PORT}/"),
        format!("http://{NAME}.{ns}.svc:{SECONDARY_PORT}/"),
    ]
}

impl SimPod {
    /// Creates the ConfigMap, pod and Service in `ns` (which must exist) and waits until the pod
    /// is ready; its log goes to `dir/kea-sim.log`.
    pub async fn start(
        cluster: &Cluster,
        ns: &str,
        image: &str,
        dir: &Path,
        auth: Option<&KeaAuth>,
    ) -> Result<(SimPod, Endpoints), BackendError> {
        let client = cluster.client().clone();
        let operator = service_urls(ns);
        let config = sim::sim_config(PRIMARY_PORT, auth, [&operator[0], &operator[1]]);
        let text = serde_json::to_string_pretty(&config).map_err(|e| setup_err("kea-sim config", e))?;
        let config_map = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(NAME.into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([("kea-dhcp4.json".to_string(), text)])),
            ..Default::default()
        };
        let post = PostParams::default();
        Api::<ConfigMap>::namespaced(client.clone(), ns)
            .create(&post, &config_map)
            .await
            .map_err(|e| setup_err("kea-sim ConfigMap", e))?;
        let service: Service =
            serde_json::from_value(service_manifest(ns)).map_err(|e| setup_err("kea-sim Service", e))?;
        Api::<Service>::namespaced(client.clone(), ns)
            .create(&post, &service)
            .await
            .map_err(|e| setup_err("kea-sim Service", e))?;
        let pod: Pod =
            serde_json::from_value(pod_manifest(ns, image)).map_err(|e| setup_err("kea-sim pod", e))?;
        let pods: Api<Pod> = Api::namespaced(client, ns);
        pods.create(&post, &pod)
            .await
            .map_err(|e| setup_err("kea-sim pod", e))?;
        eventually(
            "the kea-sim pod to be ready",
            Duration::from_secs(120),
            async || {
                let pod = pods.get(NAME).await?;
                let ready = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                Ok(if ready {
                    Probe::Done(())
                } else {
                    Probe::NotYet(format!("{:?}", pod.status.and_then(|s| s.phase)))
                })
            },
        )
        .await
        .map_err(|e| setup_err("kea-sim pod", format!("{e:#}")))?;
        let forward = async |port| {
            Forward::start(pods.clone(), NAME, port)
                .await
                .map_err(|e| setup_err("port-forward to kea-sim", e))
        };
        let forwards = [
            forward(ADMIN_PORT).await?,
            forward(PRIMARY_PORT).await?,
            forward(SECONDARY_PORT).await?,
        ];
        let log = dir.join("kea-sim.log");
        let follower = tokio::spawn(follow_log(pods.clone(), NAME.into(), log.clone()));
        let endpoints = Endpoints {
            admin: forwards[0].url(false),
            harness: [forwards[1].url(true), forwards[2].url(true)],
            operator,
        };
        Ok((
            SimPod {
                ns: ns.to_string(),
                forwards,
                log,
                follower,
            },
            endpoints,
        ))
    }

    pub fn describe(&self) -> String {
        format!(
            "kea-sim pod {}/{NAME} (admin API forwarded to {})",
            self.ns,
            self.forwards[0].url(false)
        )
    }

    /// The file the pod's log is copied to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for SimPod {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_are_valid_objects_and_the_service_serves_both_kea_ports() {
        let pod: Pod = serde_json::from_value(pod_manifest("ns1", "kea-sim:dev")).expect("pod");
        let c = &pod.spec.expect("spec").containers[0];
        assert_eq!(c.image.as_deref(), Some("kea-sim:dev"));
        assert!(
            c.args
                .as_ref()
                .is_some_and(|a| a.contains(&"0.0.0.0:8002".to_string()))
        );
        let svc: Service = serde_json::from_value(service_manifest("ns1")).expect("service");
        let ports: Vec<i32> = svc
            .spec
            .expect("spec")
            .ports
            .unwrap_or_default()
            .iter()
            .map(|p| p.port)
            .collect();
        assert_eq!(ports, vec![8000, 8002]);
        assert_eq!(service_urls("ns1")[1], "http://kea-sim.ns1.svc:8002/");
    }
}
