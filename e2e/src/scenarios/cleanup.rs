//! Scenario 4: Cleanup: an NC deleted → its reservations gone from both servers, finalizer released. With
//! the secondary hung during the deletion → retried, finished once it answers again. Hung past
//! `KEA_CLEANUP_TIMEOUT_SECONDS` → the finalizer is released anyway and the sweep removes the
//! leftover once the server is back.

use std::time::{Duration, Instant};

use crate::kea::Role;
use crate::lane::Lane;
use crate::wait::until;
use crate::world::{World, WorldOptions};

const CLEANUP_TIMEOUT_SECS: u64 = 10;

/// How long the operator takes, at most, to mark a hung server unhealthy: `threshold` probes that
/// each wait for the request timeout, an interval apart.
fn unhealthy_after(config: &crate::operator::OperatorConfig) -> Duration {
    let timeout = config
        .seconds("KEA_TIMEOUT_SECONDS")
        .unwrap_or(Duration::from_secs(10));
    let interval = config
        .seconds("KEA_HEALTH_INTERVAL_SECONDS")
        .unwrap_or(Duration::from_secs(30));
    let threshold = config
        .get("KEA_HEALTH_FAILURE_THRESHOLD")
        .and_then(|t| t.parse::<u32>().ok())
        .unwrap_or(2);
    (timeout + interval) * threshold
}

async fn gone_everywhere(w: &World, macs: &[String]) -> anyhow::Result<Result<(), String>> {
    for role in Role::BOTH {
        for m in macs {
            let left = super::hosts_of(w, role, m).await?;
            if !left.is_empty() {
                return Ok(Err(format!("{role}: {left:?}")));
            }
        }
    }
    Ok(Ok(()))
}

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "cleanup", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    let config = w
        .operator_config()
        .set("KEA_CLEANUP_TIMEOUT_SECONDS", CLEANUP_TIMEOUT_SECS.to_string())
        .set("RESYNC_INTERVAL_SECONDS", "4");
    w.start_operator(config).await?;
    let ns = w.ns.clone();
    let (names, _) = super::create_leased_ncs(&mut w, &ns, 4, "vm", 8, 2).await?;
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
    let macs_of = |i: usize| vec![super::mac(4, i, 0), super::mac(4, i, 1)];

    // (a) Plain deletion of three NCs.
    for name in &names[..3] {
        w.k8s.delete_nc(&ns, name).await?;
    }
    for name in &names[..3] {
        w.k8s.wait_gone(&ns, name, super::REACT).await?;
    }
    let deleted: Vec<String> = (0..3).flat_map(macs_of).collect();
    until(
        "deleted NCs' reservations gone",
        Duration::from_secs(5),
        async || gone_everywhere(&w, &deleted).await,
    )
    .await?;
    anyhow::ensure!(
        !w.k8s
            .events_for(&ns, None, "ReservationDeleted")
            .await?
            .is_empty(),
        "no ReservationDeleted Event"
    );
    w.converge(super::REACT).await?;

    // (b) The secondary hangs during the deletion: the finalizer waits, then cleanup finishes.
    w.kea.set_hung(Role::Secondary, true).await?;
    let hung_at = Instant::now();
    w.k8s.delete_nc(&ns, &names[3]).await?;
    let m3 = macs_of(3);
    // The cleanup reads both servers before it deletes; a hung server's reads wait for the request
    // timeout until its health checks have failed KEA_HEALTH_FAILURE_THRESHOLD times in a row (a
    // timeout alone is not conclusive), then it is skipped and the primary is cleaned.
    let marked_unhealthy = unhealthy_after(w.operator().config());
    until(
        "the primary's reservations of the deleted NC gone",
        marked_unhealthy + Duration::from_secs(3),
        async || {
            for m in &m3 {
                if !super::hosts_of(&w, Role::Primary, m).await?.is_empty() {
                    return Ok(Err(format!("{m} still on the primary")));
                }
            }
            Ok(Ok(()))
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(hung_at.elapsed())).await;
    let nc = w.k8s.get_nc(&ns, &names[3]).await?;
    anyhow::ensure!(
        nc.as_ref()
            .is_some_and(|nc| nc.metadata.deletion_timestamp.is_some()),
        "the finalizer must hold the NC while the secondary is unreachable: {:?}",
        nc.map(|n| crate::k8s::describe(&n))
    );
    anyhow::ensure!(
        hung_at.elapsed() < Duration::from_secs(CLEANUP_TIMEOUT_SECS - 1),
        "too slow to test the retry"
    );
    w.kea.set_hung(Role::Secondary, false).await?;
    w.k8s.wait_gone(&ns, &names[3], super::REACT).await?;
    until(
        "the deleted NC's reservations gone from the secondary",
        Duration::from_secs(5),
        async || gone_everywhere(&w, &m3).await,
    )
    .await?;

    // (c) Hung past the cleanup timeout: released anyway; the sweep removes the leftover later.
    w.kea.set_hung(Role::Secondary, true).await?;
    let started = Instant::now();
    w.k8s.delete_nc(&ns, &names[4]).await?;
    w.k8s
        .wait_gone(&ns, &names[4], Duration::from_secs(CLEANUP_TIMEOUT_SECS + 15))
        .await?;
    let released_after = started.elapsed();
    anyhow::ensure!(
        released_after >= Duration::from_secs(CLEANUP_TIMEOUT_SECS - 1),
        "released after {released_after:?}, before the cleanup timeout of {CLEANUP_TIMEOUT_SECS} s"
    );
    let m4 = macs_of(4);
    if w.kea.readable_while_hung() {
        // kea-sim's admin API answers while its Kea socket hangs: the leftover is still there.
        for m in &m4 {
            anyhow::ensure!(
                !super::hosts_of(&w, Role::Secondary, m).await?.is_empty(),
                "{m} should still be on the hung secondary when the finalizer is released"
            );
        }
    }
    w.kea.set_hung(Role::Secondary, false).await?;
    until(
        "the sweep to remove the leftover from the secondary",
        Duration::from_secs(20),
        async || gone_everywhere(&w, &m4).await,
    )
    .await?;
    let orphans = w
        .operator()
        .metrics()
        .await?
        .sum("kea_operator_orphans_removed_total", &[("server", "secondary")]);
    anyhow::ensure!(
        orphans >= 2.0,
        "orphans_removed_total{{server=secondary}} = {orphans}, expected ≥ 2"
    );
    w.finish().await
}
