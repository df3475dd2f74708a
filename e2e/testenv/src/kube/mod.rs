//! A real Kubernetes API server for tests: etcd + the standalone `apiextensions-apiserver` (the CRD
//! serving code of kube-apiserver), built offline by `scripts/build-apiserver.sh`.
//!
//! What it serves: CustomResourceDefinitions and custom resources with the real API machinery
//! (resourceVersion, 409 conflicts, finalizers, status subresource, server-side apply, watches with
//! bookmarks). What it does not: core/v1 (no Namespaces, Secrets, core Events), RBAC evaluation,
//! garbage collection, namespace lifecycle. **Namespaces are plain strings here**: nothing needs to
//! create them, and [`KubeEnv::namespace`] hands each test a unique one so tests sharing a server
//! never see each other's objects. `coordination.k8s.io/v1` Lease and `events.k8s.io/v1` Event are
//! served through stand-in CRDs in those groups ([`crds::standin_crds`]), installed at start.
//!
//! Two ways to get one:
//! - [`KubeEnv::shared`]: one server per test run, shared by every test process (nextest runs each
//!   test in its own process). Found through a state file under a file lock; each user process holds
//!   a shared lock on a "users" file for its lifetime, and a watchdog stops the server after it has
//!   had no user for `TESTENV_KUBE_IDLE_SECS` (default 20). A dead or broken server found at start is
//!   reaped and replaced. `TESTENV_KUBE_EXTRA_IPS` (comma separated) adds IP SANs to its serving
//!   certificate (for example a Docker network gateway) and makes it listen on all addresses.
//! - [`KubeEnv::start_private`] / [`KubeEnvBuilder`]: a server of the test's own (its own CRD
//!   variants, a fresh audit log), killed with the test.
//!
//! Audit logging is always on; [`KubeEnv::audit_events`] parses it (verb, group, resource,
//! subresource, user, namespace, name, status code).

mod audit;
pub mod crds;
mod server;
mod shared;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub use audit::AuditEvent;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use server::ServerFiles;
pub use server::UNDER_TEST_USER;

use crate::env::MissingEnvironment;

/// Why the API server environment is not available.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error(
        "Kubernetes API server binaries not found in {dir} (apiextensions-apiserver, etcd); build them with \
         `scripts/build-apiserver.sh` or `just setup` (or set TESTENV_KUBE_BIN)"
    )]
    BinariesMissing { dir: PathBuf },
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Port(#[from] crate::ports::PortError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error(transparent)]
    Cert(#[from] crate::certs::CertError),
    #[error("{what} exited during start ({status}); last log lines:\n{tail}")]
    Exited {
        what: String,
        status: String,
        tail: String,
    },
    #[error("{what} not ready within {secs} s: {last}; last log lines:\n{tail}")]
    NotReady {
        what: String,
        secs: u64,
        last: String,
        tail: String,
    },
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("Kubernetes API: {0}")]
    Api(#[from] kube::Error),
    #[error("invalid CRD: {0}")]
    Crd(String),
    #[error("shared server state: {0}")]
    State(String),
}

impl KubeError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            KubeError::BinariesMissing { .. } => "binaries-missing",
            KubeError::Io { .. } => "io",
            KubeError::Port(_) => "port",
            KubeError::Process(_) => "process",
            KubeError::Cert(_) => "cert",
            KubeError::Exited { .. } => "exited",
            KubeError::NotReady { .. } => "not-ready",
            KubeError::Kubeconfig(_) => "kubeconfig",
            KubeError::Api(_) => "api",
            KubeError::Crd(_) => "crd",
            KubeError::State(_) => "state",
        }
    }
}

impl MissingEnvironment for KubeError {
    fn is_missing_environment(&self) -> bool {
        matches!(self, KubeError::BinariesMissing { .. })
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KubeError + '_ {
    move |source| KubeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the binaries are: `TESTENV_KUBE_BIN`, else `$KEA_OPERATOR_CACHE/kube/bin`
/// (default `/var/cache/kea-operator/kube/bin`).
pub fn binaries() -> Result<(PathBuf, PathBuf), KubeError> {
    let dir = std::env::var_os("TESTENV_KUBE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache =
                std::env::var_os("KEA_OPERATOR_CACHE").unwrap_or_else(|| "/var/cache/kea-operator".into());
            PathBuf::from(cache).join("kube/bin")
        });
    let apiserver = dir.join("apiextensions-apiserver");
    let etcd = dir.join("etcd");
    if !apiserver.is_file() || !etcd.is_file() {
        return Err(KubeError::BinariesMissing { dir });
    }
    Ok((apiserver, etcd))
}

/// Options for a private server.
#[derive(Debug, Clone, Default)]
pub struct KubeEnvBuilder {
    extra_ips: Vec<std::net::IpAddr>,
}

impl KubeEnvBuilder {
    /// Adds IP SANs to the serving certificate and listens on all addresses (containers reach the
    /// host at their network's gateway address).
    pub fn extra_ips(mut self, ips: &[std::net::IpAddr]) -> Self {
        self.extra_ips.extend_from_slice(ips);
        self
    }

