//! Every reconcile rule of SPEC §2 (steps 1–6), §1 (Go-operator adoption) and §2.7 (deletion), one
//! test per rule, named after it.

mod planner_support;

use kea_operator::core::annotation::Reserved;
use kea_operator::core::error_class::Reason;
use kea_operator::core::marker::{MARKER_KEY, OwnerMarker};
use kea_operator::core::namespace::PrefixError;
use kea_operator::core::planner::{
    Action, AddressSource, EventType, NcIdentity, Outcome, ReplaceKind, ServerInput, ServerOutcome,
    ServerState, Verdict, plan_deletion,
};
use kea_operator::core::{ServerId, SubnetId};
use kea_operator::crd::InterfaceState;
use planner_support::*;
use serde_json::json;

const P: ServerId = ServerId::Primary;
const S: ServerId = ServerId::Secondary;

fn ops(plan: &kea_operator::core::planner::Plan) -> Vec<(ServerId, &'static str, String)> {
    plan.actions()
        .iter()
        .map(|a| {
            let host = a
                .action
                .result_host()
                .or(a.action.removed_host())
                .expect("every action has a host");
            (
                a.server,
                a.action.operation(),
                format!("{}/{}/{}", host.subnet_id, host.hw_address, host.ip_address),
            )
        })
        .collect()
}

fn states(fixture: &Fixture) -> Vec<(String, InterfaceState)> {
    let plan = fixture.plan();
    let results = done(&plan);
    plan.into_applied(results)
        .interfaces()
        .into_iter()
        .map(|r| (r.name, r.state))
        .collect()
}

// ---- Step 1: validation and MAC normalization ----

#[test]
fn step1_invalid_mac_is_invalid_mac_and_does_not_block_the_other_interfaces() {
    let f = Fixture::new()
        .interface("eth0", "AA-BB-CC-DD-EE-01")
        .interface("eth1", "not-a-mac")
        .lease(lease(mac(1), "10.100.1.5", 10));
    let plan = f.plan();
    assert!(matches!(plan.interfaces()[1].verdict, Verdict::InvalidMac { .. }));
    assert_eq!(
        ops(&plan),
        [
            (P, "add", "1/aa:bb:cc:dd:ee:01/10.100.1.5".into()),
            (S, "add", "7/aa:bb:cc:dd:ee:01/10.100.1.5".into())
        ]
    );
    assert_eq!(
        states(&f),
        [
            ("eth0".into(), InterfaceState::Reserved),
            ("eth1".into(), InterfaceState::InvalidMac)
        ]
    );
    assert!(
        plan.events()
            .iter()
            .any(|e| e.reason == "InvalidSpec" && e.note.contains("eth1"))
    );
}

#[test]
fn step1_macs_are_normalized_lowercase_with_colons() {
    let plan = Fixture::new()
        .interface("eth0", "aA-bB-cC-dD-eE-01")
        .lease(lease(mac(1), "10.100.1.5", 10))
        .plan();
    assert_eq!(plan.interfaces()[0].mac, Some(mac(1)));
    let Action::Add { host } = &plan.actions()[0].action else {
        panic!("expected an add")
    };
    assert_eq!(host.hw_address.to_string(), "aa:bb:cc:dd:ee:01");
}

#[test]
fn step1_mac_without_separators_is_rejected() {
    let plan = Fixture::new().interface("eth0", "AABBCCDDEE01").plan();
    let Verdict::InvalidMac { message } = &plan.interfaces()[0].verdict else {
        panic!("expected InvalidMac")
    };
    assert!(message.contains("no separators"), "{message}");
    assert!(plan.is_noop());
}

#[test]
fn step1_duplicate_macs_within_one_nc_are_reported_once() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .interface("eth1", "AA:BB:CC:DD:EE:01")
        .interface("eth2", "aa-bb-cc-dd-ee-01")
        .lease(lease(mac(1), "10.100.1.5", 10))
        .plan();
    let dup_events: Vec<_> = plan
        .events()
        .iter()
        .filter(|e| e.reason == "InvalidSpec")
        .collect();
    assert_eq!(
        dup_events.len(),
        1,
        "one report for the duplicated MAC: {dup_events:?}"
    );
    assert!(dup_events[0].note.contains("eth0, eth1, eth2"));
    assert_eq!(
        plan.interfaces()[0].verdict,
        Verdict::Proceed,
        "the first declaration is reserved"
    );
    assert!(matches!(plan.interfaces()[1].verdict, Verdict::InvalidMac { .. }));
    assert!(matches!(plan.interfaces()[2].verdict, Verdict::InvalidMac { .. }));
    assert_eq!(plan.actions().len(), 2, "one add per server, not per declaration");
}

