//! Unit tests of the promotion and rollback decision, driven step by step as the
//! controller would: each step stores the planned status back on the object.
use std::collections::BTreeMap;

use super::*;
use crate::{
    api::{
        Approval, ChecklistItemStatus, HistoryOutcome, RollbackMode, conditions, labels,
        reasons::{condition as reason, event, history},
    },
    candidate::current,
    testing::{md, time},
    timing::IDLE_REQUEUE,
    trust::TrustAsWritten,
};

pub(super) fn gate(complete: bool) -> GateOutcome {
    let mut gate = GateOutcome {
        items: vec![ChecklistItemStatus {
            id: "drift".into(),
            attested: complete,
            ..Default::default()
        }],
        ..Default::default()
    };
    if complete {
        gate.approvals = vec![Approval {
            item: "drift".into(),
            attested_by: "alice".into(),
        }];
    } else {
        gate.owed
            .insert("data-platform".into(), vec!["drift".into()]);
    }
    gate
}

/// Runs one decision and stores its status on `md`, as the controller would. The
/// sign-off in `gate` was given before any failure of the candidate (as the real gate
/// would judge it: it does not count for a candidate that failed since).
fn step(
    md: &mut ModelDeployment,
    gate: &GateOutcome,
    deployment: Option<DeploymentObservation>,
    now: i64,
) -> Plan {
    let candidate = current(md, &TrustAsWritten);
    let stale = self::gate(false);
    let gate = if candidate.failed_at.is_some() {
        &stale
    } else {
        gate
    };
    fresh_step(md, gate, &candidate, deployment, now)
}

/// Like [`step`], with sign-off the gate counts whatever happened before.
fn fresh_step(
    md: &mut ModelDeployment,
    gate: &GateOutcome,
    candidate: &Candidate,
    deployment: Option<DeploymentObservation>,
    now: i64,
) -> Plan {
    let input = PlanInput {
        md,
        candidate,
        gate,
        missing_teams: vec![],
        name_conflicts: vec![],
        contacts: BTreeMap::from([("data-platform".to_string(), vec!["slack:#data".to_string()])]),
        deployment,
        canary: None,
        measurement: None,
        roll_back_for: None,
        now: time(now),
    };
    let plan = plan(&input);
    md.status = Some(plan.status.clone());
    plan
}

/// What the Deployment reports once it fully runs `plan.serve`.
fn rolled_out(md: &ModelDeployment, plan: &Plan) -> Option<DeploymentObservation> {
    let entry = plan.serve.as_ref()?;
    let want = desired::desired_deployment(md, entry, &plan.status.history);
    Some(DeploymentObservation {
        hash: desired::recorded_hash(&want.metadata).map(String::from),
        rollout_complete: true,
        ready: 2,
        want: 2,
    })
}

/// The same Deployment with one of its two pods not Ready.
fn one_unready(md: &ModelDeployment, plan: &Plan) -> Option<DeploymentObservation> {
    rolled_out(md, plan).map(|d| DeploymentObservation {
        rollout_complete: false,
        ready: 1,
        ..d
    })
}

fn stuck(md: &ModelDeployment, plan: &Plan) -> Option<DeploymentObservation> {
    rolled_out(md, plan).map(|d| DeploymentObservation {
        rollout_complete: false,
        ..d
    })
}

fn reasons(plan: &Plan) -> Vec<&'static str> {
    plan.events.iter().map(|e| e.reason).collect()
}

fn condition<'a>(
    md: &'a ModelDeployment,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    crate::status::condition(&md.status.as_ref().unwrap().conditions, type_).unwrap()
}

/// Promotes `version` of a fresh ModelDeployment and lets it become available.
fn serving(version: &str) -> ModelDeployment {
    let mut m = md(version);
    let plan = step(&mut m, &gate(true), None, 0);
    let obs = rolled_out(&m, &plan);
    step(&mut m, &gate(true), obs, 5);
    assert_eq!(m.status.as_ref().unwrap().phase, Some(Phase::Serving));
    m
}

