//! Every CamelCase `reason` Accord writes: on conditions, in history entries, on
//! Events and on the `Counted` condition of Attestations. They are part of the API
//! (docs/troubleshooting.md explains each), so code and tests name them from here.

/// Reasons on ModelDeployment and Team conditions.
pub mod condition {
    /// `HandoffComplete=True`: every required item is attested for the candidate.
    pub const ALL_ITEMS_ATTESTED: &str = "AllItemsAttested";
    /// `HandoffComplete=False`: some required items are not attested yet.
    pub const ATTESTATIONS_PENDING: &str = "AttestationsPending";
    /// `Ready=False`: the candidate waits for sign-off.
    pub const AWAITING_ATTESTATIONS: &str = "AwaitingAttestations";
    /// `Ready=True`: the candidate runs and is available.
    pub const AVAILABLE: &str = "Available";
    /// `Ready=False`: a promoted version is rolling out.
    pub const ROLLOUT_IN_PROGRESS: &str = "RolloutInProgress";
    /// `Ready=False`: the running version has pods that are not Ready (and, on
    /// history entries and `RolledBack`, it failed because that lasted too long).
    pub const NOT_READY: &str = "NotReady";
    /// `Ready=False`: the candidate runs as a canary beside the active version.
    pub const CANARY_IN_PROGRESS: &str = "CanaryInProgress";
    /// `Ready=False`: an earlier version is being restored.
    pub const ROLLING_BACK: &str = "RollingBack";
    /// `Ready=False`: the candidate failed and an earlier version runs instead.
    pub const CANDIDATE_ROLLED_BACK: &str = "CandidateRolledBack";
    /// `Ready=False` (and a history reason): a promoted version missed its deadline.
    pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
    /// `Ready=False`: an owner Team does not exist.
    pub const UNKNOWN_TEAM: &str = "UnknownTeam";
    /// `Ready=False`: the name of a managed object is taken by one Accord does not control.
    pub const NAME_CONFLICT: &str = "NameConflict";
    /// `RolledBack` and `Escalated` while the spec cannot be acted on.
    pub const INVALID: &str = "Invalid";
    /// `RolledBack=False`.
    pub const NOT_ROLLED_BACK: &str = "NotRolledBack";
    /// `Escalated=True`: sign-off waited longer than `escalateAfter`.
    pub const SIGN_OFF_OVERDUE: &str = "SignOffOverdue";
    /// `Escalated=False`: sign-off is still within `escalateAfter`.
    pub const WITHIN_DEADLINE: &str = "WithinDeadline";
    /// `Escalated=False`: no `escalateAfter` is set.
    pub const NO_DEADLINE: &str = "NoDeadline";
    /// `Escalated=False`: nothing waits for sign-off.
    pub const NOT_WAITING: &str = "NotWaiting";
    /// `Reconciling=False`.
    pub const RECONCILED: &str = "Reconciled";
    /// `Stalled=False`.
    pub const NOT_STALLED: &str = "NotStalled";
    /// Team `Ready=True`: its counts are current.
    pub const COUNTED: &str = "Counted";
    /// `Ready=False`: `spec.promotion.from` names a ModelDeployment that does not exist.
    pub const UPSTREAM_NOT_FOUND: &str = "UpstreamNotFound";
    /// `Ready=False`: the upstream does not list this namespace in its
    /// `spec.promotion.downstream`.
    pub const UPSTREAM_NOT_SHARED: &str = "UpstreamNotShared";
    /// `Ready=False`: the candidate's artifact is not the upstream's active version
    /// (it never ran there, or no longer does).
    pub const NOT_SERVED_UPSTREAM: &str = "NotServedUpstream";
    /// `Ready=False`: the artifact serves upstream but not yet for the soak.
    pub const SOAKING: &str = "Soaking";
    /// `Ready=False`: the artifact failed upstream (rolled back, failed canary).
    pub const FAILED_UPSTREAM: &str = "FailedUpstream";
    /// `Ready=False`: a HandoffPolicy requires an upstream and the spec names none.
    pub const UPSTREAM_REQUIRED: &str = "UpstreamRequired";
    /// `Ready=False`: an Incident of this model is open; no new candidate is promoted
    /// until its root cause is signed off (a rollback is always allowed).
    pub const INCIDENT_OPEN: &str = "IncidentOpen";
    /// `Ready=False`: a resolved Incident's root-cause analysis named follow-up items
    /// that the candidate's checklist does not carry.
    pub const FOLLOW_UP_MISSING: &str = "FollowUpMissing";
    /// `Ready=False`: a HandoffPolicy requires a rollback drill that passed and was
    /// acknowledged within `drills.maxAge`, and there is none.
    pub const DRILL_OVERDUE: &str = "DrillOverdue";
    /// RollbackDrill `Ready=True`: it can run.
    pub const DRILL_READY: &str = "DrillReady";
    /// RollbackDrill `Ready=False`: its ModelDeployment does not exist.
    pub const MODEL_DEPLOYMENT_NOT_FOUND: &str = "ModelDeploymentNotFound";
    /// RollbackDrill `Ready=False`: its schedule or time zone cannot be read.
    pub const INVALID_SCHEDULE: &str = "InvalidSchedule";
    /// HandoffPolicy `Ready=True`: it applies to what it selects.
    pub const IN_FORCE: &str = "InForce";
    /// HandoffPolicy `Ready=False`: a selector cannot be read, so it selects everything.
    pub const INVALID_SELECTOR: &str = "InvalidSelector";
}

