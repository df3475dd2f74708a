//! `option-data` of host reservations: Kea resolves each entry against its DHCPv4 option
//! definitions, checks the data and stores a normalized form (`always-send`, `code`,
//! `csv-format`, `data`, `name`, `never-send`, `space`). kea-sim knows the common standard
//! options; data is checked for the address and integer types, which covers what a client
//! typically sends (see the fidelity notes in the README for what is not checked).

use std::net::Ipv4Addr;

use crate::element::Element;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ipv4,
    Ipv4List,
    U8,
    U16,
    U32,
    I32,
    Bool,
    Text,
    Binary,
}

/// (name, code, kind) of the standard DHCPv4 options kea-sim resolves.
const STANDARD: &[(&str, u8, Kind)] = &[
    ("subnet-mask", 1, Kind::Ipv4),
    ("time-offset", 2, Kind::I32),
    ("routers", 3, Kind::Ipv4List),
    ("time-servers", 4, Kind::Ipv4List),
    ("name-servers", 5, Kind::Ipv4List),
    ("domain-name-servers", 6, Kind::Ipv4List),
    ("log-servers", 7, Kind::Ipv4List),
    ("cookie-servers", 8, Kind::Ipv4List),
    ("lpr-servers", 9, Kind::Ipv4List),
    ("impress-servers", 10, Kind::Ipv4List),
    ("resource-location-servers", 11, Kind::Ipv4List),
    ("host-name", 12, Kind::Text),
    ("boot-size", 13, Kind::U16),
    ("merit-dump", 14, Kind::Text),
    ("domain-name", 15, Kind::Text),
    ("swap-server", 16, Kind::Ipv4),
    ("root-path", 17, Kind::Text),
    ("extensions-path", 18, Kind::Text),
    ("ip-forwarding", 19, Kind::Bool),
    ("non-local-source-routing", 20, Kind::Bool),
    ("max-dgram-reassembly", 22, Kind::U16),
    ("default-ip-ttl", 23, Kind::U8),
    ("path-mtu-aging-timeout", 24, Kind::U32),
    ("interface-mtu", 26, Kind::U16),
    ("all-subnets-local", 27, Kind::Bool),
    ("broadcast-address", 28, Kind::Ipv4),
    ("perform-mask-discovery", 29, Kind::Bool),
    ("mask-supplier", 30, Kind::Bool),
    ("router-discovery", 31, Kind::Bool),
    ("router-solicitation-address", 32, Kind::Ipv4),
    ("trailer-encapsulation", 34, Kind::Bool),
    ("arp-cache-timeout", 35, Kind::U32),
    ("ieee802-3-encapsulation", 36, Kind::Bool),
    ("default-tcp-ttl", 37, Kind::U8),
    ("tcp-keepalive-interval", 38, Kind::U32),
    ("tcp-keepalive-garbage", 39, Kind::Bool),
    ("nis-domain", 40, Kind::Text),
    ("nis-servers", 41, Kind::Ipv4List),
    ("ntp-servers", 42, Kind::Ipv4List),
    ("vendor-encapsulated-options", 43, Kind::Binary),
    ("netbios-name-servers", 44, Kind::Ipv4List),
    ("netbios-dd-server", 45, Kind::Ipv4List),
    ("netbios-node-type", 46, Kind::U8),
    ("netbios-scope", 47, Kind::Text),
    ("font-servers", 48, Kind::Ipv4List),
    ("x-display-manager", 49, Kind::Ipv4List),
    ("dhcp-lease-time", 51, Kind::U32),
    ("dhcp-server-identifier", 54, Kind::Ipv4),
    ("dhcp-message", 56, Kind::Text),
    ("dhcp-max-message-size", 57, Kind::U16),
    ("dhcp-renewal-time", 58, Kind::U32),
    ("dhcp-rebinding-time", 59, Kind::U32),
    ("vendor-class-identifier", 60, Kind::Binary),
    ("nwip-domain-name", 62, Kind::Text),
    ("nisplus-domain-name", 64, Kind::Text),
    ("nisplus-servers", 65, Kind::Ipv4List),
    ("tftp-server-name", 66, Kind::Text),
    ("boot-file-name", 67, Kind::Text),
    ("mobile-ip-home-agent", 68, Kind::Ipv4List),
    ("smtp-server", 69, Kind::Ipv4List),
    ("pop-server", 70, Kind::Ipv4List),
    ("nntp-server", 71, Kind::Ipv4List),
    ("www-server", 72, Kind::Ipv4List),
    ("finger-server", 73, Kind::Ipv4List),
    ("irc-server", 74, Kind::Ipv4List),
    ("streettalk-server", 75, Kind::Ipv4List),
    ("streettalk-directory-assistance-server", 76, Kind::Ipv4List),
    ("v4-captive-portal", 114, Kind::Text),
    ("domain-search", 119, Kind::Text),
    ("tftp-server-address", 150, Kind::Ipv4List),
];

