//! What [`super::plan`] returns: the Kea writes per server and the expected state of every interface.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::core::annotation::Reservations;
use crate::core::error_class::Reason;
use crate::core::mac::Mac;
use crate::core::model::{Host, ServerId, SubnetId};

/// Identifies an action of one plan; results are recorded against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionId(pub usize);

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A Kea write on one server.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `reservation-add`. Kea refusing because the address is reserved for another host is a conflict.
    Add { host: Host },
    /// `reservation-del` by (subnet-id, hw-address); "not found" (result 3) counts as done.
    Delete { host: Host },
    /// Change a host of ours (new address, updated marker, or taken over from another NC of this
    /// instance): when `new.ip_address` differs from `old.ip_address`, first check with
    /// `reservation-get-by-address` that no other host holds it (if one does: conflict, nothing
    /// changed); then `reservation-del` + `reservation-add` (never `reservation-update`, SPEC §2).
    Replace { old: Host, new: Host, kind: ReplaceKind },
    /// Re-add an unmarked host equal to the desired one (the Go operator's) with our marker:
    /// `reservation-del` + `reservation-add`, same address.
    Adopt { old: Host, new: Host },
}

/// Why a host of this instance is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceKind {
    /// Same owner, another address (servers disagreed: the active server's address wins).
    Address,
    /// Same address, the marker changes (interface renamed, NC renamed/recreated with this uid).
    Marker,
    /// Marked by another NC of this instance that no longer owns the MAC (younger or gone).
    TakeOver { from_owner: String, from_uid: String },
}

impl Action {
    /// The (subnet, MAC) the action acts on.
    pub fn key(&self) -> (SubnetId, Mac) {
        let host = match self {
            Action::Add { host } | Action::Delete { host } => host,
            Action::Replace { new, .. } | Action::Adopt { new, .. } => new,
        };
        (host.subnet_id, host.hw_address)
    }

    /// The host present afterwards, if the action succeeds.
    pub fn result_host(&self) -> Option<&Host> {
        match self {
            Action::Add { host } => Some(host),
            Action::Delete { .. } => None,
            Action::Replace { new, .. } | Action::Adopt { new, .. } => Some(new),
        }
    }

    /// The host removed, if the action succeeds.
    pub fn removed_host(&self) -> Option<&Host> {
        match self {
            Action::Add { .. } => None,
            Action::Delete { host } => Some(host),
            Action::Replace { old, .. } | Action::Adopt { old, .. } => Some(old),
        }
    }

    /// Bounded label for metrics (`operation`) and logs.
    pub fn operation(&self) -> &'static str {
        match self {
            Action::Add { .. } => "add",
            Action::Delete { .. } => "delete",
            Action::Replace { .. } => "replace",
            Action::Adopt { .. } => "adopt",
        }
    }
}

/// One action of a plan, in execution order within its server.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAction {
    pub id: ActionId,
    pub server: ServerId,
    pub action: Action,
    /// The spec interface it serves; `None` for the removal of a host no interface wants.
    pub interface: Option<String>,
}

/// Where the desired address of an interface comes from (SPEC §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// An existing reservation of this NC on that server (sticky).
    Reservation(ServerId),
    /// The annotation records it for that server (sticky across a wiped server).
    Annotation(ServerId),
    /// A host of another NC of this instance that this NC takes over.
    TakeOver(ServerId),
    /// The newest current lease on the active server.
    Lease,
}

/// The interface-level verdict, before any server is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An address is desired; the per-server outcomes say what happens.
    Proceed,
    /// No reservation of ours and no current lease in the prefix: nothing is written.
    WaitingForLease,
    /// Malformed or duplicate MAC.
    InvalidMac { message: String },
    /// The MAC belongs to an older NC, or the address to another interface of this NC.
    Conflict { message: String },
    /// Nothing could be planned for the NC (no prefix, no usable server).
    Blocked { reason: Reason, message: String },
}

/// What happens on one server for one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOutcome {
    /// The desired host is there already.
    InSync,
    /// These actions (usually one; a delete and an add when an address swap had to be split) will make
    /// it so, if they all succeed.
    Pending(Vec<ActionId>),
    /// A host not ours holds the (subnet, MAC), or another host holds the address: never overwritten.
    Conflict { message: String },
    /// The server is unavailable or has no matching subnet.
    Failed { reason: Reason, message: String },
}

/// The plan for one server and one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPlan {
    pub server: ServerId,
    /// The subnet resolved on that server, when one was.
    pub subnet: Option<SubnetId>,
    pub outcome: ServerOutcome,
}

