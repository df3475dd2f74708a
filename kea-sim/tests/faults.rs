//! Every fault kind, observed from a client.

mod common;

use std::time::{Duration, Instant};

use common::{client, command, post, post_with};
use kea_sim::{DbOutage, Fault, KeaSim};

const LIST: &str = r#"{"command":"list-commands"}"#;

#[tokio::test]
async fn latency_and_jitter_delay_answers() {
    let sim = KeaSim::start().await;
    sim.inject(
        Fault::latency(Duration::from_millis(150))
            .on_command("list-commands")
            .times(1),
    );
    let t = Instant::now();
    command(&sim.url(), LIST).await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    let t = Instant::now();
    command(&sim.url(), LIST).await;
    assert!(t.elapsed() < Duration::from_millis(150), "the fault ran out");
    let log = sim.received_commands();
    assert_eq!(log[0].fault.as_deref(), Some("latency:150ms"));
    assert!(log[0].duration_micros.unwrap() >= 150_000);
    assert!(log[1].fault.is_none());
}

#[tokio::test]
async fn a_request_is_applied_even_when_the_client_gives_up_during_latency() {
    // Like Kea: a timed-out client does not cancel the command it sent.
    let sim = KeaSim::start().await;
    sim.inject(
        Fault::latency(Duration::from_millis(400))
            .on_command("reservation-add")
            .times(1),
    );
    let c = reqwest::Client::builder()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let add = r#"{"command":"reservation-add","arguments":{"operation-target":"memory","reservation":{"subnet-id":1,"hw-address":"02:00:00:00:00:09","ip-address":"10.100.9.9"}}}"#;
    let r = post_with(&c, &sim.url(), add).await;
    assert!(r.unwrap_err().is_timeout());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        sim.hosts().iter().any(|h| h.identifier == "02:00:00:00:00:09"),
        "the add took effect: {:?}",
        sim.hosts()
    );
    let log = sim.received_commands();
    assert_eq!(log[0].command.as_deref(), Some("reservation-add"));
    assert_eq!(log[0].result, Some(0));
}

#[tokio::test]
async fn hang_never_answers() {
    let sim = KeaSim::start().await;
    sim.inject(Fault::hang().times(1));
    let c = reqwest::Client::builder()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = post_with(&c, &sim.url(), LIST).await;
    assert!(r.unwrap_err().is_timeout());
    assert_eq!(sim.received_commands()[0].http_status, None);
    command(&sim.url(), LIST).await;
}

#[tokio::test]
async fn reset_breaks_the_connection_mid_answer() {
    let sim = KeaSim::start().await;
    sim.inject(Fault::reset().times(1));
    let err = post_with(&client(), &sim.url(), LIST).await;
    assert!(err.is_err(), "a reset answer is a transport error: {err:?}");
    command(&sim.url(), LIST).await;
}

#[tokio::test]
async fn http_status_faults_use_keas_bodies() {
    let sim = KeaSim::start().await;
    for status in [401u16, 403, 500, 503] {
        sim.inject(Fault::http_status(status).times(1));
        let r = client()
            .post(sim.url())
            .header("Content-Type", "application/json")
            .body(LIST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers().contains_key("www-authenticate"), status == 401);
        let body = r.text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["result"], status);
    }
}

