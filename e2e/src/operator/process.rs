//! The operator binary as a host process: own process group, parent-death signal, log file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use testenv::ports::{PortLease, free_port};
use testenv::process::{ManagedProcess, ProcessSpec};

use super::{OperatorConfig, OperatorError};

/// How long a graceful stop may take before SIGKILL (the chart's grace period is 30 s; the operator
/// releases its Lease and exits within a second).
const STOP_GRACE: Duration = Duration::from_secs(10);

pub(super) struct ProcessRunner {
    name: String,
    binary: PathBuf,
    kubeconfig: PathBuf,
    log: PathBuf,
    port: PortLease,
    process: Option<ManagedProcess>,
    starts: u32,
}

impl ProcessRunner {
    pub(super) fn start(
        name: &str,
        config: &OperatorConfig,
        kubeconfig: &Path,
        dir: &Path,
    ) -> Result<Self, OperatorError> {
        let mut runner = ProcessRunner {
            name: name.to_string(),
            binary: crate::artifacts::operator_binary()?,
            kubeconfig: kubeconfig.to_path_buf(),
            log: dir.join(format!("{name}.log")),
            port: free_port()?,
            process: None,
            starts: 0,
        };
        runner.start_again(config)?;
        Ok(runner)
    }

    pub(super) fn start_again(&mut self, config: &OperatorConfig) -> Result<(), OperatorError> {
        if self.is_running() {
            return Ok(());
        }
        self.starts += 1;
        // A marker between runs: the log is appended across restarts.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut f| {
                std::io::Write::write_all(
                    &mut f,
                    format!("=== e2e: start #{} of {} ===\n", self.starts, self.name).as_bytes(),
                )
            });
        let mut env: Vec<(String, String)> = config
            .vars()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("KUBECONFIG".into(), self.kubeconfig.display().to_string()));
        env.push(("HTTP_ADDR".into(), format!("127.0.0.1:{}", self.port.port())));
        let spec = ProcessSpec {
            name: self.name.clone(),
            program: self.binary.clone(),
            args: vec!["run".into()],
            env,
            cwd: None,
            log: self.log.clone(),
            die_with_parent: true,
            user: None,
        };
        self.process = Some(ManagedProcess::spawn(&spec)?);
        Ok(())
    }

    pub(super) fn log_path(&self) -> &Path {
        &self.log
    }

    pub(super) fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exit_status().is_none())
    }

    pub(super) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ManagedProcess::pid)
    }

    pub(super) async fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.pause(false); // a stopped process cannot handle SIGTERM
            p.terminate(STOP_GRACE).await;
        }
    }

    pub(super) fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    pub(super) fn pause(&self, paused: bool) {
        if let Some(p) = &self.process {
            p.pause(paused);
        }
    }

    pub(super) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port.port())
    }
}
