//! A source of host reservations with the indexes Kea's commands need.
//!
//! The same structure backs the configuration ("memory", Kea's `CfgHosts`) and the simulated
//! hosts database; the two differ only in their duplicate checks and error texts, which live in
//! [`HostStore::add_memory`] and [`HostStore::add_database`]. Hosts are ordered by host id
//! (paging order); hash indexes store only host ids, so a million hosts cost little more than
//! the hosts themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::Ipv4Addr;

use hashbrown::HashTable;

use crate::model::ident::{IdentType, to_colon_hex};
use crate::model::{Host, Identifier};

/// Kea's host id (`Host::getHostId`), unique within one source.
pub type HostId = u64;

/// Host reservations of one source.
#[derive(Clone, Default)]
pub struct HostStore {
    hosts: BTreeMap<HostId, Host>,
    /// Keyed by hash of (identifier type, bytes); several subnets may share an identifier.
    by_ident: HashTable<HostId>,
    /// Keyed by hash of (subnet, address), for hosts with an address.
    by_subnet_ip: HashTable<HostId>,
    by_ip: BTreeSet<(u32, HostId)>,
    by_subnet: BTreeSet<(u32, HostId)>,
    last_id: HostId,
    hasher: hashbrown::DefaultHashBuilder,
}

impl std::fmt::Debug for HostStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostStore")
            .field("hosts", &self.hosts.len())
            .field("last_id", &self.last_id)
            .finish()
    }
}

