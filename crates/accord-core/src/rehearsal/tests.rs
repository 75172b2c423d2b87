use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use serde_json::json;

use super::*;
use crate::{
    api::{HistoryOutcome, RollbackDrillStatus, Serving},
    testing::{attestation, md, team},
};

fn at(text: &str) -> Time {
    Time(text.parse().unwrap())
}

fn drill_of(spec: serde_json::Value) -> RollbackDrill {
    let mut spec = spec;
    spec["modelDeployment"] = json!("fraud-scorer");
    let mut drill: RollbackDrill = serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
        "metadata": {"name": "weekly", "namespace": "payments", "uid": "drill-uid",
                     "creationTimestamp": "2026-12-01T08:00:00Z"},
        "spec": spec,
    }))
    .unwrap();
    drill.status = None;
    drill
}

/// A Verifier whose seals verify except for entries of `forged` versions.
struct Seals {
    forged: Vec<&'static str>,
}

impl Verifier for Seals {
    fn reject(&self, attestation: &Attestation) -> Option<String> {
        (attestation
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("forged"))
            .is_some())
        .then(|| "its seal does not verify".into())
    }
    fn candidate_author(&self, _: &ModelDeployment, _: &str) -> crate::trust::Author {
        crate::trust::Author::Unchecked
    }
    fn seal_history(&self, _: &ModelDeployment, _: &HistoryEntry) -> Option<String> {
        None
    }
    fn history_verifies(&self, _: &ModelDeployment, entry: &HistoryEntry) -> bool {
        !self.forged.contains(&entry.version.as_str())
    }
}

fn entry(version: &str, available: bool) -> HistoryEntry {
    serde_json::from_value(json!({
        "version": version, "image": format!("registry.example.com/fraud-scorer:{version}"),
        "fingerprint": format!("sha256:{version}"), "outcome": "Promoted",
        "at": "2026-11-01T00:00:00Z", "reason": "Promoted",
    }))
    .map(|mut e: HistoryEntry| {
        e.outcome = HistoryOutcome::Promoted;
        e.available_at = available.then(|| at("2026-11-01T00:05:00Z"));
        e
    })
    .unwrap()
}

fn with_history(entries: Vec<HistoryEntry>) -> ModelDeployment {
    let mut md = md("3.0.0");
    md.metadata.namespace = Some("payments".into());
    md.status.get_or_insert_default().history = entries;
    md
}

#[test]
fn run_ids_and_workload_names_are_dns_labels() {
    assert_eq!(
        run_id("2026-12-08T10:00:07Z".parse().unwrap()),
        "20261208-100007"
    );
    assert_eq!(
        workload_name("fraud-scorer", "20261208-100007"),
        "fraud-scorer-drill-20261208-100007"
    );
    let long = "a".repeat(60);
    let name = workload_name(&long, "20261208-100007");
    assert!(
        name.len() <= 63 && name.ends_with("-drill-20261208-100007"),
        "{name}"
    );
    assert_eq!(
        name,
        workload_name(&long, "20261208-100007"),
        "deterministic"
    );
    assert_ne!(name, workload_name(&"b".repeat(60), "20261208-100007"));
    let digit = workload_name("1model", "20261208-100007");
    assert!(digit.starts_with('d') && digit.len() <= 63, "{digit}");
}

