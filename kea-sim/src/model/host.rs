//! Host reservations: the compact in-memory form, Kea's reservation parser
//! (`HostReservationParser4`) and Kea's printed form (`Host::toElement4`).

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::ident::{IdentType, Identifier, host_identifier_from_text};
use super::options::normalize_option_data;
use crate::element::{Element, Value};

/// The subnet id of a global reservation.
pub const SUBNET_ID_GLOBAL: u32 = 0;
/// Kea's `SUBNET_ID_MAX`.
pub const SUBNET_ID_MAX: i64 = 4_294_967_294;

/// A host reservation. Kept small (most hosts carry only an identifier, an address and a
/// hostname): the rarely used fields live behind one pointer.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// IPv4 subnet id (0 = global).
    pub subnet_id: u32,
    /// The identifier.
    pub ident: Identifier,
    /// Reserved address, `0.0.0.0` for none.
    pub ip: Ipv4Addr,
    /// Hostname as given (case kept).
    pub hostname: Box<str>,
    /// Everything else, when present.
    pub extra: Option<Box<HostExtra>>,
}

/// The less common parts of a reservation.
#[derive(Clone, Debug, PartialEq)]
pub struct HostExtra {
    /// `next-server`
    pub next_server: Ipv4Addr,
    /// `server-hostname`
    pub server_hostname: String,
    /// `boot-file-name`
    pub boot_file_name: String,
    /// `client-classes`, deduplicated in insertion order.
    pub client_classes: Vec<String>,
    /// Normalized `option-data` entries.
    pub option_data: Vec<Element>,
    /// `user-context` as given (any JSON value; Kea does not insist on a map here).
    pub user_context: Option<Element>,
}

impl Default for HostExtra {
    fn default() -> Self {
        HostExtra {
            next_server: Ipv4Addr::UNSPECIFIED,
            server_hostname: String::new(),
            boot_file_name: String::new(),
            client_classes: Vec::new(),
            option_data: Vec::new(),
            user_context: None,
        }
    }
}

/// Parse an address as Kea's `IOAddress` does (IPv4 or IPv6 text).
pub fn parse_io_address(s: &str) -> Result<IpAddr, String> {
    s.parse::<IpAddr>()
        .map_err(|_| format!("Failed to convert string to address '{s}': Invalid argument"))
}

impl Host {
    /// A minimal host.
    pub fn new(subnet_id: u32, ident: Identifier, ip: Ipv4Addr, hostname: &str) -> Self {
        Host {
            subnet_id,
            ident,
            ip,
            hostname: hostname.into(),
            extra: None,
        }
    }

    /// The reserved address, if any.
    pub fn reserved_ip(&self) -> Option<Ipv4Addr> {
        (!self.ip.is_unspecified()).then_some(self.ip)
    }

    /// The user context, if any.
    pub fn user_context(&self) -> Option<&Element> {
        self.extra.as_ref().and_then(|e| e.user_context.as_ref())
    }

    fn extra_mut(&mut self) -> &mut HostExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// `Host::toElement4` without `subnet-id` (the commands add it themselves).
    pub fn to_element4(&self) -> Element {
        let mut m = Element::map();
        if let Some(ctx) = self.user_context() {
            m.set("user-context", ctx.clone());
        }
        m.set(self.ident.kind.name(), Element::str(self.ident.display_value()));
        if !self.ip.is_unspecified() {
            m.set("ip-address", Element::str(self.ip.to_string()));
        }
        m.set("hostname", Element::str(&*self.hostname));
        let extra = self.extra.as_deref();
        let next = extra.map_or(Ipv4Addr::UNSPECIFIED, |e| e.next_server);
        m.set("next-server", Element::str(next.to_string()));
        m.set(
            "server-hostname",
            Element::str(extra.map_or("", |e| e.server_hostname.as_str())),
        );
        m.set(
            "boot-file-name",
            Element::str(extra.map_or("", |e| e.boot_file_name.as_str())),
        );
        let classes = extra.map_or_else(Vec::new, |e| e.client_classes.iter().map(Element::str).collect());
        m.set("client-classes", Element::list(classes));
        m.set(
            "option-data",
            Element::list(extra.map_or_else(Vec::new, |e| e.option_data.clone())),
        );
        m
    }

    /// The printed form with `subnet-id`, as the `reservation-get*` commands answer.
    pub fn to_element4_with_subnet(&self) -> Element {
        let mut e = self.to_element4();
        e.set("subnet-id", Element::int(i64::from(self.subnet_id)));
        e
    }

    /// The printed form inside a configuration (`config-get`/`config-write`): no `subnet-id`.
    pub fn to_config_element(&self) -> Element {
        self.to_element4()
    }
}

