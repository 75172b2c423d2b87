//! The promotion and rollback decision (pure). Given a ModelDeployment with its last
//! status, the gate's verdict and what the managed Deployment reports, it computes the
//! next status, what should run, the Events to record and when to look again.

use std::{collections::BTreeMap, time::Duration};

use crate::events::EventType;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{
    candidate::Candidate,
    desired,
    events::PlannedEvent,
    gate::GateOutcome,
    observe::DeploymentObservation,
    status::{self, push_history, set_condition},
};
use crate::{
    api::{
        CanaryRecord, CandidateTracking, FailedCandidate, HistoryEntry, HistoryOutcome,
        Measurement, ModelDeployment, ModelDeploymentSpec, ModelDeploymentStatus, Phase, Role,
        RollbackMode,
        conditions::{ESCALATED, HANDOFF_COMPLETE, READY, RECONCILING, ROLLED_BACK, STALLED},
        labels,
        reasons::{condition as reason, event, history},
    },
    timing::{self, elapsed, parse_duration, seconds},
};

use super::trust::Author;

/// How many failed candidates are remembered; the oldest are forgotten first.
pub const MAX_FAILED: usize = 10;

/// Everything the decision needs, read from the world beforehand.
pub struct PlanInput<'a> {
    pub md: &'a ModelDeployment,
    /// What the spec names as the candidate.
    pub candidate: &'a Candidate,
    pub gate: &'a GateOutcome,
    /// Owner roles whose Team does not exist, with the Team name.
    pub missing_teams: Vec<(Role, String)>,
    /// Objects Accord must manage whose names are taken by objects it does not control,
    /// e.g. "Deployment payments/fraud-scorer".
    pub name_conflicts: Vec<String>,
    /// Team name → its contacts, for escalation messages.
    pub contacts: BTreeMap<String, Vec<String>>,
    /// The live Deployment, if any.
    pub deployment: Option<DeploymentObservation>,
    /// The live canary Deployment, if any.
    pub canary: Option<DeploymentObservation>,
    /// A measurement of the canary's analysis taken for this decision, if one was due.
    pub measurement: Option<Measurement>,
    pub now: Time,
}

/// Things that happened, for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    pub promoted: bool,
    pub rolled_back: bool,
    pub escalated: bool,
    /// Time from first seeing the candidate to its promotion.
    pub sign_off_wait: Option<Duration>,
}

/// The decision.
#[derive(Debug, Clone)]
pub struct Plan {
    pub status: ModelDeploymentStatus,
    /// The history entry the managed Deployment must run; `None` leaves it untouched.
    pub serve: Option<HistoryEntry>,
    /// The candidate the canary Deployment must run; `None`: there is none.
    pub canary: Option<CanaryRun>,
    pub events: Vec<PlannedEvent>,
    pub requeue_after: Duration,
    pub signals: Signals,
}

fn describe(entry: &HistoryEntry) -> String {
    format!("{} ({})", entry.version, entry.image)
}

/// Decides what happens next. Pure: the same input always gives the same plan.
///
/// The steps run in a fixed order, each deciding one thing; later steps read what
/// earlier ones wrote into the status.
pub fn plan(input: &PlanInput) -> Plan {
    let mut decision = Decision::new(input);
    decision.track_candidate();
    if !input.missing_teams.is_empty() || !input.name_conflicts.is_empty() {
        decision.report_invalid();
        return decision.finish(None);
    }
    decision.act_on_rollback_request();
    let health = decision.check_active_health();
    let awaiting = decision.decide_candidate(&health);
    decision.escalate(awaiting);
    decision.report_rollback();
    if health.in_progress {
        decision.requeue_within(timing::ROLLOUT_POLL);
    }
    let serve = decision.status.history.last().cloned();
    decision.finish(serve)
}

/// How the version that runs is doing, whatever the candidate.
#[derive(Debug, Default)]
struct ActiveHealth {
    /// It failed and nothing was (or could be) restored: the reason and why, for the
    /// Ready condition.
    degraded: Option<(&'static str, String)>,
    /// It is still rolling out within its deadline.
    in_progress: bool,
    /// It was available and has fewer Ready pods than it wants, within its deadline.
    unready: Option<String>,
}

/// The decision being built: the next status, Events and signals.
struct Decision<'a> {
    input: &'a PlanInput<'a>,
    old: ModelDeploymentStatus,
    status: ModelDeploymentStatus,
    events: Vec<PlannedEvent>,
    requeue_after: Duration,
    signals: Signals,
    canary: Option<CanaryRun>,
}

