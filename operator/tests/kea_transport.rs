//! The Kea client against wiremock: request shapes (pinned with insta), answer parsing of every
//! typed operation, and every malformed or failing HTTP answer a server or proxy can produce.

mod kea_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use kea_operator::core::{Host, Mac, SubnetId};
use kea_operator::kea::{
    ConflictKind, Deletion, KeaError, OperationTarget, PageCursor, ServerId, SubnetSource, Transport,
};
use kea_support::{Command, all_commands, answer, bodies, client, client_with, config, ok};
use serde_json::json;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn mac() -> Mac {
    Mac::parse("AA-BB-CC-DD-EE-01").expect("MAC")
}

fn host() -> Host {
    Host {
        subnet_id: SubnetId(1),
        hw_address: mac(),
        ip_address: Ipv4Addr::new(10, 100, 1, 50),
        hostname: Some("node-1".into()),
        user_context: Some(
            json!({"kea-operator": {"v": 1, "instance": "prod", "owner": "ns/nc", "uid": "u-1", "interface": "eth0"}}),
        ),
        source: None,
    }
}

/// Every typed operation sends exactly these bodies (POST, JSON content type, service dhcp4).
#[tokio::test]
async fn request_bodies_are_pinned() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/json"))
        .respond_with(answer(3, "nothing", None))
        .mount(&server)
        .await;
    let kea = client(&server.uri());
    let cursor = PageCursor {
        from: 42,
        source_index: 1,
    };
    // Results are irrelevant here (result 3 everywhere); the requests are the subject.
    let _ = kea.list_commands().await;
    let _ = kea.version_get().await;
    let _ = kea.status_get().await;
    let _ = kea.config_get_summary().await;
    let _ = kea.leases_by_hw_address(mac()).await;
    let _ = kea
        .reservation_get(SubnetId(1), mac(), OperationTarget::Memory)
        .await;
    let _ = kea
        .reservation_get(SubnetId(1), mac(), OperationTarget::Default)
        .await;
    let _ = kea
        .reservation_get_by_address(
            SubnetId(1),
            Ipv4Addr::new(10, 100, 1, 50),
            OperationTarget::Database,
        )
        .await;
    let _ = kea.reservation_add(&host(), OperationTarget::Database).await;
    let _ = kea.reservation_update(&host(), OperationTarget::All).await;
    let _ = kea
        .reservation_del(SubnetId(1), mac(), OperationTarget::Memory)
        .await;
    let _ = kea.reservation_get_page(SubnetId(1), 500, None).await;
    let _ = kea.reservation_get_page(SubnetId(1), 500, Some(cursor)).await;
    let _ = kea.config_write().await;
    let _ = kea.subnets().await;
    insta::assert_json_snapshot!("request_bodies", bodies(&server).await);
}

