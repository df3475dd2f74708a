//! SPEC §2 steps 3–5 (what is wanted): each interface's desired address — sticky reservation,
//! record, take-over or lease — and MAC ownership between NCs, then the desired host per server.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::build::{Builder, Wanted};
use super::input::{ServerInput, ServerState};
use super::output::{AddressSource, EventType, PlannedEvent, ServerOutcome, ServerPlan, Verdict};
use crate::core::error_class::Reason;
use crate::core::lease_select::leased_address;
use crate::core::mac::Mac;
use crate::core::marker::{OwnerMarker, Ownership};
use crate::core::model::{Host, ServerId, SubnetId};
use crate::core::subnet_match::match_subnet;

impl<'a> Builder<'a> {
    /// Steps 4 and 5 (MAC ownership between NCs): the desired address of every valid interface.
    pub(super) fn resolve_addresses(&mut self) {
        let Some(prefix) = self.prefix else {
            return;
        };
        for i in 0..self.interfaces.len() {
            let (Some(mac), Verdict::Proceed) = (self.interfaces[i].mac, &self.interfaces[i].verdict) else {
                continue;
            };
            if let Some(message) = self.older_claimant(mac) {
                self.released.insert(mac);
                self.conflict(i, message);
                continue;
            }
            let leased = leased_address(&self.input.leases, mac, prefix, self.input.now_seconds());
            let Some((address, source)) = self
                .sticky_address(mac, prefix)
                .or(leased.map(|a| (a, AddressSource::Lease)))
            else {
                self.interfaces[i].verdict = Verdict::WaitingForLease;
                continue;
            };
            let iface = &mut self.interfaces[i];
            iface.address = Some(address);
            iface.address_source = Some(source);
            if let Some(lease) = leased.filter(|l| *l != address) {
                iface.lease_mismatch = Some(lease);
                let note = format!(
                    "interface {} ({mac}) keeps its reserved address {address}; its current lease is {lease} \
                     (reservations are sticky: delete the reservation to follow the lease)",
                    iface.name
                );
                self.events.push(PlannedEvent::new(
                    EventType::Warning,
                    "LeaseMismatch",
                    "Reserve",
                    note,
                ));
            }
        }
        // Two interfaces of this NC wanting one address: the stronger claim keeps it (an existing
        // reservation over a recorded one over a lease), then spec order.
        let mut order: Vec<usize> = (0..self.interfaces.len())
            .filter(|i| {
                self.interfaces[*i].verdict == Verdict::Proceed && self.interfaces[*i].address.is_some()
            })
            .collect();
        order.sort_by_key(|i| {
            (
                self.interfaces[*i].address_source.map(|s| self.source_rank(s)),
                *i,
            )
        });
        let mut taken: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
        for i in order {
            let Some(address) = self.interfaces[i].address else {
                continue;
            };
            if let Some(other) = taken.get(&address) {
                let message = format!(
                    "address {address} is also wanted by interface {other} of this NetworkConfiguration"
                );
                self.conflict(i, message);
            } else {
                taken.insert(address, self.interfaces[i].name.clone());
            }
        }
    }

    /// Strength of an address claim: lower wins.
    fn source_rank(&self, source: AddressSource) -> (u8, bool) {
        let not_active = |s: ServerId| Some(s) != self.input.active;
        match source {
            AddressSource::Reservation(s) => (0, not_active(s)),
            AddressSource::Annotation(s) => (1, not_active(s)),
            AddressSource::TakeOver(s) => (2, not_active(s)),
            AddressSource::Lease => (3, false),
        }
    }

    fn conflict(&mut self, i: usize, message: String) {
        self.events.push(PlannedEvent::new(
            EventType::Warning,
            "Conflict",
            "Reserve",
            format!("interface {}: {message}", self.interfaces[i].name),
        ));
        self.interfaces[i].verdict = Verdict::Conflict { message };
    }

