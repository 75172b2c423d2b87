//! `Attestation` (namespaced, short name `att`): one person's sign-off on one checklist
//! item of one ModelDeployment, bound to one exact version. Immutable once created;
//! deleting it withdraws the sign-off (before promotion).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::validation::{
    DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, ONE_LINE, ONE_WORD, SHA256_DIGEST, UTC_SECONDS,
};

/// A signed-off checklist item for one version of a ModelDeployment.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "Attestation",
    namespaced,
    status = "AttestationStatus",
    shortname = "att",
    category = "accord",
    derive = "PartialEq",
    doc = "One person's sign-off on one checklist item of a ModelDeployment, for one exact version.",
    printcolumn(
        name = "ModelDeployment",
        type_ = "string",
        json_path = ".spec.modelDeployment"
    ),
    printcolumn(name = "Item", type_ = "string", json_path = ".spec.item"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(
        name = "Candidate",
        type_ = "string",
        json_path = ".spec.candidate",
        priority = 1
    ),
    printcolumn(name = "AttestedBy", type_ = "string", json_path = ".spec.attestedBy"),
    printcolumn(
        name = "Signer",
        type_ = "string",
        json_path = ".spec.signature.signer"
    ),
    printcolumn(
        name = "Counts",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Counted\")].status",
        description = "Whether it counts for the candidate it names"
    ),
    printcolumn(
        name = "Why",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Counted\")].reason",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf")
    .message("spec is immutable: an Attestation cannot be changed; delete it and create a new one"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.signature) || has(self.candidate)")
    .message("spec.candidate is required on a signed Attestation: the signature binds the exact candidate"))]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.signature) || !has(self.attestedBy) || self.attestedBy == self.signature.signer"
).message("spec.attestedBy of a signed Attestation must equal spec.signature.signer (or be left out)"))]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.incident) == (self.item == 'root-cause-analysis')"
).message("spec.incident and item root-cause-analysis go together: a root-cause analysis names the Incident it resolves (spec.incident), and an Attestation naming an Incident is its root-cause-analysis").field_path(".incident"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.incident) || has(self.evidence)")
    .message("spec.evidence is required on a root-cause analysis: link the write-up").field_path(".evidence"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.followUps) || size(self.followUps) == 0 || has(self.incident)")
    .message("spec.followUps belong to a root-cause analysis (spec.incident)").field_path(".followUps"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.incident) || !has(self.candidate)")
    .message("spec.candidate is about a checklist item of a candidate; a root-cause analysis is about an Incident (spec.incident)").field_path(".candidate"))]
#[x_kube(validation = kube::core::Rule::new(
    "has(self.drill) == (self.item == 'drill-review')"
).message("spec.drill and item drill-review go together: a drill review names the run it acknowledges (spec.drill: DRILL/RUN), and an Attestation naming a run is its drill-review").field_path(".drill"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.drill) || (!has(self.incident) && !has(self.candidate))")
    .message("spec.drill is exclusive with spec.incident and spec.candidate: an Attestation is about one checklist item, one Incident or one drill run").field_path(".drill"))]
