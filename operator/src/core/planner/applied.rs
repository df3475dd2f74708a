//! Results of executing a plan: the only way to the status, the final annotation and the Events
//! (a typestate: status can only be computed from applied results, never from intentions).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::output::{
    Action, ActionId, EventType, InterfacePlan, Plan, PlannedAction, PlannedEvent, ReplaceKind,
    ServerOutcome, Verdict, reserved_of,
};
use crate::core::annotation::{Reservations, Reserved};
use crate::core::error_class::Reason;
use crate::core::mac::Mac;
use crate::core::model::{Host, ServerId, SubnetId};
use crate::crd::InterfaceState;

/// What executing one action did. The executor maps Kea's answers:
/// `reservation-del` "not found" (result 3, from a server whose hosts database is up) is `Done`;
/// `reservation-add` refused because the address is reserved for another host — or a replace whose
/// address check found a holder — is `Conflict` (nothing changed); anything else is `Failed` with the
/// error's reason (`KeaUnavailable`, `AuthenticationFailed`, `PermissionDenied`, `SubnetNotFound`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Conflict {
        message: String,
    },
    /// The write may or may not have happened (a timeout after sending counts here).
    Failed {
        reason: Reason,
        message: String,
    },
    /// `DRY_RUN=true`: logged and counted, not sent.
    DryRun,
}

/// A plan together with the outcome of each of its actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    plan: Plan,
    results: BTreeMap<ActionId, Outcome>,
}

const NOT_EXECUTED: &str = "the action was not executed";

impl Plan {
    /// Records the outcome of every action. An action without a result counts as failed (it was
    /// not executed, e.g. the reconcile was cancelled), never as done.
    pub fn into_applied(self, results: impl IntoIterator<Item = (ActionId, Outcome)>) -> Applied {
        Applied {
            plan: self,
            results: results.into_iter().collect(),
        }
    }
}

/// One server's final result for one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerResult {
    pub server: ServerId,
    pub subnet: Option<SubnetId>,
    pub reserved: bool,
    /// Why not reserved.
    pub error: Option<(Reason, String)>,
}

/// The final state of one declared interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceResult {
    pub name: String,
    pub declared_mac: String,
    pub mac: Option<Mac>,
    /// Judged on the active server.
    pub state: InterfaceState,
    /// `Reserved` when reserved, else why not.
    pub reason: Reason,
    /// The desired (or reserved) address, when one is known.
    pub address: Option<Ipv4Addr>,
    /// The active server's subnet.
    pub subnet: Option<SubnetId>,
    pub message: String,
    pub servers: Vec<ServerResult>,
}

impl Applied {
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The recorded outcome of an action.
    pub fn outcome(&self, id: ActionId) -> Outcome {
        self.results.get(&id).cloned().unwrap_or(Outcome::Failed {
            reason: Reason::KeaUnavailable,
            message: NOT_EXECUTED.into(),
        })
    }

    /// The final state of every declared interface, in spec order.
    pub fn interfaces(&self) -> Vec<InterfaceResult> {
        self.plan
            .interfaces
            .iter()
            .map(|i| self.interface_result(i))
            .collect()
    }

    fn interface_result(&self, iface: &InterfacePlan) -> InterfaceResult {
        let mut result = InterfaceResult {
            name: iface.name.clone(),
            declared_mac: iface.declared_mac.clone(),
            mac: iface.mac,
            state: InterfaceState::Error,
            reason: Reason::KeaUnavailable,
            address: iface.address,
            subnet: None,
            message: String::new(),
            servers: Vec::new(),
        };
        let (state, reason, message) = match &iface.verdict {
            Verdict::InvalidMac { message } => {
                (InterfaceState::InvalidMac, Reason::InvalidSpec, message.clone())
            }
            Verdict::Conflict { message } => (InterfaceState::Conflict, Reason::Conflict, message.clone()),
            Verdict::Blocked { reason, message } => (InterfaceState::Error, *reason, message.clone()),
            Verdict::WaitingForLease => {
                let within = self.plan.prefix.map(|p| format!(" in {p}")).unwrap_or_default();
                let on = self.plan.active.map(|s| format!(" on {s}")).unwrap_or_default();
                let mac = iface.mac.map(|m| m.to_string()).unwrap_or_default();
                let text = format!("waiting for a current lease of {mac}{within}{on}; nothing reserved yet");
                (InterfaceState::WaitingForLease, Reason::WaitingForLease, text)
            }
            Verdict::Proceed => return self.proceed_result(iface, result),
        };
        result.state = state;
        result.reason = reason;
        result.message = message;
        result
    }

