//! Promotion through environments, decided end to end on worlds: a staging world that
//! promoted 2.4.0, and a prod world citing it.

use std::{sync::Arc, time::Duration};

use super::*;
use crate::{
    api::{
        HandoffPolicy, HandoffPolicySpec, Phase, Promotion, UpstreamRef, conditions::READY,
        handoff_policy::PromotionRules as PolicyPromotion,
    },
    decide::Decision,
    observe::Observed,
    status,
    testing::{Verify, World, md, team},
};

const HOUR: i64 = 3600;

fn in_namespace(world: &mut World, namespace: &str) {
    let md = world.model_deployment.as_mut().unwrap();
    md.metadata.namespace = Some(namespace.into());
    md.metadata.uid = Some(format!("uid-{namespace}"));
    for a in &mut world.attestations {
        a.metadata.namespace = Some(namespace.into());
    }
}

/// fraud-scorer 2.4.0 promoted and available in `staging`, shared with `prod`.
fn staging() -> World {
    let mut world = World::signed_off();
    in_namespace(&mut world, "staging");
    world.model_deployment.as_mut().unwrap().spec.promotion = Some(Promotion {
        downstream: vec!["prod".into()],
        ..Default::default()
    });
    world.converge(&Verify::default());
    let history = &world.md().status.as_ref().unwrap().history;
    assert_eq!(history.len(), 1, "staging promoted 2.4.0");
    assert!(history[0].available_since.is_some(), "and it is available");
    world
}

/// fraud-scorer 2.4.0 in `prod`, from staging with a one-hour soak, carrying `drift`
/// (owned by data-platform, which alice belongs to through her group); latency and kpis
/// are signed off in prod.
fn prod() -> World {
    let mut world = World::signed_off();
    world.attestations.retain(|a| a.spec.item != "drift");
    in_namespace(&mut world, "prod");
    world.model_deployment.as_mut().unwrap().spec.promotion = Some(Promotion {
        from: Some(UpstreamRef {
            namespace: "staging".into(),
            name: "fraud-scorer".into(),
        }),
        soak: Some("1h".into()),
        carry: vec!["drift".into()],
        downstream: vec![],
    });
    world
}

fn upstream_of(world: &World) -> crate::observe::UpstreamObserved {
    let Observed {
        teams,
        attestations,
        ..
    } = world.observed();
    crate::observe::UpstreamObserved {
        md: Some(Arc::new(world.md().clone())),
        attestations,
        teams,
    }
}

fn decide_prod(prod: &World, staging: &World, t: i64) -> Decision {
    let mut observed = prod.observed();
    observed.upstream = Some(upstream_of(staging));
    crate::decide::decide(prod.md(), &observed, &Verify::default(), time_at(t))
}

fn time_at(t: i64) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    crate::testing::time(t)
}

/// The checklist item `id` as the decision records it.
fn item<'a>(decision: &'a Decision, id: &str) -> &'a crate::api::ChecklistItemStatus {
    let checklist = &decision.plan.status.checklist;
    checklist.iter().find(|i| i.id == id).expect("the item")
}

fn ready(decision: &Decision) -> (String, String) {
    let c = status::condition(&decision.plan.status.conditions, READY).expect("Ready");
    (c.reason.clone(), c.message.clone())
}