impl<'a> Decision<'a> {
    fn new(input: &'a PlanInput<'a>) -> Self {
        let old = input.md.status.clone().unwrap_or_default();
        Self {
            input,
            status: old.clone(),
            old,
            events: vec![],
            requeue_after: timing::IDLE_REQUEUE,
            signals: Signals::default(),
            canary: None,
        }
    }

    fn spec(&self) -> &'a ModelDeploymentSpec {
        &self.input.md.spec
    }

    fn version(&self) -> &'a str {
        &self.input.md.spec.model.version
    }

    fn now(&self) -> Time {
        self.input.now.clone()
    }

    fn event(&mut self, type_: EventType, reason: &'static str, note: String) {
        self.events.push(PlannedEvent {
            type_,
            reason,
            note,
            related: None,
        });
    }

    fn requeue_within(&mut self, after: Duration) {
        self.requeue_after = self.requeue_after.min(after.max(timing::MIN_REQUEUE));
    }

    fn condition(&mut self, type_: &str, status: bool, reason: &str, message: impl Into<String>) {
        let generation = self.input.md.metadata.generation;
        set_condition(
            &mut self.status.conditions,
            type_,
            status,
            reason,
            message,
            generation,
            &self.input.now,
        );
    }

    fn fingerprint(&self) -> &'a str {
        &self.input.candidate.fingerprint
    }

    /// The candidate fingerprint of a history entry.
    fn fingerprint_of(&self, entry: &HistoryEntry) -> String {
        entry.fingerprint_in(self.spec())
    }

    /// Whether the candidate named by the spec failed and was rolled back.
    fn candidate_failed(&self) -> bool {
        self.status
            .failed_candidates
            .iter()
            .any(|f| f.fingerprint == self.fingerprint())
    }

    /// Whether sign-off is complete by the gate, which judged attestations against
    /// the failures known before this decision: a candidate rolled back in this very
    /// decision is not promoted again on the same sign-off.
    fn signed_off(&self) -> bool {
        self.input.gate.complete() && !self.failed_now()
    }

    /// Whether the candidate failed in this very decision.
    fn failed_now(&self) -> bool {
        self.status
            .failed_candidates
            .iter()
            .any(|f| f.fingerprint == self.fingerprint() && f.failed_at == self.input.now)
    }

    /// Step 1: the candidate's bookkeeping, the checklist and `HandoffComplete`.
    /// A new candidate identity starts a new sign-off wait; a failure is forgotten
    /// once the spec names a different candidate.
    fn track_candidate(&mut self) {
        let candidate = self.input.candidate;
        let gate = self.input.gate;
        self.status.observed_generation = self.input.md.metadata.generation;
        self.status.candidate_version = Some(self.version().to_string());
        let tracked = self.status.candidate.as_ref();
        let same = tracked.is_some_and(|t| t.fingerprint.as_deref() == Some(self.fingerprint()));
        let tracking = match self.status.candidate.take() {
            // Tracked before fingerprints existed, and still the same: adopted as is.
            Some(old) if same || candidate.legacy_attestations => CandidateTracking {
                fingerprint: Some(candidate.fingerprint.clone()),
                legacy_attestations: candidate.legacy_attestations,
                ..old
            },
            _ => CandidateTracking {
                fingerprint: Some(candidate.fingerprint.clone()),
                identity: self.spec().identity(),
                author: None,
                legacy_attestations: false,
                first_seen: self.now(),
                blocked_reported: false,
                escalated: false,
            },
        };
        let author = match &candidate.author {
            Author::Known(user) => Some(user.clone()),
            _ => None,
        };
        self.status.candidate = Some(CandidateTracking { author, ..tracking });
        self.migrate_failed_candidate();
        self.status.checklist = gate.items.clone();
        self.status.policies = gate.policies.clone();
        self.status.pending_items = gate.pending() as i32;
        let version = self.version();
        if gate.complete() {
            let message = format!("every required item is attested for {version}");
            self.condition(HANDOFF_COMPLETE, true, reason::ALL_ITEMS_ATTESTED, message);
        } else {
            let message = format!("{version} waits for sign-off: {}", gate.owed_message());
            self.condition(
                HANDOFF_COMPLETE,
                false,
                reason::ATTESTATIONS_PENDING,
                message,
            );
        }
    }

    /// A failure recorded by an Accord from before fingerprints becomes a failure of
    /// the candidate fingerprint (when it is the same candidate), then is dropped.
    fn migrate_failed_candidate(&mut self) {
        let Some(legacy) = self.status.failed_candidate.take() else {
            return;
        };
        if legacy == self.spec().identity()
            && let Some(failed_at) = self.input.candidate.failed_at.clone()
            && !self.candidate_failed()
        {
            self.status.failed_candidates.push(FailedCandidate {
                fingerprint: self.fingerprint().to_string(),
                version: legacy.version,
                failed_at,
            });
        }
    }

    /// Bad input (an owner Team is missing, a name is taken): say so and leave
    /// whatever runs untouched.
    fn report_invalid(&mut self) {
        let (reason, event_reason, message) = if self.input.missing_teams.is_empty() {
            let message = format!(
                "{} exists and is not controlled by this ModelDeployment: Accord never adopts or changes it; \
                 delete or rename it; the active version keeps serving",
                self.input.name_conflicts.join(" and ")
            );
            (reason::NAME_CONFLICT, event::NAME_CONFLICT, message)
        } else {
            let missing: Vec<String> = self
                .input
                .missing_teams
                .iter()
                .map(|(role, team)| format!("{team} (the {role} owner)"))
                .collect();
            let message = format!(
                "owner Team {} does not exist: create it or correct spec.owners; the active version keeps serving",
                missing.join(" and ")
            );
            (reason::UNKNOWN_TEAM, event::UNKNOWN_TEAM, message)
        };
        let was = status::condition(&self.old.conditions, READY).map(|c| c.reason.clone());
        self.status.phase = Some(Phase::Invalid);
        self.condition(READY, false, reason, message.clone());
        for type_ in [ROLLED_BACK, ESCALATED] {
            if status::condition(&self.status.conditions, type_).is_none() {
                self.condition(type_, false, reason::INVALID, "the spec cannot be acted on");
            }
        }
        if self.old.phase != Some(Phase::Invalid) || was.as_deref() != Some(reason) {
            self.event(EventType::Warning, event_reason, message);
        }
    }

    /// Step 2: a manual rollback request; each distinct annotation value acts once.
    fn act_on_rollback_request(&mut self) {
        let request = self
            .input
            .md
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::ROLLBACK_REQUESTED_AT))
            .cloned();
        let Some(request) = request else { return };
        if self.old.last_rollback_request.as_ref() == Some(&request) {
            return;
        }
        self.status.last_rollback_request = Some(request.clone());
        if self.abort_canary_on_request(&request) {
            return;
        }
        match self.roll_back(history::ROLLBACK_REQUESTED) {
            Some((failed, restored)) => {
                let note = format!(
                    "rolled back from {} to {} as requested ({} = {request})",
                    describe(&failed),
                    describe(&restored),
                    labels::ROLLBACK_REQUESTED_AT
                );
                self.event(EventType::Warning, event::ROLLED_BACK, note);
            }
            None => {
                let note = format!(
                    "rollback requested ({request}) but there is no earlier good version to restore"
                );
                self.event(EventType::Warning, event::ROLLBACK_UNAVAILABLE, note);
            }
        }
    }

    /// Step 3: the health of what runs. Applies operational changes to the running
    /// version, marks it available once rolled out, and acts on a missed deadline —
    /// before it was ever available, or after its pods stopped being Ready.
    fn check_active_health(&mut self) -> ActiveHealth {
        let Some(mut active) = self.status.history.last().cloned() else {
            return ActiveHealth::default();
        };
        self.apply_operational_change(&mut active);
        let live = self.live_deployment(&active);
        if live.is_some_and(|d| d.rollout_complete) {
            if active.available_at.is_none() {
                let now = self.now();
                self.status
                    .history
                    .last_mut()
                    .expect("non-empty")
                    .available_at = Some(now);
            }
            self.status.unready_since = None;
            return ActiveHealth::default();
        }
        if active.available_at.is_some() {
            return self.check_still_ready(&active, live);
        }
        self.status.unready_since = None;
        if active.outcome != HistoryOutcome::Promoted {
            return ActiveHealth {
                in_progress: true,
                ..Default::default()
            };
        }
        let deadline = seconds(self.spec().rollback.progress_deadline_seconds);
        let waited = elapsed(&active.at, &self.input.now);
        if waited < deadline {
            self.requeue_within(deadline - waited);
            return ActiveHealth {
                in_progress: true,
                ..Default::default()
            };
        }
        let why = format!(
            "version {} did not become available within {}s of its promotion",
            active.version,
            self.spec().rollback.progress_deadline_seconds
        );
        ActiveHealth {
            degraded: self.act_on_failure(why, history::PROGRESS_DEADLINE_EXCEEDED),
            ..Default::default()
        }
    }

    /// A version that was available runs with fewer Ready pods than it wants (crash
    /// loops, failing readiness probes): it fails once that lasts past the progress
    /// deadline. A Deployment Accord is about to rewrite is not judged yet.
    fn check_still_ready(
        &mut self,
        active: &HistoryEntry,
        live: Option<&'a DeploymentObservation>,
    ) -> ActiveHealth {
        let Some(observed) = live else {
            self.status.unready_since = None;
            return ActiveHealth {
                in_progress: true,
                ..Default::default()
            };
        };
        let since = self
            .status
            .unready_since
            .get_or_insert_with(|| self.input.now.clone())
            .clone();
        let deadline = seconds(self.spec().rollback.progress_deadline_seconds);
        let waited = elapsed(&since, &self.input.now);
        let why = format!(
            "version {} has {} of {} pods Ready since {}",
            active.version, observed.ready, observed.want, since.0
        );
        if waited < deadline {
            self.requeue_within(deadline - waited);
            return ActiveHealth {
                unready: Some(format!(
                    "{why}; it fails if that lasts {}s",
                    self.spec().rollback.progress_deadline_seconds
                )),
                ..Default::default()
            };
        }
        self.status.unready_since = None;
        let why = format!(
            "{why}, longer than its progress deadline of {}s",
            self.spec().rollback.progress_deadline_seconds
        );
        if active.outcome != HistoryOutcome::Promoted {
            // A restored version that fails too is left for people to decide.
            return ActiveHealth {
                degraded: Some((
                    history::NOT_READY,
                    format!(
                        "{why}; it was itself restored by a rollback, so Accord does not roll back further"
                    ),
                )),
                ..Default::default()
            };
        }
        ActiveHealth {
            degraded: self.act_on_failure(why, history::NOT_READY),
            ..Default::default()
        }
    }

    /// An operational change to the running version needs no new attestations: it is
    /// recorded in the active history entry, whose snapshot the Deployment runs.
    fn apply_operational_change(&mut self, active: &mut HistoryEntry) {
        let spec = self.spec();
        let names_active =
            self.fingerprint_of(active) == self.fingerprint() && !self.candidate_failed();
        if !names_active || active.serving.as_ref() == Some(&spec.serving) {
            return;
        }
        active.serving = Some(spec.serving.clone());
        *self.status.history.last_mut().expect("non-empty") = active.clone();
        let note = format!(
            "applied serving changes to the running version {} without new attestations",
            active.version
        );
        self.event(EventType::Normal, event::SERVING_UPDATED, note);
    }

    /// A promoted version failed (`why`): roll back by the plan, recording `reason`.
    /// Returns why it is degraded when nothing was restored.
    fn act_on_failure(
        &mut self,
        why: String,
        reason: &'static str,
    ) -> Option<(&'static str, String)> {
        if self.spec().rollback.mode == RollbackMode::Manual {
            return Some((
                reason,
                format!(
                    "{why}; rollback mode is Manual: set the annotation {} to roll back",
                    labels::ROLLBACK_REQUESTED_AT
                ),
            ));
        }
        match self.roll_back(reason) {
            Some((_, restored)) => {
                let note = format!(
                    "{why}; rolled back to {} (rollback mode Automatic)",
                    describe(&restored)
                );
                self.event(EventType::Warning, event::ROLLED_BACK, note);
                None
            }
            None => Some((
                reason,
                format!("{why}, and there is no earlier good version to restore"),
            )),
        }
    }

    /// Step 4: what the candidate's state is. Returns whether it waits for sign-off.
    fn decide_candidate(&mut self, health: &ActiveHealth) -> bool {
        let failed = self.candidate_failed();
        // Only a canary decided below keeps running.
        self.status.canary = None;
        match self.status.history.last().cloned() {
            Some(active) if !failed && self.fingerprint_of(&active) == self.fingerprint() => {
                self.report_active(&active, health);
                false
            }
            _ if self.canary_due() && !self.failed_now() => self.run_canary(),
            // Fresh sign-off (given after a failure) may promote a failed candidate again.
            // With a canary, promotion only ever follows a canary.
            _ if self.signed_off() && !super::canary::applies(self.input.md) => {
                self.promote(None);
                false
            }
            Some(active) if failed => {
                self.report_failed(&active, health);
                false
            }
            _ => {
                self.await_sign_off();
                true
            }
        }
    }

    /// The candidate is the version that runs: serving, rolling out, or degraded.
    fn report_active(&mut self, active: &HistoryEntry, health: &ActiveHealth) {
        if let Some((reason, message)) = &health.degraded {
            self.status.phase = Some(Phase::Degraded);
            self.condition(READY, false, reason, message.clone());
            if self.old.phase != Some(Phase::Degraded) {
                self.event(EventType::Warning, event::DEGRADED, message.clone());
            }
        } else if let Some(message) = &health.unready {
            self.status.phase = Some(Phase::Serving);
            self.condition(READY, false, reason::NOT_READY, message.clone());
        } else if active.available_at.is_some() {
            self.status.phase = Some(Phase::Serving);
            let replicas = active
                .serving
                .as_ref()
                .map_or(self.spec().serving.replicas, |s| s.replicas);
            let message = format!(
                "version {} is available ({replicas} replicas)",
                active.version
            );
            self.condition(READY, true, reason::AVAILABLE, message);
        } else if active.outcome == HistoryOutcome::RolledBack {
            self.status.phase = Some(Phase::RollingBack);
            let message = format!("restoring version {}", active.version);
            self.condition(READY, false, reason::ROLLING_BACK, message);
        } else {
            self.status.phase = Some(Phase::Promoting);
            let message = format!("version {} is rolling out", active.version);
            self.condition(READY, false, reason::ROLLOUT_IN_PROGRESS, message);
            if !health.in_progress {
                self.requeue_within(timing::ROLLOUT_POLL);
            }
        }
    }

    /// The candidate failed and an earlier version runs (or is being restored).
    fn report_failed(&mut self, active: &HistoryEntry, health: &ActiveHealth) {
        if health.degraded.is_some() {
            return self.report_active(active, health);
        }
        self.status.phase = Some(if active.available_at.is_some() {
            Phase::RolledBack
        } else {
            Phase::RollingBack
        });
        let message = format!(
            "version {} failed and {} runs instead; name a new candidate in the spec, or sign this one off again, to try again",
            self.version(),
            active.version
        );
        match &health.unready {
            Some(unready) => {
                let message = format!("{message}; but {unready}");
                self.condition(READY, false, reason::NOT_READY, message);
            }
            None => self.condition(READY, false, reason::CANDIDATE_ROLLED_BACK, message),
        }
    }

    /// Every required item is attested (and the canary, if any, passed): record the
    /// promotion, with what the canary showed; the Deployment follows.
    fn promote(&mut self, canary: Option<CanaryRecord>) {
        let candidate = self.spec().identity();
        let version = self.version();
        let fingerprint = self.fingerprint().to_string();
        self.status
            .failed_candidates
            .retain(|f| f.fingerprint != fingerprint);
        let entry = HistoryEntry {
            fingerprint: Some(fingerprint),
            seal: None,
            version: candidate.version.clone(),
            image: candidate.image.clone(),
            digest: candidate.digest.clone(),
            artifact: candidate.artifact.clone(),
            outcome: HistoryOutcome::Promoted,
            at: self.now(),
            reason: if self.input.gate.auto_approval.is_some() {
                history::AUTO_APPROVED.into()
            } else {
                history::ALL_ITEMS_ATTESTED.into()
            },
            approvals: self.input.gate.approvals.clone(),
            auto_approval: self.input.gate.auto_approval.clone(),
            canary,
            training_data_digest: self
                .spec()
                .model
                .training_data
                .as_ref()
                .map(|t| t.digest.clone()),
            serving: Some(self.spec().serving.clone()),
            available_at: None,
        };
        let mut approvers: Vec<String> = entry
            .approvals
            .iter()
            .map(|a| format!("{} ({})", a.attested_by, a.item))
            .collect();
        if let Some(auto) = &entry.auto_approval {
            approvers.extend(auto.items.iter().map(|i| {
                format!(
                    "{} rule {} ({}, patch release of {} trained on the same data)",
                    i.policy, i.rule, i.item, auto.baseline_version
                )
            }));
        }
        let previous = self
            .status
            .history
            .last()
            .map(|e| format!(", replacing {}", e.version))
            .unwrap_or_default();
        push_history(&mut self.status.history, entry);
        let note = format!(
            "promoted {version}{previous}; approved by {}",
            approvers.join(", ")
        );
        self.event(EventType::Normal, event::PROMOTED, note);
        self.signals.promoted = true;
        self.signals.sign_off_wait = self
            .status
            .candidate
            .as_ref()
            .map(|c| elapsed(&c.first_seen, &self.input.now));
        self.status.phase = Some(Phase::Promoting);
        let message = format!("version {version} is rolling out");
        self.condition(READY, false, reason::ROLLOUT_IN_PROGRESS, message);
        self.requeue_within(seconds(
            self.spec().rollback.progress_deadline_seconds.max(1),
        ));
    }

    /// Some required items are not attested: block, once per candidate.
    fn await_sign_off(&mut self) {
        let version = self.version();
        let owed = self.input.gate.owed_message();
        self.status.phase = Some(Phase::AwaitingAttestations);
        let serving = self
            .status
            .history
            .last()
            .map(|e| format!("; {} keeps serving", e.version))
            .unwrap_or_default();
        let message = format!("{version} is not promoted: {owed}{serving}");
        self.condition(READY, false, reason::AWAITING_ATTESTATIONS, message);
        let tracking = self.status.candidate.as_mut().expect("tracked in step 1");
        if !tracking.blocked_reported {
            tracking.blocked_reported = true;
            let note = format!("{version} is not promoted until signed off: {owed}");
            self.event(EventType::Normal, event::PROMOTION_BLOCKED, note);
        }
    }

    /// Step 5: escalation of overdue sign-off, once per candidate.
    fn escalate(&mut self, awaiting: bool) {
        let spec = self.spec();
        let configured = spec.handoff.escalate_after.as_deref().unwrap_or_default();
        let limit = spec
            .handoff
            .escalate_after
            .as_deref()
            .and_then(parse_duration);
        let Some(limit) = limit.filter(|_| awaiting) else {
            let (reason, message) = if awaiting {
                (reason::NO_DEADLINE, "spec.handoff.escalateAfter is not set")
            } else {
                (reason::NOT_WAITING, "no candidate is waiting for sign-off")
            };
            self.condition(ESCALATED, false, reason, message);
            return;
        };
        let tracking = self.status.candidate.clone().expect("tracked in step 1");
        let waited = elapsed(&tracking.first_seen, &self.input.now);
        if waited < limit {
            let message = format!("sign-off is due within {configured}");
            self.condition(ESCALATED, false, reason::WITHIN_DEADLINE, message);
            self.requeue_within(limit - waited);
            return;
        }
        let message = format!(
            "{} has waited {}s for sign-off, longer than escalateAfter {configured}; late: {}",
            self.version(),
            waited.as_secs(),
            self.late_teams()
        );
        self.condition(ESCALATED, true, reason::SIGN_OFF_OVERDUE, message.clone());
        if !tracking.escalated {
            self.status.candidate.as_mut().expect("tracked").escalated = true;
            self.event(EventType::Warning, event::ESCALATED, message);
            self.signals.escalated = true;
        }
    }

    /// "team (items, contact …); team (items)" for every team that still owes items.
    fn late_teams(&self) -> String {
        let late: Vec<String> = self
            .input
            .gate
            .owed
            .iter()
            .map(|(team, items)| {
                let contacts = self.input.contacts.get(team).filter(|c| !c.is_empty());
                let reach = contacts
                    .map(|c| format!(", contact {}", c.join(" ")))
                    .unwrap_or_default();
                format!("{team} ({}{reach})", items.join(", "))
            })
            .collect();
        late.join("; ")
    }

    /// Step 6: `RolledBack` says whether the candidate was rolled back.
    fn report_rollback(&mut self) {
        let last = self
            .status
            .history
            .last()
            .filter(|e| e.outcome == HistoryOutcome::RolledBack)
            .cloned();
        match last.filter(|_| self.candidate_failed()) {
            Some(last) => {
                let message = format!(
                    "version {} was rolled back to {} ({})",
                    self.version(),
                    last.version,
                    last.reason
                );
                self.condition(ROLLED_BACK, true, &last.reason, message);
            }
            None => self.condition(
                ROLLED_BACK,
                false,
                reason::NOT_ROLLED_BACK,
                "the candidate has not been rolled back",
            ),
        }
    }

    /// Last step: the active version, the kstatus conditions, and the plan.
    fn finish(mut self, serve: Option<HistoryEntry>) -> Plan {
        self.status.active_version = self.status.history.last().map(|e| e.version.clone());
        self.kstatus_conditions();
        Plan {
            serve,
            canary: self.canary,
            status: self.status,
            events: self.events,
            requeue_after: self.requeue_after,
            signals: self.signals,
        }
    }

    /// The `Reconciling` and `Stalled` conditions kstatus (Flux) reads, from the phase.
    fn kstatus_conditions(&mut self) {
        let phase = self.status.phase.unwrap_or(Phase::AwaitingAttestations);
        let name = format!("{phase:?}");
        let ready_message = status::condition(&self.status.conditions, READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let (reconciling, stalled) = match phase {
            Phase::AwaitingAttestations | Phase::Canary | Phase::Promoting | Phase::RollingBack => {
                (true, false)
            }
            // Serving with pods not Ready is still progressing (kstatus: InProgress).
            Phase::Serving => (
                status::condition(&self.status.conditions, READY)
                    .is_some_and(|c| c.status == "False"),
                false,
            ),
            Phase::RolledBack | Phase::Degraded | Phase::Invalid => (false, true),
        };
        if reconciling {
            self.condition(RECONCILING, true, &name, ready_message.clone());
        } else {
            let message = "nothing left to do without a change";
            self.condition(RECONCILING, false, reason::RECONCILED, message);
        }
        if stalled {
            self.condition(STALLED, true, &name, ready_message);
        } else {
            self.condition(STALLED, false, reason::NOT_STALLED, "progressing or done");
        }
    }

    /// The live Deployment, when it is the one Accord wants for `entry` (rolled out or
    /// not).
    fn live_deployment(&self, entry: &HistoryEntry) -> Option<&'a DeploymentObservation> {
        let want = desired::desired_deployment(self.input.md, entry, &self.status.history);
        let want_hash = desired::recorded_hash(&want.metadata);
        self.input
            .deployment
            .as_ref()
            .filter(|d| d.hash.as_deref() == want_hash)
    }

    /// Appends a `RolledBack` entry restoring the latest known-good version before the
    /// active one, and remembers the candidate as failed when it was the one replaced.
    /// Returns (failed, restored), or `None` when there is nothing to restore.
    fn roll_back(&mut self, reason: &str) -> Option<(HistoryEntry, HistoryEntry)> {
        let history = &self.status.history;
        let (failed, earlier) = history.split_last()?;
        let failed_fingerprint = self.fingerprint_of(failed);
        let target = earlier
            .iter()
            .rev()
            .find(|e| e.available_at.is_some() && self.fingerprint_of(e) != failed_fingerprint)?;
        let restored = HistoryEntry {
            outcome: HistoryOutcome::RolledBack,
            at: self.now(),
            reason: reason.to_string(),
            approvals: vec![],
            available_at: None,
            ..target.clone()
        };
        let failed = failed.clone();
        let restored = HistoryEntry {
            seal: None,
            ..restored
        };
        push_history(&mut self.status.history, restored.clone());
        self.signals.rolled_back = true;
        // Sign-off given until now never promotes the rolled-back candidate again.
        self.status
            .failed_candidates
            .retain(|f| f.fingerprint != failed_fingerprint);
        self.status.failed_candidates.push(FailedCandidate {
            fingerprint: failed_fingerprint,
            version: failed.version.clone(),
            failed_at: self.now(),
        });
        let excess = self
            .status
            .failed_candidates
            .len()
            .saturating_sub(MAX_FAILED);
        self.status.failed_candidates.drain(..excess);
        Some((failed, restored))
    }
}

#[cfg(test)]
mod tests;

mod canary;
pub use canary::CanaryRun;

#[cfg(test)]
mod canary_tests;
