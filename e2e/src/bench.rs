//! The convergence benchmark of SPEC §9 (`just bench-converge`, `src/bin/converge.rs`): N NCs × 2
//! leased interfaces against a kea-sim pair and a real API server, the operator binary started once
//! they all exist. Reported: wall time to all Ready, Kea commands per interface (without the health
//! probes), the operator's peak RSS, the cost of one steady-state sweep per 100 reservations, and
//! the **lower bound** the wall time is compared with: the same minimal work done directly by the
//! harness (one lease lookup and one add per interface per server, and the finalizer, annotation
//! and status writes per NC) at the operator's concurrency, on a fresh world.
//!
//! Numbers, not pass/fail: targets live in SPEC §9 and docs/operations.md, which quote a run.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use kea_operator::crd::NetworkConfiguration;
use kea_sim::ReceivedCommand;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use serde::Serialize;
use serde_json::json;
use testenv::kea::KeaClient;

use crate::kea::{Role, layout};
use crate::lane::Lane;
use crate::scenarios;
use crate::world::{World, WorldOptions};

/// The commands the operator's health checker sends: not work, and counted apart.
pub const PROBE_COMMANDS: [&str; 2] = ["status-get", "list-commands"];

/// One run's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub ncs: usize,
    pub interfaces: usize,
    /// `MAX_CONCURRENT_RECONCILES` (the chart's default is 16), also the lower bound's concurrency.
    pub concurrency: usize,
    /// `RESYNC_INTERVAL_SECONDS` during the run; the sweep measured is the first after convergence.
    pub resync_seconds: u64,
    /// Extra environment for the operator (an experiment: `MALLOC_ARENA_MAX=2`, `RUST_LOG=debug`).
    pub operator_env: Vec<(String, String)>,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settings: Settings,
    /// Leases given and NCs created (before the operator starts).
    pub setup_seconds: f64,
    /// Operator start to every NC Ready.
    pub converge_seconds: f64,
    /// Kea commands during convergence per interface, both servers together, probes excluded.
    pub commands_per_interface: f64,
    /// The same per server.
    pub commands_per_interface_per_server: f64,
    /// Convergence commands by name (both servers), probes included.
    pub commands: BTreeMap<String, u64>,
    /// The operator's peak resident set (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// Its resident set after the sweep (VmRSS), MiB: what it keeps, against what it peaked at.
    pub rss_after_mib: f64,
    /// Commands of one steady-state sweep per 100 reservations per server (probes excluded).
    pub sweep_commands_per_100: f64,
    pub sweep_seconds: f64,
    /// The minimal work done directly by the harness, seconds.
    pub lower_bound_seconds: f64,
}

impl Report {
    /// Convergence wall time over the lower bound.
    pub fn ratio(&self) -> f64 {
        if self.lower_bound_seconds > 0.0 {
            self.converge_seconds / self.lower_bound_seconds
        } else {
            f64::INFINITY
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "convergence: {} NCs × {} interfaces, concurrency {}, kea-sim pair, private API server",
            s.ncs, s.interfaces, s.concurrency
        )?;
        writeln!(f, "  setup (leases, NCs)         {:>10.1} s", self.setup_seconds)?;
        writeln!(
            f,
            "  all Ready after             {:>10.1} s",
            self.converge_seconds
        )?;
        writeln!(
            f,
            "  lower bound (same work)     {:>10.1} s   (ratio {:.2})",
            self.lower_bound_seconds,
            self.ratio()
        )?;
        writeln!(
            f,
            "  Kea commands / interface    {:>10.2}     ({:.2} per server; target ≤ 3)",
            self.commands_per_interface, self.commands_per_interface_per_server
        )?;
        writeln!(
            f,
            "  operator peak RSS           {:>10.1} MiB (target < 64; {:.1} MiB after the sweep)",
            self.peak_rss_mib, self.rss_after_mib
        )?;
        writeln!(
            f,
            "  sweep: commands / 100 res.  {:>10.2}     per server, {:.1} s (target ≤ 1)",
            self.sweep_commands_per_100, self.sweep_seconds
        )?;
        let by: Vec<String> = self.commands.iter().map(|(c, n)| format!("{c} {n}")).collect();
        write!(f, "  commands: {}", by.join(", "))
    }
}

/// Counts commands by name (an unparsable request counts as `?`).
pub fn count_commands<'a>(log: impl IntoIterator<Item = &'a ReceivedCommand>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for c in log {
        *out.entry(c.command.clone().unwrap_or_else(|| "?".into()))
            .or_insert(0) += 1;
    }
    out
}

/// The commands that are work (everything but the health probes).
pub fn work(counts: &BTreeMap<String, u64>) -> u64 {
    counts
        .iter()
        .filter(|(c, _)| !PROBE_COMMANDS.contains(&c.as_str()))
        .map(|(_, n)| n)
        .sum()
}

