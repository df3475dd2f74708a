//! Scenario 6: Slow and flaky Kea. With kea-sim: retries follow the backoff schedule (measured from the
//! request log's arrival times), the breaker opens after `KEA_BREAKER_FAILURES` failed calls and
//! admits trials after the reset time, latency above the timeout and bursts of resets, garbage,
//! truncated bodies and 5xx are survived; everything converges afterwards.
//! With real Kea (no such faults): the primary is SIGSTOPped while NCs are created — timeouts, the
//! breaker opens, work goes on on the secondary, and everything converges after SIGCONT.

use std::time::{Duration, Instant};

use kea_sim::{Fault, FaultAction};

use crate::kea::Role;
use crate::lane::Lane;
use crate::wait::until;
use crate::world::{World, WorldOptions};

const INITIAL_MS: u64 = 200;
const FACTOR: f64 = 2.0;
const ATTEMPTS: u32 = 5;
const BREAKER_FAILURES: u32 = 5;
const BREAKER_RESET_SECS: u64 = 4;

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "flaky", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    let config = w
        .operator_config()
        .set("KEA_RETRY_INITIAL_MS", INITIAL_MS.to_string())
        .set("KEA_RETRY_FACTOR", FACTOR.to_string())
        .set("KEA_RETRY_MAX_SECONDS", "5")
        .set("KEA_RETRY_ATTEMPTS", ATTEMPTS.to_string())
        .set("KEA_BREAKER_FAILURES", BREAKER_FAILURES.to_string())
        .set("KEA_BREAKER_RESET_SECONDS", BREAKER_RESET_SECS.to_string())
        .set("KEA_TIMEOUT_SECONDS", "1");
    w.start_operator(config).await?;
    if lane.has_sim_faults() {
        backoff_schedule(&mut w).await?;
        breaker(&mut w).await?;
        latency_above_timeout(&mut w).await?;
        bursts(&mut w).await?;
    } else {
        hung_primary(&mut w).await?;
    }
    w.finish().await
}

/// The retries of one write follow `initial × factor^k`, each delay jittered into [d/2, d].
async fn backoff_schedule(w: &mut World) -> anyhow::Result<()> {
    let ns = w.ns.clone();
    let m = super::mac(0x61, 1, 0);
    w.give_lease(&m, 1).await?;
    let sim = w.kea.sim().ok_or_else(|| anyhow::anyhow!("kea-sim lane"))?;
    let faulty = ATTEMPTS - 1;
    sim.inject(
        Role::Secondary,
        &Fault::http_status(503)
            .on_command("reservation-add")
            .times(faulty),
    )
    .await?;
    w.k8s
        .create_nc(&ns, &super::nc("backoff", std::slice::from_ref(&m)))
        .await?;
    w.k8s.wait_ready(&ns, "backoff", super::REACT).await?;
    w.converge(super::REACT).await?;
    let adds: Vec<_> = super::requests_for(w, Role::Secondary, &m, 0)
        .await?
        .into_iter()
        .filter(|r| r.command.as_deref() == Some("reservation-add"))
        .collect();
    anyhow::ensure!(
        adds.len() == ATTEMPTS as usize,
        "expected {ATTEMPTS} attempts ({faulty} answered 503), saw {}: {:?}",
        adds.len(),
        adds.iter()
            .map(|r| (r.unix_micros, r.http_status))
            .collect::<Vec<_>>()
    );
    let mut report = Vec::new();
    for (k, pair) in adds.windows(2).enumerate() {
        let gap = Duration::from_micros((pair[1].unix_micros - pair[0].unix_micros).max(0) as u64);
        let ceiling = Duration::from_millis((INITIAL_MS as f64 * FACTOR.powi(k as i32)) as u64);
        // Equal jitter: [ceiling/2, ceiling], plus scheduling and request time on a busy machine.
        let (low, high) = (
            ceiling / 2 - Duration::from_millis(20),
            ceiling + Duration::from_millis(150) + ceiling / 10,
        );
        report.push(format!("retry {k}: {gap:?} in [{low:?}, {high:?}]"));
        anyhow::ensure!(
            gap >= low && gap <= high,
            "backoff off schedule: {}",
            report.join("; ")
        );
    }
    eprintln!(
        "flaky: backoff measured from kea-sim's request log: {}",
        report.join("; ")
    );
    Ok(())
}

