//! Observability and leader election (SPEC §6) in process against the real API server and a kea-sim
//! pair: the metric names of SPEC §6 with the counts of the happy path, `/healthz`, `/readyz`
//! (ready after the watches synced, not ready while no Kea server is usable), and two operators on
//! one namespace of which only the Lease holder writes, the other taking over when it stops.

mod controller_support;

use std::time::Duration;

use controller_support::kea::{assert_reserved, count, summary};
use controller_support::objects::{is_converged, nc};
use controller_support::operator::metric_value;
use controller_support::wait::until;
use controller_support::{Operator, PREFIX_A, PRIMARY_SUBNET, SECONDARY_SUBNET, World};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::Api;

const MAC_1: &str = "02:00:00:00:06:01";
const MAC_2: &str = "02:00:00:00:06:02";

async fn wait_status(operator: &Operator, path: &str, want: u16) {
    until(
        &format!("{path} answering {want}"),
        Duration::from_secs(10),
        async || {
            let (status, body) = operator.get(path).await;
            (status == want)
                .then_some(())
                .ok_or_else(|| format!("{status} {body}"))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_endpoints() {
    let world = testenv::need!(World::start("metrics").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    world.acquire(MAC_1, PRIMARY_SUBNET);
    world.acquire(MAC_2, PRIMARY_SUBNET);
    let operator = world.operator(&[]).await;
    assert_eq!(operator.get("/healthz").await.0, 200);
    wait_status(&operator, "/readyz", 200).await;

    world
        .create_nc(
            nc(&world, "vm-1")
                .interface("eth0", MAC_1)
                .interface("eth1", MAC_2),
        )
        .await;
    world.wait_converged("vm-1").await;
    // The gauges are refreshed every second.
    until("the NC counted", Duration::from_secs(5), async || {
        let n = operator
            .metric("kea_operator_active_network_configurations")
            .await;
        (n == Some(1.0)).then_some(()).ok_or_else(|| format!("{n:?}"))
    })
    .await;

    let (_, text) = operator.get("/metrics").await;
    let expect = |series: &str, value: f64| {
        assert_eq!(metric_value(&text, series), Some(value), "{series} in\n{text}");
    };
    // SPEC §6's names, with the happy path's counts: one add per MAC and server, per server's subnet.
    expect(
        "kea_operator_dhcp_reservations_total{operation=\"add\",status=\"success\",subnet_id=\"1\"}",
        2.0,
    );
    expect(
        "kea_operator_dhcp_reservations_total{operation=\"add\",status=\"success\",subnet_id=\"11\"}",
        2.0,
    );
    for server in ["primary", "secondary"] {
        expect(
            &format!(
                "kea_operator_dhcp_operation_duration_seconds_count{{operation=\"reservation-add\",server=\"{server}\"}}"
            ),
            2.0,
        );
        expect(
            &format!("kea_operator_server_health{{server=\"{server}\",type=\"reachable\"}}"),
            1.0,
        );
    }
    expect("kea_operator_active_network_configurations", 1.0);
    expect("kea_operator_leader_status", 1.0);
    // Labelled counters appear with their first sample (prometheus-client renders no empty family).
    assert!(
        !text.contains("kea_operator_reconciliation_errors"),
        "no reconcile failed on the happy path: {text}"
    );
    for name in [
        "kea_operator_circuit_breaker_state",
        "kea_operator_kea_requests_in_flight",
        "kea_operator_reconcile_queue_depth",
        "kea_operator_reconcile_duration_seconds",
        "kea_operator_last_successful_sweep_timestamp_seconds",
        "kea_operator_sweeps",
        "kea_operator_orphans_removed",
        "kea_operator_kea_active_server",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
    }
    assert!(
        metric_value(
            &text,
            "kea_operator_reconcile_duration_seconds_count{result=\"success\"}"
        )
        .is_some_and(|n| n >= 1.0)
    );

    // No usable Kea server: not ready, still live; back: ready again.
    world.primary().set_down(true).await;
    world.secondary().set_down(true).await;
    wait_status(&operator, "/readyz", 503).await;
    let (_, why) = operator.get("/readyz").await;
    assert!(why.contains("Kea"), "{why}");
    assert_eq!(operator.get("/healthz").await.0, 200);
    world.primary().set_down(false).await;
    world.secondary().set_down(false).await;
    wait_status(&operator, "/readyz", 200).await;
}

async fn holder(world: &World) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &world.ns);
    let lease = leases.get_opt("kea-operator-test").await.expect("get Lease")?;
    lease.spec?.holder_identity.filter(|h| !h.is_empty())
}

/// The reporting instances of the Events about `name` whose note mentions `needle`.
async fn reporters(world: &World, name: &str, needle: &str) -> Vec<String> {
    let api: Api<Event> = Api::namespaced(world.client.clone(), &world.ns);
    let events = api.list(&Default::default()).await.expect("list Events");
    events
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter(|e| e.note.as_deref().is_some_and(|n| n.contains(needle)))
        .filter_map(|e| e.reporting_instance)
        .collect()
}

async fn adds(operator: &Operator) -> f64 {
    let (_, text) = operator.get("/metrics").await;
    text.lines()
        .filter(|l| l.starts_with("kea_operator_dhcp_reservations_total{operation=\"add\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_writes_and_the_other_takes_over() {
    let world = testenv::need!(World::start("leader").await);
    world.create_nn("net", Some(PREFIX_A)).await;
    let ip_1 = world.acquire(MAC_1, PRIMARY_SUBNET);
    let ip_2 = world.acquire(MAC_2, PRIMARY_SUBNET);
    // The NC exists before any operator: nothing may be written before someone leads.
    world.create_nc(nc(&world, "vm-1").interface("eth0", MAC_1)).await;
    let elect = [("--leader-elect", "true")];
    let a = world.operator(&elect).await;
    let b = world.operator(&elect).await;
    let nc = world.wait_converged("vm-1").await;

    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &world.ns);
    let lease = leases.get("kea-operator-test").await.expect("the Lease");
    let first = lease
        .spec
        .clone()
        .and_then(|s| s.holder_identity)
        .expect("a holder");
    let acquired = lease
        .spec
        .and_then(|s| s.acquire_time)
        .expect("acquireTime")
        .0
        .as_microsecond();
    for sim in [world.primary(), world.secondary()] {
        let writes: Vec<i64> = sim
            .received_commands()
            .iter()
            .filter(|c| c.command.as_deref() == Some("reservation-add"))
            .map(|c| c.unix_micros)
            .collect();
        assert_eq!(
            writes.len(),
            1,
            "{}: one writer, one add: {:?}",
            sim.name(),
            summary(sim)
        );
        assert!(
            writes[0] >= acquired,
            "{}: written before the Lease was taken",
            sim.name()
        );
    }

    // Exactly one of the two leads; it is the one that wrote, and the Lease and Events name it.
    let (leader, follower) = until("one leader", Duration::from_secs(5), async || {
        let la = a.metric("kea_operator_leader_status").await;
        let lb = b.metric("kea_operator_leader_status").await;
        match (la, lb) {
            (Some(1.0), Some(0.0)) => Ok((&a, &b)),
            (Some(0.0), Some(1.0)) => Ok((&b, &a)),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(adds(leader).await, 2.0, "the leader wrote both adds");
    assert_eq!(adds(follower).await, 0.0, "the follower wrote nothing");
    assert_eq!(
        follower.get("/readyz").await.0,
        200,
        "followers are ready (warm watches)"
    );
    let reported = reporters(&world, "vm-1", MAC_1).await;
    assert!(
        !reported.is_empty() && reported.iter().all(|r| *r == first),
        "Events come from the Lease holder {first}: {reported:?}"
    );
    for (sim, subnet) in [
        (world.primary(), PRIMARY_SUBNET),
        (world.secondary(), SECONDARY_SUBNET),
    ] {
        assert_reserved(sim, subnet, MAC_1, ip_1, &nc, "eth0");
    }

    // The leader stops (releasing the Lease): the other takes over within the lease duration (3 s).
    let follower_is_a = std::ptr::eq(follower, &a);
    let (leader, follower) = if follower_is_a { (b, a) } else { (a, b) };
    leader.stop().await.expect("graceful stop");
    let second = until("a new holder", Duration::from_secs(3), async || {
        match holder(&world).await {
            Some(h) if h != first => Ok(h),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    until("the follower leads", Duration::from_secs(3), async || {
        let l = follower.metric("kea_operator_leader_status").await;
        (l == Some(1.0)).then_some(()).ok_or_else(|| format!("{l:?}"))
    })
    .await;

    // The new leader writes.
    let adds_before = count(world.primary(), "reservation-add");
    world
        .edit_nc("vm-1", |nc| {
            nc.spec
                .network_interfaces
                .push(kea_operator::crd::NetworkInterface {
                    name: "eth1".into(),
                    mac_address: MAC_2.into(),
                })
        })
        .await;
    let nc = world
        .wait_nc("vm-1", "generation 2 converged", |nc| {
            (nc.metadata.generation == Some(2) && is_converged(nc))
                .then_some(())
                .ok_or_else(|| "not yet".into())
        })
        .await;
    for (sim, subnet) in [
        (world.primary(), PRIMARY_SUBNET),
        (world.secondary(), SECONDARY_SUBNET),
    ] {
        assert_reserved(sim, subnet, MAC_2, ip_2, &nc, "eth1");
        assert_reserved(sim, subnet, MAC_1, ip_1, &nc, "eth0");
    }
    assert_eq!(count(world.primary(), "reservation-add"), adds_before + 1);
    assert_eq!(
        adds(&follower).await,
        2.0,
        "the new leader wrote the new MAC on both servers"
    );
    let reported = reporters(&world, "vm-1", MAC_2).await;
    assert!(
        !reported.is_empty() && reported.iter().all(|r| *r == second),
        "Events come from the new holder {second}: {reported:?}"
    );
}