// ---- Step 2: NetworkNamespace and prefix ----

#[test]
fn step2_missing_network_namespace_writes_and_deletes_nothing() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(9), "10.100.1.9", "old"))
        .prefix_error(PrefixError::NotFound {
            namespace: "tenant-a".into(),
            name: None,
        });
    let plan = f.plan();
    assert!(
        plan.is_noop(),
        "without a prefix nothing is known to be stale: {:?}",
        plan.actions()
    );
    assert_eq!(
        plan.blocked().map(|(r, _)| r),
        Some(Reason::NetworkNamespaceNotFound)
    );
    assert!(matches!(
        plan.interfaces()[0].verdict,
        Verdict::Blocked {
            reason: Reason::NetworkNamespaceNotFound,
            ..
        }
    ));
}

#[test]
fn step2_prefix_not_ready_and_ambiguous_network_namespace_block_with_their_reasons() {
    let not_ready = PrefixError::NotReady {
        namespace: "a".into(),
        name: "n".into(),
        detail: "no prefix".into(),
    };
    let ambiguous = PrefixError::Ambiguous {
        namespace: "a".into(),
        names: vec!["x".into(), "y".into()],
    };
    for (err, reason) in [
        (not_ready, Reason::PrefixNotReady),
        (ambiguous, Reason::AmbiguousNetworkNamespace),
    ] {
        let plan = Fixture::new()
            .interface("eth0", "aa:bb:cc:dd:ee:01")
            .prefix_error(err)
            .plan();
        assert_eq!(plan.blocked().map(|(r, _)| r), Some(reason));
        assert!(plan.is_noop());
    }
}

#[test]
fn step2_no_usable_server_writes_nothing() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .unavailable(P, Reason::KeaUnavailable, "connection refused")
        .unavailable(S, Reason::KeaUnavailable, "connection refused")
        .active(None)
        .plan();
    assert_eq!(plan.blocked().map(|(r, _)| r), Some(Reason::KeaUnavailable));
    assert!(plan.is_noop());
}

#[test]
fn step2_no_usable_server_reports_why_a_refused_password_is_authentication_failed() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .unavailable(
            P,
            Reason::AuthenticationFailed,
            "Kea refused the credentials (HTTP 401)",
        )
        .unavailable(
            S,
            Reason::AuthenticationFailed,
            "Kea refused the credentials (HTTP 401)",
        )
        .active(None)
        .plan();
    let (reason, message) = plan.blocked().expect("blocked");
    assert_eq!(reason, Reason::AuthenticationFailed);
    assert!(
        message.contains("primary: Kea refused the credentials"),
        "{message}"
    );
    assert!(plan.is_noop());
}

// ---- Step 3: subnet per server ----

#[test]
fn step3_subnet_is_resolved_per_server_and_ids_may_differ() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 10))
        .plan();
    let servers = &plan.interfaces()[0].servers;
    assert_eq!(
        servers.iter().map(|s| (s.server, s.subnet)).collect::<Vec<_>>(),
        [(P, Some(SubnetId(1))), (S, Some(SubnetId(7)))]
    );
}

#[test]
fn step3_the_longest_containing_subnet_wins() {
    let plan = Fixture::new()
        .single_server()
        .subnets(
            P,
            vec![
                subnet(1, "10.0.0.0/8"),
                subnet(2, "10.100.0.0/16"),
                subnet(3, "10.100.2.0/24"),
            ],
        )
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 10))
        .plan();
    assert_eq!(ops(&plan), [(P, "add", "2/aa:bb:cc:dd:ee:01/10.100.1.5".into())]);
}

#[test]
fn step3_shared_network_fallback_uses_the_subnet_holding_the_lease_address() {
    let f = Fixture::new()
        .single_server()
        .subnets(P, vec![subnet(1, "10.100.1.0/25"), subnet(2, "10.100.1.128/25")])
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.200", 10));
    assert_eq!(
        ops(&f.plan()),
        [(P, "add", "2/aa:bb:cc:dd:ee:01/10.100.1.200".into())]
    );
    let lookups = f.input.host_lookups();
    assert!(
        lookups[&P].contains(&(SubnetId(2), mac(1))),
        "the fallback subnet is read before planning: {lookups:?}"
    );
}

