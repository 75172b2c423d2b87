//! A ModelDeployment's status: what the operator observed and decided — the phase,
//! the candidate and its checklist, the canary, the bounded history of promotions and
//! rollbacks. Written only by the operator.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::{Deserialize, Serialize};

use super::{After, ModelDeploymentSpec, Serving, default_true};

/// Observed state of a ModelDeployment, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the model is in its lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The version named by the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_version: Option<String>,
    /// The version the managed Deployment runs; absent before the first promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_version: Option<String>,
    /// Required checklist items not yet attested for the candidate.
    #[serde(default)]
    pub pending_items: i32,
    /// Each checklist item and who, if anyone, attested it for the candidate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<ChecklistItemStatus>,
    /// Promotions and rollbacks, newest last, bounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    /// Standard conditions, keyed by `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Bookkeeping for the candidate: its identity, when it was first seen, and which
    /// one-time Events it has had. Kept in status so a restart repeats none of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<CandidateTracking>,
    /// Candidates that failed and were rolled back, newest last (bounded). An
    /// attestation admitted before its candidate failed never promotes it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_candidates: Vec<FailedCandidate>,
    /// Deprecated: how Accord before fingerprints remembered a failed candidate. Read
    /// once to migrate into `failedCandidates`, then dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_candidate: Option<ModelIdentity>,
    /// The last `accord.dev/rollback-requested-at` value acted on; each value acts once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rollback_request: Option<String>,
    /// When the running version, after being available, was first seen with fewer
    /// Ready pods than it wants; cleared once all are Ready again. It fails when this
    /// lasts longer than `spec.rollback.progressDeadlineSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unready_since: Option<Time>,
    /// The canary of the current candidate while it runs (see `spec.rollout.canary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStatus>,
    /// The HandoffPolicies that apply to this ModelDeployment, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Why the version that serves would not be promoted today, were it a candidate:
    /// a policy added since, an expired sign-off, a revoked key, an approver gone from
    /// their Team, a role with no members, a conflict between policies. Reporting only:
    /// nothing is taken down for it (`kubectl accord audit report`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub conformance: Vec<ConformanceViolation>,
    /// The sequence of the newest PromotionRecord of this ModelDeployment (its chain
    /// continues from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_sequence: Option<i64>,
    /// For each RollbackDrill of this model, the newest of its finished runs that has
    /// a PromotionRecord (`DrillRun`); runs after it get one. One entry per existing
    /// drill, and no cap: a cap would let someone who may create drills make this
    /// status unwritable by creating one too many.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drill_records: Vec<DrillRecordMark>,
    /// The guards of the version that serves, as last recorded (`spec.monitoring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<super::MonitoringStatus>,
}

/// What makes a model version distinct: a change to any of these is a new candidate
/// that needs fresh attestations.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelIdentity {
    /// `spec.model.version`.
    pub version: String,
    /// `spec.model.digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `spec.model.artifact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// `spec.serving.image`.
    pub image: String,
}

/// A candidate that failed and was rolled back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedCandidate {
    /// Its candidate fingerprint.
    pub fingerprint: String,
    /// Its model version, for humans.
    pub version: String,
    /// When it was rolled back; only attestations admitted later can promote it again.
    pub failed_at: Time,
    /// Its artifact fingerprint: a downstream citing this ModelDeployment is not
    /// promoted to an artifact that failed here (`FailedUpstream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_fingerprint: Option<String>,
}

/// A canary in progress.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// The candidate fingerprint the canary runs.
    pub fingerprint: String,
    /// Its version, for humans.
    pub version: String,
    /// When the canary Deployment was first written.
    pub started_at: Time,
    /// When every canary pod was first available; the bake time counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_at: Option<Time>,
    /// The analysis measurements, newest last (the last 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
    /// How many measurements failed in all.
    #[serde(default)]
    pub failed_measurements: i32,
}

