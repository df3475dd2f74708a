//! Domain types shared by the Kea client (which maps Kea's wire format to them) and the pure planner.
//! They carry exactly what the operator reasons about; wire details stay in `kea/`.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::mac::Mac;

/// A Kea `subnet-id`. Ids may differ between HA partners, so they are always resolved per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubnetId(pub u32);

impl fmt::Display for SubnetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Kea IPv4 subnet as configured on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: SubnetId,
    pub prefix: Ipv4Net,
    /// Name of the shared network holding the subnet, if any.
    pub shared_network: Option<String>,
}

/// A DHCPv4 lease as Kea reports it (`lease4-get-by-hw-address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub ip_address: Ipv4Addr,
    pub hw_address: Mac,
    pub subnet_id: SubnetId,
    /// Client last transaction time, seconds since the epoch.
    pub cltt: u64,
    /// Valid lifetime in seconds.
    pub valid_lft: u64,
    /// 0 default (current), 1 declined, 2 expired-reclaimed, 3 released.
    pub state: u32,
    pub hostname: Option<String>,
}

impl Lease {
    /// A lease is current when its state is 0 and it has not expired: expired-but-not-reclaimed leases
    /// still have state 0 (SPEC §2.4), so the expiry is checked against `now` (epoch seconds).
    pub fn is_current(&self, now: u64) -> bool {
        self.state == 0 && self.cltt.saturating_add(self.valid_lft) > now
    }
}

/// Where a host reservation lives on a server (SPEC §4: memory is source-index 0, the hosts database 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostSource {
    Memory,
    Database,
}

/// A host reservation identified by hw-address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub subnet_id: SubnetId,
    pub hw_address: Mac,
    pub ip_address: Ipv4Addr,
    pub hostname: Option<String>,
    /// Kea's `user-context`; our ownership marker lives under the `kea-operator` key.
    pub user_context: Option<serde_json::Value>,
    /// Which source answered, when Kea says (paging tells; `reservation-get` does not).
    pub source: Option<HostSource>,
}

/// Which configured Kea server: `KEA_URL` is the primary, `KEA_SECONDARY_URL` the secondary. The names
/// appear in status (`servers[].name`), the reservations annotation and metric labels, so they are a
/// closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerId {
    Primary,
    Secondary,
}

impl ServerId {
    pub const ALL: [ServerId; 2] = [ServerId::Primary, ServerId::Secondary];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerId::Primary => "primary",
            ServerId::Secondary => "secondary",
        }
    }

    /// Parses the status/annotation name (`primary`, `secondary`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "primary" => Some(ServerId::Primary),
            "secondary" => Some(ServerId::Secondary),
            _ => None,
        }
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(state: u32, cltt: u64, valid: u64) -> Lease {
        Lease {
            ip_address: Ipv4Addr::new(10, 0, 0, 1),
            hw_address: Mac::from_octets([1, 2, 3, 4, 5, 6]),
            subnet_id: SubnetId(1),
            cltt,
            valid_lft: valid,
            state,
            hostname: None,
        }
    }

    #[test]
    fn expired_but_unreclaimed_leases_are_not_current() {
        assert!(lease(0, 1000, 100).is_current(1099));
        assert!(!lease(0, 1000, 100).is_current(1100));
        assert!(!lease(3, 1000, 100).is_current(1050));
    }
}
