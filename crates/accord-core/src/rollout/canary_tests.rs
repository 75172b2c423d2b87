//! Unit tests of the canary steps, driven as the controller would: each step stores
//! the planned status back on the object and the canary Deployment reports what it runs.

use std::collections::BTreeMap;

use super::{tests::gate, *};
use crate::{
    api::{
        Analysis, Canary, HistoryOutcome, Measurement, RolloutStrategy, conditions,
        reasons::{condition as reason, event, history},
    },
    canary,
    candidate::current,
    desired,
    testing::{md, time},
    trust::TrustAsWritten,
};

struct Scene {
    md: ModelDeployment,
    /// The stable Deployment runs the last plan's `serve` (rolled out at once).
    stable: Option<DeploymentObservation>,
    /// The canary Deployment runs the last plan's `canary` (available when `ready`).
    canary: Option<DeploymentObservation>,
    canary_ready: bool,
}

fn observation(
    want: &k8s_openapi::api::apps::v1::Deployment,
    complete: bool,
) -> DeploymentObservation {
    DeploymentObservation {
        hash: desired::recorded_hash(&want.metadata).map(String::from),
        rollout_complete: complete,
        ready: 1,
        want: 1,
    }
}

impl Scene {
    /// fraud-scorer 1.0.0 serving, with a canary (1 pod, 60 s bake, analysis max 0.05,
    /// one failure tolerated), and candidate `version` in the spec.
    fn new(version: &str, analysis: bool) -> Self {
        let mut m = md("1.0.0");
        let mut world = Scene {
            md: m.clone(),
            stable: None,
            canary: None,
            canary_ready: true,
        };
        for t in [0, 5] {
            world.step(&gate(true), None, t);
        }
        assert_eq!(
            world.md.status.as_ref().unwrap().phase,
            Some(Phase::Serving)
        );
        m = world.md.clone();
        m.spec = md(version).spec;
        m.spec.rollout = Some(RolloutStrategy {
            canary: Some(Canary {
                replicas: 1,
                bake_seconds: 60,
                analysis: analysis.then(|| Analysis {
                    address: "http://127.0.0.1:9090".into(),
                    query: "errors".into(),
                    max_value: Some(0.05),
                    min_value: None,
                    interval_seconds: 10,
                    failure_limit: 1,
                }),
            }),
        });
        world.md = m;
        world
    }

    fn step(&mut self, gate: &GateOutcome, measured: Option<&str>, now: i64) -> Plan {
        let candidate = current(&self.md, &TrustAsWritten);
        let measurement = measured.map(|v| {
            let analysis = canary::config(&self.md)
                .and_then(|c| c.analysis.clone())
                .expect("an analysis");
            canary::measurement(Ok(Some(v.to_string())), &analysis, time(now))
        });
        let input = PlanInput {
            md: &self.md,
            candidate: &candidate,
            gate,
            missing_teams: vec![],
            name_conflicts: vec![],
            contacts: BTreeMap::new(),
            deployment: self.stable.clone(),
            canary: self.canary.clone(),
            measurement,
            roll_back_for: None,
            now: time(now),
        };
        let plan = plan(&input);
        self.md.status = Some(plan.status.clone());
        self.stable = plan.serve.as_ref().map(|entry| {
            observation(
                &desired::desired_deployment(&self.md, entry, &plan.status.history),
                true,
            )
        });
        self.canary = plan.canary.as_ref().map(|run| {
            let want = desired::desired_canary(&self.md, &run.version, &run.serving, run.replicas);
            observation(&want, self.canary_ready)
        });
        plan
    }

    fn status(&self) -> &ModelDeploymentStatus {
        self.md.status.as_ref().unwrap()
    }

    fn ready(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        crate::status::condition(&self.status().conditions, conditions::READY).unwrap()
    }
}

fn reasons(plan: &Plan) -> Vec<&'static str> {
    plan.events.iter().map(|e| e.reason).collect()
}

#[test]
fn a_signed_off_candidate_bakes_as_a_canary_then_is_promoted_with_its_evidence() {
    let mut w = Scene::new("2.0.0", true);
    let started = w.step(&gate(true), None, 100);
    assert_eq!(reasons(&started), [event::CANARY_STARTED]);
    assert_eq!(started.status.phase, Some(Phase::Canary));
    let run = started.canary.clone().expect("a canary Deployment");
    assert_eq!((run.version.as_str(), run.replicas), ("2.0.0", 1));
    assert_eq!(
        started.serve.as_ref().unwrap().version,
        "1.0.0",
        "the stable version stays"
    );
    assert_eq!(w.ready().reason, reason::CANARY_IN_PROGRESS);
    assert_eq!(
        crate::status::condition(&w.status().conditions, conditions::RECONCILING)
            .unwrap()
            .status,
        "True"
    );
    // Available at 110; measured every 10 s; the bake ends at 170.
    w.step(&gate(true), None, 110);
    assert_eq!(
        w.status().canary.as_ref().unwrap().available_at,
        Some(time(110))
    );
    for (t, value) in [(111, "0.01"), (121, "0.02"), (131, "0.2")] {
        let plan = w.step(&gate(true), Some(value), t);
        assert_eq!(plan.status.phase, Some(Phase::Canary), "{t}");
    }
    assert!(
        w.ready().message.contains("0.2 (failed)"),
        "{}",
        w.ready().message
    );
    assert!(
        w.ready().message.contains("1 failed of 1 allowed"),
        "{}",
        w.ready().message
    );
    let not_yet = w.step(&gate(true), Some("0.01"), 169);
    assert!(!not_yet.signals.promoted);
    let promoted = w.step(&gate(true), None, 170);
    assert_eq!(reasons(&promoted), [event::PROMOTED]);
    assert!(promoted.canary.is_none(), "the canary Deployment goes");
    assert!(promoted.status.canary.is_none());
    let entry = promoted.serve.unwrap();
    assert_eq!(
        (entry.version.as_str(), entry.outcome),
        ("2.0.0", HistoryOutcome::Promoted)
    );
    let record = entry.canary.expect("the canary's evidence");
    assert_eq!(record.outcome, "Promoted");
    let values: Vec<&str> = record
        .measurements
        .iter()
        .filter_map(|m| m.value.as_deref())
        .collect();
    assert_eq!(values, ["0.01", "0.02", "0.2", "0.01"]);
}