/// Reasons of history entries (why a version was put in place).
pub mod history {
    /// Promoted after every required item was attested.
    pub const ALL_ITEMS_ATTESTED: &str = super::condition::ALL_ITEMS_ATTESTED;
    /// Promoted with some items satisfied by a HandoffPolicy `autoApprove` rule
    /// (a patch release trained on the same data) and the rest attested.
    pub const AUTO_APPROVED: &str = "AutoApproved";
    /// Restored because an owner asked for it.
    pub const ROLLBACK_REQUESTED: &str = "RollbackRequested";
    /// The active version was kept because the canary's analysis failed.
    pub const ANALYSIS_FAILED: &str = "AnalysisFailed";
    /// The active version was kept because no analysis measurement passed during the
    /// canary's bake.
    pub const NO_MEASUREMENT: &str = "NoMeasurement";
    /// Restored because the promoted version missed its progress deadline.
    pub const PROGRESS_DEADLINE_EXCEEDED: &str = super::condition::PROGRESS_DEADLINE_EXCEEDED;
    /// Restored because the promoted version, once available, had pods not Ready for
    /// longer than its progress deadline.
    pub const NOT_READY: &str = super::condition::NOT_READY;
    /// Restored because a guard with `action: RollBack` breached for its `for`.
    pub const GUARD_BREACHED: &str = "GuardBreached";
    /// Restored because a person with rollback rights opened an Incident asking for it.
    pub const INCIDENT_OPENED: &str = "IncidentOpened";
}

/// Reasons of the Kubernetes Events Accord records, one per meaningful transition.
pub mod event {
    /// A candidate waits for sign-off (once per candidate).
    pub const PROMOTION_BLOCKED: &str = "PromotionBlocked";
    /// A candidate was promoted.
    pub const PROMOTED: &str = "Promoted";
    /// A signed-off candidate started running as a canary.
    pub const CANARY_STARTED: &str = "CanaryStarted";
    /// A canary ended without promotion (analysis failed, never available, aborted).
    pub const CANARY_FAILED: &str = "CanaryFailed";
    /// An earlier version was restored.
    pub const ROLLED_BACK: &str = "RolledBack";
    /// A rollback was asked for but nothing earlier can be restored.
    pub const ROLLBACK_UNAVAILABLE: &str = "RollbackUnavailable";
    /// Operational serving fields were applied to the running version.
    pub const SERVING_UPDATED: &str = "ServingUpdated";
    /// A promoted version failed and waits for a manual decision.
    pub const DEGRADED: &str = "Degraded";
    /// Sign-off became overdue.
    pub const ESCALATED: &str = "Escalated";
    /// An owner Team does not exist.
    pub const UNKNOWN_TEAM: &str = super::condition::UNKNOWN_TEAM;
    /// A managed object's name is taken by an object Accord does not control.
    pub const NAME_CONFLICT: &str = super::condition::NAME_CONFLICT;
    /// Someone changed a managed object; Accord restored it.
    pub const DRIFT_REVERTED: &str = "DriftReverted";
    /// Status history entries that Accord did not write were discarded.
    pub const HISTORY_DISCARDED: &str = "HistoryDiscarded";
    /// An Attestation that counted for the candidate was deleted.
    pub const ATTESTATION_WITHDRAWN: &str = "AttestationWithdrawn";
    /// A ModelDeployment this operator cannot read.
    pub const INVALID_OBJECT: &str = "InvalidObject";
    /// An Attestation for the candidate does not count.
    pub const ATTESTATION_REJECTED: &str = "AttestationRejected";
    /// A guard breached for its `for`: an Incident was opened.
    pub const INCIDENT_OPENED: &str = "IncidentOpened";
    /// Nobody acknowledged an Incident in time: the Accountable Team was told.
    pub const INCIDENT_ESCALATED: &str = "IncidentEscalated";
    /// An Incident was acknowledged.
    pub const INCIDENT_ACKNOWLEDGED: &str = "IncidentAcknowledged";
    /// The version restored for an Incident is available.
    pub const INCIDENT_MITIGATED: &str = "IncidentMitigated";
    /// An Incident's root-cause analysis was signed off.
    pub const INCIDENT_RESOLVED: &str = "IncidentResolved";
    /// A guard's reading could not be taken (Prometheus unreachable, no data).
    pub const GUARD_UNREADABLE: &str = "GuardUnreadable";
    /// A rollback drill run started.
    pub const DRILL_STARTED: &str = "DrillStarted";
    /// A rollback drill run passed every step.
    pub const DRILL_PASSED: &str = "DrillPassed";
    /// A rollback drill run failed a step.
    pub const DRILL_FAILED: &str = "DrillFailed";
    /// Every role of a drill's tabletop acknowledged a run.
    pub const DRILL_ACKNOWLEDGED: &str = "DrillAcknowledged";
    /// A run's tabletop review is overdue; the Teams that owe it were told.
    pub const DRILL_REVIEW_OVERDUE: &str = "DrillReviewOverdue";
    /// Objects of a drill run that no run in progress accounts for were deleted.
    pub const DRILL_LEFTOVERS_REMOVED: &str = "DrillLeftoversRemoved";
}

