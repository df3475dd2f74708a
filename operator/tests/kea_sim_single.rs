//! The Kea client against one in-process kea-sim: typed operations on real state, every error class
//! produced by the simulator's faults, a lost hosts database, a restart, basic auth and TLS.

mod kea_support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use kea_operator::config::{AuthConfig, KeaConfig, PasswordSource, Secret};
use kea_operator::core::{Host, Mac, SubnetId};
use kea_operator::kea::{
    ConflictKind, Deletion, HealthState, KeaClient, KeaError, KeaServers, OperationTarget, RequeueClass,
    ServerEvent, ServerId, SubnetSource,
};
use kea_operator::metrics::Metrics;
use kea_sim::{DbOutage, Fault, Hooks, KeaSim, OnFail};
use kea_support::tls_server::Ca;
use kea_support::{client_with, config, crypto};
use serde_json::json;

fn sim_builder() -> kea_sim::KeaSimBuilder {
    KeaSim::builder()
        .subnet(1, "10.100.0.0/16")
        .pool(1, "10.100.1.10 - 10.100.1.200")
}

fn host(mac: &str, ip: [u8; 4]) -> Host {
    Host {
        subnet_id: SubnetId(1),
        hw_address: Mac::parse(mac).expect("MAC"),
        ip_address: Ipv4Addr::from(ip),
        hostname: None,
        user_context: Some(
            json!({"kea-operator": {"v": 1, "instance": "t", "owner": "ns/nc", "uid": "u", "interface": "eth0"}}),
        ),
        source: None,
    }
}

fn quick(url: &str) -> KeaConfig {
    let mut c = config(url);
    c.timeout = Duration::from_millis(300);
    c
}

#[tokio::test]
async fn typed_operations_on_simulated_state() {
    let sim = sim_builder().shared_network("sn1", &[1]).start().await;
    let kea = client_with(&config(&sim.url()));
    let memory = OperationTarget::Memory;
    assert!(kea.list_commands().await.unwrap().missing_hooks().is_empty());
    assert!(kea.version_get().await.unwrap().version.starts_with("3.0"));
    let subnets = kea.subnets().await.unwrap();
    assert_eq!(subnets.source, SubnetSource::SubnetCmds);
    assert_eq!(subnets.subnets[0].shared_network.as_deref(), Some("sn1"));

    // A device obtains a lease through DHCP; the client finds it by MAC.
    let ip = sim.dhcp_acquire("aa:bb:cc:00:00:01", Some(1)).unwrap();
    let leases = kea
        .leases_by_hw_address(Mac::parse("AA-BB-CC-00-00-01").unwrap())
        .await
        .unwrap();
    assert_eq!(leases[0].ip_address, ip);

    let a = host("aa:bb:cc:00:00:01", [10, 100, 1, 50]);
    kea.reservation_add(&a, memory).await.unwrap();
    assert_eq!(sim.hosts().len(), 1);
    let got = kea
        .reservation_get(SubnetId(1), a.hw_address, memory)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.ip_address, &got.user_context),
        (a.ip_address, &a.user_context)
    );
    let e = kea.reservation_add(&a, memory).await.unwrap_err();
    assert!(
        matches!(
            e,
            KeaError::Conflict {
                kind: ConflictKind::HostExists,
                ..
            }
        ),
        "{e:?}"
    );
    let e = kea
        .reservation_add(&host("aa:bb:cc:00:00:02", [10, 100, 1, 50]), memory)
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
    let page = kea.reservation_get_page(SubnetId(1), 10, None).await.unwrap();
    assert_eq!(page.hosts.len(), 1);
    assert_eq!(
        kea.reservation_del(SubnetId(1), a.hw_address, memory)
            .await
            .unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        kea.reservation_del(SubnetId(1), a.hw_address, memory)
            .await
            .unwrap(),
        Deletion::NotFound
    );
}