/// `VmHWM` of `/proc/<pid>/status` in MiB.
pub fn peak_rss_mib(status: &str) -> Option<f64> {
    status_mib(status, "VmHWM:")
}

/// A `kB` line of `/proc/<pid>/status` in MiB.
fn status_mib(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs the benchmark in the local lane (kea-sim pair process, operator binary).
pub async fn run(settings: Settings) -> anyhow::Result<Report> {
    let converged = converge(settings.clone()).await?;
    let lower_bound_seconds = lower_bound(&settings).await?;
    Ok(Report {
        lower_bound_seconds,
        ..converged
    })
}

/// Leases, an NN with subnet 3's prefix and N NCs, concurrently created; returns the names and
/// each NC's MACs.
async fn populate(w: &mut World, settings: &Settings) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let ns = w.ns.clone();
    w.k8s.create_nn(&ns, "net", Some(layout::PREFIX_3)).await?;
    let mut ncs = Vec::with_capacity(settings.ncs);
    for i in 0..settings.ncs {
        let macs: Vec<String> = (0..settings.interfaces)
            .map(|j| scenarios::mac(0xbe, i, j))
            .collect();
        for m in &macs {
            w.give_lease(m, 3).await?;
        }
        ncs.push((format!("nc-{i}"), macs));
    }
    let specs: Vec<_> = ncs.iter().map(|(name, macs)| scenarios::nc(name, macs)).collect();
    futures::stream::iter(specs.iter().map(|s| w.k8s.create_nc(&ns, s)))
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(ncs)
}

async fn converge(settings: Settings) -> anyhow::Result<Report> {
    let mut w = World::start(Lane::Local, "bench-converge", WorldOptions::default()).await?;
    let setup = Instant::now();
    populate(&mut w, &settings).await?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    let sim = w
        .kea
        .sim()
        .ok_or_else(|| anyhow::anyhow!("the local lane runs kea-sim"))?
        .clone();
    let mut marks = BTreeMap::new();
    for role in Role::BOTH {
        marks.insert(role, sim.log_mark(role).await?);
    }
    let ready = tokio::spawn(all_ready(
        Api::namespaced(w.k8s.client().clone(), &w.ns),
        settings.ncs,
    ));
    let mut config = w
        .operator_config()
        .set("MAX_CONCURRENT_RECONCILES", settings.concurrency.to_string())
        .set("RESYNC_INTERVAL_SECONDS", settings.resync_seconds.to_string())
        // The chart's defaults: the probes are not what is measured.
        .set("KEA_HEALTH_INTERVAL_SECONDS", "30")
        .set("RUST_LOG", "info");
    for (k, v) in &settings.operator_env {
        config = config.set(k, v.clone());
    }
    let start = Instant::now();
    w.start_operator(config).await?;
    ready.await??;
    let converge_seconds = start.elapsed().as_secs_f64();
    let mut commands = BTreeMap::new();
    let mut per_server = Vec::new();
    for role in Role::BOTH {
        let log = sim.log(role, marks[&role]).await?;
        let counts = count_commands(&log);
        per_server.push(work(&counts));
        for (c, n) in counts {
            *commands.entry(c).or_insert(0) += n;
        }
    }
    let interfaces = (settings.ncs * settings.interfaces) as f64;
    let total: u64 = per_server.iter().sum();
    let pid = w
        .operator()
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the operator is a process here"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let (sweep_commands_per_100, sweep_seconds) = sweep_cost(&w, &settings).await?;
    // Peak after the sweep too: it pages through every reservation.
    let status_after = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or(status);
    let peak_rss_mib = peak_rss_mib(&status_after).unwrap_or(f64::NAN);
    let rss_after_mib = status_mib(&status_after, "VmRSS:").unwrap_or(f64::NAN);
    w.converge(Duration::from_secs(600)).await?;
    w.finish().await?;
    Ok(Report {
        settings,
        setup_seconds,
        converge_seconds,
        commands_per_interface: total as f64 / interfaces,
        commands_per_interface_per_server: total as f64 / interfaces / 2.0,
        commands,
        peak_rss_mib,
        rss_after_mib,
        sweep_commands_per_100,
        sweep_seconds,
        lower_bound_seconds: 0.0,
    })
}

/// Waits until `n` NCs of the namespace are Ready, from a watch (no polling of thousands of objects).
async fn all_ready(api: Api<NetworkConfiguration>, n: usize) -> anyhow::Result<()> {
    let mut ready: BTreeMap<String, bool> = BTreeMap::new();
    let stream = watcher(api, watcher::Config::default()).applied_objects();
    futures::pin_mut!(stream);
    while let Some(nc) = stream.try_next().await? {
        ready.insert(kube::ResourceExt::name_any(&nc), crate::k8s::is_ready(&nc));
        if ready.len() >= n && ready.values().all(|r| *r) {
            return Ok(());
        }
    }
    anyhow::bail!("the watch ended before every NC was Ready")
}

