//! The promotion and rollback decision (pure). Given a ModelDeployment with its last
//! status, the gate's verdict and what the managed Deployment reports, it computes the
//! next status, what should run, the Events to record and when to look again.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::EventType;

use super::{
    desired,
    gate::GateOutcome,
    status::{push_history, set_condition},
};
use crate::api::{
    CandidateTracking, HistoryEntry, HistoryOutcome, ModelDeployment, ModelDeploymentStatus, Phase,
    Role, RollbackMode, conditions, labels,
};

/// How long a healthy, idle ModelDeployment waits before it is looked at again.
pub const IDLE_REQUEUE: Duration = Duration::from_secs(300);

/// What the managed Deployment reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentObservation {
    /// The [`labels::SERVING_HASH`] annotation of the live Deployment.
    pub hash: Option<String>,
    /// The Deployment controller has observed the latest spec and every replica is
    /// updated and available (what `kubectl rollout status` waits for).
    pub rollout_complete: bool,
}

/// Everything the decision needs, read from the world beforehand.
pub struct PlanInput<'a> {
    pub md: &'a ModelDeployment,
    pub gate: &'a GateOutcome,
    /// Owner roles whose Team does not exist, with the Team name.
    pub missing_teams: Vec<(Role, String)>,
    /// Team name → its contacts, for escalation messages.
    pub contacts: BTreeMap<String, Vec<String>>,
    /// The live Deployment, if any.
    pub deployment: Option<DeploymentObservation>,
    pub now: Time,
}

/// An Event to record on the ModelDeployment.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub type_: EventType,
    pub reason: &'static str,
    pub note: String,
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
    pub events: Vec<PlannedEvent>,
    pub requeue_after: Duration,
    pub signals: Signals,
}

/// Parses `30s`, `15m`, `24h`, `1h30m`, `500ms` (the CRD pattern guarantees the shape).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else {
            match rest.chars().next()? {
                's' => (Duration::from_secs(1), 1),
                'm' => (Duration::from_secs(60), 1),
                'h' => (Duration::from_secs(3600), 1),
                _ => return None,
            }
        };
        total += unit.checked_mul(u32::try_from(value).ok()?)?;
        rest = &rest[len..];
    }
    Some(total)
}

fn elapsed(since: &Time, now: &Time) -> Duration {
    let secs = now.0.as_second() - since.0.as_second();
    Duration::from_secs(secs.max(0) as u64)
}

fn describe(entry: &HistoryEntry) -> String {
    format!("{} ({})", entry.version, entry.image)
}

struct Decision<'a> {
    input: &'a PlanInput<'a>,
    status: ModelDeploymentStatus,
    events: Vec<PlannedEvent>,
    requeue_after: Duration,
    signals: Signals,
}

