//! SPEC §2.7: on deletion, remove exactly the hosts this NC owns (its uid in our marker), on every
//! server. The controller reads the keys of [`super::host_lookup_keys`] (annotation entries, and the
//! spec's MACs when the prefix is still known), plans, executes (result 3 counts as done), and
//! releases the finalizer when [`DeletionResult::complete`] — or when `KEA_CLEANUP_TIMEOUT_SECONDS`
//! has passed, leaving the rest to the sweep.

use std::collections::BTreeMap;

use super::applied::Outcome;
use super::input::{NcIdentity, ServerInput, ServerState};
use super::output::{Action, ActionId, EventType, PlannedAction, PlannedEvent};
use crate::core::error_class::Reason;
use crate::core::marker::Ownership;
use crate::core::model::ServerId;

/// The deletes to run before the finalizer may go.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletionPlan {
    actions: Vec<PlannedAction>,
    unavailable: Vec<(ServerId, Reason, String)>,
}

/// Where a deletion stands after executing its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionResult {
    /// Every configured server answered and every owned host is gone: release the finalizer.
    pub complete: bool,
    /// Per server still holding (or possibly holding) hosts of this NC: why.
    pub remaining: Vec<(ServerId, Reason, String)>,
    pub events: Vec<PlannedEvent>,
}

/// Plans the removal of every host in `servers`' known hosts that carries this NC's uid in this
/// instance's marker. Hosts of anyone else are never touched.
pub fn plan_deletion(nc: &NcIdentity, instance: &str, servers: &[ServerInput]) -> DeletionPlan {
    let mut actions = Vec::new();
    let mut unavailable = Vec::new();
    let mut sorted: Vec<&ServerInput> = servers.iter().collect();
    sorted.sort_by_key(|s| s.id);
    sorted.dedup_by_key(|s| s.id);
    for server in sorted {
        match &server.state {
            ServerState::Unavailable { reason, message } => {
                unavailable.push((server.id, *reason, message.clone()))
            }
            ServerState::Available { hosts, .. } => {
                let mut owned: BTreeMap<_, _> = BTreeMap::new();
                for host in hosts
                    .iter()
                    .filter(|h| h.ownership(instance, &nc.uid) == Ownership::Ours)
                {
                    owned.entry((host.subnet_id, host.hw_address)).or_insert(host);
                }
                for host in owned.into_values() {
                    let interface = host.marker().map(|m| m.interface);
                    actions.push(PlannedAction {
                        id: ActionId(actions.len()),
                        server: server.id,
                        action: Action::Delete { host: host.clone() },
                        interface,
                    });
                }
            }
        }
    }
    DeletionPlan { actions, unavailable }
}

impl DeletionPlan {
    /// The deletes, grouped by server.
    pub fn actions(&self) -> &[PlannedAction] {
        &self.actions
    }

    /// Servers that could not be read: cleanup cannot complete until they answer (or the timeout).
    pub fn unavailable(&self) -> &[(ServerId, Reason, String)] {
        &self.unavailable
    }

    /// Records outcomes (missing ones count as failed) and says whether cleanup is complete.
    pub fn finish(&self, results: impl IntoIterator<Item = (ActionId, Outcome)>) -> DeletionResult {
        let results: BTreeMap<ActionId, Outcome> = results.into_iter().collect();
        let mut remaining = self.unavailable.clone();
        let mut events = Vec::new();
        for planned in &self.actions {
            let Action::Delete { host } = &planned.action else {
                continue;
            };
            let what = format!(
                "the reservation {} of {} in subnet {} on {}",
                host.ip_address, host.hw_address, host.subnet_id, planned.server
            );
            match results.get(&planned.id) {
                Some(Outcome::Done) => {
                    events.push(PlannedEvent::new(
                        EventType::Normal,
                        "ReservationDeleted",
                        "Delete",
                        format!("deleted {what}"),
                    ));
                }
                Some(Outcome::DryRun) => {
                    events.push(PlannedEvent::new(
                        EventType::Normal,
                        "DryRun",
                        "Delete",
                        format!("dry run, not sent: delete {what}"),
                    ));
                    remaining.push((planned.server, Reason::DryRun, format!("dry run: {what} kept")));
                }
                Some(Outcome::Conflict { message }) | Some(Outcome::Failed { message, .. }) => {
                    let reason = match results.get(&planned.id) {
                        Some(Outcome::Failed { reason, .. }) => *reason,
                        _ => Reason::Conflict,
                    };
                    events.push(PlannedEvent::new(
                        EventType::Warning,
                        "ReservationFailed",
                        "Delete",
                        format!("could not delete {what}: {message}"),
                    ));
                    remaining.push((planned.server, reason, message.clone()));
                }
                None => remaining.push((
                    planned.server,
                    Reason::KeaUnavailable,
                    format!("{what}: not executed"),
                )),
            }
        }
        DeletionResult {
            complete: remaining.is_empty(),
            remaining,
            events,
        }
    }
}
