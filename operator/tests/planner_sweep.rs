//! The sweep (SPEC §2.8): repairs a wiped server, removes orphans, never touches foreign hosts.

mod planner_support;

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;
use kea_operator::core::annotation::{Reservations, Reserved};
use kea_operator::core::marker::{MARKER_KEY, OwnerMarker};
use kea_operator::core::planner::{Action, NcIdentity, Outcome};
use kea_operator::core::sweep::{SweepNc, SweepReason, managed_subnets, plan_sweep};
use kea_operator::core::{Host, Mac, ServerId, SubnetId};
use kea_operator::crd::NetworkInterface;
use planner_support::*;
use proptest::prelude::*;
use serde_json::json;

const P: ServerId = ServerId::Primary;
const S: ServerId = ServerId::Secondary;

fn nc(name: &str, created: &str, interfaces: &[(&str, Mac)], prefix: Option<&str>) -> SweepNc {
    SweepNc {
        nc: NcIdentity {
            namespace: "tenant-a".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            created: ts(created),
            generation: Some(1),
        },
        interfaces: interfaces
            .iter()
            .map(|(n, m)| NetworkInterface {
                name: (*n).into(),
                mac_address: m.to_string(),
            })
            .collect(),
        prefix: prefix.map(net),
        annotation: Reservations::default(),
        deleting: false,
    }
}

fn record(mut nc: SweepNc, server: ServerId, subnet: u32, m: Mac, addr: &str) -> SweepNc {
    nc.annotation.insert(
        server,
        Reserved {
            subnet_id: SubnetId(subnet),
            mac: m,
            ip: ip(addr),
        },
    );
    nc
}

fn host_of(nc: &SweepNc, subnet: u32, m: Mac, addr: &str, iface: &str) -> Host {
    marked(
        subnet,
        m,
        addr,
        OwnerMarker::new(INSTANCE, &nc.nc.owner(), &nc.nc.uid, iface),
    )
}

fn subnets() -> Vec<kea_operator::core::Subnet> {
    vec![subnet(1, "10.100.0.0/16"), subnet(2, "10.200.0.0/16")]
}

fn ops(plan: &kea_operator::core::sweep::SweepPlan) -> Vec<(&'static str, String, SweepReason)> {
    plan.actions()
        .iter()
        .map(|a| {
            let h = a.action.result_host().or(a.action.removed_host()).expect("host");
            (
                a.action.operation(),
                format!("{}/{}/{}", h.subnet_id, h.hw_address, h.ip_address),
                a.reason,
            )
        })
        .collect()
}

#[test]
fn sweep_adds_missing_desired_hosts_after_a_wipe() {
    // The secondary restarted and lost its memory reservations; the NC recorded both servers.
    let vm = record(
        record(
            nc(
                "vm-1",
                "2026-01-01T00:00:00Z",
                &[("eth0", mac(1))],
                Some("10.100.1.0/24"),
            ),
            P,
            1,
            mac(1),
            "10.100.1.5",
        ),
        S,
        9,
        mac(1),
        "10.100.1.5",
    );
    let plan = plan_sweep(S, INSTANCE, std::slice::from_ref(&vm), &subnets(), &[]);
    assert_eq!(
        ops(&plan),
        [(
            "add",
            "1/aa:bb:cc:dd:ee:01/10.100.1.5".into(),
            SweepReason::Missing
        )]
    );
    let Action::Add { host } = &plan.actions()[0].action else {
        panic!("add")
    };
    assert_eq!(
        host.marker(),
        Some(OwnerMarker::new(INSTANCE, "tenant-a/vm-1", "uid-vm-1", "eth0"))
    );
    assert_eq!(plan.missing(), 1);
}

#[test]
fn sweep_repairs_a_server_the_nc_never_recorded_from_the_partners_record() {
    // The secondary was down during the reconcile: only the primary's entry exists.
    let vm = record(
        nc(
            "vm-1",
            "2026-01-01T00:00:00Z",
            &[("eth0", mac(1))],
            Some("10.100.1.0/24"),
        ),
        P,
        1,
        mac(1),
        "10.100.1.5",
    );
    let plan = plan_sweep(S, INSTANCE, &[vm], &[subnet(7, "10.100.0.0/16")], &[]);
    assert_eq!(
        ops(&plan),
        [(
            "add",
            "7/aa:bb:cc:dd:ee:01/10.100.1.5".into(),
            SweepReason::Missing
        )]
    );
}