#[test]
fn a_carried_sign_off_counts_once_the_soak_is_met_and_the_promotion_records_it() {
    let (staging, prod) = (staging(), prod());
    let available = staging.md().status.as_ref().unwrap().history[0]
        .available_since
        .clone()
        .unwrap();
    // Before the soak: Soaking, with the time left, and a requeue for exactly then.
    let available_at = available.0.as_second() - time_at(0).0.as_second();
    let early = decide_prod(&prod, &staging, available_at + 600);
    let (reason, message) = ready(&early);
    assert_eq!(reason, "Soaking");
    assert!(
        message.contains("10m of the 1h soak: 50m left"),
        "{message}"
    );
    // Looked at again no later than the idle requeue, and, once the soak is near, at
    // the very second it is met.
    assert!(early.plan.requeue_after <= Duration::from_secs(3000));
    let near = decide_prod(&prod, &staging, available_at + HOUR - 100);
    assert_eq!(near.plan.requeue_after, Duration::from_secs(100));
    assert!(!early.plan.signals.promoted);
    // The carried item already counts, with where it came from.
    let drift = item(&early, "drift");
    assert!(drift.attested, "{drift:?}");
    let from = drift.carried_from.as_ref().expect("carried");
    assert_eq!(from.model_deployment, "staging/fraud-scorer");
    assert_eq!(from.attestation, "a1");
    // On the second the soak is met, it is promoted, and the entry names the evidence.
    let met = decide_prod(&prod, &staging, available_at + HOUR);
    assert!(met.plan.signals.promoted, "{:?}", ready(&met));
    let entry = met.plan.status.history.last().unwrap();
    let evidence = entry.upstream.as_ref().expect("upstream evidence");
    assert_eq!(evidence.model_deployment, "staging/fraud-scorer");
    assert_eq!(evidence.available_since, available);
    assert_eq!(evidence.soak, "1h");
    assert_eq!(evidence.carried.len(), 1);
    assert_eq!(evidence.carried[0].attested_by, "alice");
    assert_eq!(
        entry.artifact_fingerprint.as_deref(),
        Some(prod.md().spec.artifact_fingerprint().as_str())
    );
    assert!(entry.seal.is_some(), "sealed like every entry");
}

#[test]
fn an_item_not_carried_is_signed_off_again_here() {
    let staging = staging();
    let mut prod = prod();
    prod.model_deployment
        .as_mut()
        .unwrap()
        .spec
        .promotion
        .as_mut()
        .unwrap()
        .carry = vec![];
    let decision = decide_prod(&prod, &staging, 10 * HOUR);
    assert!(!decision.plan.signals.promoted);
    let drift = item(&decision, "drift");
    assert!(!drift.attested && drift.carried_from.is_none());
    assert_eq!(ready(&decision).0, "AwaitingAttestations");
}

#[test]
fn configuration_may_differ_but_the_artifact_may_not() {
    let staging = staging();
    let mut prod = prod();
    let spec = &mut prod.model_deployment.as_mut().unwrap().spec;
    spec.serving.replicas = 9;
    spec.serving.env = vec![k8s_openapi::api::core::v1::EnvVar {
        name: "REGION".into(),
        value: Some("eu".into()),
        value_from: None,
    }];
    // The prod sign-offs are for prod's own candidate (its config included).
    let fingerprint = prod.md().spec.fingerprint();
    for a in &mut prod.attestations {
        a.spec.candidate = Some(fingerprint.clone());
    }
    assert!(
        decide_prod(&prod, &staging, 10 * HOUR)
            .plan
            .signals
            .promoted
    );

    let mut other = prod.clone();
    other.model_deployment.as_mut().unwrap().spec.serving.image =
        Some("registry.example.com/fraud-scorer:2.4.0-patched".into());
    let decision = decide_prod(&other, &staging, 10 * HOUR);
    assert!(!decision.plan.signals.promoted);
    let (reason, message) = ready(&decision);
    assert_eq!(reason, "NotServedUpstream", "{message}");
    assert!(
        message.contains("never served in the upstream staging/fraud-scorer"),
        "{message}"
    );
}

#[test]
fn the_upstream_must_exist_and_share_itself() {
    let staging = staging();
    let prod = prod();
    let mut observed = prod.observed();
    observed.upstream = Some(Default::default());
    let missing =
        crate::decide::decide(prod.md(), &observed, &Verify::default(), time_at(HOUR * 9));
    assert_eq!(ready(&missing).0, "UpstreamNotFound");

    let mut unshared = staging.clone();
    unshared.model_deployment.as_mut().unwrap().spec.promotion = None;
    let decision = decide_prod(&prod, &unshared, 10 * HOUR);
    let (reason, message) = ready(&decision);
    assert_eq!(reason, "UpstreamNotShared");
    assert!(
        message.contains("does not list namespace prod"),
        "{message}"
    );
    assert!(!decision.plan.signals.promoted);
}

