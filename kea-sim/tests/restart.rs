//! Restart semantics and config-write persistence.

mod common;

use common::command;
use kea_sim::KeaSim;

const ADD1: &str = r#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:00:00:00:00:01","ip-address":"10.100.3.1"},"operation-target":"memory"}}"#;
const ADD2: &str = r#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:00:00:00:00:02","ip-address":"10.100.3.2"},"operation-target":"memory"}}"#;

#[tokio::test]
async fn config_write_persists_memory_reservations_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kea-dhcp4.json");
    let sim = KeaSim::builder().config_path(&path).start().await;
    command(&sim.url(), ADD1).await;
    command(&sim.url(), r#"{"command":"lease4-add","arguments":{"ip-address":"10.100.1.50","hw-address":"aa:00:00:00:00:09"}}"#).await;
    let w = command(&sim.url(), r#"{"command":"config-write"}"#).await;
    assert_eq!(
        w["text"],
        format!("Configuration written to {} successful", path.display())
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with("{\n  \"Dhcp4\": {\n"));
    assert!(written.contains("\"hw-address\": \"aa:00:00:00:00:01\""));
    assert_eq!(w["arguments"]["size"], written.len());
    command(&sim.url(), ADD2).await;
    let before = command(&sim.url(), r#"{"command":"status-get"}"#).await;

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    sim.restart().await.unwrap();

    let after = command(&sim.url(), r#"{"command":"status-get"}"#).await;
    assert_ne!(after["arguments"]["pid"], before["arguments"]["pid"]);
    assert!(
        after["arguments"]["uptime"].as_i64().unwrap() < before["arguments"]["uptime"].as_i64().unwrap() + 1
    );
    let ids: Vec<String> = sim.hosts().into_iter().map(|h| h.identifier).collect();
    assert_eq!(
        ids,
        vec!["aa:00:00:00:00:01"],
        "written host kept, memory-only host lost"
    );
    assert!(sim.leases().is_empty(), "leases are not persisted");
    let outside = command(
        &sim.url(),
        r#"{"command":"config-write","arguments":{"filename":"/tmp/elsewhere.json"}}"#,
    )
    .await;
    assert_eq!(outside["result"], 1);
    assert!(
        outside["text"]
            .as_str()
            .unwrap()
            .contains("must be in the same directory as the config file")
    );
}

#[tokio::test]
async fn database_hosts_survive_a_restart() {
    let sim = KeaSim::builder().hosts_database().start().await;
    let db_add = ADD1.replace(r#","operation-target":"memory""#, "");
    assert_eq!(command(&sim.url(), &db_add).await["text"], "Host added.");
    command(&sim.url(), ADD2).await;
    sim.restart().await.unwrap();
    let hosts = sim.hosts();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].source, "database");
}

#[tokio::test]
async fn reset_returns_to_the_initial_state() {
    let sim = KeaSim::builder().hosts_database().start().await;
    command(&sim.url(), ADD1).await;
    sim.inject(kea_sim::Fault::hang());
    sim.reset().await;
    assert!(sim.hosts().is_empty());
    assert!(sim.faults().is_empty());
    assert!(sim.received_commands().is_empty());
    command(&sim.url(), r#"{"command":"list-commands"}"#).await;
}
