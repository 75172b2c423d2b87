use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::follow::outcome_of;
use super::*;
use crate::api::{Acknowledgement, Role, RunResult, StepName, StepResult};

fn ts(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

fn finished_run() -> Value {
    json!({
        "id": "20261208-090000", "trigger": "Requested", "requestedBy": "bob",
        "startedAt": "2026-12-08T09:00:00Z", "finishedAt": "2026-12-08T09:01:00Z",
        "result": "Passed", "timeToReady": "41s",
        "workload": "fraud-scorer-drill-20261208-090000",
        "target": {"version": "2.3.1", "fingerprint": "sha256:abc",
                   "image": "registry.example.com/fraud-scorer:2.3.1"},
        "message": "rehearsed a rollback to 2.3.1: Ready in 41s, every step passed",
        "steps": [
            {"name": "Ready", "result": "Passed", "duration": "41s",
             "message": "1 of 1 pods were Ready after 41s", "at": "2026-12-08T09:00:41Z"},
            {"name": "TargetResolved", "result": "Passed", "duration": "0.1s",
             "message": "2.3.1 is in the history and its seal verifies", "at": "2026-12-08T09:00:00Z"}
        ],
        "acknowledgedBy": [{"role": "platform", "user": "bob", "team": "ml-platform", "attestation": "r1"}]
    })
}

fn drill_with(status: Value) -> RollbackDrill {
    serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
        "metadata": {"name": "weekly", "namespace": "payments"},
        "spec": {"modelDeployment": "fraud-scorer", "schedule": "0 10 * * 2", "timeZone": "Europe/Berlin",
                 "target": "PreviousKnownGood",
                 "tabletop": {"acknowledge": ["platform", "application"], "within": "72h"}},
        "status": status
    }))
    .unwrap()
}

fn drill() -> RollbackDrill {
    drill_with(json!({
        "lastRun": "20261208-090000",
        "lastSuccess": "2026-12-08T09:01:00Z",
        "nextRunAt": "2026-12-15T09:00:00Z",
        "lastRunRequest": "2026-12-08T09:00:00Z",
        "runs": [finished_run()]
    }))
}

fn the_run(drill: &RollbackDrill) -> &DrillRun {
    &drill.status.as_ref().unwrap().runs[0]
}

#[test]
fn the_list_shows_schedule_last_run_success_next_run_and_who_acknowledged() {
    let now = ts("2026-12-09T09:01:00Z");
    let rows = view(&[drill()], now);
    assert_eq!(rows[0].schedule, "0 10 * * 2 (Europe/Berlin)");
    assert_eq!(rows[0].target, "PreviousKnownGood");
    assert_eq!(rows[0].last_run, "20261208-090000 Passed");
    assert_eq!(rows[0].last_success, "24h ago");
    assert_eq!(rows[0].next_run, "2026-12-15T09:00:00Z (in 5d)");
    assert_eq!(rows[0].acknowledged, "platform ✓ application ✗");
    let table = text(&rows, true);
    let header = table.lines().next().unwrap();
    assert_eq!(
        header
            .split("   ")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect::<Vec<_>>(),
        [
            "NAMESPACE",
            "NAME",
            "MODEL",
            "SCHEDULE",
            "TARGET",
            "LAST RUN",
            "LAST SUCCESS",
            "NEXT RUN",
            "ACKNOWLEDGED"
        ]
    );
    assert!(
        table.lines().nth(1).unwrap().starts_with("payments"),
        "{table}"
    );
    assert!(
        text(&rows, false).starts_with("NAME "),
        "no NAMESPACE without -A"
    );
    // JSON rows carry the same fields.
    let row = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(row["modelDeployment"], "fraud-scorer");
    assert_eq!(row["acknowledged"], "platform ✓ application ✗");
}

