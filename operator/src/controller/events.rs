//! Kubernetes Events (`events.k8s.io/v1`, through kube's recorder) for what happened to an NC's
//! reservations, and for operator-wide happenings (failover, re-sync) on the operator's Lease.
//! Publishing is best effort: a failed Event is logged, never fails a reconcile.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType as KubeEventType, Recorder};

use crate::core::planner::{EventType, MAX_NOTE, PlannedEvent, truncate_text};
use crate::crd::NetworkConfiguration;

pub async fn publish(recorder: &Recorder, nc: &NetworkConfiguration, events: &[PlannedEvent]) {
    if events.is_empty() {
        return;
    }
    let reference = nc.object_ref(&());
    for event in events {
        send(
            recorder,
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
    recorder: &Recorder,
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
    if let Err(error) = recorder.publish(&event, reference).await {
        tracing::warn!(%error, reason, "could not publish an Event");
    }
}
