//! Command processing as kea-dhcp4 does it (`BaseCommandMgr::processCommand`,
//! `HookedCommandMgr`): envelope validation, hook availability, dispatch.

pub mod answer;
pub mod args;
pub mod hosts;
pub mod leases;
pub mod server;
pub mod subnets;

pub use answer::{CmdError, CmdResult, answer, code};

use crate::element::Element;
use crate::server::Node;

/// Commands kea-dhcp4 3.0.4 registers itself.
pub const BUILTIN: &[&str] = &[
    "build-report",
    "config-backend-pull",
    "config-get",
    "config-hash-get",
    "config-reload",
    "config-set",
    "config-test",
    "config-write",
    "dhcp-disable",
    "dhcp-enable",
    "leases-reclaim",
    "list-commands",
    "server-tag-get",
    "shutdown",
    "statistic-get",
    "statistic-get-all",
    "statistic-remove",
    "statistic-remove-all",
    "statistic-reset",
    "statistic-reset-all",
    "statistic-sample-age-set",
    "statistic-sample-age-set-all",
    "statistic-sample-count-set",
    "statistic-sample-count-set-all",
    "status-get",
    "subnet4-select-test",
    "subnet4o6-select-test",
    "version-get",
];

/// Commands of `libdhcp_lease_cmds.so`.
pub const LEASE_CMDS: &[&str] = &[
    "lease4-add",
    "lease4-del",
    "lease4-get",
    "lease4-get-all",
    "lease4-get-by-client-id",
    "lease4-get-by-hostname",
    "lease4-get-by-hw-address",
    "lease4-get-page",
    "lease4-resend-ddns",
    "lease4-update",
    "lease4-wipe",
    "lease4-write",
    "lease6-add",
    "lease6-bulk-apply",
    "lease6-del",
    "lease6-get",
    "lease6-get-all",
    "lease6-get-by-duid",
    "lease6-get-by-hostname",
    "lease6-get-page",
    "lease6-resend-ddns",
    "lease6-update",
    "lease6-wipe",
    "lease6-write",
];

/// Commands of `libdhcp_host_cmds.so`.
pub const HOST_CMDS: &[&str] = &[
    "reservation-add",
    "reservation-del",
    "reservation-get",
    "reservation-get-all",
    "reservation-get-by-address",
    "reservation-get-by-hostname",
    "reservation-get-by-id",
    "reservation-get-page",
    "reservation-update",
];

/// Commands of `libdhcp_subnet_cmds.so`.
pub const SUBNET_CMDS: &[&str] = &[
    "network4-add",
    "network4-del",
    "network4-get",
    "network4-list",
    "network4-subnet-add",
    "network4-subnet-del",
    "network6-add",
    "network6-del",
    "network6-get",
    "network6-list",
    "network6-subnet-add",
    "network6-subnet-del",
    "subnet4-add",
    "subnet4-del",
    "subnet4-delta-add",
    "subnet4-delta-del",
    "subnet4-get",
    "subnet4-list",
    "subnet4-update",
    "subnet6-add",
    "subnet6-del",
    "subnet6-delta-add",
    "subnet6-delta-del",
    "subnet6-get",
    "subnet6-list",
    "subnet6-update",
];

/// Commands of `libdhcp_ha.so`.
pub const HA_CMDS: &[&str] = &[
    "ha-continue",
    "ha-heartbeat",
    "ha-maintenance-cancel",
    "ha-maintenance-notify",
    "ha-maintenance-start",
    "ha-reset",
    "ha-scopes",
    "ha-sync",
    "ha-sync-complete-notify",
];

/// `parseCommand`: the command name and arguments, or Kea's error text.
pub fn parse_command(cmd: &Element) -> Result<(&str, Option<&Element>), String> {
    let Some(m) = cmd.map_value().ok() else {
        return Err(format!(
            "invalid command: expected toplevel entry to be a map, got {} instead",
            cmd.type_name()
        ));
    };
    let Some(name) = m.get("command") else {
        return Err("invalid command: does not contain mandatory 'command'".into());
    };
    for k in m.keys() {
        if !matches!(k.as_str(), "command" | "arguments" | "service" | "remote-address") {
            return Err(format!("invalid command: unsupported parameter '{k}'"));
        }
    }
    // Kea names the type of the whole command here, not of 'command' (always "map").
    let name = name
        .as_str()
        .ok_or("invalid command: expected 'command' to be a string, got map instead")?;
    Ok((name, m.get("arguments")))
}

