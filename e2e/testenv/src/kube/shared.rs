//! One API server per test run, shared by every test process.
//!
//! Files under `$TMPDIR/testenv-kube-shared/`:
//! - `shared.lock`: exclusive while a process checks, starts or stops the server;
//! - `state.json`: where the running server is (its [`ServerFiles`] and process identities);
//! - `users.lock`: every process using the server holds a shared lock on it until it exits (the
//!   kernel drops it even on SIGKILL);
//! - a watchdog (a small shell loop, started with the server) stops the server once nobody has held
//!   `users.lock` for the idle time, or when one of the servers died. A state whose servers are dead
//!   or do not answer is reaped by the next process that wants the server.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use rustix::fs::{FlockOperation, flock};
use rustix::process::{Pid, Signal, kill_process_group};
use serde::{Deserialize, Serialize};

use super::server::{ServerFiles, prepare, specs, try_list, wait_ready};
use super::{KubeError, binaries, io_err};
use crate::ports::free_ports;
use crate::process::{ManagedProcess, ProcessSpec};

/// Seconds without any user after which the watchdog stops the shared server.
const IDLE_SECS_DEFAULT: u64 = 20;

#[derive(Debug, Serialize, Deserialize)]
struct State {
    files: ServerFiles,
    /// `(pid, start time)` of etcd, the API server and the watchdog.
    processes: Vec<(u32, u64)>,
    /// The binaries it runs (path and modification time): a rebuilt server replaces the old one.
    #[serde(default)]
    binaries: String,
}

fn binaries_stamp() -> Result<String, KubeError> {
    let (apiserver, etcd) = binaries()?;
    let stamp = |p: &Path| {
        let modified = std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let secs = modified
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        format!("{}@{}", p.display(), secs.unwrap_or(0))
    };
    Ok(format!("{} {}", stamp(&apiserver), stamp(&etcd)))
}

fn base() -> PathBuf {
    std::env::temp_dir().join("testenv-kube-shared")
}

/// This process's hold on the shared server: the lock file stays open (locked) until exit.
static IN_USE: Mutex<Option<(ServerFiles, File)>> = Mutex::new(None);

fn open_lock(path: &Path) -> Result<File, KubeError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err(path))
}

async fn lock_blocking(file: File, op: FlockOperation) -> Result<File, KubeError> {
    tokio::task::spawn_blocking(move || flock(&file, op).map(|_| file))
        .await
        .map_err(|e| KubeError::State(e.to_string()))?
        .map_err(|e| KubeError::State(format!("flock: {e}")))
}

fn identity(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some((pid, rest.split_whitespace().nth(19)?.parse().ok()?))
}

fn alive(id: (u32, u64)) -> bool {
    identity(id.0) == Some(id)
}

