//! The operator as a pod of the cluster lane, built from the chart Deployment's pod template: the
//! chart's ServiceAccount (its RBAC is enforced by the cluster), security context, image and
//! probes' port, with the scenario's environment on top of the chart's. A bare pod, not the
//! Deployment, because the scenario decides when a replica dies and whether it comes back
//! (`restartPolicy: Never`; a ReplicaSet would replace it at once).
//!
//! Not copied from the template: its labels (the Deployment's selector would adopt the pod and, at
//! zero replicas, delete it) and the liveness probe (a SIGSTOPped replica must stay stopped until
//! the scenario lets it go on).

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, Pod, PodSpec, PodTemplateSpec, SecretVolumeSource, Volume, VolumeMount,
};
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use tokio::task::JoinHandle;

use super::container::FILES_DIR;
use super::{OperatorConfig, OperatorError, POD_NAMESPACE};
use crate::cluster::{E2E_LABEL, FILES_SECRET, append, follow_log, forward::Forward, node};
use crate::wait::{Probe, eventually};

/// The operator's HTTP port in the pod (`HTTP_ADDR` of the chart).
const HTTP_PORT: u16 = 8080;

/// What the cluster lane gives an operator pod.
pub struct PodLaunch {
    pub client: Client,
    /// The chart Deployment's pod template.
    pub template: PodTemplateSpec,
    /// The scenario (pod names and the label [`E2E_LABEL`] carry it).
    pub scenario: String,
}

pub(super) struct PodRunner {
    pods: Api<Pod>,
    pod: Pod,
    name: String,
    log: PathBuf,
    follower: Option<JoinHandle<()>>,
    forward: Forward,
    starts: u32,
}

fn pod_err(name: &str, e: impl std::fmt::Display) -> OperatorError {
    OperatorError::Container {
        name: name.to_string(),
        message: e.to_string(),
    }
}

/// The pod of replica `name`: the template's spec, the scenario's environment over the chart's
/// (variables read from the pod itself, such as `POD_NAMESPACE`, stay the chart's), the files
/// Secret mounted at [`FILES_DIR`].
pub fn operator_pod(launch: &PodLaunch, name: &str, config: &OperatorConfig) -> Result<Pod, String> {
    let mut spec: PodSpec = launch
        .template
        .spec
        .clone()
        .ok_or("the chart's pod template has no spec")?;
    spec.restart_policy = Some("Never".into());
    let container: &mut Container = spec
        .containers
        .first_mut()
        .ok_or("the chart's pod template has no container")?;
    container.liveness_probe = None;
    let mut env: Vec<EnvVar> = container.env.clone().unwrap_or_default();
    for (key, value) in config.vars() {
        match env.iter_mut().find(|e| e.name == key) {
            Some(e) if e.value_from.is_some() => {}
            Some(e) => e.value = Some(value.to_string()),
            None => env.push(EnvVar {
                name: key.to_string(),
                value: Some(value.to_string()),
                value_from: None,
            }),
        }
    }
    env.retain(|e| e.name != "HTTP_ADDR");
    env.push(EnvVar {
        name: "HTTP_ADDR".into(),
        value: Some(format!("0.0.0.0:{HTTP_PORT}")),
        value_from: None,
    });
    container.env = Some(env);
    container
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(VolumeMount {
            name: "e2e-files".into(),
            mount_path: FILES_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
    spec.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: "e2e-files".into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(FILES_SECRET.into()),
            optional: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    });
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(&launch.scenario, name)),
            namespace: Some(POD_NAMESPACE.into()),
            labels: Some(
                [
                    (E2E_LABEL.to_string(), "true".to_string()),
                    ("kea-operator-e2e/scenario".to_string(), launch.scenario.clone()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    })
}

/// `e2e-<scenario>-<replica>`, a valid pod name of at most 63 characters.
fn pod_name(scenario: &str, replica: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect()
    };
    let replica = clean(replica);
    let room = 63usize.saturating_sub(5 + replica.len());
    let scenario: String = clean(scenario).chars().take(room).collect();
    format!("e2e-{}-{replica}", scenario.trim_matches('-'))
}

impl PodRunner {
    pub(super) async fn start(
        name: &str,
        config: &OperatorConfig,
        launch: PodLaunch,
        dir: &Path,
    ) -> Result<Self, OperatorError> {
        let pod = operator_pod(&launch, name, config).map_err(|e| pod_err(name, e))?;
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(launch.client.clone(), POD_NAMESPACE);
        let forward = Forward::start(pods.clone(), &pod_name, HTTP_PORT)
            .await
            .map_err(|e| pod_err(name, e))?;
        let mut runner = PodRunner {
            pods,
            pod,
            name: pod_name,
            log: dir.join(format!("{name}.log")),
            follower: None,
            forward,
            starts: 0,
        };
        runner.start_again().await?;
        Ok(runner)
    }

    pub(super) fn log_path(&self) -> &Path {
        &self.log
    }

    async fn current(&self) -> Option<Pod> {
        self.pods.get_opt(&self.name).await.ok().flatten()
    }

    pub(super) async fn is_running(&self) -> bool {
        self.current()
            .await
            .as_ref()
            .and_then(node::container_of)
            .is_some()
    }

    /// Deletes the pod and waits until it is gone (`grace` 0: at once).
    async fn delete(&mut self, grace: Option<u32>) -> Result<(), OperatorError> {
        let params = DeleteParams {
            grace_period_seconds: grace,
            ..Default::default()
        };
        match self.pods.delete(&self.name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(pod_err(&self.name, e)),
        }
        let what = format!("pod {} to be gone", self.name);
        eventually(&what, Duration::from_secs(60), async || {
            Ok(match self.current().await {
                None => Probe::Done(()),
                Some(_) => Probe::NotYet("still there".into()),
            })
        })
        .await
        .map_err(|e| pod_err(&self.name, format!("{e:#}")))
    }