#[test]
fn blocked_candidate_reports_once_and_serves_nothing() {
    let mut m = md("2.4.0");
    let first = step(&mut m, &gate(false), None, 0);
    assert_eq!(first.status.phase, Some(Phase::AwaitingAttestations));
    assert_eq!(reasons(&first), [event::PROMOTION_BLOCKED]);
    assert!(first.events[0].note.contains("data-platform owes drift"));
    assert!(
        first.serve.is_none(),
        "nothing runs before the first promotion"
    );
    assert_eq!(condition(&m, conditions::HANDOFF_COMPLETE).status, "False");
    assert_eq!(
        condition(&m, conditions::READY).reason,
        reason::AWAITING_ATTESTATIONS
    );
    for type_ in [
        conditions::READY,
        conditions::HANDOFF_COMPLETE,
        conditions::ROLLED_BACK,
        conditions::ESCALATED,
        conditions::RECONCILING,
        conditions::STALLED,
    ] {
        assert_eq!(condition(&m, type_).observed_generation, Some(1), "{type_}");
    }
    assert_eq!(
        condition(&m, conditions::RECONCILING).status,
        "True",
        "kstatus: InProgress while awaiting"
    );
    assert_eq!(condition(&m, conditions::STALLED).status, "False");

    let again = step(&mut m, &gate(false), None, 30);
    assert!(
        again.events.is_empty(),
        "one PromotionBlocked per candidate: {:?}",
        again.events
    );
    assert_eq!(Some(&again.status), m.status.as_ref());
}

#[test]
fn idle_reconcile_changes_nothing() {
    let mut m = serving("2.4.0");
    let before = m.status.clone();
    let current = Plan {
        serve: before.as_ref().unwrap().history.last().cloned(),
        canary: None,
        status: before.clone().unwrap(),
        events: vec![],
        requeue_after: IDLE_REQUEUE,
        signals: Signals::default(),
    };
    let obs = rolled_out(&m, &current);
    let plan = step(&mut m, &gate(true), obs, 500);
    assert!(plan.events.is_empty());
    assert_eq!(
        Some(plan.status),
        before,
        "an idle reconcile must not change status"
    );
    assert_eq!(plan.requeue_after, IDLE_REQUEUE);
}

#[test]
fn full_sign_off_promotes_then_serves() {
    let mut m = md("2.4.0");
    let plan = step(&mut m, &gate(true), None, 0);
    assert_eq!(reasons(&plan), [event::PROMOTED]);
    assert!(plan.events[0].note.contains("alice (drift)"));
    assert!(plan.signals.promoted);
    assert_eq!(plan.status.phase, Some(Phase::Promoting));
    assert_eq!(plan.status.active_version.as_deref(), Some("2.4.0"));
    let entry = plan.serve.clone().unwrap();
    assert_eq!(
        (entry.outcome, entry.reason.as_str()),
        (HistoryOutcome::Promoted, history::ALL_ITEMS_ATTESTED)
    );
    assert_eq!(entry.approvals.len(), 1);

    let obs = rolled_out(&m, &plan);
    let next = step(&mut m, &gate(true), obs, 3);
    assert_eq!(next.status.phase, Some(Phase::Serving));
    assert_eq!(
        condition(&m, conditions::RECONCILING).status,
        "False",
        "kstatus: Current when serving"
    );
    assert_eq!(condition(&m, conditions::STALLED).status, "False");
    assert_eq!(condition(&m, conditions::READY).status, "True");
    assert_eq!(next.status.history.len(), 1, "no duplicate history entry");
    assert_eq!(next.status.history[0].available_at, Some(time(3)));
}

#[test]
fn new_version_waits_while_the_old_one_keeps_serving() {
    let mut m = serving("2.4.0");
    let running = m.status.as_ref().unwrap().history.last().cloned();
    m.spec = md("2.5.0").spec;
    let plan = step(&mut m, &gate(false), None, 10);
    assert_eq!(plan.status.phase, Some(Phase::AwaitingAttestations));
    assert_eq!(plan.serve, running, "the Deployment keeps running 2.4.0");
    assert_eq!(plan.status.active_version.as_deref(), Some("2.4.0"));
    assert_eq!(plan.status.candidate_version.as_deref(), Some("2.5.0"));
    assert_eq!(reasons(&plan), [event::PROMOTION_BLOCKED]);
}

