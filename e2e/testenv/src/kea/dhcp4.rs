//! One real `kea-dhcp4` with an HTTP(S) control socket on a free loopback port.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::client::KeaClient;
use super::config::{
    BasicAuth, Hook, TlsMaterial, add_hooks, default_dhcp4, dhcp4_object, http_socket, push_control_socket,
    write_tls_files,
};
use super::state::KeaState;
use super::{KeaError, KeaRootfs};
use crate::ports::{PortLease, free_port};
use crate::process::{ManagedProcess, log_tail, record_process};

/// How long a server may take to answer its first command.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a stopping server may take before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Builds a [`KeaProcess`]; see [`KeaProcess::builder`].
#[derive(Debug, Clone)]
pub struct KeaBuilder {
    name: String,
    config: Value,
    hooks: Vec<(Hook, Option<Value>)>,
    http: bool,
    unix_socket: bool,
    auth: Option<BasicAuth>,
    tls: Option<bool>,
    port: Option<u16>,
    extra_files: Vec<(String, String)>,
}

impl Default for KeaBuilder {
    fn default() -> Self {
        KeaBuilder {
            name: "kea".into(),
            config: default_dhcp4(),
            hooks: Hook::COMMANDS.iter().map(|h| (*h, None)).collect(),
            http: true,
            unix_socket: false,
            auth: None,
            tls: None,
            port: None,
            extra_files: Vec::new(),
        }
    }
}

impl KeaBuilder {
    /// A name for the state directory and messages (`primary`, `conformance-lease4`...).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        self
    }

    /// The Dhcp4 configuration (`{"Dhcp4": {...}}` or the inner object). The builder adds its
    /// control socket(s) to `control-sockets` and its hooks to `hooks-libraries`; everything else is
    /// written as given. Default: [`super::config::default_dhcp4`].
    pub fn config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// Replaces the hook list (default: lease_cmds, host_cmds, subnet_cmds). Hooks already named in
    /// the config are not added twice.
    pub fn hooks(mut self, hooks: &[Hook]) -> Self {
        self.hooks = hooks.iter().map(|h| (*h, None)).collect();
        self
    }

    /// Adds one hook with `parameters`.
    pub fn hook_with(mut self, hook: Hook, parameters: Value) -> Self {
        self.hooks.retain(|(h, _)| *h != hook);
        self.hooks.push((hook, Some(parameters)));
        self
    }

    /// Basic authentication on the HTTP control socket.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some(BasicAuth::new(user, password));
        self
    }

    /// HTTPS on the control socket with fresh certificates; `cert_required` = mutual TLS.
    pub fn tls(mut self, cert_required: bool) -> Self {
        self.tls = Some(cert_required);
        self
    }

    /// No HTTP control socket (a daemon behind a Control Agent).
    pub fn no_http_socket(mut self) -> Self {
        self.http = false;
        self
    }

    /// Adds a unix control socket (`kea4.sock` in the state directory).
    pub fn unix_socket(mut self) -> Self {
        self.unix_socket = true;
        self
    }

    /// Uses this port instead of a free one (for `just kea-up`); the caller owns the choice.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Writes `contents` to `file` in the state directory before start (for example a password
    /// file); in the config, `${STATE}` in any string is replaced by the state directory's chroot path.
    pub fn file(mut self, file: &str, contents: &str) -> Self {
        self.extra_files.push((file.to_string(), contents.to_string()));
        self
    }

    /// Starts the server and waits until it answers.
    pub async fn start(self) -> Result<KeaProcess, KeaError> {
        let rootfs = KeaRootfs::locate()?;
        rootfs.version()?;
        let state = KeaState::new(&rootfs, &self.name)?;
        let state_err = |source| KeaError::StateDir {
            path: state.host().to_path_buf(),
            source,
        };
        let mut dhcp4 = dhcp4_object(substitute_state(self.config, state.chroot()))?;
        add_hooks(&mut dhcp4, &self.hooks)?;
        for (file, contents) in &self.extra_files {
            std::fs::write(state.host().join(file), contents).map_err(state_err)?;
        }
        let tls = self.tls.map(TlsMaterial::generate).transpose()?;
        if let Some(t) = &tls {
            write_tls_files(t, state.host()).map_err(state_err)?;
        }
        let (port_lease, port) = match (self.http, self.port) {
            (false, _) => (None, None),
            (true, Some(p)) => (None, Some(p)),
            (true, None) => {
                let lease = free_port()?;
                let p = lease.port();
                (Some(lease), Some(p))
            }
        };
        if let Some(port) = port {
            let socket = http_socket(
                port,
                self.auth.as_ref(),
                tls.as_ref().map(|t| (t, state.chroot())),
            );
            push_control_socket(&mut dhcp4, Value::Object(socket))?;
        }
        let unix_socket = self.unix_socket.then(|| state.chroot_file("kea4.sock"));
        if let Some(path) = &unix_socket {
            push_control_socket(&mut dhcp4, json!({"socket-type": "unix", "socket-name": path}))?;
        }
        let config = json!({ "Dhcp4": Value::Object(dhcp4) });
        let config_name = format!("{}.json", self.name);
        let config_path = state.host().join(&config_name);
        let pretty = serde_json::to_string_pretty(&config).map_err(|e| KeaError::Config(e.to_string()))?;
        std::fs::write(&config_path, pretty).map_err(state_err)?;
        let url = port.map(|p| {
            format!(
                "{}://127.0.0.1:{p}/",
                if tls.is_some() { "https" } else { "http" }
            )
        });
        let client = url
            .as_deref()
            .map(|u| KeaClient::new(u, self.auth.clone(), tls.as_ref(), true))
            .transpose()?;
        let mut kea = KeaProcess {
            process: None,
            client,
            url,
            config,
            config_path,
            config_chroot: state.chroot_file(&config_name),
            unix_socket,
            auth: self.auth,
            tls,
            name: self.name,
            _port: port_lease,
            state,
        };
        kea.start().await?;
        Ok(kea)
    }
}

