//! The scenarios (issue 6), each `pub async fn run(lane) -> anyhow::Result<()>`, written once for
//! every lane. A scenario that needs a fault only kea-sim has (latency, 5xx, resets, garbage, the
//! request log) checks [`crate::lane::Lane::has_sim_faults`] and uses process-level faults
//! (SIGSTOP, kill, restart) on real Kea instead; each says so where it branches.

pub mod auth;
pub mod bad_input;
pub mod cleanup;
pub mod conflicts;
pub mod crash_consistency;
pub mod failover;
pub mod flaky;
pub mod happy_path;
pub mod harness;
pub mod kea_restart;
pub mod leader_election;
pub mod lease_later;
pub mod rbac;
pub mod spec_edits;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use kea_sim::ReceivedCommand;

use crate::k8s::NcSpec;
use crate::kea::{KeaHost, Role, layout};
use crate::world::World;

/// How long a batch of NCs may take to become Ready on this 2-core machine.
pub const BATCH_READY: Duration = Duration::from_secs(90);
/// How long one NC may take to react to a change (a requeue of 1 s plus a reconcile).
pub const REACT: Duration = Duration::from_secs(15);

/// A MAC for device `i`, interface `j`, unique per scenario `tag` (locally administered).
pub fn mac(tag: u8, i: usize, j: usize) -> String {
    format!(
        "0a:{tag:02x}:{:02x}:{:02x}:{:02x}:{j:02x}",
        (i >> 16) & 0xff,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

/// An NC `name` with interfaces `eth0..` for `macs`.
pub fn nc(name: &str, macs: &[String]) -> NcSpec {
    macs.iter()
        .enumerate()
        .fold(NcSpec::new(name), |s, (j, m)| s.interface(&format!("eth{j}"), m))
}

/// Creates `count` NCs `<prefix>-<i>` with `ifaces` interfaces each, every MAC leased in subnet 1
/// first; returns the names and each MAC's address.
pub async fn create_leased_ncs(
    w: &mut World,
    ns: &str,
    tag: u8,
    prefix: &str,
    count: usize,
    ifaces: usize,
) -> anyhow::Result<(Vec<String>, BTreeMap<String, Ipv4Addr>)> {
    let mut specs = Vec::new();
    let mut leases = BTreeMap::new();
    for i in 0..count {
        let macs: Vec<String> = (0..ifaces).map(|j| mac(tag, i, j)).collect();
        for m in &macs {
            leases.insert(m.clone(), w.give_lease(m, 1).await?);
        }
        specs.push(nc(&format!("{prefix}-{i}"), &macs));
    }
    let names = create_all(w, ns, &specs).await?;
    Ok((names, leases))
}

/// Creates the NCs concurrently (as a platform creating machines does); returns their names.
pub async fn create_all(w: &World, ns: &str, specs: &[NcSpec]) -> anyhow::Result<Vec<String>> {
    futures::stream::iter(specs.iter().map(|s| w.k8s.create_nc(ns, s)))
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(specs.iter().map(|s| s.name.clone()).collect())
}

/// The hosts for `mac` on `role` (normally zero or one).
pub async fn hosts_of(w: &World, role: Role, mac: &str) -> anyhow::Result<Vec<KeaHost>> {
    Ok(w.kea
        .hosts(role)
        .await?
        .into_iter()
        .filter(|h| h.hw_address == mac)
        .collect())
}

/// Requests on `role` whose arguments mention `mac` (kea-sim lanes), from sequence `since`.
pub async fn requests_for(
    w: &World,
    role: Role,
    mac: &str,
    since: u64,
) -> anyhow::Result<Vec<ReceivedCommand>> {
    let Some(sim) = w.kea.sim() else {
        anyhow::bail!("the request log is a kea-sim feature")
    };
    Ok(sim
        .log(role, since)
        .await?
        .into_iter()
        .filter(|r| r.arguments.as_ref().is_some_and(|a| a.to_string().contains(mac)))
        .collect())
}

/// Successful and failed `reservation-add` requests per (server, MAC) (kea-sim lanes).
pub async fn add_counts(w: &World) -> anyhow::Result<BTreeMap<(Role, String), (usize, usize)>> {
    let Some(sim) = w.kea.sim() else {
        anyhow::bail!("the request log is a kea-sim feature")
    };
    let mut out: BTreeMap<(Role, String), (usize, usize)> = BTreeMap::new();
    for role in Role::BOTH {
        for r in sim.log(role, 0).await? {
            if r.command.as_deref() != Some("reservation-add") {
                continue;
            }
            let mac = r
                .arguments
                .as_ref()
                .and_then(|a| a["reservation"]["hw-address"].as_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let entry = out.entry((role, mac)).or_default();
            if r.result == Some(0) {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    Ok(out)
}

/// A network namespace `net` with subnet 1's prefix in the world's namespace.
pub async fn default_network(w: &World) -> anyhow::Result<()> {
    w.k8s.create_nn(&w.ns, "net", Some(layout::PREFIX_1)).await
}
