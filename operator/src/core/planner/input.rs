//! What the planner needs, gathered by the controller (with IO) before calling [`super::plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use jiff::Timestamp;

use crate::core::annotation::Reservations;
use crate::core::error_class::Reason;
use crate::core::mac::Mac;
use crate::core::model::{Host, Lease, ServerId, Subnet, SubnetId};
use crate::core::namespace::PrefixError;
use crate::core::subnet_match::{PrefixSubnets, match_subnet, prefix_subnets};
use crate::crd::{NetworkConfiguration, NetworkInterface};

/// The NC being planned: what goes into the owner marker and decides "older NC wins".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcIdentity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub created: Timestamp,
    /// `metadata.generation`, reported as `observedGeneration`.
    pub generation: Option<i64>,
}

/// The object lacks metadata the API server always sets (uid, creationTimestamp, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NetworkConfiguration has no metadata.{0}")]
pub struct MissingMetadata(pub &'static str);

impl MissingMetadata {
    pub fn category(&self) -> &'static str {
        "missing_metadata"
    }
}

impl NcIdentity {
    pub fn from_nc(nc: &NetworkConfiguration) -> Result<Self, MissingMetadata> {
        let meta = &nc.metadata;
        Ok(NcIdentity {
            namespace: meta.namespace.clone().ok_or(MissingMetadata("namespace"))?,
            name: meta.name.clone().ok_or(MissingMetadata("name"))?,
            uid: meta.uid.clone().ok_or(MissingMetadata("uid"))?,
            created: meta
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .ok_or(MissingMetadata("creationTimestamp"))?,
            generation: meta.generation,
        })
    }

    /// `<namespace>/<name>`, as stored in the marker's `owner`.
    pub fn owner(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The order that decides which NC owns a MAC declared by several: older first, then uid.
    pub fn seniority(&self) -> (Timestamp, &str) {
        (self.created, &self.uid)
    }
}

/// Another existing NC (of this operator, not being deleted) that declares one of this NC's MACs.
/// The oldest declarer (creationTimestamp, then uid) owns the MAC (SPEC §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacClaim {
    pub mac: Mac,
    pub uid: String,
    /// `<namespace>/<name>` of the claiming NC (for messages).
    pub owner: String,
    pub created: Timestamp,
}

/// The claims other NCs make on `macs`: every NC in `others` that is handled by this operator, is not
/// being deleted, is not `uid` itself, and declares one of `macs` (after normalization).
pub fn mac_claims<'a>(
    uid: &str,
    macs: &BTreeSet<Mac>,
    others: impl IntoIterator<Item = &'a NetworkConfiguration>,
) -> Vec<MacClaim> {
    let mut claims = Vec::new();
    for other in others {
        let meta = &other.metadata;
        let (Some(other_uid), Some(created)) = (meta.uid.as_deref(), meta.creation_timestamp.as_ref()) else {
            continue;
        };
        if other_uid == uid || meta.deletion_timestamp.is_some() || !other.is_kea() {
            continue;
        }
        let owner = format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        );
        let declared: BTreeSet<Mac> = other
            .spec
            .network_interfaces
            .iter()
            .filter_map(|i| Mac::parse(&i.mac_address).ok())
            .collect();
        for mac in declared.intersection(macs) {
            claims.push(MacClaim {
                mac: *mac,
                uid: other_uid.into(),
                owner: owner.clone(),
                created: created.0,
            });
        }
    }
    claims.sort_by(|a, b| (a.mac, a.created, &a.uid).cmp(&(b.mac, b.created, &b.uid)));
    claims
}

/// What one configured server showed.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerState {
    /// The server answered. `subnets`: its subnet list (cached by the caller). `hosts`: every host the
    /// caller read there — at least those at the keys of [`PlanInput::host_lookups`]; more (hosts by
    /// address, a sweep page) only sharpens the plan: an address held by a known host is reported as a
    /// conflict before writing instead of by Kea.
    Available { subnets: Vec<Subnet>, hosts: Vec<Host> },
    /// The server could not be read (down, breaker open, credentials refused, hosts database down).
    /// Nothing is planned there; `reason` is the condition reason (`KeaUnavailable`,
    /// `AuthenticationFailed`, `PermissionDenied`).
    Unavailable { reason: Reason, message: String },
}

/// One configured server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInput {
    pub id: ServerId,
    pub state: ServerState,
}

