//! The configuration as Kea prints it (`SrvConfig::toElement`): what `config-get` answers,
//! what `config-write` stores and what `config-hash-get` hashes.
//!
//! Kea prints its parsed configuration, not the file: every default is filled in
//! (`SimpleParser4::setAllDefaults`), lifetimes and TEE settings are inherited by shared
//! networks and subnets (`deriveParameters`), pools are re-printed (`10.0.0.1-10.0.0.9`), and
//! reservations come from the live configuration hosts, sorted by identifier.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::element::{Element, Value};
use crate::model::Pool;
use crate::model::options::{OptionDef, parse_option_defs};
use crate::store::HostStore;

fn int(i: i64) -> Element {
    Element::int(i)
}
fn s(v: &str) -> Element {
    Element::str(v)
}
fn b(v: bool) -> Element {
    Element::bool(v)
}
fn real(v: f64) -> Element {
    Element::real(v)
}

/// `GLOBAL4_DEFAULTS`.
fn global_defaults() -> Vec<(&'static str, Element)> {
    vec![
        ("valid-lifetime", int(7200)),
        ("decline-probation-period", int(86400)),
        ("dhcp4o6-port", int(0)),
        ("echo-client-id", b(true)),
        ("match-client-id", b(true)),
        ("authoritative", b(false)),
        ("next-server", s("0.0.0.0")),
        ("server-hostname", s("")),
        ("boot-file-name", s("")),
        ("server-tag", s("")),
        ("reservations-global", b(false)),
        ("reservations-in-subnet", b(true)),
        ("reservations-out-of-pool", b(false)),
        ("calculate-tee-times", b(false)),
        ("t1-percent", real(0.5)),
        ("t2-percent", real(0.875)),
        ("ddns-send-updates", b(true)),
        ("ddns-override-no-update", b(false)),
        ("ddns-override-client-update", b(false)),
        ("ddns-replace-client-name", s("never")),
        ("ddns-generated-prefix", s("myhost")),
        ("ddns-qualifying-suffix", s("")),
        ("hostname-char-set", s("[^A-Za-z0-9.-]")),
        ("hostname-char-replacement", s("")),
        ("store-extended-info", b(false)),
        ("statistic-default-sample-count", int(20)),
        ("statistic-default-sample-age", int(0)),
        ("early-global-reservations-lookup", b(false)),
        ("ip-reservations-unique", b(true)),
        ("reservations-lookup-first", b(false)),
        ("ddns-update-on-renew", b(false)),
        ("parked-packet-limit", int(256)),
        ("allocator", s("iterative")),
        ("ddns-conflict-resolution-mode", s("check-with-dhcid")),
        ("stash-agent-options", b(false)),
        ("cache-threshold", real(0.25)),
    ]
}

/// `INHERIT_TO_SUBNET4`.
const INHERIT: [&str; 14] = [
    "rebind-timer",
    "relay",
    "renew-timer",
    "valid-lifetime",
    "min-valid-lifetime",
    "max-valid-lifetime",
    "calculate-tee-times",
    "t1-percent",
    "t2-percent",
    "store-extended-info",
    "cache-threshold",
    "cache-max-age",
    "allocator",
    "offer-lifetime",
];

fn set_default(m: &mut BTreeMap<String, Element>, key: &str, v: Element) {
    m.entry(key.to_string()).or_insert(v);
}

fn merged(given: Option<&Element>, defaults: Vec<(&str, Element)>) -> Element {
    let mut m = match given.map(|g| &g.value) {
        Some(Value::Map(m)) => m.clone(),
        _ => BTreeMap::new(),
    };
    for (k, v) in defaults {
        set_default(&mut m, k, v);
    }
    Element::new(Value::Map(m))
}

fn derive(parent: &BTreeMap<String, Element>, child: &mut BTreeMap<String, Element>) {
    for k in INHERIT {
        if !child.contains_key(k)
            && let Some(v) = parent.get(k)
        {
            child.insert(k.to_string(), v.clone());
        }
    }
}

