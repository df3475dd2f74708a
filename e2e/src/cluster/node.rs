//! Signals to a pod's process, sent on its kind node. A kind node is a Docker container running
//! containerd, and the pods' processes live in its PID namespace: `crictl inspect` names the
//! container's PID there, and `kill` in the node reaches it. The images are `FROM scratch` (no
//! shell, no `kill` in the pod), and deleting a pod is not a crash: the kubelet sends SIGTERM.

use k8s_openapi::api::core::v1::Pod;

use crate::docker;

/// Why a signal could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("pod {0} is not scheduled or has no running container")]
    NoContainer(String),
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
    #[error("crictl inspect {container}: {message}")]
    Inspect { container: String, message: String },
}

impl NodeError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        match self {
            NodeError::NoContainer(_) => "no-container",
            NodeError::Docker(_) => "docker",
            NodeError::Inspect { .. } => "inspect",
        }
    }
}

/// The node (= kind's node container name) and the containerd id of the pod's first container.
pub fn container_of(pod: &Pod) -> Option<(String, String)> {
    let node = pod.spec.as_ref()?.node_name.clone()?;
    let status = pod.status.as_ref()?.container_statuses.as_ref()?.first()?;
    status.state.as_ref()?.running.as_ref()?;
    let id = status.container_id.as_ref()?;
    let id = id.split_once("://").map_or(id.as_str(), |(_, id)| id);
    Some((node, id.to_string()))
}

/// The container's PID in the node's PID namespace, from `crictl inspect`'s JSON.
pub fn pid_from_inspect(json: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let pid = value.get("info")?.get("pid")?.as_u64()?;
    u32::try_from(pid).ok().filter(|p| *p > 1)
}

/// Sends `signal` (`KILL`, `STOP`, `CONT`) to the main process of `pod`'s first container.
pub fn signal(pod: &Pod, signal: &str) -> Result<(), NodeError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let (node, container) = container_of(pod).ok_or(NodeError::NoContainer(name))?;
    let inspect = docker::exec(&node, &["crictl", "inspect", &container])?;
    let pid = pid_from_inspect(&inspect).ok_or_else(|| NodeError::Inspect {
        container: container.clone(),
        message: "no info.pid in its answer".into(),
    })?;
    docker::exec(&node, &["kill", "-s", signal, &pid.to_string()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_comes_from_crictl_inspect_info() {
        assert_eq!(
            pid_from_inspect(r#"{"status": {}, "info": {"pid": 4242}}"#),
            Some(4242)
        );
        assert_eq!(pid_from_inspect(r#"{"info": {}}"#), None);
        // PID 1 of the node is its init: never a pod's process.
        assert_eq!(pid_from_inspect(r#"{"info": {"pid": 1}}"#), None);
        assert_eq!(pid_from_inspect("not json"), None);
    }

    #[test]
    fn the_container_is_named_by_the_running_status_without_the_runtime_prefix() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "op"},
            "spec": {"nodeName": "kea-e2e-control-plane", "containers": []},
            "status": {"containerStatuses": [{
                "name": "operator", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                "containerID": "containerd://abc123", "state": {"running": {}}
            }]}
        }))
        .expect("pod");
        assert_eq!(
            container_of(&pod),
            Some(("kea-e2e-control-plane".into(), "abc123".into()))
        );
        let mut stopped = pod.clone();
        if let Some(s) = stopped
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
        {
            s[0].state = None;
        }
        assert_eq!(container_of(&stopped), None);
    }
}
