//! Records the Events the decisions planned ([`accord_core::events::PlannedEvent`]),
//! always after the state they describe was written, so a retried reconcile never
//! repeats one.

use accord_core::events::{EventType, MAX_NOTE_BYTES, PlannedEvent, action, truncate};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{self, Event, Recorder};
use tracing::{info, warn};

/// Records `planned` about `regarding`, and logs it. A failure to record is logged and
/// otherwise ignored: the state it describes is already written.
pub async fn publish(recorder: &Recorder, regarding: &ObjectReference, planned: &PlannedEvent) {
    let event = Event {
        type_: match planned.type_ {
            EventType::Normal => events::EventType::Normal,
            EventType::Warning => events::EventType::Warning,
        },
        reason: planned.reason.into(),
        note: Some(truncate(&planned.note, MAX_NOTE_BYTES)),
        action: action(planned.reason).into(),
        secondary: planned.related.clone(),
    };
    if let Err(err) = recorder.publish(&event, regarding).await {
        warn!(%err, reason = planned.reason, "could not record Event");
    }
    match planned.type_ {
        EventType::Normal => info!(reason = planned.reason, "{}", planned.note),
        EventType::Warning => warn!(reason = planned.reason, "{}", planned.note),
    }
}
