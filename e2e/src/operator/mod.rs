//! The operator under test as a separate process (or container), configured only through its
//! environment, as the chart configures the pod (SPEC §5).
//!
//! [`OperatorConfig`] starts from the chart's variables with every timing set short, so no test
//! waits for a default interval; scenarios override what they exercise. [`Operator`] starts, stops
//! (SIGTERM), kills (SIGKILL), pauses (SIGSTOP) and restarts it, keeps its log in a file (printed
//! when a scenario fails) and reads `/metrics`, `/readyz` and `/healthz`.

pub mod container;
pub mod metrics;
pub mod pod;
mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use metrics::Metrics;

use crate::wait::{Probe, eventually};

/// The namespace the operator's leader Lease lives in (the chart's release namespace in the
/// golden RBAC files, so the namespaced Role is checked against the right place).
pub const POD_NAMESPACE: &str = "kea-system";

/// Why the operator could not be started or asked something.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(transparent)]
    Binary(#[from] crate::artifacts::BinaryMissing),
    #[error(transparent)]
    Port(#[from] testenv::ports::PortError),
    #[error(transparent)]
    Process(#[from] testenv::process::ProcessError),
    #[error("operator {name} is not running")]
    NotRunning { name: String },
    #[error("HTTP to operator {name}: {source}")]
    Http { name: String, source: reqwest::Error },
    #[error("operator {name}: {source}")]
    Metrics {
        name: String,
        source: metrics::ParseError,
    },
    #[error("operator {name}: container: {message}")]
    Container { name: String, message: String },
    #[error("cannot build an HTTP client: {0}")]
    Client(String),
}

impl OperatorError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        match self {
            OperatorError::Binary(_) => "binary",
            OperatorError::Port(_) => "port",
            OperatorError::Process(_) => "process",
            OperatorError::NotRunning { .. } => "not-running",
            OperatorError::Http { .. } => "http",
            OperatorError::Metrics { .. } => "metrics",
            OperatorError::Container { .. } => "container",
            OperatorError::Client(_) => "client",
        }
    }
}

impl testenv::MissingEnvironment for OperatorError {
    fn is_missing_environment(&self) -> bool {
        matches!(self, OperatorError::Binary(_))
    }
}

/// The operator's environment. `KUBECONFIG` and `HTTP_ADDR` are set by the runner (a host path and
/// a free port for a process; a copied file and `0.0.0.0:8080` in a container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    env: BTreeMap<String, String>,
}

impl OperatorConfig {
    /// The chart's settings for a Kea pair and this instance, with test timings:
    /// health every 0.5 s, retries from 50 ms, breaker reset 2 s, requeues 1 s (auth 4 s),
    /// Lease 3 s / renew 1 s, sweep every 60 s (scenarios that test the sweep shorten it).
    pub fn new(kea_url: &str, secondary_url: Option<&str>, instance: &str) -> Self {
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            env.insert(k.to_string(), v.to_string());
        };
        set("KEA_URL", kea_url);
        if let Some(url) = secondary_url {
            set("KEA_SECONDARY_URL", url);
        }
        set("KEA_OPERATOR_INSTANCE", instance);
        set("POD_NAMESPACE", POD_NAMESPACE);
        set("LEADER_ELECT", "true");
        set("LOG_FORMAT", "json");
        set("RUST_LOG", "info,kea_operator=debug");
        set("KEA_TIMEOUT_SECONDS", "2");
        set("KEA_HEALTH_INTERVAL_SECONDS", "0.5");
        set("RESYNC_INTERVAL_SECONDS", "60");
        set("KEA_RETRY_INITIAL_MS", "50");
        set("KEA_RETRY_FACTOR", "2.0");
        set("KEA_RETRY_MAX_SECONDS", "1");
        set("KEA_RETRY_ATTEMPTS", "4");
        set("KEA_BREAKER_FAILURES", "5");
        set("KEA_BREAKER_RESET_SECONDS", "2");
        set("KEA_BREAKER_HALF_OPEN_REQUESTS", "3");
        set("REQUEUE_NETWORK_SECONDS", "1");
        set("REQUEUE_AUTH_SECONDS", "4");
        set("REQUEUE_PERMISSION_SECONDS", "5");
        set("REQUEUE_RESOURCE_SECONDS", "1");
        set("LEASE_DURATION_SECONDS", "3");
        set("LEASE_RENEW_SECONDS", "1");
        set("KEA_CLEANUP_TIMEOUT_SECONDS", "30");
        set("KEA_CONFIG_WRITE_DEBOUNCE_MS", "200");
        set("HEALTH_STALL_SECONDS", "20");
        set("MAX_CONCURRENT_RECONCILES", "8");
        OperatorConfig { env }
    }

    /// Sets (or replaces) a variable.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_string(), value.into());
        self
    }

    /// Removes a variable.
    pub fn unset(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str)
    }

    /// A timing variable as a duration (for scenario arithmetic).
    pub fn seconds(&self, key: &str) -> Option<Duration> {
        self.get(key)
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    }

    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Where and how an operator runs.