/// One measurement of a canary's analysis query.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// When it was taken.
    pub at: Time,
    /// The value as Prometheus returned it, when it returned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether it is within the bound.
    pub passed: bool,
    /// Why it failed or counted for nothing (no data, an error), for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What a canary showed, kept in the history entry of what followed it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryRecord {
    /// The canary's version and fingerprint.
    pub version: String,
    pub fingerprint: String,
    /// When it started and ended.
    pub started_at: Time,
    pub ended_at: Time,
    /// `Promoted`, `AnalysisFailed`, `NoMeasurement` or `RollbackRequested`.
    pub outcome: String,
    /// The analysis measurements, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
}

/// Bookkeeping for the current candidate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CandidateTracking {
    /// The candidate fingerprint (`sha256:…`): what a sign-off is about. Absent only in
    /// status written by Accord before fingerprints existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The artifact fingerprint (`sha256:…`): the model and the images that run,
    /// without configuration. Sign-offs carry across environments only for the same
    /// artifact (docs/environments.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_fingerprint: Option<String>,
    /// The candidate's version, digest, artifact and image, for humans.
    #[serde(flatten)]
    pub identity: ModelIdentity,
    /// The user whose change introduced this candidate, as the webhook recorded (and
    /// sealed) it; they may not attest it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Set when this candidate was already tracked before fingerprints existed:
    /// attestations admitted then (without `spec.candidate`) count for it, and only
    /// for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_attestations: bool,
    /// When Accord first saw this candidate; sign-off wait and escalation count from here.
    pub first_seen: Time,
    /// Whether the `PromotionBlocked` Event was recorded for this candidate.
    #[serde(default)]
    pub blocked_reported: bool,
    /// Whether the `Escalated` Event was recorded for this candidate.
    #[serde(default)]
    pub escalated: bool,
}

/// Lifecycle phase of a ModelDeployment.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Phase {
    /// The candidate waits for required attestations.
    AwaitingAttestations,
    /// The signed-off candidate runs as a canary beside the active version.
    Canary,
    /// The candidate was promoted and its Deployment is rolling out.
    Promoting,
    /// The candidate is promoted and available.
    Serving,
    /// A failed version is being replaced by the last good one.
    RollingBack,
    /// The candidate failed and the last good version was restored.
    RolledBack,
    /// The candidate failed and waits for a manual decision.
    Degraded,
    /// The spec cannot be acted on (for example an owner Team does not exist).
    Invalid,
}

/// The attestation state of one checklist item for the candidate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistItemStatus {
    /// The item's id.
    pub id: String,
    /// The role that owns it.
    pub owner: String,
    /// The Team holding that role.
    pub team: String,
    /// Whether the item is required for promotion.
    #[serde(default = "default_true")]
    pub required: bool,
    /// Whether a counted attestation exists for the candidate.
    pub attested: bool,
    /// Who attested it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attested_by: Option<String>,
    /// The Attestation object that counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// When that Attestation was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attested_at: Option<Time>,
    /// Why an attestation for this item did not count, when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who requires the item: `ModelDeployment` and/or `HandoffPolicy/<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
    /// How many distinct people of the owning Team must attest it (absent: one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_approvals: Option<u32>,
    /// Each person whose sign-off counts for it, with the Attestation that counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ItemApproval>,
    /// Set when no person signed it off and a HandoffPolicy's `autoApprove` rule
    /// satisfied it: `HandoffPolicy/<name> rule <rule>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approved_by: Option<String>,
    /// `Canary`: attested on canary evidence, while the canary runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
    /// Set when the sign-off that counts was given upstream and carried
    /// (`spec.promotion.carry`): the upstream ModelDeployment and its Attestation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<CarriedFrom>,
    /// Set when a HandoffPolicy's `drills.satisfies` names the item and a drill of the
    /// model passed and was acknowledged within `drills.maxAge`: `RollbackDrill/<name>
    /// run <id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied_by_drill: Option<String>,
}