#[tokio::test]
async fn every_error_class_from_injected_faults() {
    let sim = sim_builder().start().await;
    let kea = client_with(&quick(&sim.url()));
    let cases: Vec<(Fault, &str, RequeueClass)> = vec![
        (Fault::http_status(401), "auth", RequeueClass::Auth),
        (Fault::http_status(403), "permission", RequeueClass::Permission),
        (Fault::http_status(500), "server_error", RequeueClass::Network),
        (Fault::http_status(503), "server_error", RequeueClass::Network),
        (Fault::garbage(), "protocol", RequeueClass::Network),
        (Fault::truncated(), "protocol", RequeueClass::Network),
        (Fault::reset(), "network", RequeueClass::Network),
        (Fault::hang(), "timeout", RequeueClass::Network),
        (
            Fault::kea_result(1, "Host database not available, cannot add host."),
            "database_unavailable",
            RequeueClass::Network,
        ),
        (
            Fault::kea_result(2, "'status-get' command not supported."),
            "unsupported",
            RequeueClass::Permission,
        ),
    ];
    for (fault, category, class) in cases {
        sim.clear_faults();
        sim.inject(fault.on_command("status-get").times(1));
        let e = kea.status_get().await.unwrap_err();
        assert_eq!((e.category(), e.requeue_class()), (category, class), "{e:?}");
        assert!(!e.is_connect_failure(), "the server was reached: {e:?}");
        // The fault was for one request: the next one succeeds.
        kea.status_get().await.unwrap();
    }
    sim.clear_faults();
    sim.inject(Fault::refuse(Some(Duration::from_millis(200))));
    let e = kea.status_get().await.unwrap_err();
    assert_eq!(e.category(), "network", "{e:?}");
    // The triggering request is reset; while the listener is closed, connections are refused.
    let e = kea.status_get().await.unwrap_err();
    assert!(e.is_connect_failure(), "{e:?}");
}

#[tokio::test]
async fn one_failed_health_check_is_tolerated_a_refused_connection_is_not() {
    let sim = sim_builder().start().await;
    let servers = KeaServers::new(&quick(&sim.url()), Arc::new(Metrics::new())).unwrap();
    let mut events = servers.subscribe();
    servers.check_health().await;
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().health,
        HealthState::Healthy
    );

    // One bad answer between good ones (KEA_HEALTH_FAILURE_THRESHOLD=2 by default): still healthy.
    for fault in [
        Fault::garbage(),
        Fault::http_status(503),
        Fault::hang(),
        Fault::reset(),
    ] {
        sim.clear_faults();
        sim.inject(fault.clone().on_command("status-get").times(1));
        servers.check_health().await;
        assert_eq!(
            servers.health(ServerId::Primary).unwrap().health,
            HealthState::Healthy,
            "{fault:?}"
        );
        servers.check_health().await;
    }
    assert!(events.try_recv().is_err(), "no event for isolated failures");

    // Two in a row: unhealthy; answering again: recovered.
    sim.clear_faults();
    sim.inject(Fault::http_status(503).on_command("status-get").times(2));
    servers.check_health().await;
    servers.check_health().await;
    assert!(matches!(
        events.try_recv().unwrap(),
        ServerEvent::Unhealthy(ServerId::Primary, reason) if reason.contains("503")
    ));
    servers.check_health().await;
    assert_eq!(
        events.try_recv().unwrap(),
        ServerEvent::Recovered(ServerId::Primary)
    );

    // Nothing listens any more: one check is enough.
    sim.set_down(true).await;
    servers.check_health().await;
    let health = servers.health(ServerId::Primary).unwrap();
    assert!(
        matches!(&health.health, HealthState::Unhealthy { reason, .. } if reason.contains("connection refused")),
        "{health:?}"
    );
}

#[tokio::test]
async fn a_lost_hosts_database_makes_the_server_unhealthy_and_writes_unavailable() {
    let sim = sim_builder()
        .hosts_database_with_reconnect(OnFail::StopRetryExit, 30, 100)
        .start()
        .await;
    let servers = KeaServers::new(&config(&sim.url()), Arc::new(Metrics::new())).unwrap();
    servers.check_health().await;
    assert_eq!(
        servers.operation_target(ServerId::Primary),
        Some(OperationTarget::Database)
    );
    assert_eq!(
        servers.health(ServerId::Primary).unwrap().health,
        HealthState::Healthy
    );

    sim.db_outage(Some(DbOutage::Down));
    let kea = servers.client(ServerId::Primary).unwrap();
    let e = kea
        .reservation_add(
            &host("aa:bb:cc:00:00:09", [10, 100, 1, 90]),
            OperationTarget::Database,
        )
        .await
        .unwrap_err();
    assert_eq!(e.category(), "database_unavailable", "{e:?}");
    servers.check_health().await;
    let health = servers.health(ServerId::Primary).unwrap();
    assert!(
        matches!(&health.health, HealthState::Unhealthy { reason, .. } if reason.contains("database")),
        "{health:?}"
    );
    assert!(!health.trusts_not_found());
    sim.db_outage(None);
}

