//! The HA server set over real HTTP (wiremock servers): failover when the primary refuses
//! connections, hangs, answers 5xx or 401; the health task's events and return to the primary;
//! write fan-out with one server failing; `auto` operation-target resolution per server.

mod kea_support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kea_operator::config::KeaConfig;
use kea_operator::core::{Host, Mac, SubnetId};
use kea_operator::kea::{
    HealthState, KeaClient, KeaError, KeaServers, OperationTarget, ServerEvent, ServerId, TargetSetting,
};
use kea_operator::metrics::Metrics;
use kea_support::{Command, all_commands, answer, bodies, ok};
use serde_json::json;
use tokio::sync::broadcast;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    url
}

fn fast(primary: &str, secondary: &str) -> KeaConfig {
    let mut c = KeaConfig::new(primary.parse().expect("URL")).with_secondary(secondary.parse().expect("URL"));
    c.timeout = Duration::from_millis(300);
    c.retry.initial = Duration::from_millis(10);
    c.retry.max_delay = Duration::from_millis(50);
    c.health_interval = Duration::from_millis(100);
    c.operation_target = TargetSetting::Fixed(OperationTarget::Memory);
    c
}

async fn healthy_kea() -> MockServer {
    let server = MockServer::start().await;
    mount_healthy(&server, 100).await;
    server
}

async fn mount_healthy(server: &MockServer, pid: u64) {
    Mock::given(Command("list-commands"))
        .respond_with(ok(all_commands()))
        .mount(server)
        .await;
    Mock::given(Command("status-get"))
        .respond_with(ok(json!({"pid": pid, "uptime": 1000, "reload": 1000, "dhcp-state": {"disabled-by-db-connection": []}})))
        .mount(server)
        .await;
    Mock::given(Command("lease4-get-by-hw-address"))
        .respond_with(answer(3, "0 IPv4 lease(s) found.", Some(json!({"leases": []}))))
        .mount(server)
        .await;
    Mock::given(Command("reservation-add"))
        .respond_with(answer(0, "Host added.", None))
        .mount(server)
        .await;
}

fn mac() -> Mac {
    Mac::parse("aa:bb:cc:dd:ee:01").expect("MAC")
}

async fn lease_read(servers: &KeaServers) -> Result<ServerId, KeaError> {
    servers
        .read(|client: KeaClient, _| async move { client.leases_by_hw_address(mac()).await })
        .await
        .map(|answered| answered.server)
}

#[tokio::test]
async fn reads_fail_over_well_under_two_seconds_when_the_primary_refuses_connections() {
    let secondary = healthy_kea().await;
    let servers = KeaServers::new(
        &fast(&closed_port_url(), &secondary.uri()),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let started = Instant::now();
    assert_eq!(lease_read(&servers).await.unwrap(), ServerId::Secondary);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn reads_fail_over_when_the_primary_hangs_answers_5xx_or_401() {
    let hang = ResponseTemplate::new(200).set_delay(Duration::from_secs(30));
    for (response, expected) in [
        (hang, "timeout"),
        (ResponseTemplate::new(503), "server_error"),
        (
            ResponseTemplate::new(500).set_body_raw("<html>oops</html>", "text/html"),
            "server_error",
        ),
        (ResponseTemplate::new(401), "auth"),
    ] {
        let primary = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&primary)
            .await;
        let secondary = healthy_kea().await;
        let servers =
            KeaServers::new(&fast(&primary.uri(), &secondary.uri()), Arc::new(Metrics::new())).unwrap();
        let started = Instant::now();
        assert_eq!(
            lease_read(&servers).await.unwrap(),
            ServerId::Secondary,
            "{expected}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{expected}: {:?}",
            started.elapsed()
        );

        // The same failure on the secondary too: no server answers, each error is reported.
        secondary.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&secondary)
            .await;
        let e = lease_read(&servers).await.unwrap_err();
        let KeaError::NoServerAnswered { errors } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(errors[0].1.category(), expected);
        assert_eq!(errors[1].1.category(), "server_error");
    }
}

async fn next_event(rx: &mut broadcast::Receiver<ServerEvent>) -> ServerEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event within 5 s")
        .expect("channel open")
}

