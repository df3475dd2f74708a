//! What the sandbox shows at the end: per NetworkConfiguration its conditions and a row per
//! interface (MAC, state, reserved address, and whether each Kea server really holds it), built from
//! two independent sources — the NC status the operator wrote in the API server, and the hosts each
//! kea-sim server holds (its admin API) — so the table is a check, not a copy of the operator's own
//! claims. Every place where the two disagree is a [`Report::problems`] entry.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

use kea_operator::crd::{InterfaceState, NetworkConfiguration};
use kube::ResourceExt as _;
use serde_json::Value;

use crate::invariants::normalize_mac;
use crate::kea::{KeaHost, Role};

/// What one Kea server holds for one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// A reservation with this installation's marker for this NC and interface, at the status address.
    Yes,
    /// Nothing for this interface.
    No,
    /// Our reservation, but at another address than the status reports.
    Differs(Ipv4Addr),
    /// A reservation for the MAC without our marker (someone else's: a conflict).
    Foreign(Ipv4Addr),
    /// No valid MAC and nothing held: there is nothing to reserve.
    NotApplicable,
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Presence::Yes => f.write_str("yes"),
            Presence::No => f.write_str("no"),
            Presence::Differs(ip) => write!(f, "at {ip}"),
            Presence::Foreign(ip) => write!(f, "foreign {ip}"),
            Presence::NotApplicable => f.write_str("-"),
        }
    }
}

/// One interface of one NC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub interface: String,
    /// Normalized when valid, else as declared.
    pub mac: String,
    pub mac_valid: bool,
    /// The interface state from the status (`-` before the first reconcile).
    pub state: String,
    pub ip: Option<Ipv4Addr>,
    pub primary: Presence,
    pub secondary: Presence,
}

impl Row {
    /// Reserved in the status and held, at that address, by both servers.
    pub fn reserved_on_both(&self) -> bool {
        self.state == InterfaceState::Reserved.as_str()
            && self.primary == Presence::Yes
            && self.secondary == Presence::Yes
    }

    fn presence(&self, role: Role) -> Presence {
        match role {
            Role::Primary => self.primary,
            Role::Secondary => self.secondary,
        }
    }
}

/// A condition as read from the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionView {
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// One NetworkConfiguration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcReport {
    pub namespace: String,
    pub name: String,
    /// The status was computed from the current spec (`observedGeneration`).
    pub current: bool,
    pub phase: String,
    pub ready: Option<ConditionView>,
    pub servers_in_sync: Option<ConditionView>,
    pub rows: Vec<Row>,
}

/// Every NC, and where the API server and the Kea servers disagree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub ncs: Vec<NcReport>,
    pub problems: Vec<String>,
}

/// The marker fields of a host written by `instance`, if it carries one.
fn marker<'a>(host: &'a KeaHost, instance: &str) -> Option<(&'a str, &'a str)> {
    let m = host.marker()?;
    let field = |k: &str| m.get(k).and_then(Value::as_str);
    (field("instance") == Some(instance)).then_some(())?;
    Some((field("owner")?, field("interface")?))
}

fn condition(nc: &NetworkConfiguration, type_: &str) -> Option<ConditionView> {
    crate::k8s::condition(nc, type_).map(|c| ConditionView {
        status: c.status.clone(),
        reason: c.reason.clone(),
        message: c.message.clone(),
    })
}

