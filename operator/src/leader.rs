//! Leader election on a `coordination.k8s.io/v1` Lease, client-go style.
//!
//! Why our own: the kube 5 lease crates (kube-lease-manager, kubert) renew with strategic-merge
//! patches, which a CRD-served Lease (the test API server, docs/testing.md) refuses with 415, so they
//! cannot be tested here. This is the client-go algorithm in ~200 lines: read the Lease, decide, then
//! write it back with `replace` carrying the resourceVersion, so two candidates can never both win
//! (the loser gets 409 Conflict). Expiry is judged on the *local* clock from the moment this candidate
//! last saw the record change, never by comparing our clock with the holder's `renewTime`, so clock
//! skew between nodes cannot cause two leaders.
//!
//! Fail-stop: a leader that cannot renew before its renew deadline (lease duration minus one renew
//! interval, so it stops before anyone else may take over) returns [`LeaderError::Lost`]; the process
//! then exits rather than risk writing beside a new leader. On shutdown the leader releases the Lease
//! (empty holder, 1 s duration) so a successor takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Whether this replica currently holds the Lease. Followers keep their watches warm but never write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    Follower,
    Leader,
}

#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// Unique per process (pod name plus a random suffix), so a restarted pod is a new candidate.
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("leadership lost: {0}")]
    Lost(String),
    #[error("invalid leader election settings: {0}")]
    Settings(String),
}

impl LeaderError {
    pub fn category(&self) -> &'static str {
        match self {
            LeaderError::Lost(_) => "lost",
            LeaderError::Settings(_) => "settings",
        }
    }
}

/// What to do with the Lease as it was just read. Pure, so the algorithm is unit-tested without a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No Lease yet: create it holding it.
    Create,
    /// We hold it: bump `renewTime`.
    Renew,
    /// Free or expired: take it over (`leaseTransitions` + 1).
    Acquire,
    /// Someone else holds a live Lease.
    Follow { holder: String },
}

/// The part of a Lease whose change proves its holder is alive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    transitions: Option<i32>,
    duration: Option<i32>,
}

impl Record {
    fn of(spec: &LeaseSpec) -> Self {
        Record {
            holder: spec.holder_identity.clone().filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.clone(),
            transitions: spec.lease_transitions,
            duration: spec.lease_duration_seconds,
        }
    }
}

/// Tracks when the record last changed, on our own clock.
#[derive(Debug, Default)]
struct Observer {
    last: Option<(Record, Instant)>,
}

impl Observer {
    /// Returns how long ago (local clock) the record was last seen to change.
    fn observe(&mut self, record: Record, now: Instant) -> Duration {
        match &self.last {
            Some((seen, at)) if *seen == record => now.saturating_duration_since(*at),
            _ => {
                self.last = Some((record, now));
                Duration::ZERO
            }
        }
    }
}

pub(crate) fn decide(
    record: Option<&LeaseSpec>,
    me: &str,
    unchanged_for: Duration,
    default_duration: Duration,
) -> Decision {
    let Some(spec) = record else {
        return Decision::Create;
    };
    match spec.holder_identity.as_deref().filter(|h| !h.is_empty()) {
        None => Decision::Acquire,
        Some(holder) if holder == me => Decision::Renew,
        Some(holder) => {
            let duration = spec
                .lease_duration_seconds
                .filter(|d| *d > 0)
                .map(|d| Duration::from_secs(d.unsigned_abs().into()))
                .unwrap_or(default_duration);
            if unchanged_for >= duration {
                Decision::Acquire
            } else {
                Decision::Follow {
                    holder: holder.to_string(),
                }
            }
        }
    }
}

pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    observer: Observer,
}

impl LeaderElector {
    pub fn new(client: kube::Client, settings: LeaseSettings) -> Result<Self, LeaderError> {
        if settings.renew_interval.is_zero() || settings.renew_interval >= settings.lease_duration {
            return Err(LeaderError::Settings(format!(
                "LEASE_RENEW_SECONDS ({}s) must be above 0 and below LEASE_DURATION_SECONDS ({}s)",
                settings.renew_interval.as_secs(),
                settings.lease_duration.as_secs()
            )));
        }
        let api = Api::namespaced(client, &settings.namespace);
        Ok(LeaderElector {
            api,
            settings,
            observer: Observer::default(),
        })
    }

