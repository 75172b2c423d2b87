//! Unit tests of the gate, from plain values.

use super::*;
use crate::{
    api::labels::MODEL_DEPLOYMENT_UID,
    candidate::current,
    testing::{TestKey, Verify, attestation, md, signed, ssh_key, team, time, with_key},
    trust::{Author, TrustAsWritten},
};

/// The gate for the candidate `md` names now.
fn evaluate<'a>(
    md: &ModelDeployment,
    attestations: impl IntoIterator<Item = &'a Attestation>,
    team: &dyn Fn(&str) -> Option<Team>,
    verifier: &dyn Verifier,
) -> GateOutcome {
    super::evaluate(
        md,
        &crate::policy::effective(md, &Default::default(), []),
        &current(md, verifier),
        attestations,
        team,
        verifier,
        time(100_000).0,
    )
}

fn teams(name: &str) -> Option<Team> {
    match name {
        "data-platform" => Some(team("data-platform", &[], &["data-platform-eng"])),
        "ml-platform" => Some(team("ml-platform", &["bob"], &[])),
        "payments-app" => Some(team("payments-app", &[], &["payments-app-eng"])),
        _ => None,
    }
}

#[test]
fn nothing_attested_owes_every_required_item_per_team() {
    let md = md("2.4.0");
    let out = evaluate(&md, [], &teams, &TrustAsWritten);
    assert!(!out.complete());
    assert_eq!(out.pending(), 3);
    assert_eq!(
        out.owed_message(),
        "data-platform owes drift; ml-platform owes latency; payments-app owes kpis"
    );
    assert!(out.items.iter().all(|i| !i.attested));
}

#[test]
fn sign_off_on_canary_evidence_counts_only_after_the_canary_was_available() {
    use crate::api::{
        After, Canary, CanaryStatus, HistoryEntry, ModelDeploymentStatus, RolloutStrategy,
    };
    let mut m = md("2.0.0");
    m.spec.handoff.checklist[2].after = Some(After::Canary);
    m.spec.rollout = Some(RolloutStrategy {
        canary: Some(Canary {
            replicas: 1,
            bake_seconds: 60,
            analysis: None,
        }),
    });
    let active: HistoryEntry = serde_json::from_value(serde_json::json!({
        "version": "1.0.0", "image": "i:1", "outcome": "Promoted", "at": "2027-01-15T08:00:00Z",
        "reason": "AllItemsAttested", "availableAt": "2027-01-15T08:00:10Z"}))
    .unwrap();
    let mut canary = CanaryStatus {
        fingerprint: m.spec.fingerprint(),
        version: "2.0.0".into(),
        started_at: time(40),
        available_at: None,
        measurements: vec![],
        failed_measurements: 0,
    };
    let at = |name: &str, secs: i64| {
        let mut a = attestation(name, "kpis", "2.0.0", "carol", &[]);
        a.metadata.creation_timestamp = Some(time(secs));
        a
    };
    let (early, late) = (at("early", 10), at("late", 60));
    let others = [
        attestation("a1", "drift", "2.0.0", "alice", &["data-platform-eng"]),
        attestation("a2", "latency", "2.0.0", "bob", &[]),
    ];
    let teams = |name: &str| match name {
        "payments-app" => Some(team("payments-app", &["carol"], &[])),
        other => teams(other),
    };
    let judge =
        |m: &ModelDeployment, atts: Vec<&Attestation>| evaluate(m, atts, &teams, &TrustAsWritten);
    for available in [None, Some(time(50))] {
        canary.available_at = available.clone();
        m.status = Some(ModelDeploymentStatus {
            history: vec![active.clone()],
            canary: Some(canary.clone()),
            ..Default::default()
        });
        let out = judge(&m, others.iter().chain([&early]).collect());
        assert!(out.ready_for_canary(), "the canary does not wait for it");
        assert!(!out.complete());
        assert_eq!(out.owed_after_canary["payments-app"], ["kpis"]);
        let (name, rejection) = &out.rejected[0];
        assert_eq!(
            (name.as_str(), rejection.reason),
            ("early", counted::BEFORE_CANARY)
        );
    }
    let out = judge(&m, others.iter().chain([&early, &late]).collect());
    assert!(out.complete(), "{:?}", out.rejected);
    assert_eq!(out.items[2].attestation.as_deref(), Some("late"));
}

