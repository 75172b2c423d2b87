//! `Team` (cluster-scoped): a named group of people, identified by Kubernetes user
//! names and authenticator groups, that can own a role on ModelDeployments.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A team that owns a role (data, platform or application) on ModelDeployments.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "Team",
    status = "TeamStatus",
    shortname = "tm",
    category = "accord",
    derive = "PartialEq",
    validation = kube::core::Rule::new("size(self.metadata.name) <= 63")
        .message("metadata.name of a Team must be at most 63 characters: it becomes a label value"),
    doc = "A team of people, by Kubernetes user name or group, that can own a role on ModelDeployments.",
    printcolumn(name = "Users", type_ = "string", json_path = ".spec.members.users", description = "Members by user name"),
    printcolumn(name = "Groups", type_ = "string", json_path = ".spec.members.groups", description = "Members by group"),
    printcolumn(name = "Models", type_ = "integer", json_path = ".status.modelDeployments", priority = 1),
    printcolumn(name = "Pending", type_ = "integer", json_path = ".status.pendingItems", description = "Checklist items waiting for this team"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.signingKeys) || self.signingKeys.all(k, has(self.members.users) && k.user in self.members.users)"
).message("spec.signingKeys[].user must be listed in spec.members.users: a signing key belongs to a named member"))]
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
    /// OpenSSH public keys the team's members sign Attestations with, for sign-offs
    /// applied by GitOps controllers (`kubectl accord attest --sign`). Whoever may change
    /// this Team decides whose signature counts for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub signing_keys: Vec<SigningKey>,
    /// Fingerprints of keys that never count again (`SHA256:…`, as `ssh-keygen -lf`
    /// prints them), even where they are still listed in `signingKeys`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1024), inner(regex(pattern = KEY_FINGERPRINT)))]
    pub revoked_keys: Vec<String>,
    /// Where the team is told what happens to the models it owns: a webhook URL (Slack,
    /// Mattermost, Teams, or anything taking a Slack-style JSON body), read from a Secret
    /// in the operator's namespace so it never shows in the Team.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub notify: Vec<NotifyTarget>,
}

/// One destination of a Team's notifications.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NotifyTarget {
    /// A name for the destination, said in Events (e.g. `slack-oncall`).
    #[schemars(length(min = 1, max = 63), regex(pattern = super::validation::DNS1123_LABEL))]
    pub name: String,
    /// The Secret (in the operator's namespace, e.g. `accord-system`) and key holding
    /// the webhook URL.
    pub url_secret_ref: SecretKeyRef,
    /// What to be told about.
    #[schemars(length(min = 1, max = 5))]
    pub events: Vec<NotifyEvent>,
}

/// A key of a Secret in the operator's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    #[schemars(length(min = 1, max = 253), regex(pattern = super::validation::DNS1123_SUBDOMAIN))]
    pub name: String,
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// What a team can be told about.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
pub enum NotifyEvent {
    /// A candidate waits for this team's sign-off (once per candidate).
    Blocked,
    /// Sign-off this team owes is overdue (once per candidate).
    Escalated,
    /// A version of a model it owns was promoted.
    Promoted,
    /// A version was rolled back, or a canary kept out.
    RolledBack,
    /// A sign-off that counted was withdrawn.
    Withdrawn,
    /// An Incident was opened that this Team is Responsible for.
    IncidentOpened,
    /// Nobody acknowledged an Incident in time, and this Team is Accountable for it.
    IncidentEscalated,
}

/// One member's OpenSSH public key.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    /// The member the key belongs to: a user name listed in `spec.members.users`.
    #[schemars(length(min = 1, max = 253))]
    pub user: String,
    /// The public key, one line as in `~/.ssh/id_ed25519.pub`.
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = kube::core::Rule::new(
        "self.matches('^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh.com|sk-ecdsa-sha2-nistp256@openssh.com) [A-Za-z0-9+/]+=*( [^\\r\\n]*)?$')"
    ).message(SIGNING_KEY_TYPES_MESSAGE))]
    pub key: String,
    /// The key stops counting at this time: signatures it made no longer count for
    /// candidates not yet promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_before: Option<Time>,
}

/// A key fingerprint as OpenSSH prints it: SHA-256, unpadded base64.
pub const KEY_FINGERPRINT: &str = "^SHA256:[A-Za-z0-9+/]{43}$";

/// What `spec.signingKeys[].key` accepts, for the schema message and the webhook.
pub const SIGNING_KEY_TYPES_MESSAGE: &str = "spec.signingKeys[].key must be one OpenSSH public key line of type ssh-ed25519, \
ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com or \
sk-ecdsa-sha2-nistp256@openssh.com (RSA and DSA keys are not accepted)";

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
