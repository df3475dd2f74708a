//! SPEC §2 steps 5–6 (what to do): compare the desired hosts with what each server holds, check
//! addresses, and remove hosts of this NC nothing wants any more.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::build::{Builder, Decision, Tentative, Wanted};
use super::output::{Action, EventType, PlannedEvent, ReplaceKind, ServerOutcome, Verdict};
use crate::core::mac::Mac;
use crate::core::marker::Ownership;
use crate::core::model::{Host, ServerId, SubnetId};

impl<'a> Builder<'a> {
    /// Steps 5 and 6: compare with what each server holds.
    pub(super) fn compare(&mut self, wanted: &BTreeMap<(ServerId, SubnetId, Mac), Wanted>) -> Vec<Tentative> {
        let (instance, uid) = (self.input.instance.as_str(), self.input.nc.uid.as_str());
        // Step 5: per wanted key, what to do (before checking addresses).
        let mut keyed: Vec<(ServerId, Mac, usize, Decision)> = Vec::new();
        for ((server, subnet, mac), want) in wanted {
            let Some(k) = self.known(*server) else {
                continue;
            };
            let existing = k.by_key.get(&(*subnet, *mac)).copied();
            let result = self.decide(*server, existing, &want.host, want.iface);
            keyed.push((*server, *mac, want.iface, result));
        }
        // Step 6: hosts of this NC that no interface wants at their key any more.
        let stale: Vec<(ServerId, &Host)> = self
            .known
            .iter()
            .flat_map(|k| k.hosts.iter().map(move |h| (k.id, *h)))
            .filter(|(server, h)| {
                h.ownership(instance, uid) == Ownership::Ours
                    && !wanted.contains_key(&(*server, h.subnet_id, h.hw_address))
            })
            .collect();
        // A stale host is kept while its interface's new reservation on that server cannot be written
        // (no subnet, conflict): removing it would drop a working reservation and its stickiness.
        let mut keep: BTreeSet<(ServerId, Mac)> = BTreeSet::new();
        for iface in &self.interfaces {
            let Some(mac) = iface.mac else { continue };
            match &iface.verdict {
                Verdict::Proceed => keep.extend(
                    iface
                        .servers
                        .iter()
                        .filter(|s| matches!(s.outcome, ServerOutcome::Failed { .. }))
                        .map(|s| (s.server, mac)),
                ),
                Verdict::Conflict { .. } if !self.released.contains(&mac) => {
                    keep.extend(self.known.iter().map(|k| (k.id, mac)));
                }
                _ => {}
            }
        }
        // Address check: a desired address held by another known host is a conflict unless this plan
        // vacates it first (a host of ours deleted or moved). Iterate to a fixed point: a write that
        // becomes a conflict keeps its stale host and vacates nothing.
        loop {
            let blocked: BTreeSet<(ServerId, Mac)> = keyed
                .iter()
                .filter(|(_, _, _, r)| r.is_err())
                .map(|(server, mac, _, _)| (*server, *mac))
                .chain(keep.iter().copied())
                .collect();
            let vacated: BTreeSet<(ServerId, SubnetId, Ipv4Addr)> = keyed
                .iter()
                .filter_map(|(server, _, _, r)| match r {
                    Ok(Some(Action::Replace { old, new, .. })) if old.ip_address != new.ip_address => {
                        Some((*server, old.subnet_id, old.ip_address))
                    }
                    _ => None,
                })
                .chain(
                    stale
                        .iter()
                        .filter(|(server, h)| !blocked.contains(&(*server, h.hw_address)))
                        .map(|(server, h)| (*server, h.subnet_id, h.ip_address)),
                )
                .collect();
            let mut changed = false;
            for (server, _, _, result) in &mut keyed {
                let Ok(Some(action)) = result else {
                    continue;
                };
                let Some(target) = action.result_host() else {
                    continue;
                };
                let Some(k) = self.known.iter().find(|k| k.id == *server) else {
                    continue;
                };
                let holder = k.hosts.iter().find(|h| {
                    h.subnet_id == target.subnet_id
                        && h.ip_address == target.ip_address
                        && h.hw_address != target.hw_address
                });
                if let Some(holder) = holder
                    && !vacated.contains(&(*server, holder.subnet_id, holder.ip_address))
                {
                    *result = Err(address_conflict_text(*server, target, holder));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let blocked: BTreeSet<(ServerId, Mac)> = keyed
            .iter()
            .filter(|(_, _, _, r)| r.is_err())
            .map(|(server, mac, _, _)| (*server, *mac))
            .chain(keep.iter().copied())
            .collect();
        let mut out: Vec<Tentative> = stale
            .iter()
            .filter(|(server, h)| !blocked.contains(&(*server, h.hw_address)))
            .map(|(server, h)| Tentative {
                server: *server,
                action: Action::Delete { host: (*h).clone() },
                iface: None,
            })
            .collect();
        for (server, _, iface, result) in keyed {
            match result {
                Ok(None) => {}
                Ok(Some(action)) => out.push(Tentative {
                    server,
                    action,
                    iface: Some(iface),
                }),
                Err(message) => {
                    if let Some(plan) = self.interfaces[iface]
                        .servers
                        .iter_mut()
                        .find(|s| s.server == server)
                    {
                        plan.outcome = ServerOutcome::Conflict {
                            message: message.clone(),
                        };
                    }
                    let note = format!("interface {}: {message}", self.interfaces[iface].name);
                    self.events
                        .push(PlannedEvent::new(EventType::Warning, "Conflict", "Reserve", note));
                }
            }
        }
        out
    }

    /// Compares the host at the desired key with the desired host: `Ok(None)` in sync, `Ok(Some)` an
    /// action, `Err` a conflict (the host is not ours to change).
    fn decide(
        &self,
        server: ServerId,
        existing: Option<&Host>,
        desired: &Host,
        iface: usize,
    ) -> Result<Option<Action>, String> {
        let Some(existing) = existing else {
            return Ok(Some(Action::Add {
                host: desired.clone(),
            }));
        };
        let with_context = |old: &Host| Host {
            hostname: old.hostname.clone(),
            user_context: desired.marker().map(|m| m.merge_into(old.user_context.as_ref())),
            ..desired.clone()
        };
        let what = format!(
            "{} in subnet {} on {server}",
            desired.hw_address, desired.subnet_id
        );
        match existing.ownership(&self.input.instance, &self.input.nc.uid) {
            Ownership::Ours => {
                if existing.ip_address == desired.ip_address && existing.marker() == desired.marker() {
                    Ok(None)
                } else {
                    let kind = if existing.ip_address == desired.ip_address {
                        ReplaceKind::Marker
                    } else {
                        ReplaceKind::Address
                    };
                    Ok(Some(Action::Replace {
                        old: existing.clone(),
                        new: with_context(existing),
                        kind,
                    }))
                }
            }
            // Reaching here means this NC owns the MAC: the marking NC is younger, gone, or no longer
            // declares it.
            Ownership::OursOtherNc { uid, owner } => Ok(Some(Action::Replace {
                old: existing.clone(),
                new: with_context(existing),
                kind: ReplaceKind::TakeOver {
                    from_owner: owner,
                    from_uid: uid,
                },
            })),
            Ownership::Unmarked
                if self.input.legacy_finalizer && existing.ip_address == desired.ip_address =>
            {
                Ok(Some(Action::Adopt {
                    old: existing.clone(),
                    new: with_context(existing),
                }))
            }
            Ownership::Unmarked => {
                let hint = if self.input.legacy_finalizer {
                    format!(
                        " (not adopted: its address {} differs from {})",
                        existing.ip_address, desired.ip_address
                    )
                } else {
                    String::new()
                };
                Err(format!(
                    "a host not managed by kea-operator holds {what} (address {}); it is never overwritten{hint}",
                    existing.ip_address
                ))
            }
            Ownership::ForeignInstance { instance } => Err(format!(
                "{what} is reserved by kea-operator instance {instance:?} (address {})",
                existing.ip_address
            )),
            Ownership::Malformed => Err(format!(
                "the host of {what} has an unreadable kea-operator marker; it is left alone (interface {})",
                self.interfaces[iface].name
            )),
        }
    }
}

fn address_conflict_text(server: ServerId, target: &Host, holder: &Host) -> String {
    let whose = match holder.marker() {
        Some(m) => format!(
            ", owned by {} via kea-operator instance {:?}",
            m.owner, m.instance
        ),
        None => String::new(),
    };
    format!(
        "address {} in subnet {} on {server} is reserved for another host ({}{whose})",
        target.ip_address, target.subnet_id, holder.hw_address
    )
}