/// The commands the operator sends outside its health probes (`list-commands`, `status-get`).
const CALLS: [&str; 9] = [
    "config-get",
    "subnet4-list",
    "lease4-get-by-hw-address",
    "reservation-get",
    "reservation-get-by-address",
    "reservation-get-page",
    "reservation-add",
    "reservation-update",
    "reservation-del",
];

fn is_call(r: &kea_sim::ReceivedCommand) -> bool {
    r.command.as_deref().is_some_and(|c| CALLS.contains(&c))
}

/// Every call to the secondary fails: the breaker opens after the configured failures, holds
/// requests back for the reset time, then admits trials; once the fault ends it closes.
async fn breaker(w: &mut World) -> anyhow::Result<()> {
    let ns = w.ns.clone();
    let sim = w
        .kea
        .sim()
        .ok_or_else(|| anyhow::anyhow!("kea-sim lane"))?
        .clone();
    // Every call the operator makes fails, but the health probes pass: the server stays healthy, so
    // the breaker alone decides what is sent (an unhealthy server gets nothing, breaker or not).
    let mut faults = Vec::new();
    for command in CALLS {
        faults.push(
            sim.inject(Role::Secondary, &Fault::http_status(500).on_command(command))
                .await?,
        );
    }
    let (names, _) = super::create_leased_ncs(w, &ns, 0x62, "breaker", 6, 1).await?;
    let op = w.operator();
    op.wait_metric(
        "kea_operator_circuit_breaker_state",
        &[("server", "secondary")],
        Duration::from_secs(30),
        |v| v == 2.0,
    )
    .await?;
    let opened_seen = Instant::now();
    let mark = sim.log_mark(Role::Secondary).await?;
    // While open, nothing reaches the secondary (a window well inside the reset time).
    let window = Duration::from_secs(BREAKER_RESET_SECS) / 2;
    tokio::time::sleep(window.saturating_sub(opened_seen.elapsed())).await;
    let during: Vec<_> = sim
        .log(Role::Secondary, mark)
        .await?
        .into_iter()
        .filter(is_call)
        .collect();
    anyhow::ensure!(
        during.is_empty(),
        "the open breaker let {} requests through: {:?}",
        during.len(),
        during.iter().map(|r| &r.command).collect::<Vec<_>>()
    );
    // After the reset time the breaker is half-open: the next call (a new NC's) is a trial, sent,
    // and fails (the breaker opens again).
    let reset = Duration::from_secs(BREAKER_RESET_SECS) + Duration::from_millis(500);
    tokio::time::sleep(reset.saturating_sub(opened_seen.elapsed())).await;
    let (trial, _) = super::create_leased_ncs(w, &ns, 0x65, "trial", 1, 1).await?;
    until(
        "trial requests after the breaker's reset time",
        Duration::from_secs(BREAKER_RESET_SECS * 3),
        async || {
            let n = sim
                .log(Role::Secondary, mark)
                .await?
                .iter()
                .filter(|r| is_call(r))
                .count();
            Ok(if n > 0 {
                Ok(())
            } else {
                Err("no request yet".into())
            })
        },
    )
    .await?;
    let waited = opened_seen.elapsed();
    anyhow::ensure!(
        waited >= window,
        "trials after {waited:?}, before half the reset time"
    );
    // The primary (active) took the reservations meanwhile: Ready, not in sync.
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
    w.k8s.wait_all_ready(&ns, &trial, super::BATCH_READY).await?;
    for fault in faults {
        sim.remove_fault(Role::Secondary, fault).await?;
    }
    // Once half-open again, a new NC's calls succeed: the breaker closes, and closing re-syncs the
    // secondary (the sweep brings over what it missed while open).
    tokio::time::sleep(reset).await;
    super::create_leased_ncs(w, &ns, 0x66, "healed", 1, 1).await?;
    w.operator()
        .wait_metric(
            "kea_operator_circuit_breaker_state",
            &[("server", "secondary")],
            Duration::from_secs(30),
            |v| v == 0.0,
        )
        .await?;
    w.converge(Duration::from_secs(30)).await?;
    Ok(())
}