#[test]
fn a_failure_upstream_blocks_and_a_break_restarts_the_soak() {
    let mut staging = staging();
    // 2.4.0's pods stop being Ready in staging: the soak starts again once it recovers.
    let deployment = staging.deployment.as_mut().unwrap();
    deployment.status.as_mut().unwrap().available_replicas = Some(0);
    deployment.status.as_mut().unwrap().ready_replicas = Some(0);
    let broken = staging.decide(&Verify::default(), 100);
    staging.carry_out(&broken);
    let entry = &staging.md().status.as_ref().unwrap().history[0];
    assert!(entry.available_since.is_none(), "the break is recorded");
    let prod = prod();
    assert_eq!(ready(&decide_prod(&prod, &staging, 10 * HOUR)).0, "Soaking");

    // The version fails in staging and is rolled back: FailedUpstream.
    let mut failed = staging.clone();
    let status = failed
        .model_deployment
        .as_mut()
        .unwrap()
        .status
        .as_mut()
        .unwrap();
    status.failed_candidates.push(crate::api::FailedCandidate {
        fingerprint: md("2.4.0").spec.fingerprint(),
        version: "2.4.0".into(),
        failed_at: time_at(200),
        artifact_fingerprint: Some(prod.md().spec.artifact_fingerprint()),
    });
    let decision = decide_prod(&prod, &failed, 10 * HOUR);
    let (reason, message) = ready(&decision);
    assert_eq!(reason, "FailedUpstream", "{message}");
    assert!(!decision.plan.signals.promoted);
}

#[test]
fn a_forged_upstream_history_is_not_evidence() {
    let mut staging = staging();
    let status = staging
        .model_deployment
        .as_mut()
        .unwrap()
        .status
        .as_mut()
        .unwrap();
    status.history[0].available_since = Some(time_at(-100 * HOUR));
    // The seal no longer verifies: the entry is ignored.
    let decision = decide_prod(&prod(), &staging, 10);
    assert_eq!(ready(&decision).0, "NotServedUpstream");
    assert!(!decision.plan.signals.promoted);
}

#[test]
fn a_carried_sign_off_needs_a_member_of_this_environments_team_now() {
    let staging = staging();
    let mut prod = prod();
    prod.model_deployment.as_mut().unwrap().spec.owners.data = "prod-data".into();
    prod.teams.push(team("prod-data", &["dana"], &[]));
    let decision = decide_prod(&prod, &staging, 10 * HOUR);
    let drift = item(&decision, "drift");
    assert!(!drift.attested);
    let why = drift.reason.as_deref().unwrap_or_default();
    assert!(
        why.contains("alice is not a member of team prod-data"),
        "{why}"
    );
    assert!(!decision.plan.signals.promoted);
    // Added to the prod Team, alice's staging sign-off counts.
    prod.teams
        .last_mut()
        .unwrap()
        .spec
        .members
        .users
        .push("alice".into());
    assert!(
        decide_prod(&prod, &staging, 10 * HOUR)
            .plan
            .signals
            .promoted
    );
}

#[test]
fn a_sign_off_withdrawn_upstream_no_longer_carries() {
    let mut staging = staging();
    staging.attestations.retain(|a| a.spec.item != "drift");
    let decision = decide_prod(&prod(), &staging, 10 * HOUR);
    let drift = item(&decision, "drift");
    assert!(!drift.attested);
    assert!(
        drift
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("withdrawn")
    );
}

