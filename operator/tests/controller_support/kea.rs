//! What the Kea servers hold and what they were sent: hosts with the exact owner marker, the write
//! commands in the request log.

use std::net::Ipv4Addr;

use kea_operator::crd::NetworkConfiguration;
use kea_sim::{HostView, KeaSim, ReceivedCommand};
use serde_json::{Value, json};

use super::INSTANCE;
use super::wait::{DEADLINE, until};

/// The commands that change reservations.
pub const WRITES: &[&str] = &["reservation-add", "reservation-del", "reservation-update"];

/// The exact `user-context` this operator writes for `iface` of `nc` (SPEC §2.5).
pub fn marker(nc: &NetworkConfiguration, iface: &str) -> Value {
    let ns = nc.metadata.namespace.as_deref().expect("namespace");
    let name = nc.metadata.name.as_deref().expect("name");
    let uid = nc.metadata.uid.as_deref().expect("uid of a created NC");
    json!({"kea-operator": {"v": 1, "instance": INSTANCE, "owner": format!("{ns}/{name}"), "uid": uid, "interface": iface}})
}

/// The host of (subnet, MAC) on `sim`, if any.
pub fn host(sim: &KeaSim, subnet: u32, mac: &str) -> Option<HostView> {
    sim.hosts()
        .into_iter()
        .find(|h| h.subnet_id == subnet && h.identifier == mac)
}

/// Every host whose marker names `nc`'s uid.
pub fn owned_by(sim: &KeaSim, nc: &NetworkConfiguration) -> Vec<HostView> {
    let uid = nc.metadata.uid.as_deref().expect("uid of a created NC");
    sim.hosts()
        .into_iter()
        .filter(|h| {
            h.user_context
                .as_ref()
                .and_then(|c| c.pointer("/kea-operator/uid"))
                .and_then(Value::as_str)
                == Some(uid)
        })
        .collect()
}

/// `(subnet, MAC, IP)` of every host on `sim`, sorted.
pub fn summary(sim: &KeaSim) -> Vec<(u32, String, Option<Ipv4Addr>)> {
    let mut all: Vec<_> = sim
        .hosts()
        .into_iter()
        .map(|h| (h.subnet_id, h.identifier, h.ip_address))
        .collect();
    all.sort();
    all
}

/// Checks that `sim` holds exactly one host for (subnet, MAC), with address `ip` and the marker of
/// `iface` of `nc`.
pub fn check_reserved(
    sim: &KeaSim,
    subnet: u32,
    mac: &str,
    ip: Ipv4Addr,
    nc: &NetworkConfiguration,
    iface: &str,
) -> Result<(), String> {
    let found = host(sim, subnet, mac).ok_or_else(|| {
        format!(
            "{}: no host {mac} in subnet {subnet}; hosts: {:?}",
            sim.name(),
            summary(sim)
        )
    })?;
    if found.ip_address != Some(ip) {
        return Err(format!(
            "{}: {mac} holds {:?}, expected {ip}",
            sim.name(),
            found.ip_address
        ));
    }
    let want = marker(nc, iface);
    if found.user_context.as_ref() != Some(&want) {
        return Err(format!(
            "{}: {mac} user-context {:?}, expected {want}",
            sim.name(),
            found.user_context
        ));
    }
    Ok(())
}

/// Panics unless [`check_reserved`] holds.
pub fn assert_reserved(
    sim: &KeaSim,
    subnet: u32,
    mac: &str,
    ip: Ipv4Addr,
    nc: &NetworkConfiguration,
    iface: &str,
) {
    if let Err(e) = check_reserved(sim, subnet, mac, ip, nc, iface) {
        panic!("{e}");
    }
}

/// The reservation writes `sim` received so far.
pub fn writes(sim: &KeaSim) -> Vec<ReceivedCommand> {
    sim.received_commands()
        .into_iter()
        .filter(|c| c.command.as_deref().is_some_and(|c| WRITES.contains(&c)))
        .collect()
}

/// How many requests of `command` `sim` received so far.
pub fn count(sim: &KeaSim, command: &str) -> usize {
    sim.received_commands()
        .iter()
        .filter(|c| c.command.as_deref() == Some(command))
        .count()
}

/// Short text of a request for failure messages.
pub fn show(commands: &[ReceivedCommand]) -> Vec<String> {
    commands
        .iter()
        .map(|c| {
            format!(
                "{} {} -> {:?} {}",
                c.command.as_deref().unwrap_or("?"),
                c.arguments.as_ref().map(Value::to_string).unwrap_or_default(),
                c.result,
                c.text.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// Waits until `check` holds on the Kea side.
pub async fn wait_for(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    until(what, DEADLINE, async || check()).await
}
