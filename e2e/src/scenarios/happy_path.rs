//! Scenario 1: Happy path: many NCs × 2 interfaces whose MACs hold leases → exact reservations on both
//! servers with owner markers, every NC Ready with per-server results, metrics counts, Events.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::ResourceExt as _;

use crate::k8s::{condition, is_ready};
use crate::kea::Role;
use crate::lane::Lane;
use crate::world::{World, WorldOptions, scaled};

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "happy-path", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    w.start_operator(w.operator_config()).await?;
    let n = scaled(50);
    let ns = w.ns.clone();
    let (names, leases) = super::create_leased_ncs(&mut w, &ns, 1, "machine", n, 2).await?;
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;

    for nc in w.k8s.list_ncs(&ns).await? {
        let name = nc.name_any();
        anyhow::ensure!(is_ready(&nc), "{name} not Ready");
        anyhow::ensure!(
            condition(&nc, "ServersInSync").is_some_and(|c| c.status == "True"),
            "{name}: ServersInSync is not True"
        );
        anyhow::ensure!(nc.has_our_finalizer(), "{name} has no finalizer");
        anyhow::ensure!(
            nc.annotations().contains_key("kea.vitistack.io/reservations"),
            "{name} has no reservations annotation"
        );
        let status = nc
            .status
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{name}: no status"))?;
        anyhow::ensure!(
            status.phase.map(|p| p.as_str()) == Some("Ready"),
            "{name}: phase {:?}",
            status.phase
        );
        anyhow::ensure!(
            status.network_interfaces.len() == 2,
            "{name}: {:?}",
            status.network_interfaces
        );
        for iface in &status.network_interfaces {
            let mac = iface.mac_address.clone().unwrap_or_default();
            let want = leases.get(&mac).map(ToString::to_string);
            anyhow::ensure!(
                iface.state.map(|s| s.as_str()) == Some("Reserved") && iface.ipv4_address == want,
                "{name}/{}: {iface:?}, expected Reserved at {want:?}",
                iface.name
            );
            anyhow::ensure!(
                iface.servers.len() == 2 && iface.servers.iter().all(|s| s.reserved),
                "{name}/{}: per-server results {:?}",
                iface.name,
                iface.servers
            );
            anyhow::ensure!(
                iface.ipv4_addresses == want.iter().cloned().collect::<Vec<_>>()
                    && iface.dhcp_reserved == Some(true),
                "{name}/{}: platform fields {iface:?}",
                iface.name
            );
        }
    }
    // Exact reservations with owner markers on both servers.
    w.converge(super::REACT).await?;
    for role in Role::BOTH {
        let owned = w
            .kea
            .hosts(role)
            .await?
            .into_iter()
            .filter(|h| h.owned_by_instance(&w.oracle.instance))
            .count();
        anyhow::ensure!(owned == 2 * n, "{role}: {owned} owned hosts, expected {}", 2 * n);
    }

    // The gauge is refreshed once a second.
    w.operator()
        .wait_metric(
            "kea_operator_active_network_configurations",
            &[],
            Duration::from_secs(5),
            |v| v == n as f64,
        )
        .await?;
    let m = w.operator().metrics().await?;
    let adds = m.sum(
        "kea_operator_dhcp_reservations_total",
        &[("operation", "add"), ("status", "success")],
    );
    anyhow::ensure!(
        adds == (4 * n) as f64,
        "dhcp_reservations_total add/success = {adds}, expected {} (2 interfaces × {n} NCs × 2 servers)",
        4 * n
    );
    let errors = m.sum("kea_operator_reconciliation_errors_total", &[]);
    anyhow::ensure!(
        errors == 0.0,
        "reconciliation_errors_total = {errors} on a happy path"
    );

    // One ReservationCreated Event (or more) per NC.
    let events = w.k8s.events_for(&ns, None, "ReservationCreated").await?;
    let mut per_nc: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        if let Some(name) = e.regarding.as_ref().and_then(|r| r.name.clone()) {
            *per_nc.entry(name).or_default() += 1;
        }
    }
    let missing: Vec<&String> = names.iter().filter(|n| !per_nc.contains_key(*n)).collect();
    anyhow::ensure!(missing.is_empty(), "no ReservationCreated Event for {missing:?}");

    // kea-sim: each reservation written exactly once per server, no failed add.
    if lane.has_sim_faults() {
        let counts = super::add_counts(&w).await?;
        let bad: Vec<_> = counts.iter().filter(|(_, c)| **c != (1, 0)).collect();
        anyhow::ensure!(
            bad.is_empty(),
            "reservation-add not exactly once per server and MAC: {bad:?}"
        );
        anyhow::ensure!(
            counts.len() == 4 * n,
            "{} (server, MAC) pairs written, expected {}",
            counts.len(),
            4 * n
        );
    }
    w.finish().await
}
