//! `HandoffPolicy` (cluster-scoped): organisation-wide handoff rules. A policy selects
//! ModelDeployments by namespace and labels and can only tighten what they require:
//! it adds required checklist items (with a number of distinct approvers), and may
//! require that sign-offs be signed or recent. How policies combine with a
//! ModelDeployment's own checklist is [`crate::api::policy`].

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
    "size(self.requiredItems) > 0 || has(self.attestations)"
).message("spec.requiredItems or spec.attestations must be set: a policy that requires nothing does nothing"))]
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
