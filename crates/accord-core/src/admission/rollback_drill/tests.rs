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

    #[test]
    fn a_review_names_the_drills_model_a_run_with_a_target_and_a_run_reference() {
        let drill = ran(RunResult::Failed);
        // A failed run is reviewed too: its report is what the tabletop discusses.
        let ops = allowed(admit(
            &review("weekly/20261208-090000", "2.3.1"),
            Some(&drill),
            &user("carol", &[]),
        ));
        let admitted: crate::api::Attestation =
            apply_patch(&review("weekly/20261208-090000", "2.3.1"), &ops);
        assert_eq!(admitted.spec.team.as_deref(), Some("payments-app"));

        let mut elsewhere = review("weekly/20261208-090000", "2.3.1");
        elsewhere.spec.model_deployment = "churn".into();
        let message = denied(admit(&elsewhere, Some(&drill), &bob()));
        assert!(
            message.contains("rehearses ModelDeployment fraud-scorer, not churn")
                && message.contains("set spec.modelDeployment to fraud-scorer"),
            "{message}"
        );

        let mut unresolved = ran(RunResult::Failed);
        unresolved.status.as_mut().unwrap().runs[0].target = None;
        let message = denied(admit(
            &review("weekly/20261208-090000", "2.3.1"),
            Some(&unresolved),
            &bob(),
        ));
        assert!(message.contains("rehearsed no version"), "{message}");

        let message = denied(admit(&review("weekly", "2.3.1"), Some(&drill), &bob()));
        assert!(
            message.starts_with("spec.drill must be DRILL/RUN"),
            "{message}"
        );
    }
}

#[test]
fn a_metadata_change_of_a_stored_drill_is_not_refused_for_its_spec() {
    // Stored before the webhook judged it (or before the rules tightened).
    let stored = drill(json!({"target": {"version": "1.0.0", "name": "fraud-scorer"}}));
    let mut labelled = stored.clone();
    labelled.metadata.labels = Some(BTreeMap::from([("tier".into(), "critical".into())]));
    assert_eq!(
        judge(Some(&stored), Some(&labelled), &bob()),
        Verdict::allow()
    );
    // Writing the spec again is judged, naming the field.
    let mut rewritten = stored.clone();
    rewritten.spec.replicas = 2;
    let message = denied(judge(Some(&stored), Some(&rewritten), &bob()));
    assert!(message.contains("spec.target"), "{message}");
}

#[test]
fn a_zone_without_a_schedule_and_cron_macros_are_admitted() {
    for spec in [
        json!({"timeZone": "Europe/Berlin"}),
        json!({"schedule": "@weekly"}),
        json!({"schedule": "*/15 9-17 * * MON-FRI", "timeZone": "America/New_York", "deadline": "90s"}),
    ] {
        assert_eq!(
            judge(None, Some(&drill(spec.clone())), &bob()),
            Verdict::allow(),
            "{spec}"
        );
    }
}

#[test]
fn a_drill_whose_model_is_gone_is_deleted_by_an_admin_not_by_whoever_asks() {
    let rights = rights();
    let cx = Context {
        md: None,
        team: &teams,
        rights: &rights,
    };
    let message = denied(validate(Some(&valid()), None, &bob(), &cx));
    assert!(
        message.starts_with("bob may not delete RollbackDrill payments/weekly")
            && message.contains("spec.modelDeployment")
            && message.contains("ask a cluster admin (the admin group accord-admins)"),
        "{message}"
    );
    for who in [
        user("root", &["accord-admins"]),
        user(
            "system:serviceaccount:kube-system:namespace-controller",
            &[],
        ),
        user("system:serviceaccount:accord-system:accord-operator", &[]),
    ] {
        assert_eq!(
            validate(Some(&valid()), None, &who, &cx),
            Verdict::allow(),
            "{}",
            who.username
        );
    }
}

#[test]
fn who_asked_cannot_be_written_without_asking() {
    // On create, with no request: whatever the client wrote is removed.
    let mut forged = valid();
    forged.metadata.annotations = Some(BTreeMap::from([
        (labels::RUN_REQUESTED_BY.to_string(), "alice".to_string()),
        ("note".to_string(), "kept".to_string()),
    ]));
    let patched: RollbackDrill = apply_patch(&forged, &allowed(mutate(None, &forged, &bob())));
    let annotations = patched.metadata.annotations.clone().unwrap();
    assert!(!annotations.contains_key(labels::RUN_REQUESTED_BY));
    assert_eq!(annotations["note"], "kept");
    assert_eq!(judge(None, Some(&patched), &bob()), Verdict::allow());
    let message = denied(judge(None, Some(&forged), &bob()));
    assert!(
        message.contains(labels::RUN_REQUESTED_BY) && message.contains("do not set it"),
        "{message}"
    );
    // A run requested on create records its creator.
    let asked = requested(&valid(), "2026-12-05T10:00:00Z", None);
    let patched: RollbackDrill = apply_patch(&asked, &allowed(mutate(None, &asked, &bob())));
    assert_eq!(
        patched.metadata.annotations.unwrap()[labels::RUN_REQUESTED_BY],
        "bob"
    );
    // Removing who asked, without a new request: put back as recorded.
    let recorded = requested(&valid(), "2026-12-05T10:00:00Z", Some("bob"));
    let mut erased = recorded.clone();
    erased.metadata.annotations = None;
    let back: RollbackDrill = apply_patch(
        &erased,
        &allowed(mutate(Some(&recorded), &erased, &user("carol", &[]))),
    );
    assert_eq!(
        back.metadata.annotations.unwrap()[labels::RUN_REQUESTED_BY],
        "bob"
    );
    // Nothing to write when nothing is asked or recorded.
    assert_eq!(mutate(None, &valid(), &bob()), Verdict::allow());
}

