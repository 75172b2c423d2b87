//! `ModelDeployment` (namespaced, short name `md`): a model served in production, its
//! three owning Teams, the handoff checklist each new version must clear, and the plan
//! for rolling back a version that fails.

use k8s_openapi::api::core::v1::{EnvVar, PodTemplateSpec, ResourceRequirements};
use kube::{CustomResource, KubeSchema};

use super::validation::{
    DNS1123_LABEL, DNS1123_SUBDOMAIN, DURATION, HTTP_URL, LABEL_VALUE, SHA256_DIGEST,
};
use serde::{Deserialize, Serialize};

mod monitoring;
mod status;

pub use monitoring::{Guard, GuardAction, GuardStatus, Monitoring, MonitoringStatus};

pub use status::{
    Approval, AutoApproval, AutoApprovedItem, CanaryRecord, CanaryStatus, CandidateTracking,
    CarriedFrom, CarriedSignOff, ChecklistItemStatus, ConformanceViolation, DrillRecordMark,
    FailedCandidate, HistoryEntry, HistoryOutcome, ItemApproval, Measurement,
    ModelDeploymentStatus, ModelIdentity, Phase, UpstreamEvidence, ViolationKind,
};

/// The serving container's name in the simple form (and the default `container` of a
/// pod template).
pub const SERVING_CONTAINER: &str = "model";

/// A model in production, owned jointly by a data, a platform and an application Team.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "ModelDeployment",
    namespaced,
    status = "ModelDeploymentStatus",
    shortname = "md",
    category = "accord",
    derive = "PartialEq",
    validation = kube::core::Rule::new("size(self.metadata.name) <= 63").message(
        "metadata.name of a ModelDeployment must be at most 63 characters: it names the managed Deployment and becomes a label value"
    ),
    validation = kube::core::Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message(
        "metadata.name of a ModelDeployment must be a DNS-1035 label (lower-case letters, digits and '-', starting with a letter): it names the managed Service"
    ),
    doc = "A model served in production, its three owning Teams, its handoff checklist and its rollback plan.",
    printcolumn(name = "Candidate", type_ = "string", json_path = ".spec.model.version", description = "Version awaiting or holding promotion"),
    printcolumn(name = "Active", type_ = "string", json_path = ".status.activeVersion", description = "Version the managed Deployment runs"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Pending", type_ = "integer", json_path = ".status.pendingItems", description = "Required checklist items not yet attested"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentSpec {
    /// The three Teams accountable for this model, one per role.
    pub owners: Owners,
    /// The candidate model version.
    pub model: ModelRef,
    /// How the model is served.
    pub serving: Serving,
    /// What each team must attest before a new version is promoted.
    pub handoff: Handoff,
    /// What happens when a promoted version fails.
    pub rollback: RollbackPlan,
    /// How a signed-off candidate reaches production: with `canary`, it first runs
    /// beside the active version, behind the same Service, until it has baked (and its
    /// analysis held, and the items marked `after: Canary` are attested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStrategy>,
    /// Where this model earns its promotion before it runs here (`from`, `soak`,
    /// `carry`), and which namespaces may cite this one as their upstream
    /// (`downstream`). See docs/environments.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<Promotion>,
    /// What is watched while a version serves: guards whose breach opens an Incident
    /// (and, with `action: RollBack`, rolls back by the plan). See docs/incidents.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
}

/// A ModelDeployment's place in a chain of environments (dev → staging → prod).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[x_kube(validation = kube::core::Rule::new("has(self.from) || (!has(self.soak) && (!has(self.carry) || size(self.carry) == 0))").message(
    "spec.promotion.soak and spec.promotion.carry need spec.promotion.from: they describe the upstream a candidate comes through"
))]
#[x_kube(validation = kube::core::Rule::new("!has(self.carry) || self.carry.all(x, self.carry.exists_one(y, y == x))").message(
    "spec.promotion.carry item ids must be unique"
).field_path(".carry"))]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// The upstream ModelDeployment a candidate must have served in first. It must
    /// list this namespace in its `promotion.downstream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<UpstreamRef>,
    /// How long the candidate's artifact must have served upstream, available without
    /// a break, e.g. `24h` (Go-style duration). Absent: no soak (a HandoffPolicy's
    /// `promotion.minSoak` may still set one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = DURATION))]
    pub soak: Option<String>,
    /// Checklist items whose upstream sign-off counts here, for the same artifact, when
    /// the person who gave it is now a member of this ModelDeployment's owning Team.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL)))]
    pub carry: Vec<String>,
    /// Namespaces whose ModelDeployments may cite this one as their upstream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL)))]
    pub downstream: Vec<String>,
}

