//! `PromotionRecord` (namespaced, short name `prec`): Accord's signed account of one
//! promotion, rollback, auto-approval or resolved Incident of a ModelDeployment. It holds
//! an in-toto Statement v1 in a DSSE envelope signed with the operator's ed25519 record
//! key, so it can be exported and verified outside the cluster by tools Accord did not
//! write. Created only by the operator, immutable, deletable only by admins; records
//! are not owned by their ModelDeployment, so they outlive it. See docs/audit.md.
//!
//! The fields beside the envelope are an unsigned index for `kubectl get`; everything an
//! auditor relies on is inside the signed payload ([`Statement`]).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{
    model_deployment::{CanaryRecord, CarriedFrom, UpstreamEvidence},
    validation::{DNS1123_SUBDOMAIN, LABEL_VALUE, SHA256_DIGEST},
};

/// The in-toto Statement type every record's payload carries.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of Accord's promotion records.
pub const PREDICATE_TYPE: &str = "https://accord.dev/promotion/v1";
/// The DSSE payload type of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A signed account of one promotion, rollback, auto-approval or resolved Incident.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "PromotionRecord",
    namespaced,
    shortname = "prec",
    category = "accord",
    derive = "PartialEq",
    doc = "Accord's signed record of a promotion, rollback, auto-approval or resolved Incident: an in-toto Statement v1 in a DSSE envelope.",
    printcolumn(
        name = "ModelDeployment",
        type_ = "string",
        json_path = ".spec.modelDeployment"
    ),
    printcolumn(name = "Seq", type_ = "integer", json_path = ".spec.sequence"),
    printcolumn(name = "Action", type_ = "string", json_path = ".spec.action"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(name = "At", type_ = "date", json_path = ".spec.at"),
    printcolumn(
        name = "Digest",
        type_ = "string",
        json_path = ".spec.digest",
        priority = 1
    )
)]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf")
    .message("spec is immutable: a PromotionRecord is a signed account of what happened"))]
#[serde(rename_all = "camelCase")]
pub struct PromotionRecordSpec {
    /// Name of the ModelDeployment, in the same namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub model_deployment: String,
    /// Its uid: records of a deleted and re-created namesake form another chain.
    #[schemars(length(min = 1, max = 64))]
    pub model_uid: String,
    /// The record's place in the model's chain, from 1.
    #[schemars(range(min = 1))]
    pub sequence: i64,
    /// What happened.
    pub action: RecordAction,
    /// The version put in place (or, for an Incident, the version it was about).
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE))]
    pub version: String,
    /// When it happened (the operator's clock).
    pub at: Time,
    /// `sha256:` of the envelope's payload (the Statement's bytes): what the next
    /// record of the chain names as `previous.digest`.
    #[schemars(regex(pattern = SHA256_DIGEST))]
    pub digest: String,
    /// The DSSE envelope: the Statement, base64, and the operator's signature.
    pub envelope: Envelope,
}

/// A DSSE envelope (<https://github.com/secure-systems-lab/dsse>), as JSON.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// The Statement's JSON, standard base64.
    pub payload: String,
    /// At least one signature over the DSSE pre-authentication encoding.
    #[schemars(length(min = 1))]
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of a DSSE envelope.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct EnvelopeSignature {
    /// The signing key's id: hex `sha256` of its SubjectPublicKeyInfo DER.
    #[serde(default)]
    pub keyid: String,
    /// The ed25519 signature, standard base64.
    pub sig: String,
}

/// What a record is about.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum RecordAction {
    /// A candidate was promoted on its sign-offs.
    #[default]
    Promoted,
    /// A candidate was promoted with items a HandoffPolicy's `autoApprove` rule satisfied.
    AutoApproved,
    /// A version was restored by the rollback plan (or a failed canary was aborted).
    RolledBack,
    /// An Incident's root cause was signed off by the Accountable Team.
    IncidentResolved,
    /// A rollback drill's run finished (passed or failed): the rehearsal of the model's
    /// rollback plan, with its report.
    DrillRun,
}

