//! Child processes that cannot outlive the test that started them.
//!
//! Every server is started as `setpriv --pdeathsig KILL -- PROGRAM ...` in its own process group:
//! the kernel kills it when its parent goes away, even when the test is killed by the runner and no
//! `Drop` runs. `PR_SET_PDEATHSIG` fires when the parent *thread* ends, so children are forked from
//! one long-lived spawner thread, never from a tokio worker that may exit first. Each server's pid is
//! also recorded in its state directory next to its owner's pid, so leftovers of a crashed run (for
//! example when a whole process tree was SIGKILLed) are reaped by the next run ([`reap_orphans`]).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

/// Why a process could not be started or supervised.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot open log file {path}: {source}")]
    Log { path: PathBuf, source: std::io::Error },
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("the spawner thread is gone")]
    SpawnerGone,
}

impl ProcessError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            ProcessError::Log { .. } => "log",
            ProcessError::Spawn { .. } => "spawn",
            ProcessError::SpawnerGone => "spawner",
        }
    }
}

/// How to start a managed process.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// A short name used in messages ("kea-dhcp4", "etcd").
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// stdout and stderr go here (appended, so a restart keeps the previous run's log).
    pub log: PathBuf,
    /// False only for servers that must outlive this process (the shared API server).
    pub die_with_parent: bool,
    /// Run as this user (setpriv `--reuid/--regid`), for servers that refuse root (PostgreSQL).
    pub user: Option<String>,
}

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        // Lives as long as the process: it is the parent thread PR_SET_PDEATHSIG watches.
        std::thread::Builder::new()
            .name("testenv-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| eprintln!("testenv: cannot start the spawner thread: {e}"));
        Mutex::new(tx)
    })
}

/// A running child in its own process group; killed (whole group) on drop.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
    detached: bool,
}