/// An upstream ModelDeployment, by namespace and name.
#[derive(
    KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamRef {
    /// Its namespace.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub namespace: String,
    /// Its name.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub name: String,
}

impl std::fmt::Display for UpstreamRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// How a candidate reaches production.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// Run the candidate as a canary first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
}

fn default_canary_replicas() -> i32 {
    1
}

fn default_bake_seconds() -> i32 {
    300
}

/// A canary: the candidate runs with `replicas` pods beside the active version (the
/// Service sends it a share of the traffic) for `bakeSeconds` once available.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    /// Pods of the candidate while it is a canary.
    #[serde(default = "default_canary_replicas")]
    #[schemars(range(min = 1, max = 100))]
    pub replicas: i32,
    /// How long the canary runs, once available, before it can be promoted.
    #[serde(default = "default_bake_seconds")]
    #[schemars(range(min = 0, max = 86400))]
    pub bake_seconds: i32,
    /// A Prometheus query that must hold while the canary bakes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
}

fn default_interval() -> i32 {
    30
}

/// A metric the canary must keep within bounds, measured every `intervalSeconds`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = kube::core::Rule::new("has(self.maxValue) != has(self.minValue)").message(
    "spec.rollout.canary.analysis: set exactly one of maxValue or minValue"
))]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// The Prometheus server, e.g. `http://prometheus.monitoring:9090`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = HTTP_URL))]
    pub address: String,
    /// PromQL returning one number; `{{version}}`, `{{namespace}}` and `{{name}}` are
    /// replaced with the candidate's version, the namespace and the ModelDeployment's
    /// name, e.g. `sum(rate(errors{version="{{version}}"}[1m])) / sum(rate(requests{version="{{version}}"}[1m]))`.
    #[schemars(length(min = 1, max = 4096))]
    pub query: String,
    /// The canary fails a measurement above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// The canary fails a measurement below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    /// Seconds between measurements.
    #[serde(default = "default_interval")]
    #[schemars(range(min = 1, max = 3600))]
    pub interval_seconds: i32,
    /// Failed measurements tolerated; one more fails the canary.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub failure_limit: i32,
}

/// When an item is attested.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// While the canary runs, on what it showed: full promotion waits for it, the
    /// canary does not.
    Canary,
}

/// One Team name per role. Each must name an existing Team; a missing one sets phase `Invalid`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Owners {
    /// Team owning data quality, lineage, access and privacy.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_SUBDOMAIN))]
    pub data: String,
    /// Team owning infrastructure, serving, observability and rollback mechanics.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_SUBDOMAIN))]
    pub platform: String,
    /// Team owning how the model is used and the user-facing outcome.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_SUBDOMAIN))]
    pub application: String,
}

impl Owners {
    /// The Team that owns `role`.
    pub fn team_for(&self, role: Role) -> &str {
        match role {
            Role::Data => &self.data,
            Role::Platform => &self.platform,
            Role::Application => &self.application,
        }
    }

    /// The three owner Team names, in role order (a Team may hold several roles).
    pub fn teams(&self) -> [&str; 3] {
        Role::ALL.map(|role| self.team_for(role))
    }

    /// Whether `team` holds any role.
    pub fn names(&self, team: &str) -> bool {
        self.teams().contains(&team)
    }
}

/// The candidate model version and where it comes from.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ModelRef {
    /// The model's name; becomes the `accord.dev/model` label, so it must be a label value.
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE))]
    pub name: String,
    /// The candidate version; becomes the `accord.dev/model-version` label, so it must be
    /// a label value: up to 63 alphanumerics, `-`, `_` or `.`, starting and ending alphanumeric.
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE))]
    pub version: String,
    /// Where the model artifact lives, e.g. `s3://models/fraud-scorer/2.4.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub artifact: Option<String>,
    /// Content digest of the artifact; when set, attestations must name the same digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SHA256_DIGEST))]
    pub digest: Option<String>,
    /// The data the model was trained on. A HandoffPolicy's `autoApprove` rule only
    /// applies to a patch release trained on the same data as the active version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data: Option<TrainingData>,
}

