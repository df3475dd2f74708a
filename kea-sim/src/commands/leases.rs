//! The `lease4-*` commands (Kea's `lease_cmds` hook) on the memfile-like lease store.

use std::net::{IpAddr, Ipv4Addr};

use super::answer::{CmdError, CmdResult, answer, code};
use super::args::{get_address, get_boolean, get_integer, get_string, get_uint};
use crate::config::ServerConfig;
use crate::element::{Element, Value};
use crate::model::host::parse_io_address;
use crate::model::ident::{decode_formatted_hex, hwaddr_from_text};
use crate::model::{Lease, LeaseOrigin};
use crate::server::Node;

fn conflict(text: impl Into<String>) -> CmdError {
    CmdError::with_code(code::CONFLICT, text)
}

/// Unix time now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `ClientId::fromText` (2..255 bytes).
fn client_id_from_text(s: &str) -> Result<Vec<u8>, CmdError> {
    let v = decode_formatted_hex(s)?;
    if v.len() < 2 {
        return Err(CmdError::error(format!(
            "identifier is too short ({}), at least 2 is required",
            v.len()
        )));
    }
    if v.len() > 255 {
        return Err(CmdError::error(format!(
            "identifier is too large ({}), at most 255 is required",
            v.len()
        )));
    }
    Ok(v)
}

/// `Lease4Parser::parse`: returns the lease and `force-create`.
fn parse_lease(cfg: &ServerConfig, args: &Element) -> Result<(Lease, bool), CmdError> {
    let addr = match get_address(args, "ip-address")? {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => return Err(CmdError::error(format!("Non-IPv4 address specified: {a}"))),
    };
    let hw = hwaddr_from_text(get_string(args, "hw-address")?)?;
    let mut subnet_id = 0u32;
    if args.contains("subnet-id")? {
        subnet_id = get_uint(args, "subnet-id", i64::from(u32::MAX))? as u32;
    }
    let mut pool_id = 0u32;
    if args.contains("pool-id")? {
        pool_id = get_uint(args, "pool-id", i64::from(u32::MAX))? as u32;
    }
    let subnet = if subnet_id != 0 {
        let s = cfg.subnet(subnet_id).ok_or_else(|| {
            conflict(format!(
                "Invalid subnet-id: No IPv4 subnet with subnet-id={subnet_id} currently configured."
            ))
        })?;
        if !s.in_range(addr) {
            return Err(conflict(format!(
                "The address {addr} does not belong to subnet {}, subnet-id={subnet_id}",
                s.to_text()
            )));
        }
        s
    } else {
        let s = cfg.select_subnet(addr).ok_or_else(|| {
            conflict(format!(
                "subnet-id not specified and failed to find a subnet for address {addr}"
            ))
        })?;
        subnet_id = s.id;
        s
    };
    let client_id = if args.contains("client-id")? {
        Some(client_id_from_text(get_string(args, "client-id")?)?.into_boxed_slice())
    } else {
        None
    };
    let valid_lft = if args.contains("valid-lft")? {
        get_uint(args, "valid-lft", i64::from(u32::MAX))? as u32
    } else {
        subnet.valid_lifetime
    };
    let cltt = if args.contains("expire")? {
        let expire = get_integer(args, "expire")?;
        if expire <= 0 {
            return Err(CmdError::error(format!(
                "expiration time must be positive for address {addr}"
            )));
        } else if expire < i64::from(valid_lft) {
            return Err(CmdError::error(format!(
                "expiration time must be greater than valid lifetime for address {addr}"
            )));
        }
        expire - i64::from(valid_lft)
    } else {
        now()
    };
    let fqdn_fwd = if args.contains("fqdn-fwd")? {
        get_boolean(args, "fqdn-fwd")?
    } else {
        false
    };
    let fqdn_rev = if args.contains("fqdn-rev")? {
        get_boolean(args, "fqdn-rev")?
    } else {
        false
    };
    // Kea stores lease hostnames in lower case.
    let hostname = if args.contains("hostname")? {
        get_string(args, "hostname")?.to_ascii_lowercase()
    } else {
        String::new()
    };
    if hostname.is_empty() && (fqdn_fwd || fqdn_rev) {
        return Err(CmdError::error(
            "No hostname specified and either forward or reverse fqdn was set to true.",
        ));
    }
    let state = if args.contains("state")? {
        get_uint(args, "state", 255)? as u32
    } else {
        0
    };
    if state > 4 {
        return Err(CmdError::error(format!(
            "Invalid state value: {state}, supported values are: 0 (default), 1 (declined), 2 (expired-reclaimed), 3 (released) and 4 (registered)"
        )));
    }
    let mut ctx = args.get("user-context")?.cloned();
    if let Some(c) = &ctx
        && !c.is_map()
    {
        return Err(CmdError::error(format!(
            "Invalid user context '{}' is not a JSON map.",
            c.to_kea_string()
        )));
    }
    if let Some(comment) = args.get("comment")? {
        if let Some(c) = &ctx
            && c.field("comment").is_some()
        {
            return Err(CmdError::error(format!(
                "Duplicated comment entry '{}' in user context '{}'",
                comment.to_kea_string(),
                c.to_kea_string()
            )));
        }
        let mut copied = ctx.take().unwrap_or_else(Element::map);
        copied.set("comment", comment.clone());
        ctx = Some(copied);
    }
    let force_create = if args.contains("force-create")? {
        get_boolean(args, "force-create")?
    } else {
        false
    };
    let lease = Lease {
        ip: addr,
        hw: hw.into_boxed_slice(),
        client_id,
        valid_lft,
        cltt,
        subnet_id,
        pool_id,
        fqdn_fwd,
        fqdn_rev,
        hostname,
        state,
        user_context: ctx.map(Element::without_positions),
        origin: LeaseOrigin::Api,
    };
    Ok((lease, force_create))
}

