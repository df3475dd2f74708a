//! The periodic sweep of one server (SPEC §2.8): the backstop that repairs a wiped server and removes
//! what reconciles missed.
//!
//! # How the controller calls it
//!
//! Every `RESYNC_INTERVAL_SECONDS`, and right after a server restarted or recovered, per server:
//! 1. Build one [`SweepNc`] per NetworkConfiguration of this operator (from the reflector store: the
//!    set must be complete, or a live NC's hosts would look orphaned), with its resolved prefix and
//!    parsed annotation.
//! 2. [`managed_subnets`] → page through each with `reservation-get-page` (one command per page).
//! 3. [`plan_sweep`] with every host of those pages → execute [`SweepPlan::actions`] in order (deletes,
//!    then adds) → requeue [`SweepPlan::requeue`] NCs; report [`SweepPlan::conflicts`].
//!
//! The desired set comes from each NC's annotation (its recorded addresses), its spec and prefix: no
//! lease lookups. Only hosts carrying this instance's marker are ever deleted; hosts without it are
//! never touched (at most reported as conflicts).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::annotation::Reservations;
use super::mac::Mac;
use super::marker::OwnerMarker;
use super::model::{Host, ServerId, Subnet, SubnetId};
use super::planner::{Action, ActionId, NcIdentity};
use super::subnet_match::{PrefixSubnets, match_subnet, prefix_subnets};
use crate::crd::NetworkInterface;

/// One NetworkConfiguration as the sweep sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepNc {
    pub nc: NcIdentity,
    pub interfaces: Vec<NetworkInterface>,
    /// `None` when the prefix cannot be resolved now: the NC's hosts are kept, none are added.
    pub prefix: Option<Ipv4Net>,
    pub annotation: Reservations,
    /// Being deleted: its finalizer removes its hosts; the sweep neither adds nor deletes them.
    pub deleting: bool,
}

/// Why the sweep acts on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SweepReason {
    /// Desired (recorded in the owner's annotation) but missing on this server.
    Missing,
    /// The owner NC no longer exists.
    OwnerGone,
    /// The owner NC no longer declares the MAC.
    InterfaceGone,
    /// The address left the owner's prefix (the NetworkNamespace changed).
    OutsidePrefix,
    /// The owner wants the MAC in another subnet on this server.
    SubnetChanged,
}

impl SweepReason {
    /// Bounded label (metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            SweepReason::Missing => "missing",
            SweepReason::OwnerGone => "owner_gone",
            SweepReason::InterfaceGone => "interface_gone",
            SweepReason::OutsidePrefix => "outside_prefix",
            SweepReason::SubnetChanged => "subnet_changed",
        }
    }
}

/// One write of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepAction {
    pub id: ActionId,
    /// `Add` (missing) or `Delete` (orphan); never anything else.
    pub action: Action,
    pub reason: SweepReason,
    /// uid of the NC concerned (the desired owner for an add, the marker's uid for a delete).
    pub uid: String,
}

/// A desired host the sweep cannot write because someone else holds its key or address.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConflict {
    pub desired: Host,
    pub holder: Host,
    pub uid: String,
}

/// What the sweep of one server does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepPlan {
    pub server: Option<ServerId>,
    actions: Vec<SweepAction>,
    conflicts: Vec<SweepConflict>,
    requeue: BTreeSet<String>,
}

impl SweepPlan {
    /// Deletes first, then adds.
    pub fn actions(&self) -> &[SweepAction] {
        &self.actions
    }

    pub fn conflicts(&self) -> &[SweepConflict] {
        &self.conflicts
    }

    /// uids of NCs whose hosts on this server differ from what they recorded: reconcile them (the
    /// reconcile decides, with leases and claims the sweep does not have).
    pub fn requeue(&self) -> &BTreeSet<String> {
        &self.requeue
    }

    pub fn orphans(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a.action, Action::Delete { .. }))
            .count()
    }

    pub fn missing(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a.action, Action::Add { .. }))
            .count()
    }
}

