//! The local lane's Kea: one `kea-sim` process serving an HA pair (`--ha-partner`), so the operator
//! talks to a separate process over HTTP as in production, and the harness drives faults, DHCP and
//! inspection through the admin API.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kea_sim::{AdminClient, Fault};
use serde_json::{Value, json};
use testenv::kea::{BasicAuth, KeaClient};
use testenv::ports::{PortLease, free_port};
use testenv::process::{ManagedProcess, ProcessSpec, log_tail};

use super::{BackendError, KeaAuth, KeaBackend, KeaHost, Role, SimControl, api, layout};

/// Server names of the pair in kea-sim's admin API.
const NAMES: [&str; 2] = ["primary", "secondary"];

/// The kea-dhcp4 config kea-sim (and Kea) reads: the layout, an HTTP control socket, the command
/// hooks and a hot-standby HA section naming the two peers.
pub fn sim_config(listen: u16, auth: Option<&KeaAuth>, peer_urls: [&str; 2]) -> Value {
    let mut dhcp4 = layout::dhcp4_base();
    let mut socket = json!({"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": listen});
    if let Some(a) = auth {
        socket["authentication"] = json!({"type": "basic", "realm": "kea-e2e",
            "clients": [{"user": a.user, "password": a.password}]});
    }
    dhcp4["control-sockets"] = json!([socket]);
    let hooks = "/usr/lib/x86_64-linux-gnu/kea/hooks";
    dhcp4["hooks-libraries"] = json!([
        {"library": format!("{hooks}/libdhcp_lease_cmds.so")},
        {"library": format!("{hooks}/libdhcp_host_cmds.so")},
        {"library": format!("{hooks}/libdhcp_subnet_cmds.so")},
        {"library": format!("{hooks}/libdhcp_ha.so"), "parameters": {"high-availability": [{
            "this-server-name": "server1",
            "mode": "hot-standby",
            "peers": [
                {"name": "server1", "url": peer_urls[0], "role": "primary", "auto-failover": true},
                {"name": "server2", "url": peer_urls[1], "role": "standby", "auto-failover": true}
            ]
        }]}}
    ]);
    json!({"Dhcp4": dhcp4})
}

/// Where the kea-sim process runs.
enum Host {
    /// A child process of the harness (the local lane).
    Process {
        process: ManagedProcess,
        log: std::path::PathBuf,
        _ports: Vec<PortLease>,
    },
    /// A pod of the cluster lane.
    Pod(super::cluster::SimPod),
}

/// A kea-sim HA pair in one process.
pub struct SimPair {
    host: Host,
    /// The Kea URLs as the operator reaches them.
    urls: [String; 2],
    kea: [KeaClient; 2],
    admin: AdminClient,
    control: SimControl,
    down: [bool; 2],
    hangs: [Option<u64>; 2],
}

impl SimPair {
    /// Starts `kea-sim --ha-partner` with its config and log in `dir`.
    pub async fn start(dir: &Path, auth: Option<&KeaAuth>) -> Result<SimPair, BackendError> {
        let binary = crate::artifacts::kea_sim_binary()?;
        let ports = vec![free_port()?, free_port()?, free_port()?];
        let (p1, p2, pa) = (ports[0].port(), ports[1].port(), ports[2].port());
        let urls = [
            format!("http://127.0.0.1:{p1}/"),
            format!("http://127.0.0.1:{p2}/"),
        ];
        let config = sim_config(p1, auth, [&urls[0], &urls[1]]);
        let config_path = dir.join("kea-sim.json");
        let text = serde_json::to_string_pretty(&config).map_err(|e| BackendError::Setup {
            what: "kea-sim config".into(),
            message: e.to_string(),
        })?;
        std::fs::write(&config_path, text).map_err(|e| BackendError::Setup {
            what: config_path.display().to_string(),
            message: e.to_string(),
        })?;
        let log = dir.join("kea-sim.log");
        let process = ManagedProcess::spawn(&ProcessSpec {
            name: "kea-sim".into(),
            program: binary,
            args: vec![
                "--config".into(),
                config_path.display().to_string(),
                "--listen".into(),
                format!("127.0.0.1:{p1}"),
                "--ha-partner".into(),
                format!("127.0.0.1:{p2}"),
                "--admin-listen".into(),
                format!("127.0.0.1:{pa}"),
            ],
            env: vec![("RUST_LOG".into(), "warn".into())],
            cwd: None,
            log: log.clone(),
            die_with_parent: true,
            user: None,
        })?;
        let host = Host::Process {
            process,
            log,
            _ports: ports,
        };
        let admin = format!("http://127.0.0.1:{pa}");
        let mut pair = SimPair::with_host(host, &admin, &urls, urls.clone(), auth)?;
        pair.wait_started(Duration::from_secs(20)).await?;
        Ok(pair)
    }

