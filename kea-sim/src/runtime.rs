//! Starting a simulation (one server or an HA pair, dhcp4 or Control Agent mode, admin API)
//! on the current tokio runtime, and the operations the admin API and the library share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::admin::types::{ServerInfo, StateSnapshot};
use crate::agent::Agent;
use crate::config::{AgentConfig, ConfigError, HaConfig, ServerConfig};
use crate::http::Endpoint;
use crate::http::listener::{self, ListenerHandle};
use crate::http::tls::{TlsError, TlsMaterial};
use crate::model::{HostView, LeaseView};
use crate::server::{ConfigFile, Liveness, Node, NodeSpec, PairLink};
use crate::store::HostDbRegistry;

/// Which Kea process the listener imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A kea-dhcp4 HTTP control socket (Kea 3.x; `service` is ignored).
    #[default]
    Dhcp4,
    /// A Control Agent in front of kea-dhcp4 (`service` required).
    Ca,
}

impl Mode {
    /// `dhcp4` or `ca`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dhcp4 => "dhcp4",
            Mode::Ca => "ca",
        }
    }
}

/// One server to start.
pub struct ServerSpec {
    /// `primary` or `secondary`.
    pub name: String,
    /// Configuration (listen address already applied).
    pub config: ServerConfig,
    /// Where `config-write` writes.
    pub config_file: ConfigFile,
    /// TLS material overriding the configuration's files (library).
    pub tls: Option<TlsMaterial>,
    /// Control Agent configuration (CA mode; synthesized when `None`).
    pub agent: Option<AgentConfig>,
}

/// A whole simulation.
pub struct SimSpec {
    /// dhcp4 or CA.
    pub mode: Mode,
    /// One server, or two for an HA pair.
    pub servers: Vec<ServerSpec>,
    /// Servers share databases that their configurations name alike.
    pub shared_databases: bool,
    /// Admin API address (`None`: no admin API).
    pub admin_listen: Option<SocketAddr>,
    /// Request log capacity per server.
    pub log_capacity: usize,
    /// First simulated pid.
    pub pid_base: u32,
}

/// Why a simulation did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// TLS material is unusable.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The spec is inconsistent.
    #[error("{0}")]
    Spec(String),
}

impl StartError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            StartError::Bind { .. } => "bind",
            StartError::Tls(_) => "tls",
            StartError::Config(_) => "config",
            StartError::Spec(_) => "spec",
        }
    }
}

/// A running simulated server with its listener.
pub struct SimServer {
    /// `primary` or `secondary`.
    pub name: String,
    /// Other accepted names (HA server name).
    pub aliases: Vec<String>,
    /// The daemon.
    pub node: Arc<Node>,
    /// The Control Agent (CA mode).
    pub agent: Option<Arc<Agent>>,
    /// Mode.
    pub mode: Mode,
    /// Scheme (`http` or `https`).
    pub scheme: &'static str,
    listener: Mutex<ListenerHandle>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("name", &self.name)
            .field("addr", &self.addr())
            .finish()
    }
}