    /// Starts a private etcd + API server (about 2–4 s), killed when the [`KubeEnv`] drops.
    pub async fn start_private(self) -> Result<KubeEnv, KubeError> {
        let server = server::PrivateServer::start(&self.extra_ips).await?;
        let files = server.files().clone();
        let env = KubeEnv {
            files,
            _private: Some(server),
        };
        env.apply_crds(&crds::standin_crds()).await?;
        Ok(env)
    }
}

/// A running API server (shared or private) and what a test needs to use it.
#[derive(Debug)]
pub struct KubeEnv {
    files: ServerFiles,
    _private: Option<server::PrivateServer>,
}

impl KubeEnv {
    /// Options for a private server.
    pub fn builder() -> KubeEnvBuilder {
        KubeEnvBuilder::default()
    }

    /// The run's shared server, started by the first test that asks (see the module docs).
    pub async fn shared() -> Result<KubeEnv, KubeError> {
        let files = shared::acquire().await?;
        let env = KubeEnv {
            files,
            _private: None,
        };
        env.apply_crds(&crds::standin_crds()).await?;
        Ok(env)
    }

    /// A private server with default options.
    pub async fn start_private() -> Result<KubeEnv, KubeError> {
        KubeEnvBuilder::default().start_private().await
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.files.url
    }

    /// A kubeconfig file (client certificate with `O=system:masters`) for the server.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.files.kubeconfig
    }

    /// A kubeconfig for the program under test (an operator run as a separate process): user
    /// [`UNDER_TEST_USER`], so [`Self::audit_events`] tells its requests from the test's own
    /// (`testenv-admin`). Both identities are cluster admins: this server evaluates no RBAC, so an
    /// RBAC check compares the audited requests with the rules instead.
    pub fn under_test_kubeconfig_path(&self) -> PathBuf {
        self.files.dir.join(server::UNDER_TEST_KUBECONFIG)
    }

    /// The CA that signed the serving and client certificates (PEM).
    pub fn ca_pem(&self) -> Result<String, KubeError> {
        std::fs::read_to_string(&self.files.ca).map_err(io_err(&self.files.ca))
    }

    /// A kube client for the server (installs rustls's ring provider first: kube 5 uses ring).
    pub async fn client(&self) -> Result<kube::Client, KubeError> {
        crate::certs::install_crypto_provider();
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.files.kubeconfig)
            .map_err(|e| KubeError::Kubeconfig(e.to_string()))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| KubeError::Kubeconfig(e.to_string()))?;
        Ok(kube::Client::try_from(config)?)
    }

    /// A namespace name no other test (or run) uses: `<prefix>-<pid>-<n>-<random>`, at most 63
    /// characters. Nothing has to create it (see the module docs).
    pub fn namespace(&self, prefix: &str) -> String {
        namespace_name(prefix)
    }

    /// Creates or updates `crds` (server-side apply) and waits until each is Established and served.
    /// Idempotent: applying the same CRDs again is cheap.
    pub async fn apply_crds(&self, crds: &[CustomResourceDefinition]) -> Result<(), KubeError> {
        crds::apply(&self.client().await?, crds).await
    }

    /// As [`Self::apply_crds`], from YAML documents (`---` separated).
    pub async fn apply_crds_yaml(&self, yaml: &str) -> Result<(), KubeError> {
        self.apply_crds(&crds::parse_yaml(yaml)?).await
    }

    /// Every audit event recorded so far (for the shared server: of every test; filter by namespace).
    pub fn audit_events(&self) -> Result<Vec<AuditEvent>, KubeError> {
        audit::read(&self.files.audit_log)
    }

    /// Audit events of one namespace.
    pub fn audit_events_in(&self, namespace: &str) -> Result<Vec<AuditEvent>, KubeError> {
        Ok(self
            .audit_events()?
            .into_iter()
            .filter(|e| e.namespace.as_deref() == Some(namespace))
            .collect())
    }

    /// The audit log file (JSON lines).
    pub fn audit_log_path(&self) -> &Path {
        &self.files.audit_log
    }
}

/// Parses one line of an API server audit log written elsewhere (a real cluster's, for the e2e
/// cluster lane); `None` for what carries no object reference or is not a completed request.
pub fn parse_audit_line(line: &str) -> Option<AuditEvent> {
    audit::parse_line(line)
}

/// A unique, valid namespace name: `<prefix>-<pid>-<n>-<random>`, at most 63 characters.
pub fn namespace_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let suffix = format!("-{}-{n}-{:04x}", std::process::id(), rand::random::<u16>());
    let keep = 63usize.saturating_sub(suffix.len());
    let head: String = clean.chars().take(keep).collect();
    let head = head.trim_matches('-');
    format!("{}{suffix}", if head.is_empty() { "t" } else { head })
}
