//! Real Kea 3.0 starts from a test in every shape the suites use, and answers.

use std::time::Duration;

use serde_json::json;
use testenv::kea::{ControlAgent, HaPair, Hook, KeaClient, KeaProcess, Postgres};

fn host(mac: &str, ip: &str) -> serde_json::Value {
    json!({"reservation": {"subnet-id": 1, "hw-address": mac, "ip-address": ip}, "operation-target": "memory"})
}

#[tokio::test]
async fn single_server_answers_restarts_and_keeps_config_written_state() {
    let mut kea = testenv::need!(KeaProcess::builder().name("single").start().await);
    let version = kea.command("version-get", None).await.unwrap();
    assert_eq!(version["result"], 0);
    assert!(version["text"].as_str().unwrap().starts_with("3.0."), "{version}");
    let commands = kea.command("list-commands", None).await.unwrap();
    assert!(
        commands["arguments"]
            .as_array()
            .unwrap()
            .contains(&json!("reservation-add"))
    );

    let add = kea
        .command("reservation-add", Some(host("aa:bb:cc:00:00:01", "10.100.5.1")))
        .await
        .unwrap();
    assert_eq!(add["result"], 0, "{add}");
    let pid_before = kea.pid();
    assert_eq!(kea.command("config-write", None).await.unwrap()["result"], 0);
    let add2 = kea
        .command("reservation-add", Some(host("aa:bb:cc:00:00:02", "10.100.5.2")))
        .await
        .unwrap();
    assert_eq!(add2["result"], 0);
    kea.restart().await.unwrap();
    assert_ne!(kea.pid(), pid_before);
    let get = |mac: &str| json!({"subnet-id": 1, "identifier-type": "hw-address", "identifier": mac});
    let kept = kea
        .command("reservation-get", Some(get("aa:bb:cc:00:00:01")))
        .await
        .unwrap();
    assert_eq!(kept["result"], 0, "config-written reservation survives: {kept}");
    let gone = kea
        .command("reservation-get", Some(get("aa:bb:cc:00:00:02")))
        .await
        .unwrap();
    assert_eq!(gone["result"], 3, "memory-only reservation is gone: {gone}");
    assert!(kea.logs().contains("DHCP4_STARTED"));
}

#[tokio::test]
async fn killed_server_is_gone_and_port_is_free_again() {
    let mut kea = testenv::need!(KeaProcess::builder().name("kill").start().await);
    let port = kea.port();
    kea.kill();
    assert!(!kea.is_running());
    assert!(
        kea.client()
            .unwrap()
            .command("list-commands", None)
            .await
            .is_err()
    );
    // Same port, same config: it comes back.
    kea.start().await.unwrap();
    assert_eq!(kea.port(), port);
    assert_eq!(kea.command("list-commands", None).await.unwrap()["result"], 0);
}

