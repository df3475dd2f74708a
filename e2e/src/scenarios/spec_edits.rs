//! Scenario 3: Spec edits: a MAC removed → its reservation deleted on both servers (by the reconcile, not
//! the sweep: the sweep interval is longer than the wait); a MAC added → reserved; the
//! NetworkNamespace prefix changes → the reservations move to the new subnet.

use std::time::Duration;

use crate::k8s::is_ready;
use crate::kea::{Role, layout};
use crate::lane::Lane;
use crate::wait::until;
use crate::world::{World, WorldOptions};

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "spec-edits", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    w.start_operator(w.operator_config().set("RESYNC_INTERVAL_SECONDS", "300"))
        .await?;
    let ns = w.ns.clone();
    let (m1, m2, m3) = (super::mac(3, 1, 0), super::mac(3, 1, 1), super::mac(3, 1, 2));
    w.give_lease(&m1, 1).await?;
    w.give_lease(&m2, 1).await?;
    w.k8s
        .create_nc(&ns, &super::nc("edit", &[m1.clone(), m2.clone()]))
        .await?;
    w.k8s.wait_ready(&ns, "edit", super::REACT).await?;

    // Remove eth1.
    w.k8s.set_interfaces(&ns, "edit", &[("eth0", &m1)]).await?;
    until(
        "the removed MAC's reservation to be gone from both servers",
        Duration::from_secs(10),
        async || {
            for role in Role::BOTH {
                let left = super::hosts_of(&w, role, &m2).await?;
                if !left.is_empty() {
                    return Ok(Err(format!("{role}: {left:?}")));
                }
            }
            Ok(Ok(()))
        },
    )
    .await?;
    w.k8s.wait_ready(&ns, "edit", super::REACT).await?;
    anyhow::ensure!(
        !w.k8s
            .events_for(&ns, Some("edit"), "ReservationDeleted")
            .await?
            .is_empty(),
        "no ReservationDeleted Event"
    );

    // Add eth2 (its device already has a lease).
    w.give_lease(&m3, 1).await?;
    w.k8s
        .set_interfaces(&ns, "edit", &[("eth0", &m1), ("eth2", &m3)])
        .await?;
    w.converge(super::REACT).await?;
    w.k8s.wait_ready(&ns, "edit", super::REACT).await?;

    // Move the network to subnet 2: the devices renew into the new prefix, the reservations follow.
    let new1 = w.give_lease(&m1, 2).await?;
    let new3 = w.give_lease(&m3, 2).await?;
    w.k8s.set_nn_prefix(&ns, "net", layout::PREFIX_2).await?;
    w.converge(super::REACT).await?;
    for role in Role::BOTH {
        for (m, ip) in [(&m1, new1), (&m3, new3)] {
            let hosts = super::hosts_of(&w, role, m).await?;
            anyhow::ensure!(
                hosts.len() == 1 && hosts[0].subnet_id == 2 && hosts[0].ip == ip,
                "{role}: {m} should be reserved only in subnet 2 at {ip}: {hosts:?}"
            );
        }
    }
    let nc = w
        .k8s
        .wait_nc(&ns, "edit", "Ready in the new prefix", super::REACT, |nc| {
            is_ready(nc)
                && nc.status.as_ref().is_some_and(|s| {
                    s.network_interfaces.iter().all(|i| {
                        i.ipv4_address
                            .as_deref()
                            .is_some_and(|a| a.starts_with("10.101."))
                    })
                })
        })
        .await?;
    anyhow::ensure!(nc.status.is_some(), "status");
    w.finish().await
}