/// Replaces `${STATE}` in every string of `value` with `dir`.
fn substitute_state(value: Value, dir: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("${STATE}", dir)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| substitute_state(v, dir)).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, substitute_state(v, dir)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// A running real `kea-dhcp4`. Killed (with its process group) on drop; its state directory is
/// removed then, or kept with its log printed when the test panicked.
#[derive(Debug)]
pub struct KeaProcess {
    // Declared first: dropped (killed) before the state directory goes.
    process: Option<ManagedProcess>,
    client: Option<KeaClient>,
    url: Option<String>,
    config: Value,
    config_path: PathBuf,
    config_chroot: String,
    unix_socket: Option<String>,
    auth: Option<BasicAuth>,
    tls: Option<TlsMaterial>,
    name: String,
    _port: Option<PortLease>,
    state: KeaState,
}

impl KeaProcess {
    /// A builder with the defaults: one subnet `10.100.0.0/16`, the three command hooks, plain HTTP
    /// control socket on a free port, no auth.
    pub fn builder() -> KeaBuilder {
        KeaBuilder::default()
    }

    /// The control socket URL (`http://127.0.0.1:PORT/`, or `https://`), if it has one.
    pub fn url(&self) -> &str {
        self.url.as_deref().unwrap_or_default()
    }

    /// The control socket's port (0 without an HTTP socket).
    pub fn port(&self) -> u16 {
        self.url
            .as_deref()
            .and_then(|u| u.rsplit(':').next())
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or(0)
    }

    /// A client for the control socket with the right credentials and certificates.
    pub fn client(&self) -> Option<&KeaClient> {
        self.client.as_ref()
    }

