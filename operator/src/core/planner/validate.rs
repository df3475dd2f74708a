//! SPEC §2 steps 1–2: MAC syntax and duplicates; whether anything can be planned at all.

use std::collections::BTreeMap;

use super::build::Builder;
use super::input::ServerState;
use super::output::{EventType, InterfacePlan, PlannedEvent, Verdict};
use crate::core::error_class::Reason;
use crate::core::mac::Mac;
use crate::core::model::ServerId;
use crate::core::namespace::PrefixError;
use crate::core::subnet_match::{PrefixSubnets, SubnetMatchError, prefix_subnets};

impl<'a> Builder<'a> {
    /// Step 1: MAC syntax and duplicates. Invalid ones never block the others.
    pub(super) fn validate_interfaces(&mut self) {
        let mut first_by_mac: BTreeMap<Mac, String> = BTreeMap::new();
        let mut duplicates: BTreeMap<Mac, Vec<String>> = BTreeMap::new();
        for iface in &self.input.interfaces {
            let mut plan = InterfacePlan {
                name: iface.name.clone(),
                declared_mac: iface.mac_address.clone(),
                mac: None,
                verdict: Verdict::Proceed,
                address: None,
                address_source: None,
                lease_mismatch: None,
                servers: Vec::new(),
            };
            match Mac::parse(&iface.mac_address) {
                Err(e) => {
                    let note = format!("interface {}: {e}", iface.name);
                    self.events.push(PlannedEvent::new(
                        EventType::Warning,
                        "InvalidSpec",
                        "Validate",
                        note,
                    ));
                    plan.verdict = Verdict::InvalidMac {
                        message: e.to_string(),
                    };
                }
                Ok(mac) => {
                    plan.mac = Some(mac);
                    if let Some(first) = first_by_mac.get(&mac) {
                        plan.verdict = Verdict::InvalidMac {
                            message: format!(
                                "MAC {mac} is already declared by interface {first}; each MAC may be declared once"
                            ),
                        };
                        duplicates
                            .entry(mac)
                            .or_insert_with(|| vec![first.clone()])
                            .push(iface.name.clone());
                    } else {
                        first_by_mac.insert(mac, iface.name.clone());
                    }
                }
            }
            self.interfaces.push(plan);
        }
        // A duplicated MAC is reported once, however often it repeats.
        for (mac, names) in duplicates {
            let note = format!(
                "MAC {mac} is declared by interfaces {}; only {} gets a reservation",
                names.join(", "),
                names.first().map(String::as_str).unwrap_or_default()
            );
            self.events.push(PlannedEvent::new(
                EventType::Warning,
                "InvalidSpec",
                "Validate",
                note,
            ));
        }
    }

    /// Step 2 and server availability: when nothing can be planned, nothing is written or deleted.
    pub(super) fn blocked_reason(&self) -> Option<(Reason, String)> {
        if let Err(e) = &self.input.prefix {
            let reason = match e {
                PrefixError::NotFound { .. } => Reason::NetworkNamespaceNotFound,
                PrefixError::Ambiguous { .. } => Reason::AmbiguousNetworkNamespace,
                PrefixError::NotReady { .. } => Reason::PrefixNotReady,
            };
            return Some((reason, e.to_string()));
        }
        let Some(active) = self.input.active else {
            // Every server failed: say why (a refused password is AuthenticationFailed, not an outage).
            let mut failures: Vec<(ServerId, Reason, &str)> = self
                .input
                .servers
                .iter()
                .filter_map(|s| match &s.state {
                    ServerState::Unavailable { reason, message } => Some((s.id, *reason, message.as_str())),
                    ServerState::Available { .. } => None,
                })
                .collect();
            failures.sort_by_key(|(id, _, _)| *id);
            return Some(match failures.first() {
                Some((_, reason, _)) => {
                    let all: Vec<String> = failures.iter().map(|(id, _, m)| format!("{id}: {m}")).collect();
                    (*reason, format!("no Kea server is usable ({})", all.join("; ")))
                }
                None => (Reason::KeaUnavailable, "no Kea server is usable".into()),
            });
        };
        match self.input.server(active).map(|s| &s.state) {
            None => Some((
                Reason::KeaUnavailable,
                format!("the active Kea server ({active}) is not configured"),
            )),
            Some(ServerState::Unavailable { reason, message }) => {
                Some((*reason, format!("{active}: {message}")))
            }
            // SPEC §2 step 3 before step 4: a prefix that no subnet of the active server can hold
            // never gets a lease inside it, so waiting for one would wait forever.
            Some(ServerState::Available { subnets, .. }) => {
                let prefix = self.input.prefix.as_ref().ok()?.trunc();
                match prefix_subnets(subnets, prefix) {
                    PrefixSubnets::Single(_) => None,
                    PrefixSubnets::Ambiguous(err) => {
                        Some((Reason::SubnetNotFound, format!("{active}: {err}")))
                    }
                    PrefixSubnets::PerAddress if subnets.iter().any(|s| prefix.contains(&s.prefix)) => None,
                    PrefixSubnets::PerAddress => {
                        let err = SubnetMatchError::NotFound {
                            prefix,
                            address: None,
                        };
                        Some((Reason::SubnetNotFound, format!("{active}: {err}")))
                    }
                }
            }
        }
    }

    pub(super) fn block(&mut self, reason: Reason, message: String) {
        for iface in &mut self.interfaces {
            if iface.verdict == Verdict::Proceed {
                iface.verdict = Verdict::Blocked {
                    reason,
                    message: message.clone(),
                };
            }
        }
        self.blocked = Some((reason, message));
    }
}
