//! The reconcile planner (SPEC §2): pure, no IO. The controller gathers inputs, calls [`plan`],
//! executes the actions through the Kea client, records the outcomes, and computes status from them.
//!
//! # How the controller calls it
//!
//! 1. **Identity and spec.** [`NcIdentity::from_nc`]; `interfaces = nc.spec.network_interfaces`.
//! 2. **Prefix.** [`crate::core::namespace::resolve_prefix`] over the NetworkNamespaces of the NC's
//!    namespace → `prefix` (its error is kept: the plan then writes and deletes nothing).
//! 3. **Servers.** For each configured server: its subnet list (cached) → `ServerState::Available
//!    { subnets, hosts: vec![] }`, or `Unavailable { reason, message }` when it cannot be read.
//!    `active` = the server serving DHCP (the primary while healthy).
//! 4. **Leases.** `lease4-get-by-hw-address` on the active server for every valid MAC (they are also
//!    needed when a reservation exists: a differing lease is reported as `LeaseMismatch`).
//! 5. **Annotation, claims.** [`Reservations::parse`](crate::core::annotation::Reservations::parse)
//!    of the NC's annotation; [`mac_claims`] over the other NCs (a reflector store);
//!    `legacy_finalizer` = [`NetworkConfiguration::has_legacy_finalizer`](crate::crd::NetworkConfiguration::has_legacy_finalizer).
//! 6. **Hosts.** [`PlanInput::host_lookups`] lists the (subnet, MAC) keys to read per server with
//!    `reservation-get`; put every host found into that server's `hosts`. A server whose read fails
//!    becomes `Unavailable`. Hosts read by address (`reservation-get-by-address` for the desired
//!    addresses) may be added too: address conflicts are then reported before writing.
//! 7. **Plan.** [`plan`] → [`Plan`]. Optionally write [`Plan::intent_annotation`] first (crash safety).
//! 8. **Execute.** Per server, [`Plan::actions_for`] in the given order (servers are independent and
//!    may run concurrently); map each answer to an [`Outcome`] (see its docs; `DRY_RUN` → `DryRun`).
//! 9. **Results.** [`Plan::into_applied`] → [`Applied`]: [`Applied::annotation`] (write it when its
//!    rendering differs), [`Applied::events`] (publish), and
//!    [`crate::core::status::render`] for the status and the requeue.
//!
//! Deletion: [`host_lookup_keys`] → read → [`plan_deletion`] → execute → [`DeletionPlan::finish`].
//!
//! # Invariants (property-tested in `operator/tests/planner_properties.rs`)
//!
//! - Only hosts with this instance's marker are deleted or replaced; an unmarked host is changed only
//!   by adoption (legacy finalizer, equal subnet/MAC/IP), which keeps its address and other context.
//! - With full knowledge of the servers, every action succeeds in order, no subnet ever holds one IP
//!   on two MACs, and planning again after applying yields no actions.
//! - A deletion plan removes exactly the hosts marked with this NC's uid.
//! - [`plan`] is total: no input makes it panic.

mod applied;
mod build;
mod compare;
mod deletion;
mod desired;
mod input;
mod order;
mod output;
mod validate;

pub use applied::{Applied, InterfaceResult, Outcome, ServerResult};
pub use build::plan;
pub use deletion::{DeletionPlan, DeletionResult, plan_deletion};
pub use input::{
    MacClaim, MissingMetadata, NcIdentity, PlanInput, ServerInput, ServerState, host_lookup_keys, mac_claims,
};
pub use output::{
    Action, ActionId, AddressSource, EventType, InterfacePlan, MAX_NOTE, Plan, PlannedAction, PlannedEvent,
    ReplaceKind, ServerOutcome, ServerPlan, Verdict, truncate_text,
};