#[test]
fn step3_subnet_not_found_on_one_server_fails_only_that_server() {
    let f = Fixture::new()
        .subnets(S, vec![subnet(7, "10.200.0.0/16")])
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 10));
    let plan = f.plan();
    assert_eq!(ops(&plan), [(P, "add", "1/aa:bb:cc:dd:ee:01/10.100.1.5".into())]);
    let secondary = &plan.interfaces()[0].servers[1];
    assert!(
        matches!(&secondary.outcome, ServerOutcome::Failed { reason: Reason::SubnetNotFound, message } if message.contains("10.100.1.0/24"))
    );
    assert_eq!(
        states(&f),
        [("eth0".into(), InterfaceState::Reserved)],
        "Ready judges the active server only"
    );
}

// ---- Step 4: desired address ----

#[test]
fn step4_the_newest_current_lease_in_the_prefix_is_the_desired_address() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 500))
        .lease(lease(mac(1), "10.100.1.6", 100))
        .lease(lease(mac(1), "10.200.0.7", 1))
        .plan();
    assert_eq!(plan.interfaces()[0].address, Some(ip("10.100.1.6")));
    assert_eq!(plan.interfaces()[0].address_source, Some(AddressSource::Lease));
}

#[test]
fn step4_without_a_lease_the_interface_waits_and_nothing_is_written() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 4000));
    let plan = f.plan();
    assert_eq!(
        plan.interfaces()[0].verdict,
        Verdict::WaitingForLease,
        "an expired lease does not count"
    );
    assert!(plan.is_noop());
    assert_eq!(states(&f), [("eth0".into(), InterfaceState::WaitingForLease)]);
}

#[test]
fn step4_an_owned_reservation_is_sticky_and_a_later_lease_is_a_lease_mismatch() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(S, ours(7, mac(1), "10.100.1.5", "eth0"))
        .lease(lease(mac(1), "10.100.1.9", 5));
    let plan = f.plan();
    assert!(
        plan.is_noop(),
        "the lease is never followed: {:?}",
        plan.actions()
    );
    assert_eq!(plan.interfaces()[0].address, Some(ip("10.100.1.5")));
    assert_eq!(plan.interfaces()[0].lease_mismatch, Some(ip("10.100.1.9")));
    let mismatch: Vec<_> = plan
        .events()
        .iter()
        .filter(|e| e.reason == "LeaseMismatch")
        .collect();
    assert_eq!(mismatch.len(), 1);
    assert_eq!(mismatch[0].type_, EventType::Warning);
    let results = plan.into_applied([]).interfaces();
    assert!(
        results[0].message.contains("10.100.1.9"),
        "{}",
        results[0].message
    );
    assert_eq!(results[0].state, InterfaceState::Reserved);
}

#[test]
fn step4_where_servers_disagree_the_active_servers_address_wins() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(S, ours(7, mac(1), "10.100.1.6", "eth0"))
        .plan();
    assert_eq!(
        ops(&plan),
        [(S, "replace", "7/aa:bb:cc:dd:ee:01/10.100.1.5".into())]
    );
    let Action::Replace { kind, old, .. } = &plan.actions()[0].action else {
        panic!("replace")
    };
    assert_eq!(*kind, ReplaceKind::Address);
    assert_eq!(old.ip_address, ip("10.100.1.6"));

    // With the secondary active, its address wins instead.
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(S, ours(7, mac(1), "10.100.1.6", "eth0"))
        .active(Some(S))
        .plan();
    assert_eq!(
        ops(&plan),
        [(P, "replace", "1/aa:bb:cc:dd:ee:01/10.100.1.6".into())]
    );
}

#[test]
fn step4_the_annotation_keeps_a_reservation_sticky_across_wiped_servers() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .annotation(P, 1, mac(1), "10.100.1.5")
        .lease(lease(mac(1), "10.100.1.9", 5))
        .plan();
    assert_eq!(
        plan.interfaces()[0].address_source,
        Some(AddressSource::Annotation(P))
    );
    assert_eq!(
        ops(&plan),
        [
            (P, "add", "1/aa:bb:cc:dd:ee:01/10.100.1.5".into()),
            (S, "add", "7/aa:bb:cc:dd:ee:01/10.100.1.5".into())
        ]
    );
}

