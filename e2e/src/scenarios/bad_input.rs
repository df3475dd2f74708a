//! Scenario 12: Bad input: malformed and duplicate MACs, missing fields, an NC with 500 interfaces, a prefix
//! no Kea subnet holds, an IPv6 prefix, no or two NetworkNamespaces, another provider → a clear
//! status each, no Kea write for any of them, the valid interfaces still reserved, the operator
//! healthy throughout.

use std::time::Duration;

use serde_json::json;

use crate::k8s::{NcSpec, condition, current, is_ready};
use crate::kea::layout;
use crate::lane::Lane;
use crate::world::{World, WorldOptions, scaled};

/// A namespace with a broken network: its name, its NetworkNamespaces' prefixes, the reasons expected.
type Case = (
    &'static str,
    &'static [Option<&'static str>],
    &'static [&'static str],
);

async fn wait_reason(w: &World, ns: &str, name: &str, reasons: &[&str]) -> anyhow::Result<()> {
    let what = format!("Ready=False with reason in {reasons:?}");
    w.k8s
        .wait_nc(ns, name, &what, super::REACT, |nc| {
            current(nc)
                && condition(nc, "Ready")
                    .is_some_and(|c| c.status == "False" && reasons.contains(&c.reason.as_str()))
        })
        .await
        .map(|_| ())
}

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "bad-input", WorldOptions::default()).await?;
    super::default_network(&w).await?;
    w.start_operator(w.operator_config()).await?;
    let ns = w.ns.clone();

    // Malformed MACs beside a valid one, and the valid one declared twice.
    let good = super::mac(12, 1, 0);
    w.give_lease(&good, 1).await?;
    let typos = NcSpec::new("typos")
        .interface("eth0", &good.to_ascii_uppercase().replace(':', "-"))
        .interface("eth1", "AABBCCDDEEFF")
        .interface("eth2", "zz:zz:zz:zz:zz:zz")
        .interface("eth3", "aa:bb:cc:dd:ee")
        .interface("eth4", &good);
    w.k8s.create_nc(&ns, &typos).await?;
    wait_reason(&w, &ns, "typos", &["InvalidSpec"]).await?;
    w.converge(super::REACT).await?;
    let nc = w
        .k8s
        .get_nc(&ns, "typos")
        .await?
        .ok_or_else(|| anyhow::anyhow!("typos gone"))?;
    let states: Vec<(String, Option<&str>)> = nc
        .status
        .as_ref()
        .map(|s| {
            s.network_interfaces
                .iter()
                .map(|i| (i.name.clone(), i.state.map(|x| x.as_str())))
                .collect()
        })
        .unwrap_or_default();
    let state = |n: &str| states.iter().find(|(x, _)| x == n).and_then(|(_, s)| *s);
    anyhow::ensure!(
        state("eth0") == Some("Reserved"),
        "the valid interface must be reserved: {states:?}"
    );
    for bad in ["eth1", "eth2", "eth3", "eth4"] {
        anyhow::ensure!(
            state(bad) == Some("InvalidMac"),
            "{bad} must be InvalidMac: {states:?}"
        );
    }

    // Missing required fields: the CRD schema refuses them (the operator never sees them).
    for (what, object) in [
        (
            "clusterName",
            json!({"apiVersion": "vitistack.io/v1alpha1", "kind": "NetworkConfiguration",
            "metadata": {"name": "no-cluster"}, "spec": {"datacenterName": "d", "supervisorName": "s",
            "provider": "kea", "networkInterfaces": []}}),
        ),
        (
            "macAddress",
            json!({"apiVersion": "vitistack.io/v1alpha1", "kind": "NetworkConfiguration",
            "metadata": {"name": "no-mac"}, "spec": {"clusterName": "c", "datacenterName": "d",
            "supervisorName": "s", "provider": "kea", "networkInterfaces": [{"name": "eth0"}]}}),
        ),
    ] {
        match w.k8s.create_raw(&ns, object).await {
            Err(kube::Error::Api(e)) if e.code == 422 => {}
            other => anyhow::bail!("an NC without {what} must be refused with 422: {other:?}"),
        }
    }

    // 500 interfaces in one NC, every device with a lease.
    let count = scaled(500);
    let mut big = NcSpec::new("big");
    for i in 0..count {
        let m = super::mac(12, 1000 + i, 0);
        w.give_lease(&m, 1).await?;
        big = big.interface(&format!("nic{i}"), &m);
    }
    w.k8s.create_nc(&ns, &big).await?;
    let nc = w.k8s.wait_ready(&ns, "big", Duration::from_secs(120)).await?;
    let reserved = nc
        .status
        .as_ref()
        .map(|s| {
            s.network_interfaces
                .iter()
                .filter(|i| i.state.map(|x| x.as_str()) == Some("Reserved"))
                .count()
        })
        .unwrap_or(0);
    anyhow::ensure!(reserved == count, "{reserved} of {count} interfaces Reserved");

    // Namespaces with a broken network each.
    let leased = super::mac(12, 2, 0);
    w.give_lease(&leased, 1).await?;
    let cases: [Case; 4] = [
        ("no-subnet", &[Some("192.168.99.0/24")], &["SubnetNotFound"]),
        (
            "ipv6",
            &[Some("2001:db8::/64")],
            &["PrefixNotReady", "InvalidSpec", "SubnetNotFound"],
        ),
        ("no-nn", &[], &["NetworkNamespaceNotFound"]),
        (
            "two-nns",
            &[Some(layout::PREFIX_1), Some(layout::PREFIX_1)],
            &["AmbiguousNetworkNamespace"],
        ),
    ];
    for (case, nns, reasons) in cases {
        let case_ns = w.kube.namespace(case);
        for (i, prefix) in nns.iter().enumerate() {
            w.k8s.create_nn(&case_ns, &format!("net{i}"), *prefix).await?;
        }
        w.k8s
            .create_nc(&case_ns, &NcSpec::new(case).interface("eth0", &leased))
            .await?;
        wait_reason(&w, &case_ns, case, reasons).await?;
    }
    // Another provider: ignored (no finalizer, no status) while the rest is reconciled.
    w.k8s
        .create_nc(
            &ns,
            &NcSpec::new("not-ours")
                .provider("dhcpd")
                .interface("eth0", &leased),
        )
        .await?;
    let probe = NcSpec::new("after-not-ours").interface("eth0", &super::mac(12, 3, 0));
    w.give_lease(&super::mac(12, 3, 0), 1).await?;
    w.k8s.create_nc(&ns, &probe).await?;
    w.k8s
        .wait_nc(&ns, "after-not-ours", "Ready", super::REACT, is_ready)
        .await?;
    let other = w
        .k8s
        .get_nc(&ns, "not-ours")
        .await?
        .ok_or_else(|| anyhow::anyhow!("not-ours gone"))?;
    anyhow::ensure!(
        other.metadata.finalizers.as_ref().is_none_or(|f| f.is_empty()) && other.status.is_none(),
        "an NC of another provider must be left alone: {}",
        crate::k8s::describe(&other)
    );

    // Healthy throughout.
    let op = w.operator_mut();
    anyhow::ensure!(op.is_running().await, "the operator exited");
    anyhow::ensure!(
        op.healthz().await? == 200 && op.readyz().await? == 200,
        "not healthy and ready"
    );
    w.finish().await
}