/// An option definition from the configuration's `option-def`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionDef {
    name: String,
    code: u8,
    space: String,
    kind: Kind,
}

/// Read the usable entries of an `option-def` list (entries Kea would refuse are skipped).
pub fn parse_option_defs(list: Option<&Element>) -> Vec<OptionDef> {
    let Some(items) = list.and_then(|l| l.list_value().ok()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|d| {
            let name = d.field("name")?.as_str()?.to_string();
            let code = u8::try_from(d.field("code")?.as_int()?).ok()?;
            let space = d
                .field("space")
                .and_then(Element::as_str)
                .unwrap_or("dhcp4")
                .to_string();
            let array = d.field("array").is_some_and(|a| a.bool_value().unwrap_or(false));
            let kind = match d.field("type").and_then(Element::as_str).unwrap_or("") {
                "ipv4-address" if array => Kind::Ipv4List,
                "ipv4-address" => Kind::Ipv4,
                "uint8" if !array => Kind::U8,
                "uint16" if !array => Kind::U16,
                "uint32" if !array => Kind::U32,
                "int32" if !array => Kind::I32,
                "boolean" if !array => Kind::Bool,
                "binary" => Kind::Binary,
                _ => Kind::Text,
            };
            Some(OptionDef {
                name,
                code,
                space,
                kind,
            })
        })
        .collect()
}

/// Resolved definition: name, code, kind.
type Def = (String, u8, Kind);

fn by_name(name: &str, space: &str, custom: &[OptionDef]) -> Option<Def> {
    if let Some(d) = custom.iter().find(|d| d.name == name && d.space == space) {
        return Some((d.name.clone(), d.code, d.kind));
    }
    if space != "dhcp4" {
        return None;
    }
    STANDARD
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, c, k)| (n.to_string(), *c, *k))
}

fn by_code(code: i64, space: &str, custom: &[OptionDef]) -> Option<Def> {
    if let Some(d) = custom
        .iter()
        .find(|d| i64::from(d.code) == code && d.space == space)
    {
        return Some((d.name.clone(), d.code, d.kind));
    }
    if space != "dhcp4" {
        return None;
    }
    STANDARD
        .iter()
        .find(|(_, c, _)| i64::from(*c) == code)
        .map(|(n, c, k)| (n.to_string(), *c, *k))
}

fn check_hex(data: &str) -> Result<(), String> {
    let clean: String = data.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    let clean = clean.strip_prefix("0x").unwrap_or(&clean);
    if clean.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "option data is not a valid string of hexadecimal digits: {data}"
        ))
    }
}

/// Kea checks addresses strictly; integers and booleans are converted leniently (measured: an
/// `interface-mtu` of `abc` is accepted), so only addresses are checked here.
fn check_data(kind: Kind, data: &str) -> Result<(), String> {
    if !matches!(kind, Kind::Ipv4 | Kind::Ipv4List) || data.is_empty() {
        return Ok(());
    }
    let fields: Vec<&str> = data.split(',').map(str::trim).collect();
    let fields = if kind == Kind::Ipv4 {
        &fields[..1]
    } else {
        &fields[..]
    };
    for f in fields {
        f.parse::<Ipv4Addr>()
            .map_err(|_| format!("Failed to convert string to address '{f}': Invalid argument"))?;
    }
    Ok(())
}

