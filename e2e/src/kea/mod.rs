//! Kea as the scenarios see it, whatever runs it: a kea-sim pair process ([`sim::SimPair`]), a real
//! Kea 3.0.4 hot-standby pair ([`real::RealPair`]) or kea-sim containers
//! ([`containers::ContainerPair`]). One trait, so a scenario is written once.
//!
//! Leases: kea-sim hands them out through its DHCP simulation (and replicates them to the partner as
//! Kea's HA hook does for DHCP-path leases). Real Kea and the containers get them with
//! `lease4-add` on every running server: Kea HA does not replicate API-added leases, so the harness
//! does what HA would have done for a device that obtained its address by DHCP.

pub mod api;
pub mod cluster;
pub mod containers;
pub mod layout;
pub mod real;
pub mod sim;

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use async_trait::async_trait;
use kea_sim::{AdminClient, Fault, ReceivedCommand};
use serde_json::Value;

/// One server of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Primary,
    Secondary,
}

impl Role {
    pub const BOTH: [Role; 2] = [Role::Primary, Role::Secondary];

    /// The name the operator uses in metrics and status (`primary`, `secondary`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }

    pub fn other(self) -> Role {
        match self {
            Role::Primary => Role::Secondary,
            Role::Secondary => Role::Primary,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host reservation identified by hardware address, as read from a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeaHost {
    pub subnet_id: u32,
    /// Lowercase, colon separated (as Kea prints it).
    pub hw_address: String,
    pub ip: Ipv4Addr,
    pub user_context: Option<Value>,
}

impl KeaHost {
    /// The hardware-address hosts among what kea-sim's admin API lists (others are not ours to check).
    pub fn from_views(views: Vec<kea_sim::HostView>) -> Vec<KeaHost> {
        views
            .into_iter()
            .filter(|h| h.identifier_type == kea_sim::IdentType::HwAddress)
            .filter_map(|h| {
                Some(KeaHost {
                    subnet_id: h.subnet_id,
                    hw_address: h.identifier.to_ascii_lowercase(),
                    ip: h.ip_address?,
                    user_context: h.user_context,
                })
            })
            .collect()
    }

    /// The operator's owner marker (`user-context["kea-operator"]`), if any.
    pub fn marker(&self) -> Option<&Value> {
        self.user_context.as_ref()?.get("kea-operator")
    }

    /// Whether the marker names `instance`.
    pub fn owned_by_instance(&self, instance: &str) -> bool {
        self.marker()
            .and_then(|m| m.get("instance"))
            .and_then(Value::as_str)
            .is_some_and(|i| i == instance)
    }
}

impl fmt::Display for KeaHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subnet {} {} -> {}", self.subnet_id, self.hw_address, self.ip)?;
        if let Some(m) = self.marker() {
            write!(f, " marker {m}")?;
        }
        Ok(())
    }
}

/// Basic authentication on the Kea control sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeaAuth {
    pub user: String,
    pub password: String,
}