#[test]
fn sweep_deletes_hosts_whose_owner_nc_is_gone() {
    let gone = nc(
        "gone",
        "2026-01-01T00:00:00Z",
        &[("eth0", mac(2))],
        Some("10.100.1.0/24"),
    );
    let orphan = host_of(&gone, 1, mac(2), "10.100.1.7", "eth0");
    let plan = plan_sweep(P, INSTANCE, &[], &subnets(), &[orphan]);
    assert_eq!(
        ops(&plan),
        [(
            "delete",
            "1/aa:bb:cc:dd:ee:02/10.100.1.7".into(),
            SweepReason::OwnerGone
        )]
    );
    assert_eq!(plan.orphans(), 1);
}

#[test]
fn sweep_deletes_hosts_of_interfaces_removed_from_the_spec() {
    let vm = nc(
        "vm-1",
        "2026-01-01T00:00:00Z",
        &[("eth0", mac(1))],
        Some("10.100.1.0/24"),
    );
    let removed = host_of(&vm, 1, mac(2), "10.100.1.7", "eth1");
    let plan = plan_sweep(P, INSTANCE, &[vm], &subnets(), &[removed]);
    assert_eq!(
        ops(&plan),
        [(
            "delete",
            "1/aa:bb:cc:dd:ee:02/10.100.1.7".into(),
            SweepReason::InterfaceGone
        )]
    );
}

#[test]
fn sweep_deletes_hosts_no_longer_wanted_there() {
    // The prefix moved to 10.100.2.0/24: the old address is outside it.
    let vm = record(
        nc(
            "vm-1",
            "2026-01-01T00:00:00Z",
            &[("eth0", mac(1))],
            Some("10.100.2.0/24"),
        ),
        P,
        1,
        mac(1),
        "10.100.2.5",
    );
    let stale = host_of(&vm, 1, mac(1), "10.100.1.5", "eth0");
    let plan = plan_sweep(
        P,
        INSTANCE,
        std::slice::from_ref(&vm),
        &[subnet(1, "10.100.0.0/16")],
        std::slice::from_ref(&stale),
    );
    assert!(
        plan.actions().is_empty(),
        "the desired key holds the stale host: the owner's reconcile replaces it"
    );
    assert!(plan.requeue().contains("uid-vm-1"));
    // In another subnet than the desired one, the stale host is deleted and the desired one added.
    let plan = plan_sweep(
        P,
        INSTANCE,
        &[vm],
        &[subnet(1, "10.100.1.0/24"), subnet(2, "10.100.2.0/24")],
        &[stale],
    );
    assert_eq!(
        ops(&plan),
        [
            (
                "delete",
                "1/aa:bb:cc:dd:ee:01/10.100.1.5".into(),
                SweepReason::OutsidePrefix
            ),
            (
                "add",
                "2/aa:bb:cc:dd:ee:01/10.100.2.5".into(),
                SweepReason::Missing
            )
        ]
    );
    // The Kea configuration gained a more specific subnet: the host in the old subnet goes.
    let vm = record(
        nc(
            "vm-1",
            "2026-01-01T00:00:00Z",
            &[("eth0", mac(1))],
            Some("10.100.1.0/24"),
        ),
        P,
        3,
        mac(1),
        "10.100.1.5",
    );
    let old_subnet = host_of(&vm, 1, mac(1), "10.100.1.5", "eth0");
    let plan = plan_sweep(
        P,
        INSTANCE,
        &[vm],
        &[subnet(1, "10.100.0.0/16"), subnet(3, "10.100.1.0/24")],
        &[old_subnet],
    );
    assert_eq!(
        ops(&plan),
        [
            (
                "delete",
                "1/aa:bb:cc:dd:ee:01/10.100.1.5".into(),
                SweepReason::SubnetChanged
            ),
            (
                "add",
                "3/aa:bb:cc:dd:ee:01/10.100.1.5".into(),
                SweepReason::Missing
            )
        ]
    );
}

#[test]
fn sweep_never_touches_hosts_without_this_instances_marker_and_reports_conflicts() {
    let vm = record(
        nc(
            "vm-1",
            "2026-01-01T00:00:00Z",
            &[("eth0", mac(1)), ("eth1", mac(2))],
            Some("10.100.1.0/24"),
        ),
        P,
        1,
        mac(1),
        "10.100.1.5",
    );
    let vm = record(vm, P, 1, mac(2), "10.100.1.6");
    let mut malformed = unmarked(1, mac(5), "10.100.1.9");
    malformed.user_context = Some(json!({MARKER_KEY: "??"}));
    let hosts = [
        unmarked(1, mac(1), "10.100.1.50"),
        marked(
            1,
            mac(3),
            "10.100.1.6",
            OwnerMarker::new("staging", "x/y", "uid-x", "eth0"),
        ),
        unmarked(1, mac(4), "10.100.1.8"),
        malformed,
    ];
    let plan = plan_sweep(P, INSTANCE, &[vm], &subnets(), &hosts);
    assert!(plan.actions().is_empty(), "{:?}", plan.actions());
    let conflicts: BTreeSet<String> = plan
        .conflicts()
        .iter()
        .map(|c| c.holder.hw_address.to_string())
        .collect();
    assert_eq!(
        conflicts,
        ["aa:bb:cc:dd:ee:01".to_string(), "aa:bb:cc:dd:ee:03".to_string()]
            .into_iter()
            .collect()
    );
}