#[test]
fn automatic_rollback_after_the_deadline_and_no_repromotion() {
    let mut m = serving("2.4.0");
    m.spec = md("2.5.0").spec;
    let promoted = step(&mut m, &gate(true), None, 100);
    assert_eq!(reasons(&promoted), [event::PROMOTED]);
    let obs = stuck(&m, &promoted);
    let waiting = step(&mut m, &gate(true), obs.clone(), 130);
    assert_eq!(waiting.status.phase, Some(Phase::Promoting));
    assert!(
        waiting.requeue_after <= Duration::from_secs(30),
        "wakes up by the deadline"
    );

    let failed = step(&mut m, &gate(true), obs, 161);
    assert_eq!(reasons(&failed), [event::ROLLED_BACK]);
    assert!(failed.signals.rolled_back);
    let restored = failed.serve.clone().unwrap();
    assert_eq!(
        (restored.version.as_str(), restored.outcome),
        ("2.4.0", HistoryOutcome::RolledBack)
    );
    assert_eq!(restored.reason, history::PROGRESS_DEADLINE_EXCEEDED);
    assert_eq!(
        failed
            .status
            .failed_candidates
            .iter()
            .map(|f| f.version.as_str())
            .collect::<Vec<_>>(),
        ["2.5.0"]
    );
    assert_eq!(condition(&m, conditions::ROLLED_BACK).status, "True");
    assert_eq!(
        condition(&m, conditions::RECONCILING).status,
        "True",
        "rolling back is progress"
    );

    // The restored version rolls out; the failed candidate is never promoted again.
    let obs = rolled_out(&m, &failed);
    for t in [170, 400, 1000] {
        let later = step(&mut m, &gate(true), obs.clone(), t);
        assert!(
            !later.signals.promoted,
            "re-promoted the failed candidate at {t}"
        );
        assert_eq!(later.status.phase, Some(Phase::RolledBack));
        assert_eq!(
            condition(&m, conditions::STALLED).status,
            "True",
            "kstatus: Failed once rolled back"
        );
        assert_eq!(
            condition(&m, conditions::STALLED).status,
            "True",
            "kstatus: Failed once rolled back"
        );
        assert_eq!(later.serve.as_ref().unwrap().version, "2.4.0");
    }
    assert_eq!(m.status.as_ref().unwrap().history.len(), 3);

    // A new candidate is promoted; the failure of 2.5.0 stays remembered (A-B-A).
    m.spec = md("2.6.0").spec;
    let fixed = step(&mut m, &gate(true), None, 1100);
    assert_eq!(reasons(&fixed), [event::PROMOTED]);
    assert_eq!(fixed.status.failed_candidates[0].version, "2.5.0");
    assert_eq!(condition(&m, conditions::ROLLED_BACK).status, "False");
}

#[test]
fn a_version_whose_pods_stop_being_ready_fails_after_the_deadline_and_is_rolled_back() {
    let mut m = serving("2.4.0");
    m.spec = md("2.5.0").spec;
    let promoted = step(&mut m, &gate(true), None, 100);
    let obs = rolled_out(&m, &promoted);
    let available = step(&mut m, &gate(true), obs, 105);
    assert_eq!(available.status.phase, Some(Phase::Serving));
    let unready = one_unready(&m, &available);

    // Within the deadline (60 s): still serving, but not Ready, and kstatus InProgress.
    let first = step(&mut m, &gate(true), unready.clone(), 200);
    assert_eq!(first.status.phase, Some(Phase::Serving));
    assert_eq!(first.status.unready_since, Some(time(200)));
    let ready = condition(&m, conditions::READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reason::NOT_READY)
    );
    assert!(
        ready.message.contains("1 of 2 pods Ready"),
        "{}",
        ready.message
    );
    assert_eq!(condition(&m, conditions::RECONCILING).status, "True");
    assert!(first.requeue_after <= Duration::from_secs(60));

    // Ready again in time: the clock resets.
    let obs = rolled_out(&m, &available);
    let recovered = step(&mut m, &gate(true), obs, 220);
    assert_eq!(recovered.status.unready_since, None);
    assert_eq!(condition(&m, conditions::READY).status, "True");
    let again = step(&mut m, &gate(true), unready.clone(), 225);
    assert_eq!(again.status.unready_since, Some(time(225)));
    assert!(!again.signals.rolled_back);

    // Past the deadline: rolled back to the last good version, with the reason.
    let failed = step(&mut m, &gate(true), unready, 286);
    assert_eq!(reasons(&failed), [event::ROLLED_BACK]);
    assert!(
        failed.events[0].note.contains("1 of 2 pods Ready"),
        "{}",
        failed.events[0].note
    );
    let restored = failed.serve.clone().unwrap();
    assert_eq!(
        (restored.version.as_str(), restored.reason.as_str()),
        ("2.4.0", history::NOT_READY)
    );
    assert_eq!(failed.status.failed_candidates[0].version, "2.5.0");
    assert_eq!(failed.status.unready_since, None);
}