    fn proceed_result(&self, iface: &InterfacePlan, mut result: InterfaceResult) -> InterfaceResult {
        for plan in &iface.servers {
            let error = match &plan.outcome {
                ServerOutcome::InSync => None,
                ServerOutcome::Conflict { message } => Some((Reason::Conflict, message.clone())),
                ServerOutcome::Failed { reason, message } => Some((*reason, message.clone())),
                ServerOutcome::Pending(ids) => ids.iter().find_map(|id| match self.outcome(*id) {
                    Outcome::Done => None,
                    Outcome::Conflict { message } => Some((Reason::Conflict, message)),
                    Outcome::Failed { reason, message } => Some((reason, message)),
                    Outcome::DryRun => Some((Reason::DryRun, "dry run: the write was not sent".into())),
                }),
            };
            result.servers.push(ServerResult {
                server: plan.server,
                subnet: plan.subnet,
                reserved: error.is_none(),
                error,
            });
        }
        let address = iface.address.map(|a| a.to_string()).unwrap_or_default();
        let active = self
            .plan
            .active
            .and_then(|a| result.servers.iter().find(|s| s.server == a));
        let (state, reason, mut message) = match active {
            Some(ServerResult { reserved: true, .. }) => {
                let on: Vec<&str> = result
                    .servers
                    .iter()
                    .filter(|s| s.reserved)
                    .map(|s| s.server.as_str())
                    .collect();
                (
                    InterfaceState::Reserved,
                    Reason::Reserved,
                    format!("reserved {address} on {}", on.join(", ")),
                )
            }
            Some(ServerResult {
                error: Some((reason, text)),
                server,
                ..
            }) => {
                let state = if *reason == Reason::Conflict {
                    InterfaceState::Conflict
                } else {
                    InterfaceState::Error
                };
                (
                    state,
                    *reason,
                    format!("{address} not reserved on {server}: {text}"),
                )
            }
            _ => (
                InterfaceState::Error,
                Reason::KeaUnavailable,
                "the active Kea server has no result".into(),
            ),
        };
        for other in result
            .servers
            .iter()
            .filter(|s| Some(s.server) != self.plan.active)
        {
            if let Some((_, text)) = &other.error {
                message.push_str(&format!("; {}: {text}", other.server));
            }
        }
        if let Some(lease) = iface.lease_mismatch {
            message.push_str(&format!(
                "; the current lease is {lease} (the reservation is sticky)"
            ));
        }
        result.subnet = active.and_then(|s| s.subnet);
        result.state = state;
        result.reason = reason;
        result.message = message;
        result
    }

    /// The `kea.vitistack.io/reservations` annotation after the writes: per server that answered, the
    /// hosts of this NC that exist now (a failed write counts as possibly done, so it is looked up
    /// next time) and the recorded entries that are still an interface's desired address; servers
    /// that did not answer keep their previous entries.
    pub fn annotation(&self) -> Reservations {
        let mut out = self.plan.previous_annotation.clone();
        if self.plan.blocked.is_some() {
            return out;
        }
        let desired: Vec<(Mac, Ipv4Addr)> = self
            .plan
            .interfaces
            .iter()
            .filter(|i| matches!(i.verdict, Verdict::Proceed | Verdict::Conflict { .. }))
            .filter_map(|i| Some((i.mac?, i.address?)))
            .collect();
        for server in self
            .plan
            .servers
            .iter()
            .filter(|s| !self.plan.unavailable.contains(s))
        {
            let mut entries: Vec<Host> = self
                .plan
                .owned_before
                .iter()
                .filter(|(s, _)| s == server)
                .map(|(_, h)| h.clone())
                .collect();
            for planned in self.plan.actions.iter().filter(|a| a.server == *server) {
                let outcome = self.outcome(planned.id);
                let (remove, add) = match outcome {
                    Outcome::Done => (true, true),
                    Outcome::Failed { .. } => (false, true),
                    Outcome::Conflict { .. } | Outcome::DryRun => (false, false),
                };
                if remove && let Some(old) = planned.action.removed_host() {
                    entries.retain(|h| !(h.subnet_id == old.subnet_id && h.hw_address == old.hw_address));
                }
                if add && let Some(new) = planned.action.result_host() {
                    entries.push(new.clone());
                }
            }
            let mut reserved: Vec<Reserved> = entries.iter().map(reserved_of).collect();
            // A recorded address that is still the interface's desired one stays recorded even when
            // it could not be (re)written here (subnet missing, conflict): it is what keeps the
            // reservation sticky until it can be. (An interface whose MAC an older NC owns has no
            // address, so its entries go.)
            reserved.extend(
                self.plan
                    .previous_annotation
                    .server(*server)
                    .filter(|e| desired.contains(&(e.mac, e.ip)))
                    .copied(),
            );
            out.set_server(*server, reserved);
        }
        out
    }

