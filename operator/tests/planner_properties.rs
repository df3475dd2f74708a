//! Properties of the planner (issue 5), over generated scenarios with small pools of MACs, addresses
//! and subnets so that collisions (same MAC in two places, an address taken, overlapping subnets)
//! are common.

mod planner_support;

use std::collections::{BTreeMap, BTreeSet};

use kea_operator::core::annotation::{Reservations, Reserved};
use kea_operator::core::error_class::Reason;
use kea_operator::core::marker::{MARKER_KEY, OwnerMarker, Ownership};
use kea_operator::core::namespace::PrefixError;
use kea_operator::core::planner::{
    Action, Outcome, PlanInput, ServerInput, ServerState, plan, plan_deletion,
};
use kea_operator::core::status::render;
use kea_operator::core::{Host, Lease, Mac, ServerId, Subnet, SubnetId};
use kea_operator::crd::NetworkInterface;
use planner_support::*;
use proptest::prelude::*;
use serde_json::json;

const PREFIXES: [&str; 3] = ["10.100.1.0/24", "10.100.1.0/25", "10.100.2.0/24"];
const SUBNETS: [&str; 5] = [
    "10.100.0.0/16",
    "10.100.1.0/24",
    "10.100.1.0/25",
    "10.100.1.128/25",
    "10.100.2.0/24",
];
const ADDRESSES: [&str; 9] = [
    "10.100.1.1",
    "10.100.1.2",
    "10.100.1.3",
    "10.100.1.4",
    "10.100.1.129",
    "10.100.1.130",
    "10.100.2.1",
    "10.100.2.2",
    "10.200.0.1",
];
const NAMES: [&str; 4] = ["eth0", "eth1", "eth2", "old"];

/// Who marked a generated host.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Ours(usize),
    YoungerNc,
    OlderNc,
    VanishedNc,
    OtherInstance,
    Unmarked,
    Malformed,
}

#[derive(Debug, Clone)]
struct GenHost {
    subnet: usize,
    mac: u8,
    address: usize,
    owner: Owner,
    hostname: bool,
}

#[derive(Debug, Clone)]
struct GenServer {
    available: bool,
    subnets: Vec<usize>,
    hosts: Vec<GenHost>,
}

#[derive(Debug, Clone)]
struct Scenario {
    interfaces: Vec<(usize, Option<u8>)>,
    prefix: Option<usize>,
    servers: Vec<GenServer>,
    secondary_configured: bool,
    primary_active: bool,
    leases: Vec<(u8, usize, i64, u32)>,
    annotation: Vec<(bool, usize, u8, usize)>,
    claims: Vec<(u8, bool)>,
    legacy: bool,
}

fn owner() -> impl Strategy<Value = Owner> {
    prop_oneof![
        4 => (0..NAMES.len()).prop_map(Owner::Ours),
        1 => Just(Owner::YoungerNc),
        1 => Just(Owner::OlderNc),
        1 => Just(Owner::VanishedNc),
        1 => Just(Owner::OtherInstance),
        2 => Just(Owner::Unmarked),
        1 => Just(Owner::Malformed),
    ]
}