#[test]
fn a_restored_version_that_stops_being_ready_degrades_instead_of_rolling_back_again() {
    let mut m = serving("2.4.0");
    m.spec = md("2.5.0").spec;
    let promoted = step(&mut m, &gate(true), None, 100);
    let obs = stuck(&m, &promoted);
    let failed = step(&mut m, &gate(true), obs, 161);
    assert_eq!(reasons(&failed), [event::ROLLED_BACK]);
    let obs = rolled_out(&m, &failed);
    let back = step(&mut m, &gate(true), obs, 170);
    assert_eq!(back.status.phase, Some(Phase::RolledBack));
    let unready = one_unready(&m, &back);
    step(&mut m, &gate(true), unready.clone(), 180);
    let degraded = step(&mut m, &gate(true), unready, 241);
    assert!(!degraded.signals.rolled_back);
    assert_eq!(
        m.status.as_ref().unwrap().history.len(),
        3,
        "no further rollback"
    );
    let ready = condition(&m, conditions::READY);
    assert_eq!(ready.reason, reason::NOT_READY);
    assert!(
        ready.message.contains("does not roll back further"),
        "{}",
        ready.message
    );
}

#[test]
fn manual_mode_degrades_then_the_annotation_rolls_back_once() {
    let mut m = serving("2.4.0");
    m.spec = md("2.5.0").spec;
    m.spec.rollback.mode = RollbackMode::Manual;
    let promoted = step(&mut m, &gate(true), None, 100);
    let obs = stuck(&m, &promoted);
    let degraded = step(&mut m, &gate(true), obs.clone(), 200);
    assert_eq!(degraded.status.phase, Some(Phase::Degraded));
    assert_eq!(reasons(&degraded), [event::DEGRADED]);
    assert!(!degraded.signals.rolled_back);
    assert_eq!(
        degraded.serve.as_ref().unwrap().version,
        "2.5.0",
        "manual mode does not roll back"
    );
    assert!(
        step(&mut m, &gate(true), obs.clone(), 260)
            .events
            .is_empty(),
        "one Degraded Event"
    );

    m.metadata.annotations = Some(BTreeMap::from([(
        labels::ROLLBACK_REQUESTED_AT.to_string(),
        "2026-11-27T10:00:00Z".to_string(),
    )]));
    let rolled = step(&mut m, &gate(true), obs.clone(), 300);
    assert_eq!(reasons(&rolled), [event::ROLLED_BACK]);
    assert_eq!(rolled.serve.as_ref().unwrap().version, "2.4.0");
    assert_eq!(
        rolled.status.history.last().unwrap().reason,
        history::ROLLBACK_REQUESTED
    );
    let obs = rolled_out(&m, &rolled);
    let again = step(&mut m, &gate(true), obs, 310);
    assert!(
        again.events.is_empty(),
        "the same annotation value acts once"
    );
    assert_eq!(again.status.history.len(), rolled.status.history.len());
    assert_eq!(again.status.phase, Some(Phase::RolledBack));
}

#[test]
fn rollback_request_without_an_earlier_version_is_reported() {
    let mut m = serving("2.4.0");
    m.metadata.annotations = Some(BTreeMap::from([(
        labels::ROLLBACK_REQUESTED_AT.to_string(),
        "t1".to_string(),
    )]));
    let plan = step(&mut m, &gate(true), None, 50);
    assert_eq!(reasons(&plan), [event::ROLLBACK_UNAVAILABLE]);
    assert_eq!(plan.status.history.len(), 1);
}

#[test]
fn operational_changes_apply_without_attestations() {
    let mut m = serving("2.4.0");
    m.spec.serving.replicas = 5;
    let plan = step(&mut m, &gate(false), None, 50);
    assert_eq!(reasons(&plan), [event::SERVING_UPDATED]);
    assert_eq!(plan.status.history.len(), 1, "no new promotion");
    assert_eq!(
        plan.serve
            .as_ref()
            .unwrap()
            .serving
            .as_ref()
            .unwrap()
            .replicas,
        5
    );
    assert_eq!(plan.status.phase, Some(Phase::Serving));
}