impl SimServer {
    /// The Kea socket address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.lock().addr
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("{}://{}/", self.scheme, self.addr())
    }

    /// True while the listener accepts connections.
    pub fn listening(&self) -> bool {
        *self.listener.lock().open.borrow()
    }

    /// Configuration and database hosts.
    pub fn hosts(&self) -> Vec<HostView> {
        let mut v: Vec<HostView> = self
            .node
            .read()
            .memory
            .iter()
            .map(|(id, h)| HostView::new("memory", id, h))
            .collect();
        for db in self.node.databases() {
            v.extend(
                db.hosts
                    .lock()
                    .iter()
                    .map(|(id, h)| HostView::new("database", id, h)),
            );
        }
        v
    }

    /// Leases in address order.
    pub fn leases(&self) -> Vec<LeaseView> {
        self.node.read().leases.all().map(LeaseView::from).collect()
    }

    /// The admin API's state snapshot.
    pub fn snapshot(&self) -> StateSnapshot {
        let (pid, started) = {
            let st = self.node.read();
            (st.pid, st.started)
        };
        let hosts = self.hosts();
        let (memory_hosts, database_hosts) = hosts.into_iter().partition(|h| h.source == "memory");
        StateSnapshot {
            server: self.name.clone(),
            up: self.node.is_up(),
            pid,
            uptime: crate::commands::server::seconds_since(started),
            memory_hosts,
            database_hosts,
            leases: self.leases(),
            faults: self.node.faults.lock().list(),
            partitioned: self.node.link.as_ref().map(|l| l.is_partitioned()),
            db_outage: self.node.databases().iter().find_map(|d| d.outage()),
            last_request_seq: self.node.log.last_seq(),
        }
    }

    /// The `GET /servers` entry.
    pub fn info(&self) -> ServerInfo {
        ServerInfo {
            name: self.name.clone(),
            aliases: self.aliases.clone(),
            url: self.url(),
            mode: self.mode.as_str().into(),
            up: self.node.is_up(),
            listening: self.listening(),
        }
    }

    /// Take the server down (connections refused) or bring it up, and wait until the listener
    /// follows. In CA mode `agent == true` acts on the Control Agent instead of the daemon.
    pub async fn set_down(&self, down: bool, agent: bool) {
        let l = if down { Liveness::Down } else { Liveness::Up };
        match (&self.agent, agent) {
            (Some(a), true) => a.set_liveness(l),
            _ => {
                // A stopped daemon that starts again is a new process (memory state lost); in
                // dhcp4 mode `down` only closes the listener, so state is kept.
                let fresh_start = self.node.has_exited() || (self.agent.is_some() && !self.node.is_up());
                if !down && fresh_start {
                    // Coming back after an exit is a start: state as after a restart.
                    if let Err(e) = self.node.restart() {
                        tracing::error!(server = %self.name, error = %e, "cannot start again");
                    }
                } else {
                    self.node.set_liveness(l);
                    if !down {
                        // Back in touch with the HA partner: catch up with its leases.
                        crate::ha::sync_from_partner(&self.node);
                    }
                }
            }
        }
        let follows_listener = self.agent.is_none() || agent;
        if follows_listener {
            let mut open = self.listener.lock().open.clone();
            let _ = tokio::time::timeout(Duration::from_secs(5), open.wait_for(|o| *o != down)).await;
        }
    }

    /// Restart the daemon (memory state lost, configuration file read again).
    pub async fn restart(&self) -> Result<(), ConfigError> {
        self.node.set_liveness(Liveness::Down);
        if self.agent.is_none() {
            let mut open = self.listener.lock().open.clone();
            let _ = tokio::time::timeout(Duration::from_secs(5), open.wait_for(|o| !*o)).await;
        }
        self.node.restart()?;
        if self.agent.is_none() {
            let mut open = self.listener.lock().open.clone();
            let _ = tokio::time::timeout(Duration::from_secs(5), open.wait_for(|o| *o)).await;
        }
        Ok(())
    }

    /// Back to the initial state.
    pub async fn reset(&self) {
        self.node.reset();
        if let Some(a) = &self.agent {
            a.set_liveness(Liveness::Up);
        }
        let mut open = self.listener.lock().open.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), open.wait_for(|o| *o)).await;
    }
}

/// A running simulation.
pub struct Running {
    /// The servers (primary first).
    pub servers: Vec<Arc<SimServer>>,
    /// HA link of a pair.
    pub link: Option<Arc<PairLink>>,
    /// Admin API address.
    pub admin: Option<SocketAddr>,
    /// Cancel to stop everything.
    pub shutdown: CancellationToken,
}

impl Running {
    /// A server by name or alias (`primary`, `secondary`, `server1`, ...).
    pub fn server(&self, name: &str) -> Option<&Arc<SimServer>> {
        self.servers
            .iter()
            .find(|s| s.name == name || s.aliases.iter().any(|a| a == name))
    }

    /// Cut the HA link.
    pub fn partition(&self) {
        if let Some(l) = &self.link {
            l.set_partitioned(true);
        }
    }

    /// Restore the HA link; the partners catch up with each other's leases.
    pub fn heal(&self) {
        if let Some(l) = &self.link {
            l.set_partitioned(false);
            if let Some(s) = self.servers.first() {
                crate::ha::resync_pair(&s.node);
            }
        }
    }
}