#[tokio::test]
async fn basic_auth_refuses_missing_credentials() {
    let kea = testenv::need!(
        KeaProcess::builder()
            .name("auth")
            .basic_auth("admin", "s3cret")
            .start()
            .await
    );
    assert_eq!(kea.command("list-commands", None).await.unwrap()["result"], 0);
    let anon = kea.client().unwrap().post_raw(
        Some("application/json"),
        r#"{"command":"list-commands"}"#.into(),
        false,
    );
    let anon = anon.await.unwrap();
    assert_eq!(anon.status, 401, "{}", anon.body);
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_certificate() {
    let kea = testenv::need!(KeaProcess::builder().name("mtls").tls(true).start().await);
    assert!(kea.url().starts_with("https://127.0.0.1:"));
    assert_eq!(kea.command("list-commands", None).await.unwrap()["result"], 0);
    let tls = kea.tls().unwrap();
    let no_cert = KeaClient::new(kea.url(), None, Some(tls), false).unwrap();
    let err = no_cert
        .command("list-commands", None)
        .await
        .expect_err("handshake must be refused");
    assert_eq!(err.category(), "transport", "{err}");
}

#[tokio::test]
async fn tls_without_client_certificate_requirement_accepts_anonymous_clients() {
    let kea = testenv::need!(KeaProcess::builder().name("tls").tls(false).start().await);
    let no_cert = KeaClient::new(kea.url(), None, kea.tls(), false).unwrap();
    assert_eq!(
        no_cert.command0("list-commands", None).await.unwrap()["result"],
        0
    );
}

#[tokio::test]
async fn ha_pair_reaches_hot_standby_and_does_not_replicate_reservations() {
    let pair = testenv::need!(HaPair::builder().timing(500, 2000).start().await);
    pair.wait_state("hot-standby", Duration::from_secs(15))
        .await
        .unwrap();
    let add = pair
        .primary
        .command("reservation-add", Some(host("aa:bb:cc:00:01:01", "10.100.6.1")))
        .await
        .unwrap();
    assert_eq!(add["result"], 0);
    let get = json!({"subnet-id": 1, "identifier-type": "hw-address", "identifier": "aa:bb:cc:00:01:01"});
    assert_eq!(
        pair.primary
            .command("reservation-get", Some(get.clone()))
            .await
            .unwrap()["result"],
        0
    );
    assert_eq!(
        pair.secondary
            .command("reservation-get", Some(get))
            .await
            .unwrap()["result"],
        3
    );
}

#[tokio::test]
async fn control_agent_forwards_and_reports_the_daemon_offline() {
    let mut ca = testenv::need!(ControlAgent::builder().basic_auth("admin", "pw").start().await);
    let forwarded = ca.client().command("list-commands", None).await.unwrap();
    assert_eq!(forwarded[0]["result"], 0);
    assert!(
        forwarded[0]["arguments"]
            .as_array()
            .unwrap()
            .contains(&json!("reservation-add"))
    );
    ca.stop_daemon().await;
    let offline = ca.client().command0("list-commands", None).await.unwrap();
    assert_eq!(offline["result"], 1);
    assert!(
        offline["text"].as_str().unwrap().contains("likely to be offline"),
        "{offline}"
    );
    ca.start_daemon().await.unwrap();
    assert_eq!(
        ca.client().command0("list-commands", None).await.unwrap()["result"],
        0
    );
}

#[tokio::test]
async fn hosts_database_in_postgres_survives_restart() {
    let pg = testenv::need!(Postgres::start().await);
    let mut config = testenv::kea::default_dhcp4();
    config["hosts-database"] = pg.hosts_database();
    let mut kea = KeaProcess::builder()
        .name("pgsql")
        .config(config)
        .hooks(&[Hook::LeaseCmds, Hook::HostCmds, Hook::SubnetCmds, Hook::Pgsql])
        .start()
        .await
        .unwrap();
    let args = json!({"reservation": {"subnet-id": 1, "hw-address": "aa:bb:cc:00:02:01", "ip-address": "10.100.7.1"}});
    assert_eq!(
        kea.command("reservation-add", Some(args)).await.unwrap()["result"],
        0
    );
    assert_eq!(pg.sql("SELECT count(*) FROM hosts").unwrap().trim(), "1");
    kea.restart().await.unwrap();
    let get = json!({"subnet-id": 1, "identifier-type": "hw-address", "identifier": "aa:bb:cc:00:02:01"});
    assert_eq!(
        kea.command("reservation-get", Some(get)).await.unwrap()["result"],
        0
    );
}

#[tokio::test]
async fn database_outage_and_recovery_with_reconnect() {
    let mut pg = testenv::need!(Postgres::start().await);
    let mut config = testenv::kea::default_dhcp4();
    config["hosts-database"] = pg.hosts_database_reconnecting();
    let kea = KeaProcess::builder()
        .name("pg-outage")
        .config(config)
        .hooks(&[Hook::LeaseCmds, Hook::HostCmds, Hook::SubnetCmds, Hook::Pgsql])
        .start()
        .await
        .unwrap();
    let add = |n: u8| {
        json!({"reservation": {"subnet-id": 1, "hw-address": format!("aa:bb:cc:00:03:{n:02x}"),
                               "ip-address": format!("10.100.8.{n}")}})
    };
    assert_eq!(
        kea.command("reservation-add", Some(add(1))).await.unwrap()["result"],
        0
    );
    pg.stop().await;
    let during = kea.command("reservation-add", Some(add(2))).await.unwrap();
    assert_eq!(during["result"], 1, "{during}");
    pg.start_again().await.unwrap();
    // Kea reconnects about a second after the database is back.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = kea.command("status-get", None).await.unwrap();
        let disabled = &status["arguments"]["dhcp-state"]["disabled-by-db-connection"];
        if disabled.as_array().is_some_and(Vec::is_empty)
            && kea.command("reservation-add", Some(add(3))).await.unwrap()["result"] == 0
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Kea did not recover: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pg.sql("SELECT count(*) FROM hosts").unwrap().trim(), "2");
}