const SUPPORTED4: [&str; 13] = [
    "boot-file-name",
    "circuit-id",
    "client-classes",
    "client-id",
    "duid",
    "flex-id",
    "hostname",
    "hw-address",
    "ip-address",
    "next-server",
    "option-data",
    "server-hostname",
    "user-context",
];

/// `HostReservationParser4::parse` on a map that no longer holds `subnet-id`.
///
/// `map_pos` is the position Kea appends to errors of the map itself: host_cmds rebuilds the map
/// without `subnet-id`, so for commands it is the empty position (`:0:0`); in a configuration
/// file it is the reservation's own position.
pub fn parse_reservation4(
    map: &Element,
    subnet_id: u32,
    map_pos: crate::element::Pos,
    option_defs: &[crate::model::options::OptionDef],
) -> Result<Host, String> {
    let entries = map.map_value().map_err(|e| e.0)?;
    let wrap = |msg: String| format!("{msg} ({map_pos})");
    let mut ident: Option<(IdentType, &str)> = None;
    let mut hostname = String::new();
    let mut user_context = None;
    for (key, value) in entries {
        if !SUPPORTED4.contains(&key.as_str()) {
            return Err(wrap(format!("unsupported configuration parameter '{key}'")));
        }
        if let Some(kind) = IdentType::from_name(key) {
            if let Some((prev, _)) = ident {
                return Err(wrap(format!(
                    "the '{key}' and '{}' are mutually exclusive",
                    prev.name()
                )));
            }
            ident = Some((kind, value.string_value().map_err(|e| wrap(e.0))?));
        } else if key == "hostname" {
            hostname = value.string_value().map_err(|e| wrap(e.0))?.to_string();
        } else if key == "user-context" {
            user_context = Some(value.clone().without_positions());
        }
    }
    let Some((kind, text)) = ident else {
        return Err(wrap(format!(
            "one of the supported identifiers must be specified for host reservation: {}",
            IdentType::SORTED_NAMES
        )));
    };
    let bytes = host_identifier_from_text(kind, text).map_err(wrap)?;
    let mut host = Host::new(
        subnet_id,
        Identifier::new(kind, bytes),
        Ipv4Addr::UNSPECIFIED,
        &hostname,
    );
    if let Some(ctx) = user_context {
        host.extra_mut().user_context = Some(ctx);
    }
    for (key, value) in entries {
        if key == "option-data" {
            let opts = normalize_option_data(value, option_defs)?;
            host.extra_mut().option_data = opts;
            continue;
        }
        let at = |msg: String| format!("{msg} ({})", value.pos);
        match key.as_str() {
            "ip-address" => {
                let text = value.string_value().map_err(|e| at(e.0))?;
                match parse_io_address(text).map_err(at)? {
                    IpAddr::V4(v4) if v4.is_unspecified() || v4.is_broadcast() => {
                        return Err(at(format!("must not make reservation for the '{v4}' address")));
                    }
                    IpAddr::V4(v4) => host.ip = v4,
                    IpAddr::V6(v6) => return Err(at(format!("address '{v6}' is not a valid IPv4 address"))),
                }
            }
            "next-server" => {
                let text = value.string_value().map_err(|e| at(e.0))?;
                match parse_io_address(text).map_err(at)? {
                    IpAddr::V4(v4) if v4.is_broadcast() => {
                        return Err(at(format!("invalid next server address '{v4}'")));
                    }
                    IpAddr::V4(v4) => {
                        if !v4.is_unspecified() {
                            host.extra_mut().next_server = v4;
                        }
                    }
                    IpAddr::V6(v6) => {
                        return Err(at(format!(
                            "next server address '{v6}' is not a valid IPv4 address"
                        )));
                    }
                }
            }
            "server-hostname" => {
                let text = value.string_value().map_err(|e| at(e.0))?;
                if text.len() > 63 {
                    return Err(at("server hostname length must not exceed 63".into()));
                }
                if !text.is_empty() {
                    host.extra_mut().server_hostname = text.to_string();
                }
            }
            "boot-file-name" => {
                let text = value.string_value().map_err(|e| at(e.0))?;
                if text.len() > 127 {
                    return Err(at("boot file length must not exceed 127".into()));
                }
                if !text.is_empty() {
                    host.extra_mut().boot_file_name = text.to_string();
                }
            }
            "client-classes" => {
                let list = value.list_value().map_err(|e| at(e.0))?;
                let mut classes = Vec::with_capacity(list.len());
                for c in list {
                    let c = c.string_value().map_err(|e| at(e.0))?;
                    if !classes.iter().any(|x: &String| x == c) {
                        classes.push(c.to_string());
                    }
                }
                if !classes.is_empty() {
                    host.extra_mut().client_classes = classes;
                }
            }
            _ => {}
        }
    }
    Ok(host)
}

