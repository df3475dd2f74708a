//! Deletion and provider triage (SPEC §1, §2.7) in process against the real API server and a
//! kea-sim pair: cleanup on both servers, a server down during deletion (the NC waits, then
//! finishes), the cleanup timeout (finalizer released, the sweep removes the leftover once the
//! server is back), NCs of another provider ignored, and a provider change cleaning up.

mod controller_support;

use std::time::Duration;

use controller_support::kea::{assert_reserved, host, owned_by, show, summary, wait_for};
use controller_support::objects::{annotation, describe, has_finalizer, nc};
use controller_support::wait::holds;
use controller_support::{PREFIX_A, PRIMARY_SUBNET, SECONDARY_SUBNET, World};
use kea_operator::crd::{NetworkConfiguration, Phase};

const MAC_1: &str = "02:00:00:00:02:01";
const MAC_2: &str = "02:00:00:00:02:02";

/// A world with a converged two-interface NC `vm-1`; returns it and the operator.
async fn converged(
    world: &World,
    flags: &[(&str, &str)],
) -> (NetworkConfiguration, controller_support::Operator) {
    world.create_nn("net", Some(PREFIX_A)).await;
    world.acquire(MAC_1, PRIMARY_SUBNET);
    world.acquire(MAC_2, PRIMARY_SUBNET);
    let operator = world.operator(flags).await;
    world
        .create_nc(
            nc(world, "vm-1")
                .interface("eth0", MAC_1)
                .interface("eth1", MAC_2),
        )
        .await;
    let nc = world.wait_converged("vm-1").await;
    for sim in [world.primary(), world.secondary()] {
        assert_eq!(owned_by(sim, &nc).len(), 2, "{}: {:?}", sim.name(), summary(sim));
    }
    (nc, operator)
}