/// Why a Kea operation of the harness failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Kea(#[from] testenv::kea::KeaError),
    #[error(transparent)]
    KeaHttp(#[from] testenv::kea::KeaHttpError),
    #[error(transparent)]
    Admin(#[from] kea_sim::AdminError),
    #[error(transparent)]
    Binary(#[from] crate::artifacts::BinaryMissing),
    #[error(transparent)]
    Port(#[from] testenv::ports::PortError),
    #[error(transparent)]
    Process(#[from] testenv::process::ProcessError),
    #[error("{command} answered {answer}")]
    Answer { command: String, answer: String },
    #[error("{what}: {message}")]
    Setup { what: String, message: String },
    #[error("docker: {0}")]
    Docker(String),
    #[error("no free address left in the pool of subnet {0}")]
    PoolExhausted(u32),
    #[error("{0} is not possible with this Kea")]
    Unsupported(&'static str),
}

impl BackendError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        match self {
            BackendError::Kea(_) => "kea",
            BackendError::KeaHttp(_) => "kea-http",
            BackendError::Admin(_) => "admin",
            BackendError::Binary(_) => "binary",
            BackendError::Port(_) => "port",
            BackendError::Process(_) => "process",
            BackendError::Answer { .. } => "answer",
            BackendError::Setup { .. } => "setup",
            BackendError::Docker(_) => "docker",
            BackendError::PoolExhausted(_) => "pool-exhausted",
            BackendError::Unsupported(_) => "unsupported",
        }
    }
}

impl testenv::MissingEnvironment for BackendError {
    fn is_missing_environment(&self) -> bool {
        match self {
            BackendError::Kea(e) => e.is_missing_environment(),
            BackendError::Binary(_) => true,
            _ => false,
        }
    }
}

/// A pair of Kea servers, whatever runs them.
#[async_trait]
pub trait KeaBackend: Send + Sync {
    /// One line saying what this is (for logs).
    fn describe(&self) -> String;

    /// The control URLs as the operator reaches them (primary, secondary).
    fn operator_urls(&self) -> (String, String);

    /// A device with `mac` obtains a lease in `subnet_id` from a running server; returns the address.
    async fn give_lease(&mut self, mac: &str, subnet_id: u32) -> Result<Ipv4Addr, BackendError>;

    /// Every hw-address reservation `role` holds (every subnet, every source).
    async fn hosts(&self, role: Role) -> Result<Vec<KeaHost>, BackendError>;

    /// Adds a reservation the operator does not own (memory), on `role`.
    async fn add_host(&self, role: Role, host: &KeaHost) -> Result<(), BackendError>;

    /// Takes `role` down (connections refused) or brings it back. Coming back is a start: what it
    /// held in memory only is gone, as after a real Kea restart.
    async fn set_down(&mut self, role: Role, down: bool) -> Result<(), BackendError>;

    /// Hangs `role` (requests accepted, never answered) or lets it go on.
    async fn set_hung(&mut self, role: Role, hung: bool) -> Result<(), BackendError>;

    /// Restarts `role`: reservations held in memory only are lost.
    async fn restart(&mut self, role: Role) -> Result<(), BackendError>;

    /// kea-sim's admin API (faults, request log), when Kea is kea-sim.
    fn sim(&self) -> Option<&SimControl>;

    /// Whether [`Self::set_down`] cuts the server off the network (requests in flight and on kept-alive
    /// connections time out) rather than making it refuse connections (they fail at once).
    fn down_is_partition(&self) -> bool {
        false
    }

    /// Whether [`Self::hosts`] still answers for a server under [`Self::set_hung`]: only when the hang
    /// is kea-sim's fault. A paused container or a SIGSTOPped Kea freezes its reads too.
    fn readable_while_hung(&self) -> bool {
        false
    }

    /// What the servers logged last (for a failure report).
    fn log_tail(&self, lines: usize) -> String;
}

/// kea-sim's admin API per server: the faults only a simulator has (latency, 5xx, resets, garbage)
/// and its request log (arrival timestamps to measure a retry schedule).
#[derive(Clone, Debug)]
pub struct SimControl {
    /// (client, server name) for the primary, then the secondary.
    admins: [(AdminClient, String); 2],
}

impl SimControl {
    pub fn new(primary: (AdminClient, String), secondary: (AdminClient, String)) -> Self {
        SimControl {
            admins: [primary, secondary],
        }
    }

    fn admin(&self, role: Role) -> (&AdminClient, &str) {
        let (client, name) = &self.admins[role as usize];
        (client, name)
    }

    /// Injects `fault` on `role`; returns its id.
    pub async fn inject(&self, role: Role, fault: &Fault) -> Result<u64, BackendError> {
        let (c, s) = self.admin(role);
        Ok(c.inject(s, fault).await?)
    }

    pub async fn remove_fault(&self, role: Role, id: u64) -> Result<(), BackendError> {
        let (c, s) = self.admin(role);
        Ok(c.remove_fault(s, id).await?)
    }

    /// Removes every fault on both servers.
    pub async fn clear_faults(&self) -> Result<(), BackendError> {
        for role in Role::BOTH {
            let (c, s) = self.admin(role);
            c.clear_faults(s).await?;
        }
        Ok(())
    }

    /// Requests `role` received after sequence number `since`.
    pub async fn log(&self, role: Role, since: u64) -> Result<Vec<ReceivedCommand>, BackendError> {
        let (c, s) = self.admin(role);
        Ok(c.log(s, since).await?)
    }

    /// The last request sequence number of `role` (a mark to read the log from).
    pub async fn log_mark(&self, role: Role) -> Result<u64, BackendError> {
        let (c, s) = self.admin(role);
        Ok(c.state(s).await?.last_request_seq)
    }
}

/// Addresses handed out by the harness itself (real Kea and containers: `lease4-add`), in pool
/// order, never twice.
#[derive(Debug, Default)]
pub struct AddressPool {
    used: BTreeSet<Ipv4Addr>,
}

impl AddressPool {
    /// The next unused address of `subnet_id`'s pool.
    pub fn next(&mut self, subnet_id: u32) -> Result<Ipv4Addr, BackendError> {
        let def = layout::subnets()
            .into_iter()
            .find(|s| s.id == subnet_id)
            .ok_or(BackendError::PoolExhausted(subnet_id))?;
        let (first, last) = (u32::from(def.pool_first), u32::from(def.pool_last));
        let ip = (first..=last)
            .map(Ipv4Addr::from)
            .find(|ip| !self.used.contains(ip) && *ip != layout::CONFIG_HOST_IP)
            .ok_or(BackendError::PoolExhausted(subnet_id))?;
        self.used.insert(ip);
        Ok(ip)
    }
}

/// Normalizes a MAC the way Kea prints it (lowercase, colons).
pub fn kea_mac(mac: &str) -> String {
    mac.trim().to_ascii_lowercase().replace('-', ":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_hands_out_each_address_once_in_order_and_skips_the_configured_host() {
        let mut pool = AddressPool::default();
        let a = pool.next(1).expect("first");
        let b = pool.next(1).expect("second");
        assert_eq!(a, Ipv4Addr::new(10, 100, 1, 10));
        assert_eq!(b, Ipv4Addr::new(10, 100, 1, 11));
        assert_eq!(pool.next(2).expect("subnet 2"), Ipv4Addr::new(10, 101, 1, 10));
        assert!(matches!(pool.next(9), Err(BackendError::PoolExhausted(9))));
    }

    #[test]
    fn markers_are_read_from_the_user_context() {
        let host = KeaHost {
            subnet_id: 1,
            hw_address: "aa:bb:cc:dd:ee:ff".into(),
            ip: Ipv4Addr::new(10, 100, 1, 10),
            user_context: Some(serde_json::json!({"kea-operator": {"v": 1, "instance": "e2e"}, "x": 1})),
        };
        assert!(host.owned_by_instance("e2e"));
        assert!(!host.owned_by_instance("other"));
        assert!(host.to_string().contains("marker"));
        assert_eq!(kea_mac("AA-BB-cc-DD-ee-FF"), "aa:bb:cc:dd:ee:ff");
    }
}
