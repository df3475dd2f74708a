//! The library API: start, state inspection, request log, expectations and mocks, builder
//! options (hooks, auth, Control Agent mode).

mod common;

use common::{client, command, post};
use kea_sim::{Hooks, KeaSim, Mock, Mode, ResponseTemplate, argument, command as cmd};

const ADD: &str = r#"{"command":"reservation-add","service":["dhcp4"],"arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:bb:cc:dd:ee:01","ip-address":"10.100.2.1","user-context":{"nc":"a/b"}},"operation-target":"memory"}}"#;

#[tokio::test]
async fn default_server_answers_like_kea_and_records_requests() {
    let sim = KeaSim::start().await;
    assert!(sim.url().starts_with("http://127.0.0.1:"));
    assert_eq!(sim.url(), format!("http://{}/", sim.addr()));
    let a = command(&sim.url(), ADD).await;
    assert_eq!(a, serde_json::json!({"result": 0, "text": "Host added."}));
    let hosts = sim.hosts();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].identifier, "aa:bb:cc:dd:ee:01");
    assert_eq!(hosts[0].user_context, Some(serde_json::json!({"nc": "a/b"})));
    let again = command(&sim.url(), ADD).await;
    assert_eq!(again["result"], 1);
    let log = sim.received_commands();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].command.as_deref(), Some("reservation-add"));
    assert_eq!(log[0].http_status, Some(200));
    assert_eq!(log[0].result, Some(0));
    assert_eq!(log[1].result, Some(1));
    assert!(log[0].unix_micros <= log[1].unix_micros);
    assert!(log[0].time.ends_with('Z'));
    assert_eq!(log[0].arguments.as_ref().unwrap()["reservation"]["subnet-id"], 1);
    sim.check_invariants().unwrap();
}

#[tokio::test]
async fn admin_api_is_served_on_its_own_port() {
    let sim = KeaSim::start().await;
    assert_ne!(sim.admin_url(), sim.url());
    let r = client()
        .get(format!("{}health", sim.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    // The Kea port does not serve the admin routes.
    let (status, _) = post(&format!("{}state", sim.url()), "{}").await;
    assert_eq!(status, 200, "the Kea socket answers every path as Kea does");
}

#[tokio::test]
async fn expectations_pass_and_fail_as_counted() {
    let sim = KeaSim::start().await;
    sim.expect(cmd("reservation-add")).times(2);
    sim.expect(cmd("reservation-del")).never();
    command(&sim.url(), ADD).await;
    assert!(sim.check().is_err(), "one of two adds seen");
    command(&sim.url(), ADD).await;
    sim.check().unwrap();
    sim.expect(cmd("lease4-get"))
        .at_least(1)
        .and(argument("ip-address", "10.100.1.1"));
    let err = sim.check().unwrap_err();
    assert!(err.contains("command == \"lease4-get\""), "{err}");
    command(
        &sim.url(),
        r#"{"command":"lease4-get","arguments":{"ip-address":"10.100.1.1"}}"#,
    )
    .await;
    sim.check().unwrap();
}

#[test]
fn unmet_expectations_panic_on_drop() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = rt.block_on(KeaSim::start());
    sim.expect(cmd("reservation-add")).times(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(sim)));
    let msg = r
        .unwrap_err()
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(
        msg.contains("expected exactly 1 request(s) matching command == \"reservation-add\", received 0"),
        "{msg}"
    );
}

#[test]
fn no_second_panic_while_unwinding() {
    let handle = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sim = rt.block_on(KeaSim::start());
        sim.expect(cmd("reservation-add")).times(5);
        panic!("the test's own failure");
    });
    let payload = handle.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the test's own failure"));
}

