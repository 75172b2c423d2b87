//! A policy's `drills.maxAge` and `drills.satisfies`, by themselves and through the
//! whole decision.

use std::{collections::BTreeMap, sync::Arc};

use super::*;
use crate::{
    api::{
        Acknowledgement, HandoffPolicy, HandoffPolicySpec, Phase, Role, RollbackDrillSpec,
        RollbackDrillStatus, Tabletop,
    },
    decide::decide,
    policy,
    testing::{Verify, World, md, time},
};

const DAY: i64 = 86_400;

/// A policy asking for drills within `max_age`, satisfying `satisfies`.
fn asking(name: &str, max_age: &str, satisfies: Option<&str>) -> HandoffPolicy {
    HandoffPolicy::new(
        name,
        HandoffPolicySpec {
            drills: Some(crate::api::DrillRules {
                max_age: max_age.into(),
                satisfies: satisfies.map(String::from),
            }),
            ..Default::default()
        },
    )
}

fn effective_of(policies: &[&HandoffPolicy]) -> Effective {
    policy::effective(&md("2.5.0"), &BTreeMap::new(), policies.iter().copied())
}

/// A run of fraud-scorer's rollback that ended at testing second `finished` with
/// `result`, acknowledged by `roles`.
fn run(id: &str, result: RunResult, finished: i64, roles: &[Role]) -> DrillRun {
    DrillRun {
        id: id.into(),
        trigger: "Schedule".into(),
        requested_by: None,
        started_at: time(finished - 60),
        finished_at: Some(time(finished)),
        target: None,
        workload: None,
        steps: vec![],
        time_to_ready: Some("41s".into()),
        result,
        message: None,
        acknowledged_by: roles
            .iter()
            .map(|role| Acknowledgement {
                role: *role,
                user: "bob".into(),
                team: "ml-platform".into(),
                attestation: format!("review-{id}-{role}"),
            })
            .collect(),
        acknowledged_at: None,
        escalated_at: None,
    }
}

const BOTH: [Role; 2] = [Role::Platform, Role::Application];

/// A drill of payments/fraud-scorer whose tabletop is `tabletop`, with `runs`.
fn drill(name: &str, tabletop: Option<&[Role]>, runs: Vec<DrillRun>) -> RollbackDrill {
    let mut drill = RollbackDrill::new(
        name,
        RollbackDrillSpec {
            model_deployment: "fraud-scorer".into(),
            tabletop: tabletop.map(|roles| Tabletop {
                acknowledge: roles.to_vec(),
                within: "72h".into(),
            }),
            ..Default::default()
        },
    );
    drill.metadata.namespace = Some("payments".into());
    drill.status = Some(RollbackDrillStatus {
        runs,
        ..Default::default()
    });
    drill
}

/// Passed and acknowledged by both roles at testing second `finished`.
fn good(name: &str, finished: i64) -> RollbackDrill {
    drill(
        name,
        Some(&BOTH),
        vec![run("20270101-100000", RunResult::Passed, finished, &BOTH)],
    )
}

fn blocked(drills: &[&RollbackDrill], effective: &Effective, now: i64) -> Option<UpstreamBlock> {
    block(&md("2.5.0"), drills, effective, &time(now))
}

#[test]
fn without_a_policy_asking_for_drills_nothing_is_blocked_or_satisfied() {
    let plain = HandoffPolicy::new("plain", HandoffPolicySpec::default());
    let e = effective_of(&[&plain]);
    assert_eq!(blocked(&[], &e, 0), None);
    let stale = good("weekly", -400 * DAY);
    assert_eq!(blocked(&[&stale], &e, 0), None);
    assert!(satisfies(&md("2.5.0"), &[&stale], &e, &time(0)).is_empty());
    assert_eq!(expires_in(&md("2.5.0"), &[&stale], &e, &time(0)), None);
}

#[test]
fn a_policy_and_no_drill_blocks_and_says_never_and_how_to_start() {
    let e = effective_of(&[&asking("prod", "720h", None)]);
    let block = blocked(&[], &e, 0).expect("blocked");
    assert_eq!(block.reason, reason::DRILL_OVERDUE);
    assert_eq!(
        block.message,
        "HandoffPolicy/prod requires a rollback drill of fraud-scorer that passed, with its tabletop \
         acknowledged, within 720h; last good run: never; create a RollbackDrill with \
         spec.modelDeployment: fraud-scorer and a spec.tabletop, then run it (kubectl accord drill \
         run NAME -n payments)"
    );
}