#[tokio::test]
async fn garbage_truncated_and_forced_results() {
    let sim = KeaSim::start().await;
    sim.inject(Fault::garbage().times(1));
    let (s, body) = post(&sim.url(), LIST).await;
    assert_eq!(s, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
    sim.inject(Fault::truncated().times(1));
    let (s, body) = post(&sim.url(), LIST).await;
    assert_eq!(s, 200);
    assert!(body.starts_with("[ { \"arguments\": [ "));
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
    sim.inject(
        Fault::kea_result(1, "forced")
            .on_command("reservation-get")
            .times(1),
    );
    let a = command(
        &sim.url(),
        r#"{"command":"reservation-get","arguments":{"subnet-id":1,"ip-address":"10.100.1.1"}}"#,
    )
    .await;
    assert_eq!(a, serde_json::json!({"result": 1, "text": "forced"}));
}

#[tokio::test]
async fn refuse_closes_the_listener_and_reopens_the_same_port() {
    let sim = KeaSim::start().await;
    sim.inject(Fault::refuse(Some(Duration::from_millis(300))).times(1));
    assert!(post_with(&client(), &sim.url(), LIST).await.is_err());
    let refused = tokio::net::TcpStream::connect(sim.addr()).await;
    assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    tokio::time::sleep(Duration::from_millis(500)).await;
    command(&sim.url(), LIST).await;
    // set_down / set_up do the same on demand.
    sim.set_down(true).await;
    assert!(tokio::net::TcpStream::connect(sim.addr()).await.is_err());
    sim.set_down(false).await;
    command(&sim.url(), LIST).await;
}

#[tokio::test]
async fn restart_fault_loses_memory_state_and_changes_pid() {
    let sim = KeaSim::start().await;
    let pid = command(&sim.url(), r#"{"command":"status-get"}"#).await["arguments"]["pid"].clone();
    command(
        &sim.url(),
        r#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:bb:cc:dd:ee:01"},"operation-target":"memory"}}"#,
    )
    .await;
    sim.inject(
        Fault::restart(Duration::from_millis(100))
            .on_command("reservation-get")
            .times(1),
    );
    assert!(
        post_with(
            &client(),
            &sim.url(),
            r#"{"command":"reservation-get","arguments":{"subnet-id":1,"ip-address":"10.100.1.1"}}"#
        )
        .await
        .is_err()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = command(&sim.url(), r#"{"command":"status-get"}"#).await;
    assert_ne!(status["arguments"]["pid"], pid);
    assert!(sim.hosts().is_empty());
}

#[tokio::test]
async fn probability_faults_are_seeded() {
    let run = || async {
        let sim = KeaSim::start().await;
        sim.inject(Fault::http_status(503).with_probability(0.5, 7));
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(post(&sim.url(), LIST).await.0);
        }
        seen
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn database_outage_fault_answers_like_kea_in_reconnect_mode() {
    let sim = KeaSim::builder()
        .hosts_database_with_reconnect(kea_sim::OnFail::StopRetryExit, 30, 1000)
        .start()
        .await;
    let add = r#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:bb:cc:dd:ee:01","ip-address":"10.100.2.1"}}}"#;
    assert_eq!(command(&sim.url(), add).await["text"], "Host added.");
    sim.inject(
        Fault::db_outage(DbOutage::Down, None)
            .on_command("reservation-get")
            .times(1),
    );
    let get = r#"{"command":"reservation-get","arguments":{"subnet-id":1,"identifier-type":"hw-address","identifier":"aa:bb:cc:dd:ee:01"}}"#;
    assert_eq!(
        command(&sim.url(), get).await["text"],
        "fatal database error or connectivity lost"
    );
    assert_eq!(command(&sim.url(), get).await["result"], 3, "reads say not found");
    let st = command(&sim.url(), r#"{"command":"status-get"}"#).await;
    assert_eq!(
        st["arguments"]["dhcp-state"]["disabled-by-db-connection"],
        serde_json::json!([6012])
    );
    let add2 = add.replace("ee:01", "ee:02").replace("2.1", "2.2");
    assert_eq!(
        command(&sim.url(), &add2).await["text"],
        "Host database not available, cannot add host."
    );
    sim.db_outage(None);
    assert_eq!(
        command(&sim.url(), get).await["text"],
        "Host found.",
        "database hosts come back"
    );
}

#[tokio::test]
async fn database_outage_with_default_on_fail_exits() {
    let sim = KeaSim::builder().hosts_database().start().await;
    sim.db_outage(Some(DbOutage::Down));
    let get = r#"{"command":"reservation-get","arguments":{"subnet-id":1,"identifier-type":"hw-address","identifier":"aa:bb:cc:dd:ee:01"}}"#;
    assert_eq!(
        command(&sim.url(), get).await["text"],
        "fatal database error or connectivity lost"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::net::TcpStream::connect(sim.addr()).await.is_err(),
        "Kea exits after answering"
    );
    sim.db_outage(None);
    sim.set_down(false).await;
    command(&sim.url(), LIST).await;
}

#[tokio::test]
async fn hung_database_blocks_the_control_channel() {
    let sim = KeaSim::builder().hosts_database().start().await;
    sim.db_outage(Some(DbOutage::Hang));
    let c = reqwest::Client::builder()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(post_with(&c, &sim.url(), LIST).await.unwrap_err().is_timeout());
    sim.db_outage(None);
    command(&sim.url(), LIST).await;
}
