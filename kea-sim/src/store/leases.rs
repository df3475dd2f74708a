//! The lease store, ordered like Kea's memfile backend (`Lease4Storage`): by address, and by
//! (hardware address, subnet) and (client id, subnet) and subnet with insertion order among
//! equal keys, which is the order `lease4-get-by-hw-address` and `lease4-get-all` answer in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::model::Lease;

#[derive(Clone, Debug)]
struct Entry {
    lease: Lease,
    seq_hw: u64,
    seq_cid: u64,
    seq_subnet: u64,
}

/// All leases of one server.
#[derive(Clone, Debug, Default)]
pub struct LeaseStore {
    leases: BTreeMap<u32, Entry>,
    by_hw: BTreeSet<(Box<[u8]>, u32, u64, u32)>,
    by_cid: BTreeSet<(Box<[u8]>, u32, u64, u32)>,
    by_subnet: BTreeSet<(u32, u64, u32)>,
    seq: u64,
}

impl LeaseStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Number of leases.
    pub fn len(&self) -> usize {
        self.leases.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// The lease of an address.
    pub fn get(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.leases.get(&u32::from(ip)).map(|e| &e.lease)
    }

    /// Add a lease; false when the address is taken (`addLease`).
    pub fn add(&mut self, lease: Lease) -> bool {
        let k = u32::from(lease.ip);
        if self.leases.contains_key(&k) {
            return false;
        }
        let (a, b, c) = (self.next_seq(), self.next_seq(), self.next_seq());
        self.index(&lease, a, b, c);
        self.leases.insert(
            k,
            Entry {
                lease,
                seq_hw: a,
                seq_cid: b,
                seq_subnet: c,
            },
        );
        true
    }

    fn index(&mut self, l: &Lease, seq_hw: u64, seq_cid: u64, seq_subnet: u64) {
        let k = u32::from(l.ip);
        self.by_hw.insert((l.hw.clone(), l.subnet_id, seq_hw, k));
        if let Some(cid) = &l.client_id {
            self.by_cid.insert((cid.clone(), l.subnet_id, seq_cid, k));
        }
        self.by_subnet.insert((l.subnet_id, seq_subnet, k));
    }

    fn unindex(&mut self, e: &Entry) {
        let l = &e.lease;
        let k = u32::from(l.ip);
        self.by_hw.remove(&(l.hw.clone(), l.subnet_id, e.seq_hw, k));
        if let Some(cid) = &l.client_id {
            self.by_cid.remove(&(cid.clone(), l.subnet_id, e.seq_cid, k));
        }
        self.by_subnet.remove(&(l.subnet_id, e.seq_subnet, k));
    }

    /// Replace an existing lease (`updateLease4`); false when there is none. Index positions
    /// are kept for keys that did not change, as boost's `replace` does.
    pub fn update(&mut self, lease: Lease) -> bool {
        let k = u32::from(lease.ip);
        let Some(old) = self.leases.remove(&k) else {
            return false;
        };
        self.unindex(&old);
        let o = &old.lease;
        let seq_hw = if o.hw == lease.hw && o.subnet_id == lease.subnet_id {
            old.seq_hw
        } else {
            self.next_seq()
        };
        let seq_cid = if o.client_id == lease.client_id && o.subnet_id == lease.subnet_id {
            old.seq_cid
        } else {
            self.next_seq()
        };
        let seq_subnet = if o.subnet_id == lease.subnet_id {
            old.seq_subnet
        } else {
            self.next_seq()
        };
        self.index(&lease, seq_hw, seq_cid, seq_subnet);
        self.leases.insert(
            k,
            Entry {
                lease,
                seq_hw,
                seq_cid,
                seq_subnet,
            },
        );
        true
    }

    /// Add or replace.
    pub fn upsert(&mut self, lease: Lease) {
        if self.get(lease.ip).is_some() {
            self.update(lease);
        } else {
            self.add(lease);
        }
    }

    /// Delete a lease.
    pub fn delete(&mut self, ip: Ipv4Addr) -> Option<Lease> {
        let e = self.leases.remove(&u32::from(ip))?;
        self.unindex(&e);
        Some(e.lease)
    }

    /// Leases of a hardware address, ordered by subnet then insertion.
    pub fn by_hw(&self, hw: &[u8]) -> Vec<&Lease> {
        let key: Box<[u8]> = hw.into();
        self.by_hw
            .range((key.clone(), 0, 0, 0)..=(key, u32::MAX, u64::MAX, u32::MAX))
            .filter_map(|(_, _, _, ip)| self.leases.get(ip).map(|e| &e.lease))
            .collect()
    }

    /// The first lease of a hardware address in a subnet.
    pub fn by_hw_subnet(&self, hw: &[u8], subnet: u32) -> Option<&Lease> {
        let key: Box<[u8]> = hw.into();
        self.by_hw
            .range((key.clone(), subnet, 0, 0)..=(key, subnet, u64::MAX, u32::MAX))
            .find_map(|(_, _, _, ip)| self.leases.get(ip).map(|e| &e.lease))
    }

    /// The first lease of a client id in a subnet.
    pub fn by_client_id_subnet(&self, cid: &[u8], subnet: u32) -> Option<&Lease> {
        let key: Box<[u8]> = cid.into();
        self.by_cid
            .range((key.clone(), subnet, 0, 0)..=(key, subnet, u64::MAX, u32::MAX))
            .find_map(|(_, _, _, ip)| self.leases.get(ip).map(|e| &e.lease))
    }

    /// Leases of a client id in any subnet.
    pub fn by_client_id(&self, cid: &[u8]) -> Vec<&Lease> {
        let key: Box<[u8]> = cid.into();
        self.by_cid
            .range((key.clone(), 0, 0, 0)..=(key, u32::MAX, u64::MAX, u32::MAX))
            .filter_map(|(_, _, _, ip)| self.leases.get(ip).map(|e| &e.lease))
            .collect()
    }

    /// Leases of a subnet in insertion order.
    pub fn by_subnet(&self, subnet: u32) -> Vec<&Lease> {
        self.by_subnet
            .range((subnet, 0, 0)..=(subnet, u64::MAX, u32::MAX))
            .filter_map(|(_, _, ip)| self.leases.get(ip).map(|e| &e.lease))
            .collect()
    }

    /// All leases in address order.
    pub fn all(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values().map(|e| &e.lease)
    }

    /// Leases with an address above `from`, at most `limit` (`getLeases4(from, page)`).
    pub fn page(&self, from: Ipv4Addr, limit: usize) -> Vec<&Lease> {
        let start = u32::from(from);
        self.leases
            .range((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
            .take(limit)
            .map(|(_, e)| &e.lease)
            .collect()
    }

    /// Delete every lease of a subnet; returns how many.
    pub fn wipe_subnet(&mut self, subnet: u32) -> usize {
        let ips: Vec<u32> = self
            .by_subnet
            .range((subnet, 0, 0)..=(subnet, u64::MAX, u32::MAX))
            .map(|t| t.2)
            .collect();
        for ip in &ips {
            self.delete(Ipv4Addr::from(*ip));
        }
        ips.len()
    }

    /// Remove everything.
    pub fn clear(&mut self) {
        *self = LeaseStore::new();
    }

    /// Check that the indexes agree with the leases (one lease per address by construction).
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.by_hw.len() != self.leases.len() || self.by_subnet.len() != self.leases.len() {
            return Err("lease index sizes differ from the lease count".into());
        }
        for (k, e) in &self.leases {
            if u32::from(e.lease.ip) != *k {
                return Err(format!("lease keyed {k} holds {}", e.lease.ip));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LeaseOrigin;

    fn lease(ip: &str, hw: u8, subnet: u32) -> Lease {
        Lease {
            ip: ip.parse().unwrap(),
            hw: vec![0xaa, hw].into(),
            client_id: None,
            valid_lft: 100,
            cltt: 1,
            subnet_id: subnet,
            pool_id: 0,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: String::new(),
            state: 0,
            user_context: None,
            origin: LeaseOrigin::Api,
        }
    }

    #[test]
    fn one_lease_per_address_and_ordered_views() {
        let mut s = LeaseStore::new();
        assert!(s.add(lease("10.0.0.5", 1, 2)));
        assert!(!s.add(lease("10.0.0.5", 2, 2)));
        assert!(s.add(lease("10.0.0.3", 1, 1)));
        assert!(s.add(lease("10.0.0.4", 1, 2)));
        let by_hw: Vec<_> = s.by_hw(&[0xaa, 1]).iter().map(|l| l.ip.to_string()).collect();
        assert_eq!(
            by_hw,
            ["10.0.0.3", "10.0.0.5", "10.0.0.4"],
            "subnet, then insertion order"
        );
        let page: Vec<_> = s
            .page("10.0.0.3".parse().unwrap(), 10)
            .iter()
            .map(|l| l.ip.to_string())
            .collect();
        assert_eq!(page, ["10.0.0.4", "10.0.0.5"]);
        assert_eq!(s.wipe_subnet(2), 2);
        assert_eq!(s.len(), 1);
        s.check_invariants().unwrap();
    }

    #[test]
    fn update_keeps_position_when_keys_do_not_change() {
        let mut s = LeaseStore::new();
        s.add(lease("10.0.0.5", 1, 1));
        s.add(lease("10.0.0.3", 1, 1));
        let mut l = lease("10.0.0.5", 1, 1);
        l.hostname = "x".into();
        assert!(s.update(l));
        let order: Vec<_> = s.by_subnet(1).iter().map(|l| l.ip.to_string()).collect();
        assert_eq!(order, ["10.0.0.5", "10.0.0.3"]);
        assert!(!s.update(lease("10.0.0.9", 1, 1)));
        s.check_invariants().unwrap();
    }
}