/// The subnets of this server to page through: those the NCs' prefixes map to (all subnets inside a
/// prefix spread over a shared network) and those recorded in their annotations for this server.
pub fn managed_subnets(server: ServerId, subnets: &[Subnet], ncs: &[SweepNc]) -> BTreeSet<SubnetId> {
    let mut out = BTreeSet::new();
    for nc in ncs {
        out.extend(nc.annotation.server(server).map(|r| r.subnet_id));
        let Some(prefix) = nc.prefix.map(|p| p.trunc()) else {
            continue;
        };
        match prefix_subnets(subnets, prefix) {
            PrefixSubnets::Single(subnet) => {
                out.insert(subnet.id);
            }
            PrefixSubnets::PerAddress => {
                out.extend(
                    subnets
                        .iter()
                        .filter(|s| prefix.contains(&s.prefix))
                        .map(|s| s.id),
                );
            }
            PrefixSubnets::Ambiguous(_) => {}
        }
    }
    out
}

/// A desired host and who wants it.
struct Desire {
    host: Host,
    uid: String,
}

struct NcView<'a> {
    nc: &'a SweepNc,
    /// MAC → interface name, for valid MACs declared first (duplicates ignored).
    macs: BTreeMap<Mac, String>,
}

/// Plans the sweep of `server`, whose managed subnets' pages hold `hosts`.
pub fn plan_sweep(
    server: ServerId,
    instance: &str,
    ncs: &[SweepNc],
    subnets: &[Subnet],
    hosts: &[Host],
) -> SweepPlan {
    let views: Vec<NcView> = ncs
        .iter()
        .map(|nc| {
            let mut macs = BTreeMap::new();
            for iface in &nc.interfaces {
                if let Ok(mac) = Mac::parse(&iface.mac_address) {
                    macs.entry(mac).or_insert_with(|| iface.name.clone());
                }
            }
            NcView { nc, macs }
        })
        .collect();
    let by_uid: BTreeMap<&str, &NcView> = views.iter().map(|v| (v.nc.nc.uid.as_str(), v)).collect();
    // The oldest live NC declaring a MAC owns it (SPEC §2.5).
    let mut mac_owner: BTreeMap<Mac, &NcView> = BTreeMap::new();
    for v in views.iter().filter(|v| !v.nc.deleting) {
        for mac in v.macs.keys() {
            let entry = mac_owner.entry(*mac).or_insert(v);
            if v.nc.nc.seniority() < entry.nc.nc.seniority() {
                *entry = v;
            }
        }
    }
    let desired = desired_hosts(server, instance, subnets, &mac_owner);
    // Owner uid → MACs it wants on this server, at which keys.
    let mut wanted_keys: BTreeMap<(&str, Mac), BTreeSet<SubnetId>> = BTreeMap::new();
    for ((subnet, mac), d) in &desired {
        wanted_keys
            .entry((d.uid.as_str(), *mac))
            .or_default()
            .insert(*subnet);
    }

    let mut plan = SweepPlan {
        server: Some(server),
        ..SweepPlan::default()
    };
    let mut by_key: BTreeMap<(SubnetId, Mac), &Host> = BTreeMap::new();
    for host in hosts {
        by_key.entry((host.subnet_id, host.hw_address)).or_insert(host);
    }
    let mut deletes: Vec<(Host, SweepReason, String)> = Vec::new();
    for host in by_key.values() {
        let key = (host.subnet_id, host.hw_address);
        let Some(marker) = host.instance_marker(instance) else {
            if let Some(d) = desired.get(&key) {
                plan.conflicts.push(SweepConflict {
                    desired: d.host.clone(),
                    holder: (*host).clone(),
                    uid: d.uid.clone(),
                });
            }
            continue;
        };
        if let Some(d) = desired.get(&key) {
            if host.ip_address != d.host.ip_address || Some(&marker) != d.host.marker().as_ref() {
                plan.requeue.insert(d.uid.clone());
            }
            continue;
        }
        match orphan_reason(host, &marker, &by_uid, &mac_owner, &wanted_keys) {
            Judgement::Delete(reason) => deletes.push(((*host).clone(), reason, marker.uid.clone())),
            Judgement::Keep => {}
            Judgement::Requeue => {
                plan.requeue.insert(marker.uid.clone());
            }
        }
    }
    let vacated: BTreeSet<(SubnetId, Ipv4Addr)> = deletes
        .iter()
        .map(|(h, _, _)| (h.subnet_id, h.ip_address))
        .collect();
    let mut adds: Vec<(Host, String)> = Vec::new();
    for (key, d) in &desired {
        if by_key.contains_key(key) {
            continue;
        }
        let holder = hosts.iter().find(|h| {
            h.subnet_id == d.host.subnet_id
                && h.ip_address == d.host.ip_address
                && h.hw_address != d.host.hw_address
        });
        match holder {
            Some(holder) if !vacated.contains(&(holder.subnet_id, holder.ip_address)) => {
                plan.conflicts.push(SweepConflict {
                    desired: d.host.clone(),
                    holder: holder.clone(),
                    uid: d.uid.clone(),
                });
            }
            _ => adds.push((d.host.clone(), d.uid.clone())),
        }
    }
    for (host, reason, uid) in deletes {
        let id = ActionId(plan.actions.len());
        plan.actions.push(SweepAction {
            id,
            action: Action::Delete { host },
            reason,
            uid,
        });
    }
    for (host, uid) in adds {
        let id = ActionId(plan.actions.len());
        plan.actions.push(SweepAction {
            id,
            action: Action::Add { host },
            reason: SweepReason::Missing,
            uid,
        });
    }
    plan
}

