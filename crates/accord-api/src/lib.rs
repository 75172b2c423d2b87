//! The Accord API, group `accord.dev`, version `v1alpha1`: the custom resources
//! and the labels, annotations and condition vocabulary they share. Types only; no
//! behaviour lives here beyond small accessors.

// `printcolumn(...)` lists repeat `type_ = "string"` by design; clippy reads them as duplicates.
#![allow(clippy::duplicated_attributes)]
// Long functions are split into named steps; the tests may be long.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

// Layers, bottom first (`make lint` keeps each module to the layers below it):
// the vocabulary,
pub mod conditions;
pub mod labels;
pub mod reasons;
pub mod schema;
pub mod validation;

// the kinds,
pub mod attestation;
pub mod handoff_policy;
pub mod model_deployment;
pub mod team;

// the kinds about other kinds' objects,
pub mod incident;
pub mod rollback_drill;

// the signed account of what happened to them,
pub mod promotion_record;

// and what is computed from them.
pub mod fingerprint;
pub mod reference;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use attestation::{
    Attestation, AttestationSignature, AttestationSpec, AttestationStatus, VerifiedSigner,
};
pub use handoff_policy::{DrillRules, HandoffPolicy, HandoffPolicySpec, HandoffPolicyStatus};
pub use incident::{
    Answerer, Incident, IncidentPhase, IncidentSpec, IncidentStatus, Resolution, TimelineEntry,
};
pub use model_deployment::{
    After, Analysis, Approval, AutoApproval, AutoApprovedItem, Canary, CanaryRecord, CanaryStatus,
    CandidateTracking, CarriedFrom, CarriedSignOff, ChecklistItem, ChecklistItemStatus,
    ConformanceViolation, DrillRecordMark, FailedCandidate, Guard, GuardAction, GuardStatus,
    Handoff, HistoryEntry, HistoryOutcome, ItemApproval, Measurement, ModelDeployment,
    ModelDeploymentSpec, ModelDeploymentStatus, ModelIdentity, ModelRef, Monitoring,
    MonitoringStatus, Owners, Phase, Promotion, Role, RollbackMode, RollbackPlan, RolloutStrategy,
    Serving, TrainingData, UpstreamEvidence, UpstreamRef, ViolationKind,
};
pub use promotion_record::{
    ApprovalKind, Approver, Envelope, EnvelopeSignature, PAYLOAD_TYPE, PREDICATE_TYPE, Predicate,
    PreviousRecord, PromotionRecord, PromotionRecordSpec, RecordAction, RecordedDrill,
    RecordedItem, RecordedModel, STATEMENT_TYPE, Statement, Subject,
};
pub use rollback_drill::{
    Acknowledgement, DrillRun, DrillStep, DrillTarget, RollbackDrill, RollbackDrillSpec,
    RollbackDrillStatus, RunResult, RunTarget, Smoke, StepName, StepResult, Tabletop, TargetName,
    run_ref, split_run_ref,
};
pub use team::{
    NotifyEvent, NotifyTarget, SecretKeyRef, SigningKey, Team, TeamMembers, TeamSpec, TeamStatus,
};

use k8s_openapi::{
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::CustomResourceExt;

/// The API group of every Accord kind.
pub const GROUP: &str = "accord.dev";
/// The only served and stored version.
pub const VERSION: &str = "v1alpha1";
/// Field manager for every server-side apply Accord makes.
pub const FIELD_MANAGER: &str = "accord";

/// Every CRD Accord owns, in the order they should be installed.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        Team::crd(),
        ModelDeployment::crd(),
        Attestation::crd(),
        HandoffPolicy::crd(),
        Incident::crd(),
        PromotionRecord::crd(),
        RollbackDrill::crd(),
    ]
}

/// Renders a CRD as YAML with a header saying it is generated.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    let body = serde_saphyr::to_string(crd)?;
    Ok(format!(
        "# Generated from the Rust types in crates/accord-api by `make crds`; do not edit by hand.\n{body}"
    ))
}

/// `namespace/name` (or just `name` for cluster-scoped objects), as messages and
/// per-object keys write it.
pub fn namespaced_name(meta: &ObjectMeta) -> String {
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_string(),
    }
}