pub enum Launch {
    /// The binary as a host process; the kubeconfig is a host path.
    Process { kubeconfig: PathBuf },
    /// The operator image on a Docker network.
    Container(container::ContainerLaunch),
    /// A pod of the chart's template in a cluster (the cluster lane; boxed: it holds the template).
    Pod(Box<pod::PodLaunch>),
}

enum Runner {
    Process(process::ProcessRunner),
    // Boxed: a container handle is large and rare beside a process.
    Container(Box<container::ContainerRunner>),
    Pod(Box<pod::PodRunner>),
}

/// A running (or stopped) operator replica.
pub struct Operator {
    name: String,
    config: OperatorConfig,
    runner: Runner,
    http: reqwest::Client,
}

impl Operator {
    /// Starts replica `name` with `config`, its log under `dir`.
    pub async fn start(
        name: &str,
        config: OperatorConfig,
        launch: Launch,
        dir: &Path,
    ) -> Result<Operator, OperatorError> {
        let tls = testenv::certs::rustls_client_config("", None)
            .map_err(|e| OperatorError::Client(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_secs(3))
            .no_proxy()
            .build()
            .map_err(|e| OperatorError::Client(e.to_string()))?;
        let runner = match launch {
            Launch::Process { kubeconfig } => {
                Runner::Process(process::ProcessRunner::start(name, &config, &kubeconfig, dir)?)
            }
            Launch::Container(c) => Runner::Container(Box::new(
                container::ContainerRunner::start(name, &config, c, dir).await?,
            )),
            Launch::Pod(p) => Runner::Pod(Box::new(pod::PodRunner::start(name, &config, *p, dir).await?)),
        };
        Ok(Operator {
            name: name.to_string(),
            config,
            runner,
            http,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &OperatorConfig {
        &self.config
    }

    /// The file holding everything it logged, all runs (a restart appends).
    pub fn log_path(&self) -> &Path {
        match &self.runner {
            Runner::Process(p) => p.log_path(),
            Runner::Container(c) => c.log_path(),
            Runner::Pod(p) => p.log_path(),
        }
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        testenv::process::log_tail(self.log_path(), n)
    }

    /// Whether the process (container) runs.
    pub async fn is_running(&mut self) -> bool {
        match &mut self.runner {
            Runner::Process(p) => p.is_running(),
            Runner::Container(c) => c.is_running().await,
            Runner::Pod(p) => p.is_running().await,
        }
    }

    /// SIGTERM, then SIGKILL after 10 s: a graceful stop (releases the leader Lease).
    pub async fn stop(&mut self) -> Result<(), OperatorError> {
        match &mut self.runner {
            Runner::Process(p) => {
                p.stop().await;
                Ok(())
            }
            Runner::Container(c) => c.stop(&self.name, false).await,
            Runner::Pod(p) => p.stop(false).await,
        }
    }

    /// SIGKILL: a crash.
    pub async fn kill(&mut self) -> Result<(), OperatorError> {
        match &mut self.runner {
            Runner::Process(p) => {
                p.kill();
                Ok(())
            }
            Runner::Container(c) => c.stop(&self.name, true).await,
            Runner::Pod(p) => p.stop(true).await,
        }
    }

    /// SIGSTOP (`true`) / SIGCONT (`false`): a hung process (docker pause in a container).
    pub async fn pause(&mut self, paused: bool) -> Result<(), OperatorError> {
        match &mut self.runner {
            Runner::Process(p) => {
                p.pause(paused);
                Ok(())
            }
            Runner::Container(c) => c.pause(&self.name, paused).await,
            Runner::Pod(p) => p.pause(paused).await,
        }
    }

    /// Starts it again after [`Self::stop`] or [`Self::kill`], same environment.
    pub async fn start_again(&mut self) -> Result<(), OperatorError> {
        match &mut self.runner {
            Runner::Process(p) => p.start_again(&self.config),
            Runner::Container(c) => c.start_again(&self.name).await,
            Runner::Pod(p) => p.start_again().await,
        }
    }

    /// Graceful stop, then start.
    pub async fn restart(&mut self) -> Result<(), OperatorError> {
        self.stop().await?;
        self.start_again().await
    }

    /// The process id (host processes only; for "was it restarted" checks).
    pub fn pid(&self) -> Option<u32> {
        match &self.runner {
            Runner::Process(p) => p.pid(),
            Runner::Container(_) | Runner::Pod(_) => None,
        }
    }

    async fn base_url(&self) -> Result<String, OperatorError> {
        match &self.runner {
            Runner::Process(p) => Ok(p.base_url()),
            Runner::Container(c) => c.base_url(&self.name).await,
            Runner::Pod(p) => Ok(p.base_url()),
        }
    }

    /// GET `path` on the operator's HTTP address: (status, body).
    pub async fn get(&self, path: &str) -> Result<(u16, String), OperatorError> {
        let url = format!("{}{path}", self.base_url().await?);
        let http = |source| OperatorError::Http {
            name: self.name.clone(),
            source,
        };
        let resp = self.http.get(url).send().await.map_err(http)?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await.map_err(http)?))
    }

    /// `/metrics`, parsed.
    pub async fn metrics(&self) -> Result<Metrics, OperatorError> {
        let (_, body) = self.get("/metrics").await?;
        Metrics::parse(&body).map_err(|source| OperatorError::Metrics {
            name: self.name.clone(),
            source,
        })
    }

    /// `/readyz` status code.
    pub async fn readyz(&self) -> Result<u16, OperatorError> {
        Ok(self.get("/readyz").await?.0)
    }

    /// `/healthz` status code.
    pub async fn healthz(&self) -> Result<u16, OperatorError> {
        Ok(self.get("/healthz").await?.0)
    }

    /// Whether this replica reports holding the leader Lease (`kea_operator_leader_status`).
    pub async fn is_leader(&self) -> Result<bool, OperatorError> {
        Ok(self.metrics().await?.value("kea_operator_leader_status", &[]) == Some(1.0))
    }

    /// Waits until `/readyz` answers 200; fails early if the process exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let what = format!("operator {} to be ready (/readyz 200)", self.name);
        eventually(&what, timeout, async || {
            if !self.is_running().await {
                anyhow::bail!(
                    "operator {} exited before it was ready; last log lines:\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
            Ok(match self.readyz().await {
                Ok(200) => Probe::Done(()),
                Ok(code) => Probe::NotYet(format!("/readyz {code}")),
                Err(e) => Probe::NotYet(e.to_string()),
            })
        })
        .await
    }

    /// Waits until metric `name{with}` satisfies `pred`; returns its value.
    pub async fn wait_metric(
        &self,
        name: &str,
        with: &[(&str, &str)],
        timeout: Duration,
        pred: impl Fn(f64) -> bool,
    ) -> anyhow::Result<f64> {
        let what = format!("{name}{with:?} on operator {}", self.name);
        eventually(&what, timeout, async || {
            Ok(match self.metrics().await {
                Ok(m) => match m.value(name, with) {
                    Some(v) if pred(v) => Probe::Done(v),
                    other => Probe::NotYet(format!("{other:?}")),
                },
                Err(e) => Probe::NotYet(e.to_string()),
            })
        })
        .await
    }

    /// Log lines (JSON objects) whose level is ERROR or which mention a panic: an operator that
    /// panicked or logged errors for bad input is not "healthy".
    pub fn panics(&self) -> Vec<String> {
        self.logs()
            .lines()
            .filter(|l| l.contains("panicked at") || l.contains("RUST_BACKTRACE"))
            .map(str::to_string)
            .collect()
    }
}