#[tokio::test]
async fn mocks_layer_over_the_stateful_default() {
    let sim = KeaSim::start().await;
    Mock::given(cmd("reservation-add"))
        .respond_with(ResponseTemplate::kea(
            1,
            "Host database not available, cannot add host.",
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&sim);
    let first = command(&sim.url(), ADD).await;
    assert_eq!(first["text"], "Host database not available, cannot add host.");
    assert!(sim.hosts().is_empty(), "a mocked answer leaves the state alone");
    let second = command(&sim.url(), ADD).await;
    assert_eq!(second["text"], "Host added.");
    assert!(
        sim.received_commands()[0]
            .fault
            .as_deref()
            .unwrap_or("")
            .starts_with("mock")
    );
    Mock::given(cmd("list-commands"))
        .respond_with(ResponseTemplate::http_status(503))
        .mount(&sim);
    let (status, body) = post(&sim.url(), r#"{"command":"list-commands"}"#).await;
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{ "result": 503, "text": "Service Unavailable" }"#)
    );
}

#[tokio::test]
async fn missing_hooks_answer_result_2() {
    let sim = KeaSim::builder()
        .hooks(Hooks {
            lease_cmds: true,
            ..Hooks::default()
        })
        .start()
        .await;
    let a = command(&sim.url(), ADD).await;
    assert_eq!(
        a,
        serde_json::json!({"result": 2, "text": "'reservation-add' command not supported."})
    );
    let l = command(&sim.url(), r#"{"command":"lease4-get-all"}"#).await;
    assert_eq!(l["result"], 3);
    let list = command(&sim.url(), r#"{"command":"list-commands"}"#).await;
    let names: Vec<&str> = list["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        names.contains(&"lease4-add")
            && !names.contains(&"reservation-add")
            && !names.contains(&"subnet4-list")
    );
}

#[tokio::test]
async fn basic_auth_answers_401_like_kea() {
    let sim = KeaSim::builder().basic_auth("admin", "s3cret").start().await;
    let r = client()
        .post(sim.url())
        .header("Content-Type", "application/json")
        .body(r#"{"command":"list-commands"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"kea-dhcpv4-server\""
    );
    assert_eq!(
        r.text().await.unwrap(),
        r#"{ "result": 401, "text": "Unauthorized" }"#
    );
    let ok = client()
        .post(sim.url())
        .basic_auth("admin", Some("s3cret"))
        .header("Content-Type", "application/json")
        .body(r#"{"command":"list-commands"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // A body Kea cannot parse is a 400 even without credentials.
    let bad = client()
        .post(sim.url())
        .header("Content-Type", "application/json")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// The exact bytes of a 401 head as Kea 3.0.4 sends them (measured): headers sorted by name,
/// `WWW-Authenticate` in capitals, for HTTP/1.1 and HTTP/1.0 requests alike.
#[tokio::test]
async fn unauthorized_head_is_byte_identical_to_kea() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = KeaSim::builder().basic_auth("admin", "s3cret").start().await;
    for version in ["1.1", "1.0"] {
        let mut sock = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        let body = r#"{"command":"list-commands"}"#;
        let req = format!(
            "POST / HTTP/{version}\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while !out.ends_with(b"}") {
            let n = sock.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "connection closed early: {}",
                String::from_utf8_lossy(&out)
            );
            out.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines[0], format!("HTTP/{version} 401 Unauthorized"));
        assert_eq!(lines[1], "Content-Length: 41");
        assert_eq!(lines[2], "Content-Type: application/json");
        assert!(
            lines[3].starts_with("Date: ") && lines[3].ends_with(" GMT"),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "WWW-Authenticate: Basic realm=\"kea-dhcpv4-server\"");
        assert_eq!(lines.len(), 5);
        assert_eq!(body, r#"{ "result": 401, "text": "Unauthorized" }"#);
    }
}

#[tokio::test]
async fn control_agent_mode_needs_service() {
    let sim = KeaSim::builder().mode(Mode::Ca).start().await;
    let a = command(&sim.url(), r#"{"command":"reservation-get","arguments":{}}"#).await;
    assert_eq!(a["result"], 2);
    assert!(
        a["text"]
            .as_str()
            .unwrap()
            .starts_with("'reservation-get' command not supported. You did not include \"service\"")
    );
    let (_, body) = post(
        &sim.url(),
        r#"{"command":"reservation-get","arguments":{},"service":["dhcp4","dhcp6"]}"#,
    )
    .await;
    assert_eq!(
        body,
        r#"[ { "result": 1, "text": "missing parameter 'subnet-id' (<wire>:0:16)" }, { "result": 1, "text": "forwarding socket is not configured for the server type dhcp6" } ]"#
    );
    sim.set_down(true).await;
    let down = command(&sim.url(), r#"{"command":"version-get","service":["dhcp4"]}"#).await;
    assert_eq!(
        down["text"],
        "unable to forward command to the dhcp4 service: No such file or directory. The server is likely to be offline"
    );
    sim.set_down(false).await;
    let up = command(&sim.url(), r#"{"command":"version-get","service":["dhcp4"]}"#).await;
    assert_eq!(up["text"], "3.0.4");
}

#[tokio::test]
async fn builder_subnets_shared_networks_reservations_and_leases() {
    let sim = KeaSim::builder()
        .subnet(1, "10.100.0.0/16")
        .pool(1, "10.100.1.10 - 10.100.1.20")
        .subnet(7, "192.168.7.0/24")
        .pool(7, "192.168.7.100 - 192.168.7.150")
        .shared_network("net-a", &[7])
        .valid_lifetime(600)
        .reservation(1, "02:00:00:00:00:01", Some("10.100.5.1".parse().unwrap()))
        .lease("10.100.1.15".parse().unwrap(), "02:00:00:00:00:09", None)
        .start()
        .await;
    let list = command(&sim.url(), r#"{"command":"subnet4-list"}"#).await;
    assert_eq!(
        list["arguments"]["subnets"][1],
        serde_json::json!({"id": 7, "shared-network-name": "net-a", "subnet": "192.168.7.0/24"})
    );
    assert_eq!(sim.hosts().len(), 1);
    assert_eq!(sim.leases()[0].valid_lft, 600);
    assert_eq!(
        sim.dhcp_acquire("02:00:00:00:00:01", None).unwrap().to_string(),
        "10.100.5.1"
    );
    assert_eq!(
        sim.dhcp_acquire("02:00:00:00:00:02", Some(1))
            .unwrap()
            .to_string(),
        "10.100.1.10"
    );
}