#[tokio::test]
async fn typed_operations_parse_kea_answers() {
    let server = MockServer::start().await;
    let host_json = json!({"boot-file-name": "", "client-classes": [], "hostname": "", "hw-address": "aa:bb:cc:dd:ee:01",
        "ip-address": "10.100.1.50", "next-server": "0.0.0.0", "option-data": [], "server-hostname": "", "subnet-id": 1,
        "user-context": {"kea-operator": {"v": 1}}});
    for (command, response) in [
        ("list-commands", ok(all_commands())),
        (
            "version-get",
            answer(0, "3.0.4", Some(json!({"extended": "3.0.4 (tarball)"}))),
        ),
        (
            "status-get",
            ok(json!({"pid": 32168, "uptime": 13, "reload": 1,
            "dhcp-state": {"disabled-by-db-connection": [], "globally-disabled": false}})),
        ),
        (
            "lease4-get-by-hw-address",
            ok(
                json!({"leases": [{"cltt": 1795606180, "fqdn-fwd": false, "fqdn-rev": false,
            "hostname": "", "hw-address": "aa:bb:cc:dd:ee:01", "ip-address": "10.100.1.60", "state": 0, "subnet-id": 1,
            "valid-lft": 7200}]}),
            ),
        ),
        (
            "reservation-get",
            answer(0, "Host found.", Some(host_json.clone())),
        ),
        (
            "reservation-get-by-address",
            ok(json!({"hosts": [host_json.clone()]})),
        ),
        ("reservation-add", answer(0, "Host added.", None)),
        ("reservation-del", answer(0, "Host deleted.", None)),
        (
            "reservation-get-page",
            ok(json!({"count": 1, "hosts": [host_json], "next": {"from": 1, "source-index": 0}})),
        ),
        (
            "config-write",
            ok(json!({"filename": "/etc/kea/kea-dhcp4.conf", "size": 5529})),
        ),
        (
            "subnet4-list",
            ok(
                json!({"subnets": [{"id": 1, "shared-network-name": null, "subnet": "10.100.0.0/16"},
            {"id": 7, "shared-network-name": "sn1", "subnet": "10.7.0.0/24"}]}),
            ),
        ),
    ] {
        Mock::given(Command(command))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    let kea = client(&server.uri());
    let commands = kea.list_commands().await.unwrap();
    assert!(commands.missing_hooks().is_empty());
    assert_eq!(kea.version_get().await.unwrap().version, "3.0.4");
    let status = kea.status_get().await.unwrap();
    assert_eq!(
        (status.pid, status.uptime, status.reload, status.database_lost),
        (Some(32168), Some(13), Some(1), false)
    );
    let leases = kea.leases_by_hw_address(mac()).await.unwrap();
    assert_eq!(leases[0].ip_address, Ipv4Addr::new(10, 100, 1, 60));
    assert!(leases[0].is_current(1795606180 + 10));
    let got = kea
        .reservation_get(SubnetId(1), mac(), OperationTarget::Memory)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.ip_address, Ipv4Addr::new(10, 100, 1, 50));
    assert_eq!(got.user_context, Some(json!({"kea-operator": {"v": 1}})));
    let by_address = kea
        .reservation_get_by_address(
            SubnetId(1),
            Ipv4Addr::new(10, 100, 1, 50),
            OperationTarget::Default,
        )
        .await
        .unwrap();
    assert_eq!(by_address.len(), 1);
    kea.reservation_add(&host(), OperationTarget::Memory)
        .await
        .unwrap();
    assert_eq!(
        kea.reservation_del(SubnetId(1), mac(), OperationTarget::Memory)
            .await
            .unwrap(),
        Deletion::Deleted
    );
    let page = kea.reservation_get_page(SubnetId(1), 100, None).await.unwrap();
    assert_eq!(
        page.next,
        Some(PageCursor {
            from: 1,
            source_index: 0
        })
    );
    assert_eq!(page.hosts[0].source, Some(kea_operator::core::HostSource::Memory));
    kea.config_write().await.unwrap();
    let subnets = kea.subnets().await.unwrap();
    assert_eq!(subnets.source, SubnetSource::SubnetCmds);
    assert_eq!(subnets.subnets[1].shared_network.as_deref(), Some("sn1"));
}

#[tokio::test]
async fn not_found_is_none_or_empty_and_a_missed_delete_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(Command("reservation-get"))
        .respond_with(answer(3, "Host not found.", None))
        .mount(&server)
        .await;
    Mock::given(Command("reservation-del"))
        .respond_with(answer(3, "Host not deleted (not found).", None))
        .mount(&server)
        .await;
    Mock::given(Command("lease4-get-by-hw-address"))
        .respond_with(answer(3, "0 IPv4 lease(s) found.", Some(json!({"leases": []}))))
        .mount(&server)
        .await;
    Mock::given(Command("reservation-get-page"))
        .respond_with(answer(
            3,
            "0 IPv4 host(s) found.",
            Some(json!({"count": 0, "hosts": []})),
        ))
        .mount(&server)
        .await;
    let kea = client(&server.uri());
    assert_eq!(
        kea.reservation_get(SubnetId(1), mac(), OperationTarget::Memory)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        kea.reservation_del(SubnetId(1), mac(), OperationTarget::Memory)
            .await
            .unwrap(),
        Deletion::NotFound
    );
    assert!(kea.leases_by_hw_address(mac()).await.unwrap().is_empty());
    let page = kea
        .reservation_get_page(
            SubnetId(1),
            10,
            Some(PageCursor {
                from: 2,
                source_index: 0,
            }),
        )
        .await
        .unwrap();
    assert!(page.hosts.is_empty() && page.next.is_none());
}

