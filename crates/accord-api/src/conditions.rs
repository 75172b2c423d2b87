//! Condition types and reasons used in status, following the Kubernetes API conventions
//! (CamelCase reasons, `observedGeneration` on each condition, list-map keyed by `type`).

/// True when the candidate is promoted and its Deployment is available.
pub const READY: &str = "Ready";
/// True when every required checklist item is attested for the candidate.
pub const HANDOFF_COMPLETE: &str = "HandoffComplete";
/// True while the candidate has been rolled back.
pub const ROLLED_BACK: &str = "RolledBack";
/// True when waiting for sign-off exceeded `spec.handoff.escalateAfter`.
pub const ESCALATED: &str = "Escalated";
/// kstatus (Flux, kubectl wait, cli-utils): True while Accord is still working towards
/// the spec — awaiting sign-off, promoting or rolling back.
pub const RECONCILING: &str = "Reconciling";
/// kstatus: True when Accord cannot make progress without a human — the candidate was
/// rolled back, is degraded, or the spec is invalid.
pub const STALLED: &str = "Stalled";
/// On an Attestation: True when it counts for its item of the candidate.
pub const COUNTED: &str = "Counted";
