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
    status::{self, set_condition},
};
use crate::{
    api::{
        HistoryEntry, Measurement, ModelDeployment, ModelDeploymentSpec, ModelDeploymentStatus,
        Phase, Role,
        conditions::{READY, RECONCILING, STALLED},
        reasons::condition as reason,
    },
    timing::{self},
};

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
    /// An open Incident asks for the promoted version in place to be rolled back (a
    /// guard with `action: RollBack` breached, or a person with rollback rights asked).
    pub roll_back_for: Option<RollBackFor>,
    pub now: Time,
}

/// A rollback an open Incident asks for: recorded with `reason`, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RollBackFor {
    pub reason: &'static str,
    pub why: String,
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
    let mut planner = Planner::new(input);
    planner.track_candidate();
    if !input.missing_teams.is_empty() || !input.name_conflicts.is_empty() {
        planner.report_invalid();
        return planner.finish(None);
    }
    planner.act_on_rollback_request();
    let health = planner.check_active_health();
    let awaiting = planner.decide_candidate(&health);
    planner.escalate(awaiting);
    planner.report_rollback();
    if health.in_progress {
        planner.requeue_within(timing::ROLLOUT_POLL);
    }
    let serve = planner.status.history.last().cloned();
    planner.finish(serve)
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

/// The plan being built: the next status, Events and signals.
struct Planner<'a> {
    input: &'a PlanInput<'a>,
    old: ModelDeploymentStatus,
    status: ModelDeploymentStatus,
    events: Vec<PlannedEvent>,
    requeue_after: Duration,
    signals: Signals,
    canary: Option<CanaryRun>,
}

impl<'a> Planner<'a> {
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
}

mod escalate;
mod health;
mod promote;
mod roll_back;
mod track;

#[cfg(test)]
mod tests;

mod canary;
pub use canary::CanaryRun;

#[cfg(test)]
mod canary_tests;
