//! SPEC §3 as pure functions: failure class → condition reason, whether it is retried, and when the
//! object is reconciled again; plus the per-object exponential backoff for repeated failures.
//!
//! The controller maps each failure (a Kea error, a missing NetworkNamespace, an invalid MAC) to a
//! [`Reason`]; [`Reason::class`] gives its [`ErrorClass`]; [`ErrorClass::requeue`] the [`Requeue`] from
//! the configured delays; [`Backoff::apply`] stretches it when the same object keeps failing. When
//! several failures meet in one reconcile, [`Requeue::combine`] keeps the soonest timer.

use std::fmt;
use std::time::Duration;

use crate::config::RequeueConfig;

/// Condition reasons (SPEC §3) and the two success reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// `Ready=True`: every valid interface is reserved on the active server.
    Reserved,
    /// `ServersInSync=True`: what is reserved on the active server is on every other server too.
    InSync,
    KeaUnavailable,
    AuthenticationFailed,
    PermissionDenied,
    InvalidSpec,
    NetworkNamespaceNotFound,
    AmbiguousNetworkNamespace,
    PrefixNotReady,
    SubnetNotFound,
    WaitingForLease,
    Conflict,
    /// `DRY_RUN=true`: the writes were logged and counted, not sent.
    DryRun,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Reserved => "Reserved",
            Reason::InSync => "InSync",
            Reason::KeaUnavailable => "KeaUnavailable",
            Reason::AuthenticationFailed => "AuthenticationFailed",
            Reason::PermissionDenied => "PermissionDenied",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::NetworkNamespaceNotFound => "NetworkNamespaceNotFound",
            Reason::AmbiguousNetworkNamespace => "AmbiguousNetworkNamespace",
            Reason::PrefixNotReady => "PrefixNotReady",
            Reason::SubnetNotFound => "SubnetNotFound",
            Reason::WaitingForLease => "WaitingForLease",
            Reason::Conflict => "Conflict",
            Reason::DryRun => "DryRun",
        }
    }

    /// The failure class, `None` for the success reasons (and a dry run, which is not a failure).
    pub fn class(self) -> Option<ErrorClass> {
        Some(match self {
            Reason::Reserved | Reason::InSync | Reason::DryRun => return None,
            Reason::KeaUnavailable => ErrorClass::Network,
            Reason::AuthenticationFailed => ErrorClass::Authentication,
            Reason::PermissionDenied => ErrorClass::Permission,
            Reason::InvalidSpec => ErrorClass::Validation,
            Reason::NetworkNamespaceNotFound
            | Reason::AmbiguousNetworkNamespace
            | Reason::PrefixNotReady
            | Reason::SubnetNotFound
            | Reason::WaitingForLease => ErrorClass::Resource,
            Reason::Conflict => ErrorClass::Conflict,
        })
    }

    /// Which reason a condition shows when several apply: what blocks everything first (the Kea
    /// connection and credentials), then what needs a human (spec, conflicts, configuration), then
    /// what resolves by itself (a lease appearing). Lower is shown first.
    pub fn precedence(self) -> u8 {
        match self {
            Reason::NetworkNamespaceNotFound => 0,
            Reason::AmbiguousNetworkNamespace => 1,
            Reason::PrefixNotReady => 2,
            Reason::AuthenticationFailed => 3,
            Reason::PermissionDenied => 4,
            Reason::KeaUnavailable => 5,
            Reason::InvalidSpec => 6,
            Reason::Conflict => 7,
            Reason::SubnetNotFound => 8,
            Reason::DryRun => 9,
            Reason::WaitingForLease => 10,
            Reason::Reserved | Reason::InSync => 11,
        }
    }

    /// The requeue for this reason (success reasons: none, drift is the sweep's job).
    pub fn requeue(self, config: &RequeueConfig) -> Requeue {
        self.class().map_or(Requeue::AwaitChange, |c| c.requeue(config))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SPEC §3's failure classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Connection refused, timeout, reset, HTTP 5xx, Kea's hosts database down.
    Network,
    /// HTTP 401.
    Authentication,
    /// HTTP 403: fixed on the Kea side.
    Permission,
    /// Bad spec or MAC: only a change of the object helps.
    Validation,
    /// NetworkNamespace, prefix, subnet or lease missing.
    Resource,
    /// Address or MAC owned by someone else.
    Conflict,
}