#[test]
fn member_by_group_and_by_name_counts() {
    let md = md("2.4.0");
    let atts = [
        attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]),
        attestation("a2", "latency", "2.4.0", "bob", &[]),
        attestation("a3", "kpis", "2.4.0", "carol", &["payments-app-eng"]),
    ];
    let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
    assert!(out.complete(), "{:?}", out.owed);
    assert_eq!(out.approvals.len(), 3);
    assert_eq!(out.items[0].attested_by.as_deref(), Some("alice"));
    assert_eq!(out.items[0].attestation.as_deref(), Some("a1"));
}

#[test]
fn recorded_team_stands_in_for_groups_only_when_trusted() {
    let sealed = Verify::default();
    let md = md("2.4.0");
    let mut att = attestation("a1", "drift", "2.4.0", "alice", &[]);
    att.spec.team = Some("data-platform".into());
    assert!(evaluate(&md, std::slice::from_ref(&att), &teams, &TrustAsWritten).items[0].attested);
    assert!(!evaluate(&md, &[att], &teams, &sealed).items[0].attested);
}

#[test]
fn other_versions_do_not_count() {
    let md = md("2.5.0");
    let atts = [attestation(
        "a1",
        "drift",
        "2.4.0",
        "alice",
        &["data-platform-eng"],
    )];
    let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
    assert!(!out.items[0].attested);
    assert!(
        out.items[0].reason.is_none(),
        "stale versions are ignored silently"
    );
}

#[test]
fn non_member_does_not_count_and_says_why() {
    let md = md("2.4.0");
    let atts = [attestation("a1", "latency", "2.4.0", "mallory", &[])];
    let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
    let item = &out.items[1];
    assert!(!item.attested);
    assert!(
        item.reason
            .as_deref()
            .unwrap()
            .contains("mallory is not a member of team ml-platform")
    );
    assert_eq!(out.rejected.len(), 1);
}

#[test]
fn membership_is_checked_against_the_team_as_it_is_now() {
    let md = md("2.4.0");
    let atts = [attestation("a1", "latency", "2.4.0", "bob", &[])];
    let without_bob = |name: &str| match name {
        "ml-platform" => Some(team("ml-platform", &["someone-else"], &[])),
        other => teams(other),
    };
    assert!(!evaluate(&md, &atts, &without_bob, &TrustAsWritten).items[1].attested);
}

#[test]
fn wrong_digest_and_wrong_team_do_not_count() {
    let mut md = md("2.4.0");
    md.spec.model.digest = Some(format!("sha256:{}", "a".repeat(64)));
    let mut wrong_digest = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
    wrong_digest.spec.digest = Some(format!("sha256:{}", "b".repeat(64)));
    wrong_digest.spec.candidate = Some(md.spec.fingerprint());
    let mut wrong_team = attestation("a2", "drift", "2.4.0", "alice", &["data-platform-eng"]);
    wrong_team.spec.digest = md.spec.model.digest.clone();
    wrong_team.spec.candidate = Some(md.spec.fingerprint());
    wrong_team.spec.team = Some("payments-app".into());
    let out = evaluate(&md, &[wrong_digest, wrong_team], &teams, &TrustAsWritten);
    assert!(!out.items[0].attested);
    assert_eq!(out.rejected.len(), 2);
    assert_eq!(out.rejected[0].1.reason, counted::DIGEST_MISMATCH);
    assert!(
        out.rejected[1]
            .1
            .message
            .contains("made for team payments-app")
    );
}