#[tokio::test]
async fn subnets_fall_back_to_config_get_when_subnet_cmds_is_missing() {
    let server = MockServer::start().await;
    Mock::given(Command("subnet4-list"))
        .respond_with(answer(2, "'subnet4-list' command not supported.", None))
        .mount(&server)
        .await;
    Mock::given(Command("config-get"))
        .respond_with(ok(json!({"Dhcp4": {
            "subnet4": [{"id": 1, "subnet": "10.100.0.0/16", "pools": []}],
            "shared-networks": [{"name": "sn1", "subnet4": [{"id": 7, "subnet": "10.7.0.0/24"}]}],
            "hosts-databases": [{"type": "postgresql", "password": "keapass"}]}})))
        .mount(&server)
        .await;
    let kea = client(&server.uri());
    let list = kea.subnets().await.unwrap();
    assert_eq!(list.source, SubnetSource::ConfigGet);
    assert_eq!(
        list.subnets.iter().map(|s| s.id.0).collect::<Vec<_>>(),
        vec![1, 7]
    );
    let summary = kea.config_get_summary().await.unwrap();
    assert!(summary.has_hosts_database);
    assert!(!format!("{summary:?}").contains("keapass"));
}

#[tokio::test]
async fn kea_errors_are_classified_with_their_requeue_class() {
    let server = MockServer::start().await;
    Mock::given(Command("reservation-add"))
        .respond_with(answer(
            1,
            "Unable to add. There's already a reservation for this address",
            None,
        ))
        .mount(&server)
        .await;
    Mock::given(Command("reservation-update"))
        .respond_with(answer(1, "Host database not available, cannot add host.", None))
        .mount(&server)
        .await;
    Mock::given(Command("reservation-del"))
        .respond_with(answer(1, "IPv4 subnet with ID of '9' is not configured", None))
        .mount(&server)
        .await;
    Mock::given(Command("reservation-get"))
        .respond_with(answer(2, "'reservation-get' command not supported.", None))
        .mount(&server)
        .await;
    let kea = client(&server.uri());
    let e = kea
        .reservation_add(&host(), OperationTarget::Memory)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            KeaError::Conflict {
                kind: ConflictKind::AddressReserved,
                ..
            }
        ),
        "{e:?}"
    );
    let e = kea
        .reservation_update(&host(), OperationTarget::Memory)
        .await
        .unwrap_err();
    assert_eq!(e.category(), "database_unavailable");
    assert!(e.is_retryable() && e.is_server_failure());
    let e = kea
        .reservation_del(SubnetId(9), mac(), OperationTarget::Memory)
        .await
        .unwrap_err();
    assert_eq!(e.category(), "kea_error");
    assert_eq!(e.requeue_class(), kea_operator::kea::RequeueClass::Resource);
    let e = kea
        .reservation_get(SubnetId(1), mac(), OperationTarget::Memory)
        .await
        .unwrap_err();
    assert_eq!(e.category(), "unsupported");
}