/// An in-toto Statement v1 whose predicate is Accord's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct Statement {
    /// `https://in-toto.io/Statement/v1`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The model artifact and every container image, by digest.
    pub subject: Vec<Subject>,
    /// `https://accord.dev/promotion/v1`.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Predicate,
}

/// An in-toto ResourceDescriptor naming an artifact by digest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct Subject {
    /// The model's name (`spec.model.name`) or the image's repository.
    pub name: String,
    /// Algorithm to lowercase hex, e.g. `{"sha256": "…"}`.
    pub digest: BTreeMap<String, String>,
}

/// Accord's predicate, `https://accord.dev/promotion/v1` (schema: docs/audit.md).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Predicate {
    /// The cluster's configured name (`--cluster-name`).
    pub cluster: String,
    /// The ModelDeployment.
    pub model: RecordedModel,
    /// This record's place in the model's chain, from 1.
    pub sequence: i64,
    /// The record before it in the chain; absent for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousRecord>,
    pub action: RecordAction,
    /// Why, as the history entry's CamelCase reason.
    pub reason: String,
    /// When (the operator's clock; the history entry's time).
    pub at: Time,
    /// The version put in place (for an Incident: the version it was about).
    pub version: String,
    /// Its candidate fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Its artifact fingerprint (model and images, no configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_fingerprint: Option<String>,
    /// Its serving image, as the spec wrote it.
    pub image: String,
    /// Who introduced the candidate (the webhook's sealed record of the writer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced_by: Option<String>,
    /// The HandoffPolicies that applied, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Each checklist item and who signed it off (empty for a rollback).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<RecordedItem>,
    /// The canary that preceded it, with its measurements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryRecord>,
    /// For a promotion through an upstream: what it showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamEvidence>,
    /// The version that served before it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// For `IncidentResolved`: the Incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// For `IncidentResolved`: the checklist item ids the root cause asks the next
    /// candidate to carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<String>,
    /// For `DrillRun`: the RollbackDrill and its run's report as it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<RecordedDrill>,
}

/// A rollback drill's finished run, as a record states it (`DrillRun`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct RecordedDrill {
    /// The RollbackDrill's name.
    pub name: String,
    /// Its uid: a re-created namesake is another drill.
    pub uid: String,
    /// The run: its target, every step with its result and message, the time to
    /// Ready, and the result. Tabletop reviews come after the run finishes; they are
    /// Attestations, not part of this record.
    pub run: super::rollback_drill::DrillRun,
}

/// The ModelDeployment a record is about.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct RecordedModel {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// The previous record of a chain.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct PreviousRecord {
    /// Its object name.
    pub name: String,
    /// `sha256:` of its payload; absent when Accord could not read it when it wrote
    /// this record (then `audit verify` reports the link as unproven).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One checklist item of a record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordedItem {
    /// The item's id.
    pub id: String,
    /// The role that owns it: `data`, `platform` or `application`.
    pub owner: String,
    /// The Team holding that role.
    pub team: String,
    /// Whether it was required.
    pub required: bool,
    /// Who required it: `ModelDeployment` and/or `HandoffPolicy/<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
    /// Each sign-off that counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<Approver>,
}

/// How a sign-off counted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum ApprovalKind {
    /// An Attestation admitted in the cluster by Accord's webhook.
    InCluster,
    /// An Attestation carrying an SSH signature by a Team's key.
    Signed,
    /// A sign-off given upstream and carried (`spec.promotion.carry`).
    Carried,
    /// No person: a HandoffPolicy `autoApprove` rule.
    AutoApproved,
}

/// One sign-off of an item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approver {
    /// The user (absent for an auto-approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The Team the sign-off counted for.
    pub team: String,
    /// How it counted.
    pub how: ApprovalKind,
    /// The Attestation's name (in the upstream's namespace when carried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// Its uid, when Accord could read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// When it was given (the Attestation's creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_at: Option<Time>,
    /// For `Signed`: the fingerprint of the Team key that verified it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
    /// For `Carried`: where it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_from: Option<CarriedFrom>,
    /// For `AutoApproved`: `HandoffPolicy/<name> rule <rule>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The evidence link the sign-off gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Its comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