#[tokio::test]
async fn a_restart_is_detected_and_the_target_resolved_again() {
    let sim = sim_builder().start().await;
    let servers = KeaServers::new(&config(&sim.url()), Arc::new(Metrics::new())).unwrap();
    let mut events = servers.subscribe();
    servers.check_health().await;
    sim.restart().await.unwrap();
    servers.check_health().await;
    assert_eq!(
        events.try_recv().unwrap(),
        ServerEvent::Restarted(ServerId::Primary)
    );
    assert_eq!(
        servers.operation_target(ServerId::Primary),
        Some(OperationTarget::Memory)
    );
}

#[tokio::test]
async fn missing_host_cmds_is_reported_and_unhealthy() {
    let sim = sim_builder()
        .hooks(Hooks {
            lease_cmds: true,
            subnet_cmds: true,
            ..Hooks::default()
        })
        .start()
        .await;
    let servers = KeaServers::new(&config(&sim.url()), Arc::new(Metrics::new())).unwrap();
    servers.check_health().await;
    let health = servers.health(ServerId::Primary).unwrap();
    assert!(
        matches!(&health.health, HealthState::Unhealthy { reason, .. } if reason.contains("host_cmds")),
        "{health:?}"
    );
    let kea = servers.client(ServerId::Primary).unwrap();
    let e = kea
        .reservation_get(
            SubnetId(1),
            Mac::parse("aa:bb:cc:00:00:01").unwrap(),
            OperationTarget::Memory,
        )
        .await
        .unwrap_err();
    assert_eq!(e.category(), "unsupported");
}

#[tokio::test]
async fn subnets_fall_back_to_config_get_on_a_sim_without_subnet_cmds() {
    let sim = sim_builder()
        .hooks(Hooks {
            lease_cmds: true,
            host_cmds: true,
            ..Hooks::default()
        })
        .start()
        .await;
    let list = client_with(&config(&sim.url())).subnets().await.unwrap();
    assert_eq!(list.source, SubnetSource::ConfigGet);
    assert_eq!(list.subnets[0].prefix.to_string(), "10.100.0.0/16");
}

#[tokio::test]
async fn basic_auth_and_tls_against_the_sim() {
    crypto();
    let ca = Ca::new("sim ca");
    let identity = ca.server(&["127.0.0.1", "localhost"]);
    let sim = sim_builder()
        .basic_auth("operator", "pw")
        .tls(
            identity.cert.as_bytes(),
            identity.key.as_bytes(),
            ca.pem().as_bytes(),
            false,
        )
        .start()
        .await;
    assert!(sim.url().starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let mut c = config(&sim.url());
    c.tls.ca_file = Some(ca_file);
    c.auth = AuthConfig::Basic {
        username: "operator".into(),
        password: PasswordSource::Inline(Secret::new("pw")),
    };
    client_with(&c).status_get().await.unwrap();
    c.auth = AuthConfig::Basic {
        username: "operator".into(),
        password: PasswordSource::Inline(Secret::new("no")),
    };
    assert!(matches!(
        client_with(&c).status_get().await,
        Err(KeaError::Unauthorized)
    ));
    let mut untrusted = config(&sim.url());
    untrusted.auth = c.auth.clone();
    assert!(matches!(
        client_with(&untrusted).status_get().await,
        Err(KeaError::Tls { .. })
    ));
}

#[tokio::test]
async fn the_request_log_shows_the_exact_envelope() {
    let sim = sim_builder().start().await;
    let kea: KeaClient = client_with(&config(&sim.url()));
    kea.reservation_get(
        SubnetId(1),
        Mac::parse("aa:bb:cc:00:00:01").unwrap(),
        OperationTarget::Memory,
    )
    .await
    .unwrap();
    let received = sim.received_commands();
    let last = received.last().expect("one command");
    assert_eq!(last.command.as_deref(), Some("reservation-get"));
    assert_eq!(last.service, Some(json!(["dhcp4"])));
    assert_eq!(
        last.arguments,
        Some(
            json!({"subnet-id": 1, "identifier-type": "hw-address", "identifier": "aa:bb:cc:00:00:01",
            "operation-target": "memory"})
        )
    );
    assert_eq!(last.result, Some(3));
}
