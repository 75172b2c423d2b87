//! `HandoffPolicy` (cluster-scoped): organisation-wide handoff rules. A policy selects
//! ModelDeployments by namespace and labels and can only tighten what they require:
//! it adds required checklist items (with a number of distinct approvers), and may
//! require that sign-offs be signed or recent. It may also auto-approve named items
//! for a patch release trained on the same data, and declare the responsibility
//! (RACI) matrix per lifecycle stage. How policies combine with a
//! ModelDeployment's own checklist is [`crate::policy`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{
    Role,
    validation::{DNS1123_LABEL, DURATION},
};

/// Organisation-wide handoff rules for the ModelDeployments it selects.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "HandoffPolicy",
    shortname = "hp",
    status = "HandoffPolicyStatus",
    category = "accord",
    derive = "PartialEq",
    doc = "Organisation-wide handoff rules: required items, approvers and sign-off rules for the ModelDeployments it selects. It can only tighten.",
    printcolumn(
        name = "Matched",
        type_ = "integer",
        json_path = ".status.matchedModelDeployments",
        description = "ModelDeployments this policy applies to"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = kube::core::Rule::new(
    "size(self.requiredItems) > 0 || has(self.attestations) || (has(self.autoApprove) && size(self.autoApprove) > 0) || (has(self.responsibilities) && size(self.responsibilities) > 0) || has(self.promotion) || has(self.drills)"
).message("spec.requiredItems, spec.attestations, spec.autoApprove, spec.responsibilities, spec.promotion or spec.drills must be set: a policy that says nothing does nothing"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.autoApprove) || self.autoApprove.all(r, r.items.all(i, !self.requiredItems.exists(x, x.id == i && x.minApprovals > 1)))"
).message("spec.autoApprove items may not name an item of spec.requiredItems with minApprovals > 1: the two-person rule is never automatic").field_path(".autoApprove"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.autoApprove) || self.autoApprove.all(x, self.autoApprove.exists_one(y, y.name == x.name))"
).message("spec.autoApprove rule names must be unique").field_path(".autoApprove"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.responsibilities) || self.responsibilities.all(x, self.responsibilities.exists_one(y, y.stage == x.stage))"
).message("spec.responsibilities may name each stage once").field_path(".responsibilities"))]
#[x_kube(validation = kube::core::Rule::new(
    "self.requiredItems.all(x, self.requiredItems.exists_one(y, y.id == x.id))"
).message("spec.requiredItems ids must be unique").field_path(".requiredItems"))]
#[serde(rename_all = "camelCase")]
pub struct HandoffPolicySpec {
    /// What the policy is for, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// The namespaces whose ModelDeployments the policy applies to, by their labels
    /// (e.g. `tier: prod`). Absent: every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// The ModelDeployments it applies to, by their labels. Absent: all of them (in
    /// the selected namespaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Checklist items every selected ModelDeployment must have attested. Where the
    /// ModelDeployment names the same id, the stricter of the two counts.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub required_items: Vec<PolicyItem>,
    /// Rules every sign-off for a selected ModelDeployment must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestations: Option<AttestationRules>,
    /// Named rules that satisfy listed items without a person's sign-off when the
    /// candidate is a semver patch release of the active, known-good version trained
    /// on the same data (`spec.model.trainingData.digest`). Never for an item that
    /// needs more than one person, and never where another matching policy requires
    /// the item without auto-approving it. Recorded in history with the baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub auto_approve: Vec<AutoApproveRule>,
    /// The organisation's responsibility (RACI) matrix: for each lifecycle stage, the
    /// roles Responsible, Accountable, Consulted and Informed. Shown by
    /// `kubectl accord explain` and `kubectl accord matrix` with the actual Teams.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub responsibilities: Vec<Responsibility>,
    /// How selected ModelDeployments must come through an upstream environment: that
    /// they cite one, the least soak, and items whose sign-off never carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionRules>,
    /// Selected ModelDeployments must have rehearsed their rollback plan: a drill that
    /// passed and was acknowledged within `maxAge` (`DrillOverdue` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drills: Option<DrillRules>,
}

/// A policy's rule for rollback drills. The shortest `maxAge` of the policies that
/// select a model wins; the items `satisfies` names are the union.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DrillRules {
    /// A candidate is promoted only if a RollbackDrill of its model passed, and its
    /// tabletop acknowledged it, within this long, e.g. `720h` (30 days).
    #[schemars(length(max = 64), regex(pattern = DURATION))]
    pub max_age: String,
    /// A checklist item (e.g. `rollback-tested`) that such a drill satisfies, so the
    /// claim rests on evidence rather than on a person's word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub satisfies: Option<String>,
}

