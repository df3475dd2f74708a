//! The built `kea-operator` binary: invalid configuration is one line naming the variable (exit 2),
//! and `kea-operator check` reports each server and exits 0/1 — against mock servers here, and
//! against real Kea 3.0.4 when it is available (`REQUIRE_REAL_ENV=1` makes it mandatory).

mod kea_support;

use std::process::Output;

use kea_support::{Command, all_commands, answer, ok};
use serde_json::{Value, json};
use testenv::kea::{Hook, KeaProcess};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn operator(env: &[(&str, &str)], args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_kea-operator"))
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .await
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn invalid_configuration_is_one_line_naming_the_variable_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let garbage = garbage.to_str().unwrap();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "KEA_URL"),
        (
            vec![("KEA_URL", "http://kea:8000"), ("KEA_TIMEOUT_SECONDS", "abc")],
            "KEA_TIMEOUT_SECONDS",
        ),
        (
            vec![("KEA_URL", "http://kea:8000"), ("DRY_RUN", "perhaps")],
            "DRY_RUN",
        ),
        (
            vec![("KEA_URL", "http://kea:8000"), ("KEA_HA_WRITE_MODE", "both")],
            "KEA_HA_WRITE_MODE",
        ),
        (
            vec![
                ("KEA_URL", "http://kea:8000"),
                ("KEA_HEALTH_FAILURE_THRESHOLD", "0"),
            ],
            "KEA_HEALTH_FAILURE_THRESHOLD",
        ),
        (vec![("KEA_URL", "http://operator:hunter2@kea:8000")], "KEA_URL"),
        (
            vec![
                ("KEA_URL", "https://kea:8000"),
                ("KEA_BASIC_AUTH_USERNAME", "op"),
                ("KEA_BASIC_AUTH_PASSWORD", "hunter2"),
                ("KEA_TLS_CERT_FILE", garbage),
                ("KEA_TLS_KEY_FILE", garbage),
            ],
            "KEA_TLS_CERT_FILE",
        ),
        // Only visible when the certificate is read: still one line, at start.
        (
            vec![
                ("KEA_URL", "https://kea:8000"),
                ("KEA_TLS_CERT_FILE", garbage),
                ("KEA_TLS_KEY_FILE", garbage),
            ],
            "KEA_TLS_CERT_FILE",
        ),
        (
            vec![("KEA_URL", "https://kea:8000"), ("KEA_TLS_CA_FILE", garbage)],
            "KEA_TLS_CA_FILE",
        ),
    ];
    for (env, variable) in cases {
        for args in [&["check"][..], &["run"][..], &[][..]] {
            let out = operator(&env, args).await;
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{env:?} {args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.contains(variable), "{variable} not named: {err}");
            assert!(!err.contains("hunter2") && !err.contains("panicked"), "{err}");
            assert!(stdout(&out).is_empty());
        }
    }
}