/// `lease4-add`.
pub fn add(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.ok_or_else(|| CmdError::error("no parameters specified for the command"))?;
    let cfg = node.config();
    let (lease, _) = parse_lease(&cfg, args)?;
    let text = format!(
        "Lease for address {}, subnet-id {} added.",
        lease.ip, lease.subnet_id
    );
    if !node.write().leases.add(lease) {
        return Err(conflict("IPv4 lease already exists."));
    }
    Ok(answer(code::SUCCESS, &text, None))
}

/// `lease4-update`.
pub fn update(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.ok_or_else(|| CmdError::error("no parameters specified for lease4-update command"))?;
    let cfg = node.config();
    let (lease, force_create) = parse_lease(&cfg, args)?;
    let ip = lease.ip;
    let mut st = node.write();
    if force_create && st.leases.get(ip).is_none() {
        st.leases.add(lease);
        return Ok(answer(code::SUCCESS, "IPv4 lease added.", None));
    }
    if !st.leases.update(lease) {
        return Err(conflict(format!(
            "failed to update the lease with address {ip} either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed"
        )));
    }
    Ok(answer(code::SUCCESS, "IPv4 lease updated.", None))
}

enum Query {
    Addr(Option<Ipv4Addr>),
    HwAddr(Vec<u8>, u32),
    ClientId(Vec<u8>, u32),
    Duid,
}

/// `LeaseCmdsImpl::getParameters(false, ...)`.
fn get_parameters(args: Option<&Element>) -> Result<Query, CmdError> {
    let args = args
        .filter(|a| a.is_map())
        .ok_or_else(|| CmdError::error("Parameters missing or are not a map."))?;
    if let Some(u) = args.field("update-ddns")
        && !matches!(u.value, Value::Bool(_))
    {
        return Err(CmdError::error("'update-ddns' is not a boolean"));
    }
    if let Some(t) = args.field("type") {
        let t = t.string_value()?;
        if !matches!(t, "IA_NA" | "0" | "IA_TA" | "1" | "IA_PD" | "2" | "V4" | "3") {
            return Err(CmdError::error(format!(
                "Invalid lease type specified: {t}, only supported values are: IA_NA, IA_TA, IA_PD and V4"
            )));
        }
    }
    if let Some(a) = args.field("ip-address") {
        let s = a
            .as_str()
            .ok_or_else(|| CmdError::error("'ip-address' is not a string."))?;
        return match parse_io_address(s)? {
            IpAddr::V4(v4) => Ok(Query::Addr(Some(v4))),
            IpAddr::V6(_) => Err(CmdError::error(format!("Invalid IPv4 address specified: {s}"))),
        };
    }
    let subnet = args
        .field("subnet-id")
        .ok_or_else(|| CmdError::error("Mandatory 'subnet-id' parameter missing."))?;
    let subnet = subnet
        .as_int()
        .ok_or_else(|| CmdError::error("'subnet-id' parameter is not integer."))? as u32;
    if let Some(iaid) = args.field("iaid") {
        iaid.int_value()?;
    }
    let type_s = args
        .field("identifier-type")
        .and_then(Element::as_str)
        .ok_or_else(|| {
            CmdError::error(
                "No 'ip-address' provided and 'identifier-type' is either missing or not a string.",
            )
        })?;
    let ident = args
        .field("identifier")
        .and_then(Element::as_str)
        .ok_or_else(|| {
            CmdError::error("No 'ip-address' provided and 'identifier' is either missing or not a string.")
        })?;
    match type_s {
        "address" => Ok(Query::Addr(None)),
        "hw-address" => Ok(Query::HwAddr(hwaddr_from_text(ident)?, subnet)),
        "client-id" => Ok(Query::ClientId(client_id_from_text(ident)?, subnet)),
        "duid" => {
            decode_formatted_hex(ident)?;
            Ok(Query::Duid)
        }
        other => Err(CmdError::error(format!(
            "Incorrect identifier type: {other}, the only supported values are: address, hw-address, duid"
        ))),
    }
}

