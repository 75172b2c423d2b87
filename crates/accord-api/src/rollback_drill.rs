//! `RollbackDrill` (namespaced, short name `drill`): a rehearsal of a ModelDeployment's
//! rollback plan. On a schedule (or once, on create, or when asked) Accord runs the
//! rollback target's recorded serving shape beside production, in a Deployment and a
//! Service of its own that no production Service selects, checks that it schedules,
//! becomes Ready within the deadline and answers its smoke request, checks that someone
//! could roll back, and deletes what it made. Each run is a report that the roles in
//! `tabletop.acknowledge` review (an Attestation with `spec.drill`). Created and changed
//! only by the model's platform Team; the status is the operator's. See docs/drills.md.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::{Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::{
    model_deployment::Role,
    validation::{DNS1123_SUBDOMAIN, DURATION},
};

/// The checklist item id of a drill run's tabletop review.
pub const DRILL_REVIEW: &str = "drill-review";

/// How many runs `status.runs` keeps (newest first); older runs remain as Events and
/// PromotionRecords are not written for drills.
pub const MAX_RUNS: usize = 10;

/// A scheduled rehearsal of a ModelDeployment's rollback plan.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "RollbackDrill",
    namespaced,
    status = "RollbackDrillStatus",
    shortname = "drill",
    category = "accord",
    derive = "PartialEq",
    doc = "A scheduled rehearsal of a ModelDeployment's rollback plan, beside production and never touching it.",
    printcolumn(
        name = "ModelDeployment",
        type_ = "string",
        json_path = ".spec.modelDeployment"
    ),
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
    printcolumn(name = "LastRun", type_ = "string", json_path = ".status.lastRun"),
    printcolumn(
        name = "Result",
        type_ = "string",
        json_path = ".status.runs[0].result"
    ),
    printcolumn(
        name = "LastSuccess",
        type_ = "date",
        json_path = ".status.lastSuccess"
    ),
    printcolumn(
        name = "NextRun",
        type_ = "string",
        json_path = ".status.nextRunAt",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RollbackDrillSpec {
    /// Name of the ModelDeployment whose rollback plan is rehearsed, in the same namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub model_deployment: String,
    /// When to run, as a 5-field cron expression (`0 10 * * 2`) or a macro (`@weekly`),
    /// in `timeZone`. Omit it for one run when the drill is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub schedule: Option<String>,
    /// The IANA time zone the schedule is read in (default `UTC`), e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
    /// What is rehearsed: `PreviousKnownGood` (the newest earlier history entry that
    /// was available, what an automatic rollback restores), or `{version: "2.3.1"}`.
    #[serde(default)]
    #[schemars(schema_with = "target_schema")]
    pub target: DrillTarget,
    /// How many pods the rehearsal runs.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 10))]
    pub replicas: i32,
    /// The rehearsal fails if the target is not Ready by then, e.g. `10m`.
    #[serde(default = "default_deadline")]
    #[schemars(length(max = 32), regex(pattern = DURATION))]
    pub deadline: String,
    /// An HTTP request through a drill-only Service, once the target is Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<Smoke>,
    /// Who reviews each run's report, and by when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tabletop: Option<Tabletop>,
}

fn default_replicas() -> i32 {
    1
}

fn default_deadline() -> String {
    "10m".into()
}

/// What a drill rehearses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum DrillTarget {
    /// `PreviousKnownGood`.
    Named(TargetName),
    /// `{version: "2.3.1"}`: that version's newest history entry.
    Version(VersionTarget),
    /// Anything else, kept so that one malformed drill never breaks a watch; the
    /// webhook refuses it and the operator reports it.
    Invalid(serde_json::Value),
}

/// `{version: "2.3.1"}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VersionTarget {
    pub version: String,
}

impl Default for DrillTarget {
    fn default() -> Self {
        DrillTarget::Named(TargetName::PreviousKnownGood)
    }
}

impl std::fmt::Display for DrillTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrillTarget::Named(TargetName::PreviousKnownGood) => f.write_str("PreviousKnownGood"),
            DrillTarget::Version(VersionTarget { version }) => write!(f, "version {version}"),
            DrillTarget::Invalid(value) => write!(f, "{value}"),
        }
    }
}

/// The named targets.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetName {
    /// The newest history entry before the active one that was available.
    PreviousKnownGood,
}

/// `spec.target`: a string or an object, which a structural schema cannot type; the
/// API server keeps it as written (CEL cannot see an untyped field) and Accord's
/// webhook judges it, naming the field.
fn target_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "What is rehearsed: `PreviousKnownGood` (the newest earlier history entry that was available) or `{version: \"2.3.1\"}`.",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// The smoke request of a drill.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Smoke {
    /// The path requested, e.g. `/healthz`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = "^/[^\\s]*$"))]
    pub path: String,
    /// The port of the target's pods the drill-only Service forwards to.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// The HTTP status the answer must have.
    #[serde(default = "default_status")]
    #[schemars(range(min = 100, max = 599))]
    pub expect_status: u16,
}

fn default_status() -> u16 {
    200
}

