//! The `kea-sim` binary: flags, configuration errors, serving, admin API, SIGTERM.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kea-sim"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kea-dhcp4.json")
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    let out = bin()
        .args(["--config", "x.json", "--mode", "dhcp6"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("kea-sim: invalid value 'dhcp6' for '--mode"),
        "{err}"
    );
    let out = bin().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
    let out = bin()
        .args(["--config", "x", "--listen", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_exits_0() {
    let out = bin().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--ha-partner"));
}

#[test]
fn invalid_configuration_exits_1_naming_the_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(br#"{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "pools": [{"pool": "10.9.0.1 - 10.9.0.9"}]}]}}"#)
        .unwrap();
    let out = bin().arg("--config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kea-sim: Dhcp4.subnet4[0].pools[0].pool: "), "{err}");
    let out = bin()
        .args(["--config", "/nonexistent/kea.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/kea.json"));
    std::fs::write(&path, "{ \"Dhcp4\": ").unwrap();
    let out = bin().arg("--config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid JSON at line 1"));
}

#[tokio::test]
async fn serves_kea_and_admin_then_stops_on_sigterm() {
    let (kea, admin, partner) = (free_port(), free_port(), free_port());
    let mut child = bin()
        .arg("--config")
        .arg(example())
        .args(["--listen", &format!("127.0.0.1:{kea}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--ha-partner", &format!("127.0.0.1:{partner}")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{kea}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok((200, _)) =
            common::post_with(&common::client(), &url, r#"{"command":"list-commands"}"#).await
        {
            break;
        }
        assert!(Instant::now() < deadline, "kea-sim did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subnets = common::command(&url, r#"{"command":"subnet4-list"}"#).await;
    assert_eq!(subnets["text"], "4 IPv4 subnets found");
    let admin_client = kea_sim::AdminClient::new(&format!("http://127.0.0.1:{admin}")).unwrap();
    let servers = admin_client.servers().await.unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[1].url, format!("http://127.0.0.1:{partner}/"));
    let lease = admin_client
        .dhcp_acquire("primary", "02:00:00:00:00:01", None)
        .await
        .unwrap();
    assert_eq!(
        lease.ip_address.to_string(),
        "10.100.5.1",
        "the configured reservation"
    );
    assert_eq!(
        admin_client.leases("secondary").await.unwrap().len(),
        1,
        "replicated"
    );
    assert_eq!(send_sigterm(child.id()), 0);
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(status, Some(0), "graceful shutdown");
}

/// SIGTERM through kill(1) (the workspace forbids `unsafe`, so no direct libc call).
fn send_sigterm(pid: u32) -> i32 {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .map_or(-1, |s| s.code().unwrap_or(-1))
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