/// A policy's rules for promotion through environments. Like every policy rule they
/// only tighten: any policy requiring an upstream requires it, the longest soak wins,
/// and `neverCarry` is the union.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PromotionRules {
    /// Selected ModelDeployments must name `spec.promotion.from`; without one they are
    /// not promoted (`UpstreamRequired`).
    #[serde(default)]
    pub require_upstream: bool,
    /// The least soak upstream, e.g. `24h`, whatever the ModelDeployment says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = DURATION))]
    pub min_soak: Option<String>,
    /// Items that are always signed off in the selected ModelDeployment's own
    /// environment, even when it lists them in `spec.promotion.carry`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL)))]
    pub never_carry: Vec<String>,
}

/// A rule that satisfies items for a patch release trained on the same data.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoApproveRule {
    /// The rule's name, recorded in history when it applies (a DNS-1123 label).
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub name: String,
    /// Why the organisation allows it, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// The checklist item ids it satisfies (the ModelDeployment's or a policy's).
    #[schemars(length(min = 1, max = 64), inner(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL)))]
    pub items: Vec<String>,
}

/// A lifecycle stage of a model.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
pub enum Stage {
    DataAccess,
    FeatureEngineering,
    Training,
    Evaluation,
    Deployment,
    Monitoring,
    IncidentResponse,
    Retraining,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 8] = [
        Stage::DataAccess,
        Stage::FeatureEngineering,
        Stage::Training,
        Stage::Evaluation,
        Stage::Deployment,
        Stage::Monitoring,
        Stage::IncidentResponse,
        Stage::Retraining,
    ];

    /// Lower-case words, for tables: `data access`.
    pub fn words(self) -> &'static str {
        match self {
            Stage::DataAccess => "data access",
            Stage::FeatureEngineering => "feature engineering",
            Stage::Training => "training",
            Stage::Evaluation => "evaluation",
            Stage::Deployment => "deployment",
            Stage::Monitoring => "monitoring",
            Stage::IncidentResponse => "incident response",
            Stage::Retraining => "retraining",
        }
    }
}

/// Who does what at one lifecycle stage, by role.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.consulted) || self.consulted.all(r, !self.responsible.exists(x, x == r))"
).message("a role is either responsible or consulted for a stage, not both").field_path(".consulted"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.informed) || self.informed.all(r, !self.responsible.exists(x, x == r) && r != self.accountable && (!has(self.consulted) || !self.consulted.exists(x, x == r)))"
).message("an informed role is not also responsible, accountable or consulted for the stage").field_path(".informed"))]
#[serde(rename_all = "camelCase")]
pub struct Responsibility {
    /// The lifecycle stage.
    pub stage: Stage,
    /// The roles that do the work.
    #[schemars(length(min = 1, max = 3))]
    pub responsible: Vec<Role>,
    /// The one role answerable for the outcome.
    pub accountable: Role,
    /// The roles asked before decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    pub consulted: Vec<Role>,
    /// The roles told after decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    pub informed: Vec<Role>,
}

/// An item a policy requires.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyItem {
    /// Stable identifier, a DNS-1123 label such as `bias-reviewed`.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub id: String,
    /// The role whose Team must attest it.
    pub owner: Role,
    /// What attesting it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// How many distinct people of the owning Team must attest it (the two-person rule
    /// is 2).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 10))]
    pub min_approvals: u32,
}

fn one() -> u32 {
    1
}

/// Rules for the sign-offs of selected ModelDeployments (every item, not only the
/// policy's own).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AttestationRules {
    /// A sign-off older than this (from its creation, or `signedAt` when signed) no
    /// longer counts for a candidate not yet promoted, e.g. `720h` for 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION))]
    pub max_age: Option<String>,
    /// `Signed`: only SSH-signed Attestations count. `Any` (the default): signed or
    /// admitted through the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<SignatureRequirement>,
}

/// Which sign-offs count.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureRequirement {
    /// Signed or unsigned.
    Any,
    /// Only SSH-signed Attestations.
    Signed,
}

/// What the operator observed about the policy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffPolicyStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many ModelDeployments the policy applies to now.
    #[serde(default)]
    pub matched_model_deployments: i32,
    /// `Ready`: the policy is in force.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