/// Who reviews a drill's reports.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = kube::core::Rule::new(
    "self.acknowledge.all(x, self.acknowledge.exists_one(y, y == x))"
).message("spec.tabletop.acknowledge lists each role once").field_path(".acknowledge"))]
#[serde(rename_all = "camelCase")]
pub struct Tabletop {
    /// The model's roles a member of each must acknowledge every run's report, with
    /// an Attestation naming the run (`spec.drill`, item `drill-review`).
    #[schemars(length(min = 1, max = 3))]
    pub acknowledge: Vec<Role>,
    /// How long after a run ends the acknowledgements may take before the Teams that
    /// still owe one are told, e.g. `72h`.
    #[serde(default = "default_within")]
    #[schemars(length(max = 32), regex(pattern = DURATION))]
    pub within: String,
}

fn default_within() -> String {
    "72h".into()
}

/// Observed state of a drill, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollbackDrillStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: whether the drill can run (its ModelDeployment and target exist).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The id of the newest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// When the newest run that passed ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Time>,
    /// When the schedule fires next (the operator's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<Time>,
    /// The latest schedule firing acted on (missed firings collapse into one run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// The last `accord.dev/run-requested-at` value acted on; each value runs once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_request: Option<String>,
    /// The runs, newest first (the last ten). Each is also an Event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<DrillRun>,
}

/// One rehearsal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillRun {
    /// `YYYYMMDD-HHMMSS` in UTC of its start; part of the names of what it creates.
    pub id: String,
    /// What started it: `Created`, `Schedule` or `Requested`.
    pub trigger: String,
    /// Who asked for it (`Requested`): the annotation's author as the webhook recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub started_at: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// The version rehearsed, from the sealed history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RunTarget>,
    /// The Deployment (and Service) it runs in: `<model>-drill-<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    pub steps: Vec<DrillStep>,
    /// From the Deployment's creation until every pod was Ready, e.g. `41s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_ready: Option<String>,
    pub result: RunResult,
    /// Why it failed, or what it showed, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The tabletop reviews that count, one per role at most.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledged_by: Vec<Acknowledgement>,
    /// When the last role in `tabletop.acknowledge` acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<Time>,
    /// When the Teams still owing a review were told it is overdue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<Time>,
}

impl DrillRun {
    /// Whether it ended (passed or failed).
    pub fn is_finished(&self) -> bool {
        self.result != RunResult::Running
    }

    /// The step `name`, if it was recorded.
    pub fn step(&self, name: StepName) -> Option<&DrillStep> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// The version a run rehearsed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunTarget {
    pub version: String,
    /// Its candidate fingerprint, from the history entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Its serving image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// How a run ended.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema,
)]
pub enum RunResult {
    #[default]
    Running,
    Passed,
    Failed,
}

/// The steps of a run, in order.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    schemars::JsonSchema,
)]
pub enum StepName {
    /// The target is in the sealed history and its seal verifies.
    TargetResolved,
    /// The target's image reference still resolves in its registry.
    ImagePresent,
    /// Every pod was bound to a node.
    Scheduled,
    /// Every pod was Ready within the deadline.
    Ready,
    /// The smoke request answered as expected.
    Smoke,
    /// A current member of the platform Team may request a rollback.
    RollbackRightsHeld,
    /// What the run created is gone.
    CleanedUp,
}

impl StepName {
    pub const ALL: [StepName; 7] = [
        StepName::TargetResolved,
        StepName::ImagePresent,
        StepName::Scheduled,
        StepName::Ready,
        StepName::Smoke,
        StepName::RollbackRightsHeld,
        StepName::CleanedUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepName::TargetResolved => "TargetResolved",
            StepName::ImagePresent => "ImagePresent",
            StepName::Scheduled => "Scheduled",
            StepName::Ready => "Ready",
            StepName::Smoke => "Smoke",
            StepName::RollbackRightsHeld => "RollbackRightsHeld",
            StepName::CleanedUp => "CleanedUp",
        }
    }
}

/// How a step went.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum StepResult {
    Passed,
    Failed,
    /// Not checked (no smoke request, no registry access, an earlier step failed).
    Skipped,
}

/// One step of a run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillStep {
    pub name: StepName,
    pub result: StepResult,
    /// How long it took, e.g. `0.1s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// What a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it was recorded.
    pub at: Time,
}

/// A tabletop review that counts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledgement {
    pub role: Role,
    pub user: String,
    /// The Team holding that role for the model.
    pub team: String,
    /// The Attestation (`spec.drill`, item `drill-review`).
    pub attestation: String,
}

impl RollbackDrill {
    /// Whether it rehearses the ModelDeployment `name` in `namespace`.
    pub fn is_for(&self, namespace: Option<&str>, name: &str) -> bool {
        self.metadata.namespace.as_deref() == namespace && self.spec.model_deployment == name
    }

    /// The run `id`, if the status keeps it.
    pub fn run(&self, id: &str) -> Option<&DrillRun> {
        self.status.as_ref()?.runs.iter().find(|r| r.id == id)
    }
}

/// `DRILL/RUN`, as an Attestation's `spec.drill` names a run.
pub fn run_ref(drill: &str, run: &str) -> String {
    format!("{drill}/{run}")
}

/// The drill and run an Attestation's `spec.drill` names.
pub fn split_run_ref(value: &str) -> Option<(&str, &str)> {
    value.split_once('/')
}

pub use crate::validation::RUN_REF;