#[test]
fn step4_a_sticky_address_outside_the_new_prefix_is_not_kept() {
    // The NetworkNamespace moved from 10.100.1.0/24 to 10.100.2.0/24.
    let plan = Fixture::new()
        .single_server()
        .prefix("10.100.2.0/24")
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .lease(lease(mac(1), "10.100.2.8", 5))
        .plan();
    assert_eq!(plan.interfaces()[0].address, Some(ip("10.100.2.8")));
    assert_eq!(
        ops(&plan),
        [(P, "replace", "1/aa:bb:cc:dd:ee:01/10.100.2.8".into())]
    );
}

// ---- Step 5: compare with Kea ----

#[test]
fn step5_a_missing_reservation_is_added_with_the_owner_marker() {
    let plan = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    let Action::Add { host } = &plan.actions()[0].action else {
        panic!("add")
    };
    assert_eq!(
        host.user_context,
        Some(
            json!({MARKER_KEY: {"v": 1, "instance": "prod", "owner": "tenant-a/vm-1", "uid": "uid-vm-1", "interface": "eth0"}})
        )
    );
    assert_eq!(plan.actions()[0].interface.as_deref(), Some("eth0"));
}

#[test]
fn step5_an_equal_reservation_needs_nothing() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(S, ours(7, mac(1), "10.100.1.5", "eth0"))
        .plan();
    assert!(plan.is_noop());
    assert!(
        plan.interfaces()[0]
            .servers
            .iter()
            .all(|s| s.outcome == ServerOutcome::InSync)
    );
}

#[test]
fn step5_ours_with_another_address_is_replaced_keeping_hostname_and_other_context() {
    // The servers disagree: the secondary's host of ours moves to the active server's address.
    let mut stale = ours(7, mac(1), "10.100.1.9", "eth0");
    stale.hostname = Some("vm-1".into());
    if let Some(serde_json::Value::Object(map)) = &mut stale.user_context {
        map.insert("site".into(), json!("oslo"));
    }
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(S, stale)
        .plan();
    let Action::Replace { new, kind, .. } = &plan.actions()[0].action else {
        panic!("replace")
    };
    assert_eq!(*kind, ReplaceKind::Address);
    assert_eq!(new.ip_address, ip("10.100.1.5"));
    assert_eq!(new.hostname.as_deref(), Some("vm-1"));
    let ctx = new.user_context.as_ref().expect("context");
    assert_eq!(ctx["site"], "oslo");
    assert_eq!(ctx[MARKER_KEY]["uid"], UID);
}

#[test]
fn step5_an_existing_reservation_outranks_the_annotation() {
    let plan = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .annotation(P, 1, mac(1), "10.100.1.5")
        .host(P, ours(1, mac(1), "10.100.1.6", "eth0"))
        .plan();
    assert_eq!(plan.interfaces()[0].address, Some(ip("10.100.1.6")));
    assert_eq!(
        plan.interfaces()[0].address_source,
        Some(AddressSource::Reservation(P))
    );
    assert!(plan.is_noop());
}

#[test]
fn step5_a_host_without_our_marker_is_a_conflict_and_never_overwritten() {
    let f = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, unmarked(1, mac(1), "10.100.1.5"))
        .lease(lease(mac(1), "10.100.1.5", 5));
    let plan = f.plan();
    assert!(plan.is_noop());
    assert!(
        matches!(&plan.interfaces()[0].servers[0].outcome, ServerOutcome::Conflict { message } if message.contains("not managed by kea-operator"))
    );
    assert_eq!(states(&f), [("eth0".into(), InterfaceState::Conflict)]);
}

#[test]
fn step5_a_host_of_another_instance_is_a_conflict() {
    let plan = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(
            P,
            marked(
                1,
                mac(1),
                "10.100.1.5",
                OwnerMarker::new("staging", OWNER, UID, "eth0"),
            ),
        )
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert!(plan.is_noop());
    assert!(
        matches!(&plan.interfaces()[0].servers[0].outcome, ServerOutcome::Conflict { message } if message.contains("\"staging\""))
    );
}

#[test]
fn step5_a_host_with_an_unreadable_marker_is_a_conflict() {
    let mut host = unmarked(1, mac(1), "10.100.1.5");
    host.user_context = Some(json!({MARKER_KEY: "corrupt"}));
    let plan = Fixture::new()
        .single_server()
        .legacy()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, host)
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert!(plan.is_noop(), "not adopted either");
    assert!(matches!(
        &plan.interfaces()[0].servers[0].outcome,
        ServerOutcome::Conflict { .. }
    ));
}

