//! Scenario 2: Lease arrives later: an interface whose MAC has no lease waits (`WaitingForLease`, nothing
//! written to Kea); once the device obtains a lease, it is reserved at that address.

use crate::k8s::{condition, current};
use crate::kea::Role;
use crate::lane::Lane;
use crate::world::{World, WorldOptions};

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "lease-later", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    w.start_operator(w.operator_config()).await?;
    let ns = w.ns.clone();
    let m = super::mac(2, 1, 0);
    w.k8s
        .create_nc(&ns, &super::nc("late", std::slice::from_ref(&m)))
        .await?;
    w.k8s
        .wait_nc(&ns, "late", "WaitingForLease", super::REACT, |nc| {
            current(nc)
                && condition(nc, "Ready")
                    .is_some_and(|c| c.status == "False" && c.reason == "WaitingForLease")
                && nc.status.as_ref().is_some_and(|s| {
                    s.network_interfaces
                        .iter()
                        .any(|i| i.state.map(|s| s.as_str()) == Some("WaitingForLease"))
                })
        })
        .await?;
    for role in Role::BOTH {
        let hosts = super::hosts_of(&w, role, &m).await?;
        anyhow::ensure!(
            hosts.is_empty(),
            "{role}: written while waiting for a lease: {hosts:?}"
        );
        if lane.has_sim_faults() {
            let writes: Vec<_> = super::requests_for(&w, role, &m, 0)
                .await?
                .into_iter()
                .filter(|r| {
                    r.command
                        .as_deref()
                        .is_some_and(|c| c.starts_with("reservation-add"))
                })
                .collect();
            anyhow::ensure!(
                writes.is_empty(),
                "{role}: reservation-add while waiting: {writes:?}"
            );
        }
    }
    let ip = w.give_lease(&m, 1).await?;
    let nc = w.k8s.wait_ready(&ns, "late", super::REACT).await?;
    let iface = nc
        .status
        .as_ref()
        .and_then(|s| s.network_interfaces.first())
        .ok_or_else(|| anyhow::anyhow!("no interface status"))?;
    anyhow::ensure!(
        iface.ipv4_address == Some(ip.to_string()),
        "reserved {:?}, leased {ip}",
        iface.ipv4_address
    );
    w.finish().await
}