    /// A graceful stop is the pod's deletion (the kubelet sends SIGTERM, then SIGKILL after the
    /// chart's grace period); a crash is SIGKILL on the node, the pod left `Failed`.
    pub(super) async fn stop(&mut self, kill: bool) -> Result<(), OperatorError> {
        if kill {
            let Some(pod) = self.current().await else {
                return Ok(());
            };
            node::signal(&pod, "KILL").map_err(|e| pod_err(&self.name, e))?;
            let what = format!("pod {} to stop running", self.name);
            eventually(&what, Duration::from_secs(30), async || {
                Ok(if self.is_running().await {
                    Probe::NotYet("running".into())
                } else {
                    Probe::Done(())
                })
            })
            .await
            .map_err(|e| pod_err(&self.name, format!("{e:#}")))
        } else {
            self.delete(None).await
        }
    }

    /// Creates the pod (again: a stopped or killed one is removed first) and follows its log.
    pub(super) async fn start_again(&mut self) -> Result<(), OperatorError> {
        if self.is_running().await {
            return Ok(());
        }
        self.delete(Some(0)).await?;
        self.starts += 1;
        append(
            &self.log,
            &format!("=== e2e: start #{} of {} ===\n", self.starts, self.name),
        );
        self.pods
            .create(&PostParams::default(), &self.pod)
            .await
            .map_err(|e| pod_err(&self.name, e))?;
        let what = format!("pod {} to run", self.name);
        eventually(&what, Duration::from_secs(120), async || {
            Ok(match self.current().await {
                Some(p) if node::container_of(&p).is_some() => Probe::Done(()),
                Some(p) => Probe::NotYet(format!("{:?}", p.status.and_then(|s| s.phase))),
                None => Probe::NotYet("not created".into()),
            })
        })
        .await
        .map_err(|e| pod_err(&self.name, format!("{e:#}")))?;
        if let Some(old) = self.follower.take() {
            old.abort();
        }
        self.follower = Some(tokio::spawn(follow_log(
            self.pods.clone(),
            self.name.clone(),
            self.log.clone(),
        )));
        Ok(())
    }

    pub(super) async fn pause(&mut self, paused: bool) -> Result<(), OperatorError> {
        let pod = self.current().await.ok_or_else(|| OperatorError::NotRunning {
            name: self.name.clone(),
        })?;
        node::signal(&pod, if paused { "STOP" } else { "CONT" }).map_err(|e| pod_err(&self.name, e))
    }

    /// The local end of the port-forward to the pod's HTTP port (it survives the pod's restarts).
    pub(super) fn base_url(&self) -> String {
        self.forward.url(false)
    }
}

impl Drop for PodRunner {
    fn drop(&mut self) {
        if let Some(f) = self.follower.take() {
            f.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> PodTemplateSpec {
        // The parts of the chart's template (charts/kea-operator/tests/golden/deployment.yaml) the
        // pod is built from.
        serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app.kubernetes.io/name": "kea-operator"}},
            "spec": {
                "serviceAccountName": "kea-kea-operator",
                "containers": [{
                    "name": "operator",
                    "image": "kea-operator:dev",
                    "env": [
                        {"name": "KEA_TIMEOUT_SECONDS", "value": "10"},
                        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        {"name": "HTTP_ADDR", "value": "0.0.0.0:9999"}
                    ],
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}}
                }]
            }
        }))
        .expect("template")
    }

    #[tokio::test]
    async fn the_pod_is_the_charts_template_with_the_scenarios_environment() {
        // A client that is never used: building the pod is pure.
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("url"));
        let launch = PodLaunch {
            client: Client::try_from(config).expect("client"),
            template: template(),
            scenario: "leader_election".into(),
        };
        let op = OperatorConfig::new("http://kea:8000/", None, "e2e").set("KEA_TIMEOUT_SECONDS", "2");
        let pod = operator_pod(&launch, "operator-1", &op).expect("pod");
        assert_eq!(
            pod.metadata.name.as_deref(),
            Some("e2e-leader-election-operator-1")
        );
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        assert!(labels.contains_key(E2E_LABEL));
        assert!(
            !labels.contains_key("app.kubernetes.io/name"),
            "the chart's Deployment would adopt the pod"
        );
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.service_account_name.as_deref(), Some("kea-kea-operator"));
        let c = &spec.containers[0];
        assert!(c.liveness_probe.is_none());
        let env = c.env.clone().unwrap_or_default();
        let get = |k: &str| env.iter().find(|e| e.name == k).cloned();
        assert_eq!(
            get("KEA_TIMEOUT_SECONDS").and_then(|e| e.value).as_deref(),
            Some("2")
        );
        assert_eq!(
            get("KEA_URL").and_then(|e| e.value).as_deref(),
            Some("http://kea:8000/")
        );
        // Read from the pod, not overridden by the scenario's fixed value.
        assert!(get("POD_NAMESPACE").is_some_and(|e| e.value_from.is_some() && e.value.is_none()));
        assert_eq!(
            get("HTTP_ADDR").and_then(|e| e.value).as_deref(),
            Some("0.0.0.0:8080")
        );
        assert_eq!(env.iter().filter(|e| e.name == "HTTP_ADDR").count(), 1);
        assert_eq!(c.volume_mounts.as_ref().map(Vec::len), Some(1));
        let long = pod_name("a_very_long_scenario_name_".repeat(4).as_str(), "operator-0");
        assert!(long.len() <= 63 && long.ends_with("-operator-0"), "{long}");
    }
}
