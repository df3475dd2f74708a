//! Status and conditions from applied results (SPEC §1, §2.9, §3).

mod planner_support;

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kea_operator::config::RequeueConfig;
use kea_operator::core::ServerId;
use kea_operator::core::error_class::{Backoff, Reason, Requeue};
use kea_operator::core::namespace::PrefixError;
use kea_operator::core::planner::Outcome;
use kea_operator::core::status::{
    READY, SERVERS_IN_SYNC, StatusUpdate, render, render_deleting, requeue_after,
};
use kea_operator::crd::{InterfaceState, InterfaceStatus, NetworkConfigurationStatus, Phase};
use planner_support::*;
use serde_json::json;

const P: ServerId = ServerId::Primary;
const S: ServerId = ServerId::Secondary;

fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from_second(NOW + offset_secs).expect("in range")
}

fn render_done(f: &Fixture, previous: Option<&NetworkConfigurationStatus>, now: Timestamp) -> StatusUpdate {
    let plan = f.plan();
    let results = done(&plan);
    render(
        &plan.into_applied(results),
        previous,
        now,
        &RequeueConfig::default(),
    )
}

fn condition<'a>(status: &'a NetworkConfigurationStatus, type_: &str) -> &'a Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition present")
}

fn two_reserved() -> Fixture {
    Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .interface("eth1", "AA-BB-CC-DD-EE-02")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(S, ours(7, mac(1), "10.100.1.5", "eth0"))
        .lease(lease(mac(2), "10.100.1.6", 5))
}

#[test]
fn status_ready_when_every_interface_is_reserved_on_the_active_server() {
    let update = render_done(&two_reserved(), None, at(0));
    assert!(update.ready && update.changed);
    assert_eq!(
        update.requeue,
        Requeue::AwaitChange,
        "Ready NCs are not requeued on a timer"
    );
    insta::assert_yaml_snapshot!(update.status);
}

#[test]
fn status_invalid_mac_makes_ready_false_with_invalid_spec_while_the_rest_is_reserved() {
    let f = two_reserved().interface("eth2", "AABBCCDDEE03");
    let update = render_done(&f, None, at(0));
    let ready = condition(&update.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(ready.message.contains("eth2"), "{}", ready.message);
    assert_eq!(update.status.ready_interfaces.as_deref(), Some("2/3"));
    assert_eq!(update.status.phase, Some(Phase::Error));
    let states: Vec<_> = update.status.network_interfaces.iter().map(|i| i.state).collect();
    assert_eq!(
        states,
        [
            Some(InterfaceState::Reserved),
            Some(InterfaceState::Reserved),
            Some(InterfaceState::InvalidMac)
        ]
    );
    assert_eq!(
        update.requeue,
        Requeue::AwaitChange,
        "an invalid spec waits for a change"
    );
}

#[test]
fn status_servers_in_sync_false_when_a_partner_is_down_but_ready_stays_true() {
    let f = two_reserved().unavailable(S, Reason::KeaUnavailable, "connection refused");
    let update = render_done(&f, None, at(0));
    assert!(update.ready);
    let sync = condition(&update.status, SERVERS_IN_SYNC);
    assert_eq!(
        (sync.status.as_str(), sync.reason.as_str()),
        ("False", "KeaUnavailable")
    );
    assert!(sync.message.contains("secondary"), "{}", sync.message);
    assert_eq!(
        update.requeue,
        Requeue::After(Duration::from_secs(30)),
        "the partner is retried"
    );
    assert!(!update.in_sync);
    let backoff = Backoff {
        floor: Duration::from_secs(1),
        cap: Duration::from_secs(300),
    };
    assert_eq!(
        requeue_after(&update, &backoff, 1, Duration::from_secs(300)),
        Some(Duration::from_secs(30)),
        "Ready on the primary alone still schedules the partner's retry"
    );
    assert_eq!(update.status.phase, Some(Phase::Ready));
    let servers = &update.status.network_interfaces[0].servers;
    assert_eq!(
        (servers[1].name.as_str(), servers[1].reserved),
        ("secondary", false)
    );
    assert!(
        servers[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("connection refused"))
    );
}

#[test]
fn status_servers_in_sync_true_with_a_single_server() {
    let update = render_done(&two_reserved().single_server(), None, at(0));
    let sync = condition(&update.status, SERVERS_IN_SYNC);
    assert_eq!((sync.status.as_str(), sync.reason.as_str()), ("True", "InSync"));
}

#[test]
fn status_waiting_for_lease_is_reconciling_and_requeued_after_the_resource_delay() {
    let f = Fixture::new().interface("eth0", "aa:bb:cc:dd:ee:01");
    let update = render_done(&f, None, at(0));
    let ready = condition(&update.status, READY);
    assert_eq!(ready.reason, "WaitingForLease");
    assert_eq!(update.status.phase, Some(Phase::Reconciling));
    assert_eq!(update.requeue, Requeue::After(Duration::from_secs(60)));
    let iface = &update.status.network_interfaces[0];
    assert_eq!(iface.ip_allocated, Some(false));
    assert!(iface.ipv4_addresses.is_empty());
}

#[test]
fn status_conflict_waits_for_the_resync() {
    let f = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .host(P, unmarked(1, mac(1), "10.100.1.5"))
        .lease(lease(mac(1), "10.100.1.5", 5));
    let update = render_done(&f, None, at(0));
    assert_eq!(condition(&update.status, READY).reason, "Conflict");
    assert_eq!(update.requeue, Requeue::Resync);
    assert_eq!(
        update.requeue.after(Duration::from_secs(300)),
        Some(Duration::from_secs(300))
    );
}

#[test]
fn status_missing_network_namespace_sets_both_conditions() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .prefix_error(PrefixError::NotFound {
            namespace: "tenant-a".into(),
            name: Some("net".into()),
        });
    let update = render_done(&f, None, at(0));
    for type_ in [READY, SERVERS_IN_SYNC] {
        let c = condition(&update.status, type_);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "NetworkNamespaceNotFound")
        );
        assert!(c.message.contains("tenant-a/net"), "{}", c.message);
    }
    assert_eq!(update.requeue, Requeue::After(Duration::from_secs(60)));
}