/// A mock Kea that answers everything `check` asks.
async fn mock_kea(commands: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(Command("version-get"))
        .respond_with(answer(0, "3.0.4", Some(json!({"extended": "3.0.4"}))))
        .mount(&server)
        .await;
    Mock::given(Command("list-commands"))
        .respond_with(ok(commands))
        .mount(&server)
        .await;
    Mock::given(Command("status-get"))
        .respond_with(ok(
            json!({"pid": 7, "uptime": 60, "reload": 60, "dhcp-state": {"disabled-by-db-connection": []}}),
        ))
        .mount(&server)
        .await;
    Mock::given(Command("config-get"))
        .respond_with(ok(
            json!({"Dhcp4": {"subnet4": [{"id": 1, "subnet": "10.100.0.0/16"}]}}),
        ))
        .mount(&server)
        .await;
    Mock::given(Command("subnet4-list"))
        .respond_with(ok(
            json!({"subnets": [{"id": 1, "subnet": "10.100.0.0/16", "shared-network-name": null}]}),
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn check_reports_each_server_and_exits_0_when_all_can_serve() {
    let primary = mock_kea(all_commands()).await;
    let secondary = mock_kea(all_commands()).await;
    let env = [("KEA_URL", primary.uri()), ("KEA_SECONDARY_URL", secondary.uri())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = operator(&env, &["check"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for needle in [
        "primary http://127.0.0.1",
        ": OK",
        "version: 3.0.4",
        "operation target: memory",
        "10.100.0.0/16",
        "result: OK",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(text.contains("secondary http://127.0.0.1"));

    let out = operator(&env, &["check", "--output", "json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], json!(true));
    assert_eq!(report["servers"][1]["server"], json!("secondary"));
    assert_eq!(
        report["servers"][0]["subnets"]["subnets"][0]["prefix"],
        json!("10.100.0.0/16")
    );
    assert_eq!(report["servers"][0]["operation_target"], json!("memory"));
}

#[tokio::test]
async fn check_exits_1_with_the_reason_when_a_server_is_down_refuses_us_or_lacks_host_cmds() {
    let healthy = mock_kea(all_commands()).await;
    let no_host_cmds = mock_kea(json!([
        "list-commands",
        "status-get",
        "version-get",
        "config-get",
        "lease4-get-by-hw-address",
        "subnet4-list"
    ]))
    .await;
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&refusing)
        .await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let primary = healthy.uri();
    for (secondary, reason) in [
        (no_host_cmds.uri(), "hook library host_cmds is not loaded"),
        (refusing.uri(), "HTTP 401"),
        (down, "connection refused"),
    ] {
        let env = [
            ("KEA_URL", primary.as_str()),
            ("KEA_SECONDARY_URL", secondary.as_str()),
        ];
        let out = operator(&env, &["check"]).await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("primary http") && text.contains(": OK"), "{text}");
        assert!(
            text.contains("secondary http") && text.contains("FAILED"),
            "{text}"
        );
        assert!(text.contains(reason), "{reason:?} missing:\n{text}");
        assert!(text.contains("result: FAILED (1 of 2 servers"), "{text}");
    }
}

fn write(dir: &tempfile::TempDir, name: &str, content: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write a test file");
    path.to_str().expect("UTF-8 temp path").to_string()
}

/// SPEC's acceptance: `check` against real Kea 3.0.4 — a pair where the secondary speaks HTTPS
/// with basic auth — exits 0 with a correct report, and 1 with the reason when the password is
/// wrong, host_cmds is missing or a server is down.
#[tokio::test(flavor = "multi_thread")]
async fn check_against_real_kea() {
    let mut primary = testenv::need!(KeaProcess::builder().name("check-primary").start().await);
    let primary_url = primary.url().to_string();
    let secondary = testenv::need!(
        KeaProcess::builder()
            .name("check-secondary")
            .basic_auth("operator", "real-pw")
            .tls(false)
            .start()
            .await
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = write(&dir, "ca.pem", &secondary.tls().expect("tls material").ca_pem);
    let password = write(&dir, "password", "real-pw\n");
    let env = |password_file: &str| {
        vec![
            ("KEA_URL".to_string(), primary_url.clone()),
            ("KEA_SECONDARY_URL".to_string(), secondary.url().to_string()),
            ("KEA_TLS_CA_FILE".to_string(), ca.clone()),
            ("KEA_BASIC_AUTH_USERNAME".to_string(), "operator".to_string()),
            (
                "KEA_BASIC_AUTH_PASSWORD_FILE".to_string(),
                password_file.to_string(),
            ),
        ]
    };
    let run = |env: Vec<(String, String)>, args: &'static [&'static str]| async move {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        operator(&env, args).await
    };

    let out = run(env(&password), &["check"]).await;
    let text = stdout(&out);
    println!("{text}");
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("version: 3.0."), "{text}");
    assert!(
        text.contains("hooks: loaded [host_cmds, lease_cmds, subnet_cmds], missing []"),
        "{text}"
    );
    assert!(text.contains("10.100.0.0/16"), "{text}");
    assert!(
        text.contains(&format!("secondary {}", secondary.url())) && text.contains("https://"),
        "{text}"
    );

    let wrong = write(&dir, "wrong", "not-the-password\n");
    let out = run(env(&wrong), &["check"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(!text.contains("not-the-password"));

    let bare = testenv::need!(
        KeaProcess::builder()
            .name("check-no-host-cmds")
            .hooks(&[Hook::LeaseCmds, Hook::SubnetCmds])
            .start()
            .await
    );
    let out = run(vec![("KEA_URL".into(), bare.url().to_string())], &["check"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("hook library host_cmds is not loaded"), "{text}");

    primary.stop().await;
    let out = run(env(&password), &["check", "--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["servers"][0]["reachable"], json!(false));
    assert!(
        report["servers"][0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{report}"
    );
    assert_eq!(report["servers"][1]["ok"], json!(true));
}