/// Whatever comes back, the client returns a typed error and never panics.
#[tokio::test]
async fn malformed_and_failed_http_answers() {
    let cases: Vec<(ResponseTemplate, &str, &str)> = vec![
        (
            ResponseTemplate::new(502).set_body_raw("<html>Bad Gateway</html>", "text/html"),
            "server_error",
            "HTTP 502",
        ),
        (ResponseTemplate::new(503), "server_error", "HTTP 503"),
        (ResponseTemplate::new(500), "server_error", "HTTP 500"),
        (ResponseTemplate::new(429), "server_error", "HTTP 429"),
        (
            ResponseTemplate::new(401)
                .set_body_raw(r#"{ "result": 401, "text": "Unauthorized" }"#, "application/json"),
            "auth",
            "401",
        ),
        (ResponseTemplate::new(403), "permission", "403"),
        (
            ResponseTemplate::new(404).set_body_raw("<html>Not Found</html>", "text/html"),
            "protocol",
            "HTTP status 404",
        ),
        (
            ResponseTemplate::new(400)
                .set_body_raw(r#"{ "result": 400, "text": "Bad Request" }"#, "application/json"),
            "protocol",
            "HTTP 400: Bad Request",
        ),
        (
            ResponseTemplate::new(200).set_body_raw("<html><body>login</body></html>", "text/html"),
            "protocol",
            "HTML",
        ),
        (
            ResponseTemplate::new(200).set_body_raw("[]", "application/json"),
            "protocol",
            "empty answer array",
        ),
        (
            ResponseTemplate::new(200).set_body_raw(r#"[ { "result": 0, "argu"#, "application/json"),
            "protocol",
            "truncated",
        ),
        (
            ResponseTemplate::new(200).set_body_raw(r#"[ { "result": "zero" } ]"#, "application/json"),
            "protocol",
            "integer 'result'",
        ),
        (
            ResponseTemplate::new(200).set_body_raw(
                r#"[ { "result": 0, "arguments": {"pid": "x"} } ]"#,
                "application/json",
            ),
            "protocol",
            "status-get: unexpected arguments",
        ),
        (ResponseTemplate::new(200), "protocol", "empty body"),
        (
            ResponseTemplate::new(200).set_body_raw("42", "application/json"),
            "protocol",
            "number",
        ),
    ];
    for (response, category, needle) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let e = client(&server.uri()).status_get().await.unwrap_err();
        assert_eq!(e.category(), category, "{e}");
        assert!(e.to_string().contains(needle), "{needle:?} not in {e}");
    }
}

#[tokio::test]
async fn answers_above_the_size_limit_are_refused() {
    let server = MockServer::start().await;
    let big = format!(
        r#"[{{"result": 0, "arguments": {{"pad": "{}"}}}}]"#,
        "x".repeat(4096)
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big, "application/json"))
        .mount(&server)
        .await;
    let cfg = config(&server.uri());
    let transport = Transport::new(&cfg).unwrap().with_max_answer_bytes(1024);
    let kea = kea_operator::kea::KeaClient::new(
        ServerId::Primary,
        cfg.primary.clone(),
        transport,
        8,
        std::sync::Arc::new(kea_operator::metrics::Metrics::new()),
    );
    let e = kea.status_get().await.unwrap_err();
    assert_eq!(e.category(), "protocol");
    assert!(e.to_string().contains("exceeds 1024 bytes"), "{e}");
}

#[tokio::test]
async fn timeouts_and_refused_connections() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(json!({"pid": 1})).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri());
    cfg.timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let e = client_with(&cfg).status_get().await.unwrap_err();
    assert!(matches!(e, KeaError::Timeout { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.requeue_class(), kea_operator::kea::RequeueClass::Network);
    assert!(!e.is_connect_failure(), "a slow server is not a gone server");

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = client(&url).status_get().await.unwrap_err();
    assert_eq!(e.category(), "network");
    assert!(e.to_string().contains("connection refused"), "{e}");
    assert!(e.is_connect_failure(), "{e:?}");
    assert!(
        !e.to_string().contains("http://"),
        "the reason does not repeat the URL: {e}"
    );
}

#[tokio::test]
async fn keepalive_can_be_switched_off() {
    let server = MockServer::start().await;
    Mock::given(header("connection", "close"))
        .respond_with(ok(json!({"pid": 1})))
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri());
    cfg.keepalive = false;
    client_with(&cfg).status_get().await.unwrap();
}

#[tokio::test]
async fn in_flight_requests_are_capped_per_server() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(json!({"pid": 1})).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri());
    cfg.max_in_flight = 2;
    let metrics = std::sync::Arc::new(kea_operator::metrics::Metrics::new());
    let kea = kea_operator::kea::KeaClient::new(
        ServerId::Primary,
        cfg.primary.clone(),
        Transport::new(&cfg).unwrap(),
        cfg.max_in_flight,
        metrics.clone(),
    );
    let watcher = {
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            for _ in 0..60 {
                peak = peak.max(metrics.kea_in_flight_now(ServerId::Primary));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    let started = std::time::Instant::now();
    let calls = (0..4).map(|_| kea.status_get());
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    // Four calls of 300 ms two at a time: two waves.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(watcher.await.unwrap(), 2);
    assert_eq!(metrics.kea_in_flight_now(ServerId::Primary), 0);
    assert!(metrics.render().contains(
        "kea_operator_dhcp_operation_duration_seconds_count{operation=\"status-get\",server=\"primary\"} 4"
    ));
}