#[test]
fn sweep_leaves_hosts_of_deleting_ncs_to_their_finalizer() {
    let mut vm = nc(
        "vm-1",
        "2026-01-01T00:00:00Z",
        &[("eth0", mac(1))],
        Some("10.100.1.0/24"),
    );
    vm.deleting = true;
    let vm = record(vm, P, 1, mac(1), "10.100.1.5");
    let host = host_of(&vm, 1, mac(1), "10.100.1.5", "eth0");
    let plan = plan_sweep(P, INSTANCE, std::slice::from_ref(&vm), &subnets(), &[host]);
    assert!(plan.actions().is_empty());
    let plan = plan_sweep(P, INSTANCE, &[vm], &subnets(), &[]);
    assert!(plan.actions().is_empty(), "nothing is re-added for a deleting NC");
}

#[test]
fn sweep_requeues_an_nc_whose_host_differs_from_its_record() {
    let vm = record(
        nc(
            "vm-1",
            "2026-01-01T00:00:00Z",
            &[("eth0", mac(1))],
            Some("10.100.1.0/24"),
        ),
        P,
        1,
        mac(1),
        "10.100.1.5",
    );
    let drifted = host_of(&vm, 1, mac(1), "10.100.1.77", "eth0");
    let plan = plan_sweep(P, INSTANCE, std::slice::from_ref(&vm), &subnets(), &[drifted]);
    assert!(
        plan.actions().is_empty(),
        "the reconcile decides, with leases the sweep does not have"
    );
    assert!(plan.requeue().contains("uid-vm-1"));
    // A host of ours not (yet) recorded: kept, and the owner is requeued.
    let unrecorded = host_of(&vm, 1, mac(1), "10.100.1.5", "eth0");
    let vm2 = nc(
        "vm-1",
        "2026-01-01T00:00:00Z",
        &[("eth0", mac(1))],
        Some("10.100.1.0/24"),
    );
    let plan = plan_sweep(P, INSTANCE, &[vm2], &subnets(), &[unrecorded]);
    assert!(plan.actions().is_empty());
    assert!(plan.requeue().contains("uid-vm-1"));
}

#[test]
fn sweep_gives_a_mac_declared_twice_to_the_older_nc() {
    let older = record(
        nc(
            "older",
            "2025-01-01T00:00:00Z",
            &[("eth0", mac(1))],
            Some("10.100.1.0/24"),
        ),
        P,
        1,
        mac(1),
        "10.100.1.5",
    );
    let younger = record(
        nc(
            "younger",
            "2026-01-01T00:00:00Z",
            &[("eth0", mac(1))],
            Some("10.100.1.0/24"),
        ),
        P,
        1,
        mac(1),
        "10.100.1.9",
    );
    let plan = plan_sweep(P, INSTANCE, &[younger, older], &subnets(), &[]);
    assert_eq!(
        ops(&plan),
        [(
            "add",
            "1/aa:bb:cc:dd:ee:01/10.100.1.5".into(),
            SweepReason::Missing
        )]
    );
    assert_eq!(plan.actions()[0].uid, "uid-older");
}

#[test]
fn managed_subnets_cover_prefixes_and_recorded_subnets() {
    let a = nc("a", "2026-01-01T00:00:00Z", &[], Some("10.100.1.0/24"));
    let b = record(
        nc("b", "2026-01-01T00:00:00Z", &[], None),
        P,
        42,
        mac(1),
        "10.1.1.1",
    );
    let shared = nc("c", "2026-01-01T00:00:00Z", &[], Some("10.50.0.0/24"));
    let subnets = vec![
        subnet(1, "10.100.0.0/16"),
        subnet(5, "10.50.0.0/25"),
        subnet(6, "10.50.0.128/25"),
        subnet(9, "10.9.0.0/16"),
    ];
    let managed = managed_subnets(P, &subnets, &[a, b, shared]);
    assert_eq!(managed, [1, 5, 6, 42].into_iter().map(SubnetId).collect());
}