#[test]
fn status_last_transition_time_is_kept_unless_the_status_flips() {
    let waiting = Fixture::new().interface("eth0", "aa:bb:cc:dd:ee:01");
    let first = render_done(&waiting, None, at(0));
    let second = render_done(&waiting, Some(&first.status), at(600));
    assert!(!second.changed, "nothing changed: no write");
    assert_eq!(condition(&second.status, READY).last_transition_time, Time(at(0)));

    // A lease appears: Ready flips to True, its time moves; ServersInSync stays True and keeps it.
    let leased = waiting.clone().lease(lease(mac(1), "10.100.1.5", 5));
    let third = render_done(&leased, Some(&second.status), at(900));
    assert!(third.changed);
    assert_eq!(
        condition(&third.status, READY).last_transition_time,
        Time(at(900))
    );
    assert_eq!(
        condition(&third.status, SERVERS_IN_SYNC).last_transition_time,
        Time(at(0))
    );
}

#[test]
fn status_reason_changes_without_a_flip_keep_the_transition_time() {
    let waiting = Fixture::new()
        .single_server()
        .interface("eth0", "aa:bb:cc:dd:ee:01");
    let first = render_done(&waiting, None, at(0));
    let conflict = waiting
        .clone()
        .host(P, unmarked(1, mac(1), "10.100.1.5"))
        .lease(lease(mac(1), "10.100.1.5", 5));
    let second = render_done(&conflict, Some(&first.status), at(60));
    let ready = condition(&second.status, READY);
    assert_eq!(
        (ready.reason.as_str(), ready.last_transition_time.clone()),
        ("Conflict", Time(at(0)))
    );
    assert!(second.changed);
}

#[test]
fn status_observed_generation_is_set_on_status_and_conditions() {
    let update = render_done(&two_reserved(), None, at(0));
    assert_eq!(update.status.observed_generation, Some(4));
    assert!(
        update
            .status
            .conditions
            .iter()
            .all(|c| c.observed_generation == Some(4))
    );
}

