//! The HA pair: lease replication between partners and the `high-availability` section of
//! `status-get`.
//!
//! As measured on a Kea 3.0.4 hot-standby pair: leases handed out on the DHCP path are sent to
//! the partner; reservations and leases added through the API are not. While the partners
//! cannot talk (one down, or a partition) nothing is sent; when they can again, the returning
//! server catches up from its partner.

use std::time::SystemTime;

use crate::commands::server::seconds_since;
use crate::element::Element;
use crate::model::{Lease, LeaseOrigin};
use crate::server::Node;

/// True when `node` can talk to its partner now.
pub fn partner_reachable(node: &Node) -> Option<std::sync::Arc<Node>> {
    let partner = node.partner()?;
    let partitioned = node.link.as_ref().is_some_and(|l| l.is_partitioned());
    (!partitioned && partner.is_up() && node.is_up()).then_some(partner)
}

/// Send a DHCP-path lease change to the partner (as the HA hook's lease updates do).
pub fn replicate(node: &Node, lease: &Lease) {
    if let Some(partner) = partner_reachable(node) {
        let mut copy = lease.clone();
        copy.origin = LeaseOrigin::Replicated;
        partner.write().leases.upsert(copy);
    }
}

/// Catch up with the partner's DHCP-path leases (after a restart or the end of a partition):
/// newer leases win.
pub fn sync_from_partner(node: &Node) {
    let Some(partner) = node.partner() else {
        return;
    };
    if node.link.as_ref().is_some_and(|l| l.is_partitioned()) || !partner.is_up() {
        return;
    }
    let theirs: Vec<Lease> = partner
        .read()
        .leases
        .all()
        .filter(|l| l.origin != LeaseOrigin::Api)
        .cloned()
        .collect();
    let mut st = node.write();
    for mut l in theirs {
        let newer = st.leases.get(l.ip).is_none_or(|mine| mine.cltt <= l.cltt);
        if newer {
            l.origin = LeaseOrigin::Replicated;
            st.leases.upsert(l);
        }
    }
}

/// Both partners catch up with each other (the end of a partition).
pub fn resync_pair(a: &Node) {
    sync_from_partner(a);
    if let Some(b) = a.partner() {
        sync_from_partner(&b);
    }
}

fn system_time_text(t: SystemTime) -> String {
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Scopes this server serves: in hot-standby the primary's scope, served by the primary while
/// the pair is healthy and by whichever server is left otherwise; in load-balancing each
/// server's own scope, and both when the partner is gone.
fn local_scopes(
    ha: &crate::config::HaConfig,
    reachable: bool,
    this: &str,
    partner: &str,
    primary: &str,
    is_primary: bool,
) -> Vec<String> {
    if ha.mode == "load-balancing" {
        let mut v = vec![this.to_string()];
        if !reachable {
            v.push(partner.to_string());
            v.sort();
        }
        return v;
    }
    if reachable && !is_primary {
        vec![]
    } else {
        vec![primary.to_string()]
    }
}

/// The state and scopes of this server (`ha-heartbeat`, `status-get`).
pub fn heartbeat(node: &Node) -> Option<Element> {
    let ha = node.ha.as_ref()?;
    let this = ha.this_peer()?;
    let partner = ha.partner()?;
    let reachable = partner_reachable(node).is_some();
    let primary_name = ha
        .peers
        .iter()
        .find(|p| p.role == "primary")
        .map_or_else(|| this.name.clone(), |p| p.name.clone());
    let scopes = local_scopes(
        ha,
        reachable,
        &this.name,
        &partner.name,
        &primary_name,
        this.role == "primary",
    );
    let state = if !reachable {
        "partner-down"
    } else if ha.mode == "load-balancing" {
        "load-balancing"
    } else {
        "hot-standby"
    };
    Some(Element::map_of([
        (
            "date-time",
            Element::str(httpdate::fmt_http_date(SystemTime::now())),
        ),
        (
            "scopes",
            Element::list(scopes.into_iter().map(Element::str).collect()),
        ),
        ("state", Element::str(state)),
        ("unsent-update-count", Element::int(0)),
    ]))
}

/// The `high-availability` list of `status-get`, for a server with the HA hook.
pub fn status_section(node: &Node) -> Option<Element> {
    let ha = node.ha.as_ref()?;
    let this = ha.this_peer()?;
    let partner_peer = ha.partner()?;
    let reachable = partner_reachable(node).is_some();
    let is_primary = this.role == "primary";
    let down_since = node.link.as_ref().and_then(|l| l.since());
    let now = SystemTime::now();
    let local_state = if reachable {
        if ha.mode == "load-balancing" {
            "load-balancing"
        } else {
            "hot-standby"
        }
    } else {
        "partner-down"
    };
    let primary_name = ha
        .peers
        .iter()
        .find(|p| p.role == "primary")
        .map_or_else(|| this.name.clone(), |p| p.name.clone());
    let scopes = local_scopes(
        ha,
        reachable,
        &this.name,
        &partner_peer.name,
        &primary_name,
        is_primary,
    );
    let mut local = Element::map();
    local.set("role", Element::str(this.role.clone()));
    local.set(
        "scopes",
        Element::list(scopes.into_iter().map(Element::str).collect()),
    );
    local.set("server-name", Element::str(this.name.clone()));
    local.set("state", Element::str(local_state));
    local.set(
        "system-time",
        if reachable {
            Element::str(system_time_text(now))
        } else {
            Element::null()
        },
    );

    let mut remote = Element::map();
    let age = if reachable {
        0
    } else {
        down_since.map_or(0, seconds_since)
    };
    remote.set("age", Element::int(age));
    remote.set("analyzed-packets", Element::int(0));
    remote.set(
        "clock-skew",
        if reachable {
            Element::int(0)
        } else {
            Element::null()
        },
    );
    remote.set("communication-interrupted", Element::bool(!reachable));
    remote.set("connecting-clients", Element::int(0));
    remote.set("in-touch", Element::bool(true));
    // The partner's scopes as last reported: those it serves in a healthy pair.
    let remote_scopes = if partner_peer.role == "primary" || ha.mode == "load-balancing" {
        vec![Element::str(partner_peer.name.clone())]
    } else {
        vec![]
    };
    remote.set("last-scopes", Element::list(remote_scopes));
    remote.set(
        "last-state",
        Element::str(if reachable { local_state } else { "unavailable" }),
    );
    remote.set("role", Element::str(partner_peer.role.clone()));
    remote.set("server-name", Element::str(partner_peer.name.clone()));
    remote.set(
        "system-time",
        if reachable {
            Element::str(system_time_text(now))
        } else {
            Element::null()
        },
    );
    remote.set("unacked-clients", Element::int(0));
    remote.set(
        "unacked-clients-left",
        Element::int(if reachable { 0 } else { 1 }),
    );

    let servers = Element::map_of([("local", local), ("remote", remote)]);
    Some(Element::list(vec![Element::map_of([
        ("ha-mode", Element::str(ha.mode.clone())),
        ("ha-servers", servers),
    ])]))
}
