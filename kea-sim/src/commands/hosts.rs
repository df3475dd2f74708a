//! The `reservation-*` commands (Kea's `host_cmds` hook) and the host manager behind them
//! (`HostMgr`): memory ("primary source") and hosts databases ("alternate sources") with
//! Kea's `operation-target` semantics.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::answer::{CmdError, CmdResult, answer, code};
use super::args::{get_address, get_integer, get_integer_range, get_string};
use crate::config::ServerConfig;
use crate::element::{Element, Pos, Value};
use crate::model::Host;
use crate::model::host::{SUBNET_ID_MAX, parse_io_address, parse_reservation4};
use crate::model::ident::{IdentType, decode_formatted_hex, quoted_string_to_binary};
use crate::server::Node;
use crate::store::{HostDb, HostStore};

/// Kea's `SUBNET_ID_UNUSED`: a host without an IPv4 subnet.
const SUBNET_ID_UNUSED: u32 = u32::MAX;

/// `HostMgrOperationTarget`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Unspecified,
    Memory,
    Database,
    All,
}

impl Target {
    fn memory(self) -> bool {
        matches!(self, Target::Memory | Target::All)
    }
    fn database(self) -> bool {
        matches!(self, Target::Database | Target::All)
    }
    fn or(self, default: Target) -> Target {
        if self == Target::Unspecified {
            default
        } else {
            self
        }
    }
}

fn operation_target(args: &Element) -> Result<Target, CmdError> {
    if args.get("operation-target")?.is_none() {
        return Ok(Target::Unspecified);
    }
    Ok(match get_string(args, "operation-target")? {
        "memory" => Target::Memory,
        "database" => Target::Database,
        "all" => Target::All,
        "default" => Target::Unspecified,
        raw => {
            return Err(CmdError::error(format!(
                "The 'operation-target' value ({raw}) is not within expected set: (memory, database, all, default)"
            )));
        }
    })
}

/// Parsed parameters of reservation-get / reservation-del.
struct Params {
    subnet_id: u32,
    has_subnet: bool,
    by_addr: Option<IpAddr>,
    ident: Option<(IdentType, Vec<u8>)>,
    target: Target,
}

fn not_map() -> CmdError {
    CmdError::error("Parameters missing or are not a map.")
}

fn parse_identifier(
    type_el: Option<&Element>,
    ident_el: Option<&Element>,
    missing_prefix: &str,
) -> Result<(IdentType, Vec<u8>, String, String), CmdError> {
    let type_s = type_el.and_then(Element::as_str).ok_or_else(|| {
        CmdError::error(format!(
            "{missing_prefix}'identifier-type' is either missing or not a string."
        ))
    })?;
    let ident_s = ident_el.and_then(Element::as_str).ok_or_else(|| {
        CmdError::error(format!(
            "{missing_prefix}'identifier' is either missing or not a string."
        ))
    })?;
    let mut bytes = quoted_string_to_binary(ident_s);
    if bytes.is_empty() {
        bytes = decode_formatted_hex(ident_s)
            .map_err(|_| CmdError::error("Unable to parse 'identifier' value."))?;
    }
    if bytes.is_empty() {
        return Err(CmdError::error("Unable to query for empty 'identifier'."));
    }
    let kind = IdentType::from_name(type_s)
        .ok_or_else(|| CmdError::error("Value of 'identifier-type' was not recognized."))?;
    Ok((kind, bytes, type_s.to_string(), ident_s.to_string()))
}

/// `HostCmdsImpl::getParameters`.
fn get_parameters(args: Option<&Element>) -> Result<Params, CmdError> {
    let args = args.filter(|a| a.is_map()).ok_or_else(not_map)?;
    let addr = args.field("ip-address");
    let type_el = args.field("identifier-type");
    let ident_el = args.field("identifier");
    let mut p = Params {
        subnet_id: 0,
        has_subnet: false,
        by_addr: None,
        ident: None,
        target: Target::Unspecified,
    };
    if args.field("subnet-id").is_some() || (addr.is_none() && type_el.is_none() && ident_el.is_none()) {
        p.subnet_id = get_integer_range(args, "subnet-id", 0, SUBNET_ID_MAX)? as u32;
        p.has_subnet = true;
    }
    p.target = operation_target(args)?;
    if let Some(a) = addr {
        let s = a
            .as_str()
            .ok_or_else(|| CmdError::error("'ip-address' is not a string."))?;
        p.by_addr = Some(parse_io_address(s)?);
        if !p.has_subnet {
            return Err(CmdError::error(format!(
                "missing parameter 'subnet-id', use 'reservation-get-by-address' with 'ip-address' set to \"{s}\" to get the list of reservations with this address"
            )));
        }
        return Ok(p);
    }
    let (kind, bytes, type_s, ident_s) =
        parse_identifier(type_el, ident_el, "No 'ip-address' provided and ")?;
    if !p.has_subnet {
        return Err(CmdError::error(format!(
            "missing parameter 'subnet-id', use 'reservation-get-by-id' with 'identifier-type' set to \"{type_s}\" and 'identifier' to \"{ident_s}\" to get the list of reservations with this identifier"
        )));
    }
    p.ident = Some((kind, bytes));
    Ok(p)
}

