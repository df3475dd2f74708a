//! The invariants every scenario ends with (SPEC §10): every desired reservation on every server, no
//! owned host without a desired owner, no foreign host changed, no NC stuck in deletion.
//!
//! "Desired" is computed here from what the test did, independently of the operator's code: the NCs
//! and NetworkNamespaces as the API server holds them, the leases the harness gave each MAC (the
//! first one inside the NC's prefix: reservations are sticky), and the hosts the harness put in Kea
//! itself (foreign hosts: a MAC or address they hold is a conflict, never reserved).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use kea_operator::crd::{NetworkConfiguration, NetworkNamespace};
use kube::ResourceExt as _;
use serde_json::Value;

use crate::kea::layout::subnet_for_prefix;
use crate::kea::{KeaHost, Role};

/// What the harness knows independently of the operator.
#[derive(Debug, Clone, Default)]
pub struct Oracle {
    pub instance: String,
    /// Leases given per (normalized) MAC, in the order given.
    pub leases: BTreeMap<String, Vec<Ipv4Addr>>,
    /// Hosts on each server that the operator does not own (config reservations, hosts the
    /// scenario added): they must stay exactly as they are.
    pub foreign: BTreeMap<Role, Vec<KeaHost>>,
}

/// What the world looks like now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub ncs: Vec<NetworkConfiguration>,
    pub nns: Vec<NetworkNamespace>,
    pub hosts: BTreeMap<Role, Vec<KeaHost>>,
}

/// One desired reservation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Desired {
    pub subnet_id: u32,
    pub mac: String,
    pub ip: Ipv4Addr,
    /// `<ns>/<name>`
    pub owner: String,
    pub uid: String,
    pub interface: String,
}

/// SPEC §2.1's MAC rule: lowercase, `-` → `:`, six colon-separated octets.
pub fn normalize_mac(raw: &str) -> Option<String> {
    let mac = raw.trim().to_ascii_lowercase().replace('-', ":");
    let parts: Vec<&str> = mac.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then_some(mac)
}

fn prefix_of(nc: &NetworkConfiguration, nns: &[NetworkNamespace]) -> Option<Ipv4Net> {
    let ns = nc.namespace()?;
    let in_ns: Vec<&NetworkNamespace> = nns
        .iter()
        .filter(|n| n.namespace().as_deref() == Some(&ns))
        .collect();
    let nn = match &nc.spec.network_namespace_name {
        Some(name) => in_ns.into_iter().find(|n| &n.name_any() == name)?,
        None if in_ns.len() == 1 => in_ns[0],
        None => return None,
    };
    nn.status.as_ref()?.ipv4_prefix.as_deref()?.trim().parse().ok()
}

fn key(nc: &NetworkConfiguration) -> String {
    format!("{}/{}", nc.namespace().unwrap_or_default(), nc.name_any())
}

/// The reservations that must exist on every server.
pub fn desired(oracle: &Oracle, observed: &Observed) -> Vec<Desired> {
    let mut live: Vec<&NetworkConfiguration> = observed
        .ncs
        .iter()
        .filter(|nc| {
            nc.metadata.deletion_timestamp.is_none() && nc.spec.provider.trim().eq_ignore_ascii_case("kea")
        })
        .collect();
    // The older NC owns a MAC declared twice (creationTimestamp, then name).
    live.sort_by_key(|nc| (nc.metadata.creation_timestamp.clone().map(|t| t.0), key(nc)));
    let foreign: Vec<&KeaHost> = oracle.foreign.values().flatten().collect();
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for nc in live {
        let Some(prefix) = prefix_of(nc, &observed.nns) else {
            continue;
        };
        let Some(subnet) = subnet_for_prefix(prefix) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for iface in &nc.spec.network_interfaces {
            let Some(mac) = normalize_mac(&iface.mac_address) else {
                continue;
            };
            if !seen.insert(mac.clone()) || taken.contains(&mac) {
                continue;
            }
            taken.insert(mac.clone());
            let Some(ip) = oracle
                .leases
                .get(&mac)
                .and_then(|l| l.iter().find(|ip| prefix.contains(*ip)).copied())
            else {
                continue;
            };
            let conflict = foreign
                .iter()
                .any(|h| h.subnet_id == subnet.id && (h.hw_address == mac || h.ip == ip));
            if conflict {
                continue;
            }
            out.push(Desired {
                subnet_id: subnet.id,
                mac,
                ip,
                owner: key(nc),
                uid: nc.uid().unwrap_or_default(),
                interface: iface.name.clone(),
            });
        }
    }
    out.sort();
    out
}