#[test]
fn status_keeps_what_others_wrote_and_matches_interfaces_by_name() {
    let mut previous: NetworkConfigurationStatus = serde_json::from_value(json!({
        "status": "platform-owned",
        "created": "2026-01-01T00:00:00Z",
        "conditions": [{"type": "Provisioned", "status": "True", "reason": "Done", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        "networkInterfaces": [
            {"name": "gone", "vlan": "7"},
            {"name": "eth1", "vlan": "200", "ipv6Addresses": ["fd00::2"]},
            {"name": "eth0", "vlan": "100"}
        ]
    }))
    .expect("status");
    previous.message = Some("old".into());
    let update = render_done(&two_reserved(), Some(&previous), at(0));
    let written = serde_json::to_value(&update.status).expect("serializes");
    assert_eq!(written["status"], "platform-owned");
    assert_eq!(written["created"], "2026-01-01T00:00:00Z");
    assert!(
        update.status.conditions.iter().any(|c| c.type_ == "Provisioned"),
        "others' conditions are kept"
    );
    let names: Vec<&str> = update
        .status
        .network_interfaces
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["eth0", "eth1"],
        "spec order; interfaces no longer declared are dropped"
    );
    let eth1: &InterfaceStatus = &update.status.network_interfaces[1];
    assert_eq!(eth1.extra.get("vlan"), Some(&json!("200")));
    assert_eq!(eth1.extra.get("ipv6Addresses"), Some(&json!(["fd00::2"])));
    assert_eq!(
        update.status.network_interfaces[0].extra.get("vlan"),
        Some(&json!("100"))
    );
}

#[test]
fn status_carries_the_platform_names_for_the_result() {
    let update = render_done(&two_reserved(), None, at(0));
    let eth1 = serde_json::to_value(&update.status.network_interfaces[1]).expect("serializes");
    assert_eq!(eth1["ipv4Addresses"], json!(["10.100.1.6"]));
    assert_eq!(eth1["ipv4Subnet"], "10.100.1.0/24");
    assert_eq!(eth1["dhcpReserved"], true);
    assert_eq!(eth1["ipAllocated"], true);
    assert_eq!(eth1["allocationMethod"], "dhcp");
    assert_eq!(eth1["macAddress"], "aa:bb:cc:dd:ee:02", "normalized");
    assert_eq!(eth1["keaSubnetId"], 1, "the active server's subnet");
}

#[test]
fn status_reports_failed_writes_with_their_reason() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .lease(lease(mac(1), "10.100.1.5", 5));
    let plan = f.plan();
    let results: Vec<_> = plan
        .actions()
        .iter()
        .map(|a| {
            (
                a.id,
                if a.server == P {
                    Outcome::Failed {
                        reason: Reason::AuthenticationFailed,
                        message: "HTTP 401".into(),
                    }
                } else {
                    Outcome::Done
                },
            )
        })
        .collect();
    let update = render(
        &plan.into_applied(results),
        None,
        at(0),
        &RequeueConfig::default(),
    );
    let ready = condition(&update.status, READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "AuthenticationFailed")
    );
    assert_eq!(update.requeue, Requeue::After(Duration::from_secs(300)));
    assert_eq!(
        update.status.network_interfaces[0].state,
        Some(InterfaceState::Error)
    );
}

#[test]
fn status_while_deleting_only_changes_phase_and_message() {
    let ready = render_done(&two_reserved(), None, at(0)).status;
    let deleting = render_deleting(Some(&ready), Some(5), "removing 2 reservations");
    assert!(deleting.changed);
    assert_eq!(deleting.status.phase, Some(Phase::Deleting));
    assert_eq!(deleting.status.conditions, ready.conditions);
    assert!(!render_deleting(Some(&deleting.status), Some(5), "removing 2 reservations").changed);
}

#[test]
fn requeue_after_applies_the_per_object_backoff() {
    let f = Fixture::new().interface("eth0", "aa:bb:cc:dd:ee:01");
    let update = render_done(&f, None, at(0));
    let backoff = Backoff {
        floor: Duration::from_secs(1),
        cap: Duration::from_secs(300),
    };
    let resync = Duration::from_secs(300);
    assert_eq!(
        requeue_after(&update, &backoff, 1, resync),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        requeue_after(&update, &backoff, 3, resync),
        Some(Duration::from_secs(240))
    );
    assert_eq!(
        requeue_after(&update, &backoff, 9, resync),
        Some(Duration::from_secs(300))
    );
    let ready = render_done(&two_reserved(), None, at(0));
    assert_eq!(requeue_after(&ready, &backoff, 1, resync), None);
}

/// One NC with every kind of interface result: the status and the Events, as written.
#[test]
fn status_and_events_snapshot_of_a_mixed_nc() {
    let f = Fixture::new()
        .interface("eth0", "aa:bb:cc:dd:ee:01")
        .interface("eth1", "aa:bb:cc:dd:ee:02")
        .interface("eth2", "AABBCCDDEE03")
        .interface("eth3", "aa:bb:cc:dd:ee:04")
        .interface("eth4", "aa:bb:cc:dd:ee:05")
        .host(P, ours(1, mac(1), "10.100.1.5", "eth0"))
        .host(P, unmarked(1, mac(2), "10.100.1.6"))
        .host(P, ours(1, mac(9), "10.100.1.9", "removed"))
        .lease(lease(mac(1), "10.100.1.50", 5))
        .lease(lease(mac(2), "10.100.1.6", 5))
        .lease(lease(mac(5), "10.100.1.7", 5))
        .unavailable(S, Reason::KeaUnavailable, "connection refused");
    let plan = f.plan();
    let results: Vec<_> = plan
        .actions()
        .iter()
        .map(|a| {
            let outcome = match &a.action {
                kea_operator::core::planner::Action::Add { host } if host.hw_address == mac(5) => {
                    Outcome::Conflict {
                        message: "There's already a reservation for this address".into(),
                    }
                }
                _ => Outcome::Done,
            };
            (a.id, outcome)
        })
        .collect();
    let applied = plan.into_applied(results);
    let events: Vec<String> = applied
        .events()
        .iter()
        .map(|e| format!("{:?} {} {}: {}", e.type_, e.reason, e.action, e.note))
        .collect();
    let update = render(&applied, None, at(0), &RequeueConfig::default());
    insta::assert_yaml_snapshot!((update.status, events, applied.annotation().render()));
}