#[test]
fn optional_items_do_not_block() {
    let mut md = md("2.4.0");
    md.spec.handoff.checklist[2].required = false;
    let atts = [
        attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]),
        attestation("a2", "latency", "2.4.0", "bob", &[]),
    ];
    let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
    assert!(out.complete());
    assert_eq!(out.pending(), 0);
}

#[test]
fn deleted_and_unverified_attestations_do_not_count() {
    let reject_all = Verify {
        reject: Some("no valid seal".into()),
        ..Default::default()
    };
    let md = md("2.4.0");
    let atts = [attestation(
        "a1",
        "drift",
        "2.4.0",
        "alice",
        &["data-platform-eng"],
    )];
    assert!(!evaluate(&md, &atts, &teams, &reject_all).items[0].attested);
    let mut deleting = atts[0].clone();
    deleting.metadata.deletion_timestamp = Some(time(0));
    assert!(!evaluate(&md, &[deleting], &teams, &TrustAsWritten).items[0].attested);
}

#[test]
fn other_model_deployments_and_namespaces_are_ignored() {
    let md = md("2.4.0");
    let mut other_md = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
    other_md.spec.model_deployment = "other".into();
    let mut other_ns = attestation("a2", "drift", "2.4.0", "alice", &["data-platform-eng"]);
    other_ns.metadata.namespace = Some("elsewhere".into());
    let out = evaluate(&md, &[other_md, other_ns], &teams, &TrustAsWritten);
    assert!(!out.items[0].attested);
    assert!(out.rejected.is_empty());
}

fn all_three(version: &str) -> Vec<Attestation> {
    vec![
        attestation("a1", "drift", version, "alice", &["data-platform-eng"]),
        attestation("a2", "latency", version, "bob", &[]),
        attestation("a3", "kpis", version, "carol", &["payments-app-eng"]),
    ]
}

#[test]
fn only_attestations_of_this_exact_candidate_count() {
    let mut md = md("2.4.0");
    let atts = all_three("2.4.0");
    assert!(evaluate(&md, &atts, &teams, &TrustAsWritten).complete());
    // Same version and digest, another image: another candidate, nothing counts.
    md.spec.serving.image = Some("registry.example.com/evil:2.4.0".into());
    let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
    assert_eq!(out.pending(), 3);
    assert!(
        out.rejected.is_empty(),
        "other candidates are ignored silently"
    );
    // An operational change is the same candidate.
    md.spec.serving.image = Some("registry.example.com/fraud-scorer:2.4.0".into());
    md.spec.serving.replicas = 9;
    assert!(evaluate(&md, &atts, &teams, &TrustAsWritten).complete());
}

#[test]
fn attestations_from_before_fingerprints_count_only_for_an_adopted_candidate() {
    let mut md = md("2.4.0");
    let mut legacy = all_three("2.4.0");
    for att in &mut legacy {
        att.spec.candidate = None;
    }
    let out = evaluate(&md, &legacy, &teams, &TrustAsWritten);
    assert_eq!(out.rejected[0].1.reason, counted::NO_CANDIDATE);
    assert!(!out.complete());
    let tracking = crate::api::CandidateTracking {
        artifact_fingerprint: None,
        fingerprint: None,
        identity: md.spec.identity(),
        author: None,
        legacy_attestations: false,
        first_seen: time(0),
        blocked_reported: false,
        escalated: false,
    };
    md.status = Some(crate::api::ModelDeploymentStatus {
        candidate: Some(tracking),
        ..Default::default()
    });
    assert!(evaluate(&md, &legacy, &teams, &TrustAsWritten).complete());
}

