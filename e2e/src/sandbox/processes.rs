//! The sandbox's two child processes, each in its own process group with a parent-death signal
//! (testenv's spawner), so even a sandbox killed with SIGKILL leaves nothing running:
//!
//! - `kea-sim --config <copy of kea-sim/examples/kea-dhcp4.json> --ha-partner …`: an HA pair in one
//!   process, with its admin API. A copy, because `config-write` (sent by the operator with
//!   `KEA_CONFIG_WRITE=true`, or by hand) writes the file kea-sim was started with.
//! - `kea-operator run`: configured only through its environment, as the chart configures the pod.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kea_sim::AdminClient;
use testenv::process::{ManagedProcess, ProcessSpec, log_tail};

use super::SandboxError;
use super::ports::PortPlan;
use crate::operator::{Metrics, OperatorConfig};

/// The example configuration kea-sim serves.
pub fn example_config() -> PathBuf {
    crate::artifacts::repo_root().join("kea-sim/examples/kea-dhcp4.json")
}

/// A running kea-sim pair.
pub struct KeaSimPair {
    pub process: ManagedProcess,
    pub admin: AdminClient,
    pub config: PathBuf,
}

impl KeaSimPair {
    /// Starts the pair and waits until both servers accept connections.
    pub async fn start(binary: &Path, dir: &Path, ports: &PortPlan) -> Result<KeaSimPair, SandboxError> {
        let config = dir.join("kea-dhcp4.json");
        std::fs::copy(example_config(), &config).map_err(SandboxError::io(&config))?;
        let log = dir.join("kea-sim.log");
        let process = ManagedProcess::spawn(&ProcessSpec {
            name: "kea-sim".into(),
            program: binary.to_path_buf(),
            args: vec![
                "--config".into(),
                config.display().to_string(),
                "--listen".into(),
                format!("127.0.0.1:{}", ports.kea_primary),
                "--ha-partner".into(),
                format!("127.0.0.1:{}", ports.kea_secondary),
                "--admin-listen".into(),
                format!("127.0.0.1:{}", ports.admin),
            ],
            env: vec![("RUST_LOG".into(), "info".into())],
            cwd: None,
            log: log.clone(),
            die_with_parent: true,
            user: None,
        })?;
        let admin = AdminClient::new(&format!("http://127.0.0.1:{}", ports.admin))?;
        let mut pair = KeaSimPair {
            process,
            admin,
            config,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = pair.process.exit_status() {
                return Err(SandboxError::Exited {
                    what: "kea-sim",
                    status: status.to_string(),
                    tail: log_tail(&log, 20),
                });
            }
            if let Ok(servers) = pair.admin.servers().await
                && servers.len() == 2
                && servers.iter().all(|s| s.listening)
            {
                return Ok(pair);
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(SandboxError::NotReady {
                    what: "kea-sim",
                    detail: format!("its servers did not listen within 20 s:\n{}", log_tail(&log, 20)),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The operator's environment in the sandbox: the e2e suite's short timings (resource requeue 1 s,
/// retries from 50 ms, Lease 3 s / renew 1 s) with a health check every 2 s (a server taken down
/// by hand is noticed at once, and an idle log stays readable), leader election on, text logs with
/// the controller's Kea writes (`kea_operator::controller=debug`), without colour codes (the log is
/// a file).
pub fn operator_env(
    ports: &PortPlan,
    instance: &str,
    lease_namespace: &str,
    kubeconfig: &Path,
) -> OperatorConfig {
    OperatorConfig::new(
        &format!("http://127.0.0.1:{}/", ports.kea_primary),
        Some(&format!("http://127.0.0.1:{}/", ports.kea_secondary)),
        instance,
    )
    .set("POD_NAMESPACE", lease_namespace)
    .set("LEADER_ELECT", "true")
    .set("LOG_FORMAT", "text")
    .set("RUST_LOG", "info,kea_operator::controller=debug")
    .set("KEA_HEALTH_INTERVAL_SECONDS", "2")
    .set("NO_COLOR", "1")
    .set("HTTP_ADDR", format!("127.0.0.1:{}", ports.operator_http))
    .set("KUBECONFIG", kubeconfig.display().to_string())
}

/// A running operator.
pub struct OperatorProcess {
    pub process: ManagedProcess,
    pub log: PathBuf,
    base: String,
    http: reqwest::Client,
}

impl OperatorProcess {
    /// Starts `kea-operator run` with `env` (also written to `operator.env` for the curious).
    pub fn start(binary: &Path, dir: &Path, env: &OperatorConfig, port: u16) -> Result<Self, SandboxError> {
        let env_file = dir.join("operator.env");
        let text: String = env.vars().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&env_file, text).map_err(SandboxError::io(&env_file))?;
        let log = dir.join("operator.log");
        let process = ManagedProcess::spawn(&ProcessSpec {
            name: "kea-operator".into(),
            program: binary.to_path_buf(),
            args: vec!["run".into()],
            env: env.vars().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            cwd: None,
            log: log.clone(),
            die_with_parent: true,
            user: None,
        })?;
        let tls = testenv::certs::rustls_client_config("", None)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_secs(3))
            .no_proxy()
            .build()
            .map_err(|e| SandboxError::Http(e.to_string()))?;
        Ok(OperatorProcess {
            process,
            log,
            base: format!("http://127.0.0.1:{port}"),
            http,
        })
    }

    /// The base URL of `/healthz`, `/readyz`, `/metrics`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let resp = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    /// Waits until `/readyz` answers 200 and the replica holds the leader Lease.
    pub async fn wait_ready_and_leading(&mut self, timeout: Duration) -> Result<(), SandboxError> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.exit_status() {
                return Err(SandboxError::Exited {
                    what: "kea-operator",
                    status: status.to_string(),
                    tail: log_tail(&self.log, 30),
                });
            }
            let last = match self.get("/readyz").await {
                Ok((200, _)) => match self.get("/metrics").await {
                    Ok((200, body)) => {
                        let leading = Metrics::parse(&body)
                            .ok()
                            .and_then(|m| m.value("kea_operator_leader_status", &[]))
                            == Some(1.0);
                        if leading {
                            return Ok(());
                        }
                        "ready, not leading yet".to_string()
                    }
                    Ok((code, _)) => format!("/metrics {code}"),
                    Err(e) => e.to_string(),
                },
                Ok((code, body)) => format!("/readyz {code}: {}", body.trim()),
                Err(e) => e.to_string(),
            };
            if started.elapsed() > timeout {
                return Err(SandboxError::NotReady {
                    what: "kea-operator",
                    detail: format!("{last}; last log lines:\n{}", log_tail(&self.log, 30)),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `kea-operator crd`: the CRDs the operator's own types generate.
pub fn crd_yaml(binary: &Path) -> Result<String, SandboxError> {
    let out = std::process::Command::new(binary)
        .arg("crd")
        .output()
        .map_err(SandboxError::io(binary))?;
    if !out.status.success() {
        return Err(SandboxError::Exited {
            what: "kea-operator crd",
            status: out.status.to_string(),
            tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    String::from_utf8(out.stdout).map_err(|e| SandboxError::NotReady {
        what: "kea-operator crd",
        detail: format!("printed something that is not UTF-8: {e}"),
    })
}