#[tokio::test]
async fn the_health_task_fails_over_detects_restarts_and_returns_to_the_primary_after_resync() {
    let primary = healthy_kea().await;
    let secondary = healthy_kea().await;
    let metrics = Arc::new(Metrics::new());
    let servers = KeaServers::new(&fast(&primary.uri(), &secondary.uri()), metrics.clone()).unwrap();
    let mut events = servers.subscribe();
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = servers.spawn_health_task(cancel.clone());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(servers.active(), ServerId::Primary);
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().health,
        HealthState::Healthy
    );

    // The primary goes down (answers 503: marked after KEA_HEALTH_FAILURE_THRESHOLD=2 checks in a
    // row, one 100 ms interval later than on a refused connection).
    primary.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&primary)
        .await;
    assert!(
        matches!(next_event(&mut events).await, ServerEvent::Unhealthy(ServerId::Primary, reason) if reason.contains("503"))
    );
    assert_eq!(
        next_event(&mut events).await,
        ServerEvent::Failover {
            from: ServerId::Primary,
            to: ServerId::Secondary
        }
    );
    assert_eq!(servers.active(), ServerId::Secondary);
    assert!(servers.is_any_usable());
    // Writes fail fast on the unhealthy server, the other one gets them.
    let outcome = servers
        .write(|client: KeaClient, target| async move {
            let host = Host {
                subnet_id: SubnetId(1),
                hw_address: mac(),
                ip_address: Ipv4Addr::new(10, 100, 1, 50),
                hostname: None,
                user_context: None,
                source: None,
            };
            client.reservation_add(&host, target).await
        })
        .await;
    assert!(matches!(
        outcome.get(ServerId::Primary),
        Some(Err(KeaError::Unhealthy { .. }))
    ));
    assert!(matches!(outcome.get(ServerId::Secondary), Some(Ok(()))));

    // It comes back, restarted (new pid): recovered and restarted, reads stay on the secondary until
    // the controller re-synced it.
    primary.reset().await;
    mount_healthy(&primary, 200).await;
    let mut seen = vec![next_event(&mut events).await, next_event(&mut events).await];
    seen.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        seen,
        vec![
            ServerEvent::Recovered(ServerId::Primary),
            ServerEvent::Restarted(ServerId::Primary)
        ]
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(servers.active(), ServerId::Secondary);
    assert!(servers.health(ServerId::Primary).unwrap().needs_resync);

    servers.mark_resynced(ServerId::Primary);
    assert_eq!(
        next_event(&mut events).await,
        ServerEvent::Failover {
            from: ServerId::Secondary,
            to: ServerId::Primary
        }
    );
    assert_eq!(lease_read(&servers).await.unwrap(), ServerId::Primary);
    let text = metrics.render();
    assert!(
        text.contains("kea_operator_failovers_total{from=\"primary\",to=\"secondary\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("kea_operator_server_health{server=\"primary\",type=\"healthy\"} 1"),
        "{text}"
    );

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_missing_host_cmds_hook_makes_a_server_unhealthy() {
    let primary = MockServer::start().await;
    Mock::given(Command("list-commands"))
        .respond_with(ok(json!([
            "list-commands",
            "status-get",
            "lease4-get-by-hw-address",
            "subnet4-list"
        ])))
        .mount(&primary)
        .await;
    Mock::given(Command("status-get"))
        .respond_with(ok(json!({"pid": 1, "uptime": 1, "reload": 1})))
        .mount(&primary)
        .await;
    let secondary = healthy_kea().await;
    let servers = KeaServers::new(&fast(&primary.uri(), &secondary.uri()), Arc::new(Metrics::new())).unwrap();
    servers.check_health().await;
    let health = servers.health(ServerId::Primary).unwrap();
    assert!(
        matches!(&health.health, HealthState::Unhealthy { reason, .. } if reason.contains("host_cmds")),
        "{health:?}"
    );
    assert_eq!(servers.active(), ServerId::Secondary);
}

#[tokio::test]
async fn writes_fan_out_and_a_failing_server_is_reported_separately_after_its_retries() {
    let primary = healthy_kea().await;
    let secondary = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&secondary)
        .await;
    let servers = KeaServers::new(&fast(&primary.uri(), &secondary.uri()), Arc::new(Metrics::new())).unwrap();
    let outcome = servers
        .write(|client: KeaClient, target| async move {
            let host = Host {
                subnet_id: SubnetId(1),
                hw_address: mac(),
                ip_address: Ipv4Addr::new(10, 100, 1, 50),
                hostname: None,
                user_context: None,
                source: None,
            };
            client.reservation_add(&host, target).await
        })
        .await;
    assert!(matches!(outcome.get(ServerId::Primary), Some(Ok(()))));
    assert!(matches!(
        outcome.get(ServerId::Secondary),
        Some(Err(KeaError::ServerError { status: 500 }))
    ));
    assert_eq!(
        bodies(&secondary).await.len(),
        5,
        "five attempts on the failing server"
    );
    assert_eq!(bodies(&primary).await.len(), 1);
}

