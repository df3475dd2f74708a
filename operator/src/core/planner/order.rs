//! Execution order of one server's actions, so that with full knowledge every write succeeds in turn:
//! an address is vacated before it is taken.
//!
//! Deletes first; then replaces, each after the replace that moves off its target address; adoptions
//! (same address) and adds last. Replaces that wait on each other in a cycle (two interfaces swapping
//! addresses) are split into a delete, placed first, and an add, placed last.

use std::net::Ipv4Addr;

use super::build::Tentative;
use super::output::Action;
use crate::core::mac::Mac;
use crate::core::model::SubnetId;

type Ordered = Vec<(Action, Option<usize>)>;

pub(super) fn order_server_actions(actions: Vec<Tentative>) -> Ordered {
    let mut deletes: Ordered = Vec::new();
    let mut replaces: Vec<(Action, Option<usize>)> = Vec::new();
    let mut adopts: Ordered = Vec::new();
    let mut adds: Ordered = Vec::new();
    for t in actions {
        match t.action {
            Action::Delete { .. } => deletes.push((t.action, t.iface)),
            Action::Replace { .. } => replaces.push((t.action, t.iface)),
            Action::Adopt { .. } => adopts.push((t.action, t.iface)),
            Action::Add { .. } => adds.push((t.action, t.iface)),
        }
    }
    let sort = |v: &mut Ordered| v.sort_by_key(|(a, _)| sort_key(a));
    sort(&mut replaces);
    let mut ordered_replaces: Ordered = Vec::new();
    while !replaces.is_empty() {
        // Ready: no other pending replace still holds this one's target address.
        let ready = replaces.iter().position(|(r, _)| {
            let target = target_of(r);
            !replaces
                .iter()
                .any(|(d, _)| !std::ptr::eq(d, r) && target.is_some() && vacates(d) == target)
        });
        match ready {
            Some(i) => ordered_replaces.push(replaces.remove(i)),
            None => {
                // A cycle: split the first into delete (now) and add (at the end).
                let (action, iface) = replaces.remove(0);
                if let Action::Replace { old, new, .. } = action {
                    deletes.push((Action::Delete { host: old }, iface));
                    adds.push((Action::Add { host: new }, iface));
                }
            }
        }
    }
    sort(&mut deletes);
    sort(&mut adopts);
    sort(&mut adds);
    deletes
        .into_iter()
        .chain(ordered_replaces)
        .chain(adopts)
        .chain(adds)
        .collect()
}

fn sort_key(action: &Action) -> (SubnetId, Mac) {
    action.key()
}

fn target_of(action: &Action) -> Option<(SubnetId, Ipv4Addr)> {
    action.result_host().map(|h| (h.subnet_id, h.ip_address))
}

/// The (subnet, address) a replace frees, if it moves to another address.
fn vacates(action: &Action) -> Option<(SubnetId, Ipv4Addr)> {
    match action {
        Action::Replace { old, new, .. }
            if old.ip_address != new.ip_address || old.subnet_id != new.subnet_id =>
        {
            Some((old.subnet_id, old.ip_address))
        }
        _ => None,
    }
}