/// The data a model version was trained on.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TrainingData {
    /// Content digest of the training data set (e.g. of its manifest), as the data
    /// team publishes it.
    #[schemars(regex(pattern = SHA256_DIGEST))]
    pub digest: String,
    /// Where the training data lives, for humans, e.g. `s3://features/fraud/2026-11`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub uri: Option<String>,
}

fn default_replicas() -> i32 {
    1
}

/// How the model is served: the shape of the managed Deployment (and Service). Either
/// the simple form (`image` and a few fields; Accord adds a restricted-compliant
/// security context) or a full pod `template`; exactly one.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = kube::core::Rule::new("has(self.image) != has(self.template)").message(
    "spec.serving: set exactly one of image (the simple form) or template (a full pod template)"
))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.template) || (!has(self.args) && !has(self.env) && !has(self.resources))"
).message("spec.serving.args, env and resources belong to the serving container of spec.serving.template when a template is set"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.container) || has(self.template)").message(
    "spec.serving.container names a container of spec.serving.template; set it only with a template"
).field_path(".container"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.template) || (has(self.template.spec) && self.template.spec.containers.exists(c, c.name == (has(self.container) ? self.container : 'model')))"
).message("spec.serving.template.spec.containers must include the serving container: one named model, or the one spec.serving.container names").field_path(".template"))]
#[serde(rename_all = "camelCase")]
pub struct Serving {
    /// Container image that serves the model (the simple form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub image: Option<String>,
    /// Number of serving pods.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,
    /// The port the model serves on; when set, a Service of the same name is managed too
    /// (in the template form, the serving container must listen on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Arguments passed to the serving container (simple form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment of the serving container (simple form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Compute resources of the serving container (simple form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// A full pod template (the template form): probes, GPUs, tolerations, volumes, a
    /// ServiceAccount, security contexts. Accord merges its labels in and passes the
    /// rest through; `replicas` still comes from `spec.serving.replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::pod_template")]
    pub template: Option<PodTemplateSpec>,
    /// The template's container that serves the model (default `model`): its image is
    /// the candidate's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub container: Option<String>,
}

impl Serving {
    /// The name of the container that serves the model.
    pub fn container_name(&self) -> &str {
        self.container.as_deref().unwrap_or(SERVING_CONTAINER)
    }

    /// The image that serves the model: `image`, or the serving container's image in
    /// the template (empty when neither names one).
    pub fn serving_image(&self) -> String {
        if let Some(image) = &self.image {
            return image.clone();
        }
        self.template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .and_then(|spec| {
                spec.containers
                    .iter()
                    .find(|c| c.name == self.container_name())
            })
            .and_then(|c| c.image.clone())
            .unwrap_or_default()
    }

    /// The same shape running `image` instead (what a history entry from before
    /// serving snapshots recorded).
    pub fn with_image(&self, image: &str) -> Serving {
        let mut serving = self.clone();
        match &mut serving.template {
            Some(template) => {
                let name = self.container_name().to_string();
                if let Some(container) = template
                    .spec
                    .as_mut()
                    .and_then(|s| s.containers.iter_mut().find(|c| c.name == name))
                {
                    container.image = Some(image.to_string());
                }
            }
            None => serving.image = Some(image.to_string()),
        }
        serving
    }
}

/// The handoff checklist and when overdue sign-off escalates.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = kube::core::Rule::new(
    "self.checklist.all(x, self.checklist.exists_one(y, y.id == x.id))"
).message("spec.handoff.checklist item ids must be unique").field_path(".checklist"))]
#[serde(rename_all = "camelCase")]
pub struct Handoff {
    /// Items to attest before promotion; each owned by one role. Ids are unique.
    #[schemars(length(min = 1, max = 64))]
    pub checklist: Vec<ChecklistItem>,
    /// How long a candidate may wait for sign-off before it escalates, e.g. `24h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = DURATION))]
    pub escalate_after: Option<String>,
}

fn default_true() -> bool {
    true
}

