//! Real ISC Kea 3.0 (kea-dhcp4, kea-ctrl-agent) started from tests, inside the provisioned root
//! filesystem (Debian forky, see `scripts/provision-kea.sh`).
//!
//! Each instance gets its own state directory *inside* the root filesystem (`/tmp/testenv/<name>`,
//! seen from the chroot), holding its config file, pid file, control sockets, lease files,
//! certificates and log. Kea 3.0 only accepts pid/socket/data paths under its configured
//! directories, so the `KEA_PIDFILE_DIR`, `KEA_CONTROL_SOCKET_DIR`, `KEA_DHCP_DATA_DIR` and
//! `KEA_LOG_FILE_DIR` variables point them at that state directory: instances never share a pid file,
//! socket or lease file, and never touch the root filesystem's own `/run/kea`.

mod agent;
mod client;
mod config;
mod dhcp4;
mod ha;
mod postgres;
mod state;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use agent::{ControlAgent, ControlAgentBuilder};
pub use client::{KeaClient, KeaHttpError};
pub use config::{BasicAuth, Hook, TlsMaterial, TlsOptions, default_dhcp4};
pub use dhcp4::{KeaBuilder, KeaProcess};
pub use ha::{HaPair, HaPairBuilder};
pub use postgres::{PgError, Postgres};

use crate::env::MissingEnvironment;

/// Where the root filesystem is looked for when `KEA_ROOTFS` is not set.
pub const DEFAULT_ROOTFS: &str = "/var/cache/kea-operator/kea-rootfs";

/// Why real Kea could not be started.
#[derive(Debug, thiserror::Error)]
pub enum KeaError {
    #[error(
        "real Kea root filesystem not found at {path} (kea-dhcp4 missing); provision it with \
         `scripts/provision-kea.sh` or `just setup` (or set KEA_ROOTFS)"
    )]
    RootfsMissing { path: PathBuf },
    #[error("cannot prepare the Kea state directory {path}: {source}")]
    StateDir { path: PathBuf, source: std::io::Error },
    #[error("invalid Kea configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Port(#[from] crate::ports::PortError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error(transparent)]
    Cert(#[from] crate::certs::CertError),
    #[error("{what} exited during start ({status}); last log lines of {log}:\n{tail}")]
    Exited {
        what: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{what} did not become ready within {secs} s; last log lines of {log}:\n{tail}")]
    NotReady {
        what: String,
        secs: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("`kea-dhcp4 -V` failed: {0}")]
    Version(String),
    #[error(transparent)]
    Http(#[from] KeaHttpError),
    #[error(transparent)]
    Postgres(#[from] PgError),
}

impl KeaError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            KeaError::RootfsMissing { .. } => "rootfs-missing",
            KeaError::StateDir { .. } => "state-dir",
            KeaError::Config(_) => "config",
            KeaError::Port(_) => "port",
            KeaError::Process(_) => "process",
            KeaError::Cert(_) => "cert",
            KeaError::Exited { .. } => "exited",
            KeaError::NotReady { .. } => "not-ready",
            KeaError::Version(_) => "version",
            KeaError::Http(_) => "http",
            KeaError::Postgres(_) => "postgres",
        }
    }
}

impl MissingEnvironment for KeaError {
    fn is_missing_environment(&self) -> bool {
        match self {
            KeaError::RootfsMissing { .. } => true,
            KeaError::Postgres(e) => e.is_missing_environment(),
            _ => false,
        }
    }
}

/// The provisioned root filesystem holding Kea 3.0.
#[derive(Debug, Clone)]
pub struct KeaRootfs {
    path: PathBuf,
}

impl KeaRootfs {
    /// `KEA_ROOTFS`, else [`DEFAULT_ROOTFS`]; fails (as a *missing environment*) when kea-dhcp4 is not
    /// there. Never provisions: that takes a minute and a network, so it belongs to `just setup`.
    pub fn locate() -> Result<Self, KeaError> {
        Self::at(std::env::var_os("KEA_ROOTFS").map_or_else(|| PathBuf::from(DEFAULT_ROOTFS), PathBuf::from))
    }

    /// The root filesystem at `path`, if kea-dhcp4 is there.
    pub fn at(path: PathBuf) -> Result<Self, KeaError> {
        if !path.join("usr/sbin/kea-dhcp4").is_file() {
            return Err(KeaError::RootfsMissing { path });
        }
        Ok(KeaRootfs { path })
    }

    /// The root filesystem directory on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the chroot (`/tmp/x`) as seen from the host.
    pub fn host_path(&self, chroot_path: &str) -> PathBuf {
        self.path.join(chroot_path.trim_start_matches('/'))
    }

    /// Where per-instance state directories live (host path).
    pub(crate) fn state_base(&self) -> PathBuf {
        self.host_path("/tmp/testenv")
    }

    /// First line of `kea-dhcp4 -V` (for example `3.0.4 (3.0.4 (tarball))`), computed once per process
    /// and printed to the test log, since the Debian suite moves and recordings depend on it.
    pub fn version(&self) -> Result<String, KeaError> {
        static VERSION: OnceLock<Result<String, String>> = OnceLock::new();
        VERSION
            .get_or_init(|| {
                let out = std::process::Command::new("chroot")
                    .arg(&self.path)
                    .args(["kea-dhcp4", "-V"])
                    .output()
                    .map_err(|e| e.to_string())?;
                if !out.status.success() {
                    return Err(String::from_utf8_lossy(&out.stderr).into_owned());
                }
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let first = text.lines().next().unwrap_or_default().trim().to_string();
                eprintln!(
                    "testenv: real Kea in {}: kea-dhcp4 -V: {first}",
                    self.path.display()
                );
                Ok(first)
            })
            .clone()
            .map_err(KeaError::Version)
    }

    /// The bare version number (`3.0.4`).
    pub fn version_number(&self) -> Result<String, KeaError> {
        Ok(self
            .version()?
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unprovisioned_rootfs_is_a_missing_environment_with_the_fix_in_the_message() {
        let err = KeaRootfs::at(PathBuf::from("/nonexistent/kea-rootfs")).expect_err("missing");
        assert!(err.is_missing_environment());
        assert_eq!(err.category(), "rootfs-missing");
        assert!(err.to_string().contains("scripts/provision-kea.sh"), "{err}");
        let broken = KeaError::Config("x".into());
        assert!(
            !broken.is_missing_environment(),
            "a broken environment must fail, never skip"
        );
    }
}