enum Judgement {
    Delete(SweepReason),
    Keep,
    Requeue,
}

/// Whether a host of this instance that no NC desires at its key is an orphan.
fn orphan_reason(
    host: &Host,
    marker: &OwnerMarker,
    by_uid: &BTreeMap<&str, &NcView>,
    mac_owner: &BTreeMap<Mac, &NcView>,
    wanted_keys: &BTreeMap<(&str, Mac), BTreeSet<SubnetId>>,
) -> Judgement {
    let Some(owner) = by_uid.get(marker.uid.as_str()) else {
        return Judgement::Delete(SweepReason::OwnerGone);
    };
    if owner.nc.deleting {
        return Judgement::Keep;
    }
    if !owner.macs.contains_key(&host.hw_address) {
        return Judgement::Delete(SweepReason::InterfaceGone);
    }
    if mac_owner.get(&host.hw_address).map(|v| v.nc.nc.uid.as_str()) != Some(marker.uid.as_str()) {
        // An older NC owns the MAC: its reconcile takes the host over, or this one's removes it.
        return Judgement::Requeue;
    }
    let Some(prefix) = owner.nc.prefix else {
        return Judgement::Keep;
    };
    if !prefix.trunc().contains(&host.ip_address) {
        return Judgement::Delete(SweepReason::OutsidePrefix);
    }
    match wanted_keys.get(&(marker.uid.as_str(), host.hw_address)) {
        Some(subnets) if !subnets.contains(&host.subnet_id) => Judgement::Delete(SweepReason::SubnetChanged),
        // Not recorded (yet): the owner's reconcile decides.
        _ => Judgement::Requeue,
    }
}

/// The desired hosts on `server`: for each owned MAC of each live NC with a prefix, the address its
/// annotation records (this server's entry first, then the others') inside its prefix, in the subnet
/// that address maps to on this server.
fn desired_hosts(
    server: ServerId,
    instance: &str,
    subnets: &[Subnet],
    mac_owner: &BTreeMap<Mac, &NcView>,
) -> BTreeMap<(SubnetId, Mac), Desire> {
    let mut desired: BTreeMap<(SubnetId, Mac), Desire> = BTreeMap::new();
    let mut taken: BTreeSet<(SubnetId, Ipv4Addr)> = BTreeSet::new();
    for (mac, view) in mac_owner {
        let Some(prefix) = view.nc.prefix.map(|p| p.trunc()) else {
            continue;
        };
        let recorded = view
            .nc
            .annotation
            .addresses(server, *mac)
            .chain(
                ServerId::ALL
                    .into_iter()
                    .filter(|s| *s != server)
                    .flat_map(|s| view.nc.annotation.addresses(s, *mac)),
            )
            .find(|ip| prefix.contains(ip));
        let Some(ip) = recorded else {
            continue;
        };
        let Ok(subnet) = match_subnet(subnets, prefix, Some(ip)) else {
            continue;
        };
        // Two NCs recording one address in a subnet (stale annotations): the first in MAC order keeps
        // it; the reconcile of the other reports the conflict.
        if !taken.insert((subnet.id, ip)) {
            continue;
        }
        let interface = view.macs.get(mac).cloned().unwrap_or_default();
        let marker = OwnerMarker::new(instance, &view.nc.nc.owner(), &view.nc.nc.uid, &interface);
        let host = Host {
            subnet_id: subnet.id,
            hw_address: *mac,
            ip_address: ip,
            hostname: None,
            user_context: Some(marker.merge_into(None)),
            source: None,
        };
        desired.insert(
            (subnet.id, *mac),
            Desire {
                host,
                uid: view.nc.nc.uid.clone(),
            },
        );
    }
    desired
}
