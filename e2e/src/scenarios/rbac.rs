//! Scenario 13: RBAC: every request the operator made (the API server's audit log, user
//! `testenv-under-test`) is granted by the chart's rules, and no rule goes unused except those
//! justified in [`crate::rbac::JUSTIFIED_UNUSED`]. Its own workload exercises every path (two
//! replicas electing a leader and handing over, NCs reconciled, edited, re-queued by a
//! NetworkNamespace change, deleted, a repeated conflict Event); the accesses every other scenario of
//! the run recorded are added, so the lane's verdict covers the whole run.

use std::collections::BTreeSet;

use crate::kea::{KeaHost, Role};
use crate::lane::Lane;
use crate::rbac::{self, Access};
use crate::world::{World, WorldOptions, run_dir};

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "rbac", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    let config = w.operator_config();
    w.start_operator(config.clone()).await?;
    w.start_operator(config).await?;
    let ns = w.ns.clone();
    let (names, _) = super::create_leased_ncs(&mut w, &ns, 13, "vm", 4, 2).await?;
    w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
    // A conflict, re-queued by a NetworkNamespace change so its Event repeats (a patch).
    let m = super::mac(13, 99, 0);
    let ip = w.give_lease(&m, 1).await?;
    for role in Role::BOTH {
        w.add_foreign_host(
            role,
            KeaHost {
                subnet_id: 1,
                hw_address: super::mac(13, 99, 9),
                ip,
                user_context: None,
            },
        )
        .await?;
    }
    w.k8s
        .create_nc(&ns, &super::nc("conflict", std::slice::from_ref(&m)))
        .await?;
    w.k8s
        .wait_nc(&ns, "conflict", "Conflict", super::REACT, |nc| {
            crate::k8s::condition(nc, "Ready").is_some_and(|c| c.reason == "Conflict")
        })
        .await?;
    w.k8s.set_nn_prefix(&ns, "net", "10.100.0.0/17").await?;
    w.k8s
        .set_interfaces(&ns, &names[0], &[("eth0", &super::mac(13, 0, 0))])
        .await?;
    w.k8s.delete_nc(&ns, &names[1]).await?;
    w.k8s.wait_gone(&ns, &names[1], super::REACT).await?;
    w.converge(super::REACT).await?;
    // Hand the Lease over (release on SIGTERM, take over).
    for op in &mut w.operators {
        if op.is_leader().await? {
            op.stop().await?;
            break;
        }
    }

    let own = w.operator_accesses()?;
    w.finish().await?;

    let rules = rbac::chart_rules()?;
    let mut used: BTreeSet<Access> = own.into_iter().collect();
    let recorded = rbac::recorded(&run_dir(lane).join("audit"));
    let others = recorded.len();
    used.extend(recorded);
    let mut kinds: Vec<String> = used
        .iter()
        .map(|a| format!("{} {}/{}", a.verb, a.group, a.resource))
        .collect();
    kinds.sort();
    kinds.dedup();
    eprintln!(
        "rbac: the operator used ({} accesses from other scenarios of this run):\n  {}",
        others,
        kinds.join("\n  ")
    );
    let ungranted = rbac::ungranted(&rules, &used);
    anyhow::ensure!(ungranted.is_empty(), "not granted by the chart: {ungranted:?}");
    let unused = rbac::unused(&rules, &used);
    for (resource, verb, why) in &unused {
        match why {
            Some(why) => eprintln!("rbac: unused, justified: {verb} {resource}: {why}"),
            None => eprintln!("rbac: UNUSED: {verb} {resource}"),
        }
    }
    let unjustified: Vec<String> = unused
        .iter()
        .filter(|(_, _, why)| why.is_none())
        .map(|(r, v, _)| format!("{v} {r}"))
        .collect();
    anyhow::ensure!(
        unjustified.is_empty(),
        "chart RBAC rules no request used (remove them from charts/kea-operator/templates/rbac.yaml or justify \
         them in e2e/src/rbac.rs): {unjustified:?}"
    );
    Ok(())
}