#[test]
fn a_request_then_the_latest_missed_firing_then_one_run_on_creation() {
    let now: jiff::Timestamp = "2026-12-08T10:30:00Z".parse().unwrap();
    let mut requested = drill_of(json!({"target": "PreviousKnownGood"}));
    requested.metadata.annotations = Some(BTreeMap::from([
        (
            labels::RUN_REQUESTED_AT.to_string(),
            "2026-12-08T10:29:00Z".to_string(),
        ),
        (labels::RUN_REQUESTED_BY.to_string(), "bob".to_string()),
    ]));
    let due_now = due(&requested, None, now).unwrap();
    assert_eq!(
        (due_now.trigger, due_now.requested_by.as_deref()),
        (TRIGGER_REQUEST, Some("bob"))
    );
    requested.status = Some(RollbackDrillStatus {
        last_run_request: Some("2026-12-08T10:29:00Z".into()),
        last_run: Some("x".into()),
        ..Default::default()
    });
    assert_eq!(due(&requested, None, now), None, "answered already");

    let hourly = drill_of(json!({"target": "PreviousKnownGood", "schedule": "0 * * * *"}));
    let schedule = Schedule::parse("0 * * * *", None).unwrap();
    // Created 08:00 on Dec 1; many firings missed: the latest one runs, once.
    let fired = due(&hourly, Some(&schedule), now).unwrap();
    assert_eq!(fired.trigger, TRIGGER_SCHEDULE);
    assert_eq!(
        fired.schedule_time,
        Some("2026-12-08T10:00:00Z".parse().unwrap())
    );
    let mut ran = hourly.clone();
    ran.status = Some(RollbackDrillStatus {
        last_schedule_time: Some(at("2026-12-08T10:00:00Z")),
        ..Default::default()
    });
    assert_eq!(due(&ran, Some(&schedule), now), None, "not before 11:00");

    let once = drill_of(json!({"target": "PreviousKnownGood"}));
    assert_eq!(due(&once, None, now).unwrap().trigger, TRIGGER_CREATE);
    let mut once_ran = once;
    once_ran.status = Some(RollbackDrillStatus {
        last_run: Some("20261208-100000".into()),
        ..Default::default()
    });
    assert_eq!(due(&once_ran, None, now), None);
}

#[test]
fn the_previous_known_good_is_the_newest_earlier_available_other_version() {
    let seals = Seals { forged: vec![] };
    let md = with_history(vec![
        entry("1.0.0", true),
        entry("2.0.0", false),
        entry("2.5.0", true),
        entry("3.0.0", true),
    ]);
    let resolved = resolve_target(
        &drill_of(json!({"target": "PreviousKnownGood"})),
        &md,
        &seals,
    )
    .unwrap();
    assert_eq!(resolved.target.version, "2.5.0");
    assert_eq!(
        resolved.target.image.as_deref(),
        Some("registry.example.com/fraud-scorer:2.5.0")
    );
    let named = resolve_target(
        &drill_of(json!({"target": {"version": "1.0.0"}})),
        &md,
        &seals,
    )
    .unwrap();
    assert_eq!(named.entry.version, "1.0.0");
    let missing = resolve_target(
        &drill_of(json!({"target": {"version": "9.9.9"}})),
        &md,
        &seals,
    )
    .unwrap_err();
    assert!(
        missing.contains("version 9.9.9 is not in the history"),
        "{missing}"
    );
    let alone = with_history(vec![entry("3.0.0", true)]);
    let err = resolve_target(
        &drill_of(json!({"target": "PreviousKnownGood"})),
        &alone,
        &seals,
    )
    .unwrap_err();
    assert!(err.contains("promote a second version first"), "{err}");
    let altered = Seals {
        forged: vec!["2.5.0"],
    };
    let err = resolve_target(
        &drill_of(json!({"target": "PreviousKnownGood"})),
        &md,
        &altered,
    )
    .unwrap_err();
    assert!(err.contains("does not carry a valid seal"), "{err}");
}