impl ManagedProcess {
    /// Starts `spec` (see the module docs for the guarantees).
    pub fn spawn(spec: &ProcessSpec) -> Result<Self, ProcessError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(|source| ProcessError::Log {
                path: spec.log.clone(),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| ProcessError::Log {
            path: spec.log.clone(),
            source,
        })?;
        let mut cmd = if spec.die_with_parent || spec.user.is_some() {
            let mut c = Command::new("setpriv");
            if spec.die_with_parent {
                // setpriv sets the death signal after changing user (a uid change would clear it).
                c.args(["--pdeathsig", "KILL"]);
            }
            if let Some(user) = &spec.user {
                c.args(["--reuid", user, "--regid", user, "--init-groups"]);
            }
            c.arg("--").arg(&spec.program);
            c
        } else {
            Command::new(&spec.program)
        };
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let (reply_tx, reply_rx) = mpsc::channel();
        spawner()
            .lock()
            .map_err(|_| ProcessError::SpawnerGone)?
            .send((cmd, reply_tx))
            .map_err(|_| ProcessError::SpawnerGone)?;
        let child = reply_rx
            .recv()
            .map_err(|_| ProcessError::SpawnerGone)?
            .map_err(|source| ProcessError::Spawn {
                program: spec.program.display().to_string(),
                source,
            })?;
        Ok(ManagedProcess {
            name: spec.name.clone(),
            child,
            log: spec.log.clone(),
            exited: None,
            detached: false,
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file holding its stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Some(status)` once the process has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    fn signal_group(&self, signal: Signal) {
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            // ESRCH (already gone) is fine.
            let _ = kill_process_group(pid, signal);
        }
    }

    /// SIGTERM to the group, then SIGKILL after `grace`; waits for the exit.
    pub async fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.terminate_with(Signal::TERM, grace).await
    }

    /// `signal` to the group, then SIGKILL after `grace`; waits for the exit.
    pub async fn terminate_with(&mut self, signal: Signal, grace: Duration) -> Option<ExitStatus> {
        if self.exit_status().is_some() {
            return self.exited;
        }
        self.signal_group(signal);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                // Children of the server (kea-lfc) go with it.
                self.signal_group(Signal::KILL);
                return self.exited;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill()
    }

    /// SIGKILL to the whole group and wait (a few ms).
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.signal_group(Signal::KILL);
        if self.exited.is_none() {
            self.exited = self.child.wait().ok();
        }
        self.exited
    }

    /// Sends SIGSTOP (`true`) or SIGCONT (`false`) to the group: a hung server.
    pub fn pause(&self, paused: bool) {
        self.signal_group(if paused { Signal::STOP } else { Signal::CONT });
    }
}

impl ManagedProcess {
    /// Lets the process outlive this handle (the shared API server, whose watchdog stops it).
    pub fn detach(mut self) {
        self.detached = true;
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if !self.detached {
            self.kill();
        }
    }
}

/// The last `lines` lines of a log file (empty when unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `(pid, start time in clock ticks)`: a pid alone can be reused, the pair cannot.
fn process_identity(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3; start time is field 22.
    let start = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some((pid, start))
}

fn alive(identity: (u32, u64)) -> bool {
    process_identity(identity.0) == Some(identity)
}

const OWNER_FILE: &str = "owner";
const PIDS_FILE: &str = "pids";

/// Marks `dir` as owned by this process, so [`reap_orphans`] knows when it is abandoned.
pub fn record_owner(dir: &Path) -> std::io::Result<()> {
    let (pid, start) = process_identity(std::process::id())
        .ok_or_else(|| std::io::Error::other("cannot read /proc/self/stat"))?;
    // Written then renamed: another process's reap_orphans must never read a half-written owner.
    let tmp = dir.join(format!(".{OWNER_FILE}.tmp"));
    std::fs::write(&tmp, format!("{pid} {start}\n"))?;
    std::fs::rename(tmp, dir.join(OWNER_FILE))
}

/// Records a server started for `dir`, so it can be killed if its owner dies without cleaning up.
pub fn record_process(dir: &Path, pid: u32) -> std::io::Result<()> {
    let Some((pid, start)) = process_identity(pid) else {
        return Ok(()); // already gone
    };
    let mut f: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(PIDS_FILE))?;
    writeln!(f, "{pid} {start}")
}

fn parse_identities(text: &str) -> Vec<(u32, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect()
}

/// Kills the recorded servers of every state directory under `base` whose owner process is gone,
/// and removes those directories. Runs once per `base` per process; cheap when nothing is left.
pub fn reap_orphans(base: &Path) {
    static DONE: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    let done = DONE.get_or_init(|| Mutex::new(Vec::new()));
    {
        let Ok(mut done) = done.lock() else { return };
        if done.iter().any(|b| b == base) {
            return;
        }
        done.push(base.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let owner = std::fs::read_to_string(dir.join(OWNER_FILE))
            .ok()
            .and_then(|text| parse_identities(&text).first().copied());
        let Some(owner) = owner else {
            // A directory being set up right now has no owner yet (or an owner file not yet
            // complete); one left by a crash during setup is old. Only the old ones go.
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(600));
            if old {
                let _ = std::fs::remove_dir_all(&dir);
            }
            continue;
        };
        if alive(owner) {
            continue;
        }
        let pids = std::fs::read_to_string(dir.join(PIDS_FILE)).unwrap_or_default();
        for identity in parse_identities(&pids) {
            if alive(identity)
                && let Some(pid) = Pid::from_raw(identity.0 as i32)
            {
                eprintln!(
                    "testenv: reaping leftover process {} of {}",
                    identity.0,
                    dir.display()
                );
                let _ = kill_process_group(pid, Signal::KILL);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_of_self_is_alive_and_a_fake_one_is_not() {
        let me = process_identity(std::process::id()).expect("own stat");
        assert!(alive(me));
        assert!(!alive((me.0, me.1 + 1)));
    }

    #[tokio::test]
    async fn spawned_process_is_killed_on_drop_and_orphans_are_reaped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = ProcessSpec {
            name: "sleep".into(),
            program: "sleep".into(),
            args: vec!["30".into()],
            env: vec![],
            cwd: None,
            log: dir.path().join("sleep.log"),
            die_with_parent: true,
            user: None,
        };
        let p = ManagedProcess::spawn(&spec).expect("spawn");
        let id = process_identity(p.pid()).expect("running");
        drop(p);
        assert!(!alive(id), "dropped process must be gone");

        // An orphaned state dir: owner is a pid that does not exist with that start time.
        let base = dir.path().join("base");
        let state = base.join("orphan");
        std::fs::create_dir_all(&state).expect("mkdir");
        std::fs::write(state.join(OWNER_FILE), "1 1\n").expect("owner");
        let mut p = ManagedProcess::spawn(&spec).expect("spawn");
        record_process(&state, p.pid()).expect("record");
        reap_orphans(&base);
        let status = p.child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "killed by the reaper"
        );
        assert!(!state.exists(), "orphan state dir removed");
    }

    #[test]
    fn a_directory_whose_owner_file_is_still_being_written_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().join("base");
        let fresh = base.join("fresh");
        std::fs::create_dir_all(&fresh).expect("mkdir");
        // What another process sees between the owner file's creation and its content.
        std::fs::write(fresh.join(OWNER_FILE), "").expect("empty owner");
        reap_orphans(&base);
        assert!(fresh.exists(), "a new directory is not an orphan");
        record_owner(&fresh).expect("owner");
        let text = std::fs::read_to_string(fresh.join(OWNER_FILE)).expect("owner file");
        assert_eq!(parse_identities(&text).len(), 1);
    }
}
