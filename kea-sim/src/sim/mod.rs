//! The library API: [`KeaSim`] (one server) and [`KeaSimPair`] (an HA pair), started in
//! process like wiremock's `MockServer`.
//!
//! The simulation runs on its own thread with its own tokio runtime, so it works from
//! `#[tokio::test]` (current-thread, even with paused time) and can be shut down from `Drop`.
//! State inspection is synchronous; operations that change the listener (down, restart,
//! reset) are `async` and return once the listener follows.

pub mod expect;
pub mod pair;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

pub use expect::{
    CommandRequest, Expectation, Match, Mock, MockBuilder, ResponseTemplate, Times, argument,
    arguments_contain, command, service,
};
pub use pair::{KeaSimPair, KeaSimPairBuilder};

use crate::admin::AdminClient;
use crate::config::{ConfigError, Hooks, OnFail, ServerConfig};
use crate::dhcp::DhcpError;
use crate::element::Element;
use crate::faults::{Fault, FaultView};
use crate::http::tls::TlsMaterial;
use crate::model::{HostView, Lease, LeaseOrigin, LeaseView};
use crate::reqlog::ReceivedCommand;
use crate::runtime::{Mode, ServerSpec, SimServer, SimSpec, StartError};
use crate::server::{ConfigFile, Node};
use crate::store::DbOutage;

/// The runtime thread shared by the handles of one simulation.
pub(crate) struct SimShared {
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) servers: Vec<Arc<SimServer>>,
    pub(crate) link: Option<Arc<crate::server::PairLink>>,
    pub(crate) admin: Option<SocketAddr>,
    shutdown: CancellationToken,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for SimShared {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// Start a simulation on a dedicated thread and runtime.
pub(crate) async fn start_shared(spec: SimSpec) -> Result<Arc<SimShared>, StartError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("kea-sim".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(StartError::Spec(format!("cannot build a runtime: {e}"))));
                    return;
                }
            };
            rt.block_on(async move {
                match crate::runtime::start(spec).await {
                    Ok(running) => {
                        let shutdown = running.shutdown.clone();
                        let _ = tx.send(Ok((running, tokio::runtime::Handle::current())));
                        shutdown.cancelled().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| StartError::Spec(format!("cannot start the simulator thread: {e}")))?;
    let (running, handle) = rx
        .await
        .map_err(|_| StartError::Spec("the simulator thread stopped".into()))??;
    Ok(Arc::new(SimShared {
        handle,
        servers: running.servers.clone(),
        link: running.link.clone(),
        admin: running.admin,
        shutdown: running.shutdown.clone(),
        thread: Mutex::new(Some(thread)),
    }))
}

/// A simulated Kea server.
pub struct KeaSim {
    server: Arc<SimServer>,
    shared: Arc<SimShared>,
}

impl std::fmt::Debug for KeaSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeaSim").field("url", &self.url()).finish()
    }
}

impl Drop for KeaSim {
    fn drop(&mut self) {
        // Never panic while unwinding: a failing test already reports its own panic.
        if std::thread::panicking() {
            return;
        }
        if let Err(msg) = self.check() {
            panic!("kea-sim expectations not met:\n{msg}");
        }
    }
}

