//! Status, conditions and requeue from applied results (SPEC §1, §2.9, §3).
//!
//! [`render`] takes an [`Applied`] — never a bare plan, so status always reflects what Kea answered —
//! and the status read from the object (read-modify-write: everything others wrote is kept). It
//! returns the new status, whether it differs (write only then), and when to reconcile again.
//!
//! - `Ready`: every valid interface is reserved on the active server; an invalid MAC makes it False
//!   with `InvalidSpec` (the valid interfaces are still reserved).
//! - `ServersInSync`: what is reserved on the active server is reserved on every other configured
//!   server too, so maintenance of one partner does not make every NC NotReady.
//! - `lastTransitionTime` is kept unless the condition's status flips; `observedGeneration` is set.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::config::RequeueConfig;
use crate::core::error_class::{Reason, Requeue};
use crate::core::planner::{Applied, InterfaceResult};
use crate::crd::{InterfaceState, InterfaceStatus, NetworkConfigurationStatus, Phase, ServerStatus};

/// Condition type: every valid interface reserved on the active server.
pub const READY: &str = "Ready";
/// Condition type: the active server's reservations are on every other server too.
pub const SERVERS_IN_SYNC: &str = "ServersInSync";
/// Longest condition/status message written (Kubernetes allows 32 KiB; status should stay readable).
pub const MAX_MESSAGE: usize = 4096;

/// The outcome of [`render`].
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub status: NetworkConfigurationStatus,
    /// The status differs from the one read: write it (with the read resourceVersion).
    pub changed: bool,
    /// `Ready` is True.
    pub ready: bool,
    /// `ServersInSync` is True: nothing is left to retry on any server.
    pub in_sync: bool,
    /// When to reconcile again (before per-object backoff): the soonest of every failure's class.
    pub requeue: Requeue,
}

/// Computes the status after a reconcile.
pub fn render(
    applied: &Applied,
    previous: Option<&NetworkConfigurationStatus>,
    now: Timestamp,
    config: &RequeueConfig,
) -> StatusUpdate {
    let plan = applied.plan();
    let results = applied.interfaces();
    let generation = plan.generation;
    let active = plan.active.map(|s| s.as_str()).unwrap_or("the active server");

    let reserved = results
        .iter()
        .filter(|r| r.state == InterfaceState::Reserved)
        .count();
    let total = results.len();
    let (ready, in_sync) = match plan.blocked() {
        Some((reason, message)) => {
            let c = Verdict {
                ok: false,
                reason,
                message: message.to_string(),
            };
            (c.clone(), c)
        }
        None => (
            ready_verdict(&results, reserved, active),
            in_sync_verdict(&results, plan.servers.len(), active),
        ),
    };

    let mut requeue = Requeue::AwaitChange;
    for reason in failure_reasons(&results, plan.blocked().map(|(r, _)| r)) {
        requeue = requeue.combine(reason.requeue(config));
    }

    let mut status = previous.cloned().unwrap_or_default();
    status.observed_generation = generation;
    status.phase = Some(if ready.ok {
        Phase::Ready
    } else if matches!(
        ready.reason,
        Reason::WaitingForLease | Reason::PrefixNotReady | Reason::DryRun
    ) {
        Phase::Reconciling
    } else {
        Phase::Error
    });
    status.message = Some(ready.message.clone());
    status.ready_interfaces = Some(format!("{reserved}/{total}"));
    set_condition(&mut status.conditions, READY, &ready, generation, now);
    set_condition(&mut status.conditions, SERVERS_IN_SYNC, &in_sync, generation, now);
    let prefix = plan.prefix().map(|p| p.to_string());
    status.network_interfaces = merge_interfaces(&status.network_interfaces, &results, prefix.as_deref());

    StatusUpdate {
        changed: previous != Some(&status),
        status,
        ready: ready.ok,
        in_sync: in_sync.ok,
        requeue,
    }
}

/// The status while the finalizer cleans up: phase `Deleting` and a message; the rest is kept.
pub fn render_deleting(
    previous: Option<&NetworkConfigurationStatus>,
    generation: Option<i64>,
    message: &str,
) -> StatusUpdate {
    let mut status = previous.cloned().unwrap_or_default();
    status.observed_generation = generation;
    status.phase = Some(Phase::Deleting);
    status.message = Some(truncate(message.to_string()));
    StatusUpdate {
        changed: previous != Some(&status),
        status,
        ready: false,
        in_sync: false,
        requeue: Requeue::AwaitChange,
    }
}

#[derive(Debug, Clone)]
struct Verdict {
    ok: bool,
    reason: Reason,
    message: String,
}

