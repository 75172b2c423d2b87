use std::collections::BTreeMap;

use serde_json::json;

use super::{
    super::fixtures::{allowed, apply_patch, denied, teams, user},
    *,
};
use crate::{
    api::{RollbackDrill, labels},
    testing::md,
};

fn rights() -> Rights {
    Rights {
        admin_groups: vec!["accord-admins".into()],
        operator_identities: vec!["system:serviceaccount:accord-system:accord-operator".into()],
        gitops_identities: vec![],
    }
}

fn drill(spec: serde_json::Value) -> RollbackDrill {
    let mut spec = spec;
    spec["modelDeployment"] = json!("fraud-scorer");
    serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
        "metadata": {"name": "weekly", "namespace": "payments"},
        "spec": spec,
    }))
    .unwrap()
}

fn valid() -> RollbackDrill {
    drill(
        json!({"target": "PreviousKnownGood", "schedule": "0 10 * * 2", "timeZone": "Europe/Berlin",
                 "tabletop": {"acknowledge": ["platform", "application"]}}),
    )
}

fn bob() -> Requester {
    user("bob", &["ml-platform-eng"])
}

fn judge(old: Option<&RollbackDrill>, new: Option<&RollbackDrill>, who: &Requester) -> Verdict {
    let mut model = md("2.4.0");
    model.metadata.namespace = Some("payments".into());
    let rights = rights();
    let cx = Context {
        md: Some(&model),
        team: &teams,
        rights: &rights,
    };
    validate(old, new, who, &cx)
}

#[test]
fn only_the_platform_team_creates_changes_or_deletes_a_drill() {
    let new = valid();
    assert_eq!(judge(None, Some(&new), &bob()), Verdict::allow());
    for who in [user("carol", &[]), user("mallory", &[])] {
        let message = denied(judge(None, Some(&new), &who));
        assert!(
            message.contains(&format!(
                "{} may not create RollbackDrill payments/weekly",
                who.username
            )) && message.contains("platform Team ml-platform"),
            "{message}"
        );
    }
    let mut changed = new.clone();
    changed.spec.replicas = 3;
    assert!(
        denied(judge(Some(&new), Some(&changed), &user("carol", &[]))).contains("may not change")
    );
    assert_eq!(judge(Some(&new), Some(&changed), &bob()), Verdict::allow());
    assert!(denied(judge(Some(&new), None, &user("mallory", &[]))).contains("may not delete"));
    assert_eq!(judge(Some(&new), None, &bob()), Verdict::allow());
    assert_eq!(
        judge(Some(&new), None, &user("root", &["system:masters"])),
        Verdict::allow()
    );
    assert_eq!(
        judge(
            Some(&new),
            None,
            &user(
                "system:serviceaccount:kube-system:generic-garbage-collector",
                &[]
            )
        ),
        Verdict::allow()
    );
}

#[test]
fn a_drill_of_a_missing_model_or_moved_to_another_is_refused_naming_the_field() {
    let rights = rights();
    let cx = Context {
        md: None,
        team: &teams,
        rights: &rights,
    };
    let message = denied(validate(None, Some(&valid()), &bob(), &cx));
    assert!(
        message.starts_with(
            "spec.modelDeployment: ModelDeployment payments/fraud-scorer does not exist"
        ),
        "{message}"
    );
    let mut moved = valid();
    moved.spec.model_deployment = "other".into();
    let message = denied(judge(Some(&valid()), Some(&moved), &bob()));
    assert!(
        message.contains("spec.modelDeployment is immutable"),
        "{message}"
    );
}