fn gen_server() -> impl Strategy<Value = GenServer> {
    let host = (
        0..SUBNETS.len(),
        1u8..=5,
        0..ADDRESSES.len(),
        owner(),
        any::<bool>(),
    )
        .prop_map(|(subnet, mac, address, owner, hostname)| GenHost {
            subnet,
            mac,
            address,
            owner,
            hostname,
        });
    (
        prop::bool::weighted(0.85),
        prop::collection::btree_set(0..SUBNETS.len(), 0..4),
        prop::collection::vec(host, 0..8),
    )
        .prop_map(|(available, subnets, hosts)| GenServer {
            available,
            subnets: subnets.into_iter().collect(),
            hosts,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec((0..NAMES.len(), prop::option::weighted(0.9, 1u8..=5)), 0..4),
        prop::option::weighted(0.9, 0..PREFIXES.len()),
        prop::collection::vec(gen_server(), 2),
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::collection::vec(
            (
                1u8..=5,
                0..ADDRESSES.len(),
                0i64..5000,
                prop_oneof![4 => Just(0u32), 1 => 1u32..4],
            ),
            0..6,
        ),
        prop::collection::vec(
            (any::<bool>(), 0..SUBNETS.len(), 1u8..=5, 0..ADDRESSES.len()),
            0..4,
        ),
        prop::collection::vec((1u8..=5, any::<bool>()), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(
                interfaces,
                prefix,
                servers,
                secondary_configured,
                primary_active,
                leases,
                annotation,
                claims,
                legacy,
            )| {
                Scenario {
                    interfaces,
                    prefix,
                    servers,
                    secondary_configured,
                    primary_active,
                    leases,
                    annotation,
                    claims,
                    legacy,
                }
            },
        )
}

/// Subnet ids differ between the servers (SPEC §4): the secondary's are offset by 10.
fn subnet_id(server: ServerId, index: usize) -> SubnetId {
    let base = u32::try_from(index).expect("small") + 1;
    SubnetId(if server == ServerId::Primary {
        base
    } else {
        base + 10
    })
}

fn gen_host(server: ServerId, h: &GenHost) -> Host {
    let marker = |owner: &str, uid: &str, instance: &str, iface: &str| {
        Some(OwnerMarker::new(instance, owner, uid, iface).merge_into(Some(&json!({"site": "oslo"}))))
    };
    let user_context = match h.owner {
        Owner::Ours(name) => marker(OWNER, UID, INSTANCE, NAMES[name]),
        Owner::YoungerNc => marker("tenant-b/young", "uid-young", INSTANCE, "nic0"),
        Owner::OlderNc => marker("tenant-b/old", "uid-old", INSTANCE, "nic0"),
        Owner::VanishedNc => marker("tenant-b/gone", "uid-gone", INSTANCE, "nic0"),
        Owner::OtherInstance => marker(OWNER, UID, "staging", "eth0"),
        Owner::Unmarked => None,
        Owner::Malformed => Some(json!({MARKER_KEY: {"v": 7}})),
    };
    Host {
        subnet_id: subnet_id(server, h.subnet),
        hw_address: mac(h.mac),
        ip_address: ip(ADDRESSES[h.address]),
        hostname: h.hostname.then(|| "host".to_string()),
        user_context,
        source: None,
    }
}

/// The planner input and the Kea models of the scenario; every server's `hosts` is its full content.
fn build(s: &Scenario) -> (PlanInput, BTreeMap<ServerId, KeaModel>) {
    let mut fixture = Fixture::new();
    let input = &mut fixture.input;
    input.interfaces = s
        .interfaces
        .iter()
        .map(|(name, m)| NetworkInterface {
            name: NAMES[*name].into(),
            mac_address: m
                .map(|m| mac(m).to_string().to_uppercase().replace(':', "-"))
                .unwrap_or_else(|| "garbage".into()),
        })
        .collect();
    input.prefix = match s.prefix {
        Some(p) => Ok(net(PREFIXES[p])),
        None => Err(PrefixError::NotFound {
            namespace: "tenant-a".into(),
            name: None,
        }),
    };
    let mut models = BTreeMap::new();
    input.servers.clear();
    for (spec, id) in s.servers.iter().zip(ServerId::ALL) {
        if id == ServerId::Secondary && !s.secondary_configured {
            continue;
        }
        let subnets: Vec<Subnet> = spec
            .subnets
            .iter()
            .map(|i| Subnet {
                id: subnet_id(id, *i),
                prefix: net(SUBNETS[*i]),
                shared_network: None,
            })
            .collect();
        let hosts: Vec<Host> = spec
            .hosts
            .iter()
            .filter(|h| spec.subnets.contains(&h.subnet))
            .map(|h| gen_host(id, h))
            .collect();
        let model = KeaModel::new(subnets.clone(), &hosts);
        let state = if spec.available {
            ServerState::Available {
                subnets,
                hosts: model.host_list(),
            }
        } else {
            ServerState::Unavailable {
                reason: Reason::KeaUnavailable,
                message: "connection refused".into(),
            }
        };
        input.servers.push(ServerInput { id, state });
        models.insert(id, model);
    }
    let available: Vec<ServerId> = input
        .servers
        .iter()
        .filter(|s| matches!(s.state, ServerState::Available { .. }))
        .map(|s| s.id)
        .collect();
    input.active = if s.primary_active {
        available.first().copied()
    } else {
        available.last().copied()
    };
    input.leases = s
        .leases
        .iter()
        .map(|(m, a, age, state)| {
            let mut l: Lease = lease(mac(*m), ADDRESSES[*a], *age);
            l.state = *state;
            l
        })
        .collect();
    let mut annotation = Reservations::default();
    for (primary, subnet, m, a) in &s.annotation {
        let server = if *primary {
            ServerId::Primary
        } else {
            ServerId::Secondary
        };
        annotation.insert(
            server,
            Reserved {
                subnet_id: subnet_id(server, *subnet),
                mac: mac(*m),
                ip: ip(ADDRESSES[*a]),
            },
        );
    }
    input.annotation = annotation;
    for (m, older) in &s.claims {
        let (uid, owner, created) = if *older {
            ("uid-old", "tenant-b/old", "2025-06-01T00:00:00Z")
        } else {
            ("uid-young", "tenant-b/young", "2026-01-05T00:00:00Z")
        };
        fixture = fixture.claim(mac(*m), uid, owner, created);
    }
    fixture.input.legacy_finalizer = s.legacy;
    (fixture.input, models)
}

fn refresh(input: &PlanInput, models: &BTreeMap<ServerId, KeaModel>, annotation: Reservations) -> PlanInput {
    let mut next = input.clone();
    next.annotation = annotation;
    for server in &mut next.servers {
        if let (ServerState::Available { hosts, .. }, Some(model)) =
            (&mut server.state, models.get(&server.id))
        {
            *hosts = model.host_list();
        }
    }
    next
}

/// `PROPTEST_CASES` raises the case count for a long run (e.g. 100000).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ownership(host: &Host) -> Ownership {
    host.ownership(INSTANCE, UID)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), ..ProptestConfig::default() })]

    /// Planning again after the actions are applied yields no actions; with full knowledge of the
    /// servers every action succeeds (Kea never refuses a planned write).
    #[test]
    fn planning_again_after_applying_yields_no_actions(s in scenario()) {
        let (input, mut models) = build(&s);
        let first = plan(&input);
        let results = apply_all(first.actions(), &mut models);
        for (id, outcome) in &results {
            prop_assert_eq!(outcome, &Outcome::Done, "action {} {:?} failed", id, first.actions()[id.0]);
        }
        let annotation = first.clone().into_applied(results).annotation();
        let second = plan(&refresh(&input, &models, annotation));
        prop_assert!(second.is_noop(), "second plan: {:?}\nfirst plan: {:?}", second.actions(), first.actions());
        if std::env::var_os("PLANNER_STATS").is_some() {
            let kinds: Vec<&str> = first.actions().iter().map(|a| a.action.operation()).collect();
            eprintln!("STATS {}", kinds.join(","));
        }
    }

    /// A host without this instance's marker is never deleted or replaced; adoption (legacy
    /// finalizer) only re-adds an unmarked host with its subnet, MAC, address and context intact.
    #[test]
    fn a_host_without_our_marker_is_never_deleted_or_replaced(s in scenario()) {
        let (input, _) = build(&s);
        for planned in plan(&input).actions() {
            match &planned.action {
                Action::Add { .. } => {}
                Action::Delete { host } => prop_assert_eq!(ownership(host), Ownership::Ours),
                Action::Replace { old, .. } => prop_assert!(ownership(old).is_this_instance(), "{:?}", old),
                Action::Adopt { old, new } => {
                    prop_assert!(input.legacy_finalizer);
                    prop_assert_eq!(ownership(old), Ownership::Unmarked);
                    prop_assert_eq!((old.subnet_id, old.hw_address, old.ip_address), (new.subnet_id, new.hw_address, new.ip_address));
                    prop_assert_eq!(&old.hostname, &new.hostname);
                    if let Some(serde_json::Value::Object(before)) = &old.user_context {
                        for (k, v) in before {
                            prop_assert_eq!(new.user_context.as_ref().and_then(|c| c.get(k)), Some(v));
                        }
                    }
                }
            }
        }
    }

    /// No plan puts one IP on two MACs or one MAC on two IPs in a subnet: the hosts a plan creates on
    /// a server are unique per (subnet, IP) and (subnet, MAC), and, applied in order to a server that
    /// enforces both (as Kea does), none is refused and the final state is unique too.
    #[test]
    fn no_plan_puts_one_ip_on_two_macs_or_one_mac_on_two_ips(s in scenario()) {
        let (input, mut models) = build(&s);
        let p = plan(&input);
        for server in ServerId::ALL {
            let created: Vec<&Host> = p.actions_for(server).filter_map(|a| a.action.result_host()).collect();
            let by_ip: BTreeSet<(SubnetId, std::net::Ipv4Addr)> = created.iter().map(|h| (h.subnet_id, h.ip_address)).collect();
            let by_mac: BTreeSet<(SubnetId, Mac)> = created.iter().map(|h| (h.subnet_id, h.hw_address)).collect();
            prop_assert_eq!(by_ip.len(), created.len());
            prop_assert_eq!(by_mac.len(), created.len());
        }
        for (_, outcome) in apply_all(p.actions(), &mut models) {
            prop_assert_eq!(outcome, Outcome::Done);
        }
        for model in models.values() {
            let ips: BTreeSet<_> = model.hosts.values().map(|h| (h.subnet_id, h.ip_address)).collect();
            prop_assert_eq!(ips.len(), model.hosts.len());
        }
    }

    /// A deletion plan removes exactly the hosts owned by this NC (its uid in this instance's marker),
    /// on every server that answered.
    #[test]
    fn deletion_plans_remove_exactly_the_owned_hosts(s in scenario()) {
        let (input, models) = build(&s);
        let deletion = plan_deletion(&input.nc, INSTANCE, &input.servers);
        let planned: BTreeSet<(ServerId, SubnetId, Mac)> = deletion
            .actions()
            .iter()
            .map(|a| match &a.action {
                Action::Delete { host } => (a.server, host.subnet_id, host.hw_address),
                other => panic!("a deletion plan only deletes: {other:?}"),
            })
            .collect();
        let owned: BTreeSet<(ServerId, SubnetId, Mac)> = input
            .servers
            .iter()
            .filter(|s| matches!(s.state, ServerState::Available { .. }))
            .flat_map(|s| models[&s.id].hosts.values().filter(|h| ownership(h) == Ownership::Ours).map(move |h| (s.id, h.subnet_id, h.hw_address)))
            .collect();
        prop_assert_eq!(planned, owned);
    }

    /// Status is a function of the results: rendering it again over the written status changes
    /// nothing (so it is written only when something changed).
    #[test]
    fn status_is_written_only_when_it_changes(s in scenario()) {
        let (input, mut models) = build(&s);
        let p = plan(&input);
        let results = apply_all(p.actions(), &mut models);
        let applied = p.into_applied(results);
        let config = kea_operator::config::RequeueConfig::default();
        let first = render(&applied, None, input.now, &config);
        prop_assert!(first.changed);
        let later = input.now.checked_add(jiff::SignedDuration::from_secs(600)).expect("in range");
        let second = render(&applied, Some(&first.status), later, &config);
        prop_assert!(!second.changed, "{:?}", second.status);
    }
}

