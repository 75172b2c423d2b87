//! The canary steps of the decision: start the candidate as a canary once the items
//! needed before it are attested, record its analysis, and end it — promoted once it
//! has baked with the analysis holding and the `after: Canary` items attested, or
//! rolled back by the plan when the analysis fails, it never becomes available, or an
//! owner aborts it.

use crate::events::EventType;

use super::Planner;
use crate::{
    api::{
        CanaryRecord, CanaryStatus, FailedCandidate, HistoryEntry, HistoryOutcome, Measurement,
        Phase, Serving,
        conditions::READY,
        reasons::{condition as reason, event, history},
    },
    timing::{elapsed, seconds},
    {canary, desired, status::push_history},
};

/// The candidate to run as a canary Deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRun {
    pub version: String,
    pub serving: Serving,
    pub replicas: i32,
}

/// How a canary ends.
enum Ending {
    /// Baked, analysis held, everything attested: promote.
    Passed,
    /// Keep the active version: the history reason, and why.
    Failed(&'static str, String),
}

fn values(measurements: &[Measurement]) -> String {
    let shown: Vec<String> = measurements
        .iter()
        .map(|m| {
            let value = m.value.as_deref().unwrap_or("no value");
            if m.passed {
                value.to_string()
            } else {
                format!("{value} (failed)")
            }
        })
        .collect();
    if shown.is_empty() {
        "none".into()
    } else {
        shown.join(", ")
    }
}

impl Planner<'_> {
    /// The canary that runs for this candidate, as it was before this decision.
    fn previous_canary(&self) -> Option<CanaryStatus> {
        self.old
            .canary
            .clone()
            .filter(|c| c.fingerprint == self.fingerprint())
    }

    /// Whether the candidate should run (or keep running) as a canary now.
    pub(super) fn canary_due(&self) -> bool {
        let gate = self.input.gate;
        if !canary::applies(self.input.md) || !gate.ready_for_canary() {
            return false;
        }
        if self.previous_canary().is_some() {
            return true;
        }
        // A candidate that failed is tried again only on fresh sign-off of something
        // needed before the canary; otherwise it would loop.
        !self.candidate_failed() || gate.required_before_canary > 0
    }

    /// Step 4 for a canary. Returns whether sign-off is still awaited (for escalation).
    pub(super) fn run_canary(&mut self) -> bool {
        let config = canary::config(self.input.md).cloned().expect("canary_due");
        let mut run = match self.previous_canary() {
            Some(run) => run,
            None => {
                let active = self
                    .status
                    .history
                    .last()
                    .map_or("nothing", |e| e.version.as_str());
                let note = format!(
                    "{} runs as a canary ({} pods) beside {active}, for {}s once available",
                    self.version(),
                    config.replicas,
                    config.bake_seconds
                );
                self.event(EventType::Normal, event::CANARY_STARTED, note);
                CanaryStatus {
                    fingerprint: self.fingerprint().to_string(),
                    version: self.version().to_string(),
                    started_at: self.now(),
                    available_at: None,
                    measurements: vec![],
                    failed_measurements: 0,
                }
            }
        };
        if run.available_at.is_none() && self.canary_running() {
            run.available_at = Some(self.now());
        }
        if let Some(measurement) = self.input.measurement.clone() {
            run.failed_measurements += i32::from(!measurement.passed);
            run.measurements.push(measurement);
            let excess = run
                .measurements
                .len()
                .saturating_sub(canary::MAX_MEASUREMENTS);
            run.measurements.drain(..excess);
        }
        if let Some(ending) = self.canary_ending(&run) {
            return self.end_canary(run, ending);
        }
        self.report_canary(&run);
        self.status.canary = Some(run);
        self.canary = Some(CanaryRun {
            version: self.version().to_string(),
            serving: self.spec().serving.clone(),
            replicas: config.replicas,
        });
        !self.input.gate.complete()
    }

    /// Whether the canary Deployment runs exactly this candidate, fully available.
    fn canary_running(&self) -> bool {
        let Some(config) = canary::config(self.input.md) else {
            return false;
        };
        let want = desired::desired_canary(
            self.input.md,
            self.version(),
            &self.spec().serving,
            config.replicas,
        );
        let want_hash = desired::recorded_hash(&want.metadata).map(String::from);
        self.input
            .canary
            .as_ref()
            .is_some_and(|d| d.rollout_complete && d.hash == want_hash)
    }

    /// How the canary ends now, if it does.
    fn canary_ending(&self, run: &CanaryStatus) -> Option<Ending> {
        let config = canary::config(self.input.md)?;
        if let Some(analysis) = &config.analysis
            && run.failed_measurements > analysis.failure_limit
        {
            return Some(Ending::Failed(
                history::ANALYSIS_FAILED,
                format!(
                    "{} of its measurements failed, more than the {} allowed; measured: {}",
                    run.failed_measurements,
                    analysis.failure_limit,
                    values(&run.measurements)
                ),
            ));
        }
        let Some(available_at) = &run.available_at else {
            let deadline = seconds(self.spec().rollback.progress_deadline_seconds);
            return (elapsed(&run.started_at, &self.input.now) >= deadline).then(|| {
                Ending::Failed(
                    history::PROGRESS_DEADLINE_EXCEEDED,
                    format!(
                        "the canary did not become available within {}s",
                        deadline.as_secs()
                    ),
                )
            });
        };
        let baked = elapsed(available_at, &self.input.now) >= seconds(config.bake_seconds);
        if !baked {
            return None;
        }
        if config.analysis.is_some() && !run.measurements.iter().any(|m| m.passed) {
            return Some(Ending::Failed(
                history::NO_MEASUREMENT,
                format!(
                    "no measurement passed during the {}s bake; measured: {}",
                    config.bake_seconds,
                    values(&run.measurements)
                ),
            ));
        }
        self.input.gate.complete().then_some(Ending::Passed)
    }

