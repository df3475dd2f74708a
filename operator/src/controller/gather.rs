//! Reads what the planner needs from Kea (SPEC §2.3–2.5): per-server subnets and hosts, and the
//! leases on the active server. Each server's reads either all succeed or the server is reported
//! `Unavailable` with the condition reason of its failure — the planner then writes nothing there.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use ipnet::Ipv4Net;

use crate::core::namespace::{PrefixError, resolve_prefix};
use crate::core::planner::{NcIdentity, ServerInput, ServerState};
use crate::core::{Host, Lease, Mac, ServerId, SubnetId};
use crate::crd::NetworkConfiguration;
use crate::kea::KeaError;

use super::context::Context;
use super::execute::reason_of;

fn unavailable(error: &KeaError) -> ServerState {
    ServerState::Unavailable {
        reason: reason_of(error),
        message: error.to_string(),
    }
}

/// The valid MACs the spec declares (the planner reports the invalid ones per interface).
pub fn declared_macs(nc: &NetworkConfiguration) -> BTreeSet<Mac> {
    nc.spec
        .network_interfaces
        .iter()
        .filter_map(|i| Mac::parse(&i.mac_address).ok())
        .collect()
}

/// The NC's IPv4 prefix, from its NetworkNamespace in the watched store.
pub fn prefix(
    ctx: &Context,
    identity: &NcIdentity,
    nc: &NetworkConfiguration,
) -> Result<Ipv4Net, PrefixError> {
    let nns = ctx.valid_nns();
    resolve_prefix(
        &identity.namespace,
        nc.spec.network_namespace_name.as_deref(),
        nns.iter(),
    )
    .map(|resolved| resolved.prefix)
}

/// Each configured server with its subnet list (hosts not read yet). A prefix that no cached subnet
/// holds refreshes that server's list (at most every few seconds).
pub async fn servers(ctx: &Context, prefix: Option<Ipv4Net>) -> Vec<ServerInput> {
    let reads = ctx.kea.ids().into_iter().map(|id| async move {
        let state = match server_subnets(ctx, id, prefix).await {
            Ok(subnets) => ServerState::Available {
                subnets,
                hosts: Vec::new(),
            },
            Err(error) => unavailable(&error),
        };
        ServerInput { id, state }
    });
    join_all(reads).await
}

async fn server_subnets(
    ctx: &Context,
    server: ServerId,
    prefix: Option<Ipv4Net>,
) -> Result<Vec<crate::core::Subnet>, KeaError> {
    let subnets = ctx.subnets.get(&ctx.kea, server).await?;
    // A miss: no subnet overlaps the prefix at all (the list may predate a Kea reconfiguration).
    let miss = prefix.is_some_and(|p| {
        let p = p.trunc();
        !subnets
            .iter()
            .any(|s| s.prefix.contains(&p) || p.contains(&s.prefix))
    });
    if miss {
        return Ok(ctx.subnets.refresh_on_miss(&ctx.kea, server).await?.to_vec());
    }
    Ok(subnets.to_vec())
}

/// The server whose leases and reservations count: the one the health task calls active, unless it
/// could not be read now, then the first available one.
pub fn choose_active(ctx: &Context, servers: &[ServerInput]) -> Option<ServerId> {
    let available = |id: ServerId| {
        servers
            .iter()
            .any(|s| s.id == id && matches!(s.state, ServerState::Available { .. }))
    };
    let active = ctx.kea.active();
    if available(active) {
        return Some(active);
    }
    servers
        .iter()
        .find(|s| matches!(s.state, ServerState::Available { .. }))
        .map(|s| s.id)
}

/// `lease4-get-by-hw-address` for every MAC, from the active server (failing over at once when it
/// does not answer). Returns the leases and the server that answered, or the error.
pub async fn leases(ctx: &Context, macs: &BTreeSet<Mac>) -> Result<(Vec<Lease>, Option<ServerId>), KeaError> {
    let reads = macs.iter().map(|mac| {
        let mac = *mac;
        ctx.kea
            .read(move |client, _| async move { client.leases_by_hw_address(mac).await })
    });
    let mut leases = Vec::new();
    let mut answered = None;
    for result in join_all(reads).await {
        let answer = result?;
        answered.get_or_insert(answer.server);
        leases.extend(answer.value);
    }
    Ok((leases, answered))
}

/// Reads the hosts at `keys` on every available server (`reservation-get` per key; the address
/// checks of `addresses` with `reservation-get-by-address`) and fills them in. A server with a
/// failed read, or whose hosts database is down (its "not found" cannot be believed, SPEC §4),
/// becomes unavailable.
pub async fn hosts(
    ctx: &Context,
    servers: &mut [ServerInput],
    keys: &BTreeMap<ServerId, BTreeSet<(SubnetId, Mac)>>,
) {
    let reads = servers.iter().map(|server| {
        let keys = keys.get(&server.id).cloned().unwrap_or_default();
        async move {
            if !matches!(server.state, ServerState::Available { .. }) {
                return None;
            }
            Some(read_hosts(ctx, server.id, keys).await)
        }
    });
    let results = join_all(reads).await;
    for (server, result) in servers.iter_mut().zip(results) {
        let Some(result) = result else { continue };
        match (result, &mut server.state) {
            (Ok(found), ServerState::Available { hosts, .. }) => hosts.extend(found),
            (Err(error), state) => *state = unavailable(&error),
            (Ok(_), ServerState::Unavailable { .. }) => {}
        }
    }
}

async fn read_hosts(
    ctx: &Context,
    server: ServerId,
    keys: BTreeSet<(SubnetId, Mac)>,
) -> Result<Vec<Host>, KeaError> {
    // Only a lost hosts database makes "not found" untrue; an unhealthy server refuses the reads
    // itself, with the class of its failure (a 401 stays AuthenticationFailed).
    if ctx
        .kea
        .health(server)
        .is_some_and(|h| h.status.as_ref().is_some_and(|s| s.database_lost))
    {
        return Err(KeaError::DatabaseUnavailable {
            command: "reservation-get".into(),
            text: "the server's hosts database is down; its answers are not trusted until it recovers".into(),
        });
    }
    let reads = keys.into_iter().map(|(subnet, mac)| {
        ctx.kea.on(server, move |client, target| async move {
            client.reservation_get(subnet, mac, target).await
        })
    });
    let mut hosts = Vec::new();
    for result in join_all(reads).await {
        if let Some(host) = result? {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// Marks every server unavailable (leases could not be read anywhere: nothing can be decided).
pub fn all_unavailable(servers: &mut [ServerInput], error: &KeaError) {
    for server in servers {
        server.state = unavailable(error);
    }
}