#[test]
fn a_drill_runs_the_recorded_shape_with_only_its_own_labels() {
    let mut target = entry("2.5.0", true);
    let template = json!({"metadata": {"labels": {"app": "fraud", "accord.dev/instance": "fraud-scorer"}},
        "spec": {"containers": [{"name": "model", "image": "registry.example.com/fraud-scorer:2.5.0"}]}});
    target.serving = Some(Serving {
        template: Some(serde_json::from_value(template).unwrap()),
        ..serde_json::from_value(json!({"replicas": 3})).unwrap()
    });
    let md = with_history(vec![target.clone(), entry("3.0.0", true)]);
    let drill = drill_of(
        json!({"target": "PreviousKnownGood", "replicas": 2, "smoke": {"path": "/healthz", "port": 8080}}),
    );
    let resolved = resolve_target(&drill, &md, &Seals { forged: vec![] }).unwrap();
    let deployment = drill_deployment(&drill, &md, &resolved, "20261208-100000");
    assert_eq!(
        deployment.metadata.name.as_deref(),
        Some("fraud-scorer-drill-20261208-100000")
    );
    let owner = &deployment.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("RollbackDrill", "drill-uid", Some(true))
    );
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
    assert!(
        !pod_labels.contains_key("app") && !pod_labels.contains_key(labels::INSTANCE),
        "{pod_labels:?}"
    );
    assert_eq!(pod_labels[labels::DRILL], "weekly");
    assert_eq!(pod_labels[labels::DRILL_RUN], "20261208-100000");
    assert_eq!(
        spec.selector.match_labels.unwrap(),
        run_selector(&drill, "20261208-100000")
    );
    let image = spec.template.spec.unwrap().containers[0].image.clone();
    assert_eq!(
        image.as_deref(),
        Some("registry.example.com/fraud-scorer:2.5.0")
    );
    let service = drill_service(&drill, &md, "20261208-100000")
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(
        service.selector.unwrap(),
        run_selector(&drill, "20261208-100000")
    );
    assert_eq!(service.ports.unwrap()[0].port, 8080);
    let no_smoke = drill_of(json!({"target": "PreviousKnownGood"}));
    assert!(drill_service(&no_smoke, &md, "20261208-100000").is_none());
}

fn pod(scheduled: (&str, Option<&str>), ready: bool) -> Pod {
    let condition = |kind: &str, status: &str, message: Option<&str>| PodCondition {
        type_: kind.into(),
        status: status.into(),
        message: message.map(String::from),
        ..Default::default()
    };
    let mut pod = Pod::default();
    pod.metadata.name = Some("p1".into());
    pod.status = Some(PodStatus {
        conditions: Some(vec![
            condition("PodScheduled", scheduled.0, scheduled.1),
            condition("Ready", if ready { "True" } else { "False" }, None),
        ]),
        ..Default::default()
    });
    pod
}

fn running() -> DrillRun {
    serde_json::from_value(json!({"id": "20261208-100000", "trigger": "Schedule",
        "startedAt": "2026-12-08T10:00:00Z", "result": "Running",
        "target": {"version": "2.5.0"}, "steps": []}))
    .unwrap()
}

#[test]
fn scheduled_then_ready_and_at_the_deadline_the_schedulers_words() {
    let mut run = running();
    let deadline = Duration::from_secs(60);
    let early = at("2026-12-08T10:00:10Z");
    assert!(matches!(
        advance(
            &mut run,
            1,
            &observe_pods(&[pod(("True", None), false)]),
            deadline,
            &early
        ),
        Next::Wait(_)
    ));
    assert_eq!(
        run.step(StepName::Scheduled).unwrap().result,
        StepResult::Passed
    );
    let ready_at = at("2026-12-08T10:00:41Z");
    assert_eq!(
        advance(
            &mut run,
            1,
            &observe_pods(&[pod(("True", None), true)]),
            deadline,
            &ready_at
        ),
        Next::Smoke
    );
    assert_eq!(run.time_to_ready.as_deref(), Some("41s"));

    let mut stuck = running();
    let refused = "0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector";
    let pods = [pod(("False", Some(refused)), false)];
    let late = at("2026-12-08T10:01:01Z");
    assert_eq!(
        advance(&mut stuck, 1, &observe_pods(&pods), deadline, &late),
        Next::GiveUp
    );
    for name in [StepName::Scheduled, StepName::Ready] {
        let step = stuck.step(name).unwrap();
        assert_eq!(step.result, StepResult::Failed);
        assert!(
            step.message.as_deref().unwrap().contains(refused),
            "{step:?}"
        );
    }
}

