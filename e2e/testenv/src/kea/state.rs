//! A per-instance state directory inside the root filesystem, and the environment that confines
//! Kea's pid file, sockets, lease files and log files to it.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::{KeaError, KeaRootfs};
use crate::process::{ProcessSpec, log_tail, reap_orphans, record_owner};

/// One instance's directory; removed on drop unless the test is failing (then kept and its logs
/// printed, so the failure can be read).
#[derive(Debug)]
pub(crate) struct KeaState {
    rootfs: KeaRootfs,
    dir: Option<TempDir>,
    host: PathBuf,
    chroot: String,
}

impl KeaState {
    pub(crate) fn new(rootfs: &KeaRootfs, name: &str) -> Result<Self, KeaError> {
        let base = rootfs.state_base();
        let err = |source| KeaError::StateDir {
            path: base.clone(),
            source,
        };
        std::fs::create_dir_all(&base).map_err(err)?;
        reap_orphans(&base);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(&base)
            .map_err(err)?;
        let host = dir.path().to_path_buf();
        // Kea refuses control-socket directories more permissive than 0750.
        std::fs::set_permissions(
            &host,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o750),
        )
        .map_err(err)?;
        record_owner(&host).map_err(err)?;
        let file_name = host
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let chroot = format!("/tmp/testenv/{file_name}");
        Ok(KeaState {
            rootfs: rootfs.clone(),
            dir: Some(dir),
            host,
            chroot,
        })
    }

    /// Host path of the directory.
    pub(crate) fn host(&self) -> &Path {
        &self.host
    }

    /// The directory as seen inside the chroot.
    pub(crate) fn chroot(&self) -> &str {
        &self.chroot
    }

    /// A chroot path for `file` in this directory.
    pub(crate) fn chroot_file(&self, file: &str) -> String {
        format!("{}/{file}", self.chroot)
    }

    pub(crate) fn rootfs(&self) -> &KeaRootfs {
        &self.rootfs
    }

    /// The process spec for `program` (a Kea binary on the chroot's PATH) with this directory's
    /// confinement variables; its log is `<name>.log` here.
    pub(crate) fn spec(&self, name: &str, program: &str, args: &[&str]) -> ProcessSpec {
        let mut all = vec![self.rootfs.path().display().to_string(), program.to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        let dir = self.chroot.clone();
        ProcessSpec {
            name: name.to_string(),
            program: "chroot".into(),
            args: all,
            env: vec![
                ("KEA_PIDFILE_DIR".into(), dir.clone()),
                ("KEA_LOCKFILE_DIR".into(), "none".into()),
                ("KEA_CONTROL_SOCKET_DIR".into(), dir.clone()),
                ("KEA_DHCP_DATA_DIR".into(), dir.clone()),
                ("KEA_LOG_FILE_DIR".into(), dir),
            ],
            cwd: None,
            log: self.host.join(format!("{name}.log")),
            die_with_parent: true,
            user: None,
        }
    }

    /// Every log file's tail, for error messages and failure reports.
    pub(crate) fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.host) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "log") {
                    out.push_str(&format!("--- {} ---\n{}\n", p.display(), log_tail(&p, lines)));
                }
            }
        }
        out
    }
}

impl Drop for KeaState {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!(
                "testenv: test failed; Kea state kept in {}\n{}",
                kept.display(),
                self.log_tails(40)
            );
        }
    }
}
