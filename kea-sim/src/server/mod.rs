//! One simulated kea-dhcp4 process: its configuration, its state (configuration hosts,
//! leases), its connection to the simulated hosts databases, and its lifecycle (start,
//! restart, exit). Everything here is synchronous and lock-based; locks are held for one
//! command at most and never across an `.await`.

pub mod dbconn;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

use crate::config::{self, ConfigError, HaConfig, ServerConfig};
use crate::faults::FaultEngine;
use crate::reqlog::RequestLog;
use crate::store::{HostDb, HostDbRegistry, HostStore, LeaseStore};
pub use dbconn::DbConn;

/// Where the configuration lives: `config-write` writes there and a restart reads it back.
#[derive(Clone, Debug)]
pub enum ConfigFile {
    /// A file on disk.
    Disk(PathBuf),
    /// An in-memory file (library sims without a path).
    Memory {
        /// The name reported by `config-write`.
        name: String,
        /// Current content.
        text: String,
    },
}

impl ConfigFile {
    /// The name `config-write` reports.
    pub fn name(&self) -> String {
        match self {
            ConfigFile::Disk(p) => p.display().to_string(),
            ConfigFile::Memory { name, .. } => name.clone(),
        }
    }
}

/// Mutable state of a running server.
#[derive(Debug)]
pub struct NodeState {
    /// Current configuration.
    pub config: Arc<ServerConfig>,
    /// Configuration ("memory") hosts.
    pub memory: HostStore,
    /// Leases (memfile, not persisted).
    pub leases: LeaseStore,
    /// Process id shown by `status-get`.
    pub pid: u32,
    /// Start time (uptime and "reload" count from here).
    pub started: SystemTime,
    /// Iterative allocator position per subnet.
    pub cursors: HashMap<u32, u32>,
}

/// Whether the simulated daemon runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Running and answering.
    Up,
    /// Stopped (exited, killed or taken down by the admin API).
    Down,
}

/// Shared state of an HA pair.
#[derive(Debug, Default)]
pub struct PairLink {
    partitioned: AtomicBool,
    since: Mutex<Option<SystemTime>>,
}

impl PairLink {
    /// True while the partners cannot reach each other.
    pub fn is_partitioned(&self) -> bool {
        self.partitioned.load(Ordering::SeqCst)
    }

    /// Cut or restore the link; returns the previous state.
    pub fn set_partitioned(&self, on: bool) -> bool {
        let prev = self.partitioned.swap(on, Ordering::SeqCst);
        let mut since = self.since.lock();
        if !on {
            *since = None;
        } else if since.is_none() {
            *since = Some(SystemTime::now());
        }
        prev
    }

    /// When the partition started.
    pub fn since(&self) -> Option<SystemTime> {
        *self.since.lock()
    }
}

/// One simulated server.
pub struct Node {
    /// Name used by the admin API (`primary`, `secondary`).
    pub name: String,
    state: RwLock<NodeState>,
    dbs: RwLock<Vec<Arc<HostDb>>>,
    db_conn: Mutex<Vec<DbConn>>,
    config_file: Mutex<ConfigFile>,
    initial: Arc<ServerConfig>,
    listen: SocketAddr,
    /// Re-applied to the configuration when it is read again (`--listen`, or the bound
    /// ephemeral port); `None` behind a Control Agent, whose daemon has no HTTP socket.
    listen_override: Option<SocketAddr>,
    registry: Arc<HostDbRegistry>,
    liveness: watch::Sender<Liveness>,
    exit_pending: AtomicBool,
    exited: AtomicBool,
    next_pid: AtomicU32,
    /// The HA partner, if any.
    pub partner: RwLock<Weak<Node>>,
    /// The pair link, if part of a pair.
    pub link: Option<Arc<PairLink>>,
    /// HA configuration (from the hook parameters, or synthesized for a pair).
    pub ha: Option<HaConfig>,
    /// Request log of this server's listener.
    pub log: RequestLog,
    /// Injected faults.
    pub faults: Mutex<FaultEngine>,
    /// Mounted mocks and expectations.
    pub mocks: crate::sim::expect::MockSet,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("listen", &self.listen)
            .finish()
    }
}

/// How to build a node.
pub struct NodeSpec {
    /// Admin name.
    pub name: String,
    /// Configuration (already pointed at the listen address).
    pub config: ServerConfig,
    /// Where `config-write` writes.
    pub config_file: ConfigFile,
    /// Database registry shared by servers that may share databases.
    pub registry: Arc<HostDbRegistry>,
    /// Pair link when part of an HA pair.
    pub link: Option<Arc<PairLink>>,
    /// HA configuration to report.
    pub ha: Option<HaConfig>,
    /// First simulated pid.
    pub pid: u32,
    /// Socket address re-applied when the configuration is read again (`None`: as in the file).
    pub listen_override: Option<SocketAddr>,
    /// Capacity of the request log.
    pub log_capacity: usize,
}