#[test]
fn the_target_schedule_zone_and_durations_are_judged_with_the_field_named() {
    for (spec, field) in [
        (
            json!({"target": {"version": "1.0.0", "template": {"metadata": {"labels": {"accord.dev/instance": "fraud-scorer"}}}}}),
            "spec.target",
        ),
        (
            json!({"target": {"version": "1.0.0", "name": "fraud-scorer"}}),
            "spec.target",
        ),
        (json!({"target": "LatestBuild"}), "spec.target"),
        (json!({"target": {"version": " "}}), "spec.target.version"),
        (
            json!({"target": "PreviousKnownGood", "schedule": "61 * * * *"}),
            "spec.schedule",
        ),
        (
            json!({"target": "PreviousKnownGood", "schedule": "@reboot"}),
            "spec.schedule",
        ),
        (
            json!({"target": "PreviousKnownGood", "schedule": "0 10 * * 2", "timeZone": "Mars/Olympus"}),
            "spec.timeZone",
        ),
        (
            json!({"target": "PreviousKnownGood", "timeZone": "Mars/Olympus"}),
            "spec.timeZone",
        ),
        (
            json!({"target": "PreviousKnownGood", "deadline": "0s"}),
            "spec.deadline",
        ),
        (
            json!({"target": "PreviousKnownGood", "tabletop": {"acknowledge": ["platform"], "within": "0h"}}),
            "spec.tabletop.within",
        ),
    ] {
        let message = denied(judge(None, Some(&drill(spec.clone())), &bob()));
        assert!(message.contains(field), "{spec}: {message}");
    }
    assert_eq!(
        judge(
            None,
            Some(&drill(json!({"target": {"version": "1.0.0"}}))),
            &bob()
        ),
        Verdict::allow()
    );
}

fn requested(drill: &RollbackDrill, at: &str, by: Option<&str>) -> RollbackDrill {
    let mut drill = drill.clone();
    let mut annotations = BTreeMap::from([(labels::RUN_REQUESTED_AT.to_string(), at.to_string())]);
    if let Some(by) = by {
        annotations.insert(labels::RUN_REQUESTED_BY.into(), by.into());
    }
    drill.metadata.annotations = Some(annotations);
    drill
}

#[test]
fn a_run_request_records_who_asked_from_the_request_and_nobody_writes_it_by_hand() {
    let old = valid();
    // bob asks, claiming to be alice: the webhook writes bob.
    let asked = requested(&old, "2026-12-05T10:00:00Z", Some("alice"));
    let patched: RollbackDrill = apply_patch(&asked, &allowed(mutate(Some(&old), &asked, &bob())));
    assert_eq!(
        patched.metadata.annotations.as_ref().unwrap()[labels::RUN_REQUESTED_BY],
        "bob"
    );
    assert_eq!(judge(Some(&old), Some(&patched), &bob()), Verdict::allow());
    // Without the mutating hook's patch, the validating hook refuses the forged name.
    assert!(denied(judge(Some(&old), Some(&asked), &bob())).contains(labels::RUN_REQUESTED_BY));
    // Changing only who asked, later: put back as recorded.
    let forged = requested(&patched, "2026-12-05T10:00:00Z", Some("carol"));
    let back: RollbackDrill =
        apply_patch(&forged, &allowed(mutate(Some(&patched), &forged, &bob())));
    assert_eq!(
        back.metadata.annotations.as_ref().unwrap()[labels::RUN_REQUESTED_BY],
        "bob"
    );
    // Only the platform Team asks for a run.
    let message = denied(judge(
        Some(&old),
        Some(&requested(&old, "2026-12-05T11:00:00Z", Some("mallory"))),
        &user("mallory", &[]),
    ));
    assert!(message.contains("may not request a run of"), "{message}");
}

#[test]
fn status_is_the_operators_and_bookkeeping_needs_no_team() {
    let mut operator = valid();
    operator.spec.replicas = 2;
    let op = user("system:serviceaccount:accord-system:accord-operator", &[]);
    assert_eq!(
        judge(Some(&valid()), Some(&operator), &op),
        Verdict::allow()
    );
    // A finalizer or owner reference added by Kubernetes: nothing a person asked for.
    let mut bookkeeping = valid();
    bookkeeping.metadata.finalizers = Some(vec!["foregroundDeletion".into()]);
    assert_eq!(
        judge(Some(&valid()), Some(&bookkeeping), &user("someone", &[])),
        Verdict::allow()
    );
}

mod reviews {
    use super::*;
    use crate::{
        admission::{attestation::create_drill_review, fixtures::request},
        api::{DrillRun, RunResult, RunTarget},
        seal::SealKeys,
    };

