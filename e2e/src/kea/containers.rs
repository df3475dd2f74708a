//! The containers lane's Kea: two kea-sim containers (the image the chart's users run as a mock
//! Kea) on the scenario's Docker network. Faults are Docker's: disconnect from the network (the
//! operator's connections fail), pause (hung), restart (memory lost); kea-sim's own faults still
//! work through the published admin port.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use kea_sim::AdminClient;
use testcontainers::core::{AccessMode, ContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};
use testenv::kea::{BasicAuth, KeaClient};

use super::{AddressPool, BackendError, KeaAuth, KeaBackend, KeaHost, Role, SimControl, api, sim};
use crate::docker;

const KEA_PORT: u16 = 8000;
const ADMIN_PORT: u16 = 8001;

struct SimContainer {
    container: ContainerAsync<GenericImage>,
    name: String,
    kea: KeaClient,
    admin: AdminClient,
}

/// Two kea-sim containers.
pub struct ContainerPair {
    network: String,
    servers: [SimContainer; 2],
    control: SimControl,
    auth: Option<BasicAuth>,
    down: [bool; 2],
    pool: AddressPool,
}

fn docker_err(e: impl std::fmt::Display) -> BackendError {
    BackendError::Docker(e.to_string())
}

async fn clients(
    container: &ContainerAsync<GenericImage>,
    auth: Option<&BasicAuth>,
) -> Result<(KeaClient, AdminClient), BackendError> {
    let kea_port = container
        .get_host_port_ipv4(ContainerPort::Tcp(KEA_PORT))
        .await
        .map_err(docker_err)?;
    let admin_port = container
        .get_host_port_ipv4(ContainerPort::Tcp(ADMIN_PORT))
        .await
        .map_err(docker_err)?;
    Ok((
        KeaClient::new(
            &format!("http://127.0.0.1:{kea_port}/"),
            auth.cloned(),
            None,
            false,
        )?,
        AdminClient::new(&format!("http://127.0.0.1:{admin_port}"))?,
    ))
}

impl ContainerPair {
    /// Starts `kea-sim:<tag>` twice on `network` as `<network>-kea-primary` / `-kea-secondary`,
    /// each with the layout's config (written to `dir`, mounted read-only).
    pub async fn start(
        network: &str,
        tag: &str,
        dir: &Path,
        auth: Option<&KeaAuth>,
    ) -> Result<ContainerPair, BackendError> {
        let basic = auth.map(|a| BasicAuth::new(a.user.clone(), a.password.clone()));
        let mut started = Vec::new();
        for role in Role::BOTH {
            let name = format!("{network}-kea-{role}");
            let conf_dir = dir.join(format!("kea-{role}"));
            std::fs::create_dir_all(&conf_dir).map_err(docker_err)?;
            let peers = [
                format!("http://{network}-kea-primary:{KEA_PORT}/"),
                format!("http://{network}-kea-secondary:{KEA_PORT}/"),
            ];
            let mut config = sim::sim_config(KEA_PORT, auth, [&peers[0], &peers[1]]);
            if role == Role::Secondary {
                config["Dhcp4"]["hooks-libraries"][3]["parameters"]["high-availability"][0]["this-server-name"] =
                    "server2".into();
            }
            let text = serde_json::to_string_pretty(&config).map_err(docker_err)?;
            let file = conf_dir.join("kea-dhcp4.json");
            std::fs::write(&file, text).map_err(docker_err)?;
            docker::make_readable(&conf_dir).map_err(docker_err)?;
            let container = GenericImage::new("kea-sim", tag)
                .with_exposed_port(ContainerPort::Tcp(KEA_PORT))
                .with_exposed_port(ContainerPort::Tcp(ADMIN_PORT))
                .with_wait_for(WaitFor::message_on_either_std("admin API listening"))
                .with_network(network)
                .with_container_name(&name)
                .with_mount(
                    Mount::bind_mount(conf_dir.display().to_string(), "/etc/kea-e2e")
                        .with_access_mode(AccessMode::ReadOnly),
                )
                .with_cmd([
                    "--config",
                    "/etc/kea-e2e/kea-dhcp4.json",
                    "--listen",
                    "0.0.0.0:8000",
                    "--admin-listen",
                    "0.0.0.0:8001",
                ])
                .with_startup_timeout(Duration::from_secs(30))
                .start()
                .await
                .map_err(docker_err)?;
            let (kea, admin) = clients(&container, basic.as_ref()).await?;
            started.push(SimContainer {
                container,
                name,
                kea,
                admin,
            });
        }
        let secondary = started.pop().ok_or_else(|| docker_err("no secondary"))?;
        let primary = started.pop().ok_or_else(|| docker_err("no primary"))?;
        let control = SimControl::new(
            (primary.admin.clone(), "primary".into()),
            (secondary.admin.clone(), "primary".into()),
        );
        Ok(ContainerPair {
            network: network.to_string(),
            servers: [primary, secondary],
            control,
            auth: basic,
            down: [false; 2],
            pool: AddressPool::default(),
        })
    }

