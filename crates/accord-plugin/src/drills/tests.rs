use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::*;
use crate::api::{Acknowledgement, DrillStep, Role, StepName, StepResult};

fn drill() -> RollbackDrill {
    serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
        "metadata": {"name": "weekly", "namespace": "payments"},
        "spec": {"modelDeployment": "fraud-scorer", "schedule": "0 10 * * 2", "timeZone": "Europe/Berlin",
                 "target": "PreviousKnownGood",
                 "tabletop": {"acknowledge": ["platform", "application"], "within": "72h"}},
        "status": {
            "lastSuccess": "2026-12-08T09:01:00Z",
            "nextRunAt": "2026-12-15T09:00:00Z",
            "runs": [{
                "id": "20261208-090000", "trigger": "Schedule", "startedAt": "2026-12-08T09:00:00Z",
                "finishedAt": "2026-12-08T09:01:00Z", "result": "Passed", "timeToReady": "41s",
                "workload": "fraud-scorer-drill-20261208-090000",
                "target": {"version": "2.3.1", "image": "registry.example.com/fraud-scorer:2.3.1"},
                "message": "rehearsed a rollback to 2.3.1: Ready in 41s, every step passed",
                "steps": [{"name": "Ready", "result": "Passed", "duration": "41s",
                           "message": "1 of 1 pods were Ready after 41s", "at": "2026-12-08T09:00:41Z"}],
                "acknowledgedBy": [{"role": "platform", "user": "bob", "team": "ml-platform", "attestation": "r1"}]
            }]
        }
    }))
    .unwrap()
}

#[test]
fn the_list_shows_schedule_last_run_success_and_who_reviewed() {
    let now: jiff::Timestamp = "2026-12-09T09:01:00Z".parse().unwrap();
    let rows = view(&[drill()], now);
    assert_eq!(rows[0].schedule, "0 10 * * 2 (Europe/Berlin)");
    assert_eq!(rows[0].target, "PreviousKnownGood");
    assert_eq!(rows[0].last_run, "20261208-090000 Passed");
    assert_eq!(rows[0].last_success, "24h ago");
    assert_eq!(rows[0].acknowledged, "platform ✓ application ✗");
    let table = text(&rows, true);
    assert!(
        table.starts_with("NAMESPACE") && table.contains("weekly") && table.contains("REVIEWED"),
        "{table}"
    );
}

#[test]
fn the_report_names_each_step_and_how_to_give_the_missing_review() {
    let drill = drill();
    let run = &drill.status.as_ref().unwrap().runs[0];
    let text = report(&drill, run);
    assert!(
        text.contains("run 20261208-090000 (Schedule): Passed"),
        "{text}"
    );
    assert!(
        text.contains("rehearsed: 2.3.1 (registry.example.com/fraud-scorer:2.3.1)"),
        "{text}"
    );
    assert!(
        text.contains("Ready              Passed      41s  1 of 1 pods were Ready after 41s"),
        "{text}"
    );
    assert!(
        text.contains("bob reviewed for platform (team ml-platform, attestation r1)"),
        "{text}"
    );
    assert!(
        text.contains("still owed by: application (within 72h"),
        "{text}"
    );
    assert!(
        text.contains("kubectl accord attest fraud-scorer --drill weekly/20261208-090000"),
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
    assert!(!report(&drill, &done).contains("still owed"));
}

#[test]
fn a_step_line_reads_as_a_row() {
    let step = DrillStep {
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
    assert_eq!(review.metadata.namespace.as_deref(), Some("payments"));
    assert!(review.spec.attested_by.is_none(), "the webhook records who");
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
    let err = super::review(&drill(), "weekly", "fraud-scorer", None, None).unwrap_err();
    assert!(err.0.contains("DRILL/RUN"), "{err}");
}