#[test]
fn sign_off_from_before_a_failure_never_counts_again() {
    let mut md = md("2.4.0");
    md.status = Some(crate::api::ModelDeploymentStatus {
        failed_candidates: vec![crate::api::FailedCandidate {
            artifact_fingerprint: None,
            fingerprint: md.spec.fingerprint(),
            version: "2.4.0".into(),
            failed_at: time(100),
        }],
        ..Default::default()
    });
    let old = all_three("2.4.0");
    let out = evaluate(&md, &old, &teams, &TrustAsWritten);
    assert_eq!(out.pending(), 3);
    assert_eq!(out.rejected[0].1.reason, counted::ADMITTED_BEFORE_FAILURE);
    let mut fresh = all_three("2.4.0");
    for att in &mut fresh {
        att.metadata.creation_timestamp = Some(time(101));
    }
    assert!(evaluate(&md, &fresh, &teams, &TrustAsWritten).complete());
}

#[test]
fn whoever_introduced_the_candidate_cannot_count_and_an_unknown_author_blocks_all() {
    let md = md("2.4.0");
    let bob_wrote_it = Verify {
        author: Author::Known("bob".into()),
        ..Default::default()
    };
    let out = evaluate(&md, &all_three("2.4.0"), &teams, &bob_wrote_it);
    assert_eq!(out.owed_message(), "ml-platform owes latency");
    assert_eq!(out.rejected[0].1.reason, counted::SELF_ATTESTED);
    let unknown = Verify {
        author: Author::Unknown("no record".into()),
        ..Default::default()
    };
    let out = evaluate(&md, &all_three("2.4.0"), &teams, &unknown);
    assert_eq!(out.pending(), 3);
    assert!(
        out.rejected
            .iter()
            .all(|(_, r)| r.reason == counted::CANDIDATE_AUTHOR_UNKNOWN)
    );
}

#[test]
fn attestations_of_a_deleted_same_named_object_do_not_count() {
    let md = md("2.4.0");
    let mut atts = all_three("2.4.0");
    atts[0]
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(MODEL_DEPLOYMENT_UID.into(), "uid-of-the-old-object".into());
    let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
    assert_eq!(out.owed_message(), "data-platform owes drift");
    assert_eq!(out.rejected[0].1.reason, counted::OTHER_OBJECT);
}

fn signing_teams(name: &str, alice: &TestKey) -> Option<Team> {
    match name {
        "data-platform" => Some(with_key(
            team("data-platform", &["alice"], &[]),
            "alice",
            alice,
        )),
        other => teams(other),
    }
}

#[test]
fn a_signed_attestation_counts_for_its_signer_whoever_applied_it() {
    let alice = ssh_key("alice");
    let md = md("2.4.0");
    let att = signed(&md, "drift", "alice", &alice, 10);
    assert_eq!(att.spec.attested_by.as_deref(), Some("alice"));
    let sealed = Verify::default();
    let lookup = |n: &str| signing_teams(n, &alice);
    let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &sealed);
    assert!(out.items[0].attested, "{:?}", out.rejected);
    assert_eq!(out.items[0].attested_by.as_deref(), Some("alice"));
    let name = att.metadata.name.clone().unwrap();
    assert_eq!(out.verified[&name].user, "alice");
    assert_eq!(out.verified[&name].team, "data-platform");
    // The seal verifier is not consulted for signed attestations.
    let reject_all = Verify {
        reject: Some("no seal".into()),
        ..Default::default()
    };
    assert!(evaluate(&md, std::slice::from_ref(&att), &lookup, &reject_all).items[0].attested);
}

