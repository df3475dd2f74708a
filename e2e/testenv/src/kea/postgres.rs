//! A private PostgreSQL cluster holding Kea's schema, for hosts-database tests.
//!
//! Uses the machine's own PostgreSQL server binaries (`/usr/lib/postgresql/<N>/bin`, or `PG_BIN`) and
//! the schema shipped in the Kea root filesystem (`kea-admin`), so the schema always matches the Kea
//! that uses it. Fresh data directory and free port per instance; stop/start/pause for outage tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::KeaRootfs;
use crate::env::MissingEnvironment;
use crate::ports::{PortLease, free_port};
use crate::process::{ManagedProcess, ProcessSpec, log_tail, reap_orphans, record_owner, record_process};

/// The database, user and password Kea is configured with.
pub const DB_NAME: &str = "kea";
pub const DB_USER: &str = "kea";
pub const DB_PASSWORD: &str = "keapass";

/// Why the database could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "PostgreSQL server binaries not found (looked in {looked}); install them with `apt-get install -y postgresql`"
    )]
    NotInstalled { looked: String },
    #[error(
        "Kea's PostgreSQL schema not found at {path}; re-provision the Kea root filesystem (`just setup`)"
    )]
    SchemaMissing { path: PathBuf },
    #[error("the system user `postgres` does not exist (it comes with the postgresql package)")]
    NoUser,
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{step}` failed: {output}")]
    Step { step: String, output: String },
    #[error(transparent)]
    Port(#[from] crate::ports::PortError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error("PostgreSQL did not accept connections within {secs} s; log:\n{tail}")]
    NotReady { secs: u64, tail: String },
    #[error(transparent)]
    Kea(Box<super::KeaError>),
}

impl PgError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            PgError::NotInstalled { .. } => "not-installed",
            PgError::SchemaMissing { .. } => "schema-missing",
            PgError::NoUser => "no-user",
            PgError::Io { .. } => "io",
            PgError::Step { .. } => "step",
            PgError::Port(_) => "port",
            PgError::Process(_) => "process",
            PgError::NotReady { .. } => "not-ready",
            PgError::Kea(_) => "kea",
        }
    }
}

impl MissingEnvironment for PgError {
    fn is_missing_environment(&self) -> bool {
        match self {
            PgError::NotInstalled { .. } | PgError::SchemaMissing { .. } | PgError::NoUser => true,
            PgError::Kea(e) => e.is_missing_environment(),
            _ => false,
        }
    }
}

fn pg_bin() -> Result<PathBuf, PgError> {
    if let Some(p) = std::env::var_os("PG_BIN") {
        return Ok(PathBuf::from(p));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p)| p.join("postgres").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).ok_or(PgError::NotInstalled {
        looked: "/usr/lib/postgresql/*/bin".into(),
    })
}

fn run(step: &str, cmd: &mut Command) -> Result<String, PgError> {
    let out = cmd.output().map_err(|e| PgError::Step {
        step: step.into(),
        output: e.to_string(),
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(PgError::Step {
            step: step.into(),
            output: text,
        })
    }
}

/// A running private PostgreSQL with an empty Kea hosts/lease schema.
#[derive(Debug)]
pub struct Postgres {
    process: Option<ManagedProcess>,
    spec: ProcessSpec,
    bin: PathBuf,
    port: PortLease,
    dir: TempDir,
}

impl Postgres {
    /// initdb + start + `CREATE USER kea` + Kea's `dhcpdb_create.pgsql` (about 2 s).
    pub async fn start() -> Result<Postgres, PgError> {
        let bin = pg_bin()?;
        let rootfs = KeaRootfs::locate().map_err(|e| PgError::Kea(Box::new(e)))?;
        let schema = rootfs.host_path("/usr/share/kea/scripts/pgsql/dhcpdb_create.pgsql");
        if !schema.is_file() {
            return Err(PgError::SchemaMissing { path: schema });
        }
        if run("id postgres", Command::new("id").arg("postgres")).is_err() {
            return Err(PgError::NoUser);
        }
        let base = std::env::temp_dir().join("testenv-pg");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PgError::Io { path, source }
        };
        std::fs::create_dir_all(&base).map_err(io(&base))?;
        reap_orphans(&base);
        let dir = tempfile::Builder::new()
            .prefix("pg-")
            .tempdir_in(&base)
            .map_err(io(&base))?;
        record_owner(dir.path()).map_err(io(dir.path()))?;
        run(
            "chown",
            Command::new("chown").arg("postgres:postgres").arg(dir.path()),
        )?;
        let data = dir.path().join("data");
        run(
            "initdb",
            Command::new("setpriv")
                .args([
                    "--reuid",
                    "postgres",
                    "--regid",
                    "postgres",
                    "--init-groups",
                    "--",
                ])
                .arg(bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                ])
                .args(["--locale=C.UTF-8", "--no-sync"]),
        )?;
        let port = free_port()?;
        let spec = ProcessSpec {
            name: "postgres".into(),
            program: bin.join("postgres"),
            args: vec![
                "-D".into(),
                data.display().to_string(),
                "-p".into(),
                port.port().to_string(),
                "-k".into(),
                dir.path().display().to_string(),
                "-c".into(),
                "listen_addresses=127.0.0.1".into(),
                "-c".into(),
                "fsync=off".into(),
            ],
            env: vec![],
            cwd: Some(dir.path().to_path_buf()),
            log: dir.path().join("postgres.log"),
            die_with_parent: true,
            user: Some("postgres".into()),
        };
        let mut pg = Postgres {
            process: None,
            spec,
            bin,
            port,
            dir,
        };
        pg.start_again().await?;
        pg.psql_admin(&format!("CREATE USER {DB_USER} WITH PASSWORD '{DB_PASSWORD}'"))?;
        pg.psql_admin(&format!("CREATE DATABASE {DB_NAME} OWNER {DB_USER}"))?;
        run(
            "load Kea schema",
            pg.psql_kea_cmd()
                .args(["-v", "ON_ERROR_STOP=1", "-q", "-f"])
                .arg(&schema),
        )?;
        Ok(pg)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port.port()
    }

    /// Kea's `hosts-database` object for this database (default `on-fail`: Kea exits at the first
    /// database error).
    pub fn hosts_database(&self) -> Value {
        json!({"type": "postgresql", "host": "127.0.0.1", "port": self.port(), "name": DB_NAME,
               "user": DB_USER, "password": DB_PASSWORD})
    }

    /// As [`Self::hosts_database`], with reconnection so Kea survives an outage and recovers
    /// about a second after the database returns.
    pub fn hosts_database_reconnecting(&self) -> Value {
        let mut db = self.hosts_database();
        if let Value::Object(m) = &mut db {
            m.insert("on-fail".into(), json!("serve-retry-continue"));
            m.insert("max-reconnect-tries".into(), json!(30));
            m.insert("reconnect-wait-time".into(), json!(1000));
        }
        db
    }

    /// Runs SQL as the `kea` user and returns psql's unaligned output.
    pub fn sql(&self, sql: &str) -> Result<String, PgError> {
        run(
            "psql",
            self.psql_kea_cmd()
                .args(["-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]),
        )
    }

    /// Fast shutdown (clients disconnected): an outage.
    pub async fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.terminate_with(Signal::INT, Duration::from_secs(10)).await;
        }
    }

    /// Starts it again on the same data and port; waits until it accepts connections.
    pub async fn start_again(&mut self) -> Result<(), PgError> {
        if self.process.as_mut().is_some_and(|p| p.exit_status().is_none()) {
            return Ok(());
        }
        let process = ManagedProcess::spawn(&self.spec)?;
        let _ = record_process(self.dir.path(), process.pid());
        self.process = Some(process);
        let started = Instant::now();
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .arg("-h")
                .arg(self.dir.path())
                .arg("-p")
                .arg(self.port().to_string())
                .output()
                .is_ok_and(|o| o.status.success());
            if ready {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(PgError::NotReady {
                    secs: 30,
                    tail: log_tail(&self.spec.log, 30),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGSTOP/SIGCONT: a hung database (Kea's whole control socket blocks on it).
    pub fn pause(&self, paused: bool) {
        if let Some(p) = &self.process {
            p.pause(paused);
        }
    }

    fn psql_admin(&self, sql: &str) -> Result<String, PgError> {
        run(
            "psql as postgres",
            Command::new("psql")
                .arg("-h")
                .arg(self.dir.path())
                .arg("-p")
                .arg(self.port().to_string())
                .args(["-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]),
        )
    }

    fn psql_kea_cmd(&self) -> Command {
        let mut c = Command::new("psql");
        c.env("PGPASSWORD", DB_PASSWORD)
            .args(["-h", "127.0.0.1", "-p"])
            .arg(self.port().to_string())
            .args(["-U", DB_USER, "-d", DB_NAME]);
        c
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
        if std::thread::panicking() {
            eprintln!(
                "testenv: PostgreSQL log {}:\n{}",
                self.spec.log.display(),
                log_tail(&self.spec.log, 20)
            );
        }
    }
}