#[test]
fn step5_an_address_reserved_for_another_host_is_a_conflict() {
    let plan = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, unmarked(1, mac(9), "10.100.1.5"))
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert!(plan.is_noop());
    assert!(
        matches!(&plan.interfaces()[0].servers[0].outcome, ServerOutcome::Conflict { message } if message.contains("aa:bb:cc:dd:ee:09"))
    );
    assert!(plan.events().iter().any(|e| e.reason == "Conflict"));
}

#[test]
fn step5_kea_refusing_the_add_for_the_address_is_a_conflict() {
    let f = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 5));
    let plan = f.plan();
    let id = plan.actions()[0].id;
    let applied = plan.into_applied([(
        id,
        Outcome::Conflict {
            message: "There's already a reservation for this address".into(),
        },
    )]);
    let results = applied.interfaces();
    assert_eq!(results[0].state, InterfaceState::Conflict);
    assert!(applied.annotation().is_empty(), "nothing was reserved");
    assert!(
        applied
            .events()
            .iter()
            .any(|e| e.reason == "Conflict" && e.type_ == EventType::Warning)
    );
}

#[test]
fn step5_same_mac_in_two_ncs_the_older_nc_owns_it() {
    // The other NC is older: this one is in conflict and writes nothing for the MAC.
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .claim(mac(1), "uid-old", "tenant-b/vm-0", "2025-12-01T00:00:00Z")
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert!(plan.is_noop());
    assert!(
        matches!(&plan.interfaces()[0].verdict, Verdict::Conflict { message } if message.contains("tenant-b/vm-0"))
    );

    // The other NC is younger: this one reserves.
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .claim(mac(1), "uid-new", "tenant-b/vm-9", "2026-01-05T00:00:00Z")
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert_eq!(plan.actions().len(), 2);
}

#[test]
fn step5_equal_creation_times_are_broken_by_uid() {
    let created = "2026-01-02T00:00:00Z";
    let smaller = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .claim(mac(1), "uid-a", "x/a", created)
        .plan();
    assert!(
        matches!(smaller.interfaces()[0].verdict, Verdict::Conflict { .. }),
        "uid-a < uid-vm-1 owns it"
    );
    let larger = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .claim(mac(1), "uid-z", "x/z", created)
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert_eq!(larger.interfaces()[0].verdict, Verdict::Proceed);
}

#[test]
fn step5_the_older_nc_takes_over_a_host_marked_by_a_younger_or_vanished_nc() {
    let theirs = marked(
        1,
        mac(1),
        "10.100.1.5",
        OwnerMarker::new(INSTANCE, "tenant-b/vm-9", "uid-new", "nic0"),
    );
    for claim in [true, false] {
        let mut f = Fixture::new()
            .single_server()
            .interface("eth0", "aa:bb:cc:dd:ee:01")
            .host(P, theirs.clone());
        if claim {
            f = f.claim(mac(1), "uid-new", "tenant-b/vm-9", "2026-01-05T00:00:00Z");
        }
        let plan = f.plan();
        assert_eq!(
            plan.interfaces()[0].address_source,
            Some(AddressSource::TakeOver(P)),
            "its address is kept"
        );
        let Action::Replace { kind, new, .. } = &plan.actions()[0].action else {
            panic!("take over")
        };
        assert_eq!(
            *kind,
            ReplaceKind::TakeOver {
                from_owner: "tenant-b/vm-9".into(),
                from_uid: "uid-new".into()
            }
        );
        assert_eq!(new.marker().map(|m| m.uid), Some(UID.into()));
        let applied = plan.into_applied([(kea_operator::core::planner::ActionId(0), Outcome::Done)]);
        assert!(
            applied
                .events()
                .iter()
                .any(|e| e.reason == "ReservationTakenOver")
        );
    }
}

// ---- Step 6: removal of what is no longer desired ----