/// The common part of `Network::toElement` for subnets and shared networks.
fn network_common(m: &mut BTreeMap<String, Element>, defs: &[OptionDef]) {
    if m.get("interface").and_then(Element::as_str) == Some("") {
        m.remove("interface");
    }
    if let Some(v) = m.get("valid-lifetime").cloned() {
        set_default(m, "min-valid-lifetime", v.clone());
        set_default(m, "max-valid-lifetime", v);
    }
    let opts = options(m.get("option-data"), defs);
    m.insert("option-data".into(), opts);
    let relay = match m.get("relay") {
        Some(r) => {
            let mut rm = Element::map();
            let addrs = r
                .field("ip-addresses")
                .cloned()
                .unwrap_or_else(|| Element::list(vec![]));
            rm.set("ip-addresses", addrs);
            rm
        }
        None => Element::map_of([("ip-addresses", Element::list(vec![]))]),
    };
    m.insert("relay".into(), relay);
    if let Some(c) = m.remove("comment") {
        let mut ctx = m.remove("user-context").unwrap_or_else(Element::map);
        ctx.set("comment", c);
        m.insert("user-context".into(), ctx);
    }
}

/// Option data as Kea prints it (normalized); left as given when it does not parse.
fn options(e: Option<&Element>, defs: &[OptionDef]) -> Element {
    match e {
        Some(list) => crate::model::options::normalize_option_data(list, defs)
            .map_or_else(|_| list.clone(), Element::list),
        None => Element::list(vec![]),
    }
}

fn subnet(
    raw: &Element,
    parent: &BTreeMap<String, Element>,
    in_network: bool,
    defs: &[OptionDef],
) -> Element {
    let mut m = match &raw.value {
        Value::Map(m) => m.clone(),
        _ => BTreeMap::new(),
    };
    if !in_network {
        set_default(&mut m, "interface", s(""));
    }
    for k in ["4o6-interface", "4o6-interface-id", "4o6-subnet"] {
        set_default(&mut m, k, s(""));
    }
    derive(parent, &mut m);
    class_renames(&mut m);
    network_common(&mut m, defs);
    m.remove("reservations");
    if let Some(Value::List(pools)) = m.get("pools").map(|p| &p.value) {
        let norm: Vec<Element> = pools
            .iter()
            .map(|p| {
                let mut pm = match &p.value {
                    Value::Map(pm) => pm.clone(),
                    _ => BTreeMap::new(),
                };
                if let Some(text) = pm.get("pool").and_then(Element::as_str)
                    && let Ok(pool) = Pool::parse(text)
                {
                    pm.insert("pool".into(), s(&pool.to_text()));
                }
                class_renames(&mut pm);
                comment_to_context(&mut pm);
                let opts = options(pm.get("option-data"), defs);
                pm.insert("option-data".into(), opts);
                Element::new(Value::Map(pm))
            })
            .collect();
        m.insert("pools".into(), Element::list(norm));
    } else {
        m.insert("pools".into(), Element::list(vec![]));
    }
    Element::new(Value::Map(m))
}

fn subnet_id(e: &Element) -> i64 {
    e.field("id").and_then(Element::as_int).unwrap_or(0)
}

