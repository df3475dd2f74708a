//! IPv4 leases (`Lease4`) and their printed form (`Lease4::toElement`).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::ident::to_colon_hex;
use crate::element::Element;

/// Lease states as Kea numbers them.
pub mod state {
    /// A lease in use.
    pub const DEFAULT: u32 = 0;
    /// Declined by the client.
    pub const DECLINED: u32 = 1;
    /// Expired and reclaimed.
    pub const EXPIRED_RECLAIMED: u32 = 2;
    /// Released by the client (kept visible, as Kea 3.0 does).
    pub const RELEASED: u32 = 3;
    /// Registered (DHCPv6 only in practice).
    pub const REGISTERED: u32 = 4;
}

/// How a lease came to exist: Kea HA replicates DHCP-driven leases only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseOrigin {
    /// Added or updated through `lease4-add`/`lease4-update`.
    Api,
    /// Allocated by the DHCP simulation on this server.
    Dhcp,
    /// Received from the HA partner.
    Replicated,
}

/// An IPv4 lease.
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    /// Leased address.
    pub ip: Ipv4Addr,
    /// Hardware address (may be empty: `lease4-add` accepts `""`).
    pub hw: Box<[u8]>,
    /// Client identifier.
    pub client_id: Option<Box<[u8]>>,
    /// Valid lifetime in seconds.
    pub valid_lft: u32,
    /// Client last transmission time (unix seconds).
    pub cltt: i64,
    /// Subnet id.
    pub subnet_id: u32,
    /// Pool id (printed only when non-zero).
    pub pool_id: u32,
    /// Forward DNS update flag.
    pub fqdn_fwd: bool,
    /// Reverse DNS update flag.
    pub fqdn_rev: bool,
    /// Hostname.
    pub hostname: String,
    /// State (see [`state`]).
    pub state: u32,
    /// User context (always a map when present).
    pub user_context: Option<Element>,
    /// Where the lease came from.
    pub origin: LeaseOrigin,
}

impl Lease {
    /// `Lease4::toElement`.
    pub fn to_element(&self) -> Element {
        let mut m = Element::map();
        if let Some(ctx) = &self.user_context {
            m.set("user-context", ctx.clone());
        }
        m.set("ip-address", Element::str(self.ip.to_string()));
        m.set("subnet-id", Element::int(i64::from(self.subnet_id)));
        if self.pool_id != 0 {
            m.set("pool-id", Element::int(i64::from(self.pool_id)));
        }
        m.set("hw-address", Element::str(to_colon_hex(&self.hw)));
        if let Some(cid) = &self.client_id {
            m.set("client-id", Element::str(to_colon_hex(cid)));
        }
        m.set("cltt", Element::int(self.cltt));
        m.set("valid-lft", Element::int(i64::from(self.valid_lft)));
        m.set("fqdn-fwd", Element::bool(self.fqdn_fwd));
        m.set("fqdn-rev", Element::bool(self.fqdn_rev));
        m.set("hostname", Element::str(self.hostname.clone()));
        m.set("state", Element::int(i64::from(self.state)));
        m
    }

    /// Expiration time (cltt + valid lifetime).
    pub fn expires_at(&self) -> i64 {
        self.cltt + i64::from(self.valid_lft)
    }

    /// True when the lease is in use at `now`: default state and not yet expired.
    pub fn is_active(&self, now: i64) -> bool {
        self.state == state::DEFAULT && self.expires_at() > now
    }
}

/// A lease as the library and the admin API show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaseView {
    /// Leased address.
    pub ip_address: Ipv4Addr,
    /// Hardware address (`aa:bb:...`).
    pub hw_address: String,
    /// Client id (`01:aa:...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Subnet id.
    pub subnet_id: u32,
    /// Valid lifetime.
    pub valid_lft: u32,
    /// Client last transmission time.
    pub cltt: i64,
    /// Hostname.
    pub hostname: String,
    /// State.
    pub state: u32,
    /// Origin of the lease.
    pub origin: LeaseOrigin,
}

impl From<&Lease> for LeaseView {
    fn from(l: &Lease) -> Self {
        LeaseView {
            ip_address: l.ip,
            hw_address: to_colon_hex(&l.hw),
            client_id: l.client_id.as_deref().map(to_colon_hex),
            subnet_id: l.subnet_id,
            valid_lft: l.valid_lft,
            cltt: l.cltt,
            hostname: l.hostname.clone(),
            state: l.state,
            origin: l.origin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_kea() {
        let l = Lease {
            ip: Ipv4Addr::new(10, 100, 1, 51),
            hw: vec![0xaa, 0xbb, 0xcc, 0, 0, 1].into(),
            client_id: Some(vec![1, 0xaa, 0xbb].into()),
            valid_lft: 100,
            cltt: 1795606416,
            subnet_id: 1,
            pool_id: 0,
            fqdn_fwd: true,
            fqdn_rev: false,
            hostname: "foo".into(),
            state: 1,
            user_context: Some(Element::map_of([("a", Element::int(1))])),
            origin: LeaseOrigin::Api,
        };
        assert_eq!(
            l.to_element().to_kea_string(),
            r#"{ "client-id": "01:aa:bb", "cltt": 1795606416, "fqdn-fwd": true, "fqdn-rev": false, "hostname": "foo", "hw-address": "aa:bb:cc:00:00:01", "ip-address": "10.100.1.51", "state": 1, "subnet-id": 1, "user-context": { "a": 1 }, "valid-lft": 100 }"#
        );
    }
}
