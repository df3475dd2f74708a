//! A real Kea Control Agent (`kea-ctrl-agent`) in front of a kea-dhcp4 reached over a unix socket.
//!
//! The daemon can be stopped and started while the agent stays up: that is how the agent's
//! "server is likely to be offline" answers are produced.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::client::KeaClient;
use super::config::{BasicAuth, Hook, TlsMaterial, default_dhcp4, tls_params, write_tls_files};
use super::dhcp4::KeaProcess;
use super::state::KeaState;
use super::{KeaError, KeaRootfs};
use crate::ports::{PortLease, free_port};
use crate::process::{ManagedProcess, log_tail, record_process};

/// Builds a [`ControlAgent`].
#[derive(Debug, Clone)]
pub struct ControlAgentBuilder {
    dhcp4: Value,
    hooks: Vec<Hook>,
    auth: Option<BasicAuth>,
    tls: Option<bool>,
}

impl Default for ControlAgentBuilder {
    fn default() -> Self {
        ControlAgentBuilder {
            dhcp4: default_dhcp4(),
            hooks: Hook::COMMANDS.to_vec(),
            auth: None,
            tls: None,
        }
    }
}

impl ControlAgentBuilder {
    /// The daemon's Dhcp4 configuration (its unix control socket is added).
    pub fn dhcp4_config(mut self, config: Value) -> Self {
        self.dhcp4 = config;
        self
    }

    /// The daemon's hooks (default: the three command hooks).
    pub fn hooks(mut self, hooks: &[Hook]) -> Self {
        self.hooks = hooks.to_vec();
        self
    }

    /// Basic authentication on the agent's HTTP socket.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some(BasicAuth::new(user, password));
        self
    }

    /// HTTPS on the agent's socket; `cert_required` = mutual TLS.
    pub fn tls(mut self, cert_required: bool) -> Self {
        self.tls = Some(cert_required);
        self
    }

    /// Starts the daemon, then the agent; waits until the agent answers.
    pub async fn start(self) -> Result<ControlAgent, KeaError> {
        let daemon = KeaProcess::builder()
            .name("ca-dhcp4")
            .config(self.dhcp4)
            .hooks(&self.hooks)
            .no_http_socket()
            .unix_socket()
            .start()
            .await?;
        let rootfs = KeaRootfs::locate()?;
        let state = KeaState::new(&rootfs, "ca")?;
        let state_err = |source| KeaError::StateDir {
            path: state.host().to_path_buf(),
            source,
        };
        let tls = self.tls.map(TlsMaterial::generate).transpose()?;
        let port = free_port()?;
        let mut agent = Map::new();
        agent.insert("http-host".into(), json!("127.0.0.1"));
        agent.insert("http-port".into(), json!(port.port()));
        let socket = daemon.unix_socket_chroot_path().unwrap_or_default().to_string();
        agent.insert(
            "control-sockets".into(),
            json!({"dhcp4": {"socket-type": "unix", "socket-name": socket}}),
        );
        if let Some(auth) = &self.auth {
            agent.insert("authentication".into(), auth.to_kea());
        }
        if let Some(t) = &tls {
            write_tls_files(t, state.host()).map_err(state_err)?;
            agent.extend(tls_params(t, state.chroot()));
        }
        let config = json!({"Control-agent": Value::Object(agent)});
        let config_path = state.host().join("ca.json");
        let text = serde_json::to_string_pretty(&config).map_err(|e| KeaError::Config(e.to_string()))?;
        std::fs::write(&config_path, text).map_err(state_err)?;
        let url = format!(
            "{}://127.0.0.1:{}/",
            if tls.is_some() { "https" } else { "http" },
            port.port()
        );
        let client = KeaClient::new(&url, self.auth.clone(), tls.as_ref(), true)?;
        let mut spec = state.spec("ca", "kea-ctrl-agent", &["-c", &state.chroot_file("ca.json")]);
        // The agent checks the daemon's socket against its own allowed socket directory.
        let daemon_dir = socket
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default();
        for (k, v) in &mut spec.env {
            if k == "KEA_CONTROL_SOCKET_DIR" {
                *v = daemon_dir.clone();
            }
        }
        let mut process = ManagedProcess::spawn(&spec)?;
        let _ = record_process(state.host(), process.pid());
        let started = Instant::now();
        loop {
            if let Some(status) = process.exit_status() {
                return Err(KeaError::Exited {
                    what: "kea-ctrl-agent".into(),
                    status: status.to_string(),
                    tail: log_tail(process.log_path(), 30),
                    log: process.log_path().to_path_buf(),
                });
            }
            if client
                .post_raw(Some("application/json"), "{}".into(), true)
                .await
                .is_ok()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(KeaError::NotReady {
                    what: "kea-ctrl-agent".into(),
                    secs: 20,
                    tail: log_tail(process.log_path(), 30),
                    log: process.log_path().to_path_buf(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(ControlAgent {
            process: Some(process),
            daemon,
            client,
            url,
            config,
            auth: self.auth,
            tls,
            _port: port,
            state,
        })
    }
}

/// A running Control Agent and its dhcp4 daemon.
#[derive(Debug)]
pub struct ControlAgent {
    process: Option<ManagedProcess>,
    daemon: KeaProcess,
    client: KeaClient,
    url: String,
    config: Value,
    auth: Option<BasicAuth>,
    tls: Option<TlsMaterial>,
    _port: PortLease,
    state: KeaState,
}

impl ControlAgent {
    pub fn builder() -> ControlAgentBuilder {
        ControlAgentBuilder::default()
    }

    /// The agent's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client for the agent (credentials and client certificate included).
    pub fn client(&self) -> &KeaClient {
        &self.client
    }

    /// The agent's own configuration (`{"Control-agent": ...}`).
    pub fn config(&self) -> &Value {
        &self.config
    }

    pub fn auth(&self) -> Option<&BasicAuth> {
        self.auth.as_ref()
    }

    pub fn tls(&self) -> Option<&TlsMaterial> {
        self.tls.as_ref()
    }

    /// The agent's state directory as seen inside the chroot (its TLS files live there).
    pub fn state_dir_in_chroot(&self) -> &str {
        self.state.chroot()
    }

    /// The dhcp4 daemon behind the agent.
    pub fn daemon(&self) -> &KeaProcess {
        &self.daemon
    }

    /// The daemon, to stop/kill/restart it while the agent stays up.
    pub fn daemon_mut(&mut self) -> &mut KeaProcess {
        &mut self.daemon
    }

    /// Stops the dhcp4 daemon; the agent then answers "likely to be offline".
    pub async fn stop_daemon(&mut self) {
        self.daemon.stop().await;
    }

    /// Starts the dhcp4 daemon again (same config file).
    pub async fn start_daemon(&mut self) -> Result<(), KeaError> {
        self.daemon.start().await
    }

    /// Stops the agent (the daemon keeps running).
    pub async fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.terminate(Duration::from_secs(5)).await;
        }
    }
}