/// The plan for one declared interface, in spec order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfacePlan {
    pub name: String,
    /// The MAC as declared.
    pub declared_mac: String,
    /// The normalized MAC, when valid.
    pub mac: Option<Mac>,
    pub verdict: Verdict,
    /// The desired address (with `Proceed`), or the address found when in conflict.
    pub address: Option<Ipv4Addr>,
    pub address_source: Option<AddressSource>,
    /// A current lease on another address than the sticky one (reported, never followed).
    pub lease_mismatch: Option<Ipv4Addr>,
    /// One entry per configured server with `Proceed`; empty otherwise.
    pub servers: Vec<ServerPlan>,
}

/// Normal or Warning, as Kubernetes Events are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

/// A Kubernetes Event to publish on the NC. `reason` and `action` are bounded (CamelCase words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub type_: EventType,
    pub reason: &'static str,
    pub action: &'static str,
    /// Human text, at most [`MAX_NOTE`] bytes.
    pub note: String,
}

/// Kubernetes keeps Event notes short; error chains are cut here (SPEC: 1 KiB).
pub const MAX_NOTE: usize = 1024;

impl PlannedEvent {
    pub(crate) fn new(type_: EventType, reason: &'static str, action: &'static str, note: String) -> Self {
        PlannedEvent {
            type_,
            reason,
            action,
            note: truncate_text(note, MAX_NOTE),
        }
    }
}

/// Cuts `text` to at most `max` bytes on a char boundary, marking the cut (Event notes, messages).
pub fn truncate_text(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
    text
}

/// The result of planning one NC: actions to execute, expected interface states, Events. Only
/// [`super::plan`] makes one, and only [`Plan::into_applied`](super::Plan::into_applied) turns it
/// into the input of status computation.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub(crate) nc_owner: String,
    pub(crate) instance: String,
    pub(crate) servers: Vec<ServerId>,
    pub(crate) unavailable: Vec<ServerId>,
    pub(crate) active: Option<ServerId>,
    pub(crate) prefix: Option<Ipv4Net>,
    pub(crate) generation: Option<i64>,
    pub(crate) blocked: Option<(Reason, String)>,
    pub(crate) interfaces: Vec<InterfacePlan>,
    pub(crate) actions: Vec<PlannedAction>,
    pub(crate) events: Vec<PlannedEvent>,
    /// Owned hosts known per available server before the actions (for the annotation).
    pub(crate) owned_before: Vec<(ServerId, Host)>,
    pub(crate) previous_annotation: Reservations,
}

impl Plan {
    /// The writes, grouped by server (primary first) and in execution order within a server: deletes,
    /// then replaces (ordered so an address is vacated before it is taken), adoptions, adds. Execute
    /// one server's actions in this order; servers are independent of each other.
    pub fn actions(&self) -> &[PlannedAction] {
        &self.actions
    }

    /// The actions of one server, in execution order.
    pub fn actions_for(&self, server: ServerId) -> impl Iterator<Item = &PlannedAction> {
        self.actions.iter().filter(move |a| a.server == server)
    }

    pub fn is_noop(&self) -> bool {
        self.actions.is_empty()
    }

    pub fn interfaces(&self) -> &[InterfacePlan] {
        &self.interfaces
    }

    /// Events known before executing (lease mismatches, conflicts, invalid MACs). Events about the
    /// writes come from [`super::Applied::events`], which includes these.
    pub fn events(&self) -> &[PlannedEvent] {
        &self.events
    }

    /// Why nothing could be planned at all (no prefix, no usable server), if so.
    pub fn blocked(&self) -> Option<(Reason, &str)> {
        self.blocked.as_ref().map(|(r, m)| (*r, m.as_str()))
    }

    pub fn prefix(&self) -> Option<Ipv4Net> {
        self.prefix
    }

    pub fn active(&self) -> Option<ServerId> {
        self.active
    }

    /// The annotation to write *before* executing, so a crash mid-way still leaves a record of every
    /// host that may exist: the previous entries plus every host the actions may create.
    pub fn intent_annotation(&self) -> Reservations {
        let mut out = self.previous_annotation.clone();
        for (server, host) in &self.owned_before {
            out.insert(*server, reserved_of(host));
        }
        for planned in &self.actions {
            if let Some(host) = planned.action.result_host() {
                out.insert(planned.server, reserved_of(host));
            }
        }
        out
    }
}

pub(crate) fn reserved_of(host: &Host) -> crate::core::annotation::Reserved {
    crate::core::annotation::Reserved {
        subnet_id: host.subnet_id,
        mac: host.hw_address,
        ip: host.ip_address,
    }
}