/// Start on the current tokio runtime.
pub async fn start(spec: SimSpec) -> Result<Running, StartError> {
    if spec.servers.is_empty() || spec.servers.len() > 2 {
        return Err(StartError::Spec(
            "a simulation runs one server or an HA pair".into(),
        ));
    }
    let shutdown = CancellationToken::new();
    let pair = spec.servers.len() == 2;
    let link = pair.then(|| Arc::new(PairLink::default()));
    let shared_registry = Arc::new(HostDbRegistry::new());
    let mut servers = Vec::new();
    for (i, s) in spec.servers.into_iter().enumerate() {
        let registry = if spec.shared_databases {
            shared_registry.clone()
        } else {
            Arc::new(HostDbRegistry::new())
        };
        let ha = match (&s.config.ha, pair) {
            (Some(h), _) => Some(h.clone()),
            (None, true) => Some(HaConfig::default_pair(if i == 0 { "server1" } else { "server2" })),
            (None, false) => None,
        };
        // Behind a Control Agent the listener is the agent's: its own section of the file, or
        // one made from the daemon's HTTP socket settings.
        let agent_cfg = match spec.mode {
            Mode::Dhcp4 => None,
            Mode::Ca => Some(
                s.agent
                    .clone()
                    .or_else(|| s.config.agent.clone())
                    .unwrap_or_else(|| crate::agent::synthesize_config(&s.config)),
            ),
        };
        let socket = match &agent_cfg {
            Some(a) => a.socket.clone(),
            None => s.config.control.clone(),
        };
        let tls = match &s.tls {
            Some(t) => Some(t.clone()),
            None => socket.tls.as_ref().map(TlsMaterial::from_files).transpose()?,
        };
        let acceptor = tls.as_ref().map(TlsMaterial::acceptor).transpose()?;
        let bind_addr = socket.addr;
        let tcp = listener::bind(bind_addr).map_err(|source| StartError::Bind {
            addr: bind_addr,
            source,
        })?;
        let bound = tcp.local_addr().map_err(|source| StartError::Bind {
            addr: bind_addr,
            source,
        })?;
        let mut config = s.config;
        let mut agent_cfg = agent_cfg;
        let listen_override = match agent_cfg.as_mut() {
            None => {
                config = config.with_listen(bound);
                Some(bound)
            }
            Some(a) => {
                a.socket.addr = bound;
                a.raw
                    .set("http-host", crate::element::Element::str(bound.ip().to_string()));
                a.raw
                    .set("http-port", crate::element::Element::int(i64::from(bound.port())));
                None
            }
        };
        let aliases: Vec<String> = ha
            .as_ref()
            .map(|h| vec![h.this_server_name.clone()])
            .unwrap_or_default();
        let node = Node::new(NodeSpec {
            name: s.name.clone(),
            config,
            config_file: s.config_file,
            registry,
            link: link.clone(),
            ha,
            pid: spec.pid_base + (i as u32) * 17,
            listen_override,
            log_capacity: spec.log_capacity,
        });
        let (endpoint, liveness, agent): (Endpoint, watch::Receiver<Liveness>, Option<Arc<Agent>>) =
            match spec.mode {
                Mode::Dhcp4 => (Endpoint::Dhcp4(node.clone()), node.watch_liveness(), None),
                Mode::Ca => {
                    let a = Agent::new(
                        agent_cfg
                            .ok_or_else(|| StartError::Spec("missing Control Agent configuration".into()))?,
                        node.clone(),
                        spec.pid_base + 1000 + (i as u32) * 17,
                    );
                    (Endpoint::Agent(a.clone()), a.watch_liveness(), Some(a))
                }
            };
        let handle = listener::spawn(tcp, endpoint, acceptor, liveness, shutdown.clone());
        servers.push(Arc::new(SimServer {
            name: s.name,
            aliases,
            node,
            agent,
            mode: spec.mode,
            scheme: if tls.is_some() { "https" } else { "http" },
            listener: Mutex::new(handle),
        }));
    }
    if pair {
        *servers[0].node.partner.write() = Arc::downgrade(&servers[1].node);
        *servers[1].node.partner.write() = Arc::downgrade(&servers[0].node);
    }
    let mut running = Running {
        servers,
        link,
        admin: None,
        shutdown,
    };
    if let Some(addr) = spec.admin_listen {
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        running.admin = Some(
            tcp.local_addr()
                .map_err(|source| StartError::Bind { addr, source })?,
        );
        crate::admin::spawn(
            tcp,
            crate::admin::AdminState::new(&running),
            running.shutdown.clone(),
        );
    }
    Ok(running)
}