#[test]
fn smoke_rights_and_the_result() {
    let now = at("2026-12-08T10:01:00Z");
    let smoke = drill_of(
        json!({"target": "PreviousKnownGood", "smoke": {"path": "/healthz", "port": 8080}}),
    );
    let took = Duration::from_millis(100);
    assert_eq!(
        judge_smoke(&smoke, Ok((200, String::new())), took, &now).result,
        StepResult::Passed
    );
    let bad = judge_smoke(&smoke, Ok((503, "upstream down".into())), took, &now);
    assert!(
        bad.result == StepResult::Failed
            && bad
                .message
                .as_deref()
                .unwrap()
                .contains("answered 503, expected 200: upstream down")
    );
    let none = judge_smoke(&smoke, Err("connection refused".into()), took, &now);
    assert!(
        none.message
            .as_deref()
            .unwrap()
            .contains("got no answer: connection refused")
    );
    let skipped = judge_smoke(
        &drill_of(json!({"target": "PreviousKnownGood"})),
        Err("x".into()),
        took,
        &now,
    );
    assert_eq!(skipped.result, StepResult::Skipped);

    let model = with_history(vec![]);
    assert!(
        rollback_rights(&model, None, &now)
            .message
            .unwrap()
            .contains("does not exist")
    );
    let empty = team("ml-platform", &[], &[]);
    let rights = rollback_rights(&model, Some(&empty), &now);
    assert!(
        rights.result == StepResult::Failed
            && rights
                .message
                .unwrap()
                .contains("add a member to Team ml-platform")
    );
    assert_eq!(
        rollback_rights(&model, Some(&team("ml-platform", &["bob"], &[])), &now).result,
        StepResult::Passed
    );

    let mut run = running();
    run.steps.push(bad.clone());
    run.steps.push(step(
        StepName::TargetResolved,
        StepResult::Passed,
        "ok",
        None,
        &now,
    ));
    finish(&mut run, &now);
    let names: Vec<StepName> = run.steps.iter().map(|s| s.name).collect();
    assert_eq!(names, StepName::ALL);
    assert_eq!(run.result, RunResult::Failed);
    assert!(
        run.message
            .as_deref()
            .unwrap()
            .starts_with("failed at Smoke"),
        "{:?}",
        run.message
    );
    assert_eq!(
        run.step(StepName::CleanedUp).unwrap().result,
        StepResult::Skipped
    );
}

#[test]
fn reviews_count_per_role_only_for_their_own_run_version_and_seal() {
    let drill = drill_of(json!({"target": "PreviousKnownGood",
        "tabletop": {"acknowledge": ["platform", "application"], "within": "72h"}}));
    let mut run = running();
    run.finished_at = Some(at("2026-12-08T10:02:00Z"));
    let model = with_history(vec![]);
    let teams = |name: &str| match name {
        "ml-platform" => Some(Arc::new(team("ml-platform", &["bob"], &[]))),
        "payments-app" => Some(Arc::new(team("payments-app", &["carol"], &[]))),
        _ => None,
    };
    let review = |name: &str, user: &str, reference: &str, version: &str| {
        let mut a = attestation(name, "drill-review", version, user, &[]);
        a.metadata.namespace = Some("payments".into());
        a.spec.drill = Some(reference.into());
        a
    };
    let mut forged = review("forged", "carol", "weekly/20261208-100000", "2.5.0");
    forged.metadata.annotations = Some(BTreeMap::from([("forged".to_string(), "yes".to_string())]));
    let all = [
        review("by-mallory", "mallory", "weekly/20261208-100000", "2.5.0"),
        review("replayed", "carol", "weekly/20261201-100000", "2.5.0"),
        review("wrong-version", "carol", "weekly/20261208-100000", "3.0.0"),
        forged,
        review("by-bob", "bob", "weekly/20261208-100000", "2.5.0"),
    ];
    let refs: Vec<&Attestation> = all.iter().collect();
    let seals = Seals { forged: vec![] };
    let counted = acknowledgements(&drill, &run, &model, &refs, &teams, &seals);
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(
        (counted[0].role, counted[0].user.as_str()),
        (Role::Platform, "bob")
    );
    run.acknowledged_by = counted;
    assert_eq!(missing_roles(&drill, &run), [Role::Application]);
    assert_eq!(
        review_due(&drill, &run),
        Some("2026-12-11T10:02:00Z".parse().unwrap())
    );
    let carol = review("by-carol", "carol", "weekly/20261208-100000", "2.5.0");
    let both: Vec<&Attestation> = refs.iter().copied().chain([&carol]).collect();
    assert_eq!(
        acknowledgements(&drill, &run, &model, &both, &teams, &seals).len(),
        2
    );
    let no_tabletop = drill_of(json!({"target": "PreviousKnownGood"}));
    assert!(acknowledgements(&no_tabletop, &run, &model, &both, &teams, &seals).is_empty());
}

