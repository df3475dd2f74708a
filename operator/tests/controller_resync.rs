//! Re-sync and dry run (SPEC §2.8, §2.9) in process against the real API server and a kea-sim
//! pair: a Kea restart that wipes the reservations held in memory is repaired right after the
//! restart is detected (not at the next periodic sweep), and `DRY_RUN` writes nothing to Kea.

mod controller_support;

use std::time::Duration;

use controller_support::kea::{assert_reserved, check_reserved, show, summary, wait_for, writes};
use controller_support::objects::{annotation, condition, has_finalizer, interface, is_converged, nc};
use controller_support::wait::{holds, until};
use controller_support::{PREFIX_A, PRIMARY_SUBNET, SECONDARY_SUBNET, World, pair_builder_with};
use kea_operator::crd::{InterfaceState, Phase};
use serde_json::json;

const MAC_1: &str = "02:00:00:00:04:01";
const MAC_2: &str = "02:00:00:00:04:02";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_wiped_by_a_kea_restart_are_restored_at_once() {
    let world = testenv::need!(World::start("restart").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip_1 = world.acquire(MAC_1, PRIMARY_SUBNET);
    let ip_2 = world.acquire(MAC_2, PRIMARY_SUBNET);
    // The periodic sweep is far away: only restart detection can repair in time.
    let _operator = world
        .operator(&[
            ("--resync-interval-seconds", "600"),
            ("--kea-health-interval-seconds", "0.5"),
        ])
        .await;
    world
        .create_nc(
            nc(&world, "vm-1")
                .interface("eth0", MAC_1)
                .interface("eth1", MAC_2),
        )
        .await;
    let nc = world.wait_converged("vm-1").await;

    for (sim, subnet) in [
        (world.secondary(), SECONDARY_SUBNET),
        (world.primary(), PRIMARY_SUBNET),
    ] {
        sim.restart().await.expect("restart");
        assert!(
            sim.hosts().is_empty(),
            "memory reservations are lost: {:?}",
            summary(sim)
        );
        until(
            &format!("{} repaired", sim.name()),
            Duration::from_secs(8),
            async || {
                check_reserved(sim, subnet, MAC_1, ip_1, &nc, "eth0")?;
                check_reserved(sim, subnet, MAC_2, ip_2, &nc, "eth1")
            },
        )
        .await;
    }
    // Both servers hold exactly the NC's reservations, and the NC is Ready again.
    let nc = world.wait_converged("vm-1").await;
    for (sim, subnet) in [
        (world.primary(), PRIMARY_SUBNET),
        (world.secondary(), SECONDARY_SUBNET),
    ] {
        assert_reserved(sim, subnet, MAC_1, ip_1, &nc, "eth0");
        assert_reserved(sim, subnet, MAC_2, ip_2, &nc, "eth1");
        assert_eq!(sim.hosts().len(), 2, "{}: {:?}", sim.name(), summary(sim));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_down_at_creation_is_caught_up_when_it_returns() {
    let world = testenv::need!(World::start("partner-down").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip = world.acquire(MAC_1, PRIMARY_SUBNET);
    world.secondary().set_down(true).await;
    let _operator = world.operator(&[("--resync-interval-seconds", "600")]).await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;

    // The primary serves DHCP: Ready; the partner's maintenance shows as not in sync only.
    let nc = world.wait_ready_out_of_sync("vm-1", "KeaUnavailable").await;
    assert_reserved(world.primary(), PRIMARY_SUBNET, MAC_1, ip, &nc, "eth0");
    let secondary = &interface(&nc, "eth0").servers[1];
    assert!(!secondary.reserved && secondary.error.is_some(), "{secondary:?}");

    // Back: caught up right after the recovery (the periodic sweep is 10 minutes away).
    world.secondary().set_down(false).await;
    let nc = world
        .wait_nc_within("vm-1", "in sync", Duration::from_secs(10), |nc| {
            is_converged(nc).then_some(()).ok_or_else(|| "not yet".into())
        })
        .await;
    assert_reserved(world.secondary(), SECONDARY_SUBNET, MAC_1, ip, &nc, "eth0");
}

/// The partner stays healthy (its health probes pass) but refuses the writes: no recovery event will
/// come, and the periodic sweep is far away; the NC's own requeue brings the partner up to date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_that_failed_the_writes_is_retried_by_the_requeue() {
    let world = testenv::need!(World::start("partner-5xx").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip = world.acquire(MAC_1, PRIMARY_SUBNET);
    world
        .secondary()
        .inject(kea_sim::Fault::http_status(500).on_command("reservation-add"));
    let _operator = world
        .operator(&[
            ("--resync-interval-seconds", "600"),
            ("--requeue-network-seconds", "1"),
        ])
        .await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;
    world.wait_ready_out_of_sync("vm-1", "KeaUnavailable").await;
    assert!(world.secondary().hosts().is_empty());

    world.secondary().clear_faults();
    let nc = world
        .wait_nc_within("vm-1", "in sync", Duration::from_secs(10), |nc| {
            is_converged(nc).then_some(()).ok_or_else(|| "not yet".into())
        })
        .await;
    assert_reserved(world.secondary(), SECONDARY_SUBNET, MAC_1, ip, &nc, "eth0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_no_reservation_writes() {
    // A host of this instance whose owner is gone: the sweep would delete it, but not in a dry run.
    let orphan = json!({"kea-operator": {"v": 1, "instance": controller_support::INSTANCE,
        "owner": "elsewhere/gone", "uid": "uid-gone", "interface": "eth9"}});
    let pair = pair_builder_with(|b, subnet, _| {
        b.reservation_json(
            subnet,
            json!({"hw-address": "02:00:00:00:04:99", "ip-address": "10.100.1.99", "user-context": orphan}),
        )
    });
    let world = testenv::need!(World::start_with("dry-run", pair).await);
    world.create_nn("net", Some(PREFIX_A)).await;
    world.acquire(MAC_1, PRIMARY_SUBNET);
    let operator = world
        .operator(&[("--dry-run", "true"), ("--resync-interval-seconds", "1")])
        .await;
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;

    let nc = world.wait_ready_reason("vm-1", false, "DryRun").await;
    let status = nc.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(Phase::Reconciling));
    let eth0 = interface(&nc, "eth0");
    assert_ne!(eth0.state, Some(InterfaceState::Reserved), "{eth0:?}");
    assert!(
        eth0.servers
            .iter()
            .all(|s| !s.reserved && s.error.as_deref().is_some_and(|e| e.contains("dry run"))),
        "{eth0:?}"
    );
    assert!(condition(&nc, "Ready").unwrap().message.contains("dry run"));
    // The finalizer is ours to add (no Kea write); the annotation records nothing (nothing was written).
    assert!(has_finalizer(&nc));
    assert!(annotation(&nc).is_empty());
    world.wait_event("vm-1", "DryRun", MAC_1).await;

    // Several sweeps (every second) pass the orphan without deleting it.
    let sweeps = until("three sweeps", Duration::from_secs(10), async || {
        let series = "kea_operator_sweeps_total{server=\"secondary\",result=\"success\"}";
        let count = operator.metric(series).await.unwrap_or(0.0);
        (count >= 3.0)
            .then_some(count)
            .ok_or_else(|| format!("{count} sweeps"))
    })
    .await;
    assert!(sweeps >= 3.0);

    // Deleting in a dry run releases the finalizer without touching Kea (cleanup.rs).
    world.delete_nc("vm-1").await;
    world.wait_gone("vm-1").await;
    holds("no writes", Duration::from_millis(500), async || {
        for sim in [world.primary(), world.secondary()] {
            let sent = writes(sim);
            if !sent.is_empty() {
                return Err(format!("{}: {:?}", sim.name(), show(&sent)));
            }
        }
        Ok(())
    })
    .await;
    for sim in [world.primary(), world.secondary()] {
        assert_eq!(
            sim.hosts().len(),
            1,
            "only the orphan, untouched: {:?}",
            summary(sim)
        );
    }
    wait_for("the orphan kept", || {
        let kept = world.secondary().hosts().iter().any(|h| h.user_context.is_some());
        kept.then_some(()).ok_or_else(|| "gone".into())
    })
    .await;
}
