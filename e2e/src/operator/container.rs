//! The operator image on a Docker network (the containers lane): the same image the chart deploys,
//! with the chart's restrictions (read-only root filesystem, no capabilities, non-root user).
//!
//! Its kubeconfig (pointing at the API server through the network's gateway) and any files the
//! scenario wants (a password file to rotate) are bind-mounted read-only from a host directory, so
//! the test can change them while the container runs, as a rotated Secret does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use testcontainers::core::{AccessMode, ContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

use super::{OperatorConfig, OperatorError};

/// The operator's HTTP port inside the container.
const HTTP_PORT: u16 = 8080;
/// Where the harness's files are mounted.
pub const FILES_DIR: &str = "/etc/kea-operator/e2e";

/// What the containers lane gives an operator container.
pub struct ContainerLaunch {
    /// `kea-operator:dev` unless `E2E_IMAGE_TAG` says otherwise.
    pub image: (String, String),
    pub network: String,
    /// Host directory mounted at [`FILES_DIR`]; holds `kubeconfig` (and scenario files).
    pub files: PathBuf,
}

pub(super) struct ContainerRunner {
    container: ContainerAsync<GenericImage>,
    log: PathBuf,
}

fn container_err(name: &str, e: impl std::fmt::Display) -> OperatorError {
    OperatorError::Container {
        name: name.to_string(),
        message: e.to_string(),
    }
}

impl ContainerRunner {
    pub(super) async fn start(
        name: &str,
        config: &OperatorConfig,
        launch: ContainerLaunch,
        dir: &Path,
    ) -> Result<Self, OperatorError> {
        let (repo, tag) = launch.image;
        let mut request = GenericImage::new(repo, tag)
            .with_exposed_port(ContainerPort::Tcp(HTTP_PORT))
            .with_wait_for(WaitFor::Nothing)
            .with_network(launch.network.clone())
            .with_container_name(format!("{}-{name}", launch.network))
            .with_mount(
                Mount::bind_mount(launch.files.display().to_string(), FILES_DIR)
                    .with_access_mode(AccessMode::ReadOnly),
            )
            .with_readonly_rootfs(true)
            .with_cap_drop("ALL")
            .with_security_opt("no-new-privileges")
            .with_cmd(["run"])
            .with_env_var("KUBECONFIG", format!("{FILES_DIR}/kubeconfig"))
            .with_env_var("HTTP_ADDR", format!("0.0.0.0:{HTTP_PORT}"));
        for (k, v) in config.vars() {
            request = request.with_env_var(k, v);
        }
        let container = request
            .with_startup_timeout(Duration::from_secs(30))
            .start()
            .await
            .map_err(|e| container_err(name, e))?;
        Ok(ContainerRunner {
            container,
            log: dir.join(format!("{name}.log")),
        })
    }

    /// Refreshes the log file from `docker logs` (every run of the container) and returns it.
    pub(super) fn log_path(&self) -> &Path {
        if let Ok(out) = std::process::Command::new("docker")
            .args(["logs", self.container.id()])
            .output()
        {
            let mut text = out.stdout;
            text.extend_from_slice(&out.stderr);
            let _ = std::fs::write(&self.log, text);
        }
        &self.log
    }

    pub(super) async fn is_running(&self) -> bool {
        self.container.is_running().await.unwrap_or(false)
    }

    /// `docker stop` with 10 s grace, or with none (SIGKILL at once: a crash).
    pub(super) async fn stop(&mut self, name: &str, kill: bool) -> Result<(), OperatorError> {
        self.container
            .stop_with_timeout(Some(if kill { 0 } else { 10 }))
            .await
            .map_err(|e| container_err(name, e))
    }

    pub(super) async fn start_again(&mut self, name: &str) -> Result<(), OperatorError> {
        if self.is_running().await {
            return Ok(());
        }
        self.container.start().await.map_err(|e| container_err(name, e))
    }

    pub(super) async fn pause(&mut self, name: &str, paused: bool) -> Result<(), OperatorError> {
        let r = if paused {
            self.container.pause().await
        } else {
            self.container.unpause().await
        };
        r.map_err(|e| container_err(name, e))
    }

    /// The published HTTP port can change when the container is started again: asked each time.
    pub(super) async fn base_url(&self, name: &str) -> Result<String, OperatorError> {
        let port = self
            .container
            .get_host_port_ipv4(ContainerPort::Tcp(HTTP_PORT))
            .await
            .map_err(|e| container_err(name, e))?;
        Ok(format!("http://127.0.0.1:{port}"))
    }
}
