//! The admin API through `AdminClient`, on a library pair.

mod common;

use kea_sim::{AdminClient, DbOutage, Fault, KeaSim, KeaSimPair};

#[tokio::test]
async fn admin_client_drives_a_pair() {
    let pair = KeaSimPair::builder()
        .both(KeaSim::builder().hosts_database())
        .start()
        .await;
    let admin = AdminClient::new(&pair.admin_url()).unwrap();
    let servers = admin.servers().await.unwrap();
    assert_eq!(
        servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["primary", "secondary"]
    );
    assert_eq!(servers[0].aliases, ["server1"]);

    let id = admin
        .inject(
            "secondary",
            &Fault::http_status(503).on_command("list-commands").times(2),
        )
        .await
        .unwrap();
    let faults = admin.faults("server2").await.unwrap();
    assert_eq!(faults[0].id, id);
    assert_eq!(faults[0].remaining, Some(2));
    let (status, _) = common::post(&pair.secondary().url(), r#"{"command":"list-commands"}"#).await;
    assert_eq!(status, 503);
    admin.remove_fault("secondary", id).await.unwrap();
    assert!(admin.faults("secondary").await.unwrap().is_empty());
    assert!(admin.remove_fault("secondary", id).await.is_err());

    let lease = admin
        .dhcp_acquire("primary", "aa-bb-cc-dd-ee-01", Some(1))
        .await
        .unwrap();
    assert_eq!(lease.ip_address.to_string(), "10.100.1.10");
    assert_eq!(admin.leases("secondary").await.unwrap().len(), 1);
    let released = admin
        .dhcp_release("primary", "aa:bb:cc:dd:ee:01", None)
        .await
        .unwrap();
    assert_eq!(released.state, 3);
    assert_eq!(admin.leases("secondary").await.unwrap()[0].state, 3);
    let expired = admin
        .dhcp_expire("primary", "aa:bb:cc:dd:ee:01", None)
        .await
        .unwrap();
    assert_eq!(expired.state, 2);
    assert!(admin.dhcp_acquire("primary", "not-a-mac", None).await.is_err());

    let log = admin.log("secondary", 0).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].http_status, Some(503));
    assert_eq!(log[0].fault.as_deref(), Some("http-status:503"));
    assert!(admin.log("secondary", log[0].seq).await.unwrap().is_empty());

    admin.partition().await.unwrap();
    assert_eq!(admin.state("primary").await.unwrap().partitioned, Some(true));
    admin.heal().await.unwrap();

    admin.db_outage("primary", Some(DbOutage::Down)).await.unwrap();
    assert_eq!(
        admin.state("primary").await.unwrap().db_outage,
        Some(DbOutage::Down)
    );
    admin.db_outage("primary", None).await.unwrap();

    admin.down("secondary").await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(pair.secondary().addr())
            .await
            .is_err()
    );
    admin.up("secondary").await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(pair.secondary().addr())
            .await
            .is_ok()
    );

    let before = admin.state("primary").await.unwrap();
    admin.restart("primary").await.unwrap();
    let after = admin.state("primary").await.unwrap();
    assert_ne!(before.pid, after.pid);

    admin.reset("all").await.unwrap();
    assert!(admin.state("secondary").await.unwrap().leases.is_empty());
    assert!(admin.state("nonexistent").await.is_err());
}

#[tokio::test]
async fn bad_admin_requests_are_refused_with_json_errors() {
    let sim = KeaSim::start().await;
    let c = common::client();
    let r = c
        .post(format!("{}faults", sim.admin_url()))
        .header("content-type", "application/json")
        .body(r#"{"action":{"type":"nope"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().starts_with("invalid fault"));
    let r = c
        .post(format!("{}partition", sim.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "a single server is not a pair");
}
