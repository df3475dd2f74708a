//! What every reconcile, cleanup and sweep shares.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::core::error_class::Backoff;
use crate::crd::{NetworkConfiguration, NetworkNamespace};
use crate::http::Health;
use crate::kea::KeaServers;
use crate::leader::Leadership;
use crate::metrics::Metrics;

use super::events::Publisher;
use super::locks::MacLocks;
use super::mac_index::MacIndex;
use super::subnets::SubnetCache;
use super::sweep::SweepScope;

pub type NcGuard = DeserializeGuard<NetworkConfiguration>;
pub type NnGuard = DeserializeGuard<NetworkNamespace>;

/// Consecutive failures of one object, and when the last counted one happened.
#[derive(Debug, Clone, Copy, Default)]
pub struct Failures {
    count: u32,
    last: Option<Instant>,
}

impl Failures {
    fn note(&mut self, now: Instant, base: Duration) -> u32 {
        if self.last.is_some_and(|last| now.duration_since(last) < base / 2) {
            return self.count.max(1);
        }
        self.count = self.count.saturating_add(1);
        self.last = Some(now);
        self.count
    }
}

pub struct Context {
    pub client: kube::Client,
    pub kea: KeaServers,
    pub metrics: Arc<Metrics>,
    pub config: Arc<Config>,
    pub recorder: Publisher,
    /// Every NetworkConfiguration (reflector): MAC claims of other NCs, the sweep's desired set.
    pub ncs: Store<NcGuard>,
    /// True once the NC watch delivered its initial list (the store is complete).
    pub nc_synced: watch::Receiver<bool>,
    /// Every NetworkNamespace (reflector): prefix resolution.
    pub nns: Store<NnGuard>,
    pub subnets: SubnetCache,
    /// Subnets the sweep pages beyond those the NCs map to now (hosts of NCs that are gone).
    pub sweep_scope: SweepScope,
    /// MAC → NCs declaring it (other NCs' claims without scanning the store).
    pub mac_index: Arc<MacIndex>,
    pub locks: MacLocks,
    pub leadership: watch::Receiver<Leadership>,
    pub health: Arc<Health>,
    pub backoff: Backoff,
    /// Consecutive failed reconciles per object uid (per-object backoff; reset on success).
    pub failures: Mutex<HashMap<String, Failures>>,
    /// Asks the controller to reconcile an object (the sweep's requeues).
    pub requeue: mpsc::UnboundedSender<ObjectRef<NcGuard>>,
}

impl Context {
    pub fn is_leader(&self) -> bool {
        *self.leadership.borrow() == Leadership::Leader
    }

    pub fn valid_nns(&self) -> Vec<NetworkNamespace> {
        self.nns
            .state()
            .iter()
            .filter_map(|guard| guard.0.as_ref().ok().cloned())
            .collect()
    }

    /// Records a failed reconcile of `uid` whose retry would come after `base`; returns the count of
    /// consecutive failures including this one. Failures closer together than half of `base` (a
    /// burst of watch events, leadership, a requeue) are one attempt, not several: the backoff
    /// grows per retry, not per trigger.
    pub fn note_failure(&self, uid: &str, base: Duration) -> u32 {
        self.failures
            .lock()
            .entry(uid.to_string())
            .or_default()
            .note(Instant::now(), base)
    }

    pub fn note_success(&self, uid: &str) {
        self.failures.lock().remove(uid);
    }

    pub fn instance(&self) -> &str {
        &self.config.controller.instance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_counts_once_and_retries_count_each() {
        let base = Duration::from_secs(4);
        let start = Instant::now();
        let mut failures = Failures::default();
        // Three triggers within milliseconds (watch event, leadership, NN change): one attempt.
        assert_eq!(failures.note(start, base), 1);
        assert_eq!(failures.note(start + Duration::from_millis(5), base), 1);
        assert_eq!(failures.note(start + Duration::from_millis(40), base), 1);
        // The requeued retries: each counts.
        assert_eq!(failures.note(start + Duration::from_secs(4), base), 2);
        assert_eq!(failures.note(start + Duration::from_secs(12), base), 3);
    }
}