/// One item of the handoff checklist.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistItem {
    /// Stable identifier, a DNS-1123 label such as `data-drift-checked`.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub id: String,
    /// The role whose Team must attest this item.
    pub owner: Role,
    /// What attesting this item means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Whether promotion waits for this item.
    #[serde(default = "default_true")]
    pub required: bool,
    /// `Canary`: the item is attested on canary evidence, while the canary runs; the
    /// canary starts without it and full promotion waits for it. Without a canary (or
    /// for the first version) it is an ordinary item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
}

/// The three roles that share a model.
#[derive(
    schemars::JsonSchema,
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Data quality, lineage, access and privacy.
    Data,
    /// Infrastructure, serving, observability and rollback mechanics.
    Platform,
    /// How the model is used and the user-facing outcome.
    Application,
}

impl Role {
    /// All roles, in the order they are reported.
    pub const ALL: [Role; 3] = [Role::Data, Role::Platform, Role::Application];

    /// The roles whose Teams may request a rollback (and change a model's owners).
    pub const ROLLBACK_DECIDERS: [Role; 2] = [Role::Platform, Role::Application];

    /// The lower-case name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Data => "data",
            Role::Platform => "platform",
            Role::Application => "application",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_progress_deadline() -> i32 {
    600
}

/// What happens when a promoted version does not become available.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RollbackPlan {
    /// `Automatic` restores the last good version; `Manual` only reports `Degraded`.
    pub mode: RollbackMode,
    /// Seconds a promoted version has to become available before it has failed.
    #[serde(default = "default_progress_deadline")]
    #[schemars(range(min = 10, max = 3600))]
    pub progress_deadline_seconds: i32,
}

/// Rollback modes.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollbackMode {
    /// Restore the last good version without waiting for a human.
    Automatic,
    /// Report the failure and wait for a rollback request.
    Manual,
}

impl ModelDeployment {
    /// The Team that owns item `id`: an item of its own checklist, or one a
    /// HandoffPolicy adds (as the operator last recorded it in status).
    pub fn item_team(&self, id: &str) -> Option<String> {
        if let Some(item) = self.spec.checklist_item(id) {
            return Some(self.spec.owners.team_for(item.owner).to_string());
        }
        self.status
            .as_ref()?
            .checklist
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.team.clone())
    }

    /// Every item id, its own and its policies', comma-separated, for messages.
    pub fn item_ids(&self) -> String {
        let mut ids: Vec<&str> = self
            .spec
            .handoff
            .checklist
            .iter()
            .map(|item| item.id.as_str())
            .collect();
        for item in self.status.iter().flat_map(|s| &s.checklist) {
            if !ids.contains(&item.id.as_str()) {
                ids.push(&item.id);
            }
        }
        ids.join(", ")
    }
}

impl ModelDeploymentSpec {
    /// The upstream this ModelDeployment's candidates come through, if any.
    pub fn upstream(&self) -> Option<&UpstreamRef> {
        self.promotion.as_ref()?.from.as_ref()
    }

    /// The namespaces that may cite this ModelDeployment as their upstream.
    pub fn downstream(&self) -> &[String] {
        self.promotion
            .as_ref()
            .map_or(&[][..], |p| p.downstream.as_slice())
    }

    /// The items whose upstream sign-off counts here.
    pub fn carried_items(&self) -> &[String] {
        self.promotion
            .as_ref()
            .map_or(&[][..], |p| p.carry.as_slice())
    }

    /// The checklist item with this id.
    pub fn checklist_item(&self, id: &str) -> Option<&ChecklistItem> {
        self.handoff.checklist.iter().find(|item| item.id == id)
    }

    /// The checklist's item ids, comma-separated, for messages.
    pub fn checklist_ids(&self) -> String {
        let ids: Vec<&str> = self
            .handoff
            .checklist
            .iter()
            .map(|item| item.id.as_str())
            .collect();
        ids.join(", ")
    }

    /// Whether an attestation naming `digest` matches the candidate's artifact digest:
    /// always when the spec names none, else only the same digest.
    pub fn digest_matches(&self, digest: Option<&str>) -> bool {
        self.model
            .digest
            .as_deref()
            .is_none_or(|want| digest == Some(want))
    }

    /// The candidate's identity as named by this spec.
    pub fn identity(&self) -> ModelIdentity {
        ModelIdentity {
            version: self.model.version.clone(),
            digest: self.model.digest.clone(),
            artifact: self.model.artifact.clone(),
            image: self.serving.serving_image(),
        }
    }
}
