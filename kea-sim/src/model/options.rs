//! `option-data` of host reservations: Kea resolves each entry against its DHCPv4 option
//! definitions, checks the data and stores a normalized form (`always-send`, `code`,
//! `csv-format`, `data`, `name`, `never-send`, `space`). kea-sim knows the common standard
//! options; data is checked for the address and integer types, which covers what a client
//! typically sends (see the fidelity notes in the README for what is not checked).

use std::net::Ipv4Addr;

use crate::element::Element;

#[derive(Clone, Copy, PartialEq, Eq)]
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

fn by_name(name: &str) -> Option<(&'static str, u8, Kind)> {
    STANDARD.iter().copied().find(|(n, _, _)| *n == name)
}

fn by_code(code: i64) -> Option<(&'static str, u8, Kind)> {
    STANDARD.iter().copied().find(|(_, c, _)| i64::from(*c) == code)
}

fn check_data(kind: Kind, data: &str, csv: bool) -> Result<(), String> {
    if !csv || matches!(kind, Kind::Binary) {
        let clean: String = data.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
        let clean = clean.strip_prefix("0x").unwrap_or(&clean);
        if !clean.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("option data is not a valid string of hexadecimal digits: ".to_string() + data);
        }
        return Ok(());
    }
    let fields: Vec<&str> = data.split(',').map(str::trim).collect();
    let conv = |f: &str| -> Result<(), String> {
        match kind {
            Kind::Ipv4 | Kind::Ipv4List => f
                .parse::<Ipv4Addr>()
                .map(|_| ())
                .map_err(|_| format!("Failed to convert string to address '{f}': Invalid argument")),
            Kind::U8 => f
                .parse::<u8>()
                .map(|_| ())
                .map_err(|_| format!("unable to convert '{f}' to type uint8")),
            Kind::U16 => f
                .parse::<u16>()
                .map(|_| ())
                .map_err(|_| format!("unable to convert '{f}' to type uint16")),
            Kind::U32 => f
                .parse::<u32>()
                .map(|_| ())
                .map_err(|_| format!("unable to convert '{f}' to type uint32")),
            Kind::I32 => f
                .parse::<i32>()
                .map(|_| ())
                .map_err(|_| format!("unable to convert '{f}' to type int32")),
            Kind::Bool => match f {
                "true" | "false" | "0" | "1" => Ok(()),
                _ => Err(format!("unable to convert '{f}' to type boolean")),
            },
            Kind::Text | Kind::Binary => Ok(()),
        }
    };
    match kind {
        Kind::Ipv4List => fields.iter().try_for_each(|f| conv(f)),
        Kind::Text => Ok(()),
        _ => conv(fields.first().copied().unwrap_or("")),
    }
}

/// Parse and normalize one `option-data` list (`OptionDataListParser`), with Kea's texts.
pub fn normalize_option_data(list: &Element) -> Result<Vec<Element>, String> {
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
        let mut def = None;
        if let Some(n) = name_el {
            let n = n.string_value().map_err(|e| e.0)?;
            def = by_name(n);
            if def.is_none() || space != "dhcp4" {
                let pos = name_el.map(|e| e.pos).unwrap_or(item.pos);
                return Err(format!(
                    "definition for the option '{space}.{n}' does not exist ({pos})"
                ));
            }
        }
        let code = match code_el {
            Some(c) => {
                let code = c.int_value().map_err(|e| e.0)?;
                if !(0..=255).contains(&code) {
                    return Err(format!(
                        "invalid option code '{code}', it must not be greater than '255' ({})",
                        c.pos
                    ));
                }
                if let Some((_, dc, _)) = def
                    && i64::from(dc) != code
                {
                    return Err(format!(
                        "option definition for the option '{space}.{}' having code '{dc}' does not match the specified option code '{code}' ({})",
                        def.map(|d| d.0).unwrap_or(""),
                        c.pos
                    ));
                }
                if def.is_none() {
                    def = by_code(code);
                }
                code
            }
            None => def.map(|d| i64::from(d.1)).unwrap_or(0),
        };
        let csv = match map.get("csv-format") {
            Some(c) => c.bool_value().map_err(|e| e.0)?,
            None => true,
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
        if let Some((_, _, kind)) = def
            && (!data.is_empty() || !matches!(kind, Kind::Text | Kind::Binary))
        {
            check_data(kind, &data, csv).map_err(|why| {
                    let pos = map.get("data").map(|e| e.pos).unwrap_or(item.pos);
                    format!("option data does not match option definition (space: {space}, code: {code}): {why} ({pos})")
                })?;
        }
        let mut norm = Element::map();
        norm.set("always-send", Element::bool(always));
        norm.set("code", Element::int(code));
        norm.set("csv-format", Element::bool(csv));
        norm.set("data", Element::str(data));
        if let Some((n, _, _)) = def {
            norm.set("name", Element::str(n));
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
        let out = normalize_option_data(&list).unwrap();
        assert_eq!(
            Element::list(out).to_kea_string(),
            r#"[ { "always-send": false, "code": 6, "csv-format": true, "data": "10.0.0.1, 10.0.0.2", "name": "domain-name-servers", "never-send": false, "space": "dhcp4" }, { "always-send": false, "code": 15, "csv-format": true, "data": "example.org", "name": "domain-name", "never-send": false, "space": "dhcp4" } ]"#
        );
    }

    #[test]
    fn unknown_names_and_bad_addresses_are_refused() {
        let list = parse_request(br#"[{"name":"bogus-opt","data":"1"}]"#).unwrap();
        assert_eq!(
            normalize_option_data(&list).unwrap_err(),
            "definition for the option 'dhcp4.bogus-opt' does not exist (<string>:1:10)"
        );
        let list = parse_request(br#"[{"name":"routers","data":"zzz"}]"#).unwrap();
        assert_eq!(
            normalize_option_data(&list).unwrap_err(),
            "option data does not match option definition (space: dhcp4, code: 3): Failed to convert string to address 'zzz': Invalid argument (<string>:1:27)"
        );
    }
}
