//! Memory check (SPEC §9: 1,000,000 reservations in kea-sim take less than 1 GiB): adds N
//! reservations (default 1,000,000) through `reservation-add`, as a client would, and prints
//! the resident set size.
//!
//! `cargo run --release -p kea-sim --example million_hosts [N]`

use std::time::Instant;

use kea_sim::element::parse_request;
use kea_sim::server::Node;

const CONFIG: &str = r#"{"Dhcp4": {
  "hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_host_cmds.so"}],
  "subnet4": [{"id": 1, "subnet": "10.0.0.0/8", "pools": [{"pool": "10.0.0.10 - 10.0.0.200"}]}]
}}"#;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let node = Node::standalone(kea_sim::config::parse_text(CONFIG, None)?);
    let before = rss_kib();
    let start = Instant::now();
    for i in 0..n {
        let b = i.to_be_bytes();
        let body = format!(
            r#"{{"command":"reservation-add","arguments":{{"reservation":{{"subnet-id":1,"hw-address":"02:00:{:02x}:{:02x}:{:02x}:{:02x}","ip-address":"{}","hostname":"host-{i}"}},"operation-target":"memory"}}}}"#,
            b[0],
            b[1],
            b[2],
            b[3],
            std::net::Ipv4Addr::from(0x0a00_0100 + i),
        );
        let cmd = parse_request(body.as_bytes())?;
        let answer = kea_sim::commands::process(&node, Some(&cmd));
        if answer.field("result").and_then(kea_sim::element::Element::as_int) != Some(0) {
            return Err(format!("host {i}: {answer}").into());
        }
    }
    let elapsed = start.elapsed();
    let after = rss_kib();
    println!(
        "{n} reservations in {:.1} s ({:.0}/s); RSS {} MiB (+{} MiB)",
        elapsed.as_secs_f64(),
        f64::from(n) / elapsed.as_secs_f64(),
        after / 1024,
        after.saturating_sub(before) / 1024
    );
    let probe = parse_request(
        br#"{"command":"reservation-get","arguments":{"subnet-id":1,"identifier-type":"hw-address","identifier":"02:00:00:0f:42:3f"}}"#,
    )?;
    println!("{}", kea_sim::commands::process(&node, Some(&probe)));
    Ok(())
}