/// Commands of the first sweep of both servers after convergence, per 100 reservations per server.
async fn sweep_cost(w: &World, settings: &Settings) -> anyhow::Result<(f64, f64)> {
    let sim = w.kea.sim().ok_or_else(|| anyhow::anyhow!("kea-sim"))?;
    let sweeps = |m: &crate::operator::Metrics| m.sum("kea_operator_sweeps_total", &[("result", "success")]);
    let before = sweeps(&w.operator().metrics().await?);
    let mut marks = BTreeMap::new();
    for role in Role::BOTH {
        marks.insert(role, sim.log_mark(role).await?);
    }
    let start = Instant::now();
    let timeout = Duration::from_secs(settings.resync_seconds * 2 + 120);
    crate::wait::eventually("one sweep of each server", timeout, async || {
        let now = sweeps(&w.operator().metrics().await?);
        Ok(if now >= before + 2.0 {
            crate::wait::Probe::Done(())
        } else {
            crate::wait::Probe::NotYet(format!("{now} sweeps (before: {before})"))
        })
    })
    .await?;
    let seconds = start.elapsed().as_secs_f64();
    let mut total = 0;
    for role in Role::BOTH {
        total += work(&count_commands(&sim.log(role, marks[&role]).await?));
    }
    let reservations = (settings.ncs * settings.interfaces) as f64;
    Ok((total as f64 / 2.0 / reservations * 100.0, seconds))
}

/// The minimal work, done directly at the operator's concurrency on a fresh world: per interface a
/// lease lookup on the primary and an add on both servers; per NC a finalizer, an annotation and a
/// status write.
async fn lower_bound(settings: &Settings) -> anyhow::Result<f64> {
    let mut w = World::start(Lane::Local, "bench-lower-bound", WorldOptions::default()).await?;
    let ncs = populate(&mut w, settings).await?;
    let (primary, secondary) = w.kea.operator_urls();
    let kea = [
        KeaClient::new(&primary, None, None, false)?,
        KeaClient::new(&secondary, None, None, false)?,
    ];
    let api: Api<NetworkConfiguration> = Api::namespaced(w.k8s.client().clone(), &w.ns);
    let start = Instant::now();
    let one = async |(name, macs): &(String, Vec<String>)| -> anyhow::Result<()> {
        let params = PatchParams::default();
        let finalizer = json!({"metadata": {"finalizers": ["vitistack.io/kea-reservations"]}});
        api.patch(name, &params, &Patch::Merge(finalizer)).await?;
        let mut interfaces = Vec::new();
        for mac in macs {
            let lease = kea[0]
                .command0("lease4-get-by-hw-address", Some(json!({"hw-address": mac})))
                .await?;
            let ip = lease["arguments"]["leases"][0]["ip-address"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no lease for {mac}: {lease}"))?
                .to_string();
            for server in &kea {
                let host = json!({"reservation": {"subnet-id": 3, "hw-address": mac, "ip-address": ip,
                    "user-context": {"kea-operator": {"v": 1, "instance": "bench", "nc": name}}}});
                server.command0("reservation-add", Some(host)).await?;
            }
            interfaces.push(json!({"name": mac, "ipAddress": ip, "phase": "Reserved"}));
        }
        let annotation =
            json!({"metadata": {"annotations": {"vitistack.io/kea-reservations": macs.join(",")}}});
        api.patch(name, &params, &Patch::Merge(annotation)).await?;
        let status = json!({"status": {"phase": "Ready", "interfaces": interfaces, "conditions": [
            {"type": "Ready", "status": "True", "reason": "Reserved", "message": "",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        api.patch_status(name, &params, &Patch::Merge(status)).await?;
        Ok(())
    };
    futures::stream::iter(ncs.iter().map(one))
        .buffer_unordered(settings.concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let seconds = start.elapsed().as_secs_f64();
    // Not an operator world: its reservations are nobody's desired state, so no invariants.
    w.dismiss();
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str) -> ReceivedCommand {
        serde_json::from_value(
            json!({"seq": 1, "server": "primary", "time": "", "unix_micros": 0,
            "command": name, "http_status": 200, "result": 0}),
        )
        .expect("command")
    }

    #[test]
    fn probes_are_counted_apart_from_work() {
        let log = [
            cmd("status-get"),
            cmd("reservation-add"),
            cmd("reservation-add"),
            cmd("list-commands"),
        ];
        let counts = count_commands(&log);
        assert_eq!(counts.get("reservation-add"), Some(&2));
        assert_eq!(work(&counts), 2);
    }

    #[test]
    fn the_peak_rss_is_read_in_mib_from_vmhwm() {
        let status = "Name:\tkea-operator\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t 30000 kB\n";
        assert_eq!(peak_rss_mib(status), Some(40.0));
        assert_eq!(peak_rss_mib("Name: x\n"), None);
        assert_eq!(status_mib(status, "VmRSS:"), Some(30000.0 / 1024.0));
    }
}