#[test]
fn a_revoked_key_or_a_removed_member_uncounts_a_signed_attestation() {
    let alice = ssh_key("alice");
    let md = md("2.4.0");
    let att = signed(&md, "drift", "alice", &alice, 10);
    let fingerprint = {
        let lookup = |n: &str| signing_teams(n, &alice);
        let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &TrustAsWritten);
        out.verified
            .values()
            .next()
            .unwrap()
            .key_fingerprint
            .clone()
    };
    let revoked = |n: &str| {
        signing_teams(n, &alice).map(|mut t| {
            t.spec.revoked_keys.push(fingerprint.clone());
            t
        })
    };
    let out = evaluate(&md, std::slice::from_ref(&att), &revoked, &TrustAsWritten);
    assert!(!out.items[0].attested);
    assert!(out.verified.is_empty());
    assert_eq!(out.rejected[0].1.reason, counted::BAD_SIGNATURE);
    assert!(
        out.rejected[0].1.message.contains("revoked"),
        "{:?}",
        out.rejected
    );
    let left = |n: &str| {
        signing_teams(n, &alice).map(|mut t| {
            t.spec.members.users.clear();
            t.spec.members.groups.push("data-platform-eng".into());
            t
        })
    };
    let out = evaluate(&md, std::slice::from_ref(&att), &left, &TrustAsWritten);
    assert!(!out.items[0].attested);
    assert!(
        out.rejected[0]
            .1
            .message
            .contains("alice is not a member of team data-platform"),
        "{:?}",
        out.rejected
    );
}

#[test]
fn a_signed_attestation_for_another_team_or_by_the_author_does_not_count() {
    let alice = ssh_key("alice");
    let md = md("2.4.0");
    // alice's key in data-platform does not make her a platform signer.
    let att = signed(&md, "latency", "alice", &alice, 10);
    let lookup = |n: &str| signing_teams(n, &alice);
    let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &TrustAsWritten);
    assert!(!out.items[1].attested);
    assert!(
        out.rejected[0]
            .1
            .message
            .contains("no signing key in team ml-platform"),
        "{:?}",
        out.rejected
    );
    let authored = Verify {
        author: Author::Known("alice".into()),
        ..Default::default()
    };
    let att = signed(&md, "drift", "alice", &alice, 10);
    let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &authored);
    assert_eq!(out.rejected[0].1.reason, counted::SELF_ATTESTED);
}

#[test]
fn a_signed_sign_off_from_before_a_failure_never_counts_even_applied_again() {
    let alice = ssh_key("alice");
    let md = md("2.4.0");
    let mut att = signed(&md, "drift", "alice", &alice, 10);
    // Pruned and applied again from Git after the failure: created later, signed before.
    att.metadata.creation_timestamp = Some(time(500));
    let lookup = |n: &str| signing_teams(n, &alice);
    let mut candidate = current(&md, &TrustAsWritten);
    candidate.failed_at = Some(time(100));
    let out = super::evaluate(
        &md,
        &crate::policy::effective(&md, &Default::default(), []),
        &candidate,
        std::slice::from_ref(&att),
        &lookup,
        &TrustAsWritten,
        time(100_000).0,
    );
    assert_eq!(out.rejected[0].1.reason, counted::ADMITTED_BEFORE_FAILURE);
    let fresh = signed(&md, "drift", "alice", &alice, 200);
    let out = super::evaluate(
        &md,
        &crate::policy::effective(&md, &Default::default(), []),
        &candidate,
        std::slice::from_ref(&fresh),
        &lookup,
        &TrustAsWritten,
        time(100_000).0,
    );
    assert!(out.items[0].attested, "{:?}", out.rejected);
}

fn under_policy(
    md: &ModelDeployment,
    spec: crate::api::HandoffPolicySpec,
    attestations: &[Attestation],
    now: i64,
) -> GateOutcome {
    let policy = crate::api::HandoffPolicy::new("org", spec);
    super::evaluate(
        md,
        &crate::policy::effective(md, &Default::default(), [&policy]),
        &current(md, &TrustAsWritten),
        attestations,
        &teams,
        &TrustAsWritten,
        time(now).0,
    )
}

fn two_people(id: &str) -> crate::api::HandoffPolicySpec {
    crate::api::HandoffPolicySpec {
        required_items: vec![crate::api::handoff_policy::PolicyItem {
            id: id.into(),
            owner: Role::Data,
            description: None,
            min_approvals: 2,
        }],
        ..Default::default()
    }
}