/// One person's sign-off counting for an item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemApproval {
    /// Who attested.
    pub attested_by: String,
    /// The Attestation object (in the upstream's namespace when carried).
    pub attestation: String,
    /// Set when the sign-off was carried from the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<CarriedFrom>,
}

/// Where a carried sign-off was given.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CarriedFrom {
    /// The upstream ModelDeployment, `namespace/name`.
    pub model_deployment: String,
    /// The Attestation there.
    pub attestation: String,
    /// Its uid, so a same-named Attestation made later is not the one that counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// What the upstream showed when a downstream promoted: recorded in the promotion's
/// history entry, sealed like the rest of it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamEvidence {
    /// The upstream ModelDeployment, `namespace/name`, and its uid.
    pub model_deployment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The version that served there, its candidate fingerprint and artifact fingerprint.
    pub version: String,
    pub fingerprint: String,
    pub artifact_fingerprint: String,
    /// Since when it had served there, available without a break.
    pub available_since: Time,
    /// The soak that was required (a Go-style duration; `0s` when none).
    pub soak: String,
    /// The sign-offs carried from there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<CarriedSignOff>,
}

/// One sign-off carried from the upstream into a promotion.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CarriedSignOff {
    /// The checklist item.
    pub item: String,
    /// Who gave it upstream (a member of this ModelDeployment's owning Team now).
    pub attested_by: String,
    /// The upstream Attestation.
    pub attestation: String,
}

/// One promotion or rollback.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The candidate fingerprint of the version put in place (absent in entries
    /// written before fingerprints existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Its artifact fingerprint (the model and the images, without configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_fingerprint: Option<String>,
    /// The version that was promoted or restored.
    pub version: String,
    /// Its serving image.
    pub image: String,
    /// Its artifact digest, when the spec named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Its artifact location, when the spec named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// Its training data digest, when the spec named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data_digest: Option<String>,
    /// What happened.
    pub outcome: HistoryOutcome,
    /// When it happened.
    pub at: Time,
    /// Why, as a CamelCase reason.
    pub reason: String,
    /// The attestations that allowed a promotion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    /// The canary that preceded this entry: promoted after it, or (for a `RolledBack`
    /// entry keeping the active version) failed or aborted, with its measurements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryRecord>,
    /// Items a HandoffPolicy's `autoApprove` rule satisfied for this promotion, with
    /// the rule and the version it compared against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approval: Option<AutoApproval>,
    /// The full serving shape that ran, so a rollback restores exactly it (as
    /// `spec.serving`; written by the operator only, so not validated again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::opaque_object")]
    pub serving: Option<Serving>,
    /// When the Deployment first became available running this entry; a version with
    /// this set is a known-good rollback target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_at: Option<Time>,
    /// While this entry runs: since when it has been available without a break (reset
    /// when its pods stop being Ready). A downstream's soak is measured from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_since: Option<Time>,
    /// For a promotion through an upstream (`spec.promotion.from`): what it showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamEvidence>,
    /// The PromotionRecord that accounts for this entry (signed; see docs/audit.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Accord's seal over this entry (HMAC, key in the operator's namespace). The
    /// operator never deploys from an entry whose seal does not verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

impl HistoryEntry {
    /// The candidate fingerprint of the version this entry put in place. Entries from
    /// before fingerprints are fingerprinted from what they recorded (model `name` is
    /// the spec's: it never appears in an entry).
    pub fn fingerprint_in(&self, spec: &ModelDeploymentSpec) -> String {
        if let Some(fingerprint) = &self.fingerprint {
            return fingerprint.clone();
        }
        self.recorded_spec(spec, false).fingerprint()
    }

