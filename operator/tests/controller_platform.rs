//! SPEC §1 "living beside the vitistack platform's own CRDs": the operator against a private API
//! server whose NetworkConfiguration and NetworkNamespace CRDs are written from the platform's schema
//! (other required fields, interface structs of the platform, no unknown fields kept). It reserves,
//! writes status in the platform's names, keeps the fields others wrote, and — since the schema
//! prunes everything else it writes to status — a restarted operator knows what it reserved from
//! the annotation and the Kea markers alone.

mod controller_support;

use std::time::Duration;

use controller_support::kea::{assert_reserved, host, show, summary, writes};
use controller_support::objects::{annotation, condition, describe, has_finalizer, reservations};
use controller_support::platform::platform_crds;
use controller_support::wait::holds;
use controller_support::{PREFIX_A, PRIMARY_SUBNET, SECONDARY_SUBNET, World, pair_builder};
use kea_operator::core::ServerId::{Primary, Secondary};
use kea_operator::crd::{NetworkConfiguration, NetworkNamespace};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testenv::kube::KubeEnv;

const MAC_1: &str = "02:00:00:00:05:01";
const MAC_2: &str = "02:00:00:00:05:02";

fn dynamic<K: kube::Resource<DynamicType = ()>>(world: &World) -> Api<DynamicObject> {
    Api::namespaced_with(world.client.clone(), &world.ns, &ApiResource::erase::<K>(&()))
}

/// The NC as stored (pruned by the platform's schema), as JSON.
async fn raw_nc(world: &World) -> Value {
    let obj = dynamic::<NetworkConfiguration>(world)
        .get("vm-1")
        .await
        .expect("get NC");
    serde_json::to_value(obj).expect("JSON")
}

fn status_interface<'a>(raw: &'a Value, name: &str) -> &'a Value {
    raw["status"]["networkInterfaces"]
        .as_array()
        .and_then(|list| list.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("no status entry {name}: {}", raw["status"]))
}