#[serde(rename_all = "camelCase")]
pub struct AttestationSpec {
    /// Name of the ModelDeployment, in the same namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub model_deployment: String,
    /// Id of the checklist item attested.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub item: String,
    /// The exact model version attested.
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE))]
    pub version: String,
    /// The artifact digest attested; required when the ModelDeployment sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SHA256_DIGEST))]
    pub digest: Option<String>,
    /// The candidate fingerprint attested (`sha256:…`, shown by `kubectl accord status`):
    /// exactly what will run. The webhook fills it in when absent and refuses any other
    /// value than the ModelDeployment's current candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SHA256_DIGEST))]
    pub candidate: Option<String>,
    /// Link to the evidence, e.g. a CI run. One line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = ONE_LINE))]
    pub evidence: Option<String>,
    /// Free-text note. Not covered by a signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub comment: Option<String>,
    /// The authenticated user who created this Attestation. Written by Accord's
    /// admission webhook from the API request; whatever a client sends is replaced.
    /// On a signed Attestation it is left as written and must be the signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attested_by: Option<String>,
    /// The Team, owning the item's role, that the attester belongs to. Written by the
    /// webhook; on a signed Attestation left as written and checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// A person's SSH signature over this sign-off, so that it proves its signer
    /// whoever applies it (a GitOps controller). Made with `kubectl accord attest --sign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<AttestationSignature>,
    /// The Incident this root-cause analysis resolves (item `root-cause-analysis`,
    /// `version` the Incident's). Signed off by a member of its Accountable Team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub incident: Option<String>,
    /// The drill run this review acknowledges, `DRILL/RUN` (item `drill-review`,
    /// `version` the run's target). Given by a member of a role in the drill's
    /// `tabletop.acknowledge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 300), regex(pattern = crate::validation::RUN_REF))]
    pub drill: Option<String>,
    /// Checklist item ids the model's next candidate must carry: how an incident feeds
    /// back into the handoff.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL)))]
    pub follow_ups: Vec<String>,
}

/// An SSHSIG over the Attestation's statement (see `kubectl accord attest --print-statement`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AttestationSignature {
    /// The Kubernetes user name of the signer; the key must be theirs in the owning
    /// Team's `spec.signingKeys`.
    #[schemars(length(min = 1, max = 253), regex(pattern = ONE_WORD))]
    pub signer: String,
    /// When it was signed, UTC to the second (`2026-11-28T10:00:00Z`), as in the statement.
    #[schemars(regex(pattern = UTC_SECONDS))]
    pub signed_at: String,
    /// The armored signature from `ssh-keygen -Y sign -n attestation@accord.dev`.
    #[schemars(length(min = 1, max = 8192))]
    #[x_kube(validation = kube::core::Rule::new("self.trim().startsWith('-----BEGIN SSH SIGNATURE-----')")
        .message("spec.signature.sshsig must be an armored SSH signature starting with -----BEGIN SSH SIGNATURE-----"))]
    pub sshsig: String,
}

/// The signer a controller verified, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedSigner {
    /// The signer, a member of `team`.
    pub user: String,
    /// The Team whose signing key verified the signature.
    pub team: String,
    /// The fingerprint of that key (`SHA256:…`).
    pub key_fingerprint: String,
}

/// Observed state of an Attestation, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestationStatus {
    /// Standard conditions, keyed by `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// For a signed Attestation whose signature the operator verified: who signed,
    /// for which Team, with which key. Absent when the signature does not verify now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<VerifiedSigner>,
}

impl Attestation {
    /// Whether this Attestation is about `version` of the ModelDeployment `name` in
    /// `namespace` (its own namespace must match: attestations never cross namespaces).
    pub fn is_for(&self, namespace: Option<&str>, name: &str, version: &str) -> bool {
        self.metadata.namespace.as_deref() == namespace
            && self.spec.model_deployment == name
            && self.spec.version == version
    }

    /// Who signed off: the signer of a signed Attestation, else `spec.attestedBy`.
    pub fn attester(&self) -> Option<&str> {
        match &self.spec.signature {
            Some(signature) => Some(signature.signer.as_str()),
            None => self.spec.attested_by.as_deref(),
        }
        .filter(|user| !user.is_empty())
    }

    /// Whether it carries a signature.
    pub fn is_signed(&self) -> bool {
        self.spec.signature.is_some()
    }

    /// Whether it is a root-cause analysis of an Incident rather than a checklist item
    /// of a candidate.
    pub fn is_root_cause(&self) -> bool {
        self.spec.incident.is_some()
    }

    /// Whether it is a tabletop review of a drill run.
    pub fn is_drill_review(&self) -> bool {
        self.spec.drill.is_some()
    }

    /// Whether it is about a candidate's checklist item (neither an Incident's root
    /// cause nor a drill review).
    pub fn is_sign_off(&self) -> bool {
        !self.is_root_cause() && !self.is_drill_review()
    }

    /// Whether it is being deleted (a withdrawal in progress).
    pub fn is_withdrawn(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }
}