impl KeaSim {
    /// Start with the default configuration: subnet 1 `10.100.0.0/16`, pool
    /// `10.100.1.10 - 10.100.1.200`, the lease, host and subnet command hooks, no hosts
    /// database, HTTP on an ephemeral loopback port.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sim = kea_sim::KeaSim::start().await;
    /// assert!(sim.url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub async fn start() -> KeaSim {
        KeaSim::builder().start().await
    }

    /// A builder.
    pub fn builder() -> KeaSimBuilder {
        KeaSimBuilder::default()
    }

    pub(crate) fn from_parts(server: Arc<SimServer>, shared: Arc<SimShared>) -> KeaSim {
        KeaSim { server, shared }
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.server.node
    }

    /// The Kea control socket URL (`http://127.0.0.1:PORT/`, `https://` with TLS).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The Kea control socket address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The admin API URL (`http://127.0.0.1:PORT/`).
    pub fn admin_url(&self) -> String {
        self.shared
            .admin
            .map(|a| format!("http://{a}/"))
            .unwrap_or_default()
    }

    /// A client of this simulation's admin API.
    pub fn admin_client(&self) -> Result<AdminClient, crate::admin::AdminError> {
        AdminClient::new(&self.admin_url())
    }

    /// `dhcp4` or `ca`.
    pub fn mode(&self) -> Mode {
        self.server.mode
    }

    /// The server's name (`primary`, or `secondary` in a pair).
    pub fn name(&self) -> &str {
        &self.server.name
    }

    /// Configuration and database hosts.
    pub fn hosts(&self) -> Vec<HostView> {
        self.server.hosts()
    }

    /// Leases, in address order.
    pub fn leases(&self) -> Vec<LeaseView> {
        self.server.leases()
    }

    /// Every request received so far (bounded log), oldest first.
    pub fn received_commands(&self) -> Vec<ReceivedCommand> {
        self.server.node.log.snapshot(&self.server.name, 0)
    }

    /// A device with this MAC obtains an address through the DHCP path.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sim = kea_sim::KeaSim::start().await;
    /// let ip = sim.dhcp_acquire("aa:bb:cc:dd:ee:01", None).unwrap();
    /// assert_eq!(ip.to_string(), "10.100.1.10");
    /// # }
    /// ```
    pub fn dhcp_acquire(&self, mac: &str, subnet: Option<u32>) -> Result<Ipv4Addr, DhcpError> {
        let mac = crate::dhcp::parse_mac(mac)?;
        crate::dhcp::acquire(&self.server.node, &mac, subnet).map(|l| l.ip)
    }

    /// The device releases its lease (kept with state 3).
    pub fn dhcp_release(&self, mac: &str, subnet: Option<u32>) -> Result<(), DhcpError> {
        let mac = crate::dhcp::parse_mac(mac)?;
        crate::dhcp::release(&self.server.node, &mac, subnet).map(|_| ())
    }

    /// The device's lease expires (and is reclaimed).
    pub fn dhcp_expire(&self, mac: &str, subnet: Option<u32>) -> Result<(), DhcpError> {
        let mac = crate::dhcp::parse_mac(mac)?;
        crate::dhcp::expire(&self.server.node, &mac, subnet).map(|_| ())
    }

    /// Inject a fault; returns its id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use kea_sim::{Fault, KeaSim};
    /// let sim = KeaSim::start().await;
    /// sim.inject(Fault::http_status(503).on_command("reservation-add").times(2));
    /// assert_eq!(sim.faults().len(), 1);
    /// # }
    /// ```
    pub fn inject(&self, fault: Fault) -> u64 {
        self.server.node.faults.lock().add(fault)
    }

    /// Active faults.
    pub fn faults(&self) -> Vec<FaultView> {
        self.server.node.faults.lock().list()
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.server.node.faults.lock().clear();
    }

    /// Start (`Some`) or end (`None`) an outage of this server's hosts databases.
    pub fn db_outage(&self, outage: Option<DbOutage>) {
        for db in self.server.node.databases() {
            db.set_outage(outage);
        }
    }

    async fn on_sim<F, T>(&self, f: impl FnOnce(Arc<SimServer>) -> F) -> T
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let fut = f(self.server.clone());
        match self.shared.handle.spawn(fut).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Refuse connections (`true`: the listener is closed, clients get ECONNREFUSED) or
    /// accept them again. In CA mode this stops the daemon behind the agent instead.
    pub async fn set_down(&self, down: bool) {
        self.on_sim(move |s| async move { s.set_down(down, false).await })
            .await
    }

    /// Take the Control Agent itself down or up (CA mode).
    pub async fn set_agent_down(&self, down: bool) {
        self.on_sim(move |s| async move { s.set_down(down, true).await })
            .await
    }

    /// Restart: leases and memory-only reservations are lost, `config-write`-persisted ones
    /// come back, the database keeps its hosts, `pid` and `uptime` change.
    pub async fn restart(&self) -> Result<(), ConfigError> {
        self.on_sim(move |s| async move { s.restart().await }).await
    }

    /// Back to the state at start (configuration, no leases, empty database, empty log, no
    /// faults, mocks or expectations).
    pub async fn reset(&self) {
        self.on_sim(move |s| async move { s.reset().await }).await
    }

    /// Expect requests matching `m` (at least one unless told otherwise); checked on drop.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use kea_sim::{KeaSim, command};
    /// let sim = KeaSim::start().await;
    /// sim.expect(command("reservation-add")).times(0);
    /// # }
    /// ```
    pub fn expect(&self, m: impl Match + 'static) -> Expectation {
        self.server
            .node
            .mocks
            .expect(Arc::new(m), self.server.node.log.last_seq())
    }

    /// Check expectations now; the error lists the ones not met.
    pub fn check(&self) -> Result<(), String> {
        self.server
            .node
            .mocks
            .verify(&self.server.node.log, &self.server.name)
    }

    /// Check expectations now and panic when one is not met.
    pub fn verify(&self) {
        if let Err(m) = self.check() {
            panic!("kea-sim expectations not met:\n{m}");
        }
    }

    /// Check the state invariants (no duplicate reservations or leases, indexes consistent).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.server.node.check_invariants()
    }
}