/// Parse and normalize one `option-data` list (`OptionDataListParser`), with Kea's texts.
pub fn normalize_option_data(list: &Element, custom: &[OptionDef]) -> Result<Vec<Element>, String> {
    let items = list.list_value().map_err(|e| e.0)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let map = item.map_value().map_err(|e| e.0)?;
        let space = match map.get("space") {
            Some(s) => s.string_value().map_err(|e| e.0)?.to_string(),
            None => "dhcp4".to_string(),
        };
        let name_el = map.get("name");
        let code_el = map.get("code");
        if name_el.is_none() && code_el.is_none() {
            return Err(format!(
                "option data configuration requires one of 'code' or 'name' parameters to be specified ({})",
                item.pos
            ));
        }
        // Kea resolves the definition by code when one is given, else by name.
        let name = name_el.map(|n| n.string_value().map_err(|e| e.0)).transpose()?;
        let (code, def) = match code_el {
            Some(c) => {
                let code = c.int_value().map_err(|e| e.0)?;
                if !(0..=255).contains(&code) {
                    return Err(format!(
                        "invalid option code '{code}', it must not be greater than '255' ({})",
                        c.pos
                    ));
                }
                let def = by_code(code, &space, custom);
                if let (Some((dn, _, _)), Some(n)) = (&def, name)
                    && dn != n
                {
                    let pos = name_el.map_or(item.pos, |e| e.pos);
                    return Err(format!(
                        "specified option name '{n}' does not match the option definition: '{space}.{dn}' ({pos})"
                    ));
                }
                (code, def)
            }
            None => {
                let n = name.unwrap_or_default();
                let def = by_name(n, &space, custom).ok_or_else(|| {
                    let pos = name_el.map_or(item.pos, |e| e.pos);
                    format!("definition for the option '{space}.{n}' does not exist ({pos})")
                })?;
                (i64::from(def.1), Some(def))
            }
        };
        // Without a definition the data can only be hex.
        let csv = match map.get("csv-format") {
            Some(c) => c.bool_value().map_err(|e| e.0)?,
            None => def.is_some(),
        };
        let always = match map.get("always-send") {
            Some(c) => c.bool_value().map_err(|e| e.0)?,
            None => false,
        };
        let never = match map.get("never-send") {
            Some(c) => c.bool_value().map_err(|e| e.0)?,
            None => false,
        };
        let data = match map.get("data") {
            Some(d) => d.string_value().map_err(|e| e.0)?.to_string(),
            None => String::new(),
        };
        let data_pos = map.get("data").map_or(item.pos, |e| e.pos);
        if !csv {
            check_hex(&data).map_err(|why| format!("{why} ({data_pos})"))?;
        } else if let Some((_, _, kind)) = &def {
            check_data(*kind, &data).map_err(|why| {
                format!("option data does not match option definition (space: {space}, code: {code}): {why} ({data_pos})")
            })?;
        }
        let mut norm = Element::map();
        norm.set("always-send", Element::bool(always));
        norm.set("code", Element::int(code));
        norm.set("csv-format", Element::bool(csv));
        norm.set("data", Element::str(data));
        if let Some((n, _, _)) = &def {
            norm.set("name", Element::str(n.clone()));
        }
        norm.set("never-send", Element::bool(never));
        norm.set("space", Element::str(space));
        for extra in ["client-classes", "user-context"] {
            if let Some(v) = map.get(extra) {
                norm.set(extra, v.clone().without_positions());
            }
        }
        out.push(norm);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::parse_request;

    #[test]
    fn normalizes_like_kea() {
        let list = parse_request(br#"[{"name":"domain-name-servers","data":"10.0.0.1, 10.0.0.2"},{"code":15,"data":"example.org"}]"#).unwrap();
        let out = normalize_option_data(&list, &[]).unwrap();
        assert_eq!(
            Element::list(out).to_kea_string(),
            r#"[ { "always-send": false, "code": 6, "csv-format": true, "data": "10.0.0.1, 10.0.0.2", "name": "domain-name-servers", "never-send": false, "space": "dhcp4" }, { "always-send": false, "code": 15, "csv-format": true, "data": "example.org", "name": "domain-name", "never-send": false, "space": "dhcp4" } ]"#
        );
    }

    #[test]
    fn unknown_names_and_bad_addresses_are_refused() {
        let list = parse_request(br#"[{"name":"bogus-opt","data":"1"}]"#).unwrap();
        assert_eq!(
            normalize_option_data(&list, &[]).unwrap_err(),
            "definition for the option 'dhcp4.bogus-opt' does not exist (<string>:1:10)"
        );
        let list = parse_request(br#"[{"name":"routers","data":"zzz"}]"#).unwrap();
        assert_eq!(
            normalize_option_data(&list, &[]).unwrap_err(),
            "option data does not match option definition (space: dhcp4, code: 3): Failed to convert string to address 'zzz': Invalid argument (<string>:1:27)"
        );
    }
}