fn policy(name: &str, rules: PolicyPromotion) -> HandoffPolicy {
    HandoffPolicy::new(
        name,
        HandoffPolicySpec {
            promotion: Some(rules),
            ..Default::default()
        },
    )
}

#[test]
fn policies_tighten_promotion_never_loosen_it() {
    let staging = staging();
    let mut prod = prod();
    prod.policies = vec![
        policy(
            "a-prod",
            PolicyPromotion {
                require_upstream: true,
                min_soak: Some("2h".into()),
                never_carry: vec!["drift".into()],
            },
        ),
        policy(
            "b-short",
            PolicyPromotion {
                min_soak: Some("30m".into()),
                ..Default::default()
            },
        ),
    ];
    let available = staging.md().status.as_ref().unwrap().history[0]
        .available_since
        .clone()
        .unwrap()
        .0
        .as_second()
        - time_at(0).0.as_second();
    // The longest soak wins (2h, not the spec's 1h nor b's 30m).
    let decision = decide_prod(&prod, &staging, available + HOUR + 1);
    let (reason, message) = ready(&decision);
    assert_eq!(reason, "Soaking", "{message}");
    assert!(message.contains("of the 2h soak"), "{message}");
    // neverCarry: drift must be signed off in prod.
    let drift = item(&decision, "drift");
    assert!(!drift.attested);
    assert!(
        drift
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("HandoffPolicy/a-prod never carries item drift")
    );
    // requireUpstream: without `from`, nothing is promoted.
    prod.model_deployment.as_mut().unwrap().spec.promotion = None;
    let all_signed = World::signed_off().attestations;
    prod.attestations = all_signed;
    in_namespace(&mut prod, "prod");
    let decision = decide_prod(&prod, &staging, 10 * HOUR);
    assert_eq!(ready(&decision).0, "UpstreamRequired");
    assert!(!decision.plan.signals.promoted);
}

#[test]
fn aba_counts_only_the_latest_stretch() {
    // 2.4.0 served long ago, 2.5.0 replaced it, and 2.4.0 came back a minute ago.
    let mut staging = staging();
    let status = staging
        .model_deployment
        .as_mut()
        .unwrap()
        .status
        .as_mut()
        .unwrap();
    let first = status.history[0].clone();
    let mut b = first.clone();
    b.version = "2.5.0".into();
    b.artifact_fingerprint = Some("sha256:other".into());
    b.at = time_at(50 * HOUR);
    b.available_since = Some(time_at(50 * HOUR));
    let mut again = first.clone();
    again.at = time_at(60 * HOUR);
    again.available_since = Some(time_at(60 * HOUR));
    status.history = vec![first, b, again];
    crate::history::seal(
        &staging.md().clone(),
        &mut staging
            .model_deployment
            .as_mut()
            .unwrap()
            .status
            .as_mut()
            .unwrap()
            .history,
        &Verify::default(),
    );
    let decision = decide_prod(&prod(), &staging, 60 * HOUR + 60);
    let (reason, message) = ready(&decision);
    assert_eq!(reason, "Soaking", "{message}");
    assert!(message.contains("1m of the 1h soak"), "{message}");
}

#[test]
fn a_promoted_version_keeps_running_whatever_the_upstream_does_later() {
    let staging = staging();
    let mut prod = prod();
    let promoted = decide_prod(&prod, &staging, 10 * HOUR);
    prod.carry_out(&promoted);
    assert_eq!(promoted.plan.status.phase, Some(Phase::Promoting));
    let mut observed = prod.observed();
    observed.upstream = Some(Default::default()); // the upstream was deleted
    let later = crate::decide::decide(prod.md(), &observed, &Verify::default(), time_at(11 * HOUR));
    assert!(later.writes.deployment.is_none() || !later.plan.signals.rolled_back);
    assert_ne!(ready(&later).0, "UpstreamNotFound");
}

#[test]
fn go_durations_read_like_the_spec() {
    assert_eq!(go_duration(Duration::from_secs(86400)), "24h");
    assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
    assert_eq!(go_duration(Duration::ZERO), "0s");
    assert_eq!(go_duration(Duration::from_secs(3661)), "1h1m1s");
}