    /// `spec` with what this entry recorded of the version it put in place: version,
    /// digest, artifact, the serving snapshot with its image, and (`with_training_data`)
    /// the training-data digest.
    pub fn recorded_spec(
        &self,
        spec: &ModelDeploymentSpec,
        with_training_data: bool,
    ) -> ModelDeploymentSpec {
        let mut recorded = spec.clone();
        recorded.model.version = self.version.clone();
        recorded.model.digest = self.digest.clone();
        recorded.model.artifact = self.artifact.clone();
        if with_training_data {
            let uri = spec
                .model
                .training_data
                .as_ref()
                .and_then(|d| d.uri.clone());
            recorded.model.training_data = self
                .training_data_digest
                .clone()
                .map(|digest| super::TrainingData { digest, uri });
        }
        recorded.serving = self
            .serving
            .as_ref()
            .unwrap_or(&spec.serving)
            .with_image(&self.image);
        recorded
    }

    /// The artifact fingerprint of the version this entry put in place. Entries from
    /// before artifact fingerprints are fingerprinted from what they recorded (the
    /// model's name and training-data location are the spec's).
    pub fn artifact_in(&self, spec: &ModelDeploymentSpec) -> String {
        if let Some(artifact) = &self.artifact_fingerprint {
            return artifact.clone();
        }
        self.recorded_spec(spec, true).artifact_fingerprint()
    }

    /// The identity of the version this entry put in place.
    pub fn identity(&self) -> ModelIdentity {
        ModelIdentity {
            version: self.version.clone(),
            digest: self.digest.clone(),
            artifact: self.artifact.clone(),
            image: self.image.clone(),
        }
    }
}

/// Items satisfied by HandoffPolicy `autoApprove` rules instead of by people.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoApproval {
    /// Each item satisfied, with the policy and rule that did.
    pub items: Vec<AutoApprovedItem>,
    /// The active version the candidate was compared against.
    pub baseline_version: String,
    /// That version's candidate fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_fingerprint: Option<String>,
    /// The training data digest both share.
    pub training_data_digest: String,
    /// Who introduced the candidate (no person signed these items off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced_by: Option<String>,
}

/// One item an `autoApprove` rule satisfied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoApprovedItem {
    /// The checklist item.
    pub item: String,
    /// `HandoffPolicy/<name>`.
    pub policy: String,
    /// The rule's name.
    pub rule: String,
}

/// Outcome of a history entry.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum HistoryOutcome {
    /// The version was promoted after full sign-off.
    Promoted,
    /// The version was restored because a newer one failed or a rollback was requested.
    RolledBack,
}

/// Why the serving version would not be promoted today.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceViolation {
    pub kind: ViolationKind,
    /// The Team concerned (the item's owner, or the role's Team).
    pub team: String,
    /// The checklist item, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// What is wrong, for humans.
    pub message: String,
}

/// The kinds of conformance violation (also the `kind` label of
/// `accord_conformance_violations`).
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
pub enum ViolationKind {
    /// A required item that was not required (and not signed off) when it was promoted.
    NewPolicyItem,
    /// A sign-off older than a policy's `attestations.maxAge`.
    ExpiredSignOff,
    /// A signature that no longer verifies against the Team's keys (revoked, expired).
    KeyRevoked,
    /// An approver who is no longer a member of the owning Team.
    NotInTeam,
    /// A role whose Team has no members (or does not exist).
    NoMembers,
    /// Policies that disagree about an item's owner.
    RaciConflict,
    /// A required item with no sign-off that counts for another reason (withdrawn, …).
    MissingSignOff,
}

impl ViolationKind {
    /// Its name, as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewPolicyItem => "NewPolicyItem",
            Self::ExpiredSignOff => "ExpiredSignOff",
            Self::KeyRevoked => "KeyRevoked",
            Self::NotInTeam => "NotInTeam",
            Self::NoMembers => "NoMembers",
            Self::RaciConflict => "RaciConflict",
            Self::MissingSignOff => "MissingSignOff",
        }
    }
}

/// Who attested which item for a promotion.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The checklist item.
    pub item: String,
    /// The user whose attestation counted.
    pub attested_by: String,
}

/// The newest run of one RollbackDrill that has a PromotionRecord.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct DrillRecordMark {
    /// The drill's name.
    pub drill: String,
    /// Its uid.
    pub uid: String,
    /// The run's id.
    pub run: String,
}
