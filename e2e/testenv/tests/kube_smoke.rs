//! The real API server serves custom resources with real machinery, through a kube 5 client.

use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{CustomResource, CustomResourceExt as _, ResourceExt as _};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use testenv::kube::KubeEnv;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "testenv.example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    size: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, Default, PartialEq)]
struct WidgetStatus {
    ready: bool,
}

const FINALIZER: &str = "testenv.example.com/cleanup";

#[tokio::test]
async fn custom_resource_create_watch_status_finalizer_delete() {
    let env = testenv::need!(KubeEnv::shared().await);
    env.apply_crds(&[Widget::crd()]).await.unwrap();
    env.apply_crds(&[Widget::crd()])
        .await
        .expect("applying again is idempotent");
    let client = env.client().await.unwrap();
    let ns = env.namespace("smoke");
    let api: Api<Widget> = Api::namespaced(client.clone(), &ns);

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch_api = api.clone();
    let watch = tokio::spawn(async move {
        let mut stream = watcher::watcher(watch_api, watcher::Config::default()).boxed();
        while let Some(Ok(event)) = stream.next().await {
            let seen = match event {
                WatchEvent::Apply(w) | WatchEvent::InitApply(w) => {
                    format!("apply:{}:{:?}", w.name_any(), w.status.map(|s| s.ready))
                }
                WatchEvent::Delete(w) => format!("delete:{}", w.name_any()),
                _ => continue,
            };
            if tx.send(seen).is_err() {
                break;
            }
        }
    });
    let mut widget = Widget::new("w1", WidgetSpec { size: 3 });
    widget.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    let created = api.create(&PostParams::default(), &widget).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    let status = json!({"status": {"ready": true}});
    api.patch_status("w1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(
        api.get("w1").await.unwrap().status,
        Some(WidgetStatus { ready: true })
    );

    api.delete("w1", &DeleteParams::default()).await.unwrap();
    let deleting = api.get("w1").await.expect("finalizer keeps the object");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    let remove = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER},
                        {"op": "remove", "path": "/metadata/finalizers/0"}]);
    let patch: json_patch::Patch = serde_json::from_value(remove).unwrap();
    api.patch("w1", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .unwrap();
    let gone = api.get_opt("w1").await.unwrap();
    assert!(gone.is_none(), "deleted once the finalizer is removed");

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|s: &String| s == "delete:w1") {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(s)) => seen.push(s),
            _ => panic!("watch did not see the deletion; saw {seen:?}"),
        }
    }
    watch.abort();
    assert!(
        seen.contains(&"apply:w1:Some(true)".to_string()),
        "watch saw the status change: {seen:?}"
    );

    let audit = env.audit_events_in(&ns).unwrap();
    let has = |verb: &str, sub: Option<&str>| {
        audit.iter().any(|e| {
            e.verb == verb
                && e.resource == "widgets"
                && e.subresource.as_deref() == sub
                && e.user == "testenv-admin"
        })
    };
    assert!(has("create", None), "{audit:?}");
    assert!(has("patch", Some("status")), "{audit:?}");
    assert!(has("delete", None), "{audit:?}");
    assert!(audit.iter().all(|e| e.group == "testenv.example.com"));
}

#[tokio::test]
async fn lease_and_event_standins_serve_the_builtin_types() {
    let env = testenv::need!(KubeEnv::shared().await);
    let client = env.client().await.unwrap();
    let ns = env.namespace("standins");
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let lease = Lease {
        metadata: kube::api::ObjectMeta {
            name: Some("leader".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("a".into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    };
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    // Optimistic concurrency: a replace with a stale resourceVersion is refused.
    let mut first = created.clone();
    first.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace("leader", &PostParams::default(), &first)
        .await
        .unwrap();
    let err = leases
        .replace("leader", &PostParams::default(), &created)
        .await
        .expect_err("stale");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 409), "{err:?}");
    // Strategic merge is refused on custom resources (why the operator has its own elector).
    let strategic = leases
        .patch(
            "leader",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {}})),
        )
        .await;
    assert!(
        matches!(strategic, Err(kube::Error::Api(ref s)) if s.code == 415),
        "{strategic:?}"
    );

    let events: Api<Event> = Api::namespaced(client, &ns);
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "e1"}, "eventTime": "2026-01-01T00:00:00.000000Z", "reason": "Testing",
        "note": "hello", "type": "Normal", "reportingController": "testenv", "reportingInstance": "x", "action": "Test"
    }))
    .unwrap();
    events.create(&PostParams::default(), &event).await.unwrap();
    assert_eq!(events.get("e1").await.unwrap().note.as_deref(), Some("hello"));
}