/// Everything [`super::plan`] looks at. Build it in two steps: first without hosts
/// (`ServerState::Available { hosts: vec![] , .. }`), call [`PlanInput::host_lookups`], read those
/// (subnet, MAC) keys on each server with `reservation-get`, then fill in `hosts`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    pub nc: NcIdentity,
    /// `spec.networkInterfaces`, verbatim (MACs are normalized by the planner).
    pub interfaces: Vec<NetworkInterface>,
    /// The NetworkNamespace prefix, or why there is none (nothing is written or deleted then).
    pub prefix: Result<Ipv4Net, PrefixError>,
    /// The configured servers, each once.
    pub servers: Vec<ServerInput>,
    /// The server serving DHCP, whose reads (leases) are used and whose reservations decide `Ready`;
    /// `None` when no server is usable.
    pub active: Option<ServerId>,
    /// `lease4-get-by-hw-address` answers from the active server, for every valid MAC of the spec.
    pub leases: Vec<Lease>,
    /// The parsed `kea.vitistack.io/reservations` annotation.
    pub annotation: Reservations,
    /// `KEA_OPERATOR_INSTANCE`.
    pub instance: String,
    /// Other NCs declaring this NC's MACs ([`mac_claims`]).
    pub claims: Vec<MacClaim>,
    /// The NC carries one of the Go operator's finalizers: its unmarked hosts that equal the desired
    /// one are adopted (SPEC §1).
    pub legacy_finalizer: bool,
    pub now: Timestamp,
}

impl PlanInput {
    pub(crate) fn server(&self, id: ServerId) -> Option<&ServerInput> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// Servers in the order their reservations count: the active one first, then the others by id.
    pub(crate) fn servers_active_first(&self) -> Vec<&ServerInput> {
        let mut servers: Vec<&ServerInput> = self.servers.iter().collect();
        servers.sort_by_key(|s| (Some(s.id) != self.active, s.id));
        servers.dedup_by_key(|s| s.id);
        servers
    }

    pub(crate) fn now_seconds(&self) -> u64 {
        u64::try_from(self.now.as_second()).unwrap_or(0)
    }

    /// The (subnet, MAC) keys to read on each available server before planning: where the current
    /// spec's MACs would live, and every entry of the annotation (so hosts of MACs that left the spec,
    /// or of an old subnet, are found and removed).
    pub fn host_lookups(&self) -> BTreeMap<ServerId, BTreeSet<(SubnetId, Mac)>> {
        host_lookup_keys(
            &self.interfaces,
            self.prefix.as_ref().ok().copied(),
            &self.servers,
            &self.leases,
            &self.annotation,
            self.now_seconds(),
        )
    }
}

/// The (subnet, MAC) keys to read per available server: the annotation's entries, and for each valid
/// MAC of `interfaces` its subnet for `prefix` (with a shared network, the subnet of each candidate
/// address: current leases and recorded addresses). Used before planning a reconcile (through
/// [`PlanInput::host_lookups`]) and before planning a deletion (with no leases; `prefix` if known).
pub fn host_lookup_keys(
    interfaces: &[NetworkInterface],
    prefix: Option<Ipv4Net>,
    servers: &[ServerInput],
    leases: &[Lease],
    annotation: &Reservations,
    now_seconds: u64,
) -> BTreeMap<ServerId, BTreeSet<(SubnetId, Mac)>> {
    let macs: Vec<Mac> = interfaces
        .iter()
        .filter_map(|i| Mac::parse(&i.mac_address).ok())
        .collect();
    let mut out: BTreeMap<ServerId, BTreeSet<(SubnetId, Mac)>> = BTreeMap::new();
    for server in servers {
        let ServerState::Available { subnets, .. } = &server.state else {
            continue;
        };
        let keys = out.entry(server.id).or_default();
        keys.extend(annotation.server(server.id).map(|r| (r.subnet_id, r.mac)));
        let Some(prefix) = prefix.map(|p| p.trunc()) else {
            continue;
        };
        match prefix_subnets(subnets, prefix) {
            PrefixSubnets::Single(subnet) => keys.extend(macs.iter().map(|m| (subnet.id, *m))),
            PrefixSubnets::Ambiguous(_) => {}
            PrefixSubnets::PerAddress => {
                for mac in &macs {
                    let leased = leases
                        .iter()
                        .filter(|l| l.hw_address == *mac && l.is_current(now_seconds))
                        .map(|l| l.ip_address);
                    let recorded = annotation
                        .iter()
                        .filter(|(_, r)| r.mac == *mac)
                        .map(|(_, r)| r.ip);
                    let candidates: BTreeSet<Ipv4Addr> =
                        leased.chain(recorded).filter(|a| prefix.contains(a)).collect();
                    for addr in candidates {
                        if let Ok(subnet) = match_subnet(subnets, prefix, Some(addr)) {
                            keys.insert((subnet.id, *mac));
                        }
                    }
                }
            }
        }
    }
    out
}