/// `HostDataParser4::parseWithSubnet`.
fn parse_with_subnet(cfg: &ServerConfig, resv: &Element, required: bool) -> Result<Host, CmdError> {
    let entries = resv.map_value()?;
    let mut subnet = SUBNET_ID_UNUSED;
    let mut rest = BTreeMap::new();
    for (k, v) in entries {
        if k == "subnet-id" {
            let Some(i) = v.as_int() else {
                return Err(CmdError::error("'subnet-id' parameter is not integer."));
            };
            if !(0..=SUBNET_ID_MAX).contains(&i) {
                return Err(CmdError::error(format!(
                    "subnet-id: {i} is invalid, must be between 0 and {SUBNET_ID_MAX} (inclusive)."
                )));
            }
            subnet = i as u32;
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    if required && subnet == SUBNET_ID_UNUSED {
        return Err(CmdError::error(
            "Mandatory 'subnet-id' parameter missing. Use `reservation-get-by-id' or 'reservation-get-by-address' to get the list of reservations with given identifier or address.",
        ));
    }
    Ok(parse_reservation4(
        &Element::new(Value::Map(rest)),
        subnet,
        Pos::default(),
        &cfg.option_defs,
    )?)
}

/// `checkHost4`: a host without subnet id is global unless it reserves an address.
fn check_host4(cfg: &ServerConfig, host: &Host) -> Result<bool, CmdError> {
    if host.subnet_id != SUBNET_ID_UNUSED {
        return Ok(false);
    }
    let Some(addr) = host.reserved_ip() else {
        return Ok(true);
    };
    let mut matching = cfg.subnets.iter().filter(|s| s.in_range(addr));
    match matching.next() {
        None => Err(CmdError::error(format!(
            "Mandatory 'subnet-id' parameter missing. The address '{addr}' belongs to no configured subnet."
        ))),
        Some(s) => {
            let others = if matching.next().is_some() {
                " and others."
            } else {
                "."
            };
            Err(CmdError::error(format!(
                "Mandatory 'subnet-id' parameter missing. The address '{addr}' belongs to subnet '{}' id {}{others}",
                s.to_text(),
                s.id
            )))
        }
    }
}

/// `validateHostForSubnet4`.
fn validate_subnet4(cfg: &ServerConfig, subnet_id: u32, addr: Ipv4Addr) -> Result<(), CmdError> {
    if subnet_id == 0 {
        return Ok(());
    }
    let subnet = cfg
        .subnet(subnet_id)
        .ok_or_else(|| CmdError::error(format!("IPv4 subnet with ID of '{subnet_id}' is not configured")))?;
    if !addr.is_unspecified() && !subnet.in_range(addr) {
        return Err(CmdError::error(format!(
            "specified reservation '{addr}' is not matching the IPv4 subnet prefix '{}'",
            subnet.to_text()
        )));
    }
    Ok(())
}

fn hosts_answer(hosts: Vec<Element>) -> Element {
    let n = hosts.len();
    let mut args = Element::map();
    args.set("hosts", Element::list(hosts));
    answer(
        if n > 0 { code::SUCCESS } else { code::EMPTY },
        &format!("{n} IPv4 host(s) found."),
        Some(args),
    )
}

fn with_dbs<T>(dbs: &[Arc<HostDb>], mut f: impl FnMut(&mut HostStore) -> T) -> Vec<T> {
    dbs.iter().map(|db| f(&mut db.hosts.lock())).collect()
}

/// What `collect` finds in each source the operation target names: memory first, then every
/// hosts database, in Kea's order for the `reservation-get-*` answers.
fn from_sources(
    node: &Node,
    cfg: &ServerConfig,
    target: Target,
    collect: impl Fn(&HostStore) -> Vec<Element>,
) -> Result<Vec<Element>, CmdError> {
    let mut out = Vec::new();
    if target.memory() {
        out.extend(collect(&node.read().memory));
    }
    if target.database() {
        for v in with_dbs(&node.alternate_sources(cfg)?, |s| collect(s)) {
            out.extend(v);
        }
    }
    Ok(out)
}

/// `reservation-add`.
pub fn add(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.ok_or_else(|| CmdError::error("no parameters specified for the command"))?;
    let target = operation_target(args)?.or(Target::Database);
    let resv = args
        .get("reservation")?
        .ok_or_else(|| CmdError::error("reservation must be specified"))?;
    let cfg = node.config();
    let mut host = parse_with_subnet(&cfg, resv, false)?;
    let force_global = check_host4(&cfg, &host)?;
    if force_global {
        host.subnet_id = 0;
    }
    if target == Target::Database && !node_has_db(node, &cfg) {
        return Err(CmdError::error("Host database not available, cannot add host."));
    }
    validate_subnet4(&cfg, host.subnet_id, host.ip)?;
    if target.memory() {
        node.write()
            .memory
            .add_memory(host.clone(), cfg.ip_reservations_unique)?;
    }
    if target.database() {
        let dbs = node.alternate_sources(&cfg)?;
        if dbs.is_empty() && !target.memory() {
            return Err(CmdError::error(
                "Unable to add new host because there is no hosts-database configured.",
            ));
        }
        for db in &dbs {
            db.hosts
                .lock()
                .add_database(host.clone(), cfg.ip_reservations_unique)?;
        }
    }
    let text = if force_global {
        "Host added. subnet-id not specified, assumed global (subnet-id 0)."
    } else {
        "Host added."
    };
    Ok(answer(code::SUCCESS, text, None))
}

/// Whether Kea still has a hosts database object (configured and not known lost).
fn node_has_db(node: &Node, cfg: &ServerConfig) -> bool {
    crate::server::dbconn::present_count(node, cfg) > 0
}

/// `reservation-get`.
pub fn get(node: &Node, args: Option<&Element>) -> CmdResult {
    let p = get_parameters(args)?;
    let target = p.target.or(Target::All);
    let cfg = node.config();
    let lookup = |store: &HostStore| -> Option<Element> {
        match (&p.by_addr, &p.ident) {
            (Some(IpAddr::V4(a)), _) => store
                .find_subnet_ip(p.subnet_id, *a)
                .first()
                .map(|(_, h)| h.to_element4_with_subnet()),
            (Some(IpAddr::V6(_)), _) => None,
            (None, Some((kind, bytes))) => store
                .find_ident(p.subnet_id, *kind, bytes)
                .map(|(_, h)| h.to_element4_with_subnet()),
            (None, None) => None,
        }
    };
    let mut found = None;
    if target.memory() {
        found = lookup(&node.read().memory);
    }
    if found.is_none() && target.database() && node_has_db(node, &cfg) {
        for db in node.alternate_sources(&cfg)? {
            found = lookup(&db.hosts.lock());
            if found.is_some() {
                break;
            }
        }
    }
    Ok(match found {
        Some(h) => answer(code::SUCCESS, "Host found.", Some(h)),
        None => answer(code::EMPTY, "Host not found.", None),
    })
}

/// `reservation-get-by-address`.
pub fn get_by_address(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.filter(|a| a.is_map()).ok_or_else(not_map)?;
    let addr = get_address(args, "ip-address")?;
    let mut subnet = None;
    if args.field("subnet-id").is_some() {
        subnet = Some(get_integer_range(args, "subnet-id", 0, SUBNET_ID_MAX)? as u32);
    }
    let target = operation_target(args)?.or(Target::All);
    let cfg = node.config();
    if let Some(s) = subnet {
        validate_subnet4(&cfg, s, Ipv4Addr::UNSPECIFIED)?;
    }
    let IpAddr::V4(addr) = addr else {
        return Ok(hosts_answer(Vec::new()));
    };
    let collect = |store: &HostStore| -> Vec<Element> {
        let hosts = match subnet {
            Some(s) => store.find_subnet_ip(s, addr),
            None => store.find_ip(addr),
        };
        hosts
            .into_iter()
            .map(|(_, h)| h.to_element4_with_subnet())
            .collect()
    };
    Ok(hosts_answer(from_sources(node, &cfg, target, collect)?))
}

/// `reservation-get-all`.
pub fn get_all(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.filter(|a| a.is_map()).ok_or_else(not_map)?;
    let subnet = get_integer_range(args, "subnet-id", 0, SUBNET_ID_MAX)? as u32;
    let target = operation_target(args)?.or(Target::All);
    let cfg = node.config();
    validate_subnet4(&cfg, subnet, Ipv4Addr::UNSPECIFIED)?;
    let collect = |store: &HostStore| -> Vec<Element> {
        store
            .in_subnet(subnet)
            .map(|(_, h)| h.to_element4_with_subnet())
            .collect()
    };
    Ok(hosts_answer(from_sources(node, &cfg, target, collect)?))
}

/// `reservation-get-page`: pages memory (source 0) then each database (1, 2, ...);
/// `operation-target` is not read.
pub fn get_page(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.filter(|a| a.is_map()).ok_or_else(not_map)?;
    let limit = get_integer_range(args, "limit", 0, i64::from(u32::MAX))?;
    let mut subnet = None;
    if args.field("subnet-id").is_some() {
        subnet = Some(get_integer_range(args, "subnet-id", 0, SUBNET_ID_MAX)? as u32);
    }
    let mut idx = 0usize;
    if args.field("source-index").is_some() {
        idx = get_integer_range(args, "source-index", 0, 10)? as usize;
    }
    let mut from = 0u64;
    if args.field("from").is_some() {
        from = get_integer(args, "from")? as u64;
    }
    if limit == 0 {
        return Err(CmdError::error("page size of retrieved hosts must not be 0"));
    }
    let cfg = node.config();
    if let Some(s) = subnet {
        validate_subnet4(&cfg, s, Ipv4Addr::UNSPECIFIED)?;
    }
    let limit = limit as usize;
    let present = crate::server::dbconn::present_count(node, &cfg);
    let mut dbs: Option<Vec<Arc<HostDb>>> = None;
    let mut page: Vec<(u64, Element)> = Vec::new();
    loop {
        if idx > present {
            break;
        }
        let collect = |store: &HostStore| -> Vec<(u64, Element)> {
            store
                .page(subnet, from, limit)
                .into_iter()
                .map(|(id, h)| (id, h.to_element4_with_subnet()))
                .collect()
        };
        let got = if idx == 0 {
            collect(&node.read().memory)
        } else {
            if dbs.is_none() {
                dbs = Some(node.alternate_sources(&cfg)?);
            }
            match dbs.as_ref().and_then(|d| d.get(idx - 1)) {
                Some(db) => collect(&db.hosts.lock()),
                None => break,
            }
        };
        if !got.is_empty() {
            page = got;
            break;
        }
        idx += 1;
        from = 0;
    }
    let n = page.len();
    let mut out = Element::map();
    out.set("count", Element::int(n as i64));
    let last = page.last().map(|(id, _)| *id);
    out.set("hosts", Element::list(page.into_iter().map(|(_, e)| e).collect()));
    if let Some(last) = last {
        out.set(
            "next",
            Element::map_of([
                ("from", Element::int(last as i64)),
                ("source-index", Element::int(idx as i64)),
            ]),
        );
    }
    Ok(answer(
        if n > 0 { code::SUCCESS } else { code::EMPTY },
        &format!("{n} IPv4 host(s) found."),
        Some(out),
    ))
}

/// `reservation-del`.
pub fn del(node: &Node, args: Option<&Element>) -> CmdResult {
    let p = get_parameters(args)?;
    let target = p.target.or(Target::Database);
    let cfg = node.config();
    let delete = |store: &mut HostStore| -> bool {
        match (&p.by_addr, &p.ident) {
            (Some(IpAddr::V4(a)), _) => store.del_subnet_ip(p.subnet_id, *a),
            (Some(IpAddr::V6(_)), _) => false,
            (None, Some((kind, bytes))) => store.del_ident(p.subnet_id, *kind, bytes),
            (None, None) => false,
        }
    };
    let mut deleted = false;
    if target.memory() {
        deleted = delete(&mut node.write().memory);
    }
    if target.database() {
        if !node_has_db(node, &cfg) && !target.memory() {
            return Err(CmdError::error(
                "Unable to delete a host because there is no hosts-database configured.",
            ));
        }
        if node_has_db(node, &cfg) {
            for d in with_dbs(&node.alternate_sources(&cfg)?, |s| delete(s)) {
                deleted |= d;
            }
        }
    }
    Ok(if deleted {
        answer(code::SUCCESS, "Host deleted.", None)
    } else {
        answer(code::EMPTY, "Host not deleted (not found).", None)
    })
}

/// `CfgHosts::update` / `BaseHostDataSource::update`: delete then add. Like Kea, a failing
/// add leaves the old host deleted.
fn update_in(store: &mut HostStore, host: &Host, database: bool, unique: bool) -> Result<(), CmdError> {
    let old: Vec<u64> = store
        .find_ident_all(host.ident.kind, &host.ident.bytes)
        .into_iter()
        .filter(|(_, h)| h.subnet_id == host.subnet_id)
        .map(|(id, _)| id)
        .collect();
    if old.is_empty() {
        return Err(CmdError::error("Host not updated (not found)."));
    }
    for id in old {
        store.remove(id);
    }
    if database {
        store.add_database(host.clone(), unique)?;
    } else {
        store.add_memory(host.clone(), unique)?;
    }
    Ok(())
}

/// `reservation-update`.
pub fn update(node: &Node, args: Option<&Element>) -> CmdResult {
    let args =
        args.ok_or_else(|| CmdError::error("invalid command: does not contain mandatory 'arguments'"))?;
    if !args.is_map() {
        return Err(CmdError::error(format!(
            "invalid command: expected 'arguments' to be a map, got {} instead",
            args.type_name()
        )));
    }
    let resv = args.field("reservation").ok_or_else(|| {
        CmdError::error("invalid command: expected 'reservation' as the sole parameter inside the 'arguments' map, didn't get it instead")
    })?;
    if !resv.is_map() {
        return Err(CmdError::error(format!(
            "invalid command: expected 'reservation' to be a map, got {} instead",
            resv.type_name()
        )));
    }
    let target = operation_target(args)?.or(Target::Database);
    let cfg = node.config();
    let host = parse_with_subnet(&cfg, resv, true)?;
    if target == Target::Database && !node_has_db(node, &cfg) {
        return Err(CmdError::error("host database not available, cannot update host"));
    }
    validate_subnet4(&cfg, host.subnet_id, host.ip)?;
    if target.memory() {
        update_in(&mut node.write().memory, &host, false, cfg.ip_reservations_unique)?;
    }
    if target.database() {
        let dbs = node.alternate_sources(&cfg)?;
        if dbs.is_empty() && !target.memory() {
            return Err(CmdError::error(
                "Unable to update existing host because there is no hosts-database configured.",
            ));
        }
        for db in &dbs {
            update_in(&mut db.hosts.lock(), &host, true, cfg.ip_reservations_unique)?;
        }
    }
    Ok(answer(code::SUCCESS, "Host updated.", None))
}

/// `reservation-get-by-id`.
pub fn get_by_id(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.filter(|a| a.is_map()).ok_or_else(not_map)?;
    let type_el = args.field("identifier-type");
    let ident_el = args.field("identifier");
    if type_el.and_then(Element::as_str).is_none() {
        return Err(CmdError::error(
            "'identifier-type' is either missing or not a string.",
        ));
    }
    if ident_el.and_then(Element::as_str).is_none() {
        return Err(CmdError::error("'identifier' is either missing or not a string."));
    }
    if args.field("subnet-id").is_some() {
        return Err(CmdError::error(
            "'subnet-id' is forbidden in reservation-get-by-id",
        ));
    }
    let (kind, bytes, _, _) = parse_identifier(type_el, ident_el, "")?;
    let target = operation_target(args)?.or(Target::All);
    let cfg = node.config();
    let collect = |store: &HostStore| -> Vec<Element> {
        store
            .find_ident_all(kind, &bytes)
            .into_iter()
            .map(|(_, h)| h.to_element4_with_subnet())
            .collect()
    };
    Ok(hosts_answer(from_sources(node, &cfg, target, collect)?))
}

/// `reservation-get-by-hostname`.
pub fn get_by_hostname(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.filter(|a| a.is_map()).ok_or_else(not_map)?;
    let hostname = get_string(args, "hostname")?.to_string();
    let mut subnet = None;
    if args.field("subnet-id").is_some() {
        subnet = Some(get_integer_range(args, "subnet-id", 0, SUBNET_ID_MAX)? as u32);
    }
    let target = operation_target(args)?.or(Target::All);
    if hostname.is_empty() {
        return Err(CmdError::error("Empty hostname"));
    }
    let lower = hostname.to_ascii_lowercase();
    let cfg = node.config();
    if let Some(s) = subnet {
        validate_subnet4(&cfg, s, Ipv4Addr::UNSPECIFIED)?;
    }
    let collect = |store: &HostStore| -> Vec<Element> {
        store
            .find_hostname(&lower, subnet)
            .into_iter()
            .map(|(_, h)| h.to_element4_with_subnet())
            .collect()
    };
    Ok(hosts_answer(from_sources(node, &cfg, target, collect)?))
}
