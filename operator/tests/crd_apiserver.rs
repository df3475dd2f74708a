//! Our CRDs against a real Kubernetes API server (testenv: etcd + apiextensions-apiserver): the
//! generated schema is structural and accepted, it enforces the required fields, and a status written
//! by read-modify-write keeps the fields others wrote. Needs the API server binaries
//! (`scripts/build-apiserver.sh`); skipped without them unless `REQUIRE_REAL_ENV=1`.

use kea_operator::core::status::render;
use kea_operator::crd::{NetworkConfiguration, NetworkNamespace, crd_yaml};
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use serde_json::json;
use testenv::MissingEnvironment;
use testenv::kube::KubeEnv;

async fn private_server() -> Option<KubeEnv> {
    match KubeEnv::start_private().await {
        Ok(env) => Some(env),
        Err(e) if e.is_missing_environment() => {
            testenv::skip_or_fail(&e);
            None
        }
        Err(e) => panic!("API server failed to start: {e}"),
    }
}

/// The builders' objects carry server-owned metadata; a create must not.
fn for_create(mut nc: NetworkConfiguration) -> NetworkConfiguration {
    nc.metadata.uid = None;
    nc.metadata.creation_timestamp = None;
    nc.metadata.generation = None;
    nc
}

#[tokio::test]
async fn the_api_server_accepts_our_crds_and_enforces_the_required_fields() {
    let Some(env) = private_server().await else { return };
    env.apply_crds_yaml(&crd_yaml())
        .await
        .expect("the generated CRDs are accepted (structural) and established");
    let client = env.client().await.expect("client");
    let ns = env.namespace("crd");
    let api: Api<NetworkConfiguration> = Api::namespaced(client.clone(), &ns);

    let nc = for_create(
        NetworkConfiguration::test()
            .named(&ns, "vm-1")
            .interface("eth0", "AA-BB-CC-DD-EE-01"),
    );
    let created = api
        .create(&PostParams::default(), &nc)
        .await
        .expect("a complete NC is accepted");
    assert_eq!(created.spec, nc.spec);
    assert_eq!(created.metadata.generation, Some(1));

    // clusterName is required by our schema even though the Rust type defaults it (platform objects).
    let mut missing = for_create(NetworkConfiguration::test().named(&ns, "vm-2"));
    missing.spec.cluster_name.clear();
    let err = api
        .create(&PostParams::default(), &missing)
        .await
        .expect_err("clusterName is required");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 422 && s.message.contains("clusterName")),
        "{err}"
    );

    // An interface without macAddress is refused too; an invalid MAC is not (the operator reports it).
    let dynamic: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &kube::discovery::ApiResource::erase::<NetworkConfiguration>(&()),
    );
    let mut raw: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "vitistack.io/v1alpha1", "kind": "NetworkConfiguration",
        "metadata": {"name": "vm-3", "namespace": ns},
        "spec": {"clusterName": "c", "datacenterName": "d", "supervisorName": "s", "provider": "kea",
                 "networkInterfaces": [{"name": "eth0"}]}
    }))
    .expect("object");
    let err = dynamic
        .create(&PostParams::default(), &raw)
        .await
        .expect_err("macAddress is required");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 422), "{err}");
    raw.data["spec"]["networkInterfaces"][0]["macAddress"] = json!("not-a-mac");
    raw.data["spec"]["vlan"] = json!("100");
    let stored = dynamic
        .create(&PostParams::default(), &raw)
        .await
        .expect("syntax is the operator's job");
    assert!(
        stored.data["spec"].get("vlan").is_none(),
        "unknown spec fields are pruned by our schema"
    );
}

#[tokio::test]
async fn status_read_modify_write_keeps_fields_others_wrote() {
    let Some(env) = private_server().await else { return };
    env.apply_crds_yaml(&crd_yaml()).await.expect("CRDs");
    let client = env.client().await.expect("client");
    let ns = env.namespace("status");
    let api: Api<NetworkConfiguration> = Api::namespaced(client, &ns);
    let nc = for_create(
        NetworkConfiguration::test()
            .named(&ns, "vm-1")
            .interface("eth0", "aa:bb:cc:dd:ee:01"),
    );
    let mut created = api.create(&PostParams::default(), &nc).await.expect("create");

    // Another writer put its own fields into status (top level and per interface).
    created.status = Some(
        serde_json::from_value(json!({
            "created": "2026-01-01T00:00:00Z",
            "networkInterfaces": [{"name": "eth0", "vlan": "100"}]
        }))
        .expect("status"),
    );
    let theirs = api
        .replace_status("vm-1", &PostParams::default(), &created)
        .await
        .expect("their status write");
    assert_eq!(
        theirs.status.as_ref().and_then(|s| s.extra.get("created")),
        Some(&json!("2026-01-01T00:00:00Z"))
    );

    // Our write: computed from (empty) results over what was read, sent with its resourceVersion.
    let plan = kea_operator::core::planner::plan(&kea_operator::core::planner::PlanInput {
        nc: kea_operator::core::planner::NcIdentity::from_nc(&theirs).expect("identity"),
        interfaces: theirs.spec.network_interfaces.clone(),
        prefix: Ok("10.100.1.0/24".parse().expect("prefix")),
        servers: vec![],
        active: None,
        leases: vec![],
        annotation: Default::default(),
        instance: "prod".into(),
        claims: vec![],
        legacy_finalizer: false,
        now: jiff::Timestamp::now(),
    });
    let update = render(
        &plan.into_applied([]),
        theirs.status.as_ref(),
        jiff::Timestamp::now(),
        &Default::default(),
    );
    assert!(update.changed);
    let mut ours = theirs.clone();
    ours.status = Some(update.status);
    let written = api
        .replace_status("vm-1", &PostParams::default(), &ours)
        .await
        .expect("our status write");
    let status = written.status.expect("status");
    assert_eq!(
        status.extra.get("created"),
        Some(&json!("2026-01-01T00:00:00Z")),
        "top-level field kept"
    );
    assert_eq!(
        status.network_interfaces[0].extra.get("vlan"),
        Some(&json!("100")),
        "interface field kept"
    );
    assert_eq!(status.ready_interfaces.as_deref(), Some("0/1"));
    assert_eq!(status.conditions.len(), 2);

    // A stale resourceVersion is refused: read-modify-write never overwrites a concurrent writer.
    let err = api
        .replace_status("vm-1", &PostParams::default(), &ours)
        .await
        .expect_err("stale");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err}");
}

#[tokio::test]
async fn network_namespaces_round_trip_through_our_crd() {
    let Some(env) = private_server().await else { return };
    env.apply_crds_yaml(&crd_yaml()).await.expect("CRDs");
    let client = env.client().await.expect("client");
    let ns = env.namespace("nn");
    let api: Api<NetworkNamespace> = Api::namespaced(client, &ns);
    let mut nn = NetworkNamespace::test().named(&ns, "net-a");
    nn.metadata.uid = None;
    let created = api.create(&PostParams::default(), &nn).await.expect("create");
    let mut with_prefix = created.clone();
    with_prefix.status = NetworkNamespace::test().prefix("10.100.1.0/24").status;
    let stored = api
        .replace_status("net-a", &PostParams::default(), &with_prefix)
        .await
        .expect("status");
    let resolved = kea_operator::core::namespace::resolve_prefix(&ns, None, [&stored]).expect("prefix");
    assert_eq!(resolved.prefix.to_string(), "10.100.1.0/24");
}
