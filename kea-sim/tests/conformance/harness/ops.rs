//! Random Kea command sequences for differential testing: valid and invalid requests over a small
//! pool of MACs and addresses, so that duplicates, conflicts, misses and paging all happen.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::case::{Case, Setup, Step};

const MACS: usize = 6;

fn mac(i: usize) -> String {
    format!("aa:bb:cc:00:01:{i:02x}")
}

/// An address in subnet 1 (10.100.0.0/16), or outside it for index 6.
fn host_ip(i: usize) -> String {
    if i >= 6 {
        "10.200.0.7".to_string()
    } else {
        format!("10.100.5.{}", i + 1)
    }
}

fn lease_ip(i: usize) -> String {
    format!("10.100.1.{}", 101 + i)
}

/// One generated request (or restart).
#[derive(Debug, Clone)]
pub enum Op {
    ReservationAdd {
        mac: usize,
        ip: usize,
        subnet: u32,
        target: Option<&'static str>,
        hostname: bool,
        context: bool,
    },
    ReservationGet {
        mac: usize,
        subnet: u32,
        target: Option<&'static str>,
    },
    ReservationGetByAddress {
        ip: usize,
    },
    ReservationGetAll {
        subnet: u32,
    },
    ReservationGetPage {
        subnet: u32,
        limit: u32,
        from: Option<u32>,
    },
    ReservationUpdate {
        mac: usize,
        ip: usize,
        target: Option<&'static str>,
    },
    ReservationDel {
        mac: usize,
        by_ip: bool,
        target: Option<&'static str>,
    },
    LeaseAdd {
        ip: usize,
        mac: usize,
        subnet: Option<u32>,
    },
    LeaseGet {
        ip: usize,
    },
    LeaseGetByHw {
        mac: usize,
        upper: bool,
    },
    LeaseGetAll,
    LeaseGetPage {
        from: Option<usize>,
        limit: u32,
    },
    LeaseUpdate {
        ip: usize,
        mac: usize,
        force: bool,
    },
    LeaseDel {
        ip: usize,
    },
    LeaseWipe {
        subnet: Option<u32>,
    },
    Subnet4Get {
        id: u32,
    },
    Subnet4List,
    ListCommands,
    ConfigWrite,
    Unknown,
    Restart,
}

fn target() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        6 => Just(Some("memory")),
        2 => Just(Some("all")),
        1 => Just(None),
        1 => Just(Some("database")),
        1 => Just(Some("nowhere")),
    ]
}

fn subnet() -> impl Strategy<Value = u32> {
    prop_oneof![8 => Just(1u32), 1 => Just(2u32), 1 => Just(9u32)]
}

/// Any one op, weighted towards reservations (the operator's traffic).
pub fn op() -> impl Strategy<Value = Op> {
    let m = 0..MACS;
    prop_oneof![
        8 => (m.clone(), 0..7usize, subnet(), target(), any::<bool>(), any::<bool>()).prop_map(
            |(mac, ip, subnet, target, hostname, context)| Op::ReservationAdd { mac, ip, subnet, target, hostname, context }),
        5 => (m.clone(), subnet(), prop_oneof![Just(None), Just(Some("memory"))])
            .prop_map(|(mac, subnet, target)| Op::ReservationGet { mac, subnet, target }),
        2 => (0..7usize).prop_map(|ip| Op::ReservationGetByAddress { ip }),
        2 => subnet().prop_map(|subnet| Op::ReservationGetAll { subnet }),
        2 => (subnet(), 0..4u32, proptest::option::of(0..8u32))
            .prop_map(|(subnet, limit, from)| Op::ReservationGetPage { subnet, limit, from }),
        3 => (m.clone(), 0..7usize, target()).prop_map(|(mac, ip, target)| Op::ReservationUpdate { mac, ip, target }),
        4 => (m.clone(), any::<bool>(), target()).prop_map(|(mac, by_ip, target)| Op::ReservationDel { mac, by_ip, target }),
        3 => (0..6usize, m.clone(), proptest::option::of(prop_oneof![Just(1u32), Just(2u32)]))
            .prop_map(|(ip, mac, subnet)| Op::LeaseAdd { ip, mac, subnet }),
        2 => (0..6usize).prop_map(|ip| Op::LeaseGet { ip }),
        2 => (m.clone(), any::<bool>()).prop_map(|(mac, upper)| Op::LeaseGetByHw { mac, upper }),
        1 => Just(Op::LeaseGetAll),
        1 => (proptest::option::of(0..6usize), 0..4u32).prop_map(|(from, limit)| Op::LeaseGetPage { from, limit }),
        2 => (0..6usize, m, any::<bool>()).prop_map(|(ip, mac, force)| Op::LeaseUpdate { ip, mac, force }),
        2 => (0..6usize).prop_map(|ip| Op::LeaseDel { ip }),
        1 => proptest::option::of(prop_oneof![Just(1u32), Just(2u32)]).prop_map(|subnet| Op::LeaseWipe { subnet }),
        1 => prop_oneof![Just(1u32), Just(2u32), Just(7u32)].prop_map(|id| Op::Subnet4Get { id }),
        1 => Just(Op::Subnet4List),
        1 => Just(Op::ListCommands),
        1 => Just(Op::ConfigWrite),
        1 => Just(Op::Unknown),
        1 => Just(Op::Restart),
    ]
}

