//! The sandbox (`just demo`) run non-interactively, as a user would see it: the `demo` binary with
//! `--exit-after-setup --free-ports`. Its output must show every valid interface Reserved on both
//! kea-sim servers with the conditions the samples promise, and after it exits nothing may listen on
//! its ports. It needs the built binaries and the API server, so a plain `cargo test` skips it; `just
//! demo-check` builds them and runs it with `REQUIRE_REAL_ENV=1`.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// One row of the printed table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    nc: String,
    cols: Vec<String>,
}

/// Every table row, with the NC heading it belongs to, and the headings themselves. A table is a
/// heading, a message line, the column header, then rows up to a blank line.
fn parse_tables(out: &str) -> (Vec<String>, Vec<Row>) {
    let mut headings = Vec::new();
    let mut rows = Vec::new();
    // (NC, whether the column header was seen)
    let mut current: Option<(String, bool)> = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("NetworkConfiguration ") {
            headings.push(line.to_string());
            current = rest.split_whitespace().next().map(|nc| (nc.to_string(), false));
            continue;
        }
        let Some((nc, in_rows)) = &mut current else {
            continue;
        };
        let cols: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if cols.is_empty() {
            current = None;
        } else if cols[0] == "INTERFACE" {
            *in_rows = true;
        } else if *in_rows {
            rows.push(Row { nc: nc.clone(), cols });
        }
    }
    (headings, rows)
}

#[test]
#[ignore = "needs the release binaries and the API server: run through `just demo-check`"]
fn the_demo_reserves_every_valid_interface_on_both_servers_and_cleans_up() {
    testenv::need!(e2e::artifacts::operator_binary());
    testenv::need!(e2e::artifacts::kea_sim_binary());
    testenv::need!(testenv::kube::binaries());

    let dir = std::env::temp_dir().join(format!("kea-operator-demo-check-{}", std::process::id()));
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--exit-after-setup", "--free-ports", "--dir"])
        .arg(&dir)
        .output()
        .expect("the demo binary runs");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "demo exited {} after {:.1?}\n{out}\n{err}",
        output.status,
        started.elapsed()
    );
    assert!(output.status.success(), "the demo failed (output above)");

    let (headings, rows) = parse_tables(&out);
    let ncs: BTreeSet<&str> = rows.iter().map(|r| r.nc.as_str()).collect();
    assert_eq!(
        ncs,
        BTreeSet::from(["demo/db-1", "demo/edge-1", "demo/web-1"]),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 6, "{rows:?}");
    let prefix: ipnet::Ipv4Net = "10.100.1.0/24".parse().expect("prefix");
    let mut addresses = BTreeSet::new();
    for row in &rows {
        let [iface, mac, state, ip, primary, secondary] = &row.cols[..] else {
            panic!("a row has six columns: {row:?}")
        };
        if iface == "mgmt" {
            assert_eq!(
                (state.as_str(), ip.as_str(), primary.as_str(), secondary.as_str()),
                ("InvalidMac", "-", "-", "-"),
                "{row:?}"
            );
            continue;
        }
        assert_eq!(state, "Reserved", "{row:?}");
        assert_eq!((primary.as_str(), secondary.as_str()), ("yes", "yes"), "{row:?}");
        assert_eq!(mac, &mac.to_ascii_lowercase(), "normalized MAC: {row:?}");
        let ip: Ipv4Addr = ip.parse().expect("an address");
        assert!(prefix.contains(&ip), "{ip} outside {prefix}");
        assert!(addresses.insert(ip), "{ip} reserved twice");
    }
    assert_eq!(addresses.len(), 5);

    let heading = |nc: &str| {
        headings
            .iter()
            .find(|h| h.starts_with(&format!("NetworkConfiguration {nc} ")))
            .unwrap_or_else(|| panic!("no heading for {nc}: {headings:?}"))
    };
    for nc in ["demo/web-1", "demo/db-1"] {
        let h = heading(nc);
        assert!(
            h.contains("Ready=True (Reserved)") && h.contains("ServersInSync=True (InSync)"),
            "{h}"
        );
    }
    // One typo does not block the rest: Ready is False for it, the valid interface is in sync.
    let h = heading("demo/edge-1");
    assert!(
        h.contains("Ready=False (InvalidSpec)") && h.contains("ServersInSync=True (InSync)"),
        "{h}"
    );
    assert!(
        out.contains("db-1 eth1 is WaitingForLease"),
        "the late device's interface must be seen waiting first"
    );
    assert!(out.contains("verified: 5/5 valid interfaces Reserved on both kea-sim servers"));
    assert!(out.contains("export KUBECONFIG="));

    // Nothing is left listening on the ports the demo printed.
    let stopped = out
        .lines()
        .find(|l| l.starts_with("stopped in "))
        .expect("a stop line");
    let ports: Vec<u16> = stopped
        .split("ports ")
        .nth(1)
        .and_then(|rest| rest.split(" closed").next())
        .expect("the ports")
        .split(", ")
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(ports.len(), 4, "{stopped}");
    for port in ports {
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
            "port {port} still accepts connections after the demo exited"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tables_are_parsed_per_network_configuration() {
    let out = "noise\nNetworkConfiguration demo/a   phase Ready   Ready=True (Reserved)   ServersInSync=True (InSync)\n    Ready: 1/1 interfaces reserved on primary\n    INTERFACE  MAC  STATE  IPV4  PRIMARY  SECONDARY\n    eth0  02:00:00:00:00:01  Reserved  10.100.1.10  yes  yes\n\nverified: 1/1\n";
    let (headings, rows) = parse_tables(out);
    assert_eq!(headings.len(), 1);
    assert_eq!(
        rows,
        vec![Row {
            nc: "demo/a".into(),
            cols: [
                "eth0",
                "02:00:00:00:00:01",
                "Reserved",
                "10.100.1.10",
                "yes",
                "yes"
            ]
            .map(String::from)
            .to_vec(),
        }]
    );
}