/// The commands this server lists (`list-commands`), sorted.
pub fn supported(node: &Node) -> Vec<&'static str> {
    let cfg = node.config();
    let mut v: Vec<&'static str> = BUILTIN.to_vec();
    if cfg.hooks.lease_cmds {
        v.extend_from_slice(LEASE_CMDS);
    }
    if cfg.hooks.host_cmds {
        v.extend_from_slice(HOST_CMDS);
    }
    if cfg.hooks.subnet_cmds {
        v.extend_from_slice(SUBNET_CMDS);
    }
    if node.ha.is_some() {
        v.extend_from_slice(HA_CMDS);
    }
    v.sort_unstable();
    v.dedup();
    v
}

fn not_simulated(name: &str) -> CmdResult {
    Err(CmdError::error(format!(
        "kea-sim does not simulate the '{name}' command"
    )))
}

fn unsupported(name: &str) -> Element {
    answer(
        code::UNSUPPORTED,
        &format!("'{name}' command not supported."),
        None,
    )
}

/// `processCommand` on a parsed request body (`None` for an empty body).
pub fn process(node: &Node, cmd: Option<&Element>) -> Element {
    let Some(cmd) = cmd else {
        return answer(
            code::ERROR,
            "Command processing failed: NULL command parameter",
            None,
        );
    };
    match parse_command(cmd) {
        Err(e) => answer(
            code::ERROR,
            &format!("Error during command processing: {e}"),
            None,
        ),
        Ok((name, args)) => dispatch(node, name, args),
    }
}

/// Run one command.
pub fn dispatch(node: &Node, name: &str, args: Option<&Element>) -> Element {
    let cfg = node.config();
    let result = if BUILTIN.contains(&name) {
        match name {
            "list-commands" => Ok(answer(
                code::SUCCESS,
                "",
                Some(Element::list(
                    supported(node).into_iter().map(Element::str).collect(),
                )),
            )),
            "version-get" => {
                if cfg.hooks.pgsql {
                    server::version_get(&format!("{}{}", server::EXTENDED_VERSION, server::PGSQL_BACKENDS))
                } else {
                    server::version_get(server::EXTENDED_VERSION)
                }
            }
            "build-report" => server::build_report(),
            "status-get" => server::status_get(node),
            "config-get" => server::config_get(node),
            "config-hash-get" => server::config_hash_get(node),
            "config-write" => server::config_write(node, args),
            other => not_simulated(other),
        }
    } else if LEASE_CMDS.contains(&name) {
        if !cfg.hooks.lease_cmds {
            return unsupported(name);
        }
        match name {
            "lease4-add" => leases::add(node, args),
            "lease4-get" => leases::get(node, args),
            "lease4-get-all" => leases::get_all(node, args),
            "lease4-get-page" => leases::get_page(node, args),
            "lease4-get-by-hw-address" => leases::get_by_hw_address(node, args),
            "lease4-get-by-client-id" => leases::get_by_client_id(node, args),
            "lease4-get-by-hostname" => leases::get_by_hostname(node, args),
            "lease4-update" => leases::update(node, args),
            "lease4-del" => leases::del(node, args),
            "lease4-wipe" => leases::wipe(node, args),
            other => not_simulated(other),
        }
    } else if HOST_CMDS.contains(&name) {
        if !cfg.hooks.host_cmds {
            return unsupported(name);
        }
        match name {
            "reservation-add" => hosts::add(node, args),
            "reservation-get" => hosts::get(node, args),
            "reservation-get-by-address" => hosts::get_by_address(node, args),
            "reservation-get-all" => hosts::get_all(node, args),
            "reservation-get-page" => hosts::get_page(node, args),
            "reservation-get-by-id" => hosts::get_by_id(node, args),
            "reservation-get-by-hostname" => hosts::get_by_hostname(node, args),
            "reservation-update" => hosts::update(node, args),
            "reservation-del" => hosts::del(node, args),
            other => not_simulated(other),
        }
    } else if SUBNET_CMDS.contains(&name) {
        if !cfg.hooks.subnet_cmds {
            return unsupported(name);
        }
        match name {
            "subnet4-list" => subnets::list(node),
            "subnet4-get" => subnets::get(node, args),
            other => not_simulated(other),
        }
    } else if HA_CMDS.contains(&name) && node.ha.is_some() {
        match (name, crate::ha::heartbeat(node)) {
            ("ha-heartbeat", Some(hb)) => Ok(answer(code::SUCCESS, "HA peer status returned.", Some(hb))),
            _ => not_simulated(name),
        }
    } else {
        return unsupported(name);
    };
    result.unwrap_or_else(|e| e.to_answer())
}