    /// Shortcut: send a command and return answer element 0. Panics without an HTTP socket.
    pub async fn command(&self, command: &str, arguments: Option<Value>) -> Result<Value, KeaError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| KeaError::Config("no HTTP control socket".into()))?;
        Ok(client.command0(command, arguments).await?)
    }

    /// The configuration as first written (`{"Dhcp4": ...}`); `config-write` may change the file since.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The config file on the host (read it to see what `config-write` persisted).
    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// The config file as Kea sees it (inside the chroot).
    pub fn config_chroot_path(&self) -> &str {
        &self.config_chroot
    }

    /// The unix control socket path inside the chroot, if one was asked for.
    pub fn unix_socket_chroot_path(&self) -> Option<&str> {
        self.unix_socket.as_deref()
    }

    /// Basic auth credentials, if configured.
    pub fn auth(&self) -> Option<&BasicAuth> {
        self.auth.as_ref()
    }

    /// Certificates of the TLS socket (CA PEM, client certificate and key), if configured.
    pub fn tls(&self) -> Option<&TlsMaterial> {
        self.tls.as_ref()
    }

    /// The state directory on the host.
    pub fn state_dir(&self) -> &std::path::Path {
        self.state.host()
    }

    /// The state directory as Kea sees it (`/tmp/testenv/<name>-XXXX`): it appears in config-get
    /// and config-write answers.
    pub fn state_dir_in_chroot(&self) -> &str {
        self.state.chroot()
    }

    /// The server's pid while running.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ManagedProcess::pid)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exit_status().is_none())
    }

    /// Everything the server logged so far (all runs).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.state.host().join(format!("{}.log", self.name))).unwrap_or_default()
    }

    /// Starts the server again from the same config file (after [`Self::stop`] or [`Self::kill`]),
    /// so what `config-write` persisted is what it loads. Waits until it answers.
    pub async fn start(&mut self) -> Result<(), KeaError> {
        if self.is_running() {
            return Ok(());
        }
        if let Some(sock) = &self.unix_socket {
            // A killed server leaves its socket file behind; readiness waits for a fresh one.
            let _ = std::fs::remove_file(self.state.rootfs().host_path(sock));
        }
        let spec = self
            .state
            .spec(&self.name, "kea-dhcp4", &["-c", &self.config_chroot]);
        let process = ManagedProcess::spawn(&spec)?;
        let _ = record_process(self.state.host(), process.pid());
        self.process = Some(process);
        let started = Instant::now();
        self.wait_ready().await?;
        let at = self
            .url
            .as_deref()
            .or(self.unix_socket.as_deref())
            .unwrap_or_default();
        eprintln!(
            "testenv: kea-dhcp4 {} ready at {at} in {:?}",
            self.name,
            started.elapsed()
        );
        Ok(())
    }

    /// Graceful stop (SIGTERM, then SIGKILL after a grace period).
    pub async fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.terminate(STOP_GRACE).await;
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// SIGSTOP (`true`) / SIGCONT (`false`): a hung server that keeps its sockets open.
    pub fn pause(&self, paused: bool) {
        if let Some(p) = &self.process {
            p.pause(paused);
        }
    }

    /// Stop then start (same config file, same port).
    pub async fn restart(&mut self) -> Result<(), KeaError> {
        self.stop().await;
        self.start().await
    }

    async fn wait_ready(&mut self) -> Result<(), KeaError> {
        let started = Instant::now();
        loop {
            let log = self.state.host().join(format!("{}.log", self.name));
            if let Some(p) = self.process.as_mut()
                && let Some(status) = p.exit_status()
            {
                self.process = None;
                return Err(KeaError::Exited {
                    what: format!("kea-dhcp4 {}", self.name),
                    status: status.to_string(),
                    tail: log_tail(&log, 30),
                    log,
                });
            }
            let ready = match (&self.client, &self.unix_socket) {
                (Some(c), _) => c
                    .post_raw(Some("application/json"), "{}".into(), true)
                    .await
                    .is_ok(),
                (None, Some(sock)) => self.state.rootfs().host_path(sock).exists(),
                (None, None) => true,
            };
            if ready {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(KeaError::NotReady {
                    what: format!("kea-dhcp4 {}", self.name),
                    secs: READY_TIMEOUT.as_secs(),
                    tail: log_tail(&log, 30),
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