impl Decision<'_> {
    fn event(&mut self, type_: EventType, reason: &'static str, note: String) {
        self.events.push(PlannedEvent {
            type_,
            reason,
            note,
        });
    }

    fn requeue_within(&mut self, after: Duration) {
        self.requeue_after = self.requeue_after.min(after.max(Duration::from_secs(1)));
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

    /// The `Reconciling` and `Stalled` conditions kstatus (Flux) reads, from the phase.
    fn kstatus_conditions(&mut self) {
        let phase = self.status.phase.unwrap_or(Phase::AwaitingAttestations);
        let name = format!("{phase:?}");
        let ready_message = super::status::condition(&self.status.conditions, conditions::READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let (reconciling, stalled) = match phase {
            Phase::AwaitingAttestations | Phase::Promoting | Phase::RollingBack => (true, false),
            Phase::Serving => (false, false),
            Phase::RolledBack | Phase::Degraded | Phase::Invalid => (false, true),
        };
        if reconciling {
            self.condition(conditions::RECONCILING, true, &name, ready_message.clone());
        } else {
            self.condition(
                conditions::RECONCILING,
                false,
                "Reconciled",
                "nothing left to do without a change",
            );
        }
        if stalled {
            self.condition(conditions::STALLED, true, &name, ready_message);
        } else {
            self.condition(
                conditions::STALLED,
                false,
                "NotStalled",
                "progressing or done",
            );
        }
    }

    /// Whether the live Deployment has finished rolling out exactly `entry`.
    fn running(&self, entry: &HistoryEntry) -> bool {
        let want = desired::desired_deployment(self.input.md, entry, &self.status.history);
        let want_hash = desired::recorded_hash(&want.metadata).map(String::from);
        self.input
            .deployment
            .as_ref()
            .is_some_and(|d| d.rollout_complete && d.hash == want_hash)
    }

    /// Appends a `RolledBack` entry restoring the latest known-good version before the
    /// active one, and remembers the candidate as failed when it was the one replaced.
    /// Returns (failed, restored), or `None` when there is nothing to restore.
    fn roll_back(&mut self, reason: &str) -> Option<(HistoryEntry, HistoryEntry)> {
        let history = &self.status.history;
        let (failed, earlier) = history.split_last()?;
        let target = earlier
            .iter()
            .rev()
            .find(|e| e.available_at.is_some() && e.identity() != failed.identity())?;
        let restored = HistoryEntry {
            outcome: HistoryOutcome::RolledBack,
            at: self.input.now.clone(),
            reason: reason.to_string(),
            approvals: vec![],
            available_at: None,
            ..target.clone()
        };
        let failed = failed.clone();
        push_history(&mut self.status.history, restored.clone());
        self.signals.rolled_back = true;
        // A rolled-back candidate is not promoted again until the spec names another.
        let candidate = self.input.md.spec.identity();
        if failed.identity() == candidate {
            self.status.failed_candidate = Some(candidate);
        }
        Some((failed, restored))
    }
}

/// Decides what happens next. Pure: the same input always gives the same plan.
pub fn plan(input: &PlanInput) -> Plan {
    let md = input.md;
    let spec = &md.spec;
    let old = md.status.clone().unwrap_or_default();
    let mut d = Decision {
        input,
        status: old.clone(),
        events: vec![],
        requeue_after: IDLE_REQUEUE,
        signals: Signals::default(),
    };
    let now = input.now.clone();
    let candidate = spec.identity();
    d.status.observed_generation = md.metadata.generation;
    d.status.candidate_version = Some(spec.model.version.clone());
    if d.status.candidate.as_ref().map(|c| &c.identity) != Some(&candidate) {
        d.status.candidate = Some(CandidateTracking {
            identity: candidate.clone(),
            first_seen: now.clone(),
            blocked_reported: false,
            escalated: false,
        });
    }
    if d.status
        .failed_candidate
        .as_ref()
        .is_some_and(|f| *f != candidate)
    {
        d.status.failed_candidate = None;
    }
    d.status.checklist = input.gate.items.clone();
    d.status.pending_items = input.gate.pending() as i32;
    let version = &spec.model.version;
    if input.gate.complete() {
        d.condition(
            conditions::HANDOFF_COMPLETE,
            true,
            "AllItemsAttested",
            format!("every required item is attested for {version}"),
        );
    } else {
        let owed = input.gate.owed_message();
        d.condition(
            conditions::HANDOFF_COMPLETE,
            false,
            "AttestationsPending",
            format!("{version} waits for sign-off: {owed}"),
        );
    }

    // Bad input: say so and leave whatever runs untouched.
    if !input.missing_teams.is_empty() {
        let missing: Vec<String> = input
            .missing_teams
            .iter()
            .map(|(role, team)| format!("{team} (the {role} owner)"))
            .collect();
        let message = format!(
            "owner Team {} does not exist: create it or correct spec.owners; the active version keeps serving",
            missing.join(" and ")
        );
        d.status.phase = Some(Phase::Invalid);
        d.condition(conditions::READY, false, "UnknownTeam", message.clone());
        for type_ in [conditions::ROLLED_BACK, conditions::ESCALATED] {
            if super::status::condition(&d.status.conditions, type_).is_none() {
                d.condition(type_, false, "Invalid", "the spec cannot be acted on");
            }
        }
        if old.phase != Some(Phase::Invalid) {
            d.event(EventType::Warning, "UnknownTeam", message);
        }
        d.status.active_version = d.status.history.last().map(|e| e.version.clone());
        d.kstatus_conditions();
        return Plan {
            status: d.status,
            serve: None,
            events: d.events,
            requeue_after: IDLE_REQUEUE,
            signals: d.signals,
        };
    }

    // A manual rollback request: each distinct annotation value acts once.
    let request = md
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(labels::ROLLBACK_REQUESTED_AT))
        .cloned();
    if let Some(request) = request
        && old.last_rollback_request.as_ref() != Some(&request)
    {
        d.status.last_rollback_request = Some(request.clone());
        match d.roll_back("RollbackRequested") {
            Some((failed, restored)) => {
                d.event(
                    EventType::Warning,
                    "RolledBack",
                    format!(
                        "rolled back from {} to {} as requested ({} = {request})",
                        describe(&failed),
                        describe(&restored),
                        labels::ROLLBACK_REQUESTED_AT
                    ),
                );
            }
            None => d.event(
                EventType::Warning,
                "RollbackUnavailable",
                format!(
                    "rollback requested ({request}) but there is no earlier good version to restore"
                ),
            ),
        }
    }

    // The health of what runs, whatever the candidate.
    let mut degraded = None;
    let mut in_progress = false;
    if let Some(mut active) = d.status.history.last().cloned() {
        let names_active = active.identity() == candidate
            && d.status.failed_candidate.as_ref() != Some(&candidate);
        if names_active && active.serving.as_ref() != Some(&spec.serving) {
            // Operational change to the running version: no new attestations needed.
            active.serving = Some(spec.serving.clone());
            *d.status.history.last_mut().expect("non-empty") = active.clone();
            d.event(
                EventType::Normal,
                "ServingUpdated",
                format!(
                    "applied serving changes to the running version {} without new attestations",
                    active.version
                ),
            );
        }
        let running = d.running(&active);
        if running {
            if active.available_at.is_none() {
                d.status.history.last_mut().expect("non-empty").available_at = Some(now.clone());
            }
        } else if active.outcome == HistoryOutcome::Promoted && active.available_at.is_none() {
            let deadline =
                Duration::from_secs(spec.rollback.progress_deadline_seconds.max(0) as u64);
            let waited = elapsed(&active.at, &now);
            if waited >= deadline {
                let why = format!(
                    "version {} did not become available within {}s of its promotion",
                    active.version, spec.rollback.progress_deadline_seconds
                );
                match spec.rollback.mode {
                    RollbackMode::Automatic => match d.roll_back("ProgressDeadlineExceeded") {
                        Some((_, restored)) => {
                            d.event(
                                EventType::Warning,
                                "RolledBack",
                                format!(
                                    "{why}; rolled back to {} (rollback mode Automatic)",
                                    describe(&restored)
                                ),
                            );
                        }
                        None => {
                            degraded = Some(format!(
                                "{why}, and there is no earlier good version to restore"
                            ))
                        }
                    },
                    RollbackMode::Manual => {
                        degraded = Some(format!(
                            "{why}; rollback mode is Manual: set the annotation {} to roll back",
                            labels::ROLLBACK_REQUESTED_AT
                        ))
                    }
                }
            } else {
                in_progress = true;
                d.requeue_within(deadline - waited);
            }
        } else {
            in_progress = true;
        }
    }

    // The candidate.
    let active = d.status.history.last().cloned();
    let failed = d.status.failed_candidate.as_ref() == Some(&candidate);
    let mut awaiting = false;
    match active {
        Some(active) if !failed && active.identity() == candidate => {
            if let Some(message) = degraded {
                d.status.phase = Some(Phase::Degraded);
                d.condition(
                    conditions::READY,
                    false,
                    "ProgressDeadlineExceeded",
                    message.clone(),
                );
                if old.phase != Some(Phase::Degraded) {
                    d.event(EventType::Warning, "Degraded", message);
                }
            } else if active.available_at.is_some() {
                d.status.phase = Some(Phase::Serving);
                let replicas = active
                    .serving
                    .as_ref()
                    .map_or(spec.serving.replicas, |s| s.replicas);
                d.condition(
                    conditions::READY,
                    true,
                    "Available",
                    format!(
                        "version {} is available ({replicas} replicas)",
                        active.version
                    ),
                );
            } else if active.outcome == HistoryOutcome::RolledBack {
                d.status.phase = Some(Phase::RollingBack);
                d.condition(
                    conditions::READY,
                    false,
                    "RollingBack",
                    format!("restoring version {}", active.version),
                );
            } else {
                d.status.phase = Some(Phase::Promoting);
                d.condition(
                    conditions::READY,
                    false,
                    "RolloutInProgress",
                    format!("version {} is rolling out", active.version),
                );
                if !in_progress {
                    d.requeue_within(Duration::from_secs(5));
                }
            }
        }
        Some(active) if failed => {
            d.status.phase = Some(if active.available_at.is_some() {
                Phase::RolledBack
            } else {
                Phase::RollingBack
            });
            d.condition(
                conditions::READY,
                false,
                "CandidateRolledBack",
                format!(
                    "version {version} failed and {} runs instead; name a new version in spec.model to try again",
                    active.version
                ),
            );
        }
        _ => {
            if input.gate.complete() {
                let entry = HistoryEntry {
                    version: candidate.version.clone(),
                    image: candidate.image.clone(),
                    digest: candidate.digest.clone(),
                    artifact: candidate.artifact.clone(),
                    outcome: HistoryOutcome::Promoted,
                    at: now.clone(),
                    reason: "AllItemsAttested".into(),
                    approvals: input.gate.approvals.clone(),
                    serving: Some(spec.serving.clone()),
                    available_at: None,
                };
                let approvers: Vec<String> = entry
                    .approvals
                    .iter()
                    .map(|a| format!("{} ({})", a.attested_by, a.item))
                    .collect();
                let previous = d
                    .status
                    .history
                    .last()
                    .map(|e| format!(", replacing {}", e.version))
                    .unwrap_or_default();
                push_history(&mut d.status.history, entry);
                d.event(
                    EventType::Normal,
                    "Promoted",
                    format!(
                        "promoted {version}{previous}; approved by {}",
                        approvers.join(", ")
                    ),
                );
                d.signals.promoted = true;
                d.signals.sign_off_wait = d
                    .status
                    .candidate
                    .as_ref()
                    .map(|c| elapsed(&c.first_seen, &now));
                d.status.phase = Some(Phase::Promoting);
                d.condition(
                    conditions::READY,
                    false,
                    "RolloutInProgress",
                    format!("version {version} is rolling out"),
                );
                d.requeue_within(Duration::from_secs(
                    spec.rollback.progress_deadline_seconds.max(1) as u64,
                ));
            } else {
                awaiting = true;
                let owed = input.gate.owed_message();
                d.status.phase = Some(Phase::AwaitingAttestations);
                let serving = d
                    .status
                    .history
                    .last()
                    .map(|e| format!("; {} keeps serving", e.version))
                    .unwrap_or_default();
                d.condition(
                    conditions::READY,
                    false,
                    "AwaitingAttestations",
                    format!("{version} is not promoted: {owed}{serving}"),
                );
                let tracking = d.status.candidate.as_mut().expect("set above");
                if !tracking.blocked_reported {
                    tracking.blocked_reported = true;
                    d.event(
                        EventType::Normal,
                        "PromotionBlocked",
                        format!("{version} is not promoted until signed off: {owed}"),
                    );
                }
            }
        }
    }

    // Escalation of overdue sign-off.
    let escalate_after = spec
        .handoff
        .escalate_after
        .as_deref()
        .and_then(parse_duration);
    match (awaiting, escalate_after) {
        (true, Some(limit)) => {
            let tracking = d.status.candidate.clone().expect("set above");
            let waited = elapsed(&tracking.first_seen, &now);
            if waited >= limit {
                let late: Vec<String> = input
                    .gate
                    .owed
                    .iter()
                    .map(|(team, items)| {
                        let contacts = input.contacts.get(team).filter(|c| !c.is_empty());
                        let reach = contacts
                            .map(|c| format!(", contact {}", c.join(" ")))
                            .unwrap_or_default();
                        format!("{team} ({}{reach})", items.join(", "))
                    })
                    .collect();
                let message = format!(
                    "{version} has waited {}s for sign-off, longer than escalateAfter {}; late: {}",
                    waited.as_secs(),
                    spec.handoff.escalate_after.as_deref().unwrap_or_default(),
                    late.join("; ")
                );
                d.condition(
                    conditions::ESCALATED,
                    true,
                    "SignOffOverdue",
                    message.clone(),
                );
                if !tracking.escalated {
                    d.status.candidate.as_mut().expect("set above").escalated = true;
                    d.event(EventType::Warning, "Escalated", message);
                    d.signals.escalated = true;
                }
            } else {
                d.condition(
                    conditions::ESCALATED,
                    false,
                    "WithinDeadline",
                    format!(
                        "sign-off is due within {}",
                        spec.handoff.escalate_after.as_deref().unwrap_or_default()
                    ),
                );
                d.requeue_within(limit - waited);
            }
        }
        (true, None) => d.condition(
            conditions::ESCALATED,
            false,
            "NoDeadline",
            "spec.handoff.escalateAfter is not set",
        ),
        (false, _) => d.condition(
            conditions::ESCALATED,
            false,
            "NotWaiting",
            "no candidate is waiting for sign-off",
        ),
    }

    let rolled_back = failed
        && d.status
            .history
            .last()
            .is_some_and(|e| e.outcome == HistoryOutcome::RolledBack);
    if rolled_back {
        let last = d.status.history.last().expect("checked");
        let message = format!(
            "version {version} was rolled back to {} ({})",
            last.version, last.reason
        );
        d.condition(conditions::ROLLED_BACK, true, &last.reason.clone(), message);
    } else {
        d.condition(
            conditions::ROLLED_BACK,
            false,
            "NotRolledBack",
            "the candidate has not been rolled back",
        );
    }

    if in_progress {
        d.requeue_within(Duration::from_secs(5));
    }
    d.status.active_version = d.status.history.last().map(|e| e.version.clone());
    d.kstatus_conditions();
    Plan {
        serve: d.status.history.last().cloned(),
        status: d.status,
        events: d.events,
        requeue_after: d.requeue_after,
        signals: d.signals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{Approval, ChecklistItemStatus},
        controller::testing::{md, time},
    };

    fn gate(complete: bool) -> GateOutcome {
        let mut gate = GateOutcome {
            items: vec![ChecklistItemStatus {
                id: "drift".into(),
                attested: complete,
                ..Default::default()
            }],
            ..Default::default()
        };
        if complete {
            gate.approvals = vec![Approval {
                item: "drift".into(),
                attested_by: "alice".into(),
            }];
        } else {
            gate.owed
                .insert("data-platform".into(), vec!["drift".into()]);
        }
        gate
    }

    /// Runs one decision and stores its status on `md`, as the controller would.
    fn step(
        md: &mut ModelDeployment,
        gate: &GateOutcome,
        deployment: Option<DeploymentObservation>,
        now: i64,
    ) -> Plan {
        let input = PlanInput {
            md,
            gate,
            missing_teams: vec![],
            contacts: BTreeMap::from([(
                "data-platform".to_string(),
                vec!["slack:#data".to_string()],
            )]),
            deployment,
            now: time(now),
        };
        let plan = plan(&input);
        md.status = Some(plan.status.clone());
        plan
    }

    /// What the Deployment reports once it fully runs `plan.serve`.
    fn rolled_out(md: &ModelDeployment, plan: &Plan) -> Option<DeploymentObservation> {
        let entry = plan.serve.as_ref()?;
        let want = desired::desired_deployment(md, entry, &plan.status.history);
        Some(DeploymentObservation {
            hash: desired::recorded_hash(&want.metadata).map(String::from),
            rollout_complete: true,
        })
    }

    fn stuck(md: &ModelDeployment, plan: &Plan) -> Option<DeploymentObservation> {
        rolled_out(md, plan).map(|d| DeploymentObservation {
            rollout_complete: false,
            ..d
        })
    }

    fn reasons(plan: &Plan) -> Vec<&'static str> {
        plan.events.iter().map(|e| e.reason).collect()
    }

    fn condition<'a>(
        md: &'a ModelDeployment,
        type_: &str,
    ) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        crate::controller::status::condition(&md.status.as_ref().unwrap().conditions, type_)
            .unwrap()
    }

    /// Promotes `version` of a fresh ModelDeployment and lets it become available.
    fn serving(version: &str) -> ModelDeployment {
        let mut m = md(version);
        let plan = step(&mut m, &gate(true), None, 0);
        let obs = rolled_out(&m, &plan);
        step(&mut m, &gate(true), obs, 5);
        assert_eq!(m.status.as_ref().unwrap().phase, Some(Phase::Serving));
        m
    }

    #[test]
    fn blocked_candidate_reports_once_and_serves_nothing() {
        let mut m = md("2.4.0");
        let first = step(&mut m, &gate(false), None, 0);
        assert_eq!(first.status.phase, Some(Phase::AwaitingAttestations));
        assert_eq!(reasons(&first), ["PromotionBlocked"]);
        assert!(first.events[0].note.contains("data-platform owes drift"));
        assert!(
            first.serve.is_none(),
            "nothing runs before the first promotion"
        );
        assert_eq!(condition(&m, conditions::HANDOFF_COMPLETE).status, "False");
        assert_eq!(
            condition(&m, conditions::READY).reason,
            "AwaitingAttestations"
        );
        for type_ in [
            conditions::READY,
            conditions::HANDOFF_COMPLETE,
            conditions::ROLLED_BACK,
            conditions::ESCALATED,
            conditions::RECONCILING,
            conditions::STALLED,
        ] {
            assert_eq!(condition(&m, type_).observed_generation, Some(1), "{type_}");
        }
        assert_eq!(
            condition(&m, conditions::RECONCILING).status,
            "True",
            "kstatus: InProgress while awaiting"
        );
        assert_eq!(condition(&m, conditions::STALLED).status, "False");

        let again = step(&mut m, &gate(false), None, 30);
        assert!(
            again.events.is_empty(),
            "one PromotionBlocked per candidate: {:?}",
            again.events
        );
        assert_eq!(Some(&again.status), m.status.as_ref());
    }

    #[test]
    fn idle_reconcile_changes_nothing() {
        let mut m = serving("2.4.0");
        let before = m.status.clone();
        let current = Plan {
            serve: before.as_ref().unwrap().history.last().cloned(),
            status: before.clone().unwrap(),
            events: vec![],
            requeue_after: IDLE_REQUEUE,
            signals: Signals::default(),
        };
        let obs = rolled_out(&m, &current);
        let plan = step(&mut m, &gate(true), obs, 500);
        assert!(plan.events.is_empty());
        assert_eq!(
            Some(plan.status),
            before,
            "an idle reconcile must not change status"
        );
        assert_eq!(plan.requeue_after, IDLE_REQUEUE);
    }

    #[test]
    fn full_sign_off_promotes_then_serves() {
        let mut m = md("2.4.0");
        let plan = step(&mut m, &gate(true), None, 0);
        assert_eq!(reasons(&plan), ["Promoted"]);
        assert!(plan.events[0].note.contains("alice (drift)"));
        assert!(plan.signals.promoted);
        assert_eq!(plan.status.phase, Some(Phase::Promoting));
        assert_eq!(plan.status.active_version.as_deref(), Some("2.4.0"));
        let entry = plan.serve.clone().unwrap();
        assert_eq!(
            (entry.outcome, entry.reason.as_str()),
            (HistoryOutcome::Promoted, "AllItemsAttested")
        );
        assert_eq!(entry.approvals.len(), 1);

        let obs = rolled_out(&m, &plan);
        let next = step(&mut m, &gate(true), obs, 3);
        assert_eq!(next.status.phase, Some(Phase::Serving));
        assert_eq!(
            condition(&m, conditions::RECONCILING).status,
            "False",
            "kstatus: Current when serving"
        );
        assert_eq!(condition(&m, conditions::STALLED).status, "False");
        assert_eq!(condition(&m, conditions::READY).status, "True");
        assert_eq!(next.status.history.len(), 1, "no duplicate history entry");
        assert_eq!(next.status.history[0].available_at, Some(time(3)));
    }

    #[test]
    fn new_version_waits_while_the_old_one_keeps_serving() {
        let mut m = serving("2.4.0");
        let running = m.status.as_ref().unwrap().history.last().cloned();
        m.spec = md("2.5.0").spec;
        let plan = step(&mut m, &gate(false), None, 10);
        assert_eq!(plan.status.phase, Some(Phase::AwaitingAttestations));
        assert_eq!(plan.serve, running, "the Deployment keeps running 2.4.0");
        assert_eq!(plan.status.active_version.as_deref(), Some("2.4.0"));
        assert_eq!(plan.status.candidate_version.as_deref(), Some("2.5.0"));
        assert_eq!(reasons(&plan), ["PromotionBlocked"]);
    }

    #[test]
    fn automatic_rollback_after_the_deadline_and_no_repromotion() {
        let mut m = serving("2.4.0");
        m.spec = md("2.5.0").spec;
        let promoted = step(&mut m, &gate(true), None, 100);
        assert_eq!(reasons(&promoted), ["Promoted"]);
        let obs = stuck(&m, &promoted);
        let waiting = step(&mut m, &gate(true), obs.clone(), 130);
        assert_eq!(waiting.status.phase, Some(Phase::Promoting));
        assert!(
            waiting.requeue_after <= Duration::from_secs(30),
            "wakes up by the deadline"
        );

        let failed = step(&mut m, &gate(true), obs, 161);
        assert_eq!(reasons(&failed), ["RolledBack"]);
        assert!(failed.signals.rolled_back);
        let restored = failed.serve.clone().unwrap();
        assert_eq!(
            (restored.version.as_str(), restored.outcome),
            ("2.4.0", HistoryOutcome::RolledBack)
        );
        assert_eq!(restored.reason, "ProgressDeadlineExceeded");
        assert_eq!(
            failed
                .status
                .failed_candidate
                .as_ref()
                .map(|f| f.version.as_str()),
            Some("2.5.0")
        );
        assert_eq!(condition(&m, conditions::ROLLED_BACK).status, "True");
        assert_eq!(
            condition(&m, conditions::RECONCILING).status,
            "True",
            "rolling back is progress"
        );

        // The restored version rolls out; the failed candidate is never promoted again.
        let obs = rolled_out(&m, &failed);
        for t in [170, 400, 1000] {
            let later = step(&mut m, &gate(true), obs.clone(), t);
            assert!(
                !later.signals.promoted,
                "re-promoted the failed candidate at {t}"
            );
            assert_eq!(later.status.phase, Some(Phase::RolledBack));
            assert_eq!(
                condition(&m, conditions::STALLED).status,
                "True",
                "kstatus: Failed once rolled back"
            );
            assert_eq!(
                condition(&m, conditions::STALLED).status,
                "True",
                "kstatus: Failed once rolled back"
            );
            assert_eq!(later.serve.as_ref().unwrap().version, "2.4.0");
        }
        assert_eq!(m.status.as_ref().unwrap().history.len(), 3);

        // A new candidate clears the failure.
        m.spec = md("2.6.0").spec;
        let fixed = step(&mut m, &gate(true), None, 1100);
        assert_eq!(reasons(&fixed), ["Promoted"]);
        assert!(fixed.status.failed_candidate.is_none());
        assert_eq!(condition(&m, conditions::ROLLED_BACK).status, "False");
    }

    #[test]
    fn manual_mode_degrades_then_the_annotation_rolls_back_once() {
        let mut m = serving("2.4.0");
        m.spec = md("2.5.0").spec;
        m.spec.rollback.mode = RollbackMode::Manual;
        let promoted = step(&mut m, &gate(true), None, 100);
        let obs = stuck(&m, &promoted);
        let degraded = step(&mut m, &gate(true), obs.clone(), 200);
        assert_eq!(degraded.status.phase, Some(Phase::Degraded));
        assert_eq!(reasons(&degraded), ["Degraded"]);
        assert!(!degraded.signals.rolled_back);
        assert_eq!(
            degraded.serve.as_ref().unwrap().version,
            "2.5.0",
            "manual mode does not roll back"
        );
        assert!(
            step(&mut m, &gate(true), obs.clone(), 260)
                .events
                .is_empty(),
            "one Degraded Event"
        );

        m.metadata.annotations = Some(BTreeMap::from([(
            labels::ROLLBACK_REQUESTED_AT.to_string(),
            "2026-11-27T10:00:00Z".to_string(),
        )]));
        let rolled = step(&mut m, &gate(true), obs.clone(), 300);
        assert_eq!(reasons(&rolled), ["RolledBack"]);
        assert_eq!(rolled.serve.as_ref().unwrap().version, "2.4.0");
        assert_eq!(
            rolled.status.history.last().unwrap().reason,
            "RollbackRequested"
        );
        let obs = rolled_out(&m, &rolled);
        let again = step(&mut m, &gate(true), obs, 310);
        assert!(
            again.events.is_empty(),
            "the same annotation value acts once"
        );
        assert_eq!(again.status.history.len(), rolled.status.history.len());
        assert_eq!(again.status.phase, Some(Phase::RolledBack));
    }

    #[test]
    fn rollback_request_without_an_earlier_version_is_reported() {
        let mut m = serving("2.4.0");
        m.metadata.annotations = Some(BTreeMap::from([(
            labels::ROLLBACK_REQUESTED_AT.to_string(),
            "t1".to_string(),
        )]));
        let plan = step(&mut m, &gate(true), None, 50);
        assert_eq!(reasons(&plan), ["RollbackUnavailable"]);
        assert_eq!(plan.status.history.len(), 1);
    }

    #[test]
    fn operational_changes_apply_without_attestations() {
        let mut m = serving("2.4.0");
        m.spec.serving.replicas = 5;
        let plan = step(&mut m, &gate(false), None, 50);
        assert_eq!(reasons(&plan), ["ServingUpdated"]);
        assert_eq!(plan.status.history.len(), 1, "no new promotion");
        assert_eq!(
            plan.serve
                .as_ref()
                .unwrap()
                .serving
                .as_ref()
                .unwrap()
                .replicas,
            5
        );
        assert_eq!(plan.status.phase, Some(Phase::Serving));
    }

    #[test]
    fn unknown_team_is_invalid_and_touches_nothing() {
        let mut m = serving("2.4.0");
        let input = PlanInput {
            md: &m,
            gate: &gate(true),
            missing_teams: vec![(Role::Platform, "ghosts".into())],
            contacts: BTreeMap::new(),
            deployment: None,
            now: time(60),
        };
        let plan = plan(&input);
        assert_eq!(plan.status.phase, Some(Phase::Invalid));
        assert!(plan.serve.is_none(), "the active version is left alone");
        assert_eq!(plan.status.active_version.as_deref(), Some("2.4.0"));
        assert_eq!(reasons(&plan), ["UnknownTeam"]);
        assert!(plan.events[0].note.contains("ghosts (the platform owner)"));
        m.status = Some(plan.status);
        let ready = crate::controller::status::condition(
            &m.status.as_ref().unwrap().conditions,
            conditions::READY,
        )
        .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "UnknownTeam")
        );
    }

    #[test]
    fn overdue_sign_off_escalates_once_naming_teams_and_contacts() {
        let mut m = md("2.4.0");
        m.spec.handoff.escalate_after = Some("30s".into());
        let first = step(&mut m, &gate(false), None, 0);
        assert_eq!(condition(&m, conditions::ESCALATED).status, "False");
        assert!(first.requeue_after <= Duration::from_secs(30));
        let late = step(&mut m, &gate(false), None, 31);
        assert_eq!(reasons(&late), ["Escalated"]);
        assert!(
            late.events[0]
                .note
                .contains("data-platform (drift, contact slack:#data)"),
            "{}",
            late.events[0].note
        );
        assert!(late.signals.escalated);
        assert_eq!(condition(&m, conditions::ESCALATED).status, "True");
        assert!(
            step(&mut m, &gate(false), None, 90).events.is_empty(),
            "one Escalated Event per candidate"
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration(""), None);
    }
}
