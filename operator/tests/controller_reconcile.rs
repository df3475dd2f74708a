//! The controller's reconcile (SPEC §2) in process against the real API server and a kea-sim pair:
//! create, update (MAC added, removed, interface renamed), a NetworkNamespace prefix change, invalid
//! MACs, a missing/ambiguous/unready NetworkNamespace, a prefix outside every Kea subnet, and a lease
//! that appears later. Every test checks Kea on both servers (hosts with the exact owner marker) and
//! the NC (finalizer, annotation, status, Events).

mod controller_support;

use std::time::Duration;

use controller_support::kea::{assert_reserved, count, host, owned_by, show, summary, wait_for, writes};
use controller_support::objects::{
    annotation, condition, condition_state, has_finalizer, interface, nc, reservations,
};
use controller_support::wait::holds;
use controller_support::{
    PREFIX_A, PREFIX_B, PRIMARY_SUBNET, PRIMARY_SUBNET_B, SECONDARY_SUBNET, SECONDARY_SUBNET_B, World,
};
use kea_operator::core::ServerId::{Primary, Secondary};
use kea_operator::crd::{InterfaceState, Phase, ServerStatus};

const MAC_1: &str = "02:00:00:00:01:01";
const MAC_2: &str = "0a:00:00:00:01:02";
const MAC_3: &str = "02:00:00:00:01:03";

/// Both servers with their subnet id of the network of `primary_subnet`.
fn servers(world: &World, network_b: bool) -> [(&kea_sim::KeaSim, u32); 2] {
    if network_b {
        [
            (world.primary(), PRIMARY_SUBNET_B),
            (world.secondary(), SECONDARY_SUBNET_B),
        ]
    } else {
        [
            (world.primary(), PRIMARY_SUBNET),
            (world.secondary(), SECONDARY_SUBNET),
        ]
    }
}