impl HostStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn ident_hash(&self, kind: IdentType, bytes: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        kind.tag().hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    }

    fn subnet_ip_hash(&self, subnet: u32, ip: Ipv4Addr) -> u64 {
        let mut h = self.hasher.build_hasher();
        subnet.hash(&mut h);
        u32::from(ip).hash(&mut h);
        h.finish()
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The last host id handed out.
    pub fn last_id(&self) -> HostId {
        self.last_id
    }

    /// Consume a host id without storing a host (a database sequence advanced by a failed insert).
    pub fn burn_id(&mut self) {
        self.last_id += 1;
    }

    /// A host by id.
    pub fn get(&self, id: HostId) -> Option<&Host> {
        self.hosts.get(&id)
    }

    /// All hosts in id order.
    pub fn iter(&self) -> impl Iterator<Item = (HostId, &Host)> {
        self.hosts.iter().map(|(id, h)| (*id, h))
    }

    /// The host of `subnet` with this identifier.
    pub fn find_ident(&self, subnet: u32, kind: IdentType, bytes: &[u8]) -> Option<(HostId, &Host)> {
        let hash = self.ident_hash(kind, bytes);
        self.by_ident
            .iter_hash(hash)
            .filter_map(|id| self.hosts.get(id).map(|h| (*id, h)))
            .filter(|(_, h)| h.subnet_id == subnet && h.ident.kind == kind && *h.ident.bytes == *bytes)
            .min_by_key(|(id, _)| *id)
    }

    /// Every host with this identifier, in Kea's order (insertion, i.e. host id).
    pub fn find_ident_all(&self, kind: IdentType, bytes: &[u8]) -> Vec<(HostId, &Host)> {
        let hash = self.ident_hash(kind, bytes);
        let mut v: Vec<_> = self
            .by_ident
            .iter_hash(hash)
            .filter_map(|id| self.hosts.get(id).map(|h| (*id, h)))
            .filter(|(_, h)| h.ident.kind == kind && *h.ident.bytes == *bytes)
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// Hosts of `subnet` reserving `ip`, in host id order.
    pub fn find_subnet_ip(&self, subnet: u32, ip: Ipv4Addr) -> Vec<(HostId, &Host)> {
        if ip.is_unspecified() {
            return Vec::new();
        }
        let hash = self.subnet_ip_hash(subnet, ip);
        let mut v: Vec<_> = self
            .by_subnet_ip
            .iter_hash(hash)
            .filter_map(|id| self.hosts.get(id).map(|h| (*id, h)))
            .filter(|(_, h)| h.subnet_id == subnet && h.ip == ip)
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// Hosts reserving `ip` in any subnet, in host id order.
    pub fn find_ip(&self, ip: Ipv4Addr) -> Vec<(HostId, &Host)> {
        let k = u32::from(ip);
        self.by_ip
            .range((k, 0)..=(k, HostId::MAX))
            .filter_map(|(_, id)| self.hosts.get(id).map(|h| (*id, h)))
            .collect()
    }

    /// Hosts of a subnet, in host id order.
    pub fn in_subnet(&self, subnet: u32) -> impl Iterator<Item = (HostId, &Host)> {
        self.by_subnet
            .range((subnet, 0)..=(subnet, HostId::MAX))
            .filter_map(|(_, id)| self.hosts.get(id).map(|h| (*id, h)))
    }

    /// One page: hosts with an id above `from`, optionally of one subnet (`getPage4`).
    pub fn page(&self, subnet: Option<u32>, from: HostId, limit: usize) -> Vec<(HostId, &Host)> {
        let Some(start) = from.checked_add(1) else {
            return Vec::new();
        };
        match subnet {
            None => self
                .hosts
                .range(start..)
                .take(limit)
                .map(|(id, h)| (*id, h))
                .collect(),
            Some(s) => self
                .by_subnet
                .range((s, start)..=(s, HostId::MAX))
                .take(limit)
                .filter_map(|(_, id)| self.hosts.get(id).map(|h| (*id, h)))
                .collect(),
        }
    }

    /// Hosts whose hostname equals `lower` ignoring case (no index: rarely used command).
    pub fn find_hostname(&self, lower: &str, subnet: Option<u32>) -> Vec<(HostId, &Host)> {
        self.hosts
            .iter()
            .filter(|(_, h)| {
                subnet.is_none_or(|s| h.subnet_id == s) && h.hostname.to_ascii_lowercase() == lower
            })
            .map(|(id, h)| (*id, h))
            .collect()
    }

    /// Store a host under a new id, without any duplicate check.
    pub fn insert(&mut self, host: Host) -> HostId {
        self.last_id += 1;
        let id = self.last_id;
        self.insert_with_id(id, host);
        id
    }

    fn insert_with_id(&mut self, id: HostId, host: Host) {
        let ih = self.ident_hash(host.ident.kind, &host.ident.bytes);
        let hasher = self.hasher.clone();
        let hosts = &self.hosts;
        let rehash_ident = |hid: &HostId| {
            let h = &hosts[hid];
            let mut s = hasher.build_hasher();
            h.ident.kind.tag().hash(&mut s);
            h.ident.bytes.hash(&mut s);
            s.finish()
        };
        self.by_ident.insert_unique(ih, id, rehash_ident);
        if !host.ip.is_unspecified() {
            let sh = self.subnet_ip_hash(host.subnet_id, host.ip);
            let rehash_sip = |hid: &HostId| {
                let h = &hosts[hid];
                let mut s = hasher.build_hasher();
                h.subnet_id.hash(&mut s);
                u32::from(h.ip).hash(&mut s);
                s.finish()
            };
            self.by_subnet_ip.insert_unique(sh, id, rehash_sip);
            self.by_ip.insert((u32::from(host.ip), id));
        }
        self.by_subnet.insert((host.subnet_id, id));
        self.hosts.insert(id, host);
    }

    /// Remove a host by id.
    pub fn remove(&mut self, id: HostId) -> Option<Host> {
        let host = self.hosts.get(&id)?;
        let ih = self.ident_hash(host.ident.kind, &host.ident.bytes);
        if let Ok(e) = self.by_ident.find_entry(ih, |x| *x == id) {
            e.remove();
        }
        if !host.ip.is_unspecified() {
            let sh = self.subnet_ip_hash(host.subnet_id, host.ip);
            if let Ok(e) = self.by_subnet_ip.find_entry(sh, |x| *x == id) {
                e.remove();
            }
            self.by_ip.remove(&(u32::from(host.ip), id));
        }
        self.by_subnet.remove(&(host.subnet_id, id));
        self.hosts.remove(&id)
    }

    /// Remove every host.
    pub fn clear(&mut self) {
        let last = self.last_id;
        *self = HostStore::new();
        self.last_id = last;
    }

    /// `CfgHosts::add4`: Kea's duplicate checks for configuration hosts, with its texts.
    pub fn add_memory(&mut self, host: Host, ip_unique: bool) -> Result<HostId, String> {
        let s = host.subnet_id;
        let Identifier { kind, bytes } = &host.ident;
        if *kind == IdentType::HwAddress && !bytes.is_empty() && self.find_ident(s, *kind, bytes).is_some() {
            return Err(format!(
                "failed to add new host using the HW address '{}' to the IPv4 subnet id '{s}' as this host has already been added",
                to_colon_hex(bytes)
            ));
        }
        if *kind == IdentType::Duid && !bytes.is_empty() && self.find_ident(s, *kind, bytes).is_some() {
            return Err(format!(
                "failed to add new host using the DUID '{}' to the IPv4 subnet id '{s}' as this host has already been added",
                to_colon_hex(bytes)
            ));
        }
        if ip_unique && !host.ip.is_unspecified() && !self.find_subnet_ip(s, host.ip).is_empty() {
            let hw = if *kind == IdentType::HwAddress {
                to_colon_hex(bytes)
            } else {
                "(null)".into()
            };
            let duid = if *kind == IdentType::Duid {
                to_colon_hex(bytes)
            } else {
                "(null)".into()
            };
            return Err(format!(
                "failed to add new host using the HW address '{hw} and DUID '{duid}' to the IPv4 subnet id '{s}' for the address {}: There's already a reservation for this address",
                host.ip
            ));
        }
        if !bytes.is_empty() && self.find_ident(s, *kind, bytes).is_some() {
            return Err(format!(
                "failed to add duplicate IPv4 host using identifier: {}",
                host.ident.as_text()
            ));
        }
        Ok(self.insert(host))
    }

    /// A PostgreSQL hosts database insert: an address already reserved in the subnet is
    /// refused before the row is built (the sequence does not move); a duplicate identifier
    /// violates a unique key after the id was drawn (the sequence moves).
    pub fn add_database(&mut self, host: Host, ip_unique: bool) -> Result<HostId, String> {
        if ip_unique && !host.ip.is_unspecified() && !self.find_subnet_ip(host.subnet_id, host.ip).is_empty()
        {
            return Err(DB_DUPLICATE.into());
        }
        if self
            .find_ident(host.subnet_id, host.ident.kind, &host.ident.bytes)
            .is_some()
        {
            self.burn_id();
            return Err(DB_DUPLICATE.into());
        }
        Ok(self.insert(host))
    }

    /// Delete the host of `subnet` with this identifier (`del4`).
    pub fn del_ident(&mut self, subnet: u32, kind: IdentType, bytes: &[u8]) -> bool {
        match self.find_ident(subnet, kind, bytes).map(|(id, _)| id) {
            Some(id) => self.remove(id).is_some(),
            None => false,
        }
    }

    /// Delete every host of `subnet` reserving `ip` (`del(subnet, address)`).
    pub fn del_subnet_ip(&mut self, subnet: u32, ip: Ipv4Addr) -> bool {
        let ids: Vec<HostId> = self
            .find_subnet_ip(subnet, ip)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut any = false;
        for id in ids {
            any |= self.remove(id).is_some();
        }
        any
    }

    /// Check the invariants the store promises: every index agrees with the hosts, and with
    /// unique reservations no two hosts share (subnet, identifier) or (subnet, address).
    pub fn check_invariants(&self, ip_unique: bool) -> Result<(), String> {
        let mut seen_ident = std::collections::HashSet::new();
        let mut seen_ip = std::collections::HashSet::new();
        for (id, h) in &self.hosts {
            if !seen_ident.insert((h.subnet_id, h.ident.clone())) {
                return Err(format!(
                    "host {id}: duplicate identifier in subnet {}",
                    h.subnet_id
                ));
            }
            if ip_unique && !h.ip.is_unspecified() && !seen_ip.insert((h.subnet_id, h.ip)) {
                return Err(format!(
                    "host {id}: duplicate address {} in subnet {}",
                    h.ip, h.subnet_id
                ));
            }
            if self
                .find_ident(h.subnet_id, h.ident.kind, &h.ident.bytes)
                .is_none()
            {
                return Err(format!("host {id}: missing from the identifier index"));
            }
            if !self.by_subnet.contains(&(h.subnet_id, *id)) {
                return Err(format!("host {id}: missing from the subnet index"));
            }
            if !h.ip.is_unspecified() && !self.by_ip.contains(&(u32::from(h.ip), *id)) {
                return Err(format!("host {id}: missing from the address index"));
            }
        }
        if self.by_ident.len() != self.hosts.len() || self.by_subnet.len() != self.hosts.len() {
            return Err("index sizes differ from the host count".into());
        }
        Ok(())
    }
}

/// The text of every PostgreSQL unique-key violation.
pub const DB_DUPLICATE: &str = "Database duplicate entry error";

#[cfg(test)]
mod tests {
    use super::*;

    fn host(subnet: u32, mac: u8, ip: &str) -> Host {
        Host::new(
            subnet,
            Identifier::new(IdentType::HwAddress, vec![0xaa, 0, 0, 0, 0, mac]),
            ip.parse().unwrap(),
            "",
        )
    }

    #[test]
    fn memory_duplicates_use_keas_texts() {
        let mut s = HostStore::new();
        assert_eq!(s.add_memory(host(1, 1, "10.0.0.1"), true).unwrap(), 1);
        assert_eq!(
            s.add_memory(host(1, 1, "10.0.0.2"), true).unwrap_err(),
            "failed to add new host using the HW address 'aa:00:00:00:00:01' to the IPv4 subnet id '1' as this host has already been added"
        );
        assert_eq!(
            s.add_memory(host(1, 2, "10.0.0.1"), true).unwrap_err(),
            "failed to add new host using the HW address 'aa:00:00:00:00:02 and DUID '(null)' to the IPv4 subnet id '1' for the address 10.0.0.1: There's already a reservation for this address"
        );
        assert_eq!(
            s.add_memory(host(2, 1, "10.0.0.1"), true).unwrap(),
            2,
            "other subnet is fine"
        );
        s.check_invariants(true).unwrap();
    }

    #[test]
    fn database_duplicates_burn_ids_like_postgresql() {
        let mut s = HostStore::new();
        assert_eq!(s.add_database(host(1, 1, "10.0.0.1"), true).unwrap(), 1);
        assert_eq!(
            s.add_database(host(1, 1, "10.0.0.9"), true).unwrap_err(),
            DB_DUPLICATE
        );
        assert_eq!(
            s.add_database(host(1, 2, "10.0.0.1"), true).unwrap_err(),
            DB_DUPLICATE
        );
        assert_eq!(s.add_database(host(1, 3, "10.0.0.3"), true).unwrap(), 3);
    }

    #[test]
    fn paging_and_lookups() {
        let mut s = HostStore::new();
        for i in 1..=5u8 {
            s.add_memory(host(u32::from(i % 2), i, &format!("10.0.0.{i}")), true)
                .unwrap();
        }
        let ids: Vec<_> = s.page(None, 2, 2).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![3, 4]);
        let ids: Vec<_> = s.page(Some(1), 1, 10).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![3, 5]);
        assert!(s.page(None, u64::MAX, 10).is_empty());
        assert!(s.del_subnet_ip(1, "10.0.0.3".parse().unwrap()));
        assert!(!s.del_ident(0, IdentType::HwAddress, &[0xaa, 0, 0, 0, 0, 9]));
        assert_eq!(s.find_ip("10.0.0.2".parse().unwrap()).len(), 1);
        s.check_invariants(true).unwrap();
    }
}