#[test]
fn step6_a_mac_removed_from_the_spec_is_deleted_on_every_server() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(S, ours(7, mac(1), "10.100.1.5", "eth0"))
        .host(P, ours(1, mac(2), "10.100.1.6", "eth1"))
        .host(S, ours(7, mac(2), "10.100.1.6", "eth1"))
        .annotation(P, 1, mac(2), "10.100.1.6")
        .annotation(S, 7, mac(2), "10.100.1.6");
    let lookups = f.input.host_lookups();
    assert!(
        lookups[&P].contains(&(SubnetId(1), mac(2))) && lookups[&S].contains(&(SubnetId(7), mac(2))),
        "{lookups:?}"
    );
    let plan = f.plan();
    assert_eq!(
        ops(&plan),
        [
            (P, "delete", "1/aa:bb:cc:dd:ee:02/10.100.1.6".into()),
            (S, "delete", "7/aa:bb:cc:dd:ee:02/10.100.1.6".into())
        ]
    );
    let applied = plan.into_applied([
        (kea_operator::core::planner::ActionId(0), Outcome::Done),
        (kea_operator::core::planner::ActionId(1), Outcome::Done),
    ]);
    let annotation = applied.annotation();
    assert!(annotation.iter().all(|(_, r)| r.mac == mac(1)), "{annotation:?}");
    assert_eq!(
        applied
            .events()
            .iter()
            .filter(|e| e.reason == "ReservationDeleted")
            .count(),
        2
    );
}

#[test]
fn step6_a_prefix_or_subnet_change_moves_the_reservation() {
    // The Kea configuration gained a more specific subnet for the prefix: the host moves subnets.
    let plan = Fixture::new()
        .single_server()
        .subnets(P, vec![subnet(1, "10.100.0.0/16"), subnet(3, "10.100.1.0/24")])
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .plan();
    assert_eq!(
        ops(&plan),
        [
            (P, "delete", "1/aa:bb:cc:dd:ee:01/10.100.1.5".into()),
            (P, "add", "3/aa:bb:cc:dd:ee:01/10.100.1.5".into())
        ],
        "deletes run first, and the address stays"
    );
}

#[test]
fn step6_a_renamed_interface_updates_the_marker_with_the_same_address() {
    let plan = Fixture::new()
        .single_server()
        .interface("lan0", "aa:bb:cc:dd:ee:01")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .plan();
    let Action::Replace { kind, new, .. } = &plan.actions()[0].action else {
        panic!("replace")
    };
    assert_eq!(*kind, ReplaceKind::Marker);
    assert_eq!(new.ip_address, ip("10.100.1.5"));
    assert_eq!(new.marker().map(|m| m.interface), Some("lan0".into()));
}

#[test]
fn step6_hosts_of_others_are_never_deleted() {
    let plan = Fixture::new()
        .single_server()
        .host(P, unmarked(1, mac(3), "10.100.1.3"))
        .host(
            P,
            marked(
                1,
                mac(4),
                "10.100.1.4",
                OwnerMarker::new(INSTANCE, "x/y", "uid-other", "eth0"),
            ),
        )
        .host(
            P,
            marked(
                1,
                mac(5),
                "10.100.1.5",
                OwnerMarker::new("staging", OWNER, UID, "eth0"),
            ),
        )
        .plan();
    assert!(plan.is_noop(), "{:?}", plan.actions());
}

// ---- SPEC §1: adoption of the Go operator's hosts ----

#[test]
fn adoption_with_a_legacy_finalizer_readds_an_equal_unmarked_host_with_our_marker() {
    let mut legacy = unmarked(1, mac(1), "10.100.1.5");
    legacy.hostname = Some("vm-1".into());
    legacy.user_context = Some(json!({"note": "go operator"}));
    let plan = Fixture::new()
        .single_server()
        .legacy()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, legacy)
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    let Action::Adopt { new, .. } = &plan.actions()[0].action else {
        panic!("adopt: {:?}", plan.actions())
    };
    assert_eq!(new.ip_address, ip("10.100.1.5"));
    assert_eq!(new.hostname.as_deref(), Some("vm-1"));
    assert_eq!(
        new.user_context.as_ref().map(|c| c["note"].clone()),
        Some(json!("go operator"))
    );
    assert_eq!(new.marker().map(|m| m.uid), Some(UID.into()));
}

#[test]
fn adoption_never_takes_a_host_with_another_address_or_without_the_legacy_finalizer() {
    let differing = Fixture::new()
        .single_server()
        .legacy()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, unmarked(1, mac(1), "10.100.1.6"))
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert!(differing.is_noop());
    assert!(
        matches!(&differing.interfaces()[0].servers[0].outcome, ServerOutcome::Conflict { message } if message.contains("not adopted"))
    );
    let no_finalizer = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, unmarked(1, mac(1), "10.100.1.5"))
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    assert!(no_finalizer.is_noop());
}

// ---- Unavailable servers ----