#[test]
fn a_failing_analysis_keeps_the_active_version_and_records_the_values() {
    let mut w = Scene::new("2.0.0", true);
    w.step(&gate(true), None, 100);
    w.step(&gate(true), None, 110);
    w.step(&gate(true), Some("0.3"), 111);
    let failed = w.step(&gate(true), Some("0.4"), 121);
    assert_eq!(reasons(&failed), [event::CANARY_FAILED]);
    assert!(
        failed.events[0].note.contains("0.3 (failed), 0.4 (failed)"),
        "{}",
        failed.events[0].note
    );
    assert!(failed.signals.rolled_back);
    assert!(failed.canary.is_none());
    assert_eq!(failed.status.phase, Some(Phase::RolledBack));
    let kept = failed.serve.unwrap();
    assert_eq!(
        (kept.version.as_str(), kept.outcome, kept.reason.as_str()),
        (
            "1.0.0",
            HistoryOutcome::RolledBack,
            history::ANALYSIS_FAILED
        )
    );
    assert_eq!(kept.canary.as_ref().unwrap().outcome, "AnalysisFailed");
    assert_eq!(failed.status.failed_candidates[0].version, "2.0.0");
    // It never starts again on the same sign-off.
    let later = w.step(&gate(true), None, 200);
    assert!(later.canary.is_none() && !later.signals.promoted);
    assert_eq!(later.status.phase, Some(Phase::RolledBack));
}

#[test]
fn items_on_canary_evidence_hold_full_promotion_but_not_the_canary() {
    let mut w = Scene::new("2.0.0", false);
    let mut owed = gate(true);
    owed.owed_after_canary
        .insert("payments-app".into(), vec!["kpis-on-canary".into()]);
    w.step(&owed, None, 100);
    w.step(&owed, None, 110);
    let baked = w.step(&owed, None, 200);
    assert_eq!(baked.status.phase, Some(Phase::Canary));
    assert!(!baked.signals.promoted);
    assert!(
        w.ready()
            .message
            .contains("payments-app owes kpis-on-canary (on canary evidence)"),
        "{}",
        w.ready().message
    );
    let promoted = w.step(&gate(true), None, 201);
    assert_eq!(reasons(&promoted), [event::PROMOTED]);
}

#[test]
fn an_owner_aborts_a_canary_with_the_rollback_annotation() {
    let mut w = Scene::new("2.0.0", false);
    w.step(&gate(true), None, 100);
    w.md.metadata.annotations = Some(BTreeMap::from([(
        crate::api::labels::ROLLBACK_REQUESTED_AT.to_string(),
        "2026-11-29T10:00:00Z".to_string(),
    )]));
    let aborted = w.step(&gate(true), None, 105);
    assert_eq!(reasons(&aborted), [event::CANARY_FAILED]);
    assert!(aborted.canary.is_none());
    let kept = aborted.serve.unwrap();
    assert_eq!(
        (kept.version.as_str(), kept.reason.as_str()),
        ("1.0.0", history::ROLLBACK_REQUESTED)
    );
    assert_eq!(w.status().history.len(), 2, "1.0.0 promoted, then kept");
    assert_eq!(w.status().phase, Some(Phase::RolledBack));
}

#[test]
fn a_canary_that_never_becomes_available_fails_at_the_deadline() {
    let mut w = Scene::new("2.0.0", false);
    w.canary_ready = false;
    w.step(&gate(true), None, 100);
    let waiting = w.step(&gate(true), None, 150);
    assert_eq!(waiting.status.phase, Some(Phase::Canary));
    let failed = w.step(&gate(true), None, 161);
    assert_eq!(reasons(&failed), [event::CANARY_FAILED]);
    assert_eq!(
        failed.serve.unwrap().reason,
        history::PROGRESS_DEADLINE_EXCEEDED
    );
}

#[test]
fn the_first_version_and_models_without_a_canary_are_promoted_directly() {
    let mut m = md("1.0.0");
    m.spec.rollout = Some(RolloutStrategy {
        canary: Some(Canary {
            replicas: 1,
            bake_seconds: 60,
            analysis: None,
        }),
    });
    let candidate = current(&m, &TrustAsWritten);
    let plan = plan(&PlanInput {
        md: &m,
        candidate: &candidate,
        gate: &gate(true),
        missing_teams: vec![],
        name_conflicts: vec![],
        contacts: BTreeMap::new(),
        deployment: None,
        canary: None,
        measurement: None::<Measurement>,
        roll_back_for: None,
        now: time(0),
    });
    assert_eq!(reasons(&plan), [event::PROMOTED]);
    assert!(plan.canary.is_none());
}
