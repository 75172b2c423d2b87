use super::*;
use crate::{
    api::{
        HandoffPolicy, HandoffPolicySpec, HistoryOutcome, ModelDeploymentStatus, Role,
        TrainingData,
        handoff_policy::{AutoApproveRule, PolicyItem},
    },
    policy::effective,
    {
        candidate::current,
        testing::{Verify, md, time},
    },
};

const DATA_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DATA_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn trained_on(version: &str, data: &str) -> ModelDeployment {
    let mut m = md(version);
    m.spec.model.training_data = Some(TrainingData {
        digest: data.into(),
        uri: None,
    });
    m
}

/// `candidate` with `active` promoted before it (available when `available`).
fn after(active: &ModelDeployment, candidate: ModelDeployment, available: bool) -> ModelDeployment {
    let mut m = candidate;
    m.status = Some(ModelDeploymentStatus {
        history: vec![HistoryEntry {
            record: None,
            artifact_fingerprint: None,
            available_since: None,
            upstream: None,
            fingerprint: Some(active.spec.fingerprint()),
            version: active.spec.model.version.clone(),
            image: active.spec.serving.serving_image(),
            digest: None,
            artifact: None,
            training_data_digest: active
                .spec
                .model
                .training_data
                .as_ref()
                .map(|t| t.digest.clone()),
            outcome: HistoryOutcome::Promoted,
            at: time(0),
            reason: "AllItemsAttested".into(),
            approvals: vec![],
            auto_approval: None,
            canary: None,
            serving: Some(active.spec.serving.clone()),
            available_at: available.then(|| time(10)),
            seal: None,
        }],
        ..Default::default()
    });
    m
}

fn rule_policy(name: &str, items: &[&str]) -> HandoffPolicy {
    HandoffPolicy::new(
        name,
        HandoffPolicySpec {
            auto_approve: vec![AutoApproveRule {
                name: "patch".into(),
                description: None,
                items: items.iter().map(|i| i.to_string()).collect(),
            }],
            ..Default::default()
        },
    )
}

fn by_alice() -> Verify {
    Verify {
        author: Author::Known("alice".into()),
        ..Default::default()
    }
}

fn judged(m: &ModelDeployment, policies: &[HandoffPolicy]) -> AutoOutcome {
    let e = effective(m, &Default::default(), policies);
    judge(m, &e, &current(m, &by_alice()))
}

#[test]
fn semver_patch_releases_are_recognised_exactly() {
    assert_eq!(patch_release("2.4.1", "2.4.0"), Ok(()));
    assert_eq!(patch_release("v2.4.10", "v2.4.9"), Ok(()));
    for (candidate, baseline) in [
        ("2.5.0", "2.4.0"),
        ("3.4.1", "2.4.0"),
        ("2.4.0", "2.4.0"),
        ("2.4.0", "2.4.1"),
        ("v2.4.1", "2.4.0"),
        ("2.4.1-rc1", "2.4.0"),
        ("2.4.01", "2.4.0"),
        ("2.4", "2.3"),
        ("2.4.1.1", "2.4.1"),
        ("latest", "2.4.0"),
    ] {
        assert!(
            patch_release(candidate, baseline).is_err(),
            "{candidate} vs {baseline}"
        );
    }
}

#[test]
fn a_patch_release_on_the_same_data_is_granted_with_its_baseline() {
    let active = trained_on("2.4.0", DATA_A);
    let m = after(&active, trained_on("2.4.1", DATA_A), true);
    let out = judged(&m, &[rule_policy("patches", &["latency", "kpis"])]);
    assert_eq!(
        out.granted.keys().collect::<Vec<_>>(),
        ["kpis", "latency"],
        "{out:?}"
    );
    assert_eq!(out.granted["kpis"].policy, "HandoffPolicy/patches");
    assert_eq!(out.granted["kpis"].rule, "patch");
    let basis = out.basis.unwrap();
    assert_eq!(basis.baseline_version, "2.4.0");
    assert_eq!(basis.baseline_fingerprint, Some(active.spec.fingerprint()));
    assert_eq!(basis.training_data_digest, DATA_A);
    assert_eq!(basis.introduced_by.as_deref(), Some("alice"));
    assert!(out.refused.is_empty());
}

#[test]
fn a_minor_release_other_data_or_an_unproven_baseline_is_refused_with_the_reason() {
    let active = trained_on("2.4.0", DATA_A);
    let policies = [rule_policy("patches", &["latency"])];
    let cases = [
        (
            after(&active, trained_on("2.5.0", DATA_A), true),
            "not a patch release of the active version 2.4.0",
        ),
        (
            after(&active, trained_on("2.4.1", DATA_B), true),
            "trained on other data",
        ),
        (
            after(&active, md("2.4.1"), true),
            "names no spec.model.trainingData.digest",
        ),
        (
            after(&active, trained_on("2.4.1", DATA_A), false),
            "has not been available yet",
        ),
        (
            trained_on("2.4.1", DATA_A),
            "no version has been promoted yet",
        ),
        (
            after(&md("2.4.0"), trained_on("2.4.1", DATA_A), true),
            "none recorded",
        ),
    ];
    for (m, why) in cases {
        let out = judged(&m, &policies);
        assert!(out.granted.is_empty(), "{why}: {out:?}");
        let refused = &out.refused["latency"];
        assert!(
            refused.starts_with("HandoffPolicy/patches rule patch does not apply: ")
                && refused.contains(why),
            "{refused}"
        );
    }
}