#[test]
fn an_item_needing_two_people_counts_distinct_people_only() {
    let md = md("2.4.0");
    let alice = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
    let alice_again = attestation("a2", "drift", "2.4.0", "alice", &["data-platform-eng"]);
    let erin = attestation("a3", "drift", "2.4.0", "erin", &["data-platform-eng"]);
    let out = under_policy(
        &md,
        two_people("drift"),
        &[alice.clone(), alice_again.clone()],
        100,
    );
    let drift = &out.items[0];
    assert!(!drift.attested);
    assert_eq!(drift.min_approvals, Some(2));
    assert_eq!(drift.required_by, ["ModelDeployment", "HandoffPolicy/org"]);
    assert!(
        out.rejected
            .iter()
            .any(|(n, r)| n == "a2" && r.reason == counted::SAME_PERSON)
    );
    assert!(
        out.owed_message().contains("drift (1 of 2 people)"),
        "{}",
        out.owed_message()
    );
    assert!(
        drift
            .reason
            .as_deref()
            .unwrap()
            .contains("1 of 2 distinct people")
    );

    let out = under_policy(&md, two_people("drift"), &[alice, alice_again, erin], 100);
    let drift = &out.items[0];
    assert!(drift.attested);
    let people: Vec<&str> = drift
        .approvals
        .iter()
        .map(|a| a.attested_by.as_str())
        .collect();
    assert_eq!(people, ["alice", "erin"]);
    let recorded: Vec<&str> = out
        .approvals
        .iter()
        .filter(|a| a.item == "drift")
        .map(|a| a.attested_by.as_str())
        .collect();
    assert_eq!(recorded, ["alice", "erin"], "the promotion records both");
}

#[test]
fn a_policy_item_is_required_even_where_the_model_deployment_says_optional() {
    let mut md = md("2.4.0");
    md.spec.handoff.checklist[0].required = false;
    let mut spec = two_people("drift");
    spec.required_items[0].min_approvals = 1;
    let out = under_policy(&md, spec, &[], 100);
    assert!(out.items[0].required);
    assert!(out.owed_message().contains("data-platform owes drift"));
}

#[test]
fn policies_can_require_signed_and_recent_sign_offs() {
    let md = md("2.4.0");
    let mut alice = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
    alice.metadata.creation_timestamp = Some(time(0));
    let rules = |max_age: Option<&str>, signed: bool| crate::api::HandoffPolicySpec {
        attestations: Some(crate::api::handoff_policy::AttestationRules {
            max_age: max_age.map(String::from),
            require: signed.then_some(crate::api::handoff_policy::SignatureRequirement::Signed),
        }),
        ..Default::default()
    };
    let fresh = under_policy(
        &md,
        rules(Some("1h"), false),
        std::slice::from_ref(&alice),
        60,
    );
    assert!(fresh.items[0].attested);
    let stale = under_policy(
        &md,
        rules(Some("1h"), false),
        std::slice::from_ref(&alice),
        7200,
    );
    assert!(!stale.items[0].attested);
    assert_eq!(stale.rejected[0].1.reason, counted::EXPIRED);
    assert!(
        stale.rejected[0]
            .1
            .message
            .contains("maxAge 1h of HandoffPolicy org"),
        "{}",
        stale.rejected[0].1.message
    );
    let unsigned = under_policy(&md, rules(None, true), std::slice::from_ref(&alice), 60);
    assert_eq!(unsigned.rejected[0].1.reason, counted::SIGNATURE_REQUIRED);
}

#[test]
fn a_role_conflict_blocks_the_item_and_says_why() {
    let md = md("2.4.0");
    let mut spec = two_people("latency");
    spec.required_items[0].min_approvals = 1;
    let bob = attestation("a1", "latency", "2.4.0", "bob", &[]);
    let out = under_policy(&md, spec, &[bob], 100);
    let latency = out.items.iter().find(|i| i.id == "latency").unwrap();
    assert!(!latency.attested);
    assert!(
        latency
            .reason
            .as_deref()
            .unwrap()
            .contains("cannot be attested until they agree")
    );
}
