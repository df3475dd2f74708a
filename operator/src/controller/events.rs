//! Kubernetes Events (`events.k8s.io/v1`, through kube's recorder) for what happened to an NC's
//! reservations, and for operator-wide happenings (failover, re-sync) on the operator's Lease.
//! Publishing is best effort: a failed Event is logged, never fails a reconcile.
//!
//! Why a recorder per note: kube's [`Recorder`] (like client-go's events.k8s.io broadcaster) folds
//! every Event with the same type, reason, action and object into a *series of the first one*, keeping
//! that first note. One reconcile that reserves two MACs on two servers would then show one
//! "reserved … eth0 … on primary" Event with count 4, and a later, different conflict would repeat
//! an old message. So each distinct note gets its own recorder (its own series cache): different
//! happenings stay separate Events, an identical repeat still becomes a series.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType as KubeEventType, Recorder, Reporter};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::core::planner::{EventType, MAX_NOTE, PlannedEvent, truncate_text};
use crate::crd::NetworkConfiguration;

/// How long a note's recorder is kept after its last use: kube's series window (6 minutes).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// At most this many recorders are kept; the least recently used go first. Each holds the last
/// Event it wrote (as the API server returned it), some kilobytes: without a bound, a first
/// convergence of 10,000 NCs (four notes each) kept 40,000 of them for the series window, and the
/// operator's RSS reached 711 MiB (`just bench-converge`). A note whose recorder was evicted and
/// repeats within the window starts a new Event instead of a series: more Events, never a lost one.
const MAX_RECORDERS: usize = 512;

/// Publishes Events; one recorder per distinct (object, type, reason, action, note).
pub struct Publisher {
    client: kube::Client,
    reporter: Reporter,
    recorders: Mutex<HashMap<u64, (Recorder, Instant)>>,
}

impl Publisher {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Publisher {
            client,
            reporter,
            recorders: Mutex::new(HashMap::new()),
        }
    }

    fn recorder(&self, reference: &ObjectReference, event: &Event) -> Recorder {
        let mut hasher = DefaultHasher::new();
        (
            &reference.uid,
            &reference.namespace,
            &reference.name,
            &reference.kind,
            event.type_ == KubeEventType::Warning,
            &event.reason,
            &event.action,
            &event.note,
        )
            .hash(&mut hasher);
        let key = hasher.finish();
        let now = Instant::now();
        let mut recorders = self.recorders.lock();
        if !recorders.contains_key(&key) {
            make_room(&mut recorders, now);
        }
        let entry = recorders
            .entry(key)
            .or_insert_with(|| (Recorder::new(self.client.clone(), self.reporter.clone()), now));
        entry.1 = now;
        entry.0.clone()
    }
}

/// Drops the recorders unused for [`SERIES_WINDOW`] once the map is full, then the least recently
/// used ones until one more fits under [`MAX_RECORDERS`].
fn make_room<T>(recorders: &mut HashMap<u64, (T, Instant)>, now: Instant) {
    if recorders.len() < MAX_RECORDERS {
        return;
    }
    recorders.retain(|_, (_, used)| now.duration_since(*used) < SERIES_WINDOW);
    while recorders.len() >= MAX_RECORDERS {
        let Some(oldest) = recorders
            .iter()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(k, _)| *k)
        else {
            break;
        };
        recorders.remove(&oldest);
    }
}

pub async fn publish(publisher: &Publisher, nc: &NetworkConfiguration, events: &[PlannedEvent]) {
    if events.is_empty() {
        return;
    }
    let reference = nc.object_ref(&());
    for event in events {
        send(
            publisher,
            &reference,
            event.type_,
            event.reason,
            event.action,
            event.note.clone(),
        )
        .await;
    }
}

pub async fn send(
    publisher: &Publisher,
    reference: &ObjectReference,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_: match type_ {
            EventType::Normal => KubeEventType::Normal,
            EventType::Warning => KubeEventType::Warning,
        },
        reason: reason.to_string(),
        note: Some(truncate_text(note, MAX_NOTE)),
        action: action.to_string(),
        secondary: None,
    };
    let recorder = publisher.recorder(reference, &event);
    if let Err(error) = recorder.publish(&event, reference).await {
        tracing::warn!(%error, reason, "could not publish an Event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn recorders_stay_bounded_and_the_least_recently_used_go_first() {
        let mut map: HashMap<u64, ((), Instant)> = HashMap::new();
        for key in 0..(MAX_RECORDERS as u64 * 3) {
            let now = Instant::now();
            make_room(&mut map, now);
            map.insert(key, ((), now));
            tokio::time::advance(Duration::from_millis(1)).await;
            assert!(map.len() <= MAX_RECORDERS);
        }
        // The newest are kept, the oldest went.
        let last = MAX_RECORDERS as u64 * 3 - 1;
        assert!(map.contains_key(&last) && !map.contains_key(&0));
        // Used again recently: kept while older ones go.
        let now = Instant::now();
        let survivor = last - (MAX_RECORDERS as u64 - 1);
        map.get_mut(&survivor).expect("present").1 = now;
        make_room(&mut map, now);
        map.insert(u64::MAX, ((), now));
        assert!(map.contains_key(&survivor), "recently used");
        assert!(!map.contains_key(&(survivor + 1)), "least recently used went");
    }

    #[tokio::test(start_paused = true)]
    async fn recorders_past_the_series_window_go_when_the_map_is_full() {
        let mut map: HashMap<u64, ((), Instant)> = HashMap::new();
        let start = Instant::now();
        for key in 0..MAX_RECORDERS as u64 {
            map.insert(key, ((), start));
        }
        tokio::time::advance(SERIES_WINDOW + Duration::from_secs(1)).await;
        make_room(&mut map, Instant::now());
        assert!(map.is_empty());
    }
}