impl ErrorClass {
    /// Bounded label (metrics `error_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Network => "network",
            ErrorClass::Authentication => "authentication",
            ErrorClass::Permission => "permission",
            ErrorClass::Validation => "validation",
            ErrorClass::Resource => "resource",
            ErrorClass::Conflict => "conflict",
        }
    }

    /// SPEC §3's "retried" column: whether trying again without any change may succeed.
    pub fn is_retried(self) -> bool {
        matches!(
            self,
            ErrorClass::Network | ErrorClass::Authentication | ErrorClass::Resource
        )
    }

    /// The reason a Kea failure of this class shows; resource failures from Kea mean the subnet the
    /// operator resolved is gone.
    pub fn kea_reason(self) -> Reason {
        match self {
            ErrorClass::Network => Reason::KeaUnavailable,
            ErrorClass::Authentication => Reason::AuthenticationFailed,
            ErrorClass::Permission => Reason::PermissionDenied,
            ErrorClass::Validation => Reason::InvalidSpec,
            ErrorClass::Resource => Reason::SubnetNotFound,
            ErrorClass::Conflict => Reason::Conflict,
        }
    }

    /// When to reconcile again after a failure of this class.
    pub fn requeue(self, config: &RequeueConfig) -> Requeue {
        match self {
            ErrorClass::Network => Requeue::After(config.network),
            ErrorClass::Authentication => Requeue::After(config.auth),
            ErrorClass::Permission => Requeue::After(config.permission),
            ErrorClass::Resource => Requeue::After(config.resource),
            ErrorClass::Validation => Requeue::AwaitChange,
            ErrorClass::Conflict => Requeue::Resync,
        }
    }
}

/// When the controller looks at an object again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// Reconcile again after this delay.
    After(Duration),
    /// No timer: only a change of the object (or of what it watches) brings it back.
    AwaitChange,
    /// Conflicts: reconcile again after the resync interval (`RESYNC_INTERVAL_SECONDS`), when the sweep
    /// has had a chance to remove orphans; a change of the object also brings it back earlier.
    Resync,
}

impl Requeue {
    /// The delay to hand to the controller runtime, `None` for "no timer" (await a change).
    pub fn after(self, resync_interval: Duration) -> Option<Duration> {
        match self {
            Requeue::After(d) => Some(d),
            Requeue::Resync => Some(resync_interval),
            Requeue::AwaitChange => None,
        }
    }

    /// Two failures in one reconcile: the soonest timer wins (`Resync` is later than any class delay);
    /// `AwaitChange` only when nothing else asks for a timer.
    pub fn combine(self, other: Requeue) -> Requeue {
        match (self, other) {
            (Requeue::After(a), Requeue::After(b)) => Requeue::After(a.min(b)),
            (Requeue::After(a), _) | (_, Requeue::After(a)) => Requeue::After(a),
            (Requeue::Resync, _) | (_, Requeue::Resync) => Requeue::Resync,
            (Requeue::AwaitChange, Requeue::AwaitChange) => Requeue::AwaitChange,
        }
    }
}

/// Per-object exponential backoff: the class delay doubles with each consecutive failed reconcile of
/// the same object, up to `cap`, and never below `floor` (no hot loop even with a zero delay
/// configured). Reset the object's count when a reconcile succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub floor: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            floor: Duration::from_secs(1),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The delay after `consecutive_failures` failed reconciles (1 = the first failure → `base`).
    /// A `base` above `cap` is kept as is: the configured delay is a minimum.
    pub fn delay(&self, base: Duration, consecutive_failures: u32) -> Duration {
        let doublings = consecutive_failures.saturating_sub(1).min(32);
        let grown = base.saturating_mul(1u32 << doublings.min(31));
        grown.min(self.cap.max(base)).max(self.floor)
    }

    /// [`Backoff::delay`] applied to a requeue with a timer; the others are unchanged.
    pub fn apply(&self, requeue: Requeue, consecutive_failures: u32) -> Requeue {
        match requeue {
            Requeue::After(base) => Requeue::After(self.delay(base, consecutive_failures)),
            other => other,
        }
    }
}

