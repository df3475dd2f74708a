//! Request and answer types of the admin API, shared by the server and [`super::AdminClient`].

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::faults::FaultView;
use crate::model::{HostView, LeaseView};
use crate::store::DbOutage;

/// One simulated server, as `GET /servers` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// `primary` or `secondary`.
    pub name: String,
    /// Other names accepted in `?server=` (the HA server name).
    pub aliases: Vec<String>,
    /// URL of the Kea control socket.
    pub url: String,
    /// `dhcp4` or `ca`.
    pub mode: String,
    /// Whether the simulated daemon runs.
    pub up: bool,
    /// Whether the listener accepts connections.
    pub listening: bool,
}

/// `GET /state`: everything a test may want to assert on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// Server name.
    pub server: String,
    /// Daemon running.
    pub up: bool,
    /// Simulated pid.
    pub pid: u32,
    /// Seconds since start.
    pub uptime: i64,
    /// Configuration (memory) hosts.
    pub memory_hosts: Vec<HostView>,
    /// Hosts of the hosts databases.
    pub database_hosts: Vec<HostView>,
    /// Leases.
    pub leases: Vec<LeaseView>,
    /// Active faults.
    pub faults: Vec<FaultView>,
    /// Whether the HA link is cut (pairs only).
    pub partitioned: Option<bool>,
    /// Outage of the hosts databases, if any.
    pub db_outage: Option<DbOutage>,
    /// Last request-log sequence number.
    pub last_request_seq: u64,
}

/// Body of the DHCP actions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DhcpRequest {
    /// Client MAC address (any usual notation).
    pub mac: String,
    /// Subnet id (else chosen like a client on the default network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<u32>,
}

/// Answer of `POST /dhcp/acquire`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DhcpLease {
    /// The address.
    pub ip_address: Ipv4Addr,
    /// The lease.
    pub lease: LeaseView,
}

/// Body of `POST /db/outage`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbOutageRequest {
    /// `down`, `hang`, or `null` to end the outage.
    pub mode: Option<DbOutage>,
}

/// Answer of `POST /faults`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultIds {
    /// Ids of the faults added.
    pub ids: Vec<u64>,
}

/// Error body of the admin API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminErrorBody {
    /// What went wrong.
    pub error: String,
}