#[test]
fn an_unavailable_partner_gets_no_writes_and_keeps_its_annotation_entries() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .unavailable(S, Reason::KeaUnavailable, "connection refused")
        .annotation(S, 7, mac(1), "10.100.1.5")
        .lease(lease(mac(1), "10.100.1.5", 5));
    let plan = f.plan();
    assert_eq!(ops(&plan), [(P, "add", "1/aa:bb:cc:dd:ee:01/10.100.1.5".into())]);
    let results = done(&plan);
    let applied = plan.into_applied(results);
    let annotation = applied.annotation();
    assert!(annotation.server(S).any(|r| *r
        == Reserved {
            subnet_id: SubnetId(7),
            mac: mac(1),
            ip: ip("10.100.1.5")
        }));
    assert!(annotation.server(P).any(|r| r.subnet_id == SubnetId(1)));
    let r = &applied.interfaces()[0];
    assert_eq!(r.state, InterfaceState::Reserved);
    assert!(
        r.servers[1]
            .error
            .as_ref()
            .is_some_and(|(reason, _)| *reason == Reason::KeaUnavailable)
    );
}

#[test]
fn a_failed_add_is_kept_in_the_annotation_as_possibly_done() {
    let plan = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    let id = plan.actions()[0].id;
    let applied = plan.into_applied([(
        id,
        Outcome::Failed {
            reason: Reason::KeaUnavailable,
            message: "timeout".into(),
        },
    )]);
    assert_eq!(
        applied.annotation().iter().count(),
        1,
        "a timed-out add may have happened: look it up next time"
    );
    assert_eq!(applied.interfaces()[0].state, InterfaceState::Error);
    assert!(applied.events().iter().any(|e| e.reason == "ReservationFailed"));
}

#[test]
fn dry_run_outcomes_change_nothing_recorded() {
    let plan = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    let id = plan.actions()[0].id;
    let applied = plan.into_applied([(id, Outcome::DryRun)]);
    assert!(applied.annotation().is_empty());
    assert_eq!(applied.interfaces()[0].reason, Reason::DryRun);
    assert!(applied.events().iter().any(|e| e.reason == "DryRun"));
}

#[test]
fn an_action_without_a_result_counts_as_failed() {
    let plan = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    let applied = plan.into_applied([]);
    assert_eq!(applied.interfaces()[0].state, InterfaceState::Error);
}

#[test]
fn intent_annotation_lists_every_host_the_actions_may_create() {
    let plan = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 5))
        .plan();
    let intent = plan.intent_annotation();
    assert_eq!(intent.iter().count(), 2);
}

// ---- SPEC §2.7: deletion ----