fn marker_matches(host: &KeaHost, d: &Desired, instance: &str) -> bool {
    let Some(m) = host.marker() else { return false };
    let field = |k: &str| m.get(k).and_then(Value::as_str);
    field("instance") == Some(instance)
        && field("owner") == Some(&d.owner)
        && field("uid") == Some(&d.uid)
        && field("interface") == Some(&d.interface)
}

/// Every violation, as one line each (empty when all invariants hold).
pub fn check(oracle: &Oracle, observed: &Observed) -> Vec<String> {
    let desired = desired(oracle, observed);
    let mut violations = Vec::new();
    for (role, hosts) in &observed.hosts {
        for d in &desired {
            match hosts
                .iter()
                .find(|h| h.subnet_id == d.subnet_id && h.hw_address == d.mac)
            {
                None => violations.push(format!(
                    "{role}: missing reservation subnet {} {} -> {} of {} ({})",
                    d.subnet_id, d.mac, d.ip, d.owner, d.interface
                )),
                Some(h) if h.ip != d.ip || !marker_matches(h, d, &oracle.instance) => {
                    violations.push(format!(
                        "{role}: wrong reservation {h}; expected {} of {} uid {} ({})",
                        d.ip, d.owner, d.uid, d.interface
                    ))
                }
                Some(_) => {}
            }
        }
        for h in hosts.iter().filter(|h| h.owned_by_instance(&oracle.instance)) {
            let wanted = desired.iter().any(|d| {
                d.subnet_id == h.subnet_id
                    && d.mac == h.hw_address
                    && d.ip == h.ip
                    && marker_matches(h, d, &oracle.instance)
            });
            if !wanted {
                violations.push(format!("{role}: owned host without a desired owner: {h}"));
            }
        }
        let recorded = oracle.foreign.get(role).map(Vec::as_slice).unwrap_or_default();
        for f in recorded {
            if !hosts.contains(f) {
                let now = hosts
                    .iter()
                    .find(|h| h.subnet_id == f.subnet_id && h.hw_address == f.hw_address)
                    .map_or_else(|| "gone".to_string(), ToString::to_string);
                violations.push(format!("{role}: foreign host changed: {f}; now {now}"));
            }
        }
        for h in hosts.iter().filter(|h| !h.owned_by_instance(&oracle.instance)) {
            if !recorded.contains(h) {
                violations.push(format!(
                    "{role}: host without this instance's marker appeared: {h}"
                ));
            }
        }
    }
    for nc in &observed.ncs {
        if nc.metadata.deletion_timestamp.is_some() {
            violations.push(format!(
                "NC {} stuck in deletion (finalizers {:?})",
                key(nc),
                nc.metadata.finalizers
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use kea_operator::crd::{
        NetworkConfigurationSpec, NetworkInterface, NetworkNamespaceSpec, NetworkNamespaceStatus,
    };
    use serde_json::json;

    fn nc(ns: &str, name: &str, created: &str, ifaces: &[(&str, &str)]) -> NetworkConfiguration {
        let mut nc = NetworkConfiguration::new(
            name,
            NetworkConfigurationSpec {
                provider: "kea".into(),
                network_interfaces: ifaces
                    .iter()
                    .map(|(n, m)| NetworkInterface {
                        name: n.to_string(),
                        mac_address: m.to_string(),
                    })
                    .collect(),
                ..Default::default()
            },
        );
        nc.metadata.namespace = Some(ns.into());
        nc.metadata.uid = Some(format!("uid-{name}"));
        nc.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            created.parse().expect("timestamp"),
        ));
        nc
    }

    fn nn(ns: &str, prefix: &str) -> NetworkNamespace {
        let mut nn = NetworkNamespace::new("net", NetworkNamespaceSpec::default());
        nn.metadata.namespace = Some(ns.into());
        nn.status = Some(NetworkNamespaceStatus {
            ipv4_prefix: Some(prefix.into()),
        });
        nn
    }

    fn owned(d: &Desired, instance: &str) -> KeaHost {
        KeaHost {
            subnet_id: d.subnet_id,
            hw_address: d.mac.clone(),
            ip: d.ip,
            user_context: Some(
                json!({"kea-operator": {"v": 1, "instance": instance, "owner": d.owner,
                "uid": d.uid, "interface": d.interface}}),
            ),
        }
    }

    fn world() -> (Oracle, Observed) {
        let mut oracle = Oracle {
            instance: "e2e".into(),
            ..Default::default()
        };
        oracle
            .leases
            .insert("aa:00:00:00:00:01".into(), vec![Ipv4Addr::new(10, 100, 1, 10)]);
        oracle
            .leases
            .insert("aa:00:00:00:00:02".into(), vec![Ipv4Addr::new(10, 100, 1, 11)]);
        let observed = Observed {
            ncs: vec![
                nc(
                    "t",
                    "old",
                    "2026-01-01T00:00:00Z",
                    &[("eth0", "AA-00-00-00-00-01"), ("bad", "zz")],
                ),
                // Declares the old NC's MAC again (younger: conflict) and a MAC without a lease.
                nc(
                    "t",
                    "young",
                    "2026-01-02T00:00:00Z",
                    &[("eth0", "aa:00:00:00:00:01"), ("eth1", "aa:00:00:00:00:09")],
                ),
                nc(
                    "t",
                    "third",
                    "2026-01-03T00:00:00Z",
                    &[("eth0", "aa:00:00:00:00:02")],
                ),
            ],
            nns: vec![nn("t", "10.100.0.0/16")],
            hosts: BTreeMap::new(),
        };
        (oracle, observed)
    }

    #[test]
    fn desired_follows_leases_prefix_validity_and_age() {
        let (oracle, observed) = world();
        let d = desired(&oracle, &observed);
        let got: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|d| (d.owner.as_str(), d.mac.as_str(), d.interface.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("t/old", "aa:00:00:00:00:01", "eth0"),
                ("t/third", "aa:00:00:00:00:02", "eth0")
            ]
        );
    }

    #[test]
    fn a_converged_world_has_no_violations_and_each_kind_of_drift_is_reported() {
        let (mut oracle, mut observed) = world();
        let printer = KeaHost {
            subnet_id: 1,
            hw_address: "02:00:00:00:00:01".into(),
            ip: Ipv4Addr::new(10, 100, 5, 1),
            user_context: None,
        };
        oracle.foreign.insert(Role::Primary, vec![printer.clone()]);
        let d = desired(&oracle, &observed);
        let mut hosts: Vec<KeaHost> = d.iter().map(|d| owned(d, "e2e")).collect();
        hosts.push(printer.clone());
        observed.hosts.insert(Role::Primary, hosts.clone());
        assert_eq!(check(&oracle, &observed), Vec::<String>::new());

        // Missing, orphan, foreign changed, unknown unmarked host, stuck deletion.
        let mut drifted = hosts.clone();
        drifted.remove(0);
        drifted.push(owned(
            &Desired {
                subnet_id: 1,
                mac: "aa:00:00:00:00:77".into(),
                ip: Ipv4Addr::new(10, 100, 1, 77),
                owner: "t/gone".into(),
                uid: "uid-gone".into(),
                interface: "eth0".into(),
            },
            "e2e",
        ));
        let idx = drifted.iter().position(|h| h == &printer).expect("printer");
        drifted[idx].ip = Ipv4Addr::new(10, 100, 5, 2);
        observed.hosts.insert(Role::Primary, drifted);
        observed.ncs[2].metadata.deletion_timestamp = observed.ncs[2].metadata.creation_timestamp.clone();
        let v = check(&oracle, &observed).join("\n");
        assert!(
            v.contains("missing reservation subnet 1 aa:00:00:00:00:01"),
            "{v}"
        );
        assert!(
            v.contains("owned host without a desired owner: subnet 1 aa:00:00:00:00:77"),
            "{v}"
        );
        assert!(v.contains("foreign host changed"), "{v}");
        assert!(v.contains("host without this instance's marker appeared"), "{v}");
        assert!(v.contains("NC t/third stuck in deletion"), "{v}");
    }

    #[test]
    fn a_foreign_host_on_the_address_or_mac_makes_it_a_conflict_not_a_desire() {
        let (mut oracle, observed) = world();
        oracle.foreign.insert(
            Role::Secondary,
            vec![KeaHost {
                subnet_id: 1,
                hw_address: "bb:00:00:00:00:01".into(),
                ip: Ipv4Addr::new(10, 100, 1, 11),
                user_context: None,
            }],
        );
        let d = desired(&oracle, &observed);
        assert!(d.iter().all(|d| d.mac != "aa:00:00:00:00:02"), "{d:?}");
    }

    #[test]
    fn macs_normalize_as_the_spec_says() {
        assert_eq!(
            normalize_mac("AA-BB-CC-DD-EE-FF").as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(normalize_mac("AABBCCDDEEFF"), None);
        assert_eq!(normalize_mac("aa:bb:cc:dd:ee"), None);
        assert_eq!(normalize_mac("gg:bb:cc:dd:ee:ff"), None);
    }
}
