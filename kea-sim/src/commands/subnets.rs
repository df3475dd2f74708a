//! `subnet4-list` and `subnet4-get` (Kea's `subnet_cmds` hook).

use super::answer::{CmdError, CmdResult, answer, code};
use crate::element::{Element, Value};
use crate::server::Node;

/// `subnet4-list` (arguments are ignored, as in Kea).
pub fn list(node: &Node) -> CmdResult {
    let cfg = node.config();
    let items: Vec<Element> = cfg
        .subnets
        .iter()
        .map(|s| {
            Element::map_of([
                ("id", Element::int(i64::from(s.id))),
                (
                    "shared-network-name",
                    s.shared_network
                        .as_deref()
                        .map_or_else(Element::null, Element::str),
                ),
                ("subnet", Element::str(s.to_text())),
            ])
        })
        .collect();
    let n = items.len();
    let text = format!("{n} IPv4 subnet{} found", if n == 1 { "" } else { "s" });
    let args = Element::map_of([("subnets", Element::list(items))]);
    Ok(answer(
        if n > 0 { code::SUCCESS } else { code::EMPTY },
        &text,
        Some(args),
    ))
}

/// The printed subnet (`Subnet4::toElement`): the effective configuration's entry, without
/// reservations.
fn subnet_element(node: &Node, id: u32) -> Option<Element> {
    let cfg = node.config();
    let eff = cfg.effective(&crate::store::HostStore::new());
    let d = eff.field("Dhcp4")?;
    let mut found = None;
    let mut scan = |list: Option<&Element>| {
        if let Some(Value::List(l)) = list.map(|e| &e.value) {
            for s in l {
                if s.field("id").and_then(Element::as_int) == Some(i64::from(id)) {
                    found = Some(s.clone());
                }
            }
        }
    };
    scan(d.field("subnet4"));
    if let Some(Value::List(nets)) = d.field("shared-networks").map(|e| &e.value) {
        for n in nets {
            scan(n.field("subnet4"));
        }
    }
    found.map(|mut s| {
        s.remove("reservations");
        s
    })
}

/// `subnet4-get`.
pub fn get(node: &Node, args: Option<&Element>) -> CmdResult {
    let args = args.ok_or_else(|| CmdError::error("no arguments specified for the 'subnet4-get' command"))?;
    let Value::Map(m) = &args.value else {
        return Err(CmdError::error(
            "arguments specified for the 'subnet4-get' command are not a map",
        ));
    };
    if m.len() != 1 {
        return Err(CmdError::error(format!(
            "invalid number of arguments {} for the 'subnet4-get' command. Expecting 'id' or 'subnet'",
            m.len()
        )));
    }
    let cfg = node.config();
    let (subnet, miss) = if let Some(p) = m.get("subnet") {
        let text = p
            .as_str()
            .ok_or_else(|| CmdError::error("'subnet' parameter must be a string"))?;
        (
            cfg.subnets.iter().find(|s| s.to_text() == text),
            format!("No {text} subnet found"),
        )
    } else if let Some(p) = m.get("id") {
        let id = p
            .as_int()
            .ok_or_else(|| CmdError::error("'id' parameter must be an integer"))?;
        let found = u32::try_from(id).ok().and_then(|i| cfg.subnet(i));
        (found, format!("No subnet with id {id} found"))
    } else {
        return Err(CmdError::error("'id' or 'subnet' parameter required"));
    };
    let Some(subnet) = subnet else {
        return Ok(answer(code::EMPTY, &miss, None));
    };
    let element = subnet_element(node, subnet.id).unwrap_or_else(Element::map);
    let text = format!(
        "Info about IPv4 subnet {} (id {}) returned",
        subnet.to_text(),
        subnet.id
    );
    Ok(answer(
        code::SUCCESS,
        &text,
        Some(Element::map_of([("subnet4", Element::list(vec![element]))])),
    ))
}