/// `lease4-get`.
pub fn get(node: &Node, args: Option<&Element>) -> CmdResult {
    let q = get_parameters(args)?;
    let st = node.read();
    let lease = match &q {
        Query::Addr(a) => a.and_then(|a| st.leases.get(a)),
        Query::HwAddr(hw, s) => st.leases.by_hw_subnet(hw, *s),
        Query::ClientId(c, s) => st.leases.by_client_id_subnet(c, *s),
        Query::Duid => return Err(CmdError::error("Query by duid is not allowed in v4.")),
    };
    Ok(match lease {
        Some(l) => answer(code::SUCCESS, "IPv4 lease found.", Some(l.to_element())),
        None => answer(code::EMPTY, "Lease not found.", None),
    })
}

fn leases_answer(leases: Vec<Element>, count: bool) -> Element {
    let n = leases.len();
    let mut args = Element::map();
    if count {
        args.set("count", Element::int(n as i64));
    }
    args.set("leases", Element::list(leases));
    answer(
        if n > 0 { code::SUCCESS } else { code::EMPTY },
        &format!("{n} IPv4 lease(s) found."),
        Some(args),
    )
}

/// `lease4-get-all`.
pub fn get_all(node: &Node, args: Option<&Element>) -> CmdResult {
    let st = node.read();
    let mut out = Vec::new();
    if let Some(args) = args {
        let subnets = args
            .get("subnets")?
            .ok_or_else(|| CmdError::error("'subnets' parameter not specified"))?;
        let list = subnets
            .as_list_opt()
            .ok_or_else(|| CmdError::error("'subnets' parameter must be a list"))?;
        for s in list {
            let id = s
                .as_int()
                .ok_or_else(|| CmdError::error("listed subnet identifiers must be numbers"))?;
            out.extend(st.leases.by_subnet(id as u32).into_iter().map(Lease::to_element));
        }
    } else {
        out.extend(st.leases.all().map(Lease::to_element));
    }
    Ok(leases_answer(out, false))
}

/// `lease4-get-page`.
pub fn get_page(node: &Node, args: Option<&Element>) -> CmdResult {
    let args =
        args.ok_or_else(|| CmdError::error("no parameters specified for the lease4-get-page command"))?;
    let from = args
        .get("from")?
        .ok_or_else(|| CmdError::error("'from' parameter not specified"))?;
    let from = from
        .as_str()
        .ok_or_else(|| CmdError::error("'from' parameter must be a string"))?;
    let from = if from == "start" {
        Ipv4Addr::UNSPECIFIED
    } else {
        match from.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => a,
            Ok(IpAddr::V6(a)) => {
                return Err(CmdError::error(format!(
                    "'from' parameter value {a} is not an IPv4 address"
                )));
            }
            Err(_) => {
                return Err(CmdError::error(
                    "'from' parameter value is neither 'start' keyword nor a valid IPv4 address",
                ));
            }
        }
    };
    let limit = args
        .get("limit")?
        .ok_or_else(|| CmdError::error("'limit' parameter not specified"))?;
    let limit = limit
        .as_int()
        .ok_or_else(|| CmdError::error("'limit' parameter must be a number"))?;
    let limit = limit as u64;
    if limit == 0 {
        return Err(CmdError::error("page size of retrieved leases must not be 0"));
    }
    if limit > u64::from(u32::MAX) {
        return Err(CmdError::error(
            "page size of retrieved leases must not be greater than 4294967295",
        ));
    }
    let st = node.read();
    let out: Vec<Element> = st
        .leases
        .page(from, limit as usize)
        .into_iter()
        .map(Lease::to_element)
        .collect();
    Ok(leases_answer(out, true))
}

