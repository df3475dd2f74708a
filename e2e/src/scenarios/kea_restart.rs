//! Scenario 8: A Kea restart wipes memory-only reservations (no `config-write`): the operator detects it
//! and restores them by the sweep within one resync interval.

use std::time::{Duration, Instant};

use crate::kea::Role;
use crate::lane::Lane;
use crate::world::{World, WorldOptions, scaled};

const RESYNC_SECS: u64 = 5;

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "kea-restart", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    w.start_operator(
        w.operator_config()
            .set("RESYNC_INTERVAL_SECONDS", RESYNC_SECS.to_string()),
    )
    .await?;
    let ns = w.ns.clone();
    let n = scaled(10);
    let (names, _) = super::create_leased_ncs(&mut w, &ns, 8, "vm", n, 2).await?;
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
    w.converge(super::REACT).await?;
    let sweeps_before = w.operator().metrics().await?.sum(
        "kea_operator_sweeps_total",
        &[("server", "primary"), ("result", "success")],
    );

    w.kea.restart(Role::Primary).await?;
    let restarted = Instant::now();
    let left = w
        .kea
        .hosts(Role::Primary)
        .await?
        .into_iter()
        .filter(|h| h.owned_by_instance(&w.oracle.instance))
        .count();
    anyhow::ensure!(
        left < 2 * n,
        "the restart did not wipe the primary's memory ({left} hosts left)"
    );
    // One resync interval, plus the health check that notices the restart, plus the sweep itself.
    w.converge(Duration::from_secs(RESYNC_SECS + 5)).await?;
    eprintln!(
        "kea-restart: restored {} reservations in {:?}",
        2 * n,
        restarted.elapsed()
    );
    let sweeps = w.operator().metrics().await?.sum(
        "kea_operator_sweeps_total",
        &[("server", "primary"), ("result", "success")],
    );
    anyhow::ensure!(
        sweeps > sweeps_before,
        "no successful sweep of the primary counted ({sweeps_before} → {sweeps})"
    );
    w.finish().await
}