#[test]
fn a_passed_run_without_every_acknowledgement_does_not_count() {
    let e = effective_of(&[&asking("prod", "720h", None)]);
    let half = drill(
        "weekly",
        Some(&BOTH),
        vec![run(
            "20270101-100000",
            RunResult::Passed,
            -DAY,
            &[Role::Platform],
        )],
    );
    let block = blocked(&[&half], &e, 0).expect("blocked");
    assert!(
        block.message.contains("last good run: never"),
        "{}",
        block.message
    );
    assert!(
        block.message.contains(
            "RollbackDrill/weekly run 20270101-100000 passed but waits for the acknowledgement \
             of the application role (an Attestation with spec.drill: weekly/20270101-100000, \
             item drill-review)"
        ),
        "{}",
        block.message
    );
    assert!(
        block
            .message
            .ends_with("run a drill now (kubectl accord drill run weekly -n payments) and have its tabletop acknowledge the report"),
        "{}",
        block.message
    );
    assert!(!good_run(&half, &runs(&half)[0]));
}

#[test]
fn a_passed_and_acknowledged_run_within_max_age_lets_the_candidate_through() {
    let e = effective_of(&[&asking("prod", "720h", None)]);
    let weekly = good("weekly", -2 * DAY);
    assert_eq!(blocked(&[&weekly], &e, 0), None);
    let found = fresh(&md("2.5.0"), &[&weekly], &e, &time(0)).unwrap();
    assert_eq!(
        found.reference(),
        "RollbackDrill/weekly run 20270101-100000"
    );
    assert_eq!(
        expires_in(&md("2.5.0"), &[&weekly], &e, &time(0)),
        Some(Duration::from_secs(28 * 86_400)),
        "it counts for the rest of the 30 days"
    );
}

#[test]
fn a_run_older_than_max_age_blocks_with_its_date() {
    let e = effective_of(&[&asking("prod", "720h", None)]);
    let weekly = good("weekly", -31 * DAY);
    let block = blocked(&[&weekly], &e, 0).expect("blocked");
    let finished = time(-31 * DAY).0;
    assert!(
        block.message.contains(&format!(
            "last good run: {finished} (RollbackDrill/weekly run 20270101-100000)"
        )),
        "{}",
        block.message
    );
    // Exactly maxAge old no longer counts.
    let edge = good("weekly", -30 * DAY);
    assert!(blocked(&[&edge], &e, 0).is_some());
    assert!(blocked(&[&edge], &e, -1).is_none());
}

#[test]
fn a_failed_run_after_a_good_one_within_max_age_does_not_block() {
    let e = effective_of(&[&asking("prod", "720h", None)]);
    let weekly = drill(
        "weekly",
        Some(&BOTH),
        vec![
            run("20270108-100000", RunResult::Failed, -DAY, &BOTH),
            run("20270101-100000", RunResult::Passed, -8 * DAY, &BOTH),
        ],
    );
    assert_eq!(blocked(&[&weekly], &e, 0), None);
    // A run still going does not count either way.
    let running = drill(
        "weekly",
        Some(&BOTH),
        vec![run("20270108-100000", RunResult::Running, -DAY, &BOTH)],
    );
    assert!(blocked(&[&running], &e, 0).is_some());
}

#[test]
fn a_drill_without_a_tabletop_never_counts_and_the_message_says_so() {
    let e = effective_of(&[&asking("prod", "720h", None)]);
    let no_review = drill(
        "quiet",
        None,
        vec![run("20270101-100000", RunResult::Passed, -DAY, &[])],
    );
    assert!(!good_run(&no_review, &runs(&no_review)[0]));
    let block = blocked(&[&no_review], &e, 0).expect("blocked");
    assert!(
        block
            .message
            .contains("RollbackDrill/quiet has no spec.tabletop, so its runs never count"),
        "{}",
        block.message
    );
    assert!(
        block.message.contains("create a RollbackDrill"),
        "{}",
        block.message
    );
}

