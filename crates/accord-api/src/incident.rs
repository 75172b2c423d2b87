//! `Incident` (namespaced, short name `inc`): a version of a ModelDeployment that
//! misbehaved while serving. Opened by Accord when a guard breaches for its `for`, or by
//! a member of an owning Team through `kubectl accord incident open`; resolved only by
//! a root-cause analysis signed off by the Accountable Team. The spec is immutable and
//! the status is the operator's. See docs/incidents.md.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{
    model_deployment::{GuardAction, Role},
    validation::{DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, ONE_LINE, SHA256_DIGEST},
};

/// The checklist item id of a root-cause analysis.
pub const ROOT_CAUSE_ANALYSIS: &str = "root-cause-analysis";

/// A serving version that misbehaved, who answers for it, and what became of it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "Incident",
    namespaced,
    status = "IncidentStatus",
    shortname = "inc",
    category = "accord",
    derive = "PartialEq",
    doc = "A version of a ModelDeployment that misbehaved while serving, who answers for it, and its root cause.",
    printcolumn(
        name = "ModelDeployment",
        type_ = "string",
        json_path = ".spec.modelDeployment"
    ),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(name = "Guard", type_ = "string", json_path = ".spec.guard"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Owner", type_ = "string", json_path = ".status.owner.team"),
    printcolumn(
        name = "Accountable",
        type_ = "string",
        json_path = ".status.accountable.team"
    ),
    printcolumn(
        name = "Summary",
        type_ = "string",
        json_path = ".spec.summary",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf")
    .message("spec is immutable: an Incident records what happened; open another one instead"))]
#[serde(rename_all = "camelCase")]
pub struct IncidentSpec {
    /// Name of the ModelDeployment, in the same namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub model_deployment: String,
    /// The version that misbehaved: the one serving when it was opened.
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE))]
    pub version: String,
    /// The candidate fingerprint of that version. The webhook fills it in from the
    /// ModelDeployment's history when a person leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SHA256_DIGEST))]
    pub fingerprint: Option<String>,
    /// The guard whose breach opened it; absent when opened by a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub guard: Option<String>,
    /// What happened, one line, e.g. `error-rate 0.071 > 0.02 for 5m`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = ONE_LINE))]
    pub summary: String,
    /// What opening it does besides telling people: `RollBack` rolls the version back
    /// by the plan. A person may ask for it only with rollback rights.
    #[serde(default)]
    pub action: GuardAction,
    /// Who opened it: the authenticated user, written by Accord's admission webhook
    /// from the API request; whatever a client sends is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_by: Option<String>,
    /// The owning role the person who opened it answers for (written by the webhook);
    /// absent when a guard opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_as: Option<Role>,
}

/// Where an Incident is.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum IncidentPhase {
    /// Nothing is done about it yet.
    #[default]
    Open,
    /// The version was rolled back and the one restored is available; the root cause
    /// is still to be signed off.
    Mitigated,
    /// Its root-cause analysis was signed off by the Accountable Team.
    Resolved,
}

/// A role, and the Team that holds it for the model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Answerer {
    pub role: Role,
    pub team: String,
}

/// One thing that happened to an Incident.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// When the operator recorded it (its own clock).
    pub at: Time,
    /// What happened: `Opened`, `Notified`, `Escalated`, `RolledBack`, `Mitigated`,
    /// `Acknowledged`, `RootCauseSignedOff`.
    pub what: String,
    /// Who: a user, a Team, or `accord`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Details, one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The signed-off root cause that resolved an Incident.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    /// The Attestation (`spec.incident`, item `root-cause-analysis`).
    pub attestation: String,
    pub attested_by: String,
    pub team: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Checklist item ids the model's next candidate must carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<String>,
}

/// Observed state of an Incident, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<IncidentPhase>,
    /// Responsible: the guard's owner role (or the role of the person who opened it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Answerer>,
    /// Accountable: the "incident response" row of the matching HandoffPolicies, or the
    /// owner when no policy names one. Signs the root cause off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accountable: Option<Answerer>,
    /// When Accord first recorded it (its own clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<Time>,
    /// When the Accountable Team was told that nobody acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigated_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// What happened, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
}

impl Incident {
    /// Whether its root cause is not yet signed off (a new status counts as open).
    pub fn is_open(&self) -> bool {
        self.status.as_ref().and_then(|s| s.phase) != Some(IncidentPhase::Resolved)
    }

    /// Whether it is about the ModelDeployment `name` in `namespace`.
    pub fn is_for(&self, namespace: Option<&str>, name: &str) -> bool {
        self.metadata.namespace.as_deref() == namespace && self.spec.model_deployment == name
    }
}