#[test]
fn a_drill_that_never_ran_once_and_a_running_run() {
    let mut once = drill_with(json!({}));
    once.spec.schedule = None;
    once.spec.tabletop = None;
    let row = &view(&[once], ts("2026-12-09T09:01:00Z"))[0];
    assert_eq!(
        (
            row.schedule.as_str(),
            row.last_run.as_str(),
            row.last_success.as_str(),
            row.next_run.as_str(),
            row.acknowledged.as_str()
        ),
        ("once", "-", "never", "-", "-")
    );
    // The newest run is still going: the acknowledgements shown are the last
    // finished run's.
    let mut running = finished_run();
    running["id"] = json!("20261215-090000");
    running["result"] = json!("Running");
    running["finishedAt"] = Value::Null;
    let drill =
        drill_with(json!({"runs": [running, finished_run()], "nextRunAt": "2026-12-15T09:00:00Z"}));
    let row = &view(&[drill], ts("2026-12-15T09:00:30Z"))[0];
    assert_eq!(row.last_run, "20261215-090000 Running");
    assert_eq!(row.next_run, "2026-12-15T09:00:00Z (due)");
    assert_eq!(row.acknowledged, "platform ✓ application ✗");
}

#[test]
fn the_report_names_target_steps_in_order_reviews_and_what_is_owed_by_when() {
    let drill = drill();
    let run = the_run(&drill);
    let text = report(&drill, run, ts("2026-12-09T09:00:00Z"));
    for line in [
        "RollbackDrill payments/weekly, run 20261208-090000 (Requested, requested by bob): Passed",
        "  model:         fraud-scorer (target PreviousKnownGood)",
        "  version:       2.3.1",
        "  fingerprint:   sha256:abc",
        "  image:         registry.example.com/fraud-scorer:2.3.1",
        "  workload:      fraud-scorer-drill-20261208-090000",
        "  started:       2026-12-08T09:00:00Z",
        "  finished:      2026-12-08T09:01:00Z",
        "  time to Ready: 41s",
        "  rehearsed a rollback to 2.3.1: Ready in 41s, every step passed",
        "  Ready              Passed      41s  1 of 1 pods were Ready after 41s",
        "Tabletop (platform ✓ application ✗):",
        "  bob reviewed for platform (team ml-platform, attestation r1)",
        "  still owed by: application by 2026-12-11T09:01:00Z (72h after the run finished)",
        "  review it: kubectl accord attest fraud-scorer -n payments --item drill-review --drill weekly/20261208-090000 --evidence <link to your notes>",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
    let resolved = text.find("TargetResolved").unwrap();
    assert!(
        resolved < text.find("  Ready ").unwrap(),
        "steps in their fixed order: {text}"
    );
    // Past the deadline it is overdue, and the escalation is shown.
    let mut late = run.clone();
    late.escalated_at = Some(Time(ts("2026-12-11T09:01:30Z")));
    let text = report(&drill, &late, ts("2026-12-12T00:00:00Z"));
    assert!(
        text.contains("(72h after the run finished, overdue)"),
        "{text}"
    );
    assert!(
        text.contains("escalated to the Teams that owe it at 2026-12-11T09:01:30Z"),
        "{text}"
    );
    // Once every role reviewed, nothing is owed.
    let mut done = run.clone();
    done.acknowledged_by.push(Acknowledgement {
        role: Role::Application,
        user: "carol".into(),
        team: "payments-app".into(),
        attestation: "r2".into(),
    });
    done.acknowledged_at = Some(Time(ts("2026-12-09T10:00:00Z")));
    let text = report(&drill, &done, ts("2026-12-12T00:00:00Z"));
    assert!(
        !text.contains("still owed") && !text.contains("review it"),
        "{text}"
    );
    assert!(
        text.contains("every role reviewed it by 2026-12-09T10:00:00Z"),
        "{text}"
    );
}

#[test]
fn the_report_of_a_running_run_and_of_a_drill_without_tabletop() {
    let mut drill = drill();
    let mut run = the_run(&drill).clone();
    run.result = RunResult::Running;
    run.finished_at = None;
    run.target = None;
    run.steps.clear();
    let text = report(&drill, &run, ts("2026-12-08T09:00:10Z"));
    assert!(text.contains("  finished:      - (running)"), "{text}");
    assert!(text.contains("  version:       -"), "{text}");
    assert!(text.contains("(none recorded yet)"), "{text}");
    assert!(
        text.contains("still owed by: application once the run finishes (within 72h)"),
        "{text}"
    );
    assert!(
        !text.contains("review it:"),
        "no review of a running run: {text}"
    );
    // A run that failed before its target was resolved has nothing to review.
    run.result = RunResult::Failed;
    run.finished_at = Some(Time(ts("2026-12-08T09:00:01Z")));
    let text = report(&drill, &run, ts("2026-12-08T09:00:10Z"));
    assert!(
        text.contains("nothing to review: the run rehearsed no version"),
        "{text}"
    );
    assert!(!text.contains("review it:"), "{text}");
    drill.spec.tabletop = None;
    let text = report(&drill, &run, ts("2026-12-08T09:00:10Z"));
    assert!(text.contains("Tabletop: none (spec.tabletop)"), "{text}");
}

#[test]
fn report_chooses_the_newest_run_or_the_one_named() {
    let drill = drill();
    assert_eq!(choose(&drill, None).unwrap().id, "20261208-090000");
    assert_eq!(
        choose(&drill, Some("20261208-090000")).unwrap().id,
        "20261208-090000"
    );
    let err = choose(&drill, Some("20991231-000000")).unwrap_err();
    assert!(
        err.0
            .contains("has no run 20991231-000000; the runs it keeps: 20261208-090000"),
        "{err}"
    );
    let never = drill_with(json!({}));
    let err = choose(&never, None).unwrap_err();
    assert!(
        err.0
            .contains("has not run yet: kubectl accord drill run weekly"),
        "{err}"
    );
}

#[test]
fn a_step_line_reads_as_a_row() {
    let mut step = DrillStep {
        name: StepName::Smoke,
        result: StepResult::Failed,
        duration: Some("1.2s".into()),
        message: Some("GET / on port 8080 answered 503, expected 200".into()),
        at: Time(jiff::Timestamp::UNIX_EPOCH),
    };
    assert_eq!(
        step_line(&step),
        "  Smoke              Failed     1.2s  GET / on port 8080 answered 503, expected 200"
    );
    step.duration = None;
    step.message = None;
    step.result = StepResult::Skipped;
    assert_eq!(step_line(&step), "  Smoke              Skipped");
}

/// The drill as the operator writes it while answering the request
/// `2026-12-08T09:00:00Z`: the run with `steps` of [`finished_run`], and `result`.
fn answering(steps: usize, result: &str) -> RollbackDrill {
    let mut run = finished_run();
    run["steps"] = json!(run["steps"].as_array().unwrap()[..steps]);
    run["result"] = json!(result);
    drill_with(json!({"lastRunRequest": "2026-12-08T09:00:00Z", "runs": [run]}))
}

#[test]
fn follow_prints_the_run_then_each_new_step_then_the_result() {
    let mut follow = Follow::new("2026-12-08T09:00:00Z");
    // The operator has not answered yet: an earlier request's run is not ours.
    let mut earlier = drill();
    earlier.status.as_mut().unwrap().last_run_request = Some("2026-12-01T09:00:00Z".into());
    assert_eq!(follow.observe(&earlier), (String::new(), None));
    let (text, done) = follow.observe(&answering(1, "Running"));
    assert_eq!(
        text,
        "run 20261208-090000 (requested by bob) rehearses 2.3.1:\n  Ready              Passed      41s  1 of 1 pods were Ready after 41s\n"
    );
    assert!(done.is_none());
    assert_eq!(
        follow.observe(&answering(1, "Running")),
        (String::new(), None),
        "nothing new"
    );
    let (text, done) = follow.observe(&answering(2, "Passed"));
    assert_eq!(
        text,
        "  TargetResolved     Passed     0.1s  2.3.1 is in the history and its seal verifies\nPassed: rehearsed a rollback to 2.3.1: Ready in 41s, every step passed\n"
    );
    assert_eq!(done.map(|r| outcome_of(&r)), Some(Outcome::Passed));
}

#[test]
fn follow_waits_for_a_run_in_progress_and_ignores_runs_before_the_request() {
    let mut follow = Follow::new("2026-12-15T09:00:05Z");
    let mut running = finished_run();
    running["id"] = json!("20261215-090000");
    running["trigger"] = json!("Schedule");
    running["result"] = json!("Running");
    let busy = drill_with(json!({"lastRunRequest": "2026-12-08T09:00:00Z", "runs": [running]}));
    let (text, _) = follow.observe(&busy);
    assert_eq!(
        text,
        "waiting: run 20261215-090000 (Schedule) is still going, and a drill runs one run at a time\n"
    );
    assert_eq!(follow.observe(&busy).0, "", "said once");
    // The request recorded, but the only requested run started long before it (the
    // same value written twice, a week apart): not ours.
    let stale =
        drill_with(json!({"lastRunRequest": "2026-12-15T09:00:05Z", "runs": [finished_run()]}));
    assert!(follow.answering(&stale).is_none());
    // A run a few seconds before the request (the operator's clock behind) is.
    let mut skewed = finished_run();
    skewed["startedAt"] = json!("2026-12-15T09:00:01Z");
    let skewed = drill_with(json!({"lastRunRequest": "2026-12-15T09:00:05Z", "runs": [skewed]}));
    assert_eq!(follow.answering(&skewed).unwrap().id, "20261208-090000");
}

#[test]
fn exit_codes_say_how_the_run_ended() {
    assert_eq!(exit_code(Outcome::Passed), 0);
    assert_eq!(exit_code(Outcome::Requested), 0);
    assert_eq!(exit_code(Outcome::Failed), EXIT_FAILED);
    assert_eq!(exit_code(Outcome::TimedOut), EXIT_TIMED_OUT);
    assert_eq!(
        (EXIT_FAILED, EXIT_TIMED_OUT),
        (3, 4),
        "documented in docs/plugin.md"
    );
    let mut failed = the_run(&drill()).clone();
    failed.result = RunResult::Failed;
    failed.steps[0].result = StepResult::Failed;
    assert_eq!(outcome_of(&failed), Outcome::Failed);
    assert_eq!(
        follow::failed_text("weekly", "payments", &failed),
        "run 20261208-090000 of RollbackDrill payments/weekly failed at Ready; the report: kubectl accord drill report weekly -n payments --run 20261208-090000"
    );
}

#[test]
fn a_review_names_the_run_its_target_version_and_the_item() {
    let review = review(
        &drill(),
        "weekly/20261208-090000",
        "fraud-scorer",
        Some("https://wiki/x".into()),
        None,
    )
    .unwrap();
    assert_eq!(review.spec.item, "drill-review");
    assert_eq!(review.spec.version, "2.3.1");
    assert_eq!(review.spec.drill.as_deref(), Some("weekly/20261208-090000"));
    assert_eq!(review.spec.evidence.as_deref(), Some("https://wiki/x"));
    assert_eq!(review.metadata.namespace.as_deref(), Some("payments"));
    assert!(review.spec.attested_by.is_none(), "the webhook records who");
    assert!(review.spec.candidate.is_none() && review.spec.incident.is_none());
    let err = super::review(
        &drill(),
        "weekly/20991231-000000",
        "fraud-scorer",
        None,
        None,
    )
    .unwrap_err();
    assert!(err.0.contains("has no run 20991231-000000"), "{err}");
    let err = super::review(&drill(), "weekly/20261208-090000", "other", None, None).unwrap_err();
    assert!(
        err.0
            .contains("rehearses ModelDeployment fraud-scorer, not other"),
        "{err}"
    );
    for bad in ["weekly", "weekly/", "/20261208-090000"] {
        let err = super::review(&drill(), bad, "fraud-scorer", None, None).unwrap_err();
        assert!(err.0.contains("DRILL/RUN"), "{bad}: {err}");
    }
    let running = answering(1, "Running");
    let err = super::review(
        &running,
        "weekly/20261208-090000",
        "fraud-scorer",
        None,
        None,
    )
    .unwrap_err();
    assert!(err.0.contains("is still running"), "{err}");
}