/// A lease given to the builder: address, MAC, subnet.
pub(crate) type LeaseSeed = (Ipv4Addr, String, Option<u32>);

/// One reservation given to the builder.
#[derive(Clone, Debug)]
struct ReservationSpec {
    subnet: u32,
    json: Json,
}

/// Builder of a [`KeaSim`].
#[derive(Clone, Debug)]
pub struct KeaSimBuilder {
    subnets: Vec<(u32, String, Vec<String>)>,
    shared_networks: Vec<(String, Vec<u32>)>,
    reservations: Vec<ReservationSpec>,
    db_reservations: Vec<Json>,
    leases: Vec<LeaseSeed>,
    valid_lifetime: Option<u32>,
    hooks: Hooks,
    mode: Mode,
    realm: Option<String>,
    auth: Vec<(String, String)>,
    tls: Option<TlsMaterial>,
    hosts_database: Option<(OnFail, u32, u64)>,
    kea_config: Option<Json>,
    config_path: Option<PathBuf>,
    listen: Option<SocketAddr>,
    admin: bool,
    log_capacity: usize,
}

impl Default for KeaSimBuilder {
    fn default() -> Self {
        KeaSimBuilder {
            subnets: Vec::new(),
            shared_networks: Vec::new(),
            reservations: Vec::new(),
            db_reservations: Vec::new(),
            leases: Vec::new(),
            valid_lifetime: None,
            hooks: Hooks::all_commands(),
            mode: Mode::Dhcp4,
            realm: None,
            auth: Vec::new(),
            tls: None,
            hosts_database: None,
            kea_config: None,
            config_path: None,
            listen: None,
            admin: true,
            log_capacity: 100_000,
        }
    }
}

impl KeaSimBuilder {
    /// Add a subnet (no pools).
    pub fn subnet(mut self, id: u32, prefix: &str) -> Self {
        self.subnets.push((id, prefix.to_string(), Vec::new()));
        self
    }

    /// Add a pool (`a - b` or a prefix) to a subnet added before.
    pub fn pool(mut self, subnet_id: u32, pool: &str) -> Self {
        if let Some(s) = self.subnets.iter_mut().find(|s| s.0 == subnet_id) {
            s.2.push(pool.to_string());
        }
        self
    }

    /// Put subnets into a shared network.
    pub fn shared_network(mut self, name: &str, subnet_ids: &[u32]) -> Self {
        self.shared_networks.push((name.to_string(), subnet_ids.to_vec()));
        self
    }

    /// Global valid lifetime.
    pub fn valid_lifetime(mut self, secs: u32) -> Self {
        self.valid_lifetime = Some(secs);
        self
    }

    /// A configuration reservation (survives a restart) by MAC.
    pub fn reservation(mut self, subnet_id: u32, mac: &str, ip: Option<Ipv4Addr>) -> Self {
        let mut j = json!({"hw-address": mac});
        if let Some(ip) = ip {
            j["ip-address"] = json!(ip.to_string());
        }
        self.reservations.push(ReservationSpec {
            subnet: subnet_id,
            json: j,
        });
        self
    }

    /// A configuration reservation given as Kea JSON (without `subnet-id`).
    pub fn reservation_json(mut self, subnet_id: u32, reservation: Json) -> Self {
        self.reservations.push(ReservationSpec {
            subnet: subnet_id,
            json: reservation,
        });
        self
    }

    /// A host already in the simulated hosts database (Kea JSON with `subnet-id`).
    pub fn database_reservation(mut self, reservation: Json) -> Self {
        self.db_reservations.push(reservation);
        self
    }

    /// A lease present at start (as if added with `lease4-add`; lost on restart).
    pub fn lease(mut self, ip: Ipv4Addr, mac: &str, subnet_id: Option<u32>) -> Self {
        self.leases.push((ip, mac.to_string(), subnet_id));
        self
    }

    /// Which hook libraries are loaded (a command of a missing hook answers result 2).
    pub fn hooks(mut self, hooks: Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// dhcp4 socket or Control Agent.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Require basic authentication with this user (may be called several times).
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.auth.push((user.to_string(), password.to_string()));
        self
    }

    /// Realm of the `WWW-Authenticate` header (Kea's default is empty).
    pub fn auth_realm(mut self, realm: &str) -> Self {
        self.realm = Some(realm.to_string());
        self
    }