    fn record_of(&self, run: &CanaryStatus, outcome: &str) -> CanaryRecord {
        CanaryRecord {
            version: run.version.clone(),
            fingerprint: run.fingerprint.clone(),
            started_at: run.started_at.clone(),
            ended_at: self.now(),
            outcome: outcome.to_string(),
            measurements: run.measurements.clone(),
        }
    }

    /// Promotes after a good canary, or keeps the active version by the plan.
    fn end_canary(&mut self, run: CanaryStatus, ending: Ending) -> bool {
        self.status.canary = None;
        let Ending::Failed(reason, why) = ending else {
            let record = self.record_of(&run, "Promoted");
            self.promote(Some(record));
            return false;
        };
        self.abort_canary(&run, reason, &why);
        let active = self
            .status
            .history
            .last()
            .cloned()
            .expect("a canary needs one");
        self.report_failed(&active, &Default::default());
        false
    }

    /// Ends the canary without promoting: the active version keeps serving, recorded
    /// as a `RolledBack` entry that carries what the canary showed, and the candidate
    /// is remembered as failed.
    pub(super) fn abort_canary(&mut self, run: &CanaryStatus, reason: &'static str, why: &str) {
        let Some(active) = self.status.history.last().cloned() else {
            return;
        };
        let outcome = match reason {
            history::ANALYSIS_FAILED => "AnalysisFailed",
            history::NO_MEASUREMENT => "NoMeasurement",
            history::ROLLBACK_REQUESTED => "RollbackRequested",
            _ => "NotAvailable",
        };
        let kept = HistoryEntry {
            outcome: HistoryOutcome::RolledBack,
            at: self.now(),
            reason: reason.to_string(),
            approvals: vec![],
            auto_approval: None,
            canary: Some(self.record_of(run, outcome)),
            seal: None,
            record: None,
            ..active.clone()
        };
        push_history(&mut self.status.history, kept);
        self.status.canary = None;
        self.status
            .failed_candidates
            .retain(|f| f.fingerprint != run.fingerprint);
        self.status.failed_candidates.push(FailedCandidate {
            fingerprint: run.fingerprint.clone(),
            version: run.version.clone(),
            failed_at: self.now(),
            artifact_fingerprint: (run.fingerprint == self.input.candidate.fingerprint)
                .then(|| self.input.candidate.artifact.clone()),
        });
        self.signals.rolled_back = true;
        let note = format!(
            "canary {} ended ({reason}): {why}; {} keeps serving",
            run.version, active.version
        );
        self.event(EventType::Warning, event::CANARY_FAILED, note);
    }

    /// `Ready=False` `CanaryInProgress`, with the canary's progress and what is owed.
    fn report_canary(&mut self, run: &CanaryStatus) {
        let config = canary::config(self.input.md).cloned().expect("canary_due");
        self.status.phase = Some(Phase::Canary);
        let active = self
            .status
            .history
            .last()
            .map_or(String::new(), |e| e.version.clone());
        let progress = match &run.available_at {
            None => {
                let deadline = seconds(self.spec().rollback.progress_deadline_seconds);
                self.requeue_within(
                    deadline.saturating_sub(elapsed(&run.started_at, &self.input.now)),
                );
                "not available yet".to_string()
            }
            Some(at) => {
                let baked = elapsed(at, &self.input.now);
                let bake = seconds(config.bake_seconds);
                self.requeue_within(bake.saturating_sub(baked));
                format!(
                    "baked {} of {}s",
                    baked.as_secs().min(bake.as_secs()),
                    bake.as_secs()
                )
            }
        };
        let mut message = format!(
            "canary {} ({} pods) beside {active}: {progress}",
            run.version, config.replicas
        );
        if let Some(analysis) = &config.analysis {
            let bound = match (analysis.max_value, analysis.min_value) {
                (Some(max), _) => format!("max {max}"),
                (_, Some(min)) => format!("min {min}"),
                _ => String::new(),
            };
            message.push_str(&format!(
                "; analysis ({bound}): {} measured ({}), {} failed of {} allowed",
                run.measurements.len(),
                values(&run.measurements),
                run.failed_measurements,
                analysis.failure_limit
            ));
            if run.available_at.is_some() {
                let next = canary::next_measurement_in(run, analysis, &self.input.now);
                self.requeue_within(next);
            }
        }
        if !self.input.gate.complete() {
            message.push_str(&format!("; still owed: {}", self.input.gate.owed_message()));
        }
        self.condition(READY, false, reason::CANARY_IN_PROGRESS, message);
    }

    /// An owner asked for a rollback while the canary runs: the canary ends, the active
    /// version stays. Returns whether there was a canary to end.
    pub(super) fn abort_canary_on_request(&mut self, request: &str) -> bool {
        let Some(run) = self.previous_canary().or_else(|| self.old.canary.clone()) else {
            return false;
        };
        let why = format!("rollback requested ({request})");
        self.abort_canary(&run, history::ROLLBACK_REQUESTED, &why);
        true
    }
}
