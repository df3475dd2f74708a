//! Test support for the planner: a fixture builder for [`PlanInput`] and a tiny in-memory Kea host
//! store that applies actions with Kea's rules (one host per (subnet, MAC), one per (subnet, address)).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use jiff::Timestamp;
use kea_operator::core::annotation::Reservations;
use kea_operator::core::error_class::Reason;
use kea_operator::core::marker::OwnerMarker;
use kea_operator::core::namespace::PrefixError;
use kea_operator::core::planner::{
    Action, ActionId, MacClaim, NcIdentity, Outcome, Plan, PlanInput, PlannedAction, ServerInput, ServerState,
};
use kea_operator::core::{Host, Lease, Mac, ServerId, Subnet, SubnetId};
use kea_operator::crd::NetworkInterface;

pub const INSTANCE: &str = "prod";
pub const UID: &str = "uid-vm-1";
pub const OWNER: &str = "tenant-a/vm-1";
/// "Now" of every fixture: 2026-01-10T00:00:00Z.
pub const NOW: i64 = 1_768_003_200;

pub fn mac(last: u8) -> Mac {
    Mac::from_octets([0xaa, 0xbb, 0xcc, 0xdd, 0xee, last])
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("test address")
}

pub fn net(s: &str) -> Ipv4Net {
    s.parse().expect("test prefix")
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

pub fn subnet(id: u32, prefix: &str) -> Subnet {
    Subnet {
        id: SubnetId(id),
        prefix: net(prefix),
        shared_network: None,
    }
}

pub fn identity() -> NcIdentity {
    NcIdentity {
        namespace: "tenant-a".into(),
        name: "vm-1".into(),
        uid: UID.into(),
        created: ts("2026-01-02T00:00:00Z"),
        generation: Some(4),
    }
}

/// A host marked by this NC for `interface`.
pub fn ours(subnet: u32, m: Mac, addr: &str, interface: &str) -> Host {
    marked(subnet, m, addr, OwnerMarker::new(INSTANCE, OWNER, UID, interface))
}

pub fn marked(subnet: u32, m: Mac, addr: &str, marker: OwnerMarker) -> Host {
    Host {
        subnet_id: SubnetId(subnet),
        hw_address: m,
        ip_address: ip(addr),
        hostname: None,
        user_context: Some(marker.merge_into(None)),
        source: None,
    }
}

pub fn unmarked(subnet: u32, m: Mac, addr: &str) -> Host {
    Host {
        subnet_id: SubnetId(subnet),
        hw_address: m,
        ip_address: ip(addr),
        hostname: None,
        user_context: None,
        source: None,
    }
}

pub fn lease(m: Mac, addr: &str, cltt_ago: i64) -> Lease {
    let cltt = u64::try_from(NOW - cltt_ago).expect("positive");
    Lease {
        ip_address: ip(addr),
        hw_address: m,
        subnet_id: SubnetId(1),
        cltt,
        valid_lft: 3600,
        state: 0,
        hostname: None,
    }
}

/// Builds a [`PlanInput`]: by default NC `tenant-a/vm-1`, prefix 10.100.1.0/24, primary with subnet 1
/// (10.100.0.0/16) active, secondary with subnet 7 (same network).
#[derive(Clone)]
pub struct Fixture {
    pub input: PlanInput,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            input: PlanInput {
                nc: identity(),
                interfaces: Vec::new(),
                prefix: Ok(net("10.100.1.0/24")),
                servers: vec![
                    ServerInput {
                        id: ServerId::Primary,
                        state: ServerState::Available {
                            subnets: vec![subnet(1, "10.100.0.0/16")],
                            hosts: vec![],
                        },
                    },
                    ServerInput {
                        id: ServerId::Secondary,
                        state: ServerState::Available {
                            subnets: vec![subnet(7, "10.100.0.0/16")],
                            hosts: vec![],
                        },
                    },
                ],
                active: Some(ServerId::Primary),
                leases: Vec::new(),
                annotation: Reservations::default(),
                instance: INSTANCE.into(),
                claims: Vec::new(),
                legacy_finalizer: false,
                now: Timestamp::from_second(NOW).expect("valid now"),
            },
        }
    }

    pub fn single_server(mut self) -> Self {
        self.input.servers.retain(|s| s.id == ServerId::Primary);
        self
    }

    pub fn interface(mut self, name: &str, mac: &str) -> Self {
        self.input.interfaces.push(NetworkInterface {
            name: name.into(),
            mac_address: mac.into(),
        });
        self
    }

    pub fn prefix(mut self, prefix: &str) -> Self {
        self.input.prefix = Ok(net(prefix));
        self
    }

    pub fn prefix_error(mut self, err: PrefixError) -> Self {
        self.input.prefix = Err(err);
        self
    }

    pub fn lease(mut self, lease: Lease) -> Self {
        self.input.leases.push(lease);
        self
    }

    pub fn host(mut self, server: ServerId, host: Host) -> Self {
        if let Some(ServerState::Available { hosts, .. }) = self.state_mut(server) {
            hosts.push(host);
        }
        self
    }

    pub fn subnets(mut self, server: ServerId, subnets: Vec<Subnet>) -> Self {
        if let Some(ServerState::Available { subnets: s, .. }) = self.state_mut(server) {
            *s = subnets;
        }
        self
    }

    pub fn unavailable(mut self, server: ServerId, reason: Reason, message: &str) -> Self {
        if let Some(state) = self.state_mut(server) {
            *state = ServerState::Unavailable {
                reason,
                message: message.into(),
            };
        }
        self
    }

    pub fn active(mut self, server: Option<ServerId>) -> Self {
        self.input.active = server;
        self
    }

    pub fn annotation(mut self, server: ServerId, subnet: u32, m: Mac, addr: &str) -> Self {
        self.input.annotation.insert(
            server,
            kea_operator::core::annotation::Reserved {
                subnet_id: SubnetId(subnet),
                mac: m,
                ip: ip(addr),
            },
        );
        self
    }

    pub fn claim(mut self, m: Mac, uid: &str, owner: &str, created: &str) -> Self {
        self.input.claims.push(MacClaim {
            mac: m,
            uid: uid.into(),
            owner: owner.into(),
            created: ts(created),
        });
        self
    }

    pub fn legacy(mut self) -> Self {
        self.input.legacy_finalizer = true;
        self
    }

    fn state_mut(&mut self, server: ServerId) -> Option<&mut ServerState> {
        self.input
            .servers
            .iter_mut()
            .find(|s| s.id == server)
            .map(|s| &mut s.state)
    }

    pub fn plan(&self) -> Plan {
        kea_operator::core::planner::plan(&self.input)
    }
}