#[test]
fn unknown_team_is_invalid_and_touches_nothing() {
    let mut m = serving("2.4.0");
    let candidate = current(&m, &TrustAsWritten);
    let input = PlanInput {
        md: &m,
        candidate: &candidate,
        gate: &gate(true),
        missing_teams: vec![(Role::Platform, "ghosts".into())],
        name_conflicts: vec![],
        contacts: BTreeMap::new(),
        deployment: None,
        canary: None,
        measurement: None,
        roll_back_for: None,
        now: time(60),
    };
    let plan = plan(&input);
    assert_eq!(plan.status.phase, Some(Phase::Invalid));
    assert!(plan.serve.is_none(), "the active version is left alone");
    assert_eq!(plan.status.active_version.as_deref(), Some("2.4.0"));
    assert_eq!(reasons(&plan), [event::UNKNOWN_TEAM]);
    assert!(plan.events[0].note.contains("ghosts (the platform owner)"));
    m.status = Some(plan.status);
    let ready = crate::status::condition(&m.status.as_ref().unwrap().conditions, conditions::READY)
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reason::UNKNOWN_TEAM)
    );
}

#[test]
fn overdue_sign_off_escalates_once_naming_teams_and_contacts() {
    let mut m = md("2.4.0");
    m.spec.handoff.escalate_after = Some("30s".into());
    let first = step(&mut m, &gate(false), None, 0);
    assert_eq!(condition(&m, conditions::ESCALATED).status, "False");
    assert!(first.requeue_after <= Duration::from_secs(60));
    let late = step(&mut m, &gate(false), None, 31);
    assert_eq!(reasons(&late), [event::ESCALATED]);
    assert!(
        late.events[0]
            .note
            .contains("data-platform (drift, contact slack:#data)"),
        "{}",
        late.events[0].note
    );
    assert!(late.signals.escalated);
    assert_eq!(condition(&m, conditions::ESCALATED).status, "True");
    assert!(
        step(&mut m, &gate(false), None, 90).events.is_empty(),
        "one Escalated Event per candidate"
    );
}

#[test]
fn fresh_sign_off_after_a_failure_promotes_it_again_and_a_b_a_does_not() {
    let mut m = serving("2.4.0");
    m.spec = md("2.5.0").spec;
    let promoted = step(&mut m, &gate(true), None, 100);
    let obs = stuck(&m, &promoted);
    let failed = step(&mut m, &gate(true), obs, 161);
    assert_eq!(reasons(&failed), [event::ROLLED_BACK]);
    let failure = &failed.status.failed_candidates[0];
    assert_eq!(
        (failure.version.as_str(), &failure.failed_at),
        ("2.5.0", &time(161))
    );
    let restored = rolled_out(&m, &failed);
    // A, B, A: the spec names 2.5.1, then 2.5.0 again; old sign-off promotes nothing.
    m.spec = md("2.5.1").spec;
    step(&mut m, &gate(false), restored.clone(), 200);
    m.spec = md("2.5.0").spec;
    let back = step(&mut m, &gate(true), restored.clone(), 210);
    assert!(
        !back.signals.promoted,
        "old sign-off never promotes a failed candidate"
    );
    assert_eq!(back.status.phase, Some(Phase::RolledBack));
    // Sign-off given after the failure may try it again, and forgets the failure.
    let candidate = current(&m, &TrustAsWritten);
    let retried = fresh_step(&mut m, &gate(true), &candidate, restored, 220);
    assert_eq!(reasons(&retried), [event::PROMOTED]);
    assert!(retried.status.failed_candidates.is_empty());
    assert_eq!(retried.serve.as_ref().unwrap().version, "2.5.0");
}

#[test]
fn a_name_conflict_is_invalid_and_promotes_nothing() {
    let mut m = md("2.4.0");
    let candidate = current(&m, &TrustAsWritten);
    let input = PlanInput {
        md: &m,
        candidate: &candidate,
        gate: &gate(true),
        missing_teams: vec![],
        name_conflicts: vec!["Deployment payments/fraud-scorer".into()],
        contacts: BTreeMap::new(),
        deployment: None,
        canary: None,
        measurement: None,
        roll_back_for: None,
        now: time(0),
    };
    let plan = plan(&input);
    assert_eq!(plan.status.phase, Some(Phase::Invalid));
    assert!(plan.serve.is_none() && plan.status.history.is_empty());
    assert_eq!(reasons(&plan), [event::NAME_CONFLICT]);
    m.status = Some(plan.status);
    assert_eq!(
        condition(&m, conditions::READY).reason,
        reason::NAME_CONFLICT
    );
}
