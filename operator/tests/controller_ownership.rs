//! Ownership (SPEC §1, §2.5) in process against the real API server and a kea-sim pair: hosts
//! without our marker are never changed (a MAC or an address held by someone else is a Conflict),
//! the older of two NCs declaring one MAC owns it and the younger takes over once it is gone, and
//! the Go operator's unmarked hosts are adopted on NCs that carry its finalizer.

mod controller_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use controller_support::kea::{assert_reserved, check_reserved, host, marker, show, wait_for, writes};
use controller_support::objects::{annotation, condition, has_finalizer, interface, nc};
use controller_support::wait::holds;
use controller_support::{PREFIX_A, PRIMARY_SUBNET, SECONDARY_SUBNET, World, pair_builder_with};
use kea_operator::crd::{InterfaceState, LEGACY_FINALIZERS, NetworkConfiguration};

const MAC_1: &str = "02:00:00:00:03:01";
const MAC_2: &str = "02:00:00:00:03:02";
const MAC_FOREIGN: &str = "02:00:00:00:03:99";

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 100, 1, last)
}

fn both(world: &World) -> [(&kea_sim::KeaSim, u32); 2] {
    [
        (world.primary(), PRIMARY_SUBNET),
        (world.secondary(), SECONDARY_SUBNET),
    ]
}