/// A Kea server's host store with Kea's uniqueness rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeaModel {
    pub hosts: BTreeMap<(SubnetId, Mac), Host>,
    /// Subnets configured (adds into others fail like Kea's "subnet not configured").
    pub subnets: Vec<Subnet>,
}

impl KeaModel {
    pub fn new(subnets: Vec<Subnet>, hosts: &[Host]) -> Self {
        let mut model = KeaModel {
            hosts: BTreeMap::new(),
            subnets,
        };
        for h in hosts {
            let _ = model.add(h.clone());
        }
        model
    }

    pub fn address_holder(&self, subnet: SubnetId, addr: Ipv4Addr) -> Option<&Host> {
        self.hosts
            .values()
            .find(|h| h.subnet_id == subnet && h.ip_address == addr)
    }

    /// `reservation-add`.
    pub fn add(&mut self, host: Host) -> Outcome {
        if !self.subnets.iter().any(|s| s.id == host.subnet_id) {
            return Outcome::Failed {
                reason: Reason::SubnetNotFound,
                message: "subnet not configured".into(),
            };
        }
        if self.hosts.contains_key(&(host.subnet_id, host.hw_address)) {
            return Outcome::Conflict {
                message: "this host has already been added".into(),
            };
        }
        if self.address_holder(host.subnet_id, host.ip_address).is_some() {
            return Outcome::Conflict {
                message: "There's already a reservation for this address".into(),
            };
        }
        self.hosts.insert((host.subnet_id, host.hw_address), host);
        Outcome::Done
    }

    /// `reservation-del`; "not found" counts as done.
    pub fn delete(&mut self, host: &Host) -> Outcome {
        self.hosts.remove(&(host.subnet_id, host.hw_address));
        Outcome::Done
    }

    /// Executes one planned action as the controller's executor does.
    pub fn apply(&mut self, action: &Action) -> Outcome {
        match action {
            Action::Add { host } => self.add(host.clone()),
            Action::Delete { host } => self.delete(host),
            Action::Adopt { old, new } => {
                self.delete(old);
                self.add(new.clone())
            }
            Action::Replace { old, new, .. } => {
                if old.ip_address != new.ip_address
                    && let Some(holder) = self.address_holder(new.subnet_id, new.ip_address)
                    && holder.hw_address != new.hw_address
                {
                    return Outcome::Conflict {
                        message: "address reserved for another host".into(),
                    };
                }
                self.delete(old);
                self.add(new.clone())
            }
        }
    }

    pub fn host_list(&self) -> Vec<Host> {
        self.hosts.values().cloned().collect()
    }
}

/// Applies every action of `plan` to the models (by server), returning the outcomes.
pub fn apply_all(
    actions: &[PlannedAction],
    models: &mut BTreeMap<ServerId, KeaModel>,
) -> Vec<(ActionId, Outcome)> {
    actions
        .iter()
        .map(|a| {
            let outcome = match models.get_mut(&a.server) {
                Some(model) => model.apply(&a.action),
                None => Outcome::Failed {
                    reason: Reason::KeaUnavailable,
                    message: "no model".into(),
                },
            };
            (a.id, outcome)
        })
        .collect()
}

/// Every action of the plan succeeded.
pub fn done(plan: &Plan) -> Vec<(ActionId, Outcome)> {
    plan.actions().iter().map(|a| (a.id, Outcome::Done)).collect()
}