    /// Host ports change when a container starts again: new clients, new admin control.
    async fn refresh(&mut self, role: Role) -> Result<(), BackendError> {
        let server = &mut self.servers[role as usize];
        let (kea, admin) = clients(&server.container, self.auth.as_ref()).await?;
        server.kea = kea;
        server.admin = admin;
        self.control = SimControl::new(
            (self.servers[0].admin.clone(), "primary".into()),
            (self.servers[1].admin.clone(), "primary".into()),
        );
        Ok(())
    }

    async fn wait_answering(&self, role: Role) -> Result<(), BackendError> {
        let server = &self.servers[role as usize];
        for _ in 0..100 {
            if server.admin.servers().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(docker_err(format!(
            "{} does not answer after a start",
            server.name
        )))
    }
}

#[async_trait]
impl KeaBackend for ContainerPair {
    fn describe(&self) -> String {
        format!(
            "kea-sim containers {} and {} on network {}",
            self.servers[0].name, self.servers[1].name, self.network
        )
    }

    fn operator_urls(&self) -> (String, String) {
        (
            format!("http://{}:{KEA_PORT}/", self.servers[0].name),
            format!("http://{}:{KEA_PORT}/", self.servers[1].name),
        )
    }

    async fn give_lease(&mut self, mac: &str, subnet_id: u32) -> Result<Ipv4Addr, BackendError> {
        // Two separate processes: no HA link. The harness gives the lease on every running server
        // with lease4-add, as HA replicates a DHCP-path lease.
        loop {
            let ip = self.pool.next(subnet_id)?;
            let mut added = false;
            let mut last_error = None;
            let mut answered = false;
            for role in Role::BOTH {
                if !self.down[role as usize] {
                    // A server under an injected fault (HTTP 500 on everything) misses the lease, as
                    // a partner that is down would; one server holding it is enough.
                    match add_lease_retrying(&self.servers[role as usize].kea, ip, mac, subnet_id).await {
                        Ok(a) => {
                            answered = true;
                            added |= a;
                        }
                        Err(e) => last_error = Some(e),
                    }
                }
            }
            if added {
                return Ok(ip);
            }
            if !answered && let Some(e) = last_error {
                return Err(e);
            }
        }
    }

    async fn hosts(&self, role: Role) -> Result<Vec<KeaHost>, BackendError> {
        let hosts = self.servers[role as usize].admin.hosts("primary").await?;
        Ok(KeaHost::from_views(hosts))
    }

    async fn add_host(&self, role: Role, host: &KeaHost) -> Result<(), BackendError> {
        api::add_host(&self.servers[role as usize].kea, host).await
    }

    fn down_is_partition(&self) -> bool {
        true
    }

    async fn set_down(&mut self, role: Role, down: bool) -> Result<(), BackendError> {
        let name = self.servers[role as usize].name.clone();
        if down {
            docker::network_disconnect(&self.network, &name).map_err(docker_err)?;
        } else {
            // Back on the network after a stop of the daemon: a start, as for the other lanes.
            docker::network_connect(&self.network, &name).map_err(docker_err)?;
            self.servers[role as usize]
                .container
                .stop()
                .await
                .map_err(docker_err)?;
            self.servers[role as usize]
                .container
                .start()
                .await
                .map_err(docker_err)?;
            self.refresh(role).await?;
            self.wait_answering(role).await?;
        }
        self.down[role as usize] = down;
        Ok(())
    }

    async fn set_hung(&mut self, role: Role, hung: bool) -> Result<(), BackendError> {
        let c = &self.servers[role as usize].container;
        if hung { c.pause().await } else { c.unpause().await }.map_err(docker_err)
    }

    async fn restart(&mut self, role: Role) -> Result<(), BackendError> {
        let c = &self.servers[role as usize].container;
        c.stop().await.map_err(docker_err)?;
        c.start().await.map_err(docker_err)?;
        self.refresh(role).await?;
        self.wait_answering(role).await
    }

    fn sim(&self) -> Option<&SimControl> {
        Some(&self.control)
    }

    fn log_tail(&self, lines: usize) -> String {
        self.servers
            .iter()
            .map(|s| format!("{} log:\n{}", s.name, docker::logs_tail(s.container.id(), lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `lease4-add` through a server's Kea port, retried a few times: the scenarios inject random 5xx
/// bursts there, and a device would simply ask again.
async fn add_lease_retrying(
    client: &KeaClient,
    ip: Ipv4Addr,
    mac: &str,
    subnet_id: u32,
) -> Result<bool, BackendError> {
    let mut attempt = 0;
    loop {
        match api::add_lease(client, ip, mac, subnet_id).await {
            Ok(added) => return Ok(added),
            Err(_) if attempt < 10 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