    /// Every Event to publish: the plan's (lease mismatches, conflicts, invalid MACs) and one per write.
    pub fn events(&self) -> Vec<PlannedEvent> {
        let mut events = self.plan.events.clone();
        for planned in &self.plan.actions {
            events.push(self.action_event(planned, self.outcome(planned.id)));
        }
        events
    }

    fn action_event(&self, planned: &PlannedAction, outcome: Outcome) -> PlannedEvent {
        let server = planned.server;
        let describe = |h: &Host| {
            let iface = planned
                .interface
                .clone()
                .or_else(|| h.marker().map(|m| m.interface))
                .map(|i| format!(" ({i})"))
                .unwrap_or_default();
            format!("{}{iface} in subnet {} on {server}", h.hw_address, h.subnet_id)
        };
        // (reason, action, what was done, what was to be done)
        let (reason, action, done, todo) = match &planned.action {
            Action::Add { host } => {
                let what = format!("{} for {}", host.ip_address, describe(host));
                (
                    "ReservationCreated",
                    "Reserve",
                    format!("reserved {what}"),
                    format!("reserve {what}"),
                )
            }
            Action::Delete { host } => {
                let what = format!("the reservation {} of {}", host.ip_address, describe(host));
                (
                    "ReservationDeleted",
                    "Delete",
                    format!("deleted {what}"),
                    format!("delete {what}"),
                )
            }
            Action::Adopt { new, .. } => {
                let what = format!(
                    "the earlier operator's reservation {} of {}",
                    new.ip_address,
                    describe(new)
                );
                (
                    "ReservationAdopted",
                    "Adopt",
                    format!("adopted {what}"),
                    format!("adopt {what}"),
                )
            }
            Action::Replace { old, new, kind } => {
                let (reason, verb, past, object) = match kind {
                    ReplaceKind::Address => (
                        "ReservationReplaced",
                        "move",
                        "moved",
                        format!(
                            "the reservation of {} from {} to {}",
                            describe(new),
                            old.ip_address,
                            new.ip_address
                        ),
                    ),
                    ReplaceKind::Marker => (
                        "ReservationUpdated",
                        "update",
                        "updated",
                        format!("the owner marker of {} {}", describe(new), new.ip_address),
                    ),
                    ReplaceKind::TakeOver { from_owner, .. } => (
                        "ReservationTakenOver",
                        "take over",
                        "took over",
                        format!("{} {} from {from_owner}", describe(new), new.ip_address),
                    ),
                };
                (
                    reason,
                    "Replace",
                    format!("{past} {object}"),
                    format!("{verb} {object}"),
                )
            }
        };
        match outcome {
            Outcome::Done => PlannedEvent::new(EventType::Normal, reason, action, done),
            Outcome::DryRun => PlannedEvent::new(
                EventType::Normal,
                "DryRun",
                action,
                format!("dry run, not sent: {todo}"),
            ),
            Outcome::Conflict { message } => PlannedEvent::new(
                EventType::Warning,
                "Conflict",
                action,
                format!("could not {todo}: {message}"),
            ),
            Outcome::Failed { message, .. } => PlannedEvent::new(
                EventType::Warning,
                "ReservationFailed",
                action,
                format!("could not {todo}: {message}"),
            ),
        }
    }
}