    /// The pair as a pod of the cluster lane, in namespace `ns` (which must exist).
    pub async fn start_in_cluster(
        cluster: &crate::cluster::Cluster,
        ns: &str,
        image: &str,
        dir: &Path,
        auth: Option<&KeaAuth>,
    ) -> Result<SimPair, BackendError> {
        let (pod, at) = super::cluster::SimPod::start(cluster, ns, image, dir, auth).await?;
        let mut pair = SimPair::with_host(Host::Pod(pod), &at.admin, &at.harness, at.operator, auth)?;
        pair.wait_started(Duration::from_secs(60)).await?;
        Ok(pair)
    }

    /// `admin` and `kea` as the harness reaches them, `urls` as the operator does.
    fn with_host(
        host: Host,
        admin: &str,
        kea: &[String; 2],
        urls: [String; 2],
        auth: Option<&KeaAuth>,
    ) -> Result<SimPair, BackendError> {
        let admin = AdminClient::new(admin)?;
        let basic = auth.map(|a| BasicAuth::new(a.user.clone(), a.password.clone()));
        let kea = [
            KeaClient::new(&kea[0], basic.clone(), None, false)?,
            KeaClient::new(&kea[1], basic, None, false)?,
        ];
        let control = SimControl::new((admin.clone(), NAMES[0].into()), (admin.clone(), NAMES[1].into()));
        Ok(SimPair {
            host,
            urls,
            kea,
            admin,
            control,
            down: [false; 2],
            hangs: [None; 2],
        })
    }

    fn log_path(&self) -> &Path {
        match &self.host {
            Host::Process { log, .. } => log,
            Host::Pod(pod) => pod.log_path(),
        }
    }

    async fn wait_started(&mut self, timeout: Duration) -> Result<(), BackendError> {
        let started = Instant::now();
        loop {
            if let Host::Process { process, log, .. } = &mut self.host
                && let Some(status) = process.exit_status()
            {
                return Err(BackendError::Setup {
                    what: "kea-sim".into(),
                    message: format!("exited at start ({status}):\n{}", log_tail(log, 20)),
                });
            }
            if let Ok(servers) = self.admin.servers().await
                && servers.len() == 2
                && servers.iter().all(|s| s.listening)
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(BackendError::Setup {
                    what: "kea-sim".into(),
                    message: format!("not ready after {timeout:?}:\n{}", log_tail(self.log_path(), 20)),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[async_trait]
impl KeaBackend for SimPair {
    fn describe(&self) -> String {
        let host = match &self.host {
            Host::Process { process, .. } => format!("kea-sim pair process (pid {})", process.pid()),
            Host::Pod(pod) => pod.describe(),
        };
        format!("{host} at {} and {}", self.urls[0], self.urls[1])
    }

    fn operator_urls(&self) -> (String, String) {
        (self.urls[0].clone(), self.urls[1].clone())
    }

    async fn give_lease(&mut self, mac: &str, subnet_id: u32) -> Result<Ipv4Addr, BackendError> {
        // The device asks whichever server serves DHCP; kea-sim replicates it to a running partner.
        let role = if self.down[0] {
            Role::Secondary
        } else {
            Role::Primary
        };
        let lease = self
            .admin
            .dhcp_acquire(NAMES[role as usize], mac, Some(subnet_id))
            .await?;
        Ok(lease.ip_address)
    }

    async fn hosts(&self, role: Role) -> Result<Vec<KeaHost>, BackendError> {
        let hosts = self.admin.hosts(NAMES[role as usize]).await?;
        Ok(KeaHost::from_views(hosts))
    }

    async fn add_host(&self, role: Role, host: &KeaHost) -> Result<(), BackendError> {
        api::add_host(&self.kea[role as usize], host).await
    }

    async fn set_down(&mut self, role: Role, down: bool) -> Result<(), BackendError> {
        let name = NAMES[role as usize];
        if down {
            self.admin.down(name).await?;
        } else {
            self.admin.up(name).await?;
        }
        self.down[role as usize] = down;
        Ok(())
    }

    fn readable_while_hung(&self) -> bool {
        true
    }

    async fn set_hung(&mut self, role: Role, hung: bool) -> Result<(), BackendError> {
        let slot = &mut self.hangs[role as usize];
        match (hung, slot.take()) {
            (true, None) => *slot = Some(self.control.inject(role, &Fault::hang()).await?),
            (true, Some(id)) => *slot = Some(id),
            (false, Some(id)) => self.control.remove_fault(role, id).await?,
            (false, None) => {}
        }
        Ok(())
    }

    async fn restart(&mut self, role: Role) -> Result<(), BackendError> {
        Ok(self.admin.restart(NAMES[role as usize]).await?)
    }

    fn sim(&self) -> Option<&SimControl> {
        Some(&self.control)
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = self.log_path();
        format!("kea-sim log {}:\n{}", log.display(), log_tail(log, lines))
    }
}
