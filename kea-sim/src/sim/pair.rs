//! [`KeaSimPair`]: a hot-standby HA pair in one process.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use super::{KeaSim, KeaSimBuilder, SimShared, seed, start_shared};
use crate::dhcp::DhcpError;
use crate::runtime::{SimSpec, StartError};

/// Two simulated servers (`primary` = HA `server1`, `secondary` = `server2`).
///
/// DHCP-path leases replicate between them; reservations and API leases do not, as in a real
/// Kea HA pair.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pair = kea_sim::KeaSimPair::start().await;
/// let ip = pair.dhcp_acquire("aa:bb:cc:dd:ee:01", None).unwrap();
/// assert_eq!(pair.secondary().leases()[0].ip_address, ip);
/// # }
/// ```
pub struct KeaSimPair {
    primary: KeaSim,
    secondary: KeaSim,
    shared: Arc<SimShared>,
}

impl std::fmt::Debug for KeaSimPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeaSimPair")
            .field("primary", &self.primary.url())
            .field("secondary", &self.secondary.url())
            .finish()
    }
}

impl KeaSimPair {
    /// Two servers with the default configuration, each with its own (memory) state.
    pub async fn start() -> KeaSimPair {
        KeaSimPair::builder().start().await
    }

    /// A builder.
    pub fn builder() -> KeaSimPairBuilder {
        KeaSimPairBuilder::default()
    }

    /// The primary (`server1`).
    pub fn primary(&self) -> &KeaSim {
        &self.primary
    }

    /// The secondary / standby (`server2`).
    pub fn secondary(&self) -> &KeaSim {
        &self.secondary
    }

    /// The admin API URL (serves both servers: `?server=primary|secondary`).
    pub fn admin_url(&self) -> String {
        self.shared
            .admin
            .map(|a| format!("http://{a}/"))
            .unwrap_or_default()
    }

    /// Cut the link between the partners (no lease replication; both in partner-down).
    pub fn partition(&self) {
        if let Some(l) = &self.shared.link {
            l.set_partitioned(true);
        }
    }

    /// Restore the link; each partner catches up with the other's DHCP leases.
    pub fn heal(&self) {
        if let Some(l) = &self.shared.link {
            l.set_partitioned(false);
            crate::ha::resync_pair(self.primary.node());
        }
    }

    /// True while partitioned.
    pub fn is_partitioned(&self) -> bool {
        self.shared.link.as_ref().is_some_and(|l| l.is_partitioned())
    }

    /// A device obtains an address from the pair: the primary answers while it is up, else
    /// the standby (partner-down); the lease is replicated to the partner when reachable.
    pub fn dhcp_acquire(&self, mac: &str, subnet: Option<u32>) -> Result<Ipv4Addr, DhcpError> {
        if self.primary.node().is_up() {
            self.primary.dhcp_acquire(mac, subnet)
        } else {
            self.secondary.dhcp_acquire(mac, subnet)
        }
    }
}

/// Builder of a [`KeaSimPair`].
#[derive(Clone, Debug, Default)]
pub struct KeaSimPairBuilder {
    primary: Option<KeaSimBuilder>,
    secondary: Option<KeaSimBuilder>,
    shared_db: bool,
    primary_listen: Option<SocketAddr>,
    secondary_listen: Option<SocketAddr>,
}

impl KeaSimPairBuilder {
    /// The same configuration for both servers.
    pub fn both(mut self, b: KeaSimBuilder) -> Self {
        self.primary = Some(b.clone());
        self.secondary = Some(b);
        self
    }

    /// The primary's configuration.
    pub fn primary(mut self, b: KeaSimBuilder) -> Self {
        self.primary = Some(b);
        self
    }

    /// The secondary's configuration (subnet ids may differ from the primary's).
    pub fn secondary(mut self, b: KeaSimBuilder) -> Self {
        self.secondary = Some(b);
        self
    }

    /// Both servers use one hosts database (each configuration must configure one, e.g. with
    /// [`KeaSimBuilder::hosts_database`]; they see each other's database writes at once).
    pub fn shared_hosts_database(mut self, shared: bool) -> Self {
        self.shared_db = shared;
        self
    }

    /// Listen addresses (default: ephemeral loopback ports).
    pub fn listen(mut self, primary: SocketAddr, secondary: SocketAddr) -> Self {
        self.primary_listen = Some(primary);
        self.secondary_listen = Some(secondary);
        self
    }

    /// Start (panics with the reason when the pair cannot start).
    pub async fn start(self) -> KeaSimPair {
        match self.try_start().await {
            Ok(p) => p,
            Err(e) => panic!("kea-sim pair failed to start: {e}"),
        }
    }

    /// Start, or say why not.
    pub async fn try_start(self) -> Result<KeaSimPair, StartError> {
        let mut pb = self.primary.unwrap_or_default();
        let mut sb = self.secondary.unwrap_or_default();
        if let Some(a) = self.primary_listen {
            pb = pb.listen(a);
        }
        if let Some(a) = self.secondary_listen {
            sb = sb.listen(a);
        }
        if pb.mode != sb.mode {
            return Err(StartError::Spec(
                "both servers of a pair run in the same mode".into(),
            ));
        }
        let (ps, pdb, pleases) = pb.server_spec("primary")?;
        let (ss, sdb, sleases) = sb.server_spec("secondary")?;
        let shared = start_shared(SimSpec {
            mode: pb.mode,
            servers: vec![ps, ss],
            shared_databases: self.shared_db,
            admin_listen: pb.admin.then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            log_capacity: pb.log_capacity,
            pid_base: 4000 + (std::process::id() % 20000),
        })
        .await?;
        seed(&shared.servers[0].node, &pdb, &pleases)?;
        if !self.shared_db {
            seed(&shared.servers[1].node, &sdb, &sleases)?;
        } else {
            seed(&shared.servers[1].node, &[], &sleases)?;
        }
        let primary = KeaSim::from_parts(shared.servers[0].clone(), shared.clone());
        let secondary = KeaSim::from_parts(shared.servers[1].clone(), shared.clone());
        Ok(KeaSimPair {
            primary,
            secondary,
            shared,
        })
    }
}