/// Ready and ServersInSync True for the current generation (read from the conditions: the
/// platform's schema has no `status.observedGeneration`).
fn converged(nc: &NetworkConfiguration) -> Result<(), String> {
    let generation = nc.metadata.generation;
    for type_ in ["Ready", "ServersInSync"] {
        let c = condition(nc, type_).ok_or_else(|| format!("no {type_}"))?;
        if c.status != "True" || c.observed_generation != generation {
            return Err(format!("{type_}: {} {}", c.status, c.reason));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_works_on_the_platforms_crds() {
    let env = testenv::need!(KubeEnv::start_private().await);
    env.apply_crds(&platform_crds()).await.expect("platform CRDs");
    let world = World::on(env, "platform", pair_builder()).await.expect("world");

    // The platform's NetworkNamespace (its own required spec), with its prefix.
    let nn: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "vitistack.io/v1alpha1", "kind": "NetworkNamespace",
        "metadata": {"name": "net", "namespace": world.ns},
        "spec": {"clusterIdentifier": "cluster-a", "datacenterIdentifier": "dc1", "environment": "test",
                 "provider": "vitistack", "supervisorIdentifier": "sup1"}
    }))
    .unwrap();
    dynamic::<NetworkNamespace>(&world)
        .create(&PostParams::default(), &nn)
        .await
        .expect("create the platform's NN");
    world.set_prefix("net", Some(PREFIX_A)).await;

    let ip_1 = world.acquire(MAC_1, PRIMARY_SUBNET);
    let ip_2 = world.acquire(MAC_2, PRIMARY_SUBNET);
    let nc: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "vitistack.io/v1alpha1", "kind": "NetworkConfiguration",
        "metadata": {"name": "vm-1", "namespace": world.ns},
        "spec": {"name": "vm-1", "provider": "kea", "networkNamespaceName": "net",
                 "datacenterIdentifier": "dc1",
                 "networkInterfaces": [
                     {"name": "eth0", "macAddress": MAC_1, "vlan": "100"},
                     {"name": "eth1", "macAddress": MAC_2.to_uppercase().replace(':', "-")}]}
    }))
    .unwrap();
    let api = dynamic::<NetworkConfiguration>(&world);
    api.create(&PostParams::default(), &nc)
        .await
        .expect("create the platform's NC");
    // The platform writes its own status fields first.
    let theirs = json!({"status": {
        "status": "provisioning", "created": "2026-01-01T00:00:00Z",
        "networkInterfaces": [{"name": "eth0", "vlan": "100", "dns": ["10.0.0.53"]}]
    }});
    api.patch_status("vm-1", &PatchParams::default(), &Patch::Merge(&theirs))
        .await
        .expect("the platform's status");

    let operator = world.operator(&[]).await;
    let typed = world.wait_nc("vm-1", "Ready and in sync", converged).await;
    for (sim, subnet) in [
        (world.primary(), PRIMARY_SUBNET),
        (world.secondary(), SECONDARY_SUBNET),
    ] {
        assert_reserved(sim, subnet, MAC_1, ip_1, &typed, "eth0");
        assert_reserved(sim, subnet, MAC_2, ip_2, &typed, "eth1");
    }
    assert!(has_finalizer(&typed));
    assert_eq!(
        annotation(&typed),
        reservations(&[
            (Primary, PRIMARY_SUBNET, MAC_1, ip_1),
            (Primary, PRIMARY_SUBNET, MAC_2, ip_2),
            (Secondary, SECONDARY_SUBNET, MAC_1, ip_1),
            (Secondary, SECONDARY_SUBNET, MAC_2, ip_2),
        ]),
        "no schema prunes the annotation"
    );

    // Status in the platform's names; the platform's own fields survive the operator's writes.
    let raw = raw_nc(&world).await;
    assert_eq!(raw["status"]["phase"], "Ready");
    assert_eq!(raw["status"]["status"], "provisioning", "{}", raw["status"]);
    assert_eq!(raw["status"]["created"], "2026-01-01T00:00:00Z");
    let eth0 = status_interface(&raw, "eth0");
    assert_eq!(eth0["vlan"], "100", "{eth0}");
    assert_eq!(eth0["dns"], json!(["10.0.0.53"]), "{eth0}");
    assert_eq!(eth0["ipv4Addresses"], json!([ip_1.to_string()]));
    assert_eq!(eth0["ipv4Subnet"], PREFIX_A);
    assert_eq!(eth0["dhcpReserved"], true);
    assert_eq!(eth0["macAddress"], MAC_1);
    assert!(
        eth0.get("state").is_none(),
        "the platform's schema prunes our own fields: {eth0}"
    );
    let eth1 = status_interface(&raw, "eth1");
    assert_eq!(eth1["ipv4Addresses"], json!([ip_2.to_string()]));
    assert_eq!(eth1["macAddress"], MAC_2, "normalized");

    // Converged on a pruning schema is still quiet: the operator does not rewrite in a loop.
    let version = typed.metadata.resource_version.clone();
    holds("no status write loop", Duration::from_secs(2), async || {
        let now = world.get_nc("vm-1").await.ok_or("gone")?;
        (now.metadata.resource_version == version)
            .then_some(())
            .ok_or_else(|| describe(&now))
    })
    .await;

    // A restarted operator knows what it reserved without any status of its own: eth1 is removed
    // from the spec while no operator runs; the next one deletes exactly its hosts.
    operator.stop().await.expect("graceful stop");
    let writes_before = (writes(world.primary()).len(), writes(world.secondary()).len());
    // (A merge patch of the raw object: the typed one would drop the platform's fields.)
    let patch =
        json!({"spec": {"networkInterfaces": [{"name": "eth0", "macAddress": MAC_1, "vlan": "100"}]}});
    api.patch("vm-1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("drop eth1");
    let _operator = world.operator(&[]).await;
    let typed = world
        .wait_nc("vm-1", "generation 2 converged", |nc| {
            converged(nc)?;
            (nc.metadata.generation == Some(2))
                .then_some(())
                .ok_or("old generation".into())
        })
        .await;
    for (sim, subnet, before) in [
        (world.primary(), PRIMARY_SUBNET, writes_before.0),
        (world.secondary(), SECONDARY_SUBNET, writes_before.1),
    ] {
        assert!(
            host(sim, subnet, MAC_2).is_none(),
            "{}: {:?}",
            sim.name(),
            summary(sim)
        );
        assert_reserved(sim, subnet, MAC_1, ip_1, &typed, "eth0");
        let after: Vec<_> = writes(sim).into_iter().skip(before).collect();
        let expected = after.len() == 1
            && after[0].command.as_deref() == Some("reservation-del")
            && after[0]
                .arguments
                .as_ref()
                .is_some_and(|a| a.to_string().contains(MAC_2));
        assert!(
            expected,
            "{}: exactly one delete, for {MAC_2}: {:?}",
            sim.name(),
            show(&after)
        );
    }
    assert_eq!(
        annotation(&typed),
        reservations(&[
            (Primary, PRIMARY_SUBNET, MAC_1, ip_1),
            (Secondary, SECONDARY_SUBNET, MAC_1, ip_1)
        ])
    );
}