#[test]
fn a_failed_candidate_or_an_unknown_author_is_never_auto_approved() {
    let active = trained_on("2.4.0", DATA_A);
    let mut m = after(&active, trained_on("2.4.1", DATA_A), true);
    let policies = [rule_policy("patches", &["latency"])];
    let e = effective(&m, &Default::default(), &policies);
    let unknown = Verify {
        author: Author::Unknown("no record".into()),
        ..Default::default()
    };
    let out = judge(&m, &e, &current(&m, &unknown));
    assert!(out.granted.is_empty() && out.refused["latency"].contains("cannot tell who"));
    m.status.as_mut().unwrap().failed_candidates = vec![crate::api::FailedCandidate {
        artifact_fingerprint: None,
        fingerprint: m.spec.fingerprint(),
        version: "2.4.1".into(),
        failed_at: time(20),
    }];
    let out = judged(&m, &policies);
    assert!(
        out.granted.is_empty() && out.refused["latency"].contains("failed and was rolled back")
    );
}

#[test]
fn two_person_items_conflicts_and_stricter_policies_are_never_auto_approved() {
    let active = trained_on("2.4.0", DATA_A);
    let m = after(&active, trained_on("2.4.1", DATA_A), true);
    let mut two_people = rule_policy("patches", &["latency", "kpis", "drift"]);
    two_people.spec.required_items = vec![PolicyItem {
        id: "kpis".into(),
        owner: Role::Application,
        description: None,
        min_approvals: 1,
    }];
    // Another policy requires latency with two people, and drift without a rule.
    let mut strict = rule_policy("strict", &["other"]);
    strict.spec.required_items = vec![
        PolicyItem {
            id: "latency".into(),
            owner: Role::Platform,
            description: None,
            min_approvals: 2,
        },
        PolicyItem {
            id: "drift".into(),
            owner: Role::Data,
            description: None,
            min_approvals: 1,
        },
    ];
    let out = judged(&m, &[two_people, strict]);
    assert_eq!(out.granted.keys().collect::<Vec<_>>(), ["kpis"]);
    assert!(out.refused["latency"].contains("two-person rule is never automatic"));
    assert!(
        out.refused["drift"].contains("HandoffPolicy/strict requires it without auto-approving it")
    );
}

#[test]
fn once_promoted_the_baseline_stays_the_version_before_it() {
    let active = trained_on("2.4.0", DATA_A);
    let candidate = trained_on("2.4.1", DATA_A);
    let mut m = after(&active, candidate.clone(), true);
    let promoted = after(&candidate, candidate.clone(), false)
        .status
        .unwrap()
        .history;
    m.status.as_mut().unwrap().history.extend(promoted);
    let out = judged(&m, &[rule_policy("patches", &["latency"])]);
    assert!(out.granted.contains_key("latency"), "{out:?}");
    assert_eq!(out.basis.unwrap().baseline_version, "2.4.0");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const IDS: [&str; 4] = ["drift", "latency", "kpis", "extra"];

    fn role() -> impl Strategy<Value = Role> {
        prop_oneof![
            Just(Role::Data),
            Just(Role::Platform),
            Just(Role::Application)
        ]
    }

    /// A policy: required items (id, owner, minApprovals) and one rule's items.
    fn policy() -> impl Strategy<Value = (Vec<(usize, Role, u32)>, Vec<usize>)> {
        (
            prop::collection::vec((0..IDS.len(), role(), 1u32..3), 0..3),
            prop::collection::vec(0..IDS.len(), 0..4),
        )
    }

    fn build(n: usize, (items, rule): &(Vec<(usize, Role, u32)>, Vec<usize>)) -> HandoffPolicy {
        let mut seen = std::collections::BTreeSet::new();
        let mut p = rule_policy(&format!("p{n}"), &[]);
        p.spec.required_items = items
            .iter()
            .filter(|(id, ..)| seen.insert(*id))
            .map(|(id, owner, min)| PolicyItem {
                id: IDS[*id].into(),
                owner: *owner,
                description: None,
                min_approvals: *min,
            })
            .collect();
        p.spec.auto_approve[0].items = rule.iter().map(|i| IDS[*i].to_string()).collect();
        p
    }

    proptest! {
        /// Whatever the policies say, an auto-approved item needs one person, has no
        /// role conflict, and every policy requiring it auto-approves it; and no item
        /// is granted for a release that is not a patch release on the same data.
        #[test]
        fn auto_approval_never_outruns_the_strictest_policy(
            specs in prop::collection::vec(policy(), 1..4),
            minor in any::<bool>(),
            other_data in any::<bool>(),
        ) {
            let policies: Vec<HandoffPolicy> =
                specs.iter().enumerate().map(|(n, s)| build(n, s)).collect();
            let active = trained_on("2.4.0", DATA_A);
            let version = if minor { "2.5.0" } else { "2.4.1" };
            let data = if other_data { DATA_B } else { DATA_A };
            let m = after(&active, trained_on(version, data), true);
            let e = effective(&m, &Default::default(), &policies);
            let out = judge(&m, &e, &current(&m, &by_alice()));
            if minor || other_data {
                prop_assert!(out.granted.is_empty());
            }
            for id in out.granted.keys() {
                let item = e.item(id).unwrap();
                prop_assert_eq!(item.min_approvals, 1);
                prop_assert!(item.conflict.is_none());
                for p in &policies {
                    if p.spec.required_items.iter().any(|i| &i.id == id) {
                        prop_assert!(p.spec.auto_approve.iter().any(|r| r.items.contains(id)));
                    }
                }
            }
        }
    }
}