    /// Serve HTTPS with this certificate chain and key (PEM), verifying client certificates
    /// against `trust_anchor_pem`; `cert_required` as Kea's parameter.
    pub fn tls(
        mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
        trust_anchor_pem: &[u8],
        cert_required: bool,
    ) -> Self {
        self.tls = Some(TlsMaterial {
            cert_pem: cert_pem.to_vec(),
            key_pem: key_pem.to_vec(),
            trust_anchor_pem: trust_anchor_pem.to_vec(),
            cert_required,
        });
        self
    }

    /// Configure a (simulated) PostgreSQL hosts database with Kea's default `on-fail`
    /// (exit at the first database error).
    pub fn hosts_database(mut self) -> Self {
        self.hosts_database = Some((OnFail::StopRetryExit, 0, 0));
        self
    }

    /// Configure a hosts database that reconnects (`max-reconnect-tries`, `reconnect-wait-time`).
    pub fn hosts_database_with_reconnect(mut self, on_fail: OnFail, tries: u32, wait_ms: u64) -> Self {
        self.hosts_database = Some((on_fail, tries, wait_ms));
        self
    }

    /// Load a whole Kea configuration (`{"Dhcp4": ...}`), as `--config` does; the subnet,
    /// reservation, hook, auth and database settings of this builder are then ignored.
    pub fn kea_config(mut self, config: Json) -> Self {
        self.kea_config = Some(config);
        self
    }

    /// The configuration file `config-write` writes and a restart reads (written at start).
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_path = Some(path.into());
        self
    }

    /// Listen on this address (default: an ephemeral loopback port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Serve the admin API (default: yes, on an ephemeral loopback port).
    pub fn admin_api(mut self, on: bool) -> Self {
        self.admin = on;
        self
    }

    /// Request log capacity (default 100 000 entries).
    pub fn log_capacity(mut self, n: usize) -> Self {
        self.log_capacity = n;
        self
    }

    /// The Kea configuration this builder describes.
    pub fn to_kea_config(&self) -> Json {
        if let Some(c) = &self.kea_config {
            return c.clone();
        }
        let subnets: Vec<(u32, String, Vec<String>)> = if self.subnets.is_empty() {
            vec![(
                1,
                "10.100.0.0/16".into(),
                vec!["10.100.1.10 - 10.100.1.200".into()],
            )]
        } else {
            self.subnets.clone()
        };
        let subnet_json = |(id, prefix, pools): &(u32, String, Vec<String>)| {
            let mut s = json!({"id": id, "subnet": prefix});
            if !pools.is_empty() {
                s["pools"] = Json::Array(pools.iter().map(|p| json!({"pool": p})).collect());
            }
            let resv: Vec<Json> = self
                .reservations
                .iter()
                .filter(|r| r.subnet == *id)
                .map(|r| r.json.clone())
                .collect();
            if !resv.is_empty() {
                s["reservations"] = Json::Array(resv);
            }
            s
        };
        let in_network = |id: u32| self.shared_networks.iter().any(|(_, ids)| ids.contains(&id));
        let plain: Vec<Json> = subnets
            .iter()
            .filter(|s| !in_network(s.0))
            .map(subnet_json)
            .collect();
        let networks: Vec<Json> = self
            .shared_networks
            .iter()
            .map(|(name, ids)| {
                let subs: Vec<Json> = subnets
                    .iter()
                    .filter(|s| ids.contains(&s.0))
                    .map(subnet_json)
                    .collect();
                json!({"name": name, "subnet4": subs})
            })
            .collect();
        let mut hooks = self.hooks.clone();
        let mut socket = json!({
            "socket-type": if self.tls.is_some() { "https" } else { "http" },
            "socket-address": "127.0.0.1",
            "socket-port": 0
        });
        if !self.auth.is_empty() {
            let clients: Vec<Json> = self
                .auth
                .iter()
                .map(|(u, p)| json!({"user": u, "password": p}))
                .collect();
            let mut auth = json!({"type": "basic", "clients": clients});
            if let Some(r) = &self.realm {
                auth["realm"] = json!(r);
            }
            socket["authentication"] = auth;
        }
        if let Some(t) = &self.tls {
            socket["trust-anchor"] = json!("/etc/kea/kea-sim-ca.pem");
            socket["cert-file"] = json!("/etc/kea/kea-sim-cert.pem");
            socket["key-file"] = json!("/etc/kea/kea-sim-key.pem");
            socket["cert-required"] = json!(t.cert_required);
        }
        let mut d = json!({
            "interfaces-config": {"interfaces": []},
            "control-sockets": [socket],
            "lease-database": {"type": "memfile", "persist": false},
            "subnet4": plain,
        });
        if !networks.is_empty() {
            d["shared-networks"] = Json::Array(networks);
        }
        if let Some(v) = self.valid_lifetime {
            d["valid-lifetime"] = json!(v);
        }
        if let Some((on_fail, tries, wait)) = self.hosts_database {
            hooks.pgsql = true;
            let on_fail = serde_json::to_value(on_fail).unwrap_or(json!("stop-retry-exit"));
            d["hosts-database"] = json!({
                "type": "postgresql", "host": "127.0.0.1", "port": 5432, "name": "kea", "user": "kea",
                "password": "kea-sim", "on-fail": on_fail, "max-reconnect-tries": tries, "reconnect-wait-time": wait
            });
        }
        d["hooks-libraries"] = Json::Array(
            hooks
                .library_paths()
                .into_iter()
                .map(|l| json!({"library": l}))
                .collect(),
        );
        json!({"Dhcp4": d})
    }

    pub(crate) fn server_spec(
        &self,
        name: &str,
    ) -> Result<(ServerSpec, Vec<Json>, Vec<LeaseSeed>), StartError> {
        let cfg_json = self.to_kea_config();
        let mut config = ServerConfig::from_element(
            Element::from_json(&cfg_json),
            self.config_path.as_deref().and_then(|p| p.parent()),
        )?;
        let listen = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let mut agent = None;
        match self.mode {
            Mode::Dhcp4 => config = config.with_listen(listen),
            Mode::Ca => {
                let mut a = config
                    .agent
                    .clone()
                    .unwrap_or_else(|| crate::agent::synthesize_config(&config));
                a.socket.addr = listen;
                agent = Some(a);
            }
        }
        let text = Element::from_json(&cfg_json).to_pretty_string();
        let config_file = match &self.config_path {
            Some(p) => {
                std::fs::write(p, &text).map_err(|source| {
                    StartError::Config(ConfigError::Io {
                        path: p.display().to_string(),
                        source,
                    })
                })?;
                ConfigFile::Disk(p.clone())
            }
            None => ConfigFile::Memory {
                name: "/etc/kea/kea-dhcp4.conf".into(),
                text,
            },
        };
        let spec = ServerSpec {
            name: name.to_string(),
            config,
            config_file,
            tls: self.tls.clone(),
            agent,
        };
        Ok((spec, self.db_reservations.clone(), self.leases.clone()))
    }

    /// Start (panics with the reason when the simulation cannot start).
    pub async fn start(self) -> KeaSim {
        match self.try_start().await {
            Ok(s) => s,
            Err(e) => panic!("kea-sim failed to start: {e}"),
        }
    }

    /// Start, or say why not.
    pub async fn try_start(self) -> Result<KeaSim, StartError> {
        let (spec, db, leases) = self.server_spec("primary")?;
        let shared = start_shared(SimSpec {
            mode: self.mode,
            servers: vec![spec],
            shared_databases: true,
            admin_listen: self.admin.then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            log_capacity: self.log_capacity,
            pid_base: 4000 + (std::process::id() % 20000),
        })
        .await?;
        let server = shared.servers[0].clone();
        seed(&server.node, &db, &leases)?;
        Ok(KeaSim::from_parts(server, shared))
    }
}