#[test]
fn the_images_a_rollback_would_pull_are_each_checked_once() {
    let mut target = entry("2.5.0", true);
    let template = json!({"spec": {
        "initContainers": [{"name": "fetch", "image": "registry.example.com/fetch:1"}],
        "containers": [
            {"name": "model", "image": "registry.example.com/fraud-scorer:2.5.0"},
            {"name": "sidecar", "image": "registry.example.com/fetch:1"}]}});
    target.serving = Some(Serving {
        template: Some(serde_json::from_value(template).unwrap()),
        ..serde_json::from_value(json!({"replicas": 1})).unwrap()
    });
    let md = with_history(vec![target, entry("3.0.0", true)]);
    let drill = drill_of(json!({"target": "PreviousKnownGood"}));
    let resolved = resolve_target(&drill, &md, &Seals { forged: vec![] }).unwrap();
    assert_eq!(
        images(&resolved, &md),
        [
            "registry.example.com/fetch:1",
            "registry.example.com/fraud-scorer:2.5.0"
        ]
    );
}

#[test]
fn image_present_passes_only_when_every_image_is_there_and_says_what_to_do() {
    let now = at("2026-12-08T10:00:00Z");
    let took = Duration::from_millis(120);
    let pinned = "r.example.com/fraud@sha256:aaaa".to_string();
    let tagged = "r.example.com/fraud:2.5.0".to_string();
    let present = |digest: &str| ImageCheck::Present {
        digest: Some(digest.into()),
    };

    let passed = image_present(
        "2.5.0",
        &[
            (pinned.clone(), present("sha256:aaaa")),
            (tagged.clone(), present("sha256:bbbb")),
        ],
        took,
        &now,
    );
    assert_eq!(passed.result, StepResult::Passed);
    let message = passed.message.unwrap();
    assert!(
        message.contains("r.example.com/fraud@sha256:aaaa,"),
        "{message}"
    );
    assert!(!message.contains("aaaa (now"), "{message}");
    assert!(
        message.contains("r.example.com/fraud:2.5.0 (now sha256:bbbb)"),
        "a tag says what it resolves to now: {message}"
    );
    assert_eq!(passed.duration.as_deref(), Some("0.1s"));

    let missing = image_present(
        "2.5.0",
        &[
            (pinned.clone(), present("sha256:aaaa")),
            (
                tagged.clone(),
                ImageCheck::Missing("no manifest 2.5.0".into()),
            ),
        ],
        took,
        &now,
    );
    assert_eq!(missing.result, StepResult::Failed);
    let message = missing.message.unwrap();
    assert!(
        message.contains("r.example.com/fraud:2.5.0 is gone from its registry (no manifest 2.5.0)")
            && message.contains("could not pull it")
            && !message.contains("sha256:aaaa"),
        "{message}"
    );

    let unanswered = image_present(
        "2.5.0",
        &[(pinned, ImageCheck::Unanswered("401".into()))],
        took,
        &now,
    );
    assert_eq!(unanswered.result, StepResult::Failed);
    assert!(
        unanswered
            .message
            .unwrap()
            .contains("--drill-registry-secret"),
        "an unproven claim fails and names where credentials come from"
    );

    let none = image_present("2.5.0", &[], took, &now);
    assert_eq!(none.result, StepResult::Failed);
    let skipped = image_present_not_checked(&now);
    assert_eq!(
        (skipped.name, skipped.result),
        (StepName::ImagePresent, StepResult::Skipped)
    );
}