#[test]
fn carry_is_one_hop() {
    // Staging's drift was itself carried from dev: prod cannot carry it again.
    let mut staging = staging();
    staging.attestations.retain(|a| a.spec.item != "drift");
    let md = staging.md().clone();
    let status = staging
        .model_deployment
        .as_mut()
        .unwrap()
        .status
        .as_mut()
        .unwrap();
    status.history[0].upstream = Some(crate::api::UpstreamEvidence {
        model_deployment: "dev/fraud-scorer".into(),
        uid: None,
        version: "2.4.0".into(),
        fingerprint: "sha256:dev".into(),
        artifact_fingerprint: "sha256:dev".into(),
        available_since: time_at(0),
        soak: "0s".into(),
        carried: vec![crate::api::CarriedSignOff {
            item: "drift".into(),
            attested_by: "alice".into(),
            attestation: "a1".into(),
        }],
    });
    crate::history::seal(&md, &mut status.history, &Verify::default());
    let decision = decide_prod(&prod(), &staging, 10 * HOUR);
    let drift = item(&decision, "drift");
    assert!(!drift.attested);
    let why = drift.reason.as_deref().unwrap_or_default();
    assert!(why.contains("carry is one hop"), "{why}");
}

#[test]
fn an_entry_from_before_artifact_fingerprints_is_fingerprinted_from_what_it_recorded() {
    let mut staging = staging();
    let md = staging.md().clone();
    let status = staging
        .model_deployment
        .as_mut()
        .unwrap()
        .status
        .as_mut()
        .unwrap();
    status.history[0].artifact_fingerprint = None;
    crate::history::seal(&md, &mut status.history, &Verify::default());
    assert!(
        decide_prod(&prod(), &staging, 10 * HOUR)
            .plan
            .signals
            .promoted
    );
}

#[test]
fn a_carried_sign_off_is_not_mistaken_for_a_local_one_of_the_same_name() {
    let staging = staging();
    let mut prod = prod();
    // mallory's local drift sign-off in prod, named like alice's in staging.
    let mut same_name = crate::testing::attestation("a1", "drift", "2.4.0", "mallory", &[]);
    same_name.metadata.namespace = Some("prod".into());
    prod.attestations.push(same_name);
    let first = decide_prod(&prod, &staging, 10 * HOUR);
    let drift = item(&first, "drift");
    assert!(
        drift.carried_from.is_some(),
        "alice's carried sign-off counts"
    );
    let verdict = first
        .verdicts
        .iter()
        .find(|v| v.attestation.metadata.name.as_deref() == Some("a1"))
        .expect("a verdict for mallory's a1");
    let counted = crate::status::condition(&verdict.status.conditions, "Counted").unwrap();
    assert_eq!(counted.status, "False", "{counted:?}");
    // The next reconcile does not announce the carried sign-off as withdrawn.
    prod.carry_out(&first);
    let next = decide_prod(&prod, &staging, 10 * HOUR + 1);
    assert!(
        !next
            .plan
            .events
            .iter()
            .any(|e| e.reason == "AttestationWithdrawn"),
        "{:?}",
        next.plan.events
    );
}

#[test]
fn leaving_the_upstream_team_un_counts_a_carried_sign_off_too() {
    let mut staging = staging();
    let data = staging
        .teams
        .iter_mut()
        .find(|t| t.metadata.name.as_deref() == Some("data-platform"))
        .unwrap();
    data.spec.members.groups.clear();
    let decision = decide_prod(&prod(), &staging, 10 * HOUR);
    let drift = item(&decision, "drift");
    assert!(!drift.attested);
    let why = drift.reason.as_deref().unwrap_or_default();
    assert!(
        why.contains("no longer a member of the upstream team data-platform"),
        "{why}"
    );
}