    /// Campaigns until `shutdown`, publishing leadership on `state`. Returns `Err(Lost)` when a leader
    /// misses its renew deadline or finds the Lease taken: the caller must stop (fail-stop).
    pub async fn run(
        mut self,
        state: watch::Sender<Leadership>,
        shutdown: CancellationToken,
    ) -> Result<(), LeaderError> {
        let deadline = self.settings.lease_duration - self.settings.renew_interval;
        let mut last_renewed: Option<Instant> = None;
        loop {
            let leading = *state.borrow() == Leadership::Leader;
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    last_renewed = Some(Instant::now());
                    if !leading {
                        tracing::info!(lease = %self.settings.name, identity = %self.settings.identity, "became leader");
                        state.send_replace(Leadership::Leader);
                    }
                }
                Ok(false) if leading => {
                    return Err(LeaderError::Lost(format!(
                        "Lease {}/{} is held by another candidate",
                        self.settings.namespace, self.settings.name
                    )));
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "leader election: cannot read or write the Lease");
                    if leading && last_renewed.is_some_and(|at| at.elapsed() >= deadline) {
                        return Err(LeaderError::Lost(format!(
                            "could not renew Lease {}/{} within {}s: {err}",
                            self.settings.namespace,
                            self.settings.name,
                            deadline.as_secs()
                        )));
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.settings.renew_interval) => {}
            }
        }
        if *state.borrow() == Leadership::Leader {
            self.release().await;
            state.send_replace(Leadership::Follower);
        }
        Ok(())
    }

    /// One round of the algorithm; `Ok(true)` when we hold the Lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Instant::now();
        let current = self.api.get_opt(&self.settings.name).await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        let unchanged_for = match spec {
            Some(spec) => self.observer.observe(Record::of(spec), now),
            None => Duration::ZERO,
        };
        let decision = decide(
            spec,
            &self.settings.identity,
            unchanged_for,
            self.settings.lease_duration,
        );
        let stamp = MicroTime(jiff::Timestamp::now());
        let duration_secs = i32::try_from(self.settings.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let result = match (decision, current) {
            (Decision::Follow { holder }, _) => {
                tracing::debug!(%holder, "following the current leader");
                return Ok(false);
            }
            (Decision::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.settings.name.clone()),
                        namespace: Some(self.settings.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.settings.identity.clone()),
                        lease_duration_seconds: Some(duration_secs),
                        acquire_time: Some(stamp.clone()),
                        renew_time: Some(stamp),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (decision, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                if decision == Decision::Acquire {
                    spec.holder_identity = Some(self.settings.identity.clone());
                    spec.acquire_time = Some(stamp.clone());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
                }
                spec.lease_duration_seconds = Some(duration_secs);
                spec.renew_time = Some(stamp);
                // `lease` still carries the resourceVersion we read: a concurrent writer makes this 409.
                self.api
                    .replace(&self.settings.name, &PostParams::default(), &lease)
                    .await
            }
            (_, None) => return Ok(false),
        };
        match result {
            Ok(written) => {
                if let Some(spec) = written.spec.as_ref() {
                    self.observer.observe(Record::of(spec), Instant::now());
                }
                Ok(true)
            }
            // Lost a race for the same resourceVersion (or the create): another candidate won this round.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Gives the Lease up so a successor need not wait for it to expire.
    async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return;
        }
        let stamp = MicroTime(jiff::Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(stamp.clone());
        spec.acquire_time = Some(stamp);
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.settings.name, "released leadership"),
            Err(err) => tracing::warn!(error = %err, "could not release the Lease; it expires by itself"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_secs(15);

    fn spec(holder: Option<&str>, duration: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: duration,
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn no_lease_is_created() {
        assert_eq!(decide(None, "me", Duration::ZERO, D), Decision::Create);
    }

    #[test]
    fn own_lease_is_renewed_even_when_it_looks_stale() {
        assert_eq!(
            decide(
                Some(&spec(Some("me"), Some(15))),
                "me",
                Duration::from_secs(99),
                D
            ),
            Decision::Renew
        );
    }

    #[test]
    fn released_lease_is_acquired_at_once() {
        assert_eq!(
            decide(Some(&spec(None, Some(1))), "me", Duration::ZERO, D),
            Decision::Acquire
        );
        assert_eq!(
            decide(Some(&spec(Some(""), Some(1))), "me", Duration::ZERO, D),
            Decision::Acquire
        );
    }

    #[test]
    fn live_lease_of_another_is_followed_until_unchanged_for_its_duration() {
        let other = spec(Some("other"), Some(10));
        assert_eq!(
            decide(Some(&other), "me", Duration::from_secs(9), D),
            Decision::Follow {
                holder: "other".into()
            }
        );
        assert_eq!(
            decide(Some(&other), "me", Duration::from_secs(10), D),
            Decision::Acquire
        );
    }

    #[test]
    fn missing_duration_falls_back_to_ours() {
        let other = spec(Some("other"), None);
        assert!(matches!(
            decide(Some(&other), "me", Duration::from_secs(14), D),
            Decision::Follow { .. }
        ));
        assert_eq!(
            decide(Some(&other), "me", Duration::from_secs(15), D),
            Decision::Acquire
        );
    }

    #[tokio::test(start_paused = true)]
    async fn observer_measures_time_since_the_record_last_changed() {
        let mut observer = Observer::default();
        let a = Record::of(&spec(Some("other"), Some(15)));
        let start = Instant::now();
        assert_eq!(observer.observe(a.clone(), start), Duration::ZERO);
        assert_eq!(
            observer.observe(a.clone(), start + Duration::from_secs(7)),
            Duration::from_secs(7)
        );
        // The holder renewed: the clock starts again, whatever its renewTime says.
        let mut renewed = spec(Some("other"), Some(15));
        renewed.renew_time = Some(MicroTime(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(
            observer.observe(Record::of(&renewed), start + Duration::from_secs(8)),
            Duration::ZERO
        );
        assert_eq!(
            observer.observe(Record::of(&renewed), start + Duration::from_secs(20)),
            Duration::from_secs(12)
        );
    }
}
