use crate::{
    api::{
        HandoffPolicy, HandoffPolicySpec, Role, ViolationKind,
        handoff_policy::{AttestationRules, PolicyItem},
        testing::team,
    },
    testing::{Verify, World},
};

/// The converged world's violations, decided at `t` seconds.
fn violations(world: &World, t: i64) -> Vec<(ViolationKind, String, Option<String>)> {
    let decision = world.decide(&Verify::default(), t);
    decision
        .plan
        .status
        .conformance
        .iter()
        .map(|v| (v.kind, v.team.clone(), v.item.clone()))
        .collect()
}

fn policy(name: &str, spec: HandoffPolicySpec) -> HandoffPolicy {
    HandoffPolicy::new(name, spec)
}

#[test]
fn a_signed_off_serving_version_conforms() {
    assert_eq!(violations(&World::converged(), 10), vec![]);
    assert_eq!(
        violations(&World::signed_off(), 0),
        vec![],
        "nothing serves yet"
    );
}

#[test]
fn a_policy_added_after_promotion_is_a_new_item_of_its_team() {
    let mut world = World::converged();
    world.policies.push(policy(
        "privacy",
        HandoffPolicySpec {
            required_items: vec![PolicyItem {
                id: "privacy-review".into(),
                owner: Role::Data,
                description: None,
                min_approvals: 1,
            }],
            ..Default::default()
        },
    ));
    assert_eq!(
        violations(&world, 10),
        vec![(
            ViolationKind::NewPolicyItem,
            "data-platform".into(),
            Some("privacy-review".into())
        )]
    );
    let decision = world.decide(&Verify::default(), 10);
    let message = &decision.plan.status.conformance[0].message;
    assert!(message.contains("HandoffPolicy/privacy"), "{message}");
    // Reporting only: the version keeps serving.
    assert_eq!(
        decision.plan.status.active_version.as_deref(),
        Some("2.4.0")
    );
}

#[test]
fn an_expired_sign_off_is_reported_once_max_age_passes() {
    let mut world = World::converged();
    world.policies.push(policy(
        "fresh",
        HandoffPolicySpec {
            attestations: Some(AttestationRules {
                max_age: Some("1m".into()),
                require: None,
            }),
            ..Default::default()
        },
    ));
    assert_eq!(violations(&world, 10), vec![]);
    // The decision looks again when the first sign-off expires (a1 was created at 2 s).
    let decision = world.decide(&Verify::default(), 10);
    assert_eq!(
        decision.plan.requeue_after,
        std::time::Duration::from_secs(60 + 2 - 10)
    );
    let late = violations(&world, 3 * 3600);
    assert_eq!(late.len(), 3, "{late:?}");
    assert!(late.iter().all(|v| v.0 == ViolationKind::ExpiredSignOff));
}

#[test]
fn an_approver_gone_from_the_team_and_an_empty_team_are_reported() {
    let mut world = World::converged();
    world.teams[1] = team("ml-platform", &["dave"], &[]);
    assert_eq!(
        violations(&world, 10),
        vec![(
            ViolationKind::NotInTeam,
            "ml-platform".into(),
            Some("latency".into())
        )]
    );
    world.teams[1] = team("ml-platform", &[], &[]);
    let found = violations(&world, 10);
    assert!(
        found.contains(&(ViolationKind::NoMembers, "ml-platform".into(), None)),
        "{found:?}"
    );
}

#[test]
fn a_pending_candidate_is_not_what_is_judged() {
    let mut world = World::converged();
    let md = world.model_deployment.as_mut().unwrap();
    md.spec.model.version = "2.5.0".into();
    md.spec.serving.image = Some("registry.example.com/fraud-scorer:2.5.0".into());
    // 2.5.0 has no sign-off at all, but 2.4.0 (serving) still meets every policy.
    assert_eq!(violations(&world, 10), vec![]);
    // A new policy item is owed by what serves, judged on its own sign-offs.
    world.policies.push(policy(
        "privacy",
        HandoffPolicySpec {
            required_items: vec![PolicyItem {
                id: "privacy-review".into(),
                owner: Role::Application,
                description: None,
                min_approvals: 1,
            }],
            ..Default::default()
        },
    ));
    assert_eq!(
        violations(&world, 10),
        vec![(
            ViolationKind::NewPolicyItem,
            "payments-app".into(),
            Some("privacy-review".into())
        )]
    );
}