fn with_target(mut args: Value, target: Option<&str>) -> Value {
    if let (Some(t), Value::Object(m)) = (target, &mut args) {
        m.insert("operation-target".into(), json!(t));
    }
    args
}

fn command(cmd: &str, args: Option<Value>) -> Step {
    let mut v = json!({"command": cmd});
    if let Some(a) = args {
        v["arguments"] = a;
    }
    // The literal has only known fields: a failure is a bug here.
    serde_json::from_value(v).expect("step literal")
}

impl Op {
    /// The case step for this op.
    pub fn step(&self) -> Step {
        match self {
            Op::ReservationAdd {
                mac: m,
                ip,
                subnet,
                target,
                hostname,
                context,
            } => {
                let mut host =
                    json!({"subnet-id": subnet, "hw-address": mac(*m), "ip-address": host_ip(*ip)});
                if *hostname {
                    host["hostname"] = json!(format!("host-{m}"));
                }
                if *context {
                    host["user-context"] = json!({"owner": format!("nc-{m}")});
                }
                command(
                    "reservation-add",
                    Some(with_target(json!({"reservation": host}), *target)),
                )
            }
            Op::ReservationGet {
                mac: m,
                subnet,
                target,
            } => command(
                "reservation-get",
                Some(with_target(
                    json!({"subnet-id": subnet, "identifier-type": "hw-address", "identifier": mac(*m)}),
                    *target,
                )),
            ),
            Op::ReservationGetByAddress { ip } => command(
                "reservation-get-by-address",
                Some(json!({"ip-address": host_ip(*ip)})),
            ),
            Op::ReservationGetAll { subnet } => {
                command("reservation-get-all", Some(json!({"subnet-id": subnet})))
            }
            Op::ReservationGetPage { subnet, limit, from } => {
                let mut a = json!({"subnet-id": subnet, "limit": limit});
                if let Some(f) = from {
                    a["from"] = json!(f);
                    a["source-index"] = json!(0);
                }
                command("reservation-get-page", Some(a))
            }
            Op::ReservationUpdate { mac: m, ip, target } => command(
                "reservation-update",
                Some(with_target(
                    json!({"reservation": {"subnet-id": 1, "hw-address": mac(*m), "ip-address": host_ip(*ip), "hostname": "updated"}}),
                    *target,
                )),
            ),
            Op::ReservationDel {
                mac: m,
                by_ip,
                target,
            } => {
                let a = if *by_ip {
                    json!({"subnet-id": 1, "ip-address": host_ip(*m)})
                } else {
                    json!({"subnet-id": 1, "identifier-type": "hw-address", "identifier": mac(*m)})
                };
                command("reservation-del", Some(with_target(a, *target)))
            }
            Op::LeaseAdd { ip, mac: m, subnet } => {
                let mut a = json!({"ip-address": lease_ip(*ip), "hw-address": mac(*m)});
                if let Some(s) = subnet {
                    a["subnet-id"] = json!(s);
                }
                command("lease4-add", Some(a))
            }
            Op::LeaseGet { ip } => command("lease4-get", Some(json!({"ip-address": lease_ip(*ip)}))),
            Op::LeaseGetByHw { mac: m, upper } => {
                let hw = if *upper { mac(*m).to_uppercase() } else { mac(*m) };
                command("lease4-get-by-hw-address", Some(json!({"hw-address": hw})))
            }
            Op::LeaseGetAll => command("lease4-get-all", None),
            Op::LeaseGetPage { from, limit } => {
                let from = from.map_or_else(|| "start".to_string(), lease_ip);
                command("lease4-get-page", Some(json!({"from": from, "limit": limit})))
            }
            Op::LeaseUpdate { ip, mac: m, force } => command(
                "lease4-update",
                Some(json!({"ip-address": lease_ip(*ip), "hw-address": mac(*m), "force-create": force})),
            ),
            Op::LeaseDel { ip } => command("lease4-del", Some(json!({"ip-address": lease_ip(*ip)}))),
            Op::LeaseWipe { subnet } => command("lease4-wipe", subnet.map(|s| json!({"subnet-id": s}))),
            Op::Subnet4Get { id } => command("subnet4-get", Some(json!({"id": id}))),
            Op::Subnet4List => command("subnet4-list", None),
            Op::ListCommands => command("list-commands", None),
            Op::ConfigWrite => command("config-write", None),
            Op::Unknown => command("frobnicate", None),
            Op::Restart => serde_json::from_value(json!({"action": "restart"})).expect("step literal"),
        }
    }
}

/// A case (base config, plain dhcp4 socket) running `ops`.
pub fn case_of(name: &str, ops: &[Op]) -> Case {
    Case {
        name: name.to_string(),
        description: String::new(),
        setup: Setup::default(),
        steps: ops.iter().map(Op::step).collect(),
    }
}