fn ready_verdict(results: &[InterfaceResult], reserved: usize, active: &str) -> Verdict {
    let total = results.len();
    let failing: Vec<&InterfaceResult> = results
        .iter()
        .filter(|r| r.state != InterfaceState::Reserved)
        .collect();
    let head = if total == 0 {
        "no interfaces declared".to_string()
    } else {
        format!("{reserved}/{total} interfaces reserved on {active}")
    };
    let Some(reason) = failing.iter().map(|r| r.reason).min_by_key(|r| r.precedence()) else {
        return Verdict {
            ok: true,
            reason: Reason::Reserved,
            message: head,
        };
    };
    let details: Vec<String> = failing
        .iter()
        .map(|r| format!("{}: {}", r.name, r.message))
        .collect();
    Verdict {
        ok: false,
        reason,
        message: truncate(format!("{head}; {}", details.join("; "))),
    }
}

fn in_sync_verdict(results: &[InterfaceResult], servers: usize, active: &str) -> Verdict {
    if servers <= 1 {
        return Verdict {
            ok: true,
            reason: Reason::InSync,
            message: "one Kea server configured".into(),
        };
    }
    let mut problems: Vec<(Reason, String)> = Vec::new();
    for r in results.iter().filter(|r| r.state == InterfaceState::Reserved) {
        for s in &r.servers {
            if let Some((reason, text)) = &s.error {
                problems.push((*reason, format!("{} on {}: {text}", r.name, s.server)));
            }
        }
    }
    let Some(reason) = problems.iter().map(|(r, _)| *r).min_by_key(|r| r.precedence()) else {
        return Verdict {
            ok: true,
            reason: Reason::InSync,
            message: format!("every reservation on {active} is on every configured server"),
        };
    };
    let details: Vec<String> = problems.into_iter().map(|(_, t)| t).collect();
    Verdict {
        ok: false,
        reason,
        message: truncate(details.join("; ")),
    }
}

/// Every reason something is not done yet, for the requeue.
fn failure_reasons(results: &[InterfaceResult], blocked: Option<Reason>) -> Vec<Reason> {
    let mut reasons: Vec<Reason> = blocked.into_iter().collect();
    for r in results {
        if r.state != InterfaceState::Reserved {
            reasons.push(r.reason);
        }
        reasons.extend(
            r.servers
                .iter()
                .filter_map(|s| s.error.as_ref().map(|(reason, _)| *reason)),
        );
    }
    reasons
}

fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    v: &Verdict,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if v.ok { "True" } else { "False" };
    let previous = conditions.iter().find(|c| c.type_ == type_);
    // No change in status → keep lastTransitionTime.
    let last_transition_time = previous
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let condition = Condition {
        type_: type_.into(),
        status: status.into(),
        reason: v.reason.as_str().into(),
        message: v.message.clone(),
        observed_generation: generation,
        last_transition_time,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
}

/// One entry per spec interface, in spec order; each keeps the fields others wrote on the entry of
/// the same name. Entries of interfaces no longer in the spec are dropped.
fn merge_interfaces(
    previous: &[InterfaceStatus],
    results: &[InterfaceResult],
    prefix: Option<&str>,
) -> Vec<InterfaceStatus> {
    let mut used = vec![false; previous.len()];
    results
        .iter()
        .map(|r| {
            let extra = previous
                .iter()
                .enumerate()
                .find(|(i, p)| !used[*i] && p.name == r.name)
                .map(|(i, p)| {
                    used[i] = true;
                    p.extra.clone()
                })
                .unwrap_or_default();
            let reserved = r.state == InterfaceState::Reserved;
            let address = r.address.map(|a| a.to_string());
            InterfaceStatus {
                name: r.name.clone(),
                mac_address: Some(
                    r.mac
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| r.declared_mac.clone()),
                ),
                state: Some(r.state),
                ipv4_address: address.clone().filter(|_| reserved),
                kea_subnet_id: r.subnet.map(|s| s.0),
                message: Some(truncate(r.message.clone())),
                servers: r
                    .servers
                    .iter()
                    .map(|s| ServerStatus {
                        name: s.server.as_str().into(),
                        subnet_id: s.subnet.map(|id| id.0),
                        reserved: s.reserved,
                        error: s.error.as_ref().map(|(_, text)| truncate(text.clone())),
                    })
                    .collect(),
                ipv4_addresses: address.clone().filter(|_| reserved).into_iter().collect(),
                ipv4_subnet: prefix.map(str::to_string),
                dhcp_reserved: Some(reserved),
                ip_allocated: Some(address.is_some()),
                allocation_method: Some("dhcp".into()),
                extra,
            }
        })
        .collect()
}

fn truncate(text: String) -> String {
    crate::core::planner::truncate_text(text, MAX_MESSAGE)
}

/// Convenience for the controller: the requeue delay after per-object backoff, `None` = no timer.
pub fn requeue_after(
    update: &StatusUpdate,
    backoff: &crate::core::error_class::Backoff,
    consecutive_failures: u32,
    resync_interval: Duration,
) -> Option<Duration> {
    // Ready with a partner that missed its writes is not done: the partner is retried at its
    // failure's delay (Kea HA does not replicate reservations; nothing else would bring them over
    // before the next sweep).
    if update.ready && update.in_sync {
        return None;
    }
    backoff
        .apply(update.requeue, consecutive_failures)
        .after(resync_interval)
}
