//! Kubernetes Events, for humans: the decisions describe them as [`PlannedEvent`]s
//! (pure values); the operator records them — always after the state they describe
//! was written, so a retried reconcile never repeats one.

use k8s_openapi::api::core::v1::ObjectReference;

/// Whether an Event is routine or asks for attention (Kubernetes' two Event types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// Kubernetes rejects Event notes over 1 KiB; longer notes are cut at a character
/// boundary and end with `…`.
pub const MAX_NOTE_BYTES: usize = 1000;

/// An Event a decision wants recorded on the object it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub type_: EventType,
    /// A CamelCase reason from [`crate::api::reasons::event`].
    pub reason: &'static str,
    pub note: String,
    /// Another object the Event involves (the Attestation that was rejected).
    pub related: Option<ObjectReference>,
}

impl PlannedEvent {
    /// A Normal Event.
    pub fn normal(reason: &'static str, note: String) -> Self {
        Self {
            type_: EventType::Normal,
            reason,
            note,
            related: None,
        }
    }

    /// A Warning Event.
    pub fn warning(reason: &'static str, note: String) -> Self {
        Self {
            type_: EventType::Warning,
            reason,
            ..Self::normal(reason, note)
        }
    }
}

/// The Event's `action`: what Accord did or decided, one verb per reason (the
/// `reason` says why).
pub fn action(reason: &str) -> &'static str {
    use crate::api::reasons::event;
    match reason {
        event::PROMOTED => "Promote",
        event::PROMOTION_BLOCKED => "BlockPromotion",
        event::CANARY_STARTED => "StartCanary",
        event::CANARY_FAILED => "EndCanary",
        event::ROLLED_BACK | event::ROLLBACK_UNAVAILABLE => "RollBack",
        event::SERVING_UPDATED => "UpdateServing",
        event::DEGRADED => "ReportFailure",
        event::ESCALATED => "Escalate",
        event::DRIFT_REVERTED => "RevertDrift",
        event::HISTORY_DISCARDED => "DiscardHistory",
        event::ATTESTATION_WITHDRAWN => "NoteWithdrawal",
        event::ATTESTATION_REJECTED => "JudgeAttestation",
        event::UNKNOWN_TEAM | event::NAME_CONFLICT | event::INVALID_OBJECT => "Validate",
        _ => "Reconcile",
    }
}

/// `text` cut to at most `max` bytes at a character boundary, marked with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reason_has_its_own_action() {
        use crate::api::reasons::event;
        assert_eq!(action(event::PROMOTED), "Promote");
        assert_eq!(action(event::CANARY_FAILED), "EndCanary");
        assert_eq!(action(event::DRIFT_REVERTED), "RevertDrift");
        for reason in [
            event::PROMOTED,
            event::PROMOTION_BLOCKED,
            event::CANARY_STARTED,
            event::CANARY_FAILED,
            event::ROLLED_BACK,
            event::SERVING_UPDATED,
            event::DEGRADED,
            event::ESCALATED,
            event::DRIFT_REVERTED,
            event::HISTORY_DISCARDED,
            event::ATTESTATION_WITHDRAWN,
            event::ATTESTATION_REJECTED,
            event::UNKNOWN_TEAM,
            event::NAME_CONFLICT,
            event::INVALID_OBJECT,
        ] {
            assert_ne!(action(reason), "Reconcile", "{reason}");
        }
    }

    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 3), "abc…");
        // "é" is two bytes: cutting inside it backs off to the boundary before.
        assert_eq!(truncate("aé", 2), "a…");
    }
}