/// Answers slower than `KEA_TIMEOUT_SECONDS`: the client gives up, retries, and the reservation is
/// there exactly once (a timed-out add that Kea applied later must not become a conflict).
async fn latency_above_timeout(w: &mut World) -> anyhow::Result<()> {
    let ns = w.ns.clone();
    let m = super::mac(0x63, 1, 0);
    w.give_lease(&m, 1).await?;
    let sim = w.kea.sim().ok_or_else(|| anyhow::anyhow!("kea-sim lane"))?;
    sim.inject(
        Role::Primary,
        &Fault::latency(Duration::from_millis(1500))
            .on_command("reservation-add")
            .times(2),
    )
    .await?;
    w.k8s
        .create_nc(&ns, &super::nc("slow", std::slice::from_ref(&m)))
        .await?;
    w.k8s.wait_ready(&ns, "slow", Duration::from_secs(30)).await?;
    let adds = super::requests_for(w, Role::Primary, &m, 0)
        .await?
        .into_iter()
        .filter(|r| r.command.as_deref() == Some("reservation-add"))
        .count();
    anyhow::ensure!(adds >= 2, "the slow add was not retried ({adds} adds)");
    w.converge(super::REACT).await
}

/// Seeded bursts of resets, garbage, truncated bodies and 5xx on both servers while NCs are made.
async fn bursts(w: &mut World) -> anyhow::Result<()> {
    let ns = w.ns.clone();
    let sim = w
        .kea
        .sim()
        .ok_or_else(|| anyhow::anyhow!("kea-sim lane"))?
        .clone();
    let actions = [
        FaultAction::Reset,
        FaultAction::Garbage,
        FaultAction::Truncated,
        FaultAction::HttpStatus { status: 503 },
    ];
    // On the operator's calls, which its retries must absorb, and on the health probes: a single
    // failed probe must not mark a server unhealthy (KEA_HEALTH_FAILURE_THRESHOLD, 2 by default).
    // Before the threshold, the flapping mark failed calls fast and grew per-object backoff past
    // this scenario's bounds.
    let probes = ["list-commands", "status-get"];
    for role in Role::BOTH {
        for (i, action) in actions.iter().enumerate() {
            for (j, command) in CALLS.iter().chain(&probes).enumerate() {
                let seed = 1000 + (role as u64) * 1000 + (i as u64) * 100 + j as u64;
                let fault = Fault::new(action.clone())
                    .on_command(command)
                    .with_probability(0.08, seed);
                sim.inject(role, &fault).await?;
            }
        }
    }
    let (names, _) = super::create_leased_ncs(w, &ns, 0x64, "burst", 10, 2).await?;
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
    let hit = sim
        .log(Role::Primary, 0)
        .await?
        .iter()
        .filter(|r| r.fault.is_some())
        .count()
        + sim
            .log(Role::Secondary, 0)
            .await?
            .iter()
            .filter(|r| r.fault.is_some())
            .count();
    anyhow::ensure!(
        hit >= 5,
        "only {hit} requests met a fault: the burst did not happen"
    );
    let absorbed = w.operator().logs().matches("not marked unhealthy yet").count();
    eprintln!(
        "flaky: bursts: {hit} faulted requests; {absorbed} failed health probes absorbed by the threshold"
    );
    sim.clear_faults().await?;
    w.converge(Duration::from_secs(30)).await
}

/// Real Kea: the primary hangs (SIGSTOP) while NCs are created.
async fn hung_primary(w: &mut World) -> anyhow::Result<()> {
    let ns = w.ns.clone();
    w.kea.set_hung(Role::Primary, true).await?;
    let (names, _) = super::create_leased_ncs(w, &ns, 0x65, "hung", 8, 1).await?;
    w.operator()
        .wait_metric(
            "kea_operator_circuit_breaker_state",
            &[("server", "primary")],
            Duration::from_secs(30),
            |v| v == 2.0,
        )
        .await?;
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
    w.kea.set_hung(Role::Primary, false).await?;
    w.operator()
        .wait_metric(
            "kea_operator_circuit_breaker_state",
            &[("server", "primary")],
            Duration::from_secs(30),
            |v| v == 0.0,
        )
        .await?;
    w.converge(Duration::from_secs(30)).await
}