fn no_hosts(sim: &kea_sim::KeaSim) -> Result<(), String> {
    sim.hosts()
        .is_empty()
        .then_some(())
        .ok_or_else(|| format!("{} still holds {:?}", sim.name(), summary(sim)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_reservations_everywhere_then_releases_the_finalizer() {
    let world = testenv::need!(World::start("delete").await);
    let (_nc, _operator) = converged(&world, &[]).await;
    world.delete_nc("vm-1").await;
    world.wait_gone("vm-1").await;
    no_hosts(world.primary()).unwrap();
    no_hosts(world.secondary()).unwrap();
    let events = world.events_for("vm-1").await;
    for mac in [MAC_1, MAC_2] {
        for server in ["primary", "secondary"] {
            assert!(
                events.iter().any(|(_, r, note)| r == "ReservationDeleted"
                    && note.contains(mac)
                    && note.contains(server)),
                "no ReservationDeleted for {mac} on {server}: {events:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_during_deletion_keeps_the_nc_deleting_until_it_returns() {
    let world = testenv::need!(World::start("delete-down").await);
    let (nc, _operator) = converged(&world, &[]).await;
    world.secondary().set_down(true).await;
    world.delete_nc("vm-1").await;

    let deleting = world
        .wait_nc("vm-1", "phase Deleting naming the secondary", |nc| {
            let status = nc.status.as_ref().ok_or("no status")?;
            let message = status.message.as_deref().unwrap_or_default();
            (status.phase == Some(Phase::Deleting) && message.contains("secondary"))
                .then_some(())
                .ok_or_else(|| "not yet".into())
        })
        .await;
    assert!(has_finalizer(&deleting), "{}", describe(&deleting));
    wait_for("the primary's reservations deleted", || no_hosts(world.primary())).await;
    // The NC stays while the secondary cannot confirm; its hosts there are untouched.
    holds(
        "the NC waits for the secondary",
        Duration::from_secs(2),
        async || {
            world
                .get_nc("vm-1")
                .await
                .map(|_| ())
                .ok_or_else(|| "the NC is gone".into())
        },
    )
    .await;
    assert_eq!(owned_by(world.secondary(), &nc).len(), 2);

    world.secondary().set_down(false).await;
    world.wait_gone("vm-1").await;
    no_hosts(world.secondary()).unwrap();
    no_hosts(world.primary()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleanup_timeout_releases_the_finalizer_and_the_sweep_removes_the_leftover() {
    let world = testenv::need!(World::start("delete-timeout").await);
    let (nc, _operator) = converged(&world, &[("--kea-cleanup-timeout-seconds", "3")]).await;
    world.secondary().set_down(true).await;
    world.delete_nc("vm-1").await;
    // Not before the timeout (the deletion timestamp has a resolution of one second)...
    holds(
        "the finalizer is kept until the timeout",
        Duration::from_secs(2),
        async || {
            world
                .get_nc("vm-1")
                .await
                .map(|_| ())
                .ok_or_else(|| "released early".into())
        },
    )
    .await;
    // ...but once it passed, although the secondary still cannot confirm.
    world.wait_gone("vm-1").await;
    no_hosts(world.primary()).unwrap();
    assert_eq!(
        owned_by(world.secondary(), &nc).len(),
        2,
        "the unreachable server keeps its hosts for now"
    );
    world.wait_event("vm-1", "CleanupTimedOut", "secondary").await;

    // Back: the sweep (right after a recovery) deletes the hosts whose owner is gone.
    world.secondary().set_down(false).await;
    wait_for("the sweep removes the leftover hosts", || {
        no_hosts(world.secondary())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleanup_timeout_is_kept_whatever_the_retry_backoff() {
    // Retries back off 2 s, 4 s, 8 s …: without regard for the deadline, the first retry after the
    // 4 s timeout would come at about 6 s.
    let (timeout, network) = (4, 2);
    let world = testenv::need!(World::start("delete-deadline").await);
    let flags = [
        ("--kea-cleanup-timeout-seconds", "4"),
        ("--requeue-network-seconds", "2"),
    ];
    let (_nc, _operator) = converged(&world, &flags).await;
    world.secondary().set_down(true).await;
    let deleted = tokio::time::Instant::now();
    world.delete_nc("vm-1").await;
    world.wait_gone("vm-1").await;
    let took = deleted.elapsed();
    assert!(
        took < Duration::from_secs(timeout + 1),
        "released {took:?} after the deletion; timeout {timeout} s, retries every {network} s doubling"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nc_of_another_provider_is_ignored() {
    let world = testenv::need!(World::start("provider-other").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    world.acquire(MAC_1, PRIMARY_SUBNET);
    let _operator = world.operator(&[]).await;
    // A kea NC first, so the operator is known to be working when the other one is looked at
    // (its own commands name only its MAC).
    world
        .create_nc(nc(&world, "kea-vm").interface("eth0", MAC_2))
        .await;
    world.wait_ready_reason("kea-vm", false, "WaitingForLease").await;
    world
        .create_nc(nc(&world, "other-vm").provider("other").interface("eth0", MAC_1))
        .await;
    holds(
        "the other provider's NC is left alone",
        Duration::from_secs(2),
        async || {
            let other = world.get_nc("other-vm").await.ok_or("gone")?;
            if has_finalizer(&other) || other.status.is_some() || !annotation(&other).is_empty() {
                return Err(describe(&other));
            }
            for sim in [world.primary(), world.secondary()] {
                let touched: Vec<_> = sim
                    .received_commands()
                    .into_iter()
                    .filter(|c| {
                        c.arguments
                            .as_ref()
                            .is_some_and(|a| a.to_string().contains(MAC_1))
                    })
                    .collect();
                if !touched.is_empty() {
                    return Err(format!("{}: {:?}", sim.name(), show(&touched)));
                }
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_change_removes_the_reservations_and_the_finalizer() {
    let world = testenv::need!(World::start("provider-change").await);
    let (_nc, operator) = converged(&world, &[]).await;
    world
        .edit_nc("vm-1", |nc| nc.spec.provider = "other".into())
        .await;
    let nc = world
        .wait_nc("vm-1", "finalizer and annotation removed", |nc| {
            (!has_finalizer(nc) && annotation(nc).is_empty())
                .then_some(())
                .ok_or_else(|| "not yet".into())
        })
        .await;
    assert!(
        nc.metadata.deletion_timestamp.is_none(),
        "the object itself stays"
    );
    no_hosts(world.primary()).unwrap();
    no_hosts(world.secondary()).unwrap();
    // Done in one clean reconcile: no write of its own met as a conflict.
    let (_, metrics) = operator.get("/metrics").await;
    assert!(
        !metrics.contains("kea_operator_reconciliation_errors_total"),
        "{metrics}"
    );

    // Back to kea: reserved again (the device still holds its lease).
    world.edit_nc("vm-1", |nc| nc.spec.provider = "Kea".into()).await;
    let nc = world.wait_converged("vm-1").await;
    assert!(has_finalizer(&nc));
    for (sim, subnet) in [
        (world.primary(), PRIMARY_SUBNET),
        (world.secondary(), SECONDARY_SUBNET),
    ] {
        let ip = host(world.primary(), PRIMARY_SUBNET, MAC_1)
            .and_then(|h| h.ip_address)
            .expect("reserved on the primary");
        assert_reserved(sim, subnet, MAC_1, ip, &nc, "eth0");
    }
}
