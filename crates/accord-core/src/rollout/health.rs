//! The health of the version that runs: still rolling out, available, Ready pods lost,
//! or failed past its deadline; and operational changes applied to it at once.

use crate::events::EventType;

use crate::observe::DeploymentObservation;
use crate::{
    api::{
        HistoryEntry, HistoryOutcome, Phase,
        conditions::READY,
        reasons::{condition as reason, event, history},
    },
    timing::{self, elapsed, seconds},
};

use super::{ActiveHealth, Planner};

impl<'a> Planner<'a> {
    /// Step 3: the health of what runs. Applies operational changes to the running
    /// version, marks it available once rolled out, and acts on a missed deadline —
    /// before it was ever available, or after its pods stopped being Ready.
    pub(super) fn check_active_health(&mut self) -> ActiveHealth {
        let Some(mut active) = self.status.history.last().cloned() else {
            return ActiveHealth::default();
        };
        self.apply_operational_change(&mut active);
        // A version restored by a rollback is not rolled back further for an Incident:
        // that is left for people to decide, as when it stops being Ready.
        if let Some(asked) = &self.input.roll_back_for
            && active.outcome == HistoryOutcome::Promoted
        {
            let why = format!(
                "version {} is rolled back for {}",
                active.version, asked.why
            );
            return ActiveHealth {
                degraded: self.act_on_failure(why, asked.reason),
                ..Default::default()
            };
        }
        let live = self.live_deployment(&active);
        if live.is_some_and(|d| d.rollout_complete) {
            let now = self.now();
            let last = self.status.history.last_mut().expect("non-empty");
            last.available_at.get_or_insert_with(|| now.clone());
            last.available_since.get_or_insert(now);
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
    pub(super) fn check_still_ready(
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
        // A break: a downstream's soak starts again once it is available again.
        self.status
            .history
            .last_mut()
            .expect("non-empty")
            .available_since = None;
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
    pub(super) fn apply_operational_change(&mut self, active: &mut HistoryEntry) {
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

    /// The candidate is the version that runs: serving, rolling out, or degraded.
    pub(super) fn report_active(&mut self, active: &HistoryEntry, health: &ActiveHealth) {
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
    pub(super) fn report_failed(&mut self, active: &HistoryEntry, health: &ActiveHealth) {
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
            None => match &self.input.gate.upstream {
                // Signed off again, but something still holds it (an open Incident).
                Some(block) => {
                    let message = format!("{message}; {}", block.message);
                    self.condition(READY, false, block.reason, message);
                }
                None => self.condition(READY, false, reason::CANDIDATE_ROLLED_BACK, message),
            },
        }
    }
}