#[test]
fn drills_of_other_models_do_not_count() {
    let e = effective_of(&[&asking("prod", "720h", None)]);
    let mut other = good("churn-weekly", -DAY);
    other.spec.model_deployment = "churn".into();
    let mut elsewhere = good("weekly", -DAY);
    elsewhere.metadata.namespace = Some("retail".into());
    let block = blocked(&[&other, &elsewhere], &e, 0).expect("blocked");
    assert!(block.message.contains("never"), "{}", block.message);
}

#[test]
fn the_shortest_max_age_of_two_policies_wins_and_both_are_named() {
    let e = effective_of(&[&asking("org", "720h", None), &asking("prod", "168h", None)]);
    let weekly = good("weekly", -10 * DAY);
    let block = blocked(&[&weekly], &e, 0).expect("10 days is more than 168h");
    assert!(
        block.message.starts_with(
            "HandoffPolicy/prod requires a rollback drill of fraud-scorer that passed, with its \
             tabletop acknowledged, within 168h (HandoffPolicy/org also asks for drills); last \
             good run: "
        ),
        "{}",
        block.message
    );
    assert_eq!(blocked(&[&good("weekly", -6 * DAY)], &e, 0), None);
}

#[test]
fn satisfies_names_the_run_for_single_person_items_the_checklist_holds() {
    let mut two = asking("two", "720h", None);
    two.spec.required_items = vec![crate::api::handoff_policy::PolicyItem {
        id: "kpis".into(),
        owner: Role::Application,
        description: None,
        min_approvals: 2,
    }];
    let e = effective_of(&[
        &asking("a", "720h", Some("latency")),
        &asking("b", "720h", Some("kpis")),
        &asking("c", "720h", Some("not-on-the-checklist")),
        &two,
    ]);
    let weekly = good("weekly", -DAY);
    assert_eq!(
        satisfies(&md("2.5.0"), &[&weekly], &e, &time(0)),
        BTreeMap::from([(
            "latency".to_string(),
            "RollbackDrill/weekly run 20270101-100000".to_string()
        )]),
        "kpis needs two people: a drill does not stand in for them"
    );
    let stale = good("weekly", -40 * DAY);
    assert!(satisfies(&md("2.5.0"), &[&stale], &e, &time(0)).is_empty());
}

#[test]
fn the_newest_good_run_of_several_drills_is_the_last_good() {
    let older = good("a-monthly", -20 * DAY);
    let newer = good("b-weekly", -3 * DAY);
    let found = last_good(&md("2.5.0"), &[&newer, &older]).unwrap();
    assert_eq!(found.drill.name_any(), "b-weekly");
    let found = last_good(&md("2.5.0"), &[&older, &newer]).unwrap();
    assert_eq!(
        found.drill.name_any(),
        "b-weekly",
        "the order given does not matter"
    );
}

/// 2.4.0 serves; 2.5.0 is signed off except for `latency`, which a policy says a
/// drill satisfies.
fn candidate_world(drills_at: &[i64]) -> (World, Vec<Arc<RollbackDrill>>) {
    let mut world = World::converged();
    world.policies = vec![asking("prod", "720h", Some("latency"))];
    let next = md("2.5.0");
    let m = world.model_deployment.as_mut().unwrap();
    m.spec.model = next.spec.model;
    m.spec.serving = next.spec.serving;
    world.attestations = vec![
        crate::testing::attestation("b1", "drift", "2.5.0", "alice", &["data-platform-eng"]),
        crate::testing::attestation("b3", "kpis", "2.5.0", "carol", &[]),
    ];
    let drills = drills_at
        .iter()
        .map(|at| Arc::new(good("weekly", *at)))
        .collect();
    (world, drills)
}

fn decide_with(world: &World, drills: &[Arc<RollbackDrill>], t: i64) -> crate::decide::Decision {
    let mut observed = world.observed();
    observed.drills = drills.to_vec();
    decide(world.md(), &observed, &Verify::default(), time(t))
}

