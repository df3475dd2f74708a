//! DHCP simulation: devices obtaining, releasing and losing leases through the DHCP path
//! (DISCOVER/REQUEST), so tests can model a device getting an address.
//!
//! Allocation follows what Kea 3.0.4 does for a client of a subnet: its reserved address
//! (memory, then the hosts databases), else the address of its existing lease, else the next
//! free pool address (Kea's iterative allocator: in order from where it stopped) that is not
//! reserved for another host and not leased to another client. Leases given out here are
//! replicated to the HA partner, as Kea's HA hook does.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::commands::leases::now;
use crate::model::ident::IdentType;
use crate::model::lease::state;
use crate::model::{Lease, LeaseOrigin, Subnet};
use crate::server::Node;

/// Why a DHCP exchange failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum DhcpError {
    /// The simulated server is down.
    #[error("the server is down")]
    ServerDown,
    /// The requested subnet does not exist.
    #[error("subnet {0} is not configured")]
    NoSuchSubnet(u32),
    /// No subnet could be chosen for the client.
    #[error("no subnet with pools is configured")]
    NoSubnet,
    /// Every pool address is in use or reserved for others.
    #[error("no free address in subnet {0}")]
    PoolExhausted(u32),
    /// The client holds no lease to release or expire.
    #[error("no lease for {0}")]
    NoLease(String),
    /// The MAC address is not valid.
    #[error("invalid MAC address '{0}'")]
    BadMac(String),
}

impl DhcpError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            DhcpError::ServerDown => "down",
            DhcpError::NoSuchSubnet(_) | DhcpError::NoSubnet => "subnet",
            DhcpError::PoolExhausted(_) => "exhausted",
            DhcpError::NoLease(_) => "no-lease",
            DhcpError::BadMac(_) => "mac",
        }
    }
}

/// Parse a MAC in any of the usual notations (`aa:bb:..`, `aa-bb-..`, `aabb..`).
pub fn parse_mac(s: &str) -> Result<Vec<u8>, DhcpError> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.' | ' '))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DhcpError::BadMac(s.to_string()));
    }
    (0..6)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| DhcpError::BadMac(s.to_string())))
        .collect()
}

/// Reservation of this MAC in a subnet (memory first, then databases that are reachable).
fn reservation(node: &Node, subnet: u32, mac: &[u8]) -> Option<Ipv4Addr> {
    if let Some((_, h)) = node.read().memory.find_ident(subnet, IdentType::HwAddress, mac) {
        return h.reserved_ip();
    }
    node.databases()
        .iter()
        .filter(|d| d.outage().is_none())
        .find_map(|d| {
            d.hosts
                .lock()
                .find_ident(subnet, IdentType::HwAddress, mac)
                .map(|(_, h)| h.ip)
        })
        .filter(|ip| !ip.is_unspecified())
}

/// True when `ip` is reserved in `subnet` for a host other than `mac`.
fn reserved_for_other(node: &Node, subnet: u32, ip: Ipv4Addr, mac: &[u8]) -> bool {
    let other = |h: &crate::model::Host| !(h.ident.kind == IdentType::HwAddress && *h.ident.bytes == *mac);
    if node
        .read()
        .memory
        .find_subnet_ip(subnet, ip)
        .iter()
        .any(|(_, h)| other(h))
    {
        return true;
    }
    node.databases().iter().filter(|d| d.outage().is_none()).any(|d| {
        d.hosts
            .lock()
            .find_subnet_ip(subnet, ip)
            .iter()
            .any(|(_, h)| other(h))
    })
}

fn choose_subnet(node: &Node, mac: &[u8], subnet: Option<u32>) -> Result<Subnet, DhcpError> {
    let cfg = node.config();
    if let Some(id) = subnet {
        return cfg.subnet(id).cloned().ok_or(DhcpError::NoSuchSubnet(id));
    }
    if let Some(s) = cfg
        .subnets
        .iter()
        .find(|s| reservation(node, s.id, mac).is_some())
    {
        return Ok(s.clone());
    }
    cfg.subnets
        .iter()
        .find(|s| !s.pools.is_empty())
        .cloned()
        .ok_or(DhcpError::NoSubnet)
}

fn free_for(lease: Option<&Lease>, mac: &[u8], now: i64) -> bool {
    match lease {
        None => true,
        Some(l) => *l.hw == *mac || !l.is_active(now),
    }
}

