//! `kubectl accord drill run NAME`: asks for a run now and follows it. The request is
//! the annotation `accord.dev/run-requested-at` set to the current time (a merge patch,
//! as you: the webhook records who asked, and refuses whoever is not in the model's
//! platform Team); the operator answers each distinct value with one run and records
//! the value in `status.lastRunRequest`. [`Follow`] is pure: from each read of the
//! drill it says what to print and whether the run ended; [`exit_code`] says how the
//! process ends.

use std::{collections::BTreeSet, time::Duration};

use accord_core::rehearsal::TRIGGER_REQUEST;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{get, step_line};
use crate::{
    api::{DrillRun, RollbackDrill, RunResult, StepName, StepResult, labels},
    scope::{Failure, Output, Scope},
};

/// The exit code of `drill run` when the run failed.
pub const EXIT_FAILED: u8 = 3;
/// The exit code of `drill run` when the run had not finished by `--timeout` (it goes
/// on; `drill report` shows it).
pub const EXIT_TIMED_OUT: u8 = 4;
/// How far behind this machine's clock the operator's may be: a run that started
/// this much before the request may still answer it.
pub const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// How often the drill is read while following a run.
const POLL: Duration = Duration::from_secs(1);

/// How `drill run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Requested and not followed (`--no-wait`).
    Requested,
    Passed,
    Failed,
    /// Still running at `--timeout`.
    TimedOut,
}

/// The process's exit code for `outcome`: 0 when the run passed (or was only
/// requested), [`EXIT_FAILED`] when it failed, [`EXIT_TIMED_OUT`] when it had not
/// finished in time. (1 is any other failure, such as a refused request; 2 a usage
/// error.)
pub fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Requested | Outcome::Passed => 0,
        Outcome::Failed => EXIT_FAILED,
        Outcome::TimedOut => EXIT_TIMED_OUT,
    }
}

/// The outcome of a finished run.
pub fn outcome_of(run: &DrillRun) -> Outcome {
    match run.result {
        RunResult::Passed => Outcome::Passed,
        RunResult::Failed => Outcome::Failed,
        RunResult::Running => Outcome::TimedOut,
    }
}

/// Following the run that answers one request, across reads of the drill.
#[derive(Debug, Clone)]
pub struct Follow {
    /// The value written to `accord.dev/run-requested-at`.
    request: String,
    requested_at: Option<jiff::Timestamp>,
    /// The run's id, once found.
    run: Option<String>,
    /// The steps already printed.
    shown: BTreeSet<StepName>,
    /// The other run already reported as being waited for.
    waiting_on: Option<String>,
}

impl Follow {
    /// Follows the run answering the request `request` (an RFC 3339 time).
    pub fn new(request: &str) -> Self {
        Follow {
            request: request.to_string(),
            requested_at: request.parse().ok(),
            run: None,
            shown: BTreeSet::new(),
            waiting_on: None,
        }
    }

    /// The run answering the request: once the operator recorded the request in
    /// `status.lastRunRequest`, the newest requested run that started after it (less
    /// [`CLOCK_SKEW`]); once found, that run by id.
    pub fn answering<'a>(&self, drill: &'a RollbackDrill) -> Option<&'a DrillRun> {
        if let Some(id) = &self.run {
            return drill.run(id);
        }
        let status = drill.status.as_ref()?;
        if status.last_run_request.as_deref() != Some(self.request.as_str()) {
            return None;
        }
        status.runs.iter().find(|run| {
            run.trigger == TRIGGER_REQUEST
                && self
                    .requested_at
                    .is_none_or(|at| run.started_at.0 >= at - CLOCK_SKEW)
        })
    }

    /// Reads `drill`: what is new to print (the run starting, each step as it lands,
    /// the result), and the run once it finished.
    pub fn observe(&mut self, drill: &RollbackDrill) -> (String, Option<DrillRun>) {
        let Some(run) = self.answering(drill).cloned() else {
            return (self.waiting(drill), None);
        };
        let mut out = String::new();
        if self.run.is_none() {
            self.run = Some(run.id.clone());
            out += &started_line(&run);
        }
        for step in &run.steps {
            if self.shown.insert(step.name) {
                out += &step_line(step);
                out.push('\n');
            }
        }
        if !run.is_finished() {
            return (out, None);
        }
        out += &finished_line(&run);
        (out, Some(run))
    }

    /// Says once that another run is still going (a drill runs one at a time).
    fn waiting(&mut self, drill: &RollbackDrill) -> String {
        let Some(other) = drill
            .status
            .as_ref()
            .and_then(|s| s.runs.first())
            .filter(|r| !r.is_finished())
        else {
            return String::new();
        };
        if self.waiting_on.as_deref() == Some(other.id.as_str()) {
            return String::new();
        }
        self.waiting_on = Some(other.id.clone());
        format!(
            "waiting: run {} ({}) is still going, and a drill runs one run at a time\n",
            other.id, other.trigger
        )
    }
}