/// Build the printed configuration without reservations.
pub fn build(dhcp4: &Element) -> Element {
    let raw: BTreeMap<String, Element> = match &dhcp4.value {
        Value::Map(m) => m.clone(),
        _ => BTreeMap::new(),
    };
    let defs = parse_option_defs(raw.get("option-def"));
    // Scalars (Kea's configured globals) with their defaults.
    let mut g: BTreeMap<String, Element> = raw
        .iter()
        .filter(|(_, v)| !matches!(v.value, Value::Map(_) | Value::List(_)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in global_defaults() {
        set_default(&mut g, k, v);
    }
    if let Some(c) = g.remove("comment") {
        let mut ctx = raw.get("user-context").cloned().unwrap_or_else(Element::map);
        ctx.set("comment", c);
        g.insert("user-context".into(), ctx);
    } else if let Some(ctx) = raw.get("user-context") {
        g.insert("user-context".into(), ctx.clone());
    }
    for key in ["compatibility", "config-control"] {
        if let Some(v) = raw.get(key)
            && v.size().unwrap_or(0) > 0
        {
            g.insert(key.into(), v.clone());
        }
    }
    if let Some(Value::List(l)) = raw.get("loggers").map(|v| &v.value)
        && !l.is_empty()
    {
        g.insert("loggers".into(), Element::list(l.iter().map(logger).collect()));
    }
    if let Some(Value::List(l)) = raw.get("client-classes").map(|v| &v.value)
        && !l.is_empty()
    {
        g.insert(
            "client-classes".into(),
            Element::list(l.iter().map(|c| client_class(c, &defs)).collect()),
        );
    }
    g.insert(
        "dhcp-ddns".into(),
        merged(
            raw.get("dhcp-ddns"),
            vec![
                ("enable-updates", b(false)),
                ("max-queue-size", int(1024)),
                ("ncr-format", s("JSON")),
                ("ncr-protocol", s("UDP")),
                ("sender-ip", s("0.0.0.0")),
                ("sender-port", int(0)),
                ("server-ip", s("127.0.0.1")),
                ("server-port", int(53001)),
            ],
        ),
    );
    let mut ifaces = merged(
        raw.get("interfaces-config"),
        vec![("interfaces", Element::list(vec![])), ("re-detect", b(true))],
    );
    // Kea prints the socket type only when it is not the default (raw).
    if ifaces.field("dhcp-socket-type").and_then(Element::as_str) == Some("raw") {
        ifaces.remove("dhcp-socket-type");
    }
    g.insert("interfaces-config".into(), ifaces);
    g.insert("option-def".into(), option_def_list(raw.get("option-def")));
    g.insert("option-data".into(), options(raw.get("option-data"), &defs));

    // Plain subnets, sorted by id.
    let mut plain: Vec<Element> = match raw.get("subnet4").map(|l| &l.value) {
        Some(Value::List(l)) => l.iter().map(|sn| subnet(sn, &g, false, &defs)).collect(),
        _ => Vec::new(),
    };
    plain.sort_by_key(subnet_id);
    g.insert("subnet4".into(), Element::list(plain));

    // Shared networks: inherit from the globals, subnets inherit from the network.
    let networks: Vec<Element> = match raw.get("shared-networks").map(|l| &l.value) {
        Some(Value::List(l)) => l
            .iter()
            .map(|net| {
                let mut nm = match &net.value {
                    Value::Map(m) => m.clone(),
                    _ => BTreeMap::new(),
                };
                derive(&g, &mut nm);
                let parent = nm.clone();
                let mut subs: Vec<Element> = match nm.get("subnet4").map(|l| &l.value) {
                    Some(Value::List(l)) => l.iter().map(|sn| subnet(sn, &parent, true, &defs)).collect(),
                    _ => Vec::new(),
                };
                subs.sort_by_key(subnet_id);
                nm.insert("subnet4".into(), Element::list(subs));
                class_renames(&mut nm);
                network_common(&mut nm, &defs);
                Element::new(Value::Map(nm))
            })
            .collect(),
        _ => Vec::new(),
    };
    g.insert("shared-networks".into(), Element::list(networks));

    g.insert(
        "expired-leases-processing".into(),
        merged(
            raw.get("expired-leases-processing"),
            vec![
                ("flush-reclaimed-timer-wait-time", int(25)),
                ("hold-reclaimed-time", int(3600)),
                ("max-reclaim-leases", int(100)),
                ("max-reclaim-time", int(250)),
                ("reclaim-timer-wait-time", int(10)),
                ("unwarned-reclaim-cycles", int(5)),
            ],
        ),
    );
    g.insert(
        "lease-database".into(),
        raw.get("lease-database")
            .cloned()
            .unwrap_or_else(|| Element::map_of([("type", s("memfile"))])),
    );
    let mut dbs = Vec::new();
    if let Some(db) = raw.get("hosts-database") {
        dbs.push(db.clone());
    }
    if let Some(Value::List(l)) = raw.get("hosts-databases").map(|l| &l.value) {
        dbs.extend(l.iter().cloned());
    }
    if !dbs.is_empty() {
        g.insert("hosts-databases".into(), Element::list(dbs));
    }
    g.insert(
        "host-reservation-identifiers".into(),
        raw.get("host-reservation-identifiers")
            .cloned()
            .unwrap_or_else(|| {
                Element::list(vec![s("hw-address"), s("duid"), s("circuit-id"), s("client-id")])
            }),
    );
    let sockets: Vec<Element> = match raw.get("control-sockets").map(|l| &l.value) {
        Some(Value::List(l)) => l.iter().map(socket).collect(),
        _ => raw.get("control-socket").map(socket).into_iter().collect(),
    };
    if !sockets.is_empty() {
        g.insert("control-sockets".into(), Element::list(sockets));
    }
    g.insert(
        "hooks-libraries".into(),
        raw.get("hooks-libraries")
            .cloned()
            .unwrap_or_else(|| Element::list(vec![])),
    );
    g.insert(
        "sanity-checks".into(),
        merged(
            raw.get("sanity-checks"),
            vec![("extended-info-checks", s("fix")), ("lease-checks", s("warn"))],
        ),
    );
    g.insert(
        "dhcp-queue-control".into(),
        merged(
            raw.get("dhcp-queue-control"),
            vec![
                ("capacity", int(64)),
                ("enable-queue", b(false)),
                ("queue-type", s("kea-ring4")),
            ],
        ),
    );
    g.insert(
        "multi-threading".into(),
        merged(
            raw.get("multi-threading"),
            vec![
                ("enable-multi-threading", b(true)),
                ("packet-queue-size", int(64)),
                ("thread-pool-size", int(0)),
            ],
        ),
    );
    Element::map_of([("Dhcp4", Element::new(Value::Map(g)))])
}

/// A control socket as Kea keeps it: as given, with the authentication defaults it sets.
/// `comment` becomes `user-context.comment`, as `UserContext::toElement` does.
fn comment_to_context(m: &mut BTreeMap<String, Element>) {
    if let Some(c) = m.remove("comment") {
        let mut ctx = m.remove("user-context").unwrap_or_else(Element::map);
        ctx.set("comment", c);
        m.insert("user-context".into(), ctx);
    }
}

/// Kea 3.0 renames: `client-class` becomes a one-element `client-classes`,
/// `require-client-classes` becomes `evaluate-additional-classes`.
fn class_renames(m: &mut BTreeMap<String, Element>) {
    if let Some(c) = m.remove("client-class")
        && !m.contains_key("client-classes")
        && c.as_str().is_some_and(|s| !s.is_empty())
    {
        m.insert("client-classes".into(), Element::list(vec![c]));
    }
    if let Some(r) = m.remove("require-client-classes") {
        m.entry("evaluate-additional-classes".into()).or_insert(r);
    }
}

/// `LoggingInfo::toElement`.
fn logger(e: &Element) -> Element {
    let mut m = match &e.value {
        Value::Map(m) => m.clone(),
        _ => BTreeMap::new(),
    };
    comment_to_context(&mut m);
    let outputs = m.remove("output-options").or_else(|| m.remove("output_options"));
    if let Some(Value::List(l)) = outputs.map(|o| o.value) {
        let dests: Vec<Element> = l
            .iter()
            .map(|d| {
                let mut dm = match &d.value {
                    Value::Map(dm) => dm.clone(),
                    _ => BTreeMap::new(),
                };
                let output = dm
                    .get("output")
                    .and_then(Element::as_str)
                    .unwrap_or("stdout")
                    .to_string();
                set_default(&mut dm, "output", s(&output));
                set_default(&mut dm, "flush", b(true));
                set_default(&mut dm, "pattern", s(""));
                let special = ["stdout", "stderr", "syslog"].contains(&output.as_str())
                    || output.starts_with("syslog:");
                if special {
                    dm.remove("maxver");
                    dm.remove("maxsize");
                } else {
                    set_default(&mut dm, "maxver", int(1));
                    set_default(&mut dm, "maxsize", int(10_240_000));
                }
                Element::new(Value::Map(dm))
            })
            .collect();
        if !dests.is_empty() {
            m.insert("output-options".into(), Element::list(dests));
        }
    }
    set_default(&mut m, "severity", s("INFO"));
    set_default(&mut m, "debuglevel", int(0));
    Element::new(Value::Map(m))
}

/// `OPTION4_DEF_DEFAULTS` applied to an `option-def` list.
fn option_def_list(list: Option<&Element>) -> Element {
    match list.map(|l| &l.value) {
        Some(Value::List(l)) => Element::list(
            l.iter()
                .map(|d| {
                    let mut dm = match &d.value {
                        Value::Map(dm) => dm.clone(),
                        _ => BTreeMap::new(),
                    };
                    comment_to_context(&mut dm);
                    set_default(&mut dm, "array", b(false));
                    set_default(&mut dm, "encapsulate", s(""));
                    set_default(&mut dm, "record-types", s(""));
                    set_default(&mut dm, "space", s("dhcp4"));
                    Element::new(Value::Map(dm))
                })
                .collect(),
        ),
        _ => Element::list(vec![]),
    }
}

/// `ClientClassDef::toElement` for DHCPv4.
fn client_class(e: &Element, defs: &[OptionDef]) -> Element {
    let raw = match &e.value {
        Value::Map(m) => m.clone(),
        _ => BTreeMap::new(),
    };
    let mut m = BTreeMap::new();
    if let Some(ctx) = raw.get("user-context") {
        m.insert("user-context".into(), ctx.clone());
    }
    if let Some(c) = raw.get("comment") {
        let mut ctx = m.remove("user-context").unwrap_or_else(Element::map);
        ctx.set("comment", c.clone());
        m.insert("user-context".into(), ctx);
    }
    for k in ["name", "offer-lifetime"] {
        if let Some(v) = raw.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    if let Some(t) = raw.get("test").filter(|t| t.as_str() != Some("")) {
        m.insert("test".into(), t.clone());
    }
    if raw
        .get("only-in-additional-list")
        .or_else(|| raw.get("only-if-required"))
        .is_some_and(|v| v.bool_value() == Ok(true))
    {
        m.insert("only-in-additional-list".into(), b(true));
    }
    let mut class_defs = defs.to_vec();
    class_defs.extend(parse_option_defs(raw.get("option-def")));
    m.insert("option-def".into(), option_def_list(raw.get("option-def")));
    m.insert("option-data".into(), options(raw.get("option-data"), &class_defs));
    m.insert(
        "next-server".into(),
        raw.get("next-server").cloned().unwrap_or_else(|| s("0.0.0.0")),
    );
    m.insert(
        "server-hostname".into(),
        raw.get("server-hostname").cloned().unwrap_or_else(|| s("")),
    );
    m.insert(
        "boot-file-name".into(),
        raw.get("boot-file-name").cloned().unwrap_or_else(|| s("")),
    );
    if let Some(v) = raw.get("valid-lifetime") {
        m.insert("valid-lifetime".into(), v.clone());
        for k in ["min-valid-lifetime", "max-valid-lifetime"] {
            if let Some(x) = raw.get(k).filter(|x| x.as_int() != v.as_int()) {
                m.insert(k.into(), x.clone());
            }
        }
    }
    Element::new(Value::Map(m))
}

fn socket(e: &Element) -> Element {
    let mut out = e.clone();
    if let Some(m) = out.map_mut() {
        comment_to_context(m);
    }
    if let Some(Value::Map(m)) = out
        .map_mut()
        .and_then(|m| m.get_mut("authentication"))
        .map(|a| &mut a.value)
    {
        set_default(m, "type", s("basic"));
        set_default(m, "realm", s(super::control::DHCP4_REALM));
        comment_to_context(m);
    }
    out
}

/// Point the first HTTP control socket of a `Dhcp4` map at `addr` (`--listen`).
pub fn set_socket_address(dhcp4: &mut Element, addr: SocketAddr) {
    let Some(m) = dhcp4.map_mut() else {
        return;
    };
    let new_socket = || {
        Element::map_of([
            ("socket-address", s(&addr.ip().to_string())),
            ("socket-port", int(i64::from(addr.port()))),
            ("socket-type", s("http")),
        ])
    };
    if let Some(Value::List(list)) = m.get_mut("control-sockets").map(|l| &mut l.value) {
        if let Some(sock) = list
            .iter_mut()
            .find(|s| s.field("socket-type").and_then(Element::as_str) != Some("unix"))
        {
            sock.set("socket-address", s(&addr.ip().to_string()));
            sock.set("socket-port", int(i64::from(addr.port())));
        } else {
            list.push(new_socket());
        }
        return;
    }
    if let Some(sock) = m.get_mut("control-socket")
        && sock.field("socket-type").and_then(Element::as_str) != Some("unix")
    {
        sock.set("socket-address", s(&addr.ip().to_string()));
        sock.set("socket-port", int(i64::from(addr.port())));
        return;
    }
    m.insert("control-sockets".into(), Element::list(vec![new_socket()]));
}

/// Fill in reservations from the memory store: globals only when there are some, every subnet
/// always (possibly empty), each list sorted by identifier as Kea's host index is.
pub fn with_reservations(base: &Element, memory: &HostStore) -> Element {
    let mut by_subnet: BTreeMap<u32, Vec<(&crate::model::Identifier, u64, Element)>> = BTreeMap::new();
    for (id, h) in memory.iter() {
        by_subnet
            .entry(h.subnet_id)
            .or_default()
            .push((&h.ident, id, h.to_config_element()));
    }
    let mut lists: BTreeMap<u32, Element> = by_subnet
        .into_iter()
        .map(|(sid, mut v)| {
            v.sort_by(|a, b| {
                a.0.bytes
                    .cmp(&b.0.bytes)
                    .then(a.0.kind.cmp(&b.0.kind))
                    .then(a.1.cmp(&b.1))
            });
            (sid, Element::list(v.into_iter().map(|x| x.2).collect()))
        })
        .collect();
    let mut out = base.clone();
    let Some(d) = out
        .map_mut()
        .and_then(|m| m.get_mut("Dhcp4"))
        .and_then(Element::map_mut)
    else {
        return out;
    };
    if let Some(globals) = lists.remove(&0) {
        d.insert("reservations".into(), globals);
    }
    let mut fill = |sn: &mut Element| {
        let id = subnet_id(sn) as u32;
        sn.set(
            "reservations",
            lists.get(&id).cloned().unwrap_or_else(|| Element::list(vec![])),
        );
    };
    if let Some(Value::List(l)) = d.get_mut("subnet4").map(|e| &mut e.value) {
        l.iter_mut().for_each(&mut fill);
    }
    if let Some(Value::List(nets)) = d.get_mut("shared-networks").map(|e| &mut e.value) {
        for net in nets {
            if let Some(Value::List(l)) = net
                .map_mut()
                .and_then(|m| m.get_mut("subnet4"))
                .map(|e| &mut e.value)
            {
                l.iter_mut().for_each(&mut fill);
            }
        }
    }
    out
}
