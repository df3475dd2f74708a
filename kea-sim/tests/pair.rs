//! HA pair: DHCP-path leases replicate, reservations and API leases do not; partitions;
//! a shared hosts database.

mod common;

use common::command;
use kea_sim::{KeaSim, KeaSimPair};

#[tokio::test]
async fn dhcp_leases_replicate_reservations_and_api_leases_do_not() {
    let pair = KeaSimPair::start().await;
    let (p, s) = (pair.primary(), pair.secondary());
    let ip = pair.dhcp_acquire("aa:bb:cc:dd:ee:01", None).unwrap();
    assert_eq!(s.leases()[0].ip_address, ip);
    assert_eq!(s.leases()[0].origin, kea_sim::LeaseOrigin::Replicated);
    let got = command(
        &s.url(),
        r#"{"command":"lease4-get-by-hw-address","arguments":{"hw-address":"aa:bb:cc:dd:ee:01"}}"#,
    )
    .await;
    assert_eq!(got["result"], 0);

    command(&p.url(), r#"{"command":"lease4-add","arguments":{"ip-address":"10.100.1.99","hw-address":"aa:bb:cc:dd:ee:09"}}"#).await;
    let add = r#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:bb:cc:dd:ee:05","ip-address":"10.100.5.5"},"operation-target":"memory"}}"#;
    command(&p.url(), add).await;
    assert_eq!(s.leases().len(), 1, "the API lease stays on the primary");
    assert!(s.hosts().is_empty(), "reservations are not replicated");
    assert_eq!(p.leases().len(), 2);

    let status = command(&p.url(), r#"{"command":"status-get"}"#).await;
    let ha = &status["arguments"]["high-availability"][0];
    assert_eq!(ha["ha-mode"], "hot-standby");
    assert_eq!(ha["ha-servers"]["local"]["state"], "hot-standby");
    assert_eq!(ha["ha-servers"]["remote"]["server-name"], "server2");
}

#[tokio::test]
async fn partition_stops_replication_and_heal_catches_up() {
    let pair = KeaSimPair::start().await;
    pair.partition();
    assert!(pair.is_partitioned());
    let ip = pair.dhcp_acquire("aa:bb:cc:dd:ee:01", None).unwrap();
    assert!(pair.secondary().leases().is_empty());
    let st = command(&pair.secondary().url(), r#"{"command":"status-get"}"#).await;
    let ha = &st["arguments"]["high-availability"][0]["ha-servers"];
    assert_eq!(ha["local"]["state"], "partner-down");
    assert_eq!(ha["local"]["scopes"], serde_json::json!(["server1"]));
    assert_eq!(ha["remote"]["communication-interrupted"], true);
    pair.heal();
    assert_eq!(pair.secondary().leases()[0].ip_address, ip);
}

#[tokio::test]
async fn standby_serves_when_the_primary_is_down() {
    let pair = KeaSimPair::start().await;
    pair.primary().set_down(true).await;
    let ip = pair.dhcp_acquire("aa:bb:cc:dd:ee:01", None).unwrap();
    assert_eq!(pair.secondary().leases()[0].ip_address, ip);
    pair.primary().set_down(false).await;
    assert_eq!(
        pair.primary().leases()[0].ip_address,
        ip,
        "the primary catches up when it returns"
    );
}

#[tokio::test]
async fn shared_hosts_database_is_seen_by_both() {
    let b = KeaSim::builder().hosts_database();
    let pair = KeaSimPair::builder()
        .both(b)
        .shared_hosts_database(true)
        .start()
        .await;
    let add = r#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:bb:cc:dd:ee:01","ip-address":"10.100.2.1"}}}"#;
    assert_eq!(command(&pair.primary().url(), add).await["text"], "Host added.");
    let get = r#"{"command":"reservation-get","arguments":{"subnet-id":1,"identifier-type":"hw-address","identifier":"aa:bb:cc:dd:ee:01"}}"#;
    assert_eq!(command(&pair.secondary().url(), get).await["text"], "Host found.");
    assert_eq!(
        command(&pair.secondary().url(), add).await["text"],
        "Database duplicate entry error"
    );
}

#[tokio::test]
async fn separate_databases_by_default() {
    let b = KeaSim::builder().hosts_database();
    let pair = KeaSimPair::builder().both(b).start().await;
    let add = r#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:bb:cc:dd:ee:01","ip-address":"10.100.2.1"}}}"#;
    command(&pair.primary().url(), add).await;
    assert_eq!(command(&pair.secondary().url(), add).await["text"], "Host added.");
}