#[tokio::test]
async fn auto_resolves_the_operation_target_per_server() {
    let primary = healthy_kea().await;
    Mock::given(Command("config-get"))
        .respond_with(ok(
            json!({"Dhcp4": {"subnet4": [], "hosts-database": {"type": "postgresql", "password": "x"}}}),
        ))
        .mount(&primary)
        .await;
    let secondary = healthy_kea().await;
    Mock::given(Command("config-get"))
        .respond_with(ok(json!({"Dhcp4": {"subnet4": []}})))
        .mount(&secondary)
        .await;
    let mut config = fast(&primary.uri(), &secondary.uri());
    config.operation_target = TargetSetting::Auto;
    let servers = KeaServers::new(&config, Arc::new(Metrics::new())).unwrap();
    servers.check_health().await;
    assert_eq!(
        servers.operation_target(ServerId::Primary),
        Some(OperationTarget::Database)
    );
    assert_eq!(
        servers.operation_target(ServerId::Secondary),
        Some(OperationTarget::Memory)
    );

    let outcome = servers
        .write(|client: KeaClient, target| async move {
            let host = Host {
                subnet_id: SubnetId(1),
                hw_address: mac(),
                ip_address: Ipv4Addr::new(10, 100, 1, 50),
                hostname: None,
                user_context: None,
                source: None,
            };
            client.reservation_add(&host, target).await
        })
        .await;
    assert!(outcome.all_succeeded());
    let target_of = |bodies: Vec<serde_json::Value>| {
        bodies
            .into_iter()
            .find(|b| b["command"] == "reservation-add")
            .map(|b| b["arguments"]["operation-target"].clone())
    };
    assert_eq!(target_of(bodies(&primary).await), Some(json!("database")));
    assert_eq!(target_of(bodies(&secondary).await), Some(json!("memory")));
}

#[tokio::test]
async fn config_write_requests_are_debounced_per_server() {
    let primary = healthy_kea().await;
    Mock::given(Command("config-write"))
        .respond_with(ok(json!({"filename": "/etc/kea/kea-dhcp4.conf", "size": 1})))
        .mount(&primary)
        .await;
    let secondary = healthy_kea().await;
    let mut config = fast(&primary.uri(), &secondary.uri());
    assert!(
        KeaServers::new(&config, Arc::new(Metrics::new()))
            .unwrap()
            .spawn_config_writer(Default::default())
            .is_none()
    );

    config.config_write = true;
    config.config_write_debounce = Duration::from_millis(100);
    let servers = KeaServers::new(&config, Arc::new(Metrics::new())).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = servers
        .spawn_config_writer(cancel.clone())
        .expect("KEA_CONFIG_WRITE=true");
    for _ in 0..10 {
        servers.request_config_write(ServerId::Primary);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let count =
        |bodies: Vec<serde_json::Value>| bodies.iter().filter(|b| b["command"] == "config-write").count();
    assert_eq!(count(bodies(&primary).await), 1, "ten requests, one write");
    assert_eq!(count(bodies(&secondary).await), 0, "only the server that changed");
    servers.request_config_write(ServerId::Primary);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(count(bodies(&primary).await), 2);
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
}