/// Put builder-given database hosts and leases in place.
pub(crate) fn seed(
    node: &Node,
    db: &[Json],
    leases: &[(Ipv4Addr, String, Option<u32>)],
) -> Result<(), StartError> {
    let cfg = node.config();
    for r in db {
        let args = Element::from_json(&json!({"reservation": r, "operation-target": "database"}));
        crate::commands::hosts::add(node, Some(&args))
            .map_err(|e| StartError::Spec(format!("database reservation {r}: {}", e.text)))?;
    }
    for (ip, mac, subnet) in leases {
        let hw = crate::dhcp::parse_mac(mac).map_err(|e| StartError::Spec(e.to_string()))?;
        let subnet = match subnet {
            Some(s) => cfg.subnet(*s).cloned(),
            None => cfg.select_subnet(*ip).cloned(),
        }
        .ok_or_else(|| StartError::Spec(format!("lease {ip}: no subnet")))?;
        let lease = Lease {
            ip: *ip,
            hw: hw.into(),
            client_id: None,
            valid_lft: subnet.valid_lifetime,
            cltt: crate::commands::leases::now(),
            subnet_id: subnet.id,
            pool_id: 0,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: String::new(),
            state: 0,
            user_context: None,
            origin: LeaseOrigin::Api,
        };
        if !node.write().leases.add(lease) {
            return Err(StartError::Spec(format!("lease {ip} given twice")));
        }
    }
    Ok(())
}
