//! Scenario 9: Conflicts: a foreign reservation on the wanted address, a foreign host with the same MAC, a
//! host marked by another installation, the same MAC in two NCs → `Conflict`, nothing foreign
//! changed; the younger NC takes the MAC over once the older one is deleted.

use std::net::Ipv4Addr;

use kube::ResourceExt as _;
use serde_json::json;

use crate::k8s::{condition, current, is_ready};
use crate::kea::{KeaHost, Role};
use crate::lane::Lane;
use crate::world::{World, WorldOptions};

async fn wait_conflict(w: &World, name: &str) -> anyhow::Result<()> {
    w.k8s
        .wait_nc(&w.ns, name, "Conflict", super::REACT, |nc| {
            current(nc)
                && condition(nc, "Ready").is_some_and(|c| c.status == "False" && c.reason == "Conflict")
                && nc.status.as_ref().is_some_and(|s| {
                    s.network_interfaces
                        .iter()
                        .any(|i| i.state.map(|s| s.as_str()) == Some("Conflict"))
                })
        })
        .await?;
    anyhow::ensure!(
        !w.k8s.events_for(&w.ns, Some(name), "Conflict").await?.is_empty(),
        "no Conflict Event for {name}"
    );
    Ok(())
}

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "conflicts", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    // SPEC §3: a Conflict is not retried on a timer but at the resync; short here, so the takeover
    // after the older NC's deletion is seen within a few seconds whichever path triggers it.
    w.start_operator(w.operator_config().set("RESYNC_INTERVAL_SECONDS", "5"))
        .await?;
    let ns = w.ns.clone();

    // (a) Someone reserved the device's leased address for another MAC.
    let a = super::mac(9, 1, 0);
    let ip_a = w.give_lease(&a, 1).await?;
    // (b) Someone reserved the device's MAC (another address).
    let b = super::mac(9, 2, 0);
    w.give_lease(&b, 1).await?;
    // (c) Another installation of the operator owns the MAC.
    let c = super::mac(9, 3, 0);
    let ip_c = w.give_lease(&c, 1).await?;
    for role in Role::BOTH {
        w.add_foreign_host(
            role,
            KeaHost {
                subnet_id: 1,
                hw_address: super::mac(9, 1, 9),
                ip: ip_a,
                user_context: None,
            },
        )
        .await?;
        w.add_foreign_host(
            role,
            KeaHost {
                subnet_id: 1,
                hw_address: b.clone(),
                ip: Ipv4Addr::new(10, 100, 9, 2),
                user_context: Some(json!({"comment": "reserved by hand"})),
            },
        )
        .await?;
        w.add_foreign_host(
            role,
            KeaHost {
                subnet_id: 1,
                hw_address: c.clone(),
                ip: ip_c,
                user_context: Some(
                    json!({"kea-operator": {"v": 1, "instance": "another-cluster", "owner": "x/y",
                "uid": "another-uid", "interface": "eth0"}}),
                ),
            },
        )
        .await?;
    }
    for (name, m) in [("addr-taken", &a), ("mac-taken", &b), ("other-instance", &c)] {
        w.k8s
            .create_nc(&ns, &super::nc(name, std::slice::from_ref(m)))
            .await?;
    }
    for name in ["addr-taken", "mac-taken", "other-instance"] {
        wait_conflict(&w, name).await?;
    }

    // (d) The same MAC in two NCs: the older one owns it.
    let d = super::mac(9, 4, 0);
    w.give_lease(&d, 1).await?;
    w.k8s
        .create_nc(&ns, &super::nc("older", std::slice::from_ref(&d)))
        .await?;
    let older = w.k8s.wait_ready(&ns, "older", super::REACT).await?;
    // creationTimestamp has a resolution of one second: make "younger" visibly younger.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    w.k8s
        .create_nc(&ns, &super::nc("younger", std::slice::from_ref(&d)))
        .await?;
    wait_conflict(&w, "younger").await?;
    w.converge(super::REACT).await?;
    let owner_uid = |h: &KeaHost| h.marker().and_then(|m| m["uid"].as_str().map(str::to_string));
    for role in Role::BOTH {
        let hosts = super::hosts_of(&w, role, &d).await?;
        anyhow::ensure!(
            hosts.len() == 1 && owner_uid(&hosts[0]) == older.uid(),
            "{role}: {d} should belong to the older NC: {hosts:?}"
        );
    }
    w.k8s.delete_nc(&ns, "older").await?;
    w.k8s.wait_gone(&ns, "older", super::REACT).await?;
    let younger = w
        .k8s
        .wait_nc(
            &ns,
            "younger",
            "Ready after the takeover",
            std::time::Duration::from_secs(20),
            is_ready,
        )
        .await?;
    w.converge(super::REACT).await?;
    for role in Role::BOTH {
        let hosts = super::hosts_of(&w, role, &d).await?;
        anyhow::ensure!(
            hosts.len() == 1 && owner_uid(&hosts[0]) == younger.uid(),
            "{role}: {d} should now belong to the younger NC: {hosts:?}"
        );
    }
    w.finish().await
}