/// DISCOVER + REQUEST for `mac`: the leased address.
pub fn acquire(node: &Node, mac: &[u8], subnet: Option<u32>) -> Result<Lease, DhcpError> {
    if !node.is_up() {
        return Err(DhcpError::ServerDown);
    }
    let subnet = choose_subnet(node, mac, subnet)?;
    let t = now();
    let reserved = reservation(node, subnet.id, mac);
    let chosen = {
        let st = node.read();
        let existing = st.leases.by_hw_subnet(mac, subnet.id).map(|l| l.ip);
        match reserved {
            Some(ip) if free_for(st.leases.get(ip), mac, t) => Some(ip),
            _ => existing.filter(|ip| {
                reserved.is_none() && free_for(st.leases.get(*ip), mac, t) && subnet.in_range(*ip)
            }),
        }
    };
    let ip = match chosen {
        Some(ip) if reserved == Some(ip) || !reserved_for_other(node, subnet.id, ip, mac) => ip,
        _ => next_free(node, &subnet, mac, t)?,
    };
    let lease = Lease {
        ip,
        hw: mac.into(),
        client_id: None,
        valid_lft: subnet.valid_lifetime,
        cltt: t,
        subnet_id: subnet.id,
        pool_id: 0,
        fqdn_fwd: false,
        fqdn_rev: false,
        hostname: String::new(),
        state: state::DEFAULT,
        user_context: None,
        origin: LeaseOrigin::Dhcp,
    };
    {
        let mut st = node.write();
        // A client leaves its previous lease in this subnet when it moves to another address.
        let old: Vec<Ipv4Addr> = st
            .leases
            .by_hw(mac)
            .iter()
            .filter(|l| l.subnet_id == subnet.id && l.ip != ip)
            .map(|l| l.ip)
            .collect();
        for o in old {
            st.leases.delete(o);
        }
        st.leases.upsert(lease.clone());
    }
    crate::ha::replicate(node, &lease);
    Ok(lease)
}

fn next_free(node: &Node, subnet: &Subnet, mac: &[u8], t: i64) -> Result<Ipv4Addr, DhcpError> {
    let addrs: Vec<(u32, u32)> = subnet
        .pools
        .iter()
        .map(|p| (u32::from(p.start), u32::from(p.end)))
        .collect();
    let total: u64 = addrs.iter().map(|(a, b)| u64::from(b - a) + 1).sum();
    if total == 0 {
        return Err(DhcpError::PoolExhausted(subnet.id));
    }
    let nth = |mut i: u64| -> Ipv4Addr {
        for (a, b) in &addrs {
            let n = u64::from(b - a) + 1;
            if i < n {
                return Ipv4Addr::from(a + i as u32);
            }
            i -= n;
        }
        Ipv4Addr::UNSPECIFIED
    };
    let start = {
        let st = node.read();
        st.cursors.get(&subnet.id).map_or(0, |c| u64::from(*c) % total)
    };
    for k in 0..total {
        let i = (start + k) % total;
        let ip = nth(i);
        let free = free_for(node.read().leases.get(ip), mac, t);
        if free && !reserved_for_other(node, subnet.id, ip, mac) {
            node.write().cursors.insert(subnet.id, ((i + 1) % total) as u32);
            return Ok(ip);
        }
    }
    Err(DhcpError::PoolExhausted(subnet.id))
}

fn find_lease(node: &Node, mac: &[u8], subnet: Option<u32>) -> Result<Lease, DhcpError> {
    let st = node.read();
    st.leases
        .by_hw(mac)
        .into_iter()
        .filter(|l| subnet.is_none_or(|s| l.subnet_id == s))
        .max_by_key(|l| l.cltt)
        .cloned()
        .ok_or_else(|| DhcpError::NoLease(crate::model::ident::to_colon_hex(mac)))
}

/// RELEASE: the lease stays visible with state 3 (released), as Kea 3.0 keeps it.
pub fn release(node: &Node, mac: &[u8], subnet: Option<u32>) -> Result<Lease, DhcpError> {
    if !node.is_up() {
        return Err(DhcpError::ServerDown);
    }
    let mut lease = find_lease(node, mac, subnet)?;
    lease.state = state::RELEASED;
    lease.origin = LeaseOrigin::Dhcp;
    node.write().leases.update(lease.clone());
    crate::ha::replicate(node, &lease);
    Ok(lease)
}

/// Expiry and reclamation: the lease is moved into the past and marked expired-reclaimed.
pub fn expire(node: &Node, mac: &[u8], subnet: Option<u32>) -> Result<Lease, DhcpError> {
    if !node.is_up() {
        return Err(DhcpError::ServerDown);
    }
    let mut lease = find_lease(node, mac, subnet)?;
    lease.cltt = now() - i64::from(lease.valid_lft) - 1;
    lease.state = state::EXPIRED_RECLAIMED;
    lease.origin = LeaseOrigin::Dhcp;
    node.write().leases.update(lease.clone());
    crate::ha::replicate(node, &lease);
    Ok(lease)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_in_common_notations() {
        let want = vec![0xaa, 0xbb, 0xcc, 0, 1, 2];
        for s in [
            "aa:bb:cc:00:01:02",
            "AA-BB-CC-00-01-02",
            "aabbcc000102",
            "aabb.cc00.0102",
        ] {
            assert_eq!(parse_mac(s).unwrap(), want, "{s}");
        }
        assert!(parse_mac("aa:bb").is_err());
    }
}