    /// The same MAC declared by several NCs: the oldest (creationTimestamp, then uid) owns it.
    fn older_claimant(&self, mac: Mac) -> Option<String> {
        let me = self.input.nc.seniority();
        self.input
            .claims
            .iter()
            .filter(|c| c.mac == mac && (c.created, c.uid.as_str()) < me)
            .min_by(|a, b| (a.created, &a.uid).cmp(&(b.created, &b.uid)))
            .map(|c| {
                format!(
                    "MAC {mac} is also declared by {}, which is older and owns it",
                    c.owner
                )
            })
    }

    /// Sticky reservations: an owned host (active server first), then the annotation, then a host of
    /// another NC of this instance that this NC takes over. Only addresses inside the prefix count:
    /// outside it the reservation is stale (the prefix changed) and is removed.
    fn sticky_address(&self, mac: Mac, prefix: Ipv4Net) -> Option<(Ipv4Addr, AddressSource)> {
        let (instance, uid) = (&self.input.instance, &self.input.nc.uid);
        let hosts_where = |want_ours: bool| {
            self.known.iter().find_map(|k| {
                k.hosts
                    .iter()
                    .filter(|h| h.hw_address == mac && prefix.contains(&h.ip_address))
                    .filter(|h| match h.ownership(instance, uid) {
                        Ownership::Ours => want_ours,
                        Ownership::OursOtherNc { .. } => !want_ours,
                        _ => false,
                    })
                    .map(|h| (h.ip_address, k.id))
                    .next()
            })
        };
        if let Some((ip, server)) = hosts_where(true) {
            return Some((ip, AddressSource::Reservation(server)));
        }
        for server in self.input.servers_active_first() {
            if let Some(ip) = self
                .input
                .annotation
                .addresses(server.id, mac)
                .find(|ip| prefix.contains(ip))
            {
                return Some((ip, AddressSource::Annotation(server.id)));
            }
        }
        hosts_where(false).map(|(ip, server)| (ip, AddressSource::TakeOver(server)))
    }

    /// Step 3 per interface: the subnet on every server, and the desired host there.
    pub(super) fn resolve_servers(&mut self) -> BTreeMap<(ServerId, SubnetId, Mac), Wanted> {
        let mut wanted = BTreeMap::new();
        let Some(prefix) = self.prefix else {
            return wanted;
        };
        let mut servers: Vec<&ServerInput> = self.input.servers.iter().collect();
        servers.sort_by_key(|s| s.id);
        servers.dedup_by_key(|s| s.id);
        for (i, iface) in self.interfaces.iter_mut().enumerate() {
            let (Verdict::Proceed, Some(mac), Some(address)) = (&iface.verdict, iface.mac, iface.address)
            else {
                continue;
            };
            for server in &servers {
                let (subnet, outcome) = match &server.state {
                    ServerState::Unavailable { reason, message } => (
                        None,
                        ServerOutcome::Failed {
                            reason: *reason,
                            message: message.clone(),
                        },
                    ),
                    ServerState::Available { subnets, .. } => {
                        match match_subnet(subnets, prefix, Some(address)) {
                            Err(e) => (
                                None,
                                ServerOutcome::Failed {
                                    reason: Reason::SubnetNotFound,
                                    message: e.to_string(),
                                },
                            ),
                            Ok(subnet) => {
                                let marker = OwnerMarker::new(
                                    &self.input.instance,
                                    &self.owner,
                                    &self.input.nc.uid,
                                    &iface.name,
                                );
                                let host = Host {
                                    subnet_id: subnet.id,
                                    hw_address: mac,
                                    ip_address: address,
                                    hostname: None,
                                    user_context: Some(marker.merge_into(None)),
                                    source: None,
                                };
                                wanted.insert((server.id, subnet.id, mac), Wanted { iface: i, host });
                                (Some(subnet.id), ServerOutcome::InSync)
                            }
                        }
                    }
                };
                iface.servers.push(ServerPlan {
                    server: server.id,
                    subnet,
                    outcome,
                });
            }
        }
        wanted
    }
}
