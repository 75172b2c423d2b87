//! Label and annotation keys Accord writes or reads. They are the public contract that
//! `kubectl get -l` queries and GitOps tooling rely on, so they live in one place.

/// The prefix of every label and annotation key Accord owns.
pub const ACCORD_PREFIX: &str = "accord.dev/";

/// Team accountable for data quality, lineage, access and privacy.
pub const DATA_OWNER: &str = "accord.dev/data-owner";
/// Team accountable for infrastructure, serving, observability and rollback mechanics.
pub const PLATFORM_OWNER: &str = "accord.dev/platform-owner";
/// Team accountable for how the model is used and the user-facing outcome.
pub const APPLICATION_OWNER: &str = "accord.dev/application-owner";
/// The model's name (`spec.model.name`).
pub const MODEL: &str = "accord.dev/model";
/// The version a managed object currently runs (the active version).
pub const MODEL_VERSION: &str = "accord.dev/model-version";
/// Standard `app.kubernetes.io/managed-by` label; its value on managed objects is `accord`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`] on objects Accord manages.
pub const MANAGED_BY_VALUE: &str = "accord";
/// Selector label binding a managed Deployment to its pods; set to the ModelDeployment name.
/// It never changes for the life of the Deployment, so selectors stay immutable-safe.
pub const INSTANCE: &str = "accord.dev/instance";
/// On the canary Deployment and its pods: `canary`. The Service selects by
/// [`INSTANCE`] only, so it sends traffic to the canary's pods too.
pub const TRACK: &str = "accord.dev/track";
/// The value of [`TRACK`] on a canary.
pub const TRACK_CANARY: &str = "canary";
/// The suffix of the canary Deployment's name (`<ModelDeployment>-canary`).
pub const CANARY_SUFFIX: &str = "-canary";

/// Annotation on the managed Deployment: the users whose attestations promoted it.
pub const APPROVED_BY: &str = "accord.dev/approved-by";
/// Annotation on a ModelDeployment requesting a manual rollback; each distinct
/// RFC 3339 value acts once.
pub const ROLLBACK_REQUESTED_AT: &str = "accord.dev/rollback-requested-at";
/// Annotation on an Attestation: the attester's groups at admission time, comma-separated.
/// Written by the admission webhook (and covered by its seal), so the controller can
/// re-check group membership against the Team as it is now.
pub const ATTESTER_GROUPS: &str = "accord.dev/attester-groups";
/// Annotation on managed objects: hash of the desired state Accord last applied, so an
/// unchanged object is never written again.
pub const SERVING_HASH: &str = "accord.dev/serving-hash";
/// Annotation on an Attestation holding the webhook's seal: `v1:<key id>:<hex HMAC>`.
pub const SEAL: &str = "accord.dev/seal";
/// Annotation on a ModelDeployment naming the user who last changed its spec. Written
/// only by the webhook; a client cannot set or change it.
pub const SPEC_AUTHOR: &str = "accord.dev/spec-author";
/// Kubernetes' own annotation holding the last `kubectl apply` input: large, and never
/// read by Accord, so it is dropped before objects enter the watch caches.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Annotations on the webhook's certificate Secret: when the serving certificate was
/// issued and expires (Unix seconds), and the hosts it covers.
pub const SERVING_CERT_ISSUED_AT: &str = "accord.dev/serving-issued-at";
pub const SERVING_CERT_NOT_AFTER: &str = "accord.dev/serving-not-after";
pub const SERVING_CERT_HOSTS: &str = "accord.dev/serving-hosts";
/// Annotation on an Attestation: the UID of the ModelDeployment it was admitted for
/// (covered by its seal), so a ModelDeployment deleted and re-created under the same
/// name never counts the old object's attestations.
pub const MODEL_DEPLOYMENT_UID: &str = "accord.dev/model-deployment-uid";
/// Annotation on a ModelDeployment: the user whose change introduced its current
/// candidate. Written only by the webhook; they may not attest that candidate.
pub const CANDIDATE_AUTHOR: &str = "accord.dev/candidate-author";
/// Annotation on a ModelDeployment: the webhook's seal over (namespace, name, candidate
/// fingerprint, candidate author).
pub const CANDIDATE_AUTHOR_SEAL: &str = "accord.dev/candidate-author-seal";

/// Annotation on an Incident: who acknowledged it. `kubectl accord incident ack` sets
/// it; Accord's webhook writes the authenticated user into it, whatever was sent.
pub const ACKNOWLEDGED_BY: &str = "accord.dev/acknowledged-by";

/// On what a RollbackDrill creates (its Deployment, pods and Service): the drill's name.
/// Drill pods carry only Accord's drill labels, so no production Service selects them.
pub const DRILL: &str = "accord.dev/drill";
/// On what a drill run creates: the run's id; the drill Service selects on it.
pub const DRILL_RUN: &str = "accord.dev/drill-run";
/// Annotation on a RollbackDrill asking for a run now (`kubectl accord drill run`);
/// each distinct value runs once.
pub const RUN_REQUESTED_AT: &str = "accord.dev/run-requested-at";
/// Annotation on a RollbackDrill: who asked for the run; written by the webhook from
/// the authenticated user, whatever was sent.
pub const RUN_REQUESTED_BY: &str = "accord.dev/run-requested-by";
