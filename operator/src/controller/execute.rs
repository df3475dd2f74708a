//! Executes planned Kea writes on one server and maps Kea's answers to the planner's [`Outcome`]s.
//! Shared by reconcile, cleanup and sweep, so every write goes through the same rules:
//! - an address is never changed with `reservation-update` (SPEC §2): check the new address is free,
//!   then `reservation-del` + `reservation-add`;
//! - "host already exists" after a retried add is re-read: it may be our own first attempt;
//! - "not found" on delete counts as done only from a server whose hosts database is up;
//! - `DRY_RUN` logs and counts, sends nothing.

use std::collections::BTreeMap;

use crate::core::error_class::Reason;
use crate::core::planner::{Action, ActionId, Outcome, PlannedAction};
use crate::core::{Host, ServerId};
use crate::kea::{ConflictKind, Deletion, KeaClient, KeaError, KeaFailure, OperationTarget};

use super::context::Context;

/// Runs `actions` (all for `server`) in order and returns each one's outcome.
pub async fn execute_on(
    ctx: &Context,
    server: ServerId,
    actions: &[&PlannedAction],
) -> Vec<(ActionId, Outcome)> {
    let mut outcomes = Vec::with_capacity(actions.len());
    for planned in actions {
        let outcome = execute_one(ctx, server, &planned.action).await;
        record(ctx, server, &planned.action, &outcome);
        outcomes.push((planned.id, outcome));
    }
    if ctx.config.kea.config_write && outcomes.iter().any(|(_, o)| *o == Outcome::Done) {
        ctx.kea.request_config_write(server);
    }
    outcomes
}

/// Runs the actions of every server concurrently (servers are independent), each server's in order.
pub async fn execute_all<'a>(
    ctx: &Context,
    actions: impl IntoIterator<Item = &'a PlannedAction>,
) -> BTreeMap<ActionId, Outcome> {
    let mut by_server: BTreeMap<ServerId, Vec<&PlannedAction>> = BTreeMap::new();
    for planned in actions {
        by_server.entry(planned.server).or_default().push(planned);
    }
    let runs = by_server
        .iter()
        .map(|(server, actions)| execute_on(ctx, *server, actions));
    futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn execute_one(ctx: &Context, server: ServerId, action: &Action) -> Outcome {
    if ctx.config.controller.dry_run {
        tracing::info!(%server, operation = action.operation(), action = ?action, "dry run: not sent");
        return Outcome::DryRun;
    }
    let result = ctx
        .kea
        .on(server, |client, target| run_action(client, target, action))
        .await;
    match result {
        Ok(()) => Outcome::Done,
        Err(error) => {
            if let KeaError::Kea {
                kind: KeaFailure::SubnetNotConfigured | KeaFailure::AddressOutsideSubnet,
                ..
            } = &error
            {
                ctx.subnets.invalidate(server);
            }
            tracing::warn!(%server, operation = action.operation(), error = %error, "Kea write failed");
            outcome_of(&error)
        }
    }
}

/// One action as one retriable unit: every step is idempotent, so a retry after a timeout redoes
/// the whole action safely.
async fn run_action(client: KeaClient, target: OperationTarget, action: &Action) -> Result<(), KeaError> {
    match action {
        Action::Add { host } => add_verified(&client, target, host).await,
        Action::Delete { host } => delete(&client, target, host).await,
        Action::Replace { old, new, .. } => {
            if old.ip_address != new.ip_address {
                ensure_address_free(&client, target, new).await?;
            }
            delete(&client, target, old).await?;
            add_verified(&client, target, new).await
        }
        Action::Adopt { old, new } => {
            delete(&client, target, old).await?;
            add_verified(&client, target, new).await
        }
    }
}

async fn delete(client: &KeaClient, target: OperationTarget, host: &Host) -> Result<(), KeaError> {
    match client
        .reservation_del(host.subnet_id, host.hw_address, target)
        .await?
    {
        Deletion::Deleted | Deletion::NotFound => Ok(()),
    }
}

/// `reservation-add`; when Kea says the host exists (or a database duplicate), read it back: if it
/// is exactly the host we add (a retried add whose first attempt landed), that is success.
async fn add_verified(client: &KeaClient, target: OperationTarget, host: &Host) -> Result<(), KeaError> {
    match client.reservation_add(host, target).await {
        Ok(()) => Ok(()),
        Err(
            error @ KeaError::Conflict {
                kind: ConflictKind::HostExists | ConflictKind::DatabaseDuplicate,
                ..
            },
        ) => {
            match client
                .reservation_get(host.subnet_id, host.hw_address, target)
                .await?
            {
                Some(existing)
                    if existing.ip_address == host.ip_address
                        && existing.user_context == host.user_context =>
                {
                    Ok(())
                }
                Some(_) => Err(error),
                // A database duplicate with no host on this MAC: the address is taken.
                None => Err(KeaError::Conflict {
                    command: "reservation-add".into(),
                    kind: ConflictKind::AddressReserved,
                    text: format!("address {} is reserved for another host", host.ip_address),
                }),
            }
        }
        Err(error) => Err(error),
    }
}

/// Before moving a host to a new address: no other host may hold it (SPEC §2: with a database,
/// `reservation-update` is delete + insert and a clash leaves the host deleted).
async fn ensure_address_free(
    client: &KeaClient,
    target: OperationTarget,
    host: &Host,
) -> Result<(), KeaError> {
    let holders = client
        .reservation_get_by_address(host.subnet_id, host.ip_address, target)
        .await?;
    match holders.iter().find(|h| h.hw_address != host.hw_address) {
        Some(holder) => Err(KeaError::Conflict {
            command: "reservation-get-by-address".into(),
            kind: ConflictKind::AddressReserved,
            text: format!(
                "address {} is reserved for {} in subnet {}",
                host.ip_address, holder.hw_address, host.subnet_id
            ),
        }),
        None => Ok(()),
    }
}

/// The planner's view of a failed write.
pub fn outcome_of(error: &KeaError) -> Outcome {
    match error {
        KeaError::Conflict { .. } => Outcome::Conflict {
            message: error.to_string(),
        },
        _ => Outcome::Failed {
            reason: reason_of(error),
            message: error.to_string(),
        },
    }
}

/// The condition reason of a Kea failure (SPEC §3).
pub fn reason_of(error: &KeaError) -> Reason {
    error.error_class().kea_reason()
}

fn record(ctx: &Context, server: ServerId, action: &Action, outcome: &Outcome) {
    let status = match outcome {
        Outcome::Done => "success",
        Outcome::Conflict { .. } => "conflict",
        Outcome::Failed { .. } => "error",
        Outcome::DryRun => "dry_run",
    };
    let (subnet, _) = action.key();
    ctx.metrics.record_reservation(action.operation(), status, subnet);
    if *outcome == Outcome::Done {
        ctx.sweep_scope.note_written(server, subnet);
    }
    tracing::debug!(%server, operation = action.operation(), status, "Kea write");
}