#[test]
fn a_fresh_drill_satisfies_the_item_promotes_and_looks_again_when_it_lapses() {
    let (world, drills) = candidate_world(&[-DAY]);
    let decision = decide_with(&world, &drills, 10);
    let status = decision.plan.status.clone();
    let latency = status.checklist.iter().find(|i| i.id == "latency").unwrap();
    assert!(latency.attested);
    assert_eq!(
        latency.satisfied_by_drill.as_deref(),
        Some("RollbackDrill/weekly run 20270101-100000")
    );
    assert_eq!(latency.attested_by, None, "no person signed it off");
    assert_eq!(status.pending_items, 0);
    assert_eq!(
        status.history.last().map(|e| e.version.as_str()),
        Some("2.5.0"),
        "promoted"
    );
    assert!(
        decision.plan.requeue_after <= Duration::from_secs((29 * DAY - 10) as u64),
        "{:?}",
        decision.plan.requeue_after
    );
}

#[test]
fn without_a_fresh_drill_the_candidate_waits_with_drill_overdue() {
    let (world, drills) = candidate_world(&[-40 * DAY]);
    let decision = decide_with(&world, &drills, 10);
    let status = decision.plan.status;
    assert_eq!(status.phase, Some(Phase::AwaitingAttestations));
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason, reason::DRILL_OVERDUE);
    assert!(
        ready
            .message
            .contains("HandoffPolicy/prod requires a rollback drill of fraud-scorer"),
        "{}",
        ready.message
    );
    let latency = status.checklist.iter().find(|i| i.id == "latency").unwrap();
    assert!(!latency.attested && latency.satisfied_by_drill.is_none());
    assert_eq!(status.active_version.as_deref(), Some("2.4.0"));
}

#[test]
fn a_person_s_sign_off_is_kept_and_an_open_incident_comes_first() {
    let (mut world, drills) = candidate_world(&[-DAY]);
    world.attestations.push(crate::testing::attestation(
        "b2",
        "latency",
        "2.5.0",
        "bob",
        &[],
    ));
    let status = decide_with(&world, &drills, 10).plan.status;
    let latency = status.checklist.iter().find(|i| i.id == "latency").unwrap();
    assert_eq!(latency.attested_by.as_deref(), Some("bob"));
    assert_eq!(latency.satisfied_by_drill, None);
    // With the drill stale, an open Incident is named before the drill.
    let (mut world, drills) = candidate_world(&[-40 * DAY]);
    let mut incident = crate::api::Incident::new(
        "fraud-scorer-manual",
        crate::api::IncidentSpec {
            model_deployment: "fraud-scorer".into(),
            version: "2.4.0".into(),
            summary: "latency".into(),
            ..Default::default()
        },
    );
    incident.metadata.namespace = Some("payments".into());
    world.incidents = vec![incident];
    let status = decide_with(&world, &drills, 10).plan.status;
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason, crate::api::reasons::condition::INCIDENT_OPEN);
}

#[test]
fn what_serves_on_a_drill_s_evidence_still_conforms_while_a_new_candidate_waits() {
    let (mut world, drills) = candidate_world(&[-DAY]);
    for t in 10..14 {
        let decision = decide_with(&world, &drills, t);
        world.carry_out(&decision);
    }
    assert_eq!(
        world
            .md()
            .status
            .as_ref()
            .unwrap()
            .active_version
            .as_deref(),
        Some("2.5.0")
    );
    // 2.6.0 arrives: conformance now asks about 2.5.0 (serving) on its own, and the
    // drill that stood in for `latency` still counts for it.
    let next = md("2.6.0");
    let m = world.model_deployment.as_mut().unwrap();
    m.spec.model = next.spec.model;
    m.spec.serving = next.spec.serving;
    let status = decide_with(&world, &drills, 20).plan.status;
    assert_eq!(status.active_version.as_deref(), Some("2.5.0"));
    assert_eq!(status.conformance, vec![], "{:#?}", status.conformance);
    // Without the drill, `latency` of 2.5.0 is owed by the platform Team.
    let status = decide_with(&world, &[], 20).plan.status;
    assert!(
        status
            .conformance
            .iter()
            .any(|v| v.item.as_deref() == Some("latency") && v.team == "ml-platform"),
        "{:#?}",
        status.conformance
    );
}
