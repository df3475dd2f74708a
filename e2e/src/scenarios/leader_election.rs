//! Scenario 10: Leader election: two replicas → exactly one reconciles and writes; the leader killed (-9) →
//! the other takes over within the lease duration; a graceful stop releases the Lease at once; no
//! reservation is ever written twice.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};

use crate::lane::Lane;
use crate::operator::POD_NAMESPACE;
use crate::wait::{Probe, eventually};
use crate::world::{World, WorldOptions};

const LEASE_SECS: u64 = 3;
const RENEW_SECS: u64 = 1;

/// Waits until exactly one running replica reports leadership; returns its index.
async fn one_leader(w: &mut World, timeout: Duration) -> anyhow::Result<usize> {
    eventually("exactly one leader", timeout, async || {
        let mut leaders = Vec::new();
        let mut seen = Vec::new();
        for (i, op) in w.operators.iter_mut().enumerate() {
            if !op.is_running().await {
                seen.push(format!("{}: stopped", op.name()));
                continue;
            }
            match op.is_leader().await {
                Ok(true) => leaders.push(i),
                Ok(false) => seen.push(format!("{}: follower", op.name())),
                Err(e) => seen.push(format!("{}: {e}", op.name())),
            }
        }
        Ok(match leaders.as_slice() {
            [one] => Probe::Done(*one),
            _ => Probe::NotYet(format!("leaders {leaders:?}; {seen:?}")),
        })
    })
    .await
}

async fn no_duplicate_writes(w: &World) -> anyhow::Result<()> {
    if !w.lane.has_sim_faults() {
        return Ok(());
    }
    let counts = super::add_counts(w).await?;
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c != (1, 0)).collect();
    anyhow::ensure!(
        twice.is_empty(),
        "reservations written more than once (or refused as duplicates): {twice:?}"
    );
    Ok(())
}

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "leader-election", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    let config = w
        .operator_config()
        .set("LEADER_ELECT", "true")
        .set("LEASE_DURATION_SECONDS", LEASE_SECS.to_string())
        .set("LEASE_RENEW_SECONDS", RENEW_SECS.to_string());
    w.start_operator(config.clone()).await?;
    w.start_operator(config).await?;
    let leader = one_leader(&mut w, Duration::from_secs(15)).await?;
    let follower = 1 - leader;
    let leases = Api::<Lease>::namespaced(w.k8s.client().clone(), POD_NAMESPACE)
        .list(&ListParams::default())
        .await?
        .items;
    anyhow::ensure!(
        leases.len() == 1
            && leases[0]
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_ref())
                .is_some(),
        "expected one held Lease in {POD_NAMESPACE}: {leases:?}"
    );
    anyhow::ensure!(
        w.operators[follower].readyz().await? == 200,
        "a follower is ready (watches warm)"
    );

    let ns = w.ns.clone();
    let (names, _) = super::create_leased_ncs(&mut w, &ns, 10, "first", 10, 1).await?;
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
    // A follower's controller loop returns at once (its reconciles are counted, they do nothing):
    // what must be zero is what it wrote.
    let follower_writes = w.operators[follower]
        .metrics()
        .await?
        .sum("kea_operator_dhcp_reservations_total", &[]);
    let follower_log_writes = w.operators[follower].logs().matches("\"Kea write\"").count();
    anyhow::ensure!(
        follower_writes == 0.0 && follower_log_writes == 0,
        "the follower wrote to Kea ({follower_writes} counted, {follower_log_writes} logged)"
    );
    no_duplicate_writes(&w).await?;

    // The leader crashes: the follower takes over within the lease duration (plus one renew).
    w.operators[leader].kill().await?;
    let killed = Instant::now();
    let new_leader = one_leader(&mut w, Duration::from_secs(LEASE_SECS * 4)).await?;
    let takeover = killed.elapsed();
    anyhow::ensure!(new_leader == follower, "the killed replica cannot lead");
    anyhow::ensure!(
        takeover <= Duration::from_secs(LEASE_SECS + RENEW_SECS + 1),
        "takeover after {takeover:?}, lease duration {LEASE_SECS} s"
    );
    eprintln!("leader-election: takeover after kill -9 in {takeover:?}");
    let (more, _) = super::create_leased_ncs(&mut w, &ns, 11, "second", 5, 1).await?;
    w.k8s.wait_all_ready(&ns, &more, super::BATCH_READY).await?;
    no_duplicate_writes(&w).await?;

    // The crashed replica comes back as a follower; the leader's graceful stop hands over at once.
    w.operators[leader].start_again().await?;
    w.operators[leader].wait_ready(Duration::from_secs(30)).await?;
    anyhow::ensure!(
        one_leader(&mut w, Duration::from_secs(5)).await? == follower,
        "leadership moved to the restarted replica"
    );
    w.operators[follower].stop().await?;
    let stopped = Instant::now();
    anyhow::ensure!(
        one_leader(&mut w, Duration::from_secs(LEASE_SECS * 4)).await? == leader,
        "no takeover"
    );
    let handover = stopped.elapsed();
    anyhow::ensure!(
        handover < Duration::from_secs(LEASE_SECS),
        "handover after a graceful stop took {handover:?}: the Lease was not released"
    );
    let (last, _) = super::create_leased_ncs(&mut w, &ns, 12, "third", 3, 1).await?;
    w.k8s.wait_all_ready(&ns, &last, super::BATCH_READY).await?;
    no_duplicate_writes(&w).await?;
    w.finish().await
}