/// `run 20261208-090000 (requested by bob) rehearses 2.3.1:`.
pub fn started_line(run: &DrillRun) -> String {
    let by = run
        .requested_by
        .as_ref()
        .map(|u| format!(" (requested by {u})"))
        .unwrap_or_default();
    match &run.target {
        Some(target) => format!("run {}{by} rehearses {}:\n", run.id, target.version),
        None => format!("run {}{by}:\n", run.id),
    }
}

/// `Passed: rehearsed a rollback to 2.3.1: …`.
pub fn finished_line(run: &DrillRun) -> String {
    match &run.message {
        Some(message) => format!("{:?}: {message}\n", run.result),
        None => format!("{:?}\n", run.result),
    }
}

/// Why `drill run` exits non-zero for a run that failed: the first failed step, and
/// where the report is.
pub fn failed_text(drill: &str, namespace: &str, run: &DrillRun) -> String {
    let at = run
        .steps
        .iter()
        .find(|s| s.result == StepResult::Failed)
        .map(|s| format!(" at {}", s.name.as_str()))
        .unwrap_or_default();
    format!(
        "run {} of RollbackDrill {namespace}/{drill} failed{at}; the report: kubectl accord drill report {drill} -n {namespace} --run {}",
        run.id, run.id
    )
}

/// `drill run NAME`: requests a run, then (unless `wait` is `None`) follows it until it
/// finishes or `wait` passes, handing each progress line to `print` as it lands (with
/// `-o json|yaml`, only the finished run). Returns what to print last and the exit code
/// ([`exit_code`]; 1 for a failure before the run ended).
pub async fn run_now(
    scope: &Scope,
    name: &str,
    wait: Option<Duration>,
    print: fn(&str),
) -> (Result<String, Failure>, u8) {
    match request_and_follow(scope, name, wait, print).await {
        Ok((Outcome::Failed, Some(run))) => (
            Err(Failure(failed_text(name, &scope.namespace, &run))),
            EXIT_FAILED,
        ),
        Ok((Outcome::TimedOut, _)) => (
            Err(Failure(format!(
                "the run had not finished after {}s; it goes on: kubectl accord drill report {name} -n {}",
                wait.unwrap_or_default().as_secs(),
                scope.namespace
            ))),
            EXIT_TIMED_OUT,
        ),
        Ok((outcome, _)) => (Ok(String::new()), exit_code(outcome)),
        Err(failure) => (Err(failure), 1),
    }
}

async fn request_and_follow(
    scope: &Scope,
    name: &str,
    wait: Option<Duration>,
    print: fn(&str),
) -> Result<(Outcome, Option<DrillRun>), Failure> {
    let at = request(scope, name).await?;
    let Some(timeout) = wait else {
        let requested = json!({"namespace": scope.namespace, "name": name, "runRequestedAt": at});
        print(&scope.print(&requested, || {
            format!(
                "run of RollbackDrill {}/{name} requested at {at}; follow it with: kubectl accord drill report {name} -n {}\n",
                scope.namespace, scope.namespace
            )
        })?);
        return Ok((Outcome::Requested, None));
    };
    if scope.output == Output::Table {
        print(&format!(
            "run of RollbackDrill {}/{name} requested at {at}\n",
            scope.namespace
        ));
    }
    let run = follow(scope, name, &at, timeout, print).await?;
    if let Some(run) = &run
        && scope.output != Output::Table
    {
        print(&scope.print(run, String::new)?);
    }
    Ok((run.as_ref().map_or(Outcome::TimedOut, outcome_of), run))
}

/// Sets `accord.dev/run-requested-at` to now (whole seconds, RFC 3339), as you; returns
/// the value.
async fn request(scope: &Scope, name: &str) -> Result<String, Failure> {
    get(scope, name).await?;
    let at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_err(|e| Failure(e.to_string()))?
        .to_string();
    let patch = json!({"metadata": {"annotations": {labels::RUN_REQUESTED_AT: at}}});
    Api::<RollbackDrill>::namespaced(scope.client.clone(), &scope.namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| scope.failure(e))?;
    Ok(at)
}

/// Follows the run answering the request `at` until it finishes (the run) or `timeout`
/// passes (`None`).
async fn follow(
    scope: &Scope,
    name: &str,
    at: &str,
    timeout: Duration,
    print: fn(&str),
) -> Result<Option<DrillRun>, Failure> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut follow = Follow::new(at);
    loop {
        let (text, finished) = follow.observe(&get(scope, name).await?);
        if scope.output == Output::Table && !text.is_empty() {
            print(&text);
        }
        if finished.is_some() {
            return Ok(finished);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(
            POLL.min(deadline.saturating_duration_since(tokio::time::Instant::now())),
        )
        .await;
    }
}