/// The drill hooks and drill reviews through the AdmissionReview plumbing.
mod hooks {
    use std::sync::Arc;

    use kube::core::{DynamicObject, admission::AdmissionRequest};
    use serde_json::Value;

    use super::*;
    use crate::{
        admission::review::{ClusterView, Hook, StaticClusterView, decide, decode},
        api::{DrillRun, ModelDeployment, RollbackDrillStatus, RunResult, RunTarget, Team},
        seal::SealKeys,
        testing::team,
    };

    const OPERATOR: &str = "system:serviceaccount:accord-system:accord-operator";

    struct WithDrills {
        world: StaticClusterView,
        drills: Vec<RollbackDrill>,
    }

    impl ClusterView for WithDrills {
        fn model_deployment(&self, namespace: &str, name: &str) -> Option<ModelDeployment> {
            self.world.model_deployment(namespace, name)
        }
        fn team(&self, name: &str) -> Option<Team> {
            self.world.team(name)
        }
        fn drill(&self, namespace: &str, name: &str) -> Option<RollbackDrill> {
            self.drills
                .iter()
                .find(|d| {
                    d.metadata.namespace.as_deref() == Some(namespace)
                        && d.metadata.name.as_deref() == Some(name)
                })
                .cloned()
        }
        fn keys(&self) -> Option<Arc<SealKeys>> {
            self.world.keys()
        }
        fn rights(&self) -> &Rights {
            self.world.rights()
        }
    }

    fn finished() -> RollbackDrill {
        let mut drill = valid();
        let at = crate::testing::time(0);
        drill.status = Some(RollbackDrillStatus {
            runs: vec![DrillRun {
                id: "20261208-090000".into(),
                trigger: "Schedule".into(),
                requested_by: None,
                started_at: at.clone(),
                finished_at: Some(at),
                target: Some(RunTarget {
                    version: "2.3.1".into(),
                    ..Default::default()
                }),
                workload: None,
                steps: vec![],
                time_to_ready: None,
                result: RunResult::Failed,
                message: None,
                acknowledged_by: vec![],
                acknowledged_at: None,
                escalated_at: None,
            }],
            ..Default::default()
        });
        drill
    }

    fn world() -> WithDrills {
        WithDrills {
            world: StaticClusterView {
                model_deployments: vec![md("2.4.0")],
                teams: vec![
                    team("data-platform", &[], &["data-platform-eng"]),
                    team("ml-platform", &[], &["ml-platform-eng"]),
                    team("payments-app", &["carol"], &[]),
                ],
                keys: Some(Arc::new(SealKeys::generate("k1"))),
                rights: rights(),
            },
            drills: vec![finished()],
        }
    }

