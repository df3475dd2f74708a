//! The reconcile planning rules of SPEC §2, steps 1–6.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;

use super::input::{PlanInput, ServerState};
use super::order::order_server_actions;
use super::output::{Action, ActionId, InterfacePlan, Plan, PlannedAction, PlannedEvent, ServerOutcome};
use crate::core::error_class::Reason;
use crate::core::mac::Mac;
use crate::core::marker::Ownership;
use crate::core::model::{Host, ServerId, SubnetId};

/// Computes the plan for one NC. Pure and total: any input gives a plan, never a panic.
pub fn plan(input: &PlanInput) -> Plan {
    let mut b = Builder::new(input);
    b.validate_interfaces();
    if let Some((reason, message)) = b.blocked_reason() {
        b.block(reason, message);
        return b.finish(Vec::new());
    }
    b.resolve_addresses();
    let wanted = b.resolve_servers();
    let tentative = b.compare(&wanted);
    b.finish(tentative)
}

/// What is known of one available server.
pub(super) struct Known<'a> {
    pub(super) id: ServerId,
    pub(super) hosts: Vec<&'a Host>,
    pub(super) by_key: BTreeMap<(SubnetId, Mac), &'a Host>,
}

/// A desired host on one server, for one interface.
pub(super) struct Wanted {
    pub(super) iface: usize,
    pub(super) host: Host,
}

/// What to do at one desired key: nothing (`Ok(None)`), an action, or a conflict message.
pub(super) type Decision = Result<Option<Action>, String>;

/// An action before ordering, with the interface it serves (index into `interfaces`).
pub(super) struct Tentative {
    pub(super) server: ServerId,
    pub(super) action: Action,
    pub(super) iface: Option<usize>,
}

pub(super) struct Builder<'a> {
    pub(super) input: &'a PlanInput,
    pub(super) prefix: Option<Ipv4Net>,
    pub(super) known: Vec<Known<'a>>,
    pub(super) interfaces: Vec<InterfacePlan>,
    pub(super) events: Vec<PlannedEvent>,
    pub(super) blocked: Option<(Reason, String)>,
    pub(super) owner: String,
    /// MACs an older NC owns: this NC's hosts for them are released (deleted).
    pub(super) released: BTreeSet<Mac>,
}

impl<'a> Builder<'a> {
    fn new(input: &'a PlanInput) -> Self {
        let mut known = Vec::new();
        for server in input.servers_active_first() {
            if let ServerState::Available { hosts, .. } = &server.state {
                let mut by_key = BTreeMap::new();
                for host in hosts {
                    // A host listed twice (several lookups) is one host; Kea answers memory first.
                    by_key.entry((host.subnet_id, host.hw_address)).or_insert(host);
                }
                known.push(Known {
                    id: server.id,
                    hosts: by_key.values().copied().collect(),
                    by_key,
                });
            }
        }
        Builder {
            input,
            prefix: input.prefix.as_ref().ok().map(|p| p.trunc()),
            known,
            interfaces: Vec::new(),
            events: Vec::new(),
            blocked: None,
            owner: input.nc.owner(),
            released: BTreeSet::new(),
        }
    }

    pub(super) fn known(&self, id: ServerId) -> Option<&Known<'a>> {
        self.known.iter().find(|k| k.id == id)
    }

    /// Orders each server's actions, numbers them, and links them to the interfaces they serve.
    fn finish(self, tentative: Vec<Tentative>) -> Plan {
        let mut interfaces = self.interfaces;
        let mut actions: Vec<PlannedAction> = Vec::new();
        let mut servers: Vec<ServerId> = self.input.servers.iter().map(|s| s.id).collect();
        servers.sort();
        servers.dedup();
        let mut by_server: BTreeMap<ServerId, Vec<Tentative>> = BTreeMap::new();
        for t in tentative {
            by_server.entry(t.server).or_default().push(t);
        }
        for (server, mine) in by_server {
            for (action, iface) in order_server_actions(mine) {
                let id = ActionId(actions.len());
                let plan = iface
                    .and_then(|i| interfaces.get_mut(i))
                    .and_then(|p| p.servers.iter_mut().find(|s| s.server == server));
                if let Some(plan) = plan {
                    match &mut plan.outcome {
                        ServerOutcome::Pending(ids) => ids.push(id),
                        other => *other = ServerOutcome::Pending(vec![id]),
                    }
                }
                let interface = iface.and_then(|i| interfaces.get(i)).map(|p| p.name.clone());
                actions.push(PlannedAction {
                    id,
                    server,
                    action,
                    interface,
                });
            }
        }
        let (instance, uid) = (&self.input.instance, &self.input.nc.uid);
        let owned_before = self
            .known
            .iter()
            .flat_map(|k| k.hosts.iter().map(move |h| (k.id, *h)))
            .filter(|(_, h)| h.ownership(instance, uid) == Ownership::Ours)
            .map(|(s, h)| (s, h.clone()))
            .collect();
        let unavailable = self
            .input
            .servers
            .iter()
            .filter(|s| matches!(s.state, ServerState::Unavailable { .. }))
            .map(|s| s.id)
            .collect();
        Plan {
            nc_owner: self.owner,
            instance: self.input.instance.clone(),
            servers,
            unavailable,
            active: self.input.active,
            prefix: self.prefix,
            generation: self.input.nc.generation,
            blocked: self.blocked,
            interfaces,
            actions,
            events: self.events,
            owned_before,
            previous_annotation: self.input.annotation.clone(),
        }
    }
}
