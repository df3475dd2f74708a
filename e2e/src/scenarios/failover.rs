//! Scenario 5: Failover: the primary refuses connections mid-run → work goes on on the secondary without
//! stalls (health metric and Events show it); the primary returns → it is re-synced (reservations
//! made meanwhile appear on it) and becomes active again.

use std::time::{Duration, Instant};

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};

use crate::k8s::condition;
use crate::kea::Role;
use crate::lane::Lane;
use crate::wait::until;
use crate::world::{World, WorldOptions, scaled};

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "failover", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    let config = w.operator_config();
    w.start_operator(config.clone()).await?;
    let ns = w.ns.clone();
    let n = scaled(10);
    let (before, _) = super::create_leased_ncs(&mut w, &ns, 5, "before", n, 2).await?;
    w.k8s.wait_all_ready(&ns, &before, super::BATCH_READY).await?;

    w.kea.set_down(Role::Primary, true).await?;
    let down_at = Instant::now();
    let mark = match w.kea.sim() {
        Some(sim) => Some(sim.log_mark(Role::Secondary).await?),
        None => None,
    };
    // New machines while the primary is away: leases come from the secondary.
    let mut specs = Vec::new();
    for i in 0..n {
        let macs = vec![super::mac(5, 100 + i, 0), super::mac(5, 100 + i, 1)];
        for m in &macs {
            w.give_lease(m, 1).await?;
        }
        specs.push(super::nc(&format!("during-{i}"), &macs));
    }
    let created_at = Instant::now();
    let during = super::create_all(&w, &ns, &specs).await?;
    w.k8s
        .wait_all_ready(&ns, &during, Duration::from_secs(20))
        .await?;
    let all_ready = created_at.elapsed();
    anyhow::ensure!(
        all_ready < Duration::from_secs(10),
        "{n} NCs took {all_ready:?} to be Ready on the secondary: a stall"
    );
    if let (Some(sim), Some(mark)) = (w.kea.sim(), mark) {
        let first_write = sim
            .log(Role::Secondary, mark)
            .await?
            .into_iter()
            .find(|r| r.command.as_deref() == Some("reservation-add") && r.result == Some(0))
            .ok_or_else(|| anyhow::anyhow!("no successful write on the secondary"))?;
        let created_micros =
            jiff::Timestamp::now().as_microsecond() - created_at.elapsed().as_micros() as i64;
        let delay = Duration::from_micros((first_write.unix_micros - created_micros).max(0) as u64);
        // SPEC §9's bound is for a server that refuses connections. Cut off the network (a
        // disconnected container), a read already on its way waits for KEA_TIMEOUT_SECONDS first.
        let (bound, why) = if w.kea.down_is_partition() {
            let timeout = config
                .get("KEA_TIMEOUT_SECONDS")
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(2.0);
            (
                Duration::from_secs_f64(timeout) + Duration::from_secs(1),
                "a partition: the request timeout plus 1 s",
            )
        } else {
            (
                Duration::from_secs(2),
                "SPEC §9: < 2 s when the server refuses connections",
            )
        };
        anyhow::ensure!(
            delay < bound,
            "first successful write on the secondary {delay:?} after the NCs were created ({why})"
        );
    }
    let nc = w
        .k8s
        .get_nc(&ns, "during-0")
        .await?
        .ok_or_else(|| anyhow::anyhow!("during-0 gone"))?;
    anyhow::ensure!(
        condition(&nc, "ServersInSync").is_some_and(|c| c.status == "False"),
        "ServersInSync must be False while the primary lacks the reservations: {}",
        crate::k8s::describe(&nc)
    );
    let op = w.operator();
    op.wait_metric(
        "kea_operator_server_health",
        &[("server", "primary"), ("type", "reachable")],
        super::REACT,
        |v| v == 0.0,
    )
    .await?;
    op.wait_metric(
        "kea_operator_kea_active_server",
        &[("server", "secondary")],
        super::REACT,
        |v| v == 1.0,
    )
    .await?;
    let failovers = op.metrics().await?.sum(
        "kea_operator_failovers_total",
        &[("from", "primary"), ("to", "secondary")],
    );
    anyhow::ensure!(
        failovers >= 1.0,
        "failovers_total primary→secondary = {failovers}"
    );
    let events: Vec<Event> = Api::<Event>::all(w.k8s.client().clone())
        .list(&ListParams::default())
        .await?
        .items;
    let shown = events.iter().any(|e| {
        let text = format!("{:?} {:?}", e.reason, e.note).to_ascii_lowercase();
        text.contains("failover") || text.contains("failed over")
    });
    anyhow::ensure!(
        shown,
        "no Event shows the failover; reasons: {:?}",
        events.iter().map(|e| &e.reason).collect::<Vec<_>>()
    );
    eprintln!("failover: primary down for {:?} so far", down_at.elapsed());

    // The primary returns (a start: its memory is empty): re-synced, then active again.
    w.kea.set_down(Role::Primary, false).await?;
    w.converge(Duration::from_secs(30)).await?;
    let op = w.operator();
    op.wait_metric(
        "kea_operator_kea_active_server",
        &[("server", "primary")],
        super::REACT,
        |v| v == 1.0,
    )
    .await?;
    op.wait_metric(
        "kea_operator_server_health",
        &[("server", "primary"), ("type", "reachable")],
        super::REACT,
        |v| v == 1.0,
    )
    .await?;
    let all: Vec<String> = before.iter().chain(&during).cloned().collect();
    until("ServersInSync on every NC", super::REACT, async || {
        let list = w.k8s.list_ncs(&ns).await?;
        let out: Vec<String> = list
            .iter()
            .filter(|nc| condition(nc, "ServersInSync").is_none_or(|c| c.status != "True"))
            .map(crate::k8s::describe)
            .collect();
        Ok(if out.is_empty() && list.len() == all.len() {
            Ok(())
        } else {
            Err(format!("{} not in sync, e.g. {:?}", out.len(), out.first()))
        })
    })
    .await?;
    w.finish().await
}