#[tokio::test]
async fn private_server_is_separate_and_names_extra_addresses() {
    let extra: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let private = testenv::need!(KubeEnv::builder().extra_ips(&[extra]).start_private().await);
    private.apply_crds(&[Widget::crd()]).await.unwrap();
    let ns = private.namespace("private");
    let api: Api<Widget> = Api::namespaced(private.client().await.unwrap(), &ns);
    api.create(
        &PostParams::default(),
        &Widget::new("only-here", WidgetSpec { size: 1 }),
    )
    .await
    .unwrap();
    assert_eq!(api.list(&Default::default()).await.unwrap().items.len(), 1);
    let kubeconfig = std::fs::read_to_string(private.kubeconfig_path()).unwrap();
    assert!(kubeconfig.contains(private.url()));
    // Reachable at the extra address too (the serving certificate names it).
    let ca = private.ca_pem().unwrap();
    let tls = testenv::certs::rustls_client_config(&ca, None).unwrap();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let port = private.url().rsplit(':').next().unwrap();
    // Any HTTP answer means the TLS handshake (and its SAN check) succeeded for the extra address;
    // an address the certificate does not name is refused by the client.
    http.get(format!("https://{extra}:{port}/version"))
        .send()
        .await
        .expect("TLS to the extra IP");
    let unnamed = http.get(format!("https://127.0.0.3:{port}/version")).send().await;
    assert!(
        unnamed.is_err(),
        "127.0.0.3 is not in the certificate: {unnamed:?}"
    );
    assert_eq!(
        private
            .audit_events()
            .unwrap()
            .iter()
            .filter(|e| e.resource == "widgets" && e.verb == "create")
            .count(),
        1
    );
}

#[tokio::test]
async fn the_under_test_kubeconfig_is_a_separate_identity_in_the_audit_log() {
    let private = testenv::need!(KubeEnv::start_private().await);
    private.apply_crds(&[Widget::crd()]).await.unwrap();
    let ns = private.namespace("under-test");
    let kubeconfig = kube::config::Kubeconfig::read_from(private.under_test_kubeconfig_path()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let under_test = kube::Client::try_from(config).unwrap();
    Api::<Widget>::namespaced(under_test, &ns)
        .create(
            &PostParams::default(),
            &Widget::new("by-subject", WidgetSpec { size: 2 }),
        )
        .await
        .unwrap();
    Api::<Widget>::namespaced(private.client().await.unwrap(), &ns)
        .get("by-subject")
        .await
        .unwrap();
    let users: Vec<(String, String)> = private
        .audit_events_in(&ns)
        .unwrap()
        .into_iter()
        .filter(|e| e.resource == "widgets")
        .map(|e| (e.verb, e.user))
        .collect();
    assert!(
        users.contains(&("create".into(), testenv::kube::UNDER_TEST_USER.into())),
        "{users:?}"
    );
    assert!(
        users.contains(&("get".into(), "testenv-admin".into())),
        "{users:?}"
    );
    assert!(
        !users.contains(&("create".into(), "testenv-admin".into())),
        "{users:?}"
    );
}

#[test]
fn namespaces_are_unique_and_valid_labels() {
    // Pure: needs no server files to exist.
    let names: std::collections::HashSet<String> = (0..50)
        .map(|_| {
            let n = fake_env_namespace(
                "A very long Prefix_with spaces and more characters than allowed in labels",
            );
            assert!(n.len() <= 63, "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
            assert!(!n.starts_with('-') && !n.ends_with('-'));
            n
        })
        .collect();
    assert_eq!(names.len(), 50);
}

fn fake_env_namespace(prefix: &str) -> String {
    testenv::kube::namespace_name(prefix)
}
