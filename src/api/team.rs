//! `Team` (cluster-scoped): a named group of people, identified by Kubernetes user
//! names and authenticator groups, that can own a role on ModelDeployments.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A team that owns a role (data, platform or application) on ModelDeployments.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "Team",
    status = "TeamStatus",
    category = "accord",
    derive = "PartialEq",
    validation = kube::core::Rule::new("size(self.metadata.name) <= 63")
        .message("metadata.name of a Team must be at most 63 characters: it becomes a label value"),
    doc = "A team of people, by Kubernetes user name or group, that can own a role on ModelDeployments.",
    printcolumn(name = "Members", type_ = "string", json_path = ".spec.members", description = "Users and groups"),
    printcolumn(name = "Models", type_ = "integer", json_path = ".status.modelDeployments", priority = 1),
    printcolumn(name = "Pending", type_ = "integer", json_path = ".status.pendingItems", description = "Checklist items waiting for this team"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct TeamSpec {
    /// What the team does, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Who belongs to the team. Membership is checked against the API server's
    /// authenticated user name and groups, never against anything a client writes.
    pub members: TeamMembers,
    /// Where to reach the team in an escalation, e.g. `slack:#data-oncall`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub contacts: Vec<String>,
}

/// Team membership: Kubernetes user names and groups. At least one entry is required.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = kube::core::Rule::new(
    "(has(self.users) ? size(self.users) : 0) + (has(self.groups) ? size(self.groups) : 0) > 0"
).message("spec.members must name at least one user or group"))]
#[serde(rename_all = "camelCase")]
pub struct TeamMembers {
    /// Kubernetes user names, exactly as the authenticator reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub users: Vec<String>,
    /// Kubernetes groups, exactly as the authenticator reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub groups: Vec<String>,
}

impl TeamMembers {
    /// Whether a user with this name and these groups belongs to the team.
    pub fn contains(&self, user: &str, groups: &[String]) -> bool {
        self.users.iter().any(|u| u == user) || self.groups.iter().any(|g| groups.contains(g))
    }
}

/// Observed state of a Team, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Standard conditions, keyed by `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// ModelDeployments that name this team in any role.
    #[serde(default)]
    pub model_deployments: i32,
    /// Checklist items currently waiting for this team, across all ModelDeployments.
    #[serde(default)]
    pub pending_items: i32,
}