/// A reservation as the library and the admin API show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostView {
    /// `memory` or `database`.
    pub source: String,
    /// Kea's host id within its source (the `from` of paging).
    pub host_id: u64,
    /// Subnet id (0 = global).
    pub subnet_id: u32,
    /// Identifier type (`hw-address`, ...).
    pub identifier_type: IdentType,
    /// Identifier as Kea prints it.
    pub identifier: String,
    /// Reserved address.
    pub ip_address: Option<Ipv4Addr>,
    /// Hostname.
    pub hostname: String,
    /// User context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_context: Option<serde_json::Value>,
}

impl HostView {
    /// Build the view of a stored host.
    pub fn new(source: &str, host_id: u64, h: &Host) -> Self {
        HostView {
            source: source.to_string(),
            host_id,
            subnet_id: h.subnet_id,
            identifier_type: h.ident.kind,
            identifier: h.ident.display_value(),
            ip_address: h.reserved_ip(),
            hostname: h.hostname.to_string(),
            user_context: h.user_context().map(Element::to_json),
        }
    }
}

/// True when the value is a JSON map (used by callers that need Kea's map checks).
pub fn is_map(e: &Element) -> bool {
    matches!(e.value, Value::Map(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::{Pos, parse_request};

    fn parse(body: &str) -> Result<Host, String> {
        let e = parse_request(body.as_bytes()).unwrap();
        parse_reservation4(&e, 1, Pos::default(), &[])
    }

    #[test]
    fn prints_like_kea() {
        let h = parse(r#"{"hw-address":"AA:BB:CC:DD:EE:03","ip-address":"10.100.2.3","hostname":"h3","user-context":{"owner":"x","n":1.5,"z":[1,2]}}"#).unwrap();
        assert_eq!(
            h.to_element4_with_subnet().to_kea_string(),
            r#"{ "boot-file-name": "", "client-classes": [  ], "hostname": "h3", "hw-address": "aa:bb:cc:dd:ee:03", "ip-address": "10.100.2.3", "next-server": "0.0.0.0", "option-data": [  ], "server-hostname": "", "subnet-id": 1, "user-context": { "n": 1.5, "owner": "x", "z": [ 1, 2 ] } }"#
        );
    }

    #[test]
    fn parser_errors_match_kea() {
        assert_eq!(
            parse(r#"{"hw-address":"aa:bb:cc:dd:ee:01","duid":"01:02"}"#).unwrap_err(),
            "the 'hw-address' and 'duid' are mutually exclusive (:0:0)"
        );
        assert_eq!(
            parse(r#"{"foo":1,"hw-address":"aa:bb"}"#).unwrap_err(),
            "unsupported configuration parameter 'foo' (:0:0)"
        );
        assert_eq!(
            parse(r#"{"ip-address":"10.100.2.1"}"#).unwrap_err(),
            "one of the supported identifiers must be specified for host reservation: circuit-id, client-id, duid, flex-id, hw-address (:0:0)"
        );
        assert_eq!(
            parse(r#"{"hw-address":"zz"}"#).unwrap_err(),
            "invalid host identifier value 'zz' (:0:0)"
        );
        assert_eq!(
            parse(r#"{"hw-address":"aa:bb","ip-address":"10.100.2"}"#).unwrap_err(),
            "Failed to convert string to address '10.100.2': Invalid argument (<string>:1:36)"
        );
        assert_eq!(
            parse(r#"{"hw-address":"aa:bb","ip-address":5}"#).unwrap_err(),
            "stringValue() called on non-string Element in (<string>:1:36) (<string>:1:36)"
        );
        assert_eq!(
            parse(r#"{"hw-address":"aa:bb","hostname":5}"#).unwrap_err(),
            "stringValue() called on non-string Element in (<string>:1:34) (:0:0)"
        );
        assert_eq!(
            parse(r#"{"hw-address":"aa:bb","ip-address":"0.0.0.0"}"#).unwrap_err(),
            "must not make reservation for the '0.0.0.0' address (<string>:1:36)"
        );
        assert_eq!(
            parse(r#"{"hw-address":"aa:bb","ip-address":"::1"}"#).unwrap_err(),
            "address '::1' is not a valid IPv4 address (<string>:1:36)"
        );
    }

    #[test]
    fn string_user_context_is_kept() {
        let h = parse(r#"{"hw-address":"aa:bb","user-context":"x"}"#).unwrap();
        assert_eq!(h.user_context().and_then(Element::as_str), Some("x"));
    }
}