fn kill_all(processes: &[(u32, u64)]) {
    for id in processes {
        if alive(*id)
            && let Some(pid) = Pid::from_raw(id.0 as i32)
        {
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

fn idle_secs() -> u64 {
    std::env::var("TESTENV_KUBE_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IDLE_SECS_DEFAULT)
}

fn extra_ips() -> Vec<std::net::IpAddr> {
    std::env::var("TESTENV_KUBE_EXTRA_IPS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Returns the shared server, starting it (or replacing a broken one) when needed.
pub(super) async fn acquire() -> Result<ServerFiles, KubeError> {
    if let Ok(guard) = IN_USE.lock()
        && let Some((files, _)) = guard.as_ref()
    {
        return Ok(files.clone());
    }
    let stamp = binaries_stamp()?;
    let base = base();
    std::fs::create_dir_all(&base).map_err(io_err(&base))?;
    let lock = lock_blocking(
        open_lock(&base.join("shared.lock"))?,
        FlockOperation::LockExclusive,
    )
    .await?;
    let state_path = base.join("state.json");
    let existing: Option<State> = std::fs::read_to_string(&state_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let files = match existing {
        Some(state) if state.processes.iter().all(|p| alive(*p)) && try_list(&state.files).await.is_ok() => {
            state.files
        }
        stale => {
            if let Some(state) = stale {
                eprintln!(
                    "testenv: reaping the shared API server left in {}",
                    state.files.dir.display()
                );
                kill_all(&state.processes);
                let _ = std::fs::remove_dir_all(&state.files.dir);
            }
            let _ = std::fs::remove_file(&state_path);
            let state = start(&base, stamp).await?;
            let text = serde_json::to_string(&state).map_err(|e| KubeError::State(e.to_string()))?;
            std::fs::write(&state_path, text).map_err(io_err(&state_path))?;
            state.files
        }
    };
    let users = lock_blocking(open_lock(&base.join("users.lock"))?, FlockOperation::LockShared).await?;
    drop(lock);
    if let Ok(mut guard) = IN_USE.lock() {
        *guard = Some((files.clone(), users));
    }
    Ok(files)
}

/// The watchdog: stops the servers when idle or when one died (see the module docs).
const WATCHDOG: &str = r#"
base=$1; idle_limit=$2; dir=$3; shift 3
idle=0
stop='alive=$1; base=$2; dir=$3; shift 3
  if [ "$alive" = 1 ] && ! flock -n -x "$base/users.lock" true; then exit 1; fi
  for p in "$@"; do kill -KILL -- "-$p" 2>/dev/null; done
  rm -f "$base/state.json"; rm -rf "$dir"'
while sleep 1; do
  alive=1
  for p in "$@"; do kill -0 "$p" 2>/dev/null || alive=0; done
  if flock -n -x "$base/users.lock" true; then idle=$((idle+1)); else idle=0; fi
  if [ "$alive" = 0 ] || [ "$idle" -ge "$idle_limit" ]; then
    if flock -x "$base/shared.lock" bash -c "$stop" stop "$alive" "$base" "$dir" "$@"; then exit 0; fi
    idle=0
  fi
done
"#;

async fn start(base: &Path, binaries: String) -> Result<State, KubeError> {
    let dir = base.join(format!(
        "server-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let ports = free_ports(3)?;
    let extra = extra_ips();
    let files = prepare(&dir, &ports, &extra)?;
    // These outlive this process on purpose; the watchdog owns their end.
    let [etcd_spec, api_spec] = specs(&files, !extra.is_empty(), false)?;
    let started = Instant::now();
    let mut etcd = ManagedProcess::spawn(&etcd_spec)?;
    let mut apiserver = ManagedProcess::spawn(&api_spec)?;
    let ready = wait_ready(&files, &mut [&mut etcd, &mut apiserver]).await;
    if let Err(e) = ready {
        // Dropping the handles kills both.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    let pids = [etcd.pid(), apiserver.pid()];
    let mut args = vec![
        "-c".to_string(),
        WATCHDOG.to_string(),
        "testenv-kube-watchdog".to_string(),
        base.display().to_string(),
        idle_secs().to_string(),
        dir.display().to_string(),
    ];
    args.extend(pids.iter().map(u32::to_string));
    let watchdog = ManagedProcess::spawn(&ProcessSpec {
        name: "watchdog".into(),
        program: "bash".into(),
        args,
        env: vec![],
        cwd: None,
        log: dir.join("watchdog.log"),
        die_with_parent: false,
        user: None,
    })?;
    let processes: Vec<(u32, u64)> = [pids[0], pids[1], watchdog.pid()]
        .iter()
        .filter_map(|p| identity(*p))
        .collect();
    etcd.detach();
    apiserver.detach();
    watchdog.detach();
    eprintln!(
        "testenv: shared Kubernetes API server {} ready in {:?} (stops after {} s unused; files in {})",
        files.url,
        started.elapsed(),
        idle_secs(),
        dir.display()
    );
    Ok(State {
        files,
        processes,
        binaries,
    })
}