/// Reasons of an Attestation's `Counted` condition.
pub mod counted {
    /// It counts for its item.
    pub const COUNTED: &str = "Counted";
    /// An earlier Attestation already counts for the same item.
    pub const SUPERSEDED: &str = "Superseded";
    /// It is being deleted.
    pub const WITHDRAWN: &str = "Withdrawn";
    /// It was not admitted by Accord's webhook, or was altered since.
    pub const INVALID_SEAL: &str = "InvalidSeal";
    /// It names another artifact digest than the candidate's.
    pub const DIGEST_MISMATCH: &str = "DigestMismatch";
    /// It records no attester.
    pub const NO_ATTESTER: &str = "NoAttester";
    /// It was made for another Team than the one owning the item.
    pub const WRONG_TEAM: &str = "WrongTeam";
    /// The Team owning the item does not exist.
    pub const UNKNOWN_TEAM: &str = super::condition::UNKNOWN_TEAM;
    /// The attester is not (or no longer) a member of the owning Team.
    pub const NOT_A_MEMBER: &str = "NotAMember";
    /// It was admitted for an earlier ModelDeployment of the same name.
    pub const OTHER_OBJECT: &str = "OtherObject";
    /// It predates candidate fingerprints and the candidate changed since.
    pub const NO_CANDIDATE: &str = "NoCandidate";
    /// It was admitted before this candidate failed and was rolled back.
    pub const ADMITTED_BEFORE_FAILURE: &str = "AdmittedBeforeFailure";
    /// Its attester introduced the candidate (separation of duties).
    pub const SELF_ATTESTED: &str = "SelfAttested";
    /// Who introduced the candidate is not recorded, or the record does not verify.
    pub const CANDIDATE_AUTHOR_UNKNOWN: &str = "CandidateAuthorUnknown";
    /// Its signature does not verify against the owning Team's keys as they are now
    /// (revoked, expired, unknown key, changed statement, …).
    pub const BAD_SIGNATURE: &str = "SignatureNotVerified";
    /// It is older than a HandoffPolicy's `attestations.maxAge`.
    pub const EXPIRED: &str = "Expired";
    /// It signs off an item on canary evidence but was given before the canary was
    /// available.
    pub const BEFORE_CANARY: &str = "BeforeCanary";
    /// A HandoffPolicy requires signed sign-offs and it is not signed.
    pub const SIGNATURE_REQUIRED: &str = "SignatureRequired";
    /// The same person already counts for this item (distinct people are counted).
    pub const SAME_PERSON: &str = "SamePerson";
    /// A sign-off carried from the upstream does not count here (its attester is not a
    /// member of this ModelDeployment's owning Team, it was withdrawn, …).
    pub const NOT_CARRIED: &str = "NotCarried";
}