fn interface_state(nc: &NetworkConfiguration, name: &str) -> Result<(), String> {
    let iface = nc
        .status
        .as_ref()
        .and_then(|s| s.network_interfaces.iter().find(|i| i.name == name))
        .ok_or("no status entry")?;
    (iface.state == Some(InterfaceState::Conflict))
        .then_some(())
        .ok_or_else(|| format!("{name} is {:?}", iface.state))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_reservations_are_conflicts_and_never_changed() {
    // Someone else reserved MAC_1 (at the address its lease has), and the address MAC_2 leases.
    let pair = pair_builder_with(|b, subnet, primary| {
        let b = b
            .reservation_json(
                subnet,
                serde_json::json!({"hw-address": MAC_1, "ip-address": "10.100.1.50",
                    "user-context": {"owner": "network team"}}),
            )
            .reservation(subnet, MAC_FOREIGN, Some(ip(60)));
        if primary {
            b.lease(ip(60), MAC_2, Some(subnet))
        } else {
            b
        }
    });
    let world = testenv::need!(World::start_with("foreign", pair).await);
    world.create_nn("net", Some(PREFIX_A)).await;
    assert_eq!(
        world.acquire(MAC_1, PRIMARY_SUBNET),
        ip(50),
        "the device gets its reserved address"
    );
    let before = [world.primary().hosts(), world.secondary().hosts()];
    let _operator = world.operator(&[]).await;
    world
        .create_nc(
            nc(&world, "vm-1")
                .interface("eth0", MAC_1)
                .interface("eth1", MAC_2),
        )
        .await;

    let nc = world.wait_ready_reason("vm-1", false, "Conflict").await;
    let nc = if interface_state(&nc, "eth1").is_ok() {
        nc
    } else {
        world
            .wait_nc("vm-1", "eth1 in Conflict", |nc| interface_state(nc, "eth1"))
            .await
    };
    let eth0 = interface(&nc, "eth0");
    assert_eq!(eth0.state, Some(InterfaceState::Conflict), "{eth0:?}");
    let eth1 = interface(&nc, "eth1");
    assert_eq!(eth1.state, Some(InterfaceState::Conflict), "{eth1:?}");
    assert!(
        eth1.message
            .as_deref()
            .unwrap_or_default()
            .contains("10.100.1.60"),
        "{eth1:?}"
    );
    assert!(condition(&nc, "Ready").unwrap().message.contains("eth0"));
    // The refused add is not recorded as reserved (the intent written before it is replaced).
    let nc = world
        .wait_nc("vm-1", "nothing recorded", |nc| {
            annotation(nc)
                .is_empty()
                .then_some(())
                .ok_or_else(|| "recorded".into())
        })
        .await;
    assert!(annotation(&nc).is_empty());
    let events = world.events_for("vm-1").await;
    assert!(
        events
            .iter()
            .any(|(t, r, note)| t == "Warning" && r == "Conflict" && note.contains(MAC_1)),
        "{events:?}"
    );

    // Never changed: not now, not on later reconciles.
    holds("foreign hosts untouched", Duration::from_secs(2), async || {
        let now = [world.primary().hosts(), world.secondary().hosts()];
        (now == before).then_some(()).ok_or_else(|| format!("{now:?}"))
    })
    .await;
    for sim in [world.primary(), world.secondary()] {
        let sent = writes(sim);
        assert!(
            sent.iter()
                .all(|c| c.command.as_deref() == Some("reservation-add") && c.result != Some(0)),
            "only refused adds may have been tried: {:?}",
            show(&sent)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_nc_owns_a_shared_mac_and_the_younger_takes_over_after_it() {
    let world = testenv::need!(World::start("same-mac").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let leased = world.acquire(MAC_1, PRIMARY_SUBNET);
    // Conflicts are looked at again after the resync interval.
    let _operator = world.operator(&[("--resync-interval-seconds", "2")]).await;
    world.create_nc(nc(&world, "old").interface("eth0", MAC_1)).await;
    let old = world.wait_converged("old").await;
    // Creation timestamps have a resolution of one second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    world.create_nc(nc(&world, "young").interface("nic", MAC_1)).await;

    let young = world.wait_ready_reason("young", false, "Conflict").await;
    let message = interface(&young, "nic").message.clone().unwrap_or_default();
    assert!(message.contains(&format!("{}/old", world.ns)), "{message}");
    assert!(annotation(&young).is_empty(), "the younger NC reserved nothing");
    holds("the old NC keeps the MAC", Duration::from_secs(3), async || {
        for (sim, subnet) in both(&world) {
            check_reserved(sim, subnet, MAC_1, leased, &old, "eth0")?;
        }
        Ok(())
    })
    .await;

    world.delete_nc("old").await;
    world.wait_gone("old").await;
    let young = world.wait_converged("young").await;
    for (sim, subnet) in both(&world) {
        assert_reserved(sim, subnet, MAC_1, leased, &young, "nic");
        assert_eq!(sim.hosts().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_operators_hosts_are_adopted_and_its_finalizer_replaced() {
    // The Go operator's hosts carry no marker: MAC_1's equals what the NC wants, MAC_2's does not
    // (its device leases another address).
    let pair = pair_builder_with(|b, subnet, primary| {
        let b = b
            .reservation(subnet, MAC_1, Some(ip(50)))
            .reservation(subnet, MAC_2, Some(ip(51)));
        if primary {
            b.lease(ip(70), MAC_2, Some(subnet))
        } else {
            b
        }
    });
    let world = testenv::need!(World::start_with("adopt", pair).await);
    world.create_nn("net", Some(PREFIX_A)).await;
    assert_eq!(world.acquire(MAC_1, PRIMARY_SUBNET), ip(50));
    let operator = world.operator(&[]).await;
    world
        .create_nc(nc(&world, "adopted").legacy_finalized().interface("eth0", MAC_1))
        .await;
    world
        .create_nc(nc(&world, "differs").legacy_finalized().interface("eth0", MAC_2))
        .await;

    let adopted = world
        .wait_nc("adopted", "converged with only our finalizer", |nc| {
            let finalizers = nc.metadata.finalizers.clone().unwrap_or_default();
            (controller_support::objects::is_converged(nc)
                && finalizers == [kea_operator::crd::FINALIZER.to_string()])
            .then_some(())
            .ok_or_else(|| "not yet".into())
        })
        .await;
    for (sim, subnet) in both(&world) {
        assert_reserved(sim, subnet, MAC_1, ip(50), &adopted, "eth0");
    }
    world.wait_event("adopted", "ReservationAdopted", MAC_1).await;
    // Replacing the finalizer is part of a clean reconcile, not a failure retried.
    let (_, metrics) = operator.get("/metrics").await;
    assert!(
        !metrics.contains("kea_operator_reconciliation_errors_total"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("errors"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    let differs = world.wait_ready_reason("differs", false, "Conflict").await;
    assert_eq!(interface(&differs, "eth0").state, Some(InterfaceState::Conflict));
    let finalizers = differs.metadata.finalizers.clone().unwrap_or_default();
    assert!(
        finalizers.contains(&LEGACY_FINALIZERS[0].to_string()) && has_finalizer(&differs),
        "the Go operator's finalizer stays until in sync: {finalizers:?}"
    );
    for (sim, subnet) in both(&world) {
        let found = host(sim, subnet, MAC_2).expect("the differing host stays");
        assert_eq!(found.ip_address, Some(ip(51)));
        assert_eq!(found.user_context, None, "never marked: {:?}", found.user_context);
    }
    wait_for("no host carries the differing NC's marker", || {
        let theirs = marker(&differs, "eth0");
        let marked = [world.primary(), world.secondary()]
            .iter()
            .flat_map(|s| s.hosts())
            .any(|h| h.user_context.as_ref() == Some(&theirs));
        (!marked).then_some(()).ok_or_else(|| "marked".into())
    })
    .await;
}