    fn request(
        resource: &str,
        sub_resource: Option<&str>,
        operation: &str,
        who: &Requester,
        object: Value,
        old: Value,
    ) -> AdmissionRequest<DynamicObject> {
        let kind = match resource {
            "rollbackdrills" => "RollbackDrill",
            _ => "Attestation",
        };
        let body = serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "0000-1111", "kind": {"group": "accord.dev", "version": "v1alpha1", "kind": kind},
                "resource": {"group": "accord.dev", "version": "v1alpha1", "resource": resource},
                "subResource": sub_resource,
                "name": "weekly", "namespace": "payments", "operation": operation,
                "userInfo": {"username": who.username, "groups": who.groups},
                "object": object, "oldObject": old, "dryRun": false
            }
        }))
        .unwrap();
        decode(&body).unwrap()
    }

    fn object<T: serde::Serialize>(value: &T) -> Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn drill_hooks_have_paths_and_only_the_mutating_one_mutates() {
        assert_eq!(Hook::MutateRollbackDrill.path(), "/mutate/rollbackdrills");
        assert_eq!(
            Hook::ValidateRollbackDrill.path(),
            "/validate/rollbackdrills"
        );
        assert!(Hook::MutateRollbackDrill.mutates() && !Hook::ValidateRollbackDrill.mutates());
        assert_eq!(Hook::ValidateRollbackDrill.kind(), "RollbackDrill");
    }

    #[test]
    fn a_forged_run_in_status_is_refused_to_everyone_but_the_operator() {
        let world = world();
        let stored = object(&valid());
        let forged = object(&finished());
        for who in [bob(), user("root", &["system:masters", "accord-admins"])] {
            let status = request(
                "rollbackdrills",
                Some("status"),
                "UPDATE",
                &who,
                forged.clone(),
                stored.clone(),
            );
            let message = denied(decide(Hook::ValidateRollbackDrill, &status, &world));
            assert!(
                message.contains(&format!(
                    "{} may not write the status of RollbackDrill payments/weekly",
                    who.username
                )),
                "{message}"
            );
            // The mutating hook is not the one that judges status.
            assert_eq!(
                decide(Hook::MutateRollbackDrill, &status, &world),
                Verdict::allow()
            );
        }
        let status = request(
            "rollbackdrills",
            Some("status"),
            "UPDATE",
            &user(OPERATOR, &[]),
            forged,
            stored,
        );
        assert_eq!(
            decide(Hook::ValidateRollbackDrill, &status, &world),
            Verdict::allow()
        );
    }

    #[test]
    fn drills_are_created_run_and_deleted_through_the_hooks_by_the_platform_team() {
        let world = world();
        let create = |who: &Requester| {
            request(
                "rollbackdrills",
                None,
                "CREATE",
                who,
                object(&valid()),
                Value::Null,
            )
        };
        assert_eq!(
            decide(Hook::ValidateRollbackDrill, &create(&bob()), &world),
            Verdict::allow()
        );
        let message = denied(decide(
            Hook::ValidateRollbackDrill,
            &create(&user("mallory", &[])),
            &world,
        ));
        assert!(
            message.contains("mallory may not create RollbackDrill payments/weekly")
                && message.contains("platform Team ml-platform"),
            "{message}"
        );
        // A run request: the mutating hook writes who asked.
        let asked = requested(&valid(), "2026-12-05T10:00:00Z", Some("alice"));
        let run = request(
            "rollbackdrills",
            None,
            "UPDATE",
            &bob(),
            object(&asked),
            object(&valid()),
        );
        let ops = allowed(decide(Hook::MutateRollbackDrill, &run, &world));
        let patched: RollbackDrill = apply_patch(&asked, &ops);
        assert_eq!(
            patched.metadata.annotations.unwrap()[labels::RUN_REQUESTED_BY],
            "bob"
        );
        let delete = |who: &Requester| {
            request(
                "rollbackdrills",
                None,
                "DELETE",
                who,
                Value::Null,
                object(&valid()),
            )
        };
        assert_eq!(
            decide(Hook::ValidateRollbackDrill, &delete(&bob()), &world),
            Verdict::allow()
        );
        assert_eq!(
            decide(Hook::MutateRollbackDrill, &delete(&bob()), &world),
            Verdict::allow()
        );
        let message = denied(decide(
            Hook::ValidateRollbackDrill,
            &delete(&user("carol", &[])),
            &world,
        ));
        assert!(message.contains("carol may not delete"), "{message}");
    }

    fn drill_review(run: &str, version: &str) -> crate::api::Attestation {
        let mut review = crate::admission::fixtures::request("drill-review", version);
        review.metadata.name = Some("weekly-review-bob".into());
        review.spec.drill = Some(run.into());
        review
    }

    #[test]
    fn a_drill_review_is_admitted_as_its_requester_and_a_signed_one_is_refused() {
        let world = world();
        let review = drill_review("weekly/20261208-090000", "2.3.1");
        let create = request(
            "attestations",
            None,
            "CREATE",
            &bob(),
            object(&review),
            Value::Null,
        );
        let ops = allowed(decide(Hook::MutateAttestation, &create, &world));
        let admitted: crate::api::Attestation = apply_patch(&review, &ops);
        assert_eq!(admitted.spec.attested_by.as_deref(), Some("bob"));
        assert_eq!(admitted.spec.team.as_deref(), Some("ml-platform"));
        // The validating hook admits what the mutating one sealed, and nothing else.
        let sealed = request(
            "attestations",
            None,
            "CREATE",
            &bob(),
            object(&admitted),
            Value::Null,
        );
        assert_eq!(
            decide(Hook::ValidateAttestation, &sealed, &world),
            Verdict::allow()
        );
        let mut replayed = admitted.clone();
        replayed.spec.drill = Some("weekly/20261215-090000".into());
        let replay = request(
            "attestations",
            None,
            "CREATE",
            &bob(),
            object(&replayed),
            Value::Null,
        );
        let message = denied(decide(Hook::ValidateAttestation, &replay, &world));
        assert!(
            message.starts_with("the Attestation cannot be admitted"),
            "{message}"
        );

        let mut signed = review.clone();
        signed.spec.signature = Some(crate::api::AttestationSignature {
            signer: "bob".into(),
            signed_at: "2026-12-08T10:00:00Z".into(),
            sshsig: "-----BEGIN SSH SIGNATURE-----".into(),
        });
        let create = request(
            "attestations",
            None,
            "CREATE",
            &user("flux", &[]),
            object(&signed),
            Value::Null,
        );
        for hook in [Hook::MutateAttestation, Hook::ValidateAttestation] {
            let message = denied(decide(hook, &create, &world));
            assert!(
                message.starts_with("signed drill reviews are not supported yet")
                    && message.contains("unsigned, as yourself"),
                "{message}"
            );
        }
    }
}