/// `lease4-get-by-hw-address`.
pub fn get_by_hw_address(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args
        .filter(|a| a.is_map())
        .ok_or_else(|| CmdError::error("Command arguments missing or a not a map."))?;
    let hw = args
        .field("hw-address")
        .ok_or_else(|| CmdError::error("'hw-address' parameter not specified"))?;
    let hw = hw
        .as_str()
        .ok_or_else(|| CmdError::error("'hw-address' parameter must be a string"))?;
    let hw = hwaddr_from_text(hw)?;
    let st = node.read();
    let out: Vec<Element> = st.leases.by_hw(&hw).into_iter().map(Lease::to_element).collect();
    Ok(leases_answer(out, false))
}

/// `lease4-get-by-client-id`.
pub fn get_by_client_id(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args
        .filter(|a| a.is_map())
        .ok_or_else(|| CmdError::error("Command arguments missing or a not a map."))?;
    let cid = args
        .field("client-id")
        .ok_or_else(|| CmdError::error("'client-id' parameter not specified"))?;
    let cid = cid
        .as_str()
        .ok_or_else(|| CmdError::error("'client-id' parameter must be a string"))?;
    let cid = client_id_from_text(cid)?;
    let st = node.read();
    let out: Vec<Element> = st
        .leases
        .by_client_id(&cid)
        .into_iter()
        .map(Lease::to_element)
        .collect();
    Ok(leases_answer(out, false))
}

/// `lease4-get-by-hostname` (no index: scanned).
pub fn get_by_hostname(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args
        .filter(|a| a.is_map())
        .ok_or_else(|| CmdError::error("Command arguments missing or a not a map."))?;
    let h = args
        .field("hostname")
        .ok_or_else(|| CmdError::error("'hostname' parameter not specified"))?;
    let h = h
        .as_str()
        .ok_or_else(|| CmdError::error("'hostname' parameter must be a string"))?;
    if h.is_empty() {
        return Err(CmdError::error("'hostname' parameter is empty"));
    }
    let lower = h.to_ascii_lowercase();
    let st = node.read();
    let out: Vec<Element> = st
        .leases
        .all()
        .filter(|l| l.hostname == lower)
        .map(Lease::to_element)
        .collect();
    Ok(leases_answer(out, false))
}

/// `lease4-del`.
pub fn del(node: &Node, args: Option<&Element>) -> CmdResult {
    let q = get_parameters(args)?;
    let mut st = node.write();
    let ip = match &q {
        Query::Addr(a) => a.and_then(|a| st.leases.get(a)).map(|l| l.ip),
        Query::HwAddr(hw, s) => st.leases.by_hw_subnet(hw, *s).map(|l| l.ip),
        Query::ClientId(c, s) => st.leases.by_client_id_subnet(c, *s).map(|l| l.ip),
        Query::Duid => return Err(CmdError::error("Delete by duid is not allowed in v4.")),
    };
    match ip.and_then(|ip| st.leases.delete(ip)) {
        Some(_) => Ok(answer(code::SUCCESS, "IPv4 lease deleted.", None)),
        None => Ok(answer(code::EMPTY, "IPv4 lease not found.", None)),
    }
}

/// `lease4-wipe`.
pub fn wipe(node: &Node, args: Option<&Element>) -> CmdResult {
    let mut id = 0u32;
    if let Some(a) = args
        && a.contains("subnet-id")?
    {
        id = get_uint(a, "subnet-id", i64::from(u32::MAX))? as u32;
    }
    let cfg = node.config();
    let mut st = node.write();
    let (num, ids) = if id != 0 {
        (st.leases.wipe_subnet(id), format!(" {id}"))
    } else {
        let mut n = 0;
        let mut ids = String::new();
        for s in &cfg.subnets {
            n += st.leases.wipe_subnet(s.id);
            ids.push_str(&format!(" {}", s.id));
        }
        (n, ids)
    };
    Ok(answer(
        if num > 0 { code::SUCCESS } else { code::EMPTY },
        &format!("Deleted {num} IPv4 lease(s) from subnet(s){ids}"),
        None,
    ))
}

trait ListOpt {
    fn as_list_opt(&self) -> Option<&[Element]>;
}

impl ListOpt for Element {
    fn as_list_opt(&self) -> Option<&[Element]> {
        match &self.value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}