/// Fails when either server received a reservation write.
fn assert_no_writes(world: &World) -> Result<(), String> {
    for sim in [world.primary(), world.secondary()] {
        let sent = writes(sim);
        if !sent.is_empty() {
            return Err(format!("{} received writes: {:?}", sim.name(), show(&sent)));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_reserves_every_leased_mac_on_both_servers() {
    let world = testenv::need!(World::start("create").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip_1 = world.acquire(MAC_1, PRIMARY_SUBNET);
    let ip_2 = world.acquire(MAC_2, PRIMARY_SUBNET);
    let _operator = world.operator(&[]).await;

    // The second MAC is declared in the other accepted spelling: normalized before use.
    let created = world
        .create_nc(
            nc(&world, "vm-1")
                .interface("eth0", MAC_1)
                .interface("eth1", "0A-00-00-00-01-02"),
        )
        .await;
    let nc = world.wait_converged("vm-1").await;
    assert_eq!(nc.metadata.uid, created.metadata.uid);

    for (sim, subnet) in [
        (world.primary(), PRIMARY_SUBNET),
        (world.secondary(), SECONDARY_SUBNET),
    ] {
        assert_reserved(sim, subnet, MAC_1, ip_1, &nc, "eth0");
        assert_reserved(sim, subnet, MAC_2, ip_2, &nc, "eth1");
        assert_eq!(sim.hosts().len(), 2, "{}: {:?}", sim.name(), summary(sim));
    }

    assert!(has_finalizer(&nc), "{:?}", nc.metadata.finalizers);
    assert_eq!(
        annotation(&nc),
        reservations(&[
            (Primary, PRIMARY_SUBNET, MAC_1, ip_1),
            (Primary, PRIMARY_SUBNET, MAC_2, ip_2),
            (Secondary, SECONDARY_SUBNET, MAC_1, ip_1),
            (Secondary, SECONDARY_SUBNET, MAC_2, ip_2),
        ])
    );
    let status = nc.status.as_ref().expect("status");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.phase, Some(Phase::Ready));
    assert_eq!(status.ready_interfaces.as_deref(), Some("2/2"));
    assert_eq!(
        condition_state(&nc, "Ready"),
        Some(("True".into(), "Reserved".into()))
    );
    assert_eq!(
        condition_state(&nc, "ServersInSync"),
        Some(("True".into(), "InSync".into()))
    );
    assert_eq!(condition(&nc, "Ready").unwrap().observed_generation, Some(1));
    for (name, mac, ip) in [("eth0", MAC_1, ip_1), ("eth1", MAC_2, ip_2)] {
        let iface = interface(&nc, name);
        assert_eq!(iface.state, Some(InterfaceState::Reserved), "{iface:?}");
        assert_eq!(iface.mac_address.as_deref(), Some(mac));
        assert_eq!(iface.ipv4_address, Some(ip.to_string()));
        assert_eq!(iface.kea_subnet_id, Some(PRIMARY_SUBNET));
        assert_eq!(
            iface.servers,
            vec![
                ServerStatus {
                    name: "primary".into(),
                    subnet_id: Some(PRIMARY_SUBNET),
                    reserved: true,
                    error: None
                },
                ServerStatus {
                    name: "secondary".into(),
                    subnet_id: Some(SECONDARY_SUBNET),
                    reserved: true,
                    error: None
                },
            ]
        );
        // The platform's names for the same result.
        assert_eq!(iface.ipv4_addresses, vec![ip.to_string()]);
        assert_eq!(iface.ipv4_subnet.as_deref(), Some(PREFIX_A));
        assert_eq!(iface.dhcp_reserved, Some(true));
        assert_eq!(iface.allocation_method.as_deref(), Some("dhcp"));
    }

    // One Event per reservation written.
    let events = world.events_for("vm-1").await;
    for (mac, ip) in [(MAC_1, ip_1), (MAC_2, ip_2)] {
        for server in ["primary", "secondary"] {
            assert!(
                events.iter().any(|(t, r, note)| t == "Normal"
                    && r == "ReservationCreated"
                    && note.contains(mac)
                    && note.contains(&ip.to_string())
                    && note.contains(server)),
                "no ReservationCreated for {mac} on {server}: {events:?}"
            );
        }
    }

    // The operator's own writes follow each other without meeting themselves as conflicts.
    let conflicts: Vec<_> = world
        .env
        .audit_events_in(&world.ns)
        .expect("audit log")
        .into_iter()
        .filter(|e| e.resource == "networkconfigurations" && e.code == Some(409))
        .collect();
    assert!(conflicts.is_empty(), "{conflicts:?}");

    // Converged: no further writes to Kea, and the status is not rewritten.
    let writes_before = (writes(world.primary()).len(), writes(world.secondary()).len());
    assert_eq!(writes_before, (2, 2), "exactly one add per MAC and server");
    let version = nc.metadata.resource_version.clone();
    holds(
        "a converged NC stays untouched",
        Duration::from_secs(2),
        async || {
            let now = world.get_nc("vm-1").await.ok_or("NC gone")?;
            let writes_now = (writes(world.primary()).len(), writes(world.secondary()).len());
            if now.metadata.resource_version != version || writes_now != writes_before {
                return Err(format!(
                    "rv {:?}, writes {writes_now:?}",
                    now.metadata.resource_version
                ));
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_adds_a_mac_removes_a_mac_and_follows_a_rename() {
    let world = testenv::need!(World::start("update").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip_1 = world.acquire(MAC_1, PRIMARY_SUBNET);
    let ip_2 = world.acquire(MAC_2, PRIMARY_SUBNET);
    let ip_3 = world.acquire(MAC_3, PRIMARY_SUBNET);
    let _operator = world.operator(&[]).await;
    world
        .create_nc(
            nc(&world, "vm-1")
                .interface("eth0", MAC_1)
                .interface("eth1", MAC_2),
        )
        .await;
    let before = world.wait_converged("vm-1").await;
    for (sim, subnet) in servers(&world, false) {
        assert_reserved(sim, subnet, MAC_2, ip_2, &before, "eth1");
        assert_eq!(owned_by(sim, &before).len(), 2);
    }

    // Timestamps have a resolution of one second: let one pass, so a rewritten
    // lastTransitionTime would show.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // eth0 renamed to lan0 (same MAC), eth1 removed, eth2 added.
    world
        .edit_nc("vm-1", |nc| {
            nc.spec.network_interfaces.clear();
            nc.spec
                .network_interfaces
                .push(kea_operator::crd::NetworkInterface {
                    name: "lan0".into(),
                    mac_address: MAC_1.into(),
                });
            nc.spec
                .network_interfaces
                .push(kea_operator::crd::NetworkInterface {
                    name: "eth2".into(),
                    mac_address: MAC_3.into(),
                });
        })
        .await;
    let nc = world
        .wait_nc("vm-1", "generation 2 converged", |nc| {
            (nc.metadata.generation == Some(2) && controller_support::objects::is_converged(nc))
                .then_some(())
                .ok_or_else(|| "not yet".into())
        })
        .await;
    // Ready stayed True: its lastTransitionTime is kept, its observedGeneration follows.
    let (was, now) = (
        condition(&before, "Ready").unwrap(),
        condition(&nc, "Ready").unwrap(),
    );
    assert_eq!(now.last_transition_time, was.last_transition_time);
    assert_eq!(now.observed_generation, Some(2));

    for (sim, subnet) in servers(&world, false) {
        assert_reserved(sim, subnet, MAC_1, ip_1, &nc, "lan0");
        assert_reserved(sim, subnet, MAC_3, ip_3, &nc, "eth2");
        assert!(
            host(sim, subnet, MAC_2).is_none(),
            "{}: {:?}",
            sim.name(),
            summary(sim)
        );
        assert_eq!(sim.hosts().len(), 2, "{}: {:?}", sim.name(), summary(sim));
    }
    assert_eq!(
        annotation(&nc),
        reservations(&[
            (Primary, PRIMARY_SUBNET, MAC_1, ip_1),
            (Primary, PRIMARY_SUBNET, MAC_3, ip_3),
            (Secondary, SECONDARY_SUBNET, MAC_1, ip_1),
            (Secondary, SECONDARY_SUBNET, MAC_3, ip_3),
        ])
    );
    let status = nc.status.as_ref().expect("status");
    let names: Vec<&str> = status
        .network_interfaces
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["lan0", "eth2"], "entries follow the spec");
    assert_eq!(status.ready_interfaces.as_deref(), Some("2/2"));
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(interface(&nc, "lan0").ipv4_address, Some(ip_1.to_string()));
    assert_eq!(interface(&nc, "eth2").ipv4_address, Some(ip_3.to_string()));

    let events = world.events_for("vm-1").await;
    for server in ["primary", "secondary"] {
        let deleted = events
            .iter()
            .any(|(_, r, note)| r == "ReservationDeleted" && note.contains(MAC_2) && note.contains(server));
        let created = events
            .iter()
            .any(|(_, r, note)| r == "ReservationCreated" && note.contains(MAC_3) && note.contains(server));
        assert!(deleted && created, "{server}: {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_change_moves_the_reservations_to_the_new_network() {
    let world = testenv::need!(World::start("prefix").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip_a = world.acquire(MAC_1, PRIMARY_SUBNET);
    let _operator = world.operator(&[]).await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;
    world.wait_converged("vm-1").await;

    // The network moves; the device has no lease there yet: the old reservations go (they are no
    // longer wanted anywhere), nothing new is written.
    world.set_prefix("net", Some(PREFIX_B)).await;
    let nc = world.wait_ready_reason("vm-1", false, "WaitingForLease").await;
    assert_eq!(
        interface(&nc, "eth0").state,
        Some(InterfaceState::WaitingForLease)
    );
    for (sim, _) in servers(&world, false) {
        wait_for("the old reservation deleted", || {
            sim.hosts()
                .is_empty()
                .then_some(())
                .ok_or_else(|| format!("{}: {:?}", sim.name(), summary(sim)))
        })
        .await;
    }
    let nc = world
        .wait_nc("vm-1", "annotation emptied", |nc| {
            annotation(nc)
                .is_empty()
                .then_some(())
                .ok_or_else(|| "not yet".into())
        })
        .await;
    assert_eq!(nc.status.as_ref().unwrap().phase, Some(Phase::Reconciling));

    // The device obtains a lease in the new network: reserved there within a requeue.
    let ip_b = world.acquire(MAC_1, PRIMARY_SUBNET_B);
    assert_ne!(ip_a, ip_b);
    let nc = world.wait_converged("vm-1").await;
    for (sim, subnet) in servers(&world, true) {
        assert_reserved(sim, subnet, MAC_1, ip_b, &nc, "eth0");
        assert_eq!(sim.hosts().len(), 1, "{}: {:?}", sim.name(), summary(sim));
    }
    assert_eq!(
        annotation(&nc),
        reservations(&[
            (Primary, PRIMARY_SUBNET_B, MAC_1, ip_b),
            (Secondary, SECONDARY_SUBNET_B, MAC_1, ip_b),
        ])
    );
    let iface = interface(&nc, "eth0");
    assert_eq!(iface.kea_subnet_id, Some(PRIMARY_SUBNET_B));
    assert_eq!(iface.ipv4_subnet.as_deref(), Some(PREFIX_B));
    assert_eq!(iface.servers[1].subnet_id, Some(SECONDARY_SUBNET_B));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_macs_are_reported_per_interface_and_do_not_block_the_valid_one() {
    let world = testenv::need!(World::start("invalid-mac").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip_1 = world.acquire(MAC_1, PRIMARY_SUBNET);
    let _operator = world.operator(&[]).await;
    world
        .create_nc(
            nc(&world, "vm-1")
                .interface("eth0", MAC_1)
                .interface("eth1", "AABBCCDDEEFF")
                .interface("eth2", "garbage")
                .interface("eth3", "02-00-00-00-01-01"),
        )
        .await;
    let nc = world.wait_ready_reason("vm-1", false, "InvalidSpec").await;

    for (sim, subnet) in servers(&world, false) {
        assert_reserved(sim, subnet, MAC_1, ip_1, &nc, "eth0");
        assert_eq!(sim.hosts().len(), 1, "{}: {:?}", sim.name(), summary(sim));
    }
    assert_eq!(interface(&nc, "eth0").state, Some(InterfaceState::Reserved));
    let expect_invalid = |name: &str, needle: &str| {
        let iface = interface(&nc, name);
        assert_eq!(iface.state, Some(InterfaceState::InvalidMac), "{iface:?}");
        let message = iface.message.as_deref().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{name}: {message:?} should mention {needle:?}"
        );
        assert!(iface.ipv4_address.is_none());
    };
    expect_invalid("eth1", "no separators");
    expect_invalid("eth2", "\"garbage\" is not valid");
    expect_invalid("eth3", "already declared by interface eth0");
    let status = nc.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(Phase::Error));
    assert_eq!(status.ready_interfaces.as_deref(), Some("1/4"));
    let ready = condition(&nc, "Ready").unwrap();
    assert!(
        ready.message.contains("eth1") && ready.message.contains("eth2"),
        "{ready:?}"
    );
    // What is reserved is on both servers.
    assert_eq!(condition_state(&nc, "ServersInSync").unwrap().0, "True");
    assert!(controller_support::objects::has_finalizer(&nc));

    let events = world.events_for("vm-1").await;
    for needle in ["eth1", "eth2", MAC_1] {
        assert!(
            events
                .iter()
                .any(|(t, r, note)| t == "Warning" && r == "InvalidSpec" && note.contains(needle)),
            "no InvalidSpec Event about {needle}: {events:?}"
        );
    }

    // An invalid spec is not requeued on a timer: it waits for a change (no lease lookups repeat).
    let lookups = count(world.primary(), "lease4-get-by-hw-address");
    holds(
        "no requeue of an invalid spec",
        Duration::from_secs(3),
        async || {
            let now = count(world.primary(), "lease4-get-by-hw-address");
            (now == lookups)
                .then_some(())
                .ok_or_else(|| format!("{now} lookups, was {lookups}"))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_namespace_lookup_reasons_and_recovery_through_the_namespace_watch() {
    let world = testenv::need!(World::start("nn-lookup").await);
    let ip_1 = world.acquire(MAC_1, PRIMARY_SUBNET);
    // A long resource requeue: only the NetworkNamespace watch can make the NC move on in time.
    let _operator = world.operator(&[("--requeue-resource-seconds", "120")]).await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;

    let nc = world
        .wait_ready_reason("vm-1", false, "NetworkNamespaceNotFound")
        .await;
    assert_eq!(nc.status.as_ref().unwrap().phase, Some(Phase::Error));
    assert_eq!(
        condition_state(&nc, "ServersInSync").unwrap().1,
        "NetworkNamespaceNotFound"
    );

    world.create_nn("one", None).await;
    world.wait_ready_reason("vm-1", false, "PrefixNotReady").await;

    world.create_nn("two", Some(PREFIX_A)).await;
    let nc = world
        .wait_ready_reason("vm-1", false, "AmbiguousNetworkNamespace")
        .await;
    let message = &condition(&nc, "Ready").unwrap().message;
    assert!(message.contains("one") && message.contains("two"), "{message}");

    // Naming the NetworkNamespace resolves the ambiguity; its prefix is not there yet.
    world
        .edit_nc("vm-1", |nc| nc.spec.network_namespace_name = Some("one".into()))
        .await;
    world.wait_ready_reason("vm-1", false, "PrefixNotReady").await;
    assert_no_writes(&world).unwrap();

    world.set_prefix("one", Some(PREFIX_A)).await;
    let nc = world.wait_converged("vm-1").await;
    for (sim, subnet) in servers(&world, false) {
        assert_reserved(sim, subnet, MAC_1, ip_1, &nc, "eth0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_outside_every_kea_subnet_is_subnet_not_found_and_writes_nothing() {
    let world = testenv::need!(World::start("no-subnet").await);
    world.create_nn("net", Some("10.50.1.0/24")).await;
    world.acquire(MAC_1, PRIMARY_SUBNET);
    let _operator = world.operator(&[]).await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;
    let nc = world.wait_ready_reason("vm-1", false, "SubnetNotFound").await;
    let iface = interface(&nc, "eth0");
    assert_ne!(iface.state, Some(InterfaceState::Reserved), "{iface:?}");
    assert!(
        iface
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("10.50.1.0/24"),
        "{iface:?}"
    );
    assert!(annotation(&nc).is_empty());
    // Retried (resource class, 1 s here) without ever writing.
    let lookups = count(world.primary(), "lease4-get-by-hw-address");
    holds("no reservation writes", Duration::from_secs(3), async || {
        assert_no_writes(&world)
    })
    .await;
    let retried = count(world.primary(), "lease4-get-by-hw-address");
    assert!(
        retried > lookups,
        "not retried: {lookups} then {retried} lease lookups"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_missing_on_one_server_is_subnet_not_found_there_only() {
    // The secondary lacks network A (a partner configured differently): the primary serves DHCP, so
    // the NC is Ready, but not in sync, and nothing is written to the secondary.
    let pair = kea_sim::KeaSimPair::builder()
        .primary(
            kea_sim::KeaSim::builder()
                .subnet(PRIMARY_SUBNET, "10.100.0.0/16")
                .pool(PRIMARY_SUBNET, "10.100.1.10 - 10.100.1.200"),
        )
        .secondary(kea_sim::KeaSim::builder().subnet(SECONDARY_SUBNET_B, "10.200.0.0/16"));
    let world = testenv::need!(World::start_with("subnet-one-server", pair).await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip = world.acquire(MAC_1, PRIMARY_SUBNET);
    let _operator = world.operator(&[]).await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;
    let nc = world.wait_ready_out_of_sync("vm-1", "SubnetNotFound").await;
    assert_reserved(world.primary(), PRIMARY_SUBNET, MAC_1, ip, &nc, "eth0");
    assert!(
        writes(world.secondary()).is_empty(),
        "{:?}",
        show(&writes(world.secondary()))
    );
    let eth0 = interface(&nc, "eth0");
    assert_eq!(eth0.state, Some(InterfaceState::Reserved));
    let secondary = &eth0.servers[1];
    assert_eq!(
        (secondary.name.as_str(), secondary.reserved),
        ("secondary", false)
    );
    assert!(
        secondary.error.as_deref().unwrap_or_default().contains(PREFIX_A),
        "{secondary:?}"
    );
    assert_eq!(
        annotation(&nc),
        reservations(&[(Primary, PRIMARY_SUBNET, MAC_1, ip)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_appears_later_is_reserved_within_a_requeue() {
    let world = testenv::need!(World::start("lease-later").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let _operator = world.operator(&[]).await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;
    let nc = world.wait_ready_reason("vm-1", false, "WaitingForLease").await;
    assert_eq!(nc.status.as_ref().unwrap().phase, Some(Phase::Reconciling));
    assert_eq!(
        interface(&nc, "eth0").state,
        Some(InterfaceState::WaitingForLease)
    );
    holds(
        "nothing written while waiting",
        Duration::from_secs(1),
        async || assert_no_writes(&world),
    )
    .await;

    let ip = world.acquire(MAC_1, PRIMARY_SUBNET);
    let nc = world
        .wait_nc_within("vm-1", "reserved after the lease", Duration::from_secs(5), |nc| {
            controller_support::objects::is_converged(nc)
                .then_some(())
                .ok_or_else(|| "not yet".into())
        })
        .await;
    for (sim, subnet) in servers(&world, false) {
        assert_reserved(sim, subnet, MAC_1, ip, &nc, "eth0");
    }
}