fn arb_host() -> impl Strategy<Value = Host> {
    let owners = prop_oneof![
        Just(Some(("uid-a", "tenant-a/a", INSTANCE))),
        Just(Some(("uid-b", "tenant-a/b", INSTANCE))),
        Just(Some(("uid-gone", "tenant-a/gone", INSTANCE))),
        Just(Some(("uid-a", "tenant-a/a", "staging"))),
        Just(None),
    ];
    (
        1u32..3,
        1u8..=4,
        1u8..=6,
        owners,
        prop::sample::select(vec!["eth0", "eth1"]),
    )
        .prop_map(|(s, m, a, owner, iface)| {
            let addr = format!("10.100.1.{a}");
            match owner {
                Some((uid, o, inst)) => marked(s, mac(m), &addr, OwnerMarker::new(inst, o, uid, iface)),
                None => unmarked(s, mac(m), &addr),
            }
        })
}

fn arb_nc(name: &'static str, created: &'static str) -> impl Strategy<Value = SweepNc> {
    (
        prop::collection::btree_set(1u8..=4, 0..3),
        prop::option::weighted(0.9, prop::sample::select(vec!["10.100.1.0/24", "10.100.1.0/29"])),
        prop::collection::vec((any::<bool>(), 1u32..3, 1u8..=4, 1u8..=6), 0..4),
        prop::bool::weighted(0.1),
    )
        .prop_map(move |(macs, prefix, recorded, deleting)| {
            let mut n = nc(name, created, &[], prefix);
            n.interfaces = macs
                .iter()
                .enumerate()
                .map(|(i, m)| NetworkInterface {
                    name: format!("eth{i}"),
                    mac_address: mac(*m).to_string(),
                })
                .collect();
            for (primary, s, m, a) in recorded {
                let server = if primary { P } else { S };
                n.annotation.insert(
                    server,
                    Reserved {
                        subnet_id: SubnetId(s),
                        mac: mac(m),
                        ip: ip(&format!("10.100.1.{a}")),
                    },
                );
            }
            n.deleting = deleting;
            n
        })
}

proptest! {
    // `PROPTEST_CASES` raises the case count for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000),
        ..ProptestConfig::default()
    })]

    /// The sweep never touches hosts without this instance's marker, only deletes marked hosts no NC
    /// wants at their key, and its adds never collide (applied to a Kea-like store, all succeed).
    #[test]
    fn sweep_never_touches_unmarked_or_foreign_hosts(
        hosts in prop::collection::vec(arb_host(), 0..10),
        a in arb_nc("a", "2026-01-01T00:00:00Z"),
        b in arb_nc("b", "2026-01-02T00:00:00Z"),
        with_b in any::<bool>(),
    ) {
        let subnets = vec![subnet(1, "10.100.0.0/16"), subnet(2, "10.100.1.0/24")];
        let model = KeaModel::new(subnets.clone(), &hosts);
        let ncs: Vec<SweepNc> = if with_b { vec![a, b] } else { vec![a] };
        let plan = plan_sweep(P, INSTANCE, &ncs, &subnets, &model.host_list());
        let live: BTreeMap<&str, &SweepNc> = ncs.iter().map(|n| (n.nc.uid.as_str(), n)).collect();
        for action in plan.actions() {
            match &action.action {
                Action::Delete { host } => {
                    let marker = host.instance_marker(INSTANCE);
                    prop_assert!(marker.is_some(), "deleted a host without our marker: {:?}", host);
                    if let Some(owner) = marker.and_then(|m| live.get(m.uid.as_str()).copied()) {
                        prop_assert!(!owner.deleting, "a deleting NC's host is its finalizer's job");
                    }
                }
                Action::Add { host } => {
                    prop_assert!(!model.hosts.contains_key(&(host.subnet_id, host.hw_address)));
                }
                other => prop_assert!(false, "the sweep only adds and deletes: {:?}", other),
            }
        }
        let mut applied = model.clone();
        for action in plan.actions() {
            prop_assert_eq!(applied.apply(&action.action), Outcome::Done);
        }
        // Every host without our marker is still there, unchanged.
        for host in model.hosts.values().filter(|h| h.instance_marker(INSTANCE).is_none()) {
            prop_assert_eq!(applied.hosts.get(&(host.subnet_id, host.hw_address)), Some(host));
        }
        // A second sweep over the result has nothing left to do.
        let again = plan_sweep(P, INSTANCE, &ncs, &subnets, &applied.host_list());
        prop_assert!(again.actions().is_empty(), "{:?}", again.actions());
    }
}

#[test]
fn sweep_prefix_helper_accepts_host_bits() {
    let vm = record(
        nc(
            "vm-1",
            "2026-01-01T00:00:00Z",
            &[("eth0", mac(1))],
            Some("10.100.1.9/24"),
        ),
        P,
        1,
        mac(1),
        "10.100.1.5",
    );
    let plan = plan_sweep(P, INSTANCE, &[vm], &subnets(), &[]);
    assert_eq!(plan.actions().len(), 1);
    let _: Ipv4Net = net("10.100.1.0/24");
}