fn initial_state(config: Arc<ServerConfig>, pid: u32) -> NodeState {
    let mut memory = HostStore::new();
    for h in &config.reservations {
        memory.insert(h.clone());
    }
    NodeState {
        config,
        memory,
        leases: LeaseStore::new(),
        pid,
        started: SystemTime::now(),
        cursors: HashMap::new(),
    }
}

impl Node {
    /// Create a running node.
    pub fn new(spec: NodeSpec) -> Arc<Node> {
        let listen = spec.config.control.addr;
        let listen_override = spec.listen_override;
        let config = Arc::new(spec.config);
        let dbs: Vec<Arc<HostDb>> = config
            .hosts_databases
            .iter()
            .map(|d| spec.registry.get_or_create(&d.identity))
            .collect();
        let conns = vec![DbConn::Connected; dbs.len()];
        let (liveness, _) = watch::channel(Liveness::Up);
        Arc::new(Node {
            name: spec.name,
            state: RwLock::new(initial_state(config.clone(), spec.pid)),
            dbs: RwLock::new(dbs),
            db_conn: Mutex::new(conns),
            config_file: Mutex::new(spec.config_file),
            initial: config,
            listen,
            listen_override,
            registry: spec.registry,
            liveness,
            exit_pending: AtomicBool::new(false),
            exited: AtomicBool::new(false),
            next_pid: AtomicU32::new(spec.pid + 1),
            partner: RwLock::new(Weak::new()),
            link: spec.link,
            ha: spec.ha,
            log: RequestLog::new(spec.log_capacity),
            faults: Mutex::new(FaultEngine::default()),
            mocks: crate::sim::expect::MockSet::default(),
        })
    }

    /// A node without listener or partner, for tests and benchmarks that call
    /// [`crate::commands::process`] directly.
    pub fn standalone(config: ServerConfig) -> Arc<Node> {
        let text = config.raw.to_pretty_string();
        Node::new(NodeSpec {
            name: "primary".into(),
            config,
            config_file: ConfigFile::Memory {
                name: "/etc/kea/kea-dhcp4.conf".into(),
                text,
            },
            registry: Arc::new(HostDbRegistry::new()),
            link: None,
            ha: None,
            pid: 4242,
            listen_override: None,
            log_capacity: 1000,
        })
    }