impl Report {
    /// Compares the NCs' status with the hosts each server holds; `instance` is the operator's
    /// `KEA_OPERATOR_INSTANCE`.
    pub fn build(
        ncs: &[NetworkConfiguration],
        hosts: &BTreeMap<Role, Vec<KeaHost>>,
        instance: &str,
    ) -> Report {
        let mut report = Report::default();
        let empty = Vec::new();
        let on = |role: Role| hosts.get(&role).unwrap_or(&empty);
        // Hosts with our marker that some row accounts for; the rest are reported as strays.
        let mut explained: BTreeMap<Role, Vec<bool>> = Role::BOTH
            .iter()
            .map(|r| (*r, vec![false; on(*r).len()]))
            .collect();
        let mut ncs: Vec<&NetworkConfiguration> = ncs.iter().collect();
        ncs.sort_by_key(|nc| (nc.namespace(), nc.name_any()));
        for nc in ncs {
            let owner = format!("{}/{}", nc.namespace().unwrap_or_default(), nc.name_any());
            let status = nc.status.as_ref();
            let mut rows = Vec::new();
            for declared in &nc.spec.network_interfaces {
                let st = status.and_then(|s| s.network_interfaces.iter().find(|i| i.name == declared.name));
                let normalized = normalize_mac(&declared.mac_address);
                let state = st
                    .and_then(|s| s.state)
                    .map_or_else(|| "-".to_string(), |s| s.as_str().to_string());
                let ip: Option<Ipv4Addr> = st
                    .and_then(|s| s.ipv4_address.as_deref())
                    .and_then(|a| a.parse().ok());
                let mut row = Row {
                    interface: declared.name.clone(),
                    mac: normalized.clone().unwrap_or_else(|| declared.mac_address.clone()),
                    mac_valid: normalized.is_some(),
                    state,
                    ip,
                    primary: Presence::NotApplicable,
                    secondary: Presence::NotApplicable,
                };
                for role in Role::BOTH {
                    let list = on(role);
                    let ours = list
                        .iter()
                        .position(|h| marker(h, instance) == Some((owner.as_str(), declared.name.as_str())));
                    let presence = match (ours, &normalized) {
                        (Some(at), _) => {
                            if let Some(seen) = explained.get_mut(&role) {
                                seen[at] = true;
                            }
                            let host = &list[at];
                            if Some(host.ip) == row.ip && Some(&host.hw_address) == normalized.as_ref() {
                                Presence::Yes
                            } else {
                                Presence::Differs(host.ip)
                            }
                        }
                        (None, Some(mac)) => match list.iter().find(|h| &h.hw_address == mac) {
                            Some(h) if marker(h, instance).is_none() => Presence::Foreign(h.ip),
                            _ => Presence::No,
                        },
                        (None, None) => Presence::NotApplicable,
                    };
                    match role {
                        Role::Primary => row.primary = presence,
                        Role::Secondary => row.secondary = presence,
                    }
                }
                report.check_row(&owner, &row, st.map(|s| s.servers.as_slice()).unwrap_or_default());
                rows.push(row);
            }
            report.ncs.push(NcReport {
                namespace: nc.namespace().unwrap_or_default(),
                name: nc.name_any(),
                current: crate::k8s::current(nc),
                phase: status
                    .and_then(|s| s.phase)
                    .map_or_else(|| "-".to_string(), |p| format!("{p:?}")),
                ready: condition(nc, kea_operator::core::status::READY),
                servers_in_sync: condition(nc, kea_operator::core::status::SERVERS_IN_SYNC),
                rows,
            });
        }
        for role in Role::BOTH {
            for (host, seen) in on(role).iter().zip(&explained[&role]) {
                if !seen && marker(host, instance).is_some() {
                    report.problems.push(format!(
                        "{role} holds a reservation with our marker that no NC declares: {host}"
                    ));
                }
            }
        }
        report
    }

    /// The status and the servers disagree about one interface.
    fn check_row(&mut self, owner: &str, row: &Row, servers: &[kea_operator::crd::ServerStatus]) {
        let what = format!("{owner} {}", row.interface);
        let reserved = row.state == InterfaceState::Reserved.as_str();
        if reserved && row.ip.is_none() {
            self.problems
                .push(format!("{what}: Reserved without an address in the status"));
        }
        for role in Role::BOTH {
            let says = servers
                .iter()
                .find(|s| s.name == role.as_str())
                .is_some_and(|s| s.reserved);
            let holds = row.presence(role);
            match (says, holds) {
                (true, Presence::Yes) | (false, Presence::No | Presence::NotApplicable) => {}
                (true, other) => self.problems.push(format!(
                    "{what}: the status says reserved on {role}, kea-sim {role} shows {other}"
                )),
                (false, Presence::Foreign(_)) => {} // a conflict: reported by the state, not a disagreement
                (false, other) => self.problems.push(format!(
                    "{what}: the status says not reserved on {role}, kea-sim {role} shows {other}"
                )),
            }
        }
    }

    /// Every interface with a valid MAC is Reserved and held by both servers, every status is
    /// current, and nothing disagrees.
    pub fn converged(&self) -> bool {
        self.problems.is_empty()
            && self.ncs.iter().all(|nc| {
                nc.current
                    && nc.rows.iter().all(|r| {
                        if r.mac_valid {
                            r.reserved_on_both()
                        } else {
                            r.state == "InvalidMac"
                        }
                    })
            })
    }