fn arbitrary_context() -> impl Strategy<Value = Option<serde_json::Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!("x"))),
        Just(Some(json!({MARKER_KEY: null}))),
        ("[a-z-]{0,8}", "[a-z/-]{0,8}", "[a-z-]{0,8}", "\\PC{0,6}").prop_map(|(i, o, u, n)| {
            Some(json!({MARKER_KEY: {"v": 1, "instance": i, "owner": o, "uid": u, "interface": n}}))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1000), ..ProptestConfig::default() })]

    /// The planner (and everything downstream of it) never panics, whatever it is given.
    #[test]
    fn planner_never_panics_on_arbitrary_input(
        interfaces in prop::collection::vec(("\\PC{0,6}", "\\PC{0,20}"), 0..5),
        prefix in (any::<u32>(), 0u8..=32),
        subnets in prop::collection::vec((1u32..6, any::<u32>(), 0u8..=32), 0..5),
        hosts in prop::collection::vec((1u32..6, any::<[u8; 6]>(), any::<u32>(), arbitrary_context()), 0..8),
        leases in prop::collection::vec((any::<[u8; 6]>(), any::<u32>(), any::<u64>(), any::<u64>(), any::<u32>()), 0..5),
        annotation in "\\PC{0,80}",
        claims in prop::collection::vec((any::<[u8; 6]>(), "[a-z-]{0,6}", any::<i32>()), 0..3),
        now in any::<i32>(),
        legacy in any::<bool>(),
        active in prop::option::of(any::<bool>()),
    ) {
        let to_net = |a: u32, l: u8| ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(a), l).expect("len <= 32");
        let subnets: Vec<Subnet> = subnets.into_iter().map(|(id, a, l)| Subnet { id: SubnetId(id), prefix: to_net(a, l), shared_network: None }).collect();
        let hosts: Vec<Host> = hosts
            .into_iter()
            .map(|(id, m, a, ctx)| Host { subnet_id: SubnetId(id), hw_address: Mac::from_octets(m), ip_address: a.into(), hostname: None, user_context: ctx, source: None })
            .collect();
        let mut input = Fixture::new().input;
        input.interfaces = interfaces.into_iter().map(|(name, mac_address)| NetworkInterface { name, mac_address }).collect();
        input.prefix = Ok(to_net(prefix.0, prefix.1));
        for server in &mut input.servers {
            server.state = ServerState::Available { subnets: subnets.clone(), hosts: hosts.clone() };
        }
        input.leases = leases.into_iter().map(|(m, a, cltt, valid_lft, state)| Lease {
            ip_address: a.into(), hw_address: Mac::from_octets(m), subnet_id: SubnetId(1), cltt, valid_lft, state, hostname: None,
        }).collect();
        input.annotation = Reservations::parse(Some(&annotation)).reservations;
        input.claims = claims.into_iter().map(|(m, uid, secs)| kea_operator::core::planner::MacClaim {
            mac: Mac::from_octets(m), uid, owner: "x/y".into(), created: jiff::Timestamp::from_second(i64::from(secs)).expect("in range"),
        }).collect();
        input.now = jiff::Timestamp::from_second(i64::from(now)).expect("in range");
        input.legacy_finalizer = legacy;
        input.active = active.map(|p| if p { ServerId::Primary } else { ServerId::Secondary });
        let _ = input.host_lookups();
        let p = plan(&input);
        let _ = p.intent_annotation();
        let results: Vec<_> = p.actions().iter().map(|a| (a.id, Outcome::Done)).collect();
        let applied = p.into_applied(results);
        let _ = applied.annotation().render();
        let _ = applied.events();
        let _ = render(&applied, None, input.now, &kea_operator::config::RequeueConfig::default());
        let _ = plan_deletion(&input.nc, INSTANCE, &input.servers);
    }
}