    /// The control socket address.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Current configuration.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.state.read().config.clone()
    }

    /// Read access to the state.
    pub fn read(&self) -> RwLockReadGuard<'_, NodeState> {
        self.state.read()
    }

    /// Write access to the state.
    pub fn write(&self) -> RwLockWriteGuard<'_, NodeState> {
        self.state.write()
    }

    /// The configured hosts databases (whether reachable or not).
    pub fn databases(&self) -> Vec<Arc<HostDb>> {
        self.dbs.read().clone()
    }

    /// The partner node, when it exists.
    pub fn partner(&self) -> Option<Arc<Node>> {
        self.partner.read().upgrade()
    }

    /// Up or down.
    pub fn liveness(&self) -> Liveness {
        *self.liveness.borrow()
    }

    /// True when up.
    pub fn is_up(&self) -> bool {
        self.liveness() == Liveness::Up
    }

    /// Watch liveness changes (the listener closes and reopens on them).
    pub fn watch_liveness(&self) -> watch::Receiver<Liveness> {
        self.liveness.subscribe()
    }

    /// Take the daemon down or bring it back. Bringing it back after an exit is a restart.
    pub fn set_liveness(&self, l: Liveness) {
        self.liveness.send_replace(l);
    }

    /// Ask for an exit after the current answer is sent (Kea's database `on-fail`).
    pub fn request_exit(&self) {
        self.exit_pending.store(true, Ordering::SeqCst);
    }

    /// Take a pending exit request.
    pub fn take_exit_request(&self) -> bool {
        self.exit_pending.swap(false, Ordering::SeqCst)
    }

    /// The process exits (as opposed to being unreachable): coming back is a fresh start.
    pub fn exit(&self) {
        self.exited.store(true, Ordering::SeqCst);
        self.set_liveness(Liveness::Down);
    }

    /// True when the last stop was an exit.
    pub fn has_exited(&self) -> bool {
        self.exited.load(Ordering::SeqCst)
    }

    /// Where `config-write` writes.
    pub fn config_file(&self) -> ConfigFile {
        self.config_file.lock().clone()
    }

    /// Replace the stored configuration text (`config-write`); returns the bytes written.
    pub fn write_config_file(&self, name: &str, text: &str) -> std::io::Result<usize> {
        let mut cf = self.config_file.lock();
        match &mut *cf {
            ConfigFile::Disk(current) => {
                let target = PathBuf::from(name);
                std::fs::write(&target, text)?;
                if target == *current {
                    *current = target;
                }
            }
            ConfigFile::Memory { name: n, text: t } => {
                if n == name {
                    *t = text.to_string();
                }
            }
        }
        Ok(text.len())
    }

    fn load_current_config(&self) -> Result<ServerConfig, ConfigError> {
        let cf = self.config_file.lock().clone();
        let cfg = match cf {
            ConfigFile::Disk(p) => config::load_file(&p)?,
            ConfigFile::Memory { text, .. } => config::parse_text(&text, None)?,
        };
        Ok(match self.listen_override {
            Some(addr) => cfg.with_listen(addr),
            None => cfg,
        })
    }

    /// Restart the process: leases and memory-only hosts are lost, the configuration file is
    /// read again (so `config-write`-persisted hosts come back), pid and uptime change, and
    /// database hosts are untouched. A configuration that no longer loads leaves it down.
    pub fn restart(&self) -> Result<(), ConfigError> {
        let cfg = match self.load_current_config() {
            Ok(c) => c,
            Err(e) => {
                self.set_liveness(Liveness::Down);
                return Err(e);
            }
        };
        let cfg = Arc::new(cfg);
        let dbs: Vec<Arc<HostDb>> = cfg
            .hosts_databases
            .iter()
            .map(|d| self.registry.get_or_create(&d.identity))
            .collect();
        let pid = self
            .next_pid
            .fetch_add(1 + (u32::from(self.listen.port()) % 7), Ordering::SeqCst);
        {
            let mut st = self.state.write();
            *st = initial_state(cfg, pid);
        }
        *self.db_conn.lock() = vec![DbConn::Connected; dbs.len()];
        *self.dbs.write() = dbs;
        self.exit_pending.store(false, Ordering::SeqCst);
        self.exited.store(false, Ordering::SeqCst);
        crate::ha::sync_from_partner(self);
        self.set_liveness(Liveness::Up);
        Ok(())
    }

    /// Back to the state at creation: initial configuration, no leases, empty databases,
    /// empty request log, no faults or mocks.
    pub fn reset(&self) {
        let pid = self.next_pid.fetch_add(1, Ordering::SeqCst);
        {
            let mut st = self.state.write();
            *st = initial_state(self.initial.clone(), pid);
        }
        let dbs: Vec<Arc<HostDb>> = self
            .initial
            .hosts_databases
            .iter()
            .map(|d| self.registry.get_or_create(&d.identity))
            .collect();
        for db in &dbs {
            db.hosts.lock().clear();
            db.set_outage(None);
        }
        *self.db_conn.lock() = vec![DbConn::Connected; dbs.len()];
        *self.dbs.write() = dbs;
        let mut cf = self.config_file.lock();
        if let ConfigFile::Memory { text, .. } = &mut *cf {
            *text = self.initial.raw.to_pretty_string();
        }
        drop(cf);
        self.log.clear();
        self.faults.lock().clear();
        self.mocks.clear();
        self.exit_pending.store(false, Ordering::SeqCst);
        self.exited.store(false, Ordering::SeqCst);
        self.set_liveness(Liveness::Up);
    }

    /// The hosts databases a command may use right now (Kea's alternate sources).
    ///
    /// The first database operation after an outage starts fails with Kea's "fatal database
    /// error or connectivity lost"; afterwards the database is simply absent (reads miss,
    /// writes say the database is not available) until the outage ends.
    pub fn alternate_sources(
        &self,
        cfg: &ServerConfig,
    ) -> Result<Vec<Arc<HostDb>>, crate::commands::CmdError> {
        dbconn::alternate_sources(self, cfg)
    }

    /// Ids Kea lists in `disabled-by-db-connection`.
    pub fn disabled_by_db(&self, cfg: &ServerConfig) -> Vec<i64> {
        dbconn::disabled_by_db(self, cfg)
    }

    /// True when a hung database blocks the whole control channel.
    pub fn db_hung(&self) -> bool {
        self.dbs
            .read()
            .iter()
            .any(|d| d.outage() == Some(crate::store::DbOutage::Hang))
    }

    pub(crate) fn db_conn(&self) -> parking_lot::MutexGuard<'_, Vec<DbConn>> {
        self.db_conn.lock()
    }

    /// Check the state invariants (used by tests and the property test).
    pub fn check_invariants(&self) -> Result<(), String> {
        let st = self.state.read();
        st.memory.check_invariants(st.config.ip_reservations_unique)?;
        st.leases.check_invariants()?;
        for db in self.dbs.read().iter() {
            db.hosts
                .lock()
                .check_invariants(st.config.ip_reservations_unique)?;
        }
        Ok(())
    }
}