    fn ran(result: RunResult) -> RollbackDrill {
        let mut drill = valid();
        let at = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH);
        drill.status = Some(crate::api::RollbackDrillStatus {
            runs: vec![DrillRun {
                id: "20261208-090000".into(),
                trigger: "Schedule".into(),
                requested_by: None,
                started_at: at.clone(),
                finished_at: (result != RunResult::Running).then_some(at),
                target: Some(RunTarget {
                    version: "2.3.1".into(),
                    fingerprint: None,
                    image: None,
                }),
                workload: None,
                steps: vec![],
                time_to_ready: None,
                result,
                message: None,
                acknowledged_by: vec![],
                acknowledged_at: None,
                escalated_at: None,
            }],
            ..Default::default()
        });
        drill
    }

    fn review(drill_ref: &str, version: &str) -> crate::api::Attestation {
        let mut review = request("drill-review", version);
        review.spec.drill = Some(drill_ref.into());
        review
    }

    fn admit(
        review: &crate::api::Attestation,
        drill: Option<&RollbackDrill>,
        who: &Requester,
    ) -> Verdict {
        let mut model = md("2.4.0");
        model.metadata.namespace = Some("payments".into());
        model.metadata.uid = Some("md-uid".into());
        create_drill_review(
            review,
            who,
            Some(&model),
            drill,
            &teams,
            &SealKeys::generate("k1"),
        )
    }

    #[test]
    fn bob_and_carol_review_a_finished_run_and_the_seal_binds_the_run() {
        let drill = ran(RunResult::Passed);
        let att = review("weekly/20261208-090000", "2.3.1");
        for who in [bob(), user("carol", &[])] {
            let ops = allowed(admit(&att, Some(&drill), &who));
            let admitted: crate::api::Attestation = apply_patch(&att, &ops);
            assert_eq!(
                admitted.spec.attested_by.as_deref(),
                Some(who.username.as_str())
            );
            // Moved to another run, the same seal no longer verifies.
            let mut replayed = admitted.clone();
            replayed.spec.drill = Some("weekly/20261215-090000".into());
            assert_ne!(
                crate::seal::sealed_fields(&admitted),
                crate::seal::sealed_fields(&replayed)
            );
        }
    }

    #[test]
    fn a_review_is_refused_for_a_stranger_a_wrong_version_a_missing_or_running_run() {
        let drill = ran(RunResult::Passed);
        let message = denied(admit(
            &review("weekly/20261208-090000", "2.3.1"),
            Some(&drill),
            &user("mallory", &[]),
        ));
        assert!(
            message.contains("mallory is not a member")
                && message.contains("platform: team ml-platform"),
            "{message}"
        );
        // alice's data team is not asked by this tabletop.
        let message = denied(admit(
            &review("weekly/20261208-090000", "2.3.1"),
            Some(&drill),
            &user("alice", &["data-platform-eng"]),
        ));
        assert!(message.contains("alice is not a member"), "{message}");
        let message = denied(admit(
            &review("weekly/20261208-090000", "2.4.0"),
            Some(&drill),
            &bob(),
        ));
        assert!(message.contains("set spec.version to 2.3.1"), "{message}");
        let message = denied(admit(
            &review("weekly/20261215-090000", "2.3.1"),
            Some(&drill),
            &bob(),
        ));
        assert!(message.contains("has no run 20261215-090000"), "{message}");
        let message = denied(admit(
            &review("weekly/20261208-090000", "2.3.1"),
            None,
            &bob(),
        ));
        assert!(
            message.contains("RollbackDrill payments/weekly does not exist"),
            "{message}"
        );
        let running = ran(RunResult::Running);
        let message = denied(admit(
            &review("weekly/20261208-090000", "2.3.1"),
            Some(&running),
            &bob(),
        ));
        assert!(message.contains("still running"), "{message}");
        let mut no_tabletop = ran(RunResult::Passed);
        no_tabletop.spec.tabletop = None;
        let message = denied(admit(
            &review("weekly/20261208-090000", "2.3.1"),
            Some(&no_tabletop),
            &bob(),
        ));
        assert!(message.contains("no spec.tabletop"), "{message}");
    }
}