#[test]
fn step7_deletion_removes_exactly_the_hosts_owned_by_this_nc_on_every_server() {
    let servers = vec![
        ServerInput {
            id: P,
            state: ServerState::Available {
                subnets: vec![subnet(1, "10.100.0.0/16")],
                hosts: vec![
                    ours(1, mac(1), "10.100.1.5", "eth0"),
                    ours(1, mac(2), "10.100.1.6", "eth1"),
                    unmarked(1, mac(3), "10.100.1.7"),
                    marked(
                        1,
                        mac(4),
                        "10.100.1.8",
                        OwnerMarker::new(INSTANCE, "x/y", "uid-other", "eth0"),
                    ),
                ],
            },
        },
        ServerInput {
            id: S,
            state: ServerState::Available {
                subnets: vec![subnet(7, "10.100.0.0/16")],
                hosts: vec![
                    ours(7, mac(1), "10.100.1.5", "eth0"),
                    marked(
                        7,
                        mac(5),
                        "10.100.1.9",
                        OwnerMarker::new("staging", OWNER, UID, "eth0"),
                    ),
                ],
            },
        },
    ];
    let plan = plan_deletion(&identity(), INSTANCE, &servers);
    let deleted: Vec<(ServerId, String)> = plan
        .actions()
        .iter()
        .map(|a| {
            (
                a.server,
                a.action
                    .removed_host()
                    .map(|h| h.hw_address.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        deleted,
        [
            (P, "aa:bb:cc:dd:ee:01".into()),
            (P, "aa:bb:cc:dd:ee:02".into()),
            (S, "aa:bb:cc:dd:ee:01".into())
        ]
    );
    let results: Vec<_> = plan.actions().iter().map(|a| (a.id, Outcome::Done)).collect();
    let finished = plan.finish(results);
    assert!(finished.complete);
    assert_eq!(finished.events.len(), 3);
}

#[test]
fn step7_deletion_is_not_complete_while_a_server_is_unavailable_or_a_delete_failed() {
    let servers = vec![
        ServerInput {
            id: P,
            state: ServerState::Available {
                subnets: vec![],
                hosts: vec![ours(1, mac(1), "10.100.1.5", "eth0")],
            },
        },
        ServerInput {
            id: S,
            state: ServerState::Unavailable {
                reason: Reason::KeaUnavailable,
                message: "down".into(),
            },
        },
    ];
    let plan = plan_deletion(&identity(), INSTANCE, &servers);
    let id = plan.actions()[0].id;
    let finished = plan.finish([(id, Outcome::Done)]);
    assert!(!finished.complete);
    assert_eq!(finished.remaining[0].0, S);
    let failed = plan.finish([(
        id,
        Outcome::Failed {
            reason: Reason::KeaUnavailable,
            message: "reset".into(),
        },
    )]);
    assert!(!failed.complete);
    assert_eq!(failed.remaining.len(), 2);
}

#[test]
fn identity_comes_from_the_object_metadata() {
    let nc = kea_operator::crd::NetworkConfiguration::test().named("tenant-a", "vm-1");
    let id = NcIdentity::from_nc(&nc).expect("complete metadata");
    assert_eq!(id.owner(), "tenant-a/vm-1");
    assert_eq!(id.uid, "uid-vm-1");
    let mut broken = nc;
    broken.metadata.uid = None;
    assert_eq!(
        NcIdentity::from_nc(&broken).map_err(|e| e.to_string()),
        Err("NetworkConfiguration has no metadata.uid".into())
    );
}

#[test]
fn mac_claims_come_from_other_live_kea_ncs_only() {
    use kea_operator::core::planner::mac_claims;
    use kea_operator::crd::NetworkConfiguration;
    let macs = [mac(1), mac(2)].into_iter().collect();
    let others = [
        NetworkConfiguration::test()
            .named("b", "older")
            .interface("e", "AA-BB-CC-DD-EE-01")
            .created("2025-01-01T00:00:00Z"),
        NetworkConfiguration::test()
            .named("b", "deleting")
            .interface("e", "aa:bb:cc:dd:ee:02")
            .deleting(),
        NetworkConfiguration::test()
            .named("b", "metal")
            .interface("e", "aa:bb:cc:dd:ee:02")
            .provider("metal"),
        NetworkConfiguration::test()
            .named("tenant-a", "vm-1")
            .interface("e", "aa:bb:cc:dd:ee:02"),
        NetworkConfiguration::test()
            .named("b", "unrelated")
            .interface("e", "aa:bb:cc:dd:ee:09"),
    ];
    let claims = mac_claims(UID, &macs, &others);
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!((claims[0].mac, claims[0].owner.as_str()), (mac(1), "b/older"));
}

#[test]
fn execution_order_lets_two_interfaces_swap_addresses_on_a_partner() {
    // The active server has eth0=.5, eth1=.6; the secondary has them swapped. Each replace waits on
    // the other: the cycle is split into delete + add, and every write succeeds in order.
    let secondary = vec![
        ours(7, mac(1), "10.100.1.6", "eth0"),
        ours(7, mac(2), "10.100.1.5", "eth1"),
    ];
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .interface("eth1", "aa:bb:cc:dd:ee:02")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(P, ours(1, mac(2), "10.100.1.6", "eth1"))
        .host(S, secondary[0].clone())
        .host(S, secondary[1].clone());
    let plan = f.plan();
    let mut models =
        std::collections::BTreeMap::from([(S, KeaModel::new(vec![subnet(7, "10.100.0.0/16")], &secondary))]);
    let results = apply_all(plan.actions(), &mut models);
    assert!(
        results.iter().all(|(_, o)| *o == Outcome::Done),
        "{results:?}\n{:?}",
        plan.actions()
    );
    let final_hosts: Vec<(String, String)> = models[&S]
        .hosts
        .values()
        .map(|h| (h.hw_address.to_string(), h.ip_address.to_string()))
        .collect();
    assert_eq!(
        final_hosts,
        [
            ("aa:bb:cc:dd:ee:01".into(), "10.100.1.5".into()),
            ("aa:bb:cc:dd:ee:02".into(), "10.100.1.6".into())
        ]
    );
    let applied = plan.into_applied(results);
    assert!(
        applied
            .interfaces()
            .iter()
            .all(|r| r.servers.iter().all(|s| s.reserved))
    );
}