/// Spreads requeues of many objects failing together (a Kea outage) over ±10 %: `unit` is a random
/// number in `[0, 1)` the caller draws, so this stays deterministic under test.
pub fn jitter(delay: Duration, unit: f64) -> Duration {
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    // `try_from` instead of `mul_f64`: a huge configured delay must not overflow into a panic.
    Duration::try_from_secs_f64(delay.as_secs_f64() * (0.9 + 0.2 * unit)).unwrap_or(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn spec_table_network_timeout_is_kea_unavailable_retried_after_30s() {
        let c = RequeueConfig::default();
        assert_eq!(Reason::KeaUnavailable.class(), Some(ErrorClass::Network));
        assert!(ErrorClass::Network.is_retried());
        assert_eq!(Reason::KeaUnavailable.requeue(&c), Requeue::After(S(30)));
        assert_eq!(ErrorClass::Network.kea_reason(), Reason::KeaUnavailable);
    }

    #[test]
    fn spec_table_authentication_is_retried_after_5min() {
        let c = RequeueConfig::default();
        assert_eq!(Reason::AuthenticationFailed.requeue(&c), Requeue::After(S(300)));
        assert!(ErrorClass::Authentication.is_retried());
    }

    #[test]
    fn spec_table_permission_is_not_fast_retried_but_requeued_after_10min() {
        let c = RequeueConfig::default();
        assert_eq!(Reason::PermissionDenied.requeue(&c), Requeue::After(S(600)));
        assert!(!ErrorClass::Permission.is_retried());
    }

    #[test]
    fn spec_table_validation_awaits_a_change() {
        let c = RequeueConfig::default();
        assert_eq!(Reason::InvalidSpec.requeue(&c), Requeue::AwaitChange);
        assert_eq!(Reason::InvalidSpec.requeue(&c).after(S(300)), None);
        assert!(!ErrorClass::Validation.is_retried());
    }

    #[test]
    fn spec_table_resource_reasons_are_requeued_after_1min() {
        let c = RequeueConfig::default();
        for r in [
            Reason::NetworkNamespaceNotFound,
            Reason::AmbiguousNetworkNamespace,
            Reason::PrefixNotReady,
            Reason::SubnetNotFound,
            Reason::WaitingForLease,
        ] {
            assert_eq!(r.class(), Some(ErrorClass::Resource), "{r}");
            assert_eq!(r.requeue(&c), Requeue::After(S(60)), "{r}");
        }
    }

    #[test]
    fn spec_table_conflict_waits_for_the_resync() {
        let c = RequeueConfig::default();
        assert_eq!(Reason::Conflict.requeue(&c), Requeue::Resync);
        assert_eq!(Reason::Conflict.requeue(&c).after(S(300)), Some(S(300)));
        assert!(!ErrorClass::Conflict.is_retried());
    }

    #[test]
    fn ready_objects_are_not_requeued_on_a_timer() {
        let c = RequeueConfig::default();
        assert_eq!(Reason::Reserved.requeue(&c).after(S(300)), None);
        assert_eq!(Reason::Reserved.class(), None);
    }

    #[test]
    fn configured_delays_are_used() {
        let c = RequeueConfig {
            network: S(1),
            auth: S(2),
            permission: S(3),
            resource: S(4),
        };
        assert_eq!(ErrorClass::Network.requeue(&c), Requeue::After(S(1)));
        assert_eq!(ErrorClass::Authentication.requeue(&c), Requeue::After(S(2)));
        assert_eq!(ErrorClass::Permission.requeue(&c), Requeue::After(S(3)));
        assert_eq!(ErrorClass::Resource.requeue(&c), Requeue::After(S(4)));
    }

    #[test]
    fn combine_keeps_the_soonest_timer() {
        assert_eq!(
            Requeue::After(S(60)).combine(Requeue::After(S(30))),
            Requeue::After(S(30))
        );
        assert_eq!(
            Requeue::AwaitChange.combine(Requeue::After(S(60))),
            Requeue::After(S(60))
        );
        assert_eq!(Requeue::AwaitChange.combine(Requeue::Resync), Requeue::Resync);
        assert_eq!(
            Requeue::AwaitChange.combine(Requeue::AwaitChange),
            Requeue::AwaitChange
        );
    }

    #[test]
    fn backoff_doubles_per_consecutive_failure_up_to_the_cap() {
        let b = Backoff {
            floor: S(1),
            cap: S(300),
        };
        let delays: Vec<u64> = (1..=6).map(|n| b.delay(S(30), n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 300, 300]);
        assert_eq!(b.delay(S(30), 0), S(30), "no failure yet counts as the first");
        assert_eq!(
            b.delay(S(600), 3),
            S(600),
            "a configured delay above the cap is a minimum"
        );
    }

    #[test]
    fn backoff_never_hot_loops() {
        let b = Backoff::default();
        assert_eq!(b.delay(Duration::ZERO, 1), S(1));
        assert_eq!(b.apply(Requeue::After(Duration::ZERO), 7), Requeue::After(S(1)));
        assert_eq!(b.apply(Requeue::AwaitChange, 7), Requeue::AwaitChange);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        assert_eq!(jitter(S(100), 0.0), S(90));
        assert_eq!(jitter(S(100), 0.5), S(100));
        assert_eq!(jitter(S(100), f64::NAN), S(100));
        assert_eq!(jitter(Duration::MAX, 1.0), Duration::MAX, "no overflow panic");
    }

    proptest! {
        #[test]
        fn backoff_is_monotonic_and_bounded(base_ms in 0u64..10_000_000, n in 0u32..200, cap_s in 1u64..100_000) {
            let b = Backoff { floor: S(1), cap: S(cap_s) };
            let base = Duration::from_millis(base_ms);
            let d = b.delay(base, n);
            prop_assert!(d >= S(1));
            prop_assert!(d <= S(cap_s).max(base).max(S(1)));
            prop_assert!(b.delay(base, n.saturating_add(1)) >= d);
        }
    }
}
