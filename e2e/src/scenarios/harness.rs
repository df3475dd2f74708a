//! The harness itself, per lane, without relying on the operator's behaviour: the world starts;
//! leases, hosts and foreign hosts round-trip through the lane's Kea; down, hung and restart do what
//! the scenarios assume; the invariant checker sees a missing reservation; an operator process is
//! started, its log captured, killed and started again.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::k8s::NcSpec;
use crate::kea::{KeaHost, Role, layout};
use crate::lane::Lane;
use crate::world::{World, WorldOptions};

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "harness", WorldOptions::default()).await?;
    // The configured reservation is there, recorded as foreign.
    for role in Role::BOTH {
        let hosts = w.kea.hosts(role).await?;
        anyhow::ensure!(
            hosts
                .iter()
                .any(|h| h.hw_address == layout::CONFIG_HOST_MAC && h.ip == layout::CONFIG_HOST_IP),
            "{role}: the configured reservation is missing: {hosts:?}"
        );
    }
    let m = super::mac(0xfe, 1, 0);
    let ip = w.give_lease(&m, 1).await?;
    anyhow::ensure!(
        layout::subnet_of(ip).map(|s| s.id) == Some(1),
        "lease {ip} outside subnet 1"
    );
    let ip2 = w.give_lease(&super::mac(0xfe, 2, 0), 1).await?;
    anyhow::ensure!(ip2 != ip, "two devices got the same address {ip}");

    let foreign = KeaHost {
        subnet_id: 1,
        hw_address: super::mac(0xfe, 9, 9),
        ip: Ipv4Addr::new(10, 100, 9, 9),
        user_context: Some(serde_json::json!({"owner": "someone else"})),
    };
    w.add_foreign_host(Role::Secondary, foreign.clone()).await?;
    let on_secondary = w.kea.hosts(Role::Secondary).await?;
    anyhow::ensure!(
        on_secondary.contains(&foreign),
        "foreign host not read back: {on_secondary:?}"
    );
    anyhow::ensure!(
        !w.kea.hosts(Role::Primary).await?.contains(&foreign),
        "a reservation added on one server must not appear on the other (Kea HA does not replicate them)"
    );

    // The checker sees what no operator did: an NC whose MAC holds a lease, not reserved.
    super::default_network(&w).await?;
    w.k8s
        .create_nc(&w.ns, &NcSpec::new("unserved").interface("eth0", &m))
        .await?;
    let violations = crate::invariants::check(&w.oracle, &w.observe().await?);
    anyhow::ensure!(
        violations
            .iter()
            .filter(|v| v.contains("missing reservation") && v.contains(&m))
            .count()
            == 2,
        "the checker must report the reservation missing on both servers: {violations:?}"
    );
    w.k8s.delete_nc(&w.ns, "unserved").await?;

    // Faults: down refuses, up answers again (memory lost: the API-added host is gone, the
    // configured one is back), hung does not answer, restart wipes memory.
    // (A paused container freezes the admin API the harness reads with: not in the containers lane.)
    if lane != Lane::Containers {
        w.kea.set_hung(Role::Secondary, true).await?;
        // kea-sim's admin API answers while its Kea socket hangs; real Kea does not answer at all.
        if lane == Lane::RealKea {
            anyhow::ensure!(!answers(&w).await, "a SIGSTOPped Kea answered");
        }
        w.kea.set_hung(Role::Secondary, false).await?;
        anyhow::ensure!(answers(&w).await, "Kea does not answer after the hang ended");
    }
    w.kea.restart(Role::Secondary).await?;
    let after = w.kea.hosts(Role::Secondary).await?;
    anyhow::ensure!(
        !after.contains(&foreign),
        "a restart must lose memory-only reservations: {after:?}"
    );
    anyhow::ensure!(
        after.iter().any(|h| h.hw_address == layout::CONFIG_HOST_MAC),
        "a restart keeps the configured reservation"
    );
    w.oracle.foreign.insert(Role::Secondary, after);
    w.kea.set_down(Role::Primary, true).await?;
    w.kea.set_down(Role::Primary, false).await?;
    anyhow::ensure!(
        !w.kea.hosts(Role::Primary).await?.is_empty(),
        "the primary is back with its config"
    );

    // An operator process: started, logged, killed, started again.
    let idx = w.start_operator_unready(w.operator_config()).await?;
    let op = &mut w.operators[idx];
    let json_lines =
        |op: &crate::operator::Operator| op.logs().lines().filter(|l| l.starts_with('{')).count();
    crate::wait::until("the operator to log", Duration::from_secs(10), async || {
        Ok(if json_lines(op) > 0 {
            Ok(())
        } else {
            Err(op.logs())
        })
    })
    .await?;
    op.kill().await?;
    anyhow::ensure!(!op.is_running().await, "killed operator still runs");
    let first_run = json_lines(op);
    op.start_again().await?;
    crate::wait::until("the second run to log too", Duration::from_secs(10), async || {
        Ok(if json_lines(op) > first_run {
            Ok(())
        } else {
            Err(op.logs())
        })
    })
    .await?;
    op.stop().await?;
    // The world is consistent: no operator ever wrote, nothing is desired but the removed NC.
    w.operators.clear();
    w.finish().await
}

/// Whether the secondary answers a listing within a second.
async fn answers(w: &World) -> bool {
    tokio::time::timeout(Duration::from_secs(1), w.kea.hosts(Role::Secondary))
        .await
        .is_ok_and(|r| r.is_ok())
}