    /// `(valid interfaces, of them reserved on both servers, invalid MACs)`.
    pub fn counts(&self) -> (usize, usize, usize) {
        let rows = self.ncs.iter().flat_map(|nc| &nc.rows);
        let valid = rows.clone().filter(|r| r.mac_valid).count();
        let both = rows
            .clone()
            .filter(|r| r.mac_valid && r.reserved_on_both())
            .count();
        let invalid = rows.filter(|r| !r.mac_valid).count();
        (valid, both, invalid)
    }

    /// The tables, one per NC.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let header = ["INTERFACE", "MAC", "STATE", "IPV4", "PRIMARY", "SECONDARY"];
        let cells = |r: &Row| -> [String; 6] {
            [
                r.interface.clone(),
                r.mac.clone(),
                r.state.clone(),
                r.ip.map_or_else(|| "-".to_string(), |ip| ip.to_string()),
                r.primary.to_string(),
                r.secondary.to_string(),
            ]
        };
        let mut widths = header.map(str::len);
        for row in self.ncs.iter().flat_map(|nc| &nc.rows) {
            for (w, c) in widths.iter_mut().zip(cells(row)) {
                *w = (*w).max(c.len());
            }
        }
        let line = |out: &mut String, cols: [String; 6]| {
            let mut text = String::from("   ");
            for (c, w) in cols.iter().zip(widths) {
                let _ = write!(text, " {c:<w$} ");
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        let cond = |c: &Option<ConditionView>| {
            c.as_ref()
                .map_or_else(|| "-".to_string(), |c| format!("{} ({})", c.status, c.reason))
        };
        for nc in &self.ncs {
            let _ = writeln!(
                out,
                "NetworkConfiguration {}/{}   phase {}   Ready={}   ServersInSync={}",
                nc.namespace,
                nc.name,
                nc.phase,
                cond(&nc.ready),
                cond(&nc.servers_in_sync)
            );
            if let Some(c) = &nc.ready {
                let _ = writeln!(out, "    Ready: {}", c.message);
            }
            line(&mut out, header.map(String::from));
            for row in &nc.rows {
                line(&mut out, cells(row));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use kea_operator::crd::{InterfaceStatus, NetworkConfigurationStatus, NetworkInterface, ServerStatus};
    use serde_json::json;

    use super::*;

    /// name, MAC, state, address, reserved on (primary, secondary) per the status
    type Declared<'a> = (
        &'a str,
        &'a str,
        Option<InterfaceState>,
        Option<&'a str>,
        [bool; 2],
    );

    fn nc(interfaces: &[Declared]) -> NetworkConfiguration {
        let mut nc = crate::sandbox::samples::network_configurations()[0].object();
        nc.metadata.namespace = Some("demo".into());
        nc.metadata.generation = Some(1);
        nc.spec.network_interfaces = interfaces
            .iter()
            .map(|(name, mac, ..)| NetworkInterface {
                name: (*name).into(),
                mac_address: (*mac).into(),
            })
            .collect();
        nc.status = Some(NetworkConfigurationStatus {
            observed_generation: Some(1),
            network_interfaces: interfaces
                .iter()
                .map(|(name, mac, state, ip, on)| InterfaceStatus {
                    name: (*name).into(),
                    mac_address: Some((*mac).into()),
                    state: *state,
                    ipv4_address: ip.map(String::from),
                    servers: Role::BOTH
                        .iter()
                        .zip(on)
                        .map(|(r, reserved)| ServerStatus {
                            name: r.as_str().into(),
                            subnet_id: Some(1),
                            reserved: *reserved,
                            error: None,
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
        nc
    }

    fn host(mac: &str, ip: &str, owner: Option<(&str, &str)>) -> KeaHost {
        KeaHost {
            subnet_id: 1,
            hw_address: mac.into(),
            ip: ip.parse().expect("ip"),
            user_context: owner.map(|(o, i)| {
                json!({"kea-operator": {"v": 1, "instance": "demo", "owner": o, "uid": "u", "interface": i}})
            }),
        }
    }

    const A: &str = "02:00:00:00:10:01";
    const B: &str = "02:00:00:00:10:0a";

    #[test]
    fn agreeing_sources_converge_and_render_one_row_per_interface() {
        let reserved = Some(InterfaceState::Reserved);
        let ncs = [nc(&[
            ("eth0", A, reserved, Some("10.100.1.10"), [true, true]),
            (
                "mgmt",
                "02:00:00:00:30",
                Some(InterfaceState::InvalidMac),
                None,
                [false, false],
            ),
        ])];
        let h = host(A, "10.100.1.10", Some(("demo/web-1", "eth0")));
        let hosts = BTreeMap::from([(Role::Primary, vec![h.clone()]), (Role::Secondary, vec![h])]);
        let report = Report::build(&ncs, &hosts, "demo");
        assert!(report.converged(), "{report:?}");
        assert_eq!(report.counts(), (1, 1, 1));
        let text = report.render();
        assert!(text.contains("NetworkConfiguration demo/web-1"), "{text}");
        let row = text.lines().find(|l| l.contains("eth0")).expect("row");
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols, ["eth0", A, "Reserved", "10.100.1.10", "yes", "yes"]);
        let invalid = text.lines().find(|l| l.contains("mgmt")).expect("row");
        assert_eq!(
            invalid.split_whitespace().collect::<Vec<_>>(),
            ["mgmt", "02:00:00:00:30", "InvalidMac", "-", "-", "-"]
        );
    }

    #[test]
    fn a_status_the_servers_do_not_back_is_a_problem() {
        let reserved = Some(InterfaceState::Reserved);
        let ncs = [nc(&[
            ("eth0", A, reserved, Some("10.100.1.10"), [true, true]),
            ("eth1", B, reserved, Some("10.100.1.11"), [true, true]),
        ])];
        let hosts = BTreeMap::from([
            (
                Role::Primary,
                vec![
                    host(A, "10.100.1.10", Some(("demo/web-1", "eth0"))),
                    host(B, "10.100.1.11", Some(("demo/web-1", "eth1"))),
                    host("02:00:00:00:99:99", "10.100.1.99", Some(("demo/gone", "eth0"))),
                ],
            ),
            (
                Role::Secondary,
                vec![
                    // eth0 missing, eth1 at another address.
                    host(B, "10.100.1.12", Some(("demo/web-1", "eth1"))),
                ],
            ),
        ]);
        let report = Report::build(&ncs, &hosts, "demo");
        assert!(!report.converged());
        let all = report.problems.join("\n");
        assert!(
            all.contains("eth0: the status says reserved on secondary, kea-sim secondary shows no"),
            "{all}"
        );
        assert!(
            all.contains(
                "eth1: the status says reserved on secondary, kea-sim secondary shows at 10.100.1.12"
            ),
            "{all}"
        );
        assert!(
            all.contains("no NC declares: subnet 1 02:00:00:00:99:99"),
            "{all}"
        );
        assert_eq!(report.problems.len(), 3, "{all}");
        // Neither is held correctly by both servers.
        assert_eq!(report.counts(), (2, 0, 0));
    }

    #[test]
    fn waiting_and_foreign_hosts_are_shown_but_not_converged() {
        let ncs = [nc(&[
            (
                "eth0",
                A,
                Some(InterfaceState::WaitingForLease),
                None,
                [false, false],
            ),
            ("eth1", B, Some(InterfaceState::Conflict), None, [false, false]),
        ])];
        let hosts = BTreeMap::from([(Role::Primary, vec![host(B, "10.100.1.50", None)])]);
        let report = Report::build(&ncs, &hosts, "demo");
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert!(!report.converged());
        let rows = &report.ncs[0].rows;
        assert_eq!((rows[0].primary, rows[0].secondary), (Presence::No, Presence::No));
        assert_eq!(
            rows[1].primary,
            Presence::Foreign("10.100.1.50".parse().expect("ip"))
        );
        // A host our status does not claim but the server holds with our marker is a problem.
        let hosts = BTreeMap::from([(
            Role::Secondary,
            vec![host(A, "10.100.1.10", Some(("demo/web-1", "eth0")))],
        )]);
        let report = Report::build(&ncs, &hosts, "demo");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("says not reserved on secondary")),
            "{:?}",
            report.problems
        );
    }
}
