use std::sync::Arc;

use accord_core::testing::{attestation, md, team, time};

use super::*;
use crate::{
    api::{
        AttestationSignature, CanaryRecord, CanaryStatus, CandidateTracking, ChecklistItemStatus,
        ConformanceViolation, ItemApproval, ModelIdentity, ViolationKind,
    },
    fixtures::{history_entry, incident, waiting},
};

/// The three Teams of `fraud-scorer`: data-platform by group, ml-platform with bob,
/// payments-app with carol.
fn teams() -> Vec<Team> {
    vec![
        team("data-platform", &[], &["data-eng"]),
        team("ml-platform", &["bob"], &["platform-oncall"]),
        team("payments-app", &["carol"], &[]),
    ]
}

fn snapshot(mds: Vec<ModelDeployment>, teams: Vec<Team>) -> Snapshot {
    Snapshot {
        mds: mds.into_iter().map(Arc::new).collect(),
        teams: teams.into_iter().map(Arc::new).collect(),
        ..Default::default()
    }
}

fn me(user: &str, groups: &[&str]) -> Me {
    Me {
        user: user.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

/// Records that Accord first saw `md`'s candidate at testing second `first_seen`.
fn seen_at(mut md: ModelDeployment, first_seen: i64, author: Option<&str>) -> ModelDeployment {
    let tracking = CandidateTracking {
        fingerprint: Some(md.spec.fingerprint()),
        artifact_fingerprint: None,
        identity: ModelIdentity {
            version: md.spec.model.version.clone(),
            digest: None,
            artifact: None,
            image: md.spec.serving.serving_image(),
        },
        author: author.map(String::from),
        legacy_attestations: false,
        first_seen: time(first_seen),
        blocked_reported: false,
        escalated: false,
    };
    md.status.get_or_insert_with(Default::default).candidate = Some(tracking);
    md
}

/// `waiting()` renamed to `name` in `ns`.
fn waiting_as(ns: &str, name: &str) -> ModelDeployment {
    let mut m = waiting();
    m.metadata.namespace = Some(ns.into());
    m.metadata.name = Some(name.into());
    m
}

fn item_mut<'a>(md: &'a mut ModelDeployment, id: &str) -> &'a mut ChecklistItemStatus {
    md.status
        .as_mut()
        .unwrap()
        .checklist
        .iter_mut()
        .find(|i| i.id == id)
        .unwrap()
}

fn approval(user: &str) -> ItemApproval {
    ItemApproval {
        attested_by: user.into(),
        attestation: format!("a-{user}"),
        carried_from: None,
    }
}

fn items(owed: &[Owed]) -> Vec<(&str, &str)> {
    owed.iter()
        .map(|o| (o.model.as_str(), o.item.as_str()))
        .collect()
}

// ---- owed ----

#[test]
fn owed_lists_only_my_teams_required_unattested_items() {
    let mut m = waiting();
    // An optional item of ml-platform is never owed.
    m.status
        .as_mut()
        .unwrap()
        .checklist
        .push(ChecklistItemStatus {
            id: "load-test".into(),
            owner: "platform".into(),
            team: "ml-platform".into(),
            required: false,
            ..Default::default()
        });
    let s = snapshot(vec![m], teams());
    let now = time(0).0;

    let bob = owed(&s, &me("bob", &[]), now);
    assert_eq!(items(&bob), [("fraud-scorer", "latency")]);
    let o = &bob[0];
    assert_eq!(
        (o.namespace.as_str(), o.team.as_str(), o.role.as_str()),
        ("payments", "ml-platform", "platform")
    );
    assert_eq!(o.version, "2.4.0");
    assert_eq!(o.fingerprint, md("2.4.0").spec.fingerprint());
    assert_eq!(o.still, "1 more person of ml-platform");
    assert!(!o.signed_by_me && !o.authored_by_me && !o.overdue);
    assert_eq!((o.since, o.deadline), (None, None));

    assert_eq!(
        items(&owed(&s, &me("carol", &[]), now)),
        [("fraud-scorer", "kpis")]
    );
    // data-platform's only item (drift) is attested already.
    assert!(owed(&s, &me("alice", &["data-eng"]), now).is_empty());
    assert!(owed(&s, &me("mallory", &["system:authenticated"]), now).is_empty());
    // Without a status, nothing is owed yet.
    let fresh = snapshot(vec![md("2.5.0")], teams());
    assert!(owed(&fresh, &me("bob", &[]), now).is_empty());
}

#[test]
fn owed_counts_membership_by_user_name_and_by_group() {
    let s = snapshot(vec![waiting()], teams());
    let now = time(0).0;
    // erin is in ml-platform only through the group platform-oncall.
    assert_eq!(
        items(&owed(&s, &me("erin", &["platform-oncall"]), now)),
        [("fraud-scorer", "latency")]
    );
    // In two Teams (by name and by group): both items, in item order.
    let both = owed(&s, &me("carol", &["platform-oncall"]), now);
    assert_eq!(
        items(&both),
        [("fraud-scorer", "kpis"), ("fraud-scorer", "latency")]
    );
    assert_eq!(
        me("carol", &["platform-oncall"]).teams(&s),
        BTreeSet::from(["ml-platform".to_string(), "payments-app".to_string()])
    );
    // A group of the same name as a user is not that user.
    assert!(owed(&s, &me("dave", &["bob"]), now).is_empty());
}

#[test]
fn owed_says_how_many_more_people_are_needed() {
    let mut m = waiting();
    let latency = item_mut(&mut m, "latency");
    latency.min_approvals = Some(2);
    latency.approvals = vec![approval("bob")];
    let kpis = item_mut(&mut m, "kpis");
    kpis.min_approvals = Some(3);
    kpis.approvals = vec![approval("carol")];
    kpis.reason = Some("a2 is for 2.3.9, not 2.4.0".into());
    let mut ts = teams();
    ts[1].spec.members.users.push("dan".into());
    ts[2].spec.members.users.push("dan".into());
    let s = snapshot(vec![m], ts);
    let now = time(0).0;

    let bob = owed(&s, &me("bob", &[]), now);
    assert_eq!(bob[0].still, "1 more person of ml-platform");
    assert!(bob[0].signed_by_me, "bob signed, one more is needed");

    let dan = owed(&s, &me("dan", &[]), now);
    assert_eq!(
        items(&dan),
        [("fraud-scorer", "kpis"), ("fraud-scorer", "latency")]
    );
    assert_eq!(dan[0].still, "2 more people of payments-app");
    assert_eq!(dan[0].reason.as_deref(), Some("a2 is for 2.3.9, not 2.4.0"));
    assert!(!dan[0].signed_by_me && !dan[1].signed_by_me);
    assert_eq!(dan[1].still, "1 more person of ml-platform");
}

#[test]
fn owed_still_asks_for_one_person_when_approvals_look_complete() {
    // The operator has not counted the item yet: the board never says "0 more".
    let mut m = waiting();
    let latency = item_mut(&mut m, "latency");
    latency.min_approvals = Some(2);
    latency.approvals = vec![approval("bob"), approval("dan")];
    let s = snapshot(vec![m], teams());
    let o = &owed(&s, &me("bob", &[]), time(0).0)[0];
    assert_eq!(o.still, "1 more person of ml-platform");
    assert!(o.signed_by_me);
}

#[test]
fn owed_marks_a_candidate_i_introduced() {
    let m = seen_at(waiting(), 0, Some("bob"));
    let s = snapshot(vec![m], teams());
    let o = &owed(&s, &me("bob", &[]), time(0).0)[0];
    assert!(o.authored_by_me);
    let carol = &owed(&s, &me("carol", &[]), time(0).0)[0];
    assert!(!carol.authored_by_me);
}

#[test]
fn owed_takes_the_description_from_the_spec() {
    let mut m = waiting();
    m.spec.handoff.checklist[1].description = Some("p99 under 50ms at 2x traffic".into());
    let s = snapshot(vec![m], teams());
    let o = &owed(&s, &me("bob", &[]), time(0).0)[0];
    assert_eq!(
        o.description.as_deref(),
        Some("p99 under 50ms at 2x traffic")
    );
}

#[test]
fn owed_is_oldest_first_then_by_namespace_model_and_item() {
    let older = seen_at(waiting_as("retail", "churn"), 50, None);
    let newer = seen_at(waiting(), 100, None);
    let same_age = seen_at(waiting_as("payments", "aardvark"), 100, None);
    let s = snapshot(vec![newer, same_age, older], teams());
    let owed = owed(&s, &me("bob", &["x"]), time(200).0);
    assert_eq!(
        items(&owed),
        [
            ("churn", "latency"),
            ("aardvark", "latency"),
            ("fraud-scorer", "latency")
        ]
    );
    assert_eq!(owed[0].since, Some(time(50).0));
    assert_eq!(owed[2].since, Some(time(100).0));
}

#[test]
fn owed_deadline_is_first_seen_plus_escalate_after() {
    let mut m = seen_at(waiting(), 0, None);
    m.spec.handoff.escalate_after = Some("24h".into());
    let s = snapshot(vec![m], teams());
    let bob = me("bob", &[]);
    let deadline = time(24 * 3600).0;

    let before = &owed(&s, &bob, time(24 * 3600 - 1).0)[0];
    assert_eq!(before.deadline, Some(deadline));
    assert!(!before.overdue);
    let at = &owed(&s, &bob, deadline)[0];
    assert!(at.overdue, "overdue from the deadline on");
    assert!(owed(&s, &bob, time(30 * 3600).0)[0].overdue);

    // No escalateAfter, or no first-seen time: no deadline, never overdue.
    let mut no_after = seen_at(waiting(), 0, None);
    no_after.spec.handoff.escalate_after = None;
    let mut unseen = waiting();
    unseen.spec.handoff.escalate_after = Some("1h".into());
    for m in [no_after, unseen] {
        let s = snapshot(vec![m], teams());
        let o = &owed(&s, &bob, time(1_000_000).0)[0];
        assert_eq!(o.deadline, None);
        assert!(!o.overdue);
    }
}

#[test]
fn owed_fingerprint_is_the_recorded_one_only_for_the_current_generation() {
    let mut m = seen_at(waiting(), 0, None);
    {
        let st = m.status.as_mut().unwrap();
        st.candidate.as_mut().unwrap().fingerprint = Some("sha256:recorded".into());
        st.observed_generation = Some(1);
    }
    let fp = |m: &ModelDeployment| {
        owed(
            &snapshot(vec![m.clone()], teams()),
            &me("bob", &[]),
            time(0).0,
        )[0]
        .fingerprint
        .clone()
    };
    assert_eq!(fp(&m), "sha256:recorded");
    let mut newer = m.clone();
    newer.metadata.generation = Some(2);
    assert_eq!(fp(&newer), newer.spec.fingerprint(), "status is stale");
    let mut other_version = m.clone();
    other_version.spec.model.version = "2.4.1".into();
    assert_eq!(fp(&other_version), other_version.spec.fingerprint());
}

// ---- signed_recently ----

fn signed_by(name: &str, item: &str, user: &str, team: Option<&str>, at: i64) -> Attestation {
    let mut a = attestation(name, item, "2.4.0", user, &[]);
    a.spec.team = team.map(String::from);
    a.metadata.creation_timestamp = Some(time(at));
    a
}

#[test]
fn signed_recently_shows_only_my_teams_newest_first() {
    let mut signed = signed_by("s4", "latency", "ignored", Some("ml-platform"), 40);
    signed.spec.signature = Some(AttestationSignature {
        signer: "dan".into(),
        signed_at: "2027-01-15T08:00:00Z".into(),
        sshsig: "-----BEGIN SSH SIGNATURE-----".into(),
    });
    signed.spec.evidence = Some("https://ci.example.com/runs/4".into());
    let mut elsewhere = signed_by("s5", "latency", "bob", Some("ml-platform"), 50);
    elsewhere.metadata.namespace = Some("retail".into());
    elsewhere.spec.model_deployment = "churn".into();
    let s = Snapshot {
        attestations: [
            signed_by("s1", "latency", "bob", Some("ml-platform"), 10),
            signed_by("s2", "drift", "alice", Some("data-platform"), 60),
            signed_by("s3", "latency", "bob", Some("ml-platform"), 30),
            signed_by("s6", "latency", "bob", None, 70),
            signed,
            elsewhere,
        ]
        .into_iter()
        .map(Arc::new)
        .collect(),
        ..snapshot(vec![waiting()], teams())
    };

    let all = signed_recently(&s, &me("bob", &[]), 10);
    let order: Vec<(Option<Timestamp>, &str)> = all.iter().map(|x| (x.at, x.by.as_str())).collect();
    assert_eq!(
        order,
        [
            (Some(time(50).0), "bob"),
            (Some(time(40).0), "dan"),
            (Some(time(30).0), "bob"),
            (Some(time(10).0), "bob"),
        ],
        "only ml-platform's, newest first; a signed one by its signer"
    );
    assert_eq!(
        all[0],
        Signed {
            namespace: "retail".into(),
            model: "churn".into(),
            item: "latency".into(),
            version: "2.4.0".into(),
            by: "bob".into(),
            team: "ml-platform".into(),
            at: Some(time(50).0),
            evidence: None,
        }
    );
    assert_eq!(
        all[1].evidence.as_deref(),
        Some("https://ci.example.com/runs/4")
    );

    let two = signed_recently(&s, &me("bob", &[]), 2);
    assert_eq!(two, all[..2].to_vec(), "the newest `limit`");
    let data = signed_recently(&s, &me("zed", &["data-eng"]), 10);
    assert_eq!(data.len(), 1);
    assert_eq!(
        (data[0].by.as_str(), data[0].item.as_str()),
        ("alice", "drift")
    );
    assert!(signed_recently(&s, &me("mallory", &[]), 10).is_empty());
}

// ---- models ----

fn kinds(row: &ModelRisk) -> Vec<(&str, Option<&str>)> {
    row.risks
        .iter()
        .map(|r| (r.kind.as_str(), r.team.as_deref()))
        .collect()
}

fn one(mds: Vec<ModelDeployment>, now: i64) -> ModelRisk {
    let rows = models(
        &snapshot(mds, teams()),
        &ModelsQuery::default(),
        time(now).0,
    );
    assert_eq!(rows.len(), 1);
    rows.into_iter().next().unwrap()
}

#[test]
fn a_waiting_model_with_its_teams_has_no_risk() {
    let row = one(vec![waiting()], 0);
    assert_eq!(
        row,
        ModelRisk {
            namespace: "payments".into(),
            name: "fraud-scorer".into(),
            phase: Some("AwaitingAttestations".into()),
            candidate: "2.4.0".into(),
            active: Some("2.3.1".into()),
            data: "data-platform".into(),
            platform: "ml-platform".into(),
            application: "payments-app".into(),
            pending_items: 0,
            risks: vec![],
        }
    );
    // Without a status: no phase, no risk (not even a missing Team: nothing ran yet).
    let fresh = models(
        &snapshot(vec![md("2.5.0")], vec![]),
        &ModelsQuery::default(),
        time(0).0,
    );
    assert_eq!((fresh[0].phase.clone(), fresh[0].risks.len()), (None, 0));
}

#[test]
fn escalation_overdue_is_one_risk_per_owed_item_after_the_deadline() {
    let mut m = seen_at(waiting(), 0, None);
    m.spec.handoff.escalate_after = Some("1h".into());
    assert!(one(vec![m.clone()], 3599).risks.is_empty());
    let row = one(vec![m], 3600);
    assert_eq!(
        kinds(&row),
        [
            ("EscalationOverdue", Some("ml-platform")),
            ("EscalationOverdue", Some("payments-app"))
        ]
    );
    assert_eq!(
        row.risks[0].message,
        format!(
            "ml-platform owes latency for 2.4.0 since {} (escalation deadline)",
            time(3600).0
        )
    );
}

#[test]
fn canary_running_and_canary_failed() {
    let mut running = waiting();
    running.status.as_mut().unwrap().canary = Some(CanaryStatus {
        fingerprint: running.spec.fingerprint(),
        version: "2.4.0".into(),
        started_at: time(0),
        available_at: None,
        measurements: vec![],
        failed_measurements: 2,
    });
    let row = one(vec![running.clone()], 0);
    assert_eq!(kinds(&row), [("CanaryRunning", None)]);
    assert_eq!(
        row.risks[0].message,
        "canary of 2.4.0 running, 2 failed measurements"
    );

    let record = |outcome: &str| CanaryRecord {
        version: "2.4.0".into(),
        fingerprint: "sha256:x".into(),
        started_at: time(0),
        ended_at: time(60),
        outcome: outcome.into(),
        measurements: vec![],
    };
    let ended = |outcome: &str| {
        let mut m = waiting();
        let mut entry = history_entry("2.3.1", 60, Some(60));
        entry.canary = Some(record(outcome));
        m.status.as_mut().unwrap().history = vec![history_entry("2.3.0", 0, Some(0)), entry];
        m
    };
    let failed = one(vec![ended("AnalysisFailed")], 100);
    assert_eq!(kinds(&failed), [("CanaryFailed", None)]);
    assert_eq!(
        failed.risks[0].message,
        "canary of 2.4.0 ended AnalysisFailed"
    );
    assert!(one(vec![ended("Promoted")], 100).risks.is_empty());

    // A canary that failed before an older entry is not the last: no risk.
    let mut earlier = ended("AnalysisFailed");
    let history = &mut earlier.status.as_mut().unwrap().history;
    history.push(history_entry("2.3.2", 90, Some(90)));
    assert!(one(vec![earlier], 100).risks.is_empty());

    // While a new canary runs, only that one is reported.
    let mut both = ended("AnalysisFailed");
    both.status.as_mut().unwrap().canary = running.status.unwrap().canary;
    assert_eq!(kinds(&one(vec![both], 100)), [("CanaryRunning", None)]);
}

#[test]
fn degraded_and_invalid_phases_are_risks() {
    for (phase, kind) in [(Phase::Degraded, "Degraded"), (Phase::Invalid, "Invalid")] {
        let mut m = waiting();
        m.status.as_mut().unwrap().phase = Some(phase);
        let row = one(vec![m], 0);
        assert_eq!(kinds(&row), [(kind, None)]);
        assert_eq!(row.phase.as_deref(), Some(kind));
    }
    for phase in [Phase::Serving, Phase::RolledBack, Phase::Canary] {
        let mut m = waiting();
        m.status.as_mut().unwrap().phase = Some(phase);
        assert!(one(vec![m], 0).risks.is_empty(), "{phase:?}");
    }
}

#[test]
fn conformance_kinds_come_from_the_status() {
    let all = [
        ViolationKind::NewPolicyItem,
        ViolationKind::ExpiredSignOff,
        ViolationKind::KeyRevoked,
        ViolationKind::NotInTeam,
        ViolationKind::NoMembers,
        ViolationKind::RaciConflict,
        ViolationKind::MissingSignOff,
    ];
    let mut m = waiting();
    m.status.as_mut().unwrap().conformance = all
        .iter()
        .map(|k| ConformanceViolation {
            kind: *k,
            team: "data-platform".into(),
            item: Some("drift".into()),
            message: format!("{} of drift", k.as_str()),
        })
        .collect();
    let row = one(vec![m], 0);
    let expected: Vec<(&str, Option<&str>)> = all
        .iter()
        .map(|k| (k.as_str(), Some("data-platform")))
        .collect();
    assert_eq!(kinds(&row), expected);
    assert_eq!(row.risks[1].message, "ExpiredSignOff of drift");
}

#[test]
fn a_role_whose_team_is_missing_or_empty_has_no_members() {
    let mut empty = team("ml-platform", &[], &[]);
    empty.spec.members = Default::default();
    let s = snapshot(
        vec![waiting()],
        vec![team("data-platform", &[], &["data-eng"]), empty],
    );
    let row = &models(&s, &ModelsQuery::default(), time(0).0)[0];
    assert_eq!(
        row.risks,
        vec![
            risk(
                "NoMembers",
                Some("ml-platform"),
                "platform role: Team ml-platform has no members".into()
            ),
            risk(
                "NoMembers",
                Some("payments-app"),
                "application role: Team payments-app does not exist".into()
            ),
        ]
    );
}

#[test]
fn no_members_is_not_repeated_after_conformance_said_so() {
    let mut m = waiting();
    m.status.as_mut().unwrap().conformance = vec![ConformanceViolation {
        kind: ViolationKind::NoMembers,
        team: "payments-app".into(),
        item: None,
        message: "Team payments-app has no members".into(),
    }];
    let s = snapshot(vec![m], teams()[..2].to_vec());
    let row = &models(&s, &ModelsQuery::default(), time(0).0)[0];
    assert_eq!(kinds(row), [("NoMembers", Some("payments-app"))]);
    assert_eq!(row.risks[0].message, "Team payments-app has no members");

    // Conformance about another Team does not hide this one.
    let mut other = waiting();
    other.status.as_mut().unwrap().conformance = vec![ConformanceViolation {
        kind: ViolationKind::NoMembers,
        team: "ml-platform".into(),
        item: None,
        message: "Team ml-platform has no members".into(),
    }];
    let s = snapshot(vec![other], teams()[..2].to_vec());
    let row = &models(&s, &ModelsQuery::default(), time(0).0)[0];
    assert_eq!(
        kinds(row),
        [
            ("NoMembers", Some("ml-platform")),
            ("NoMembers", Some("payments-app"))
        ]
    );
}

#[test]
fn only_unresolved_incidents_of_the_model_are_open() {
    let mut other_model = incident("inc-other", 5, Some(IncidentPhase::Open));
    other_model.spec.model_deployment = "churn".into();
    let mut other_ns = incident("inc-retail", 6, Some(IncidentPhase::Open));
    other_ns.metadata.namespace = Some("retail".into());
    let s = Snapshot {
        incidents: [
            incident("inc-open", 10, Some(IncidentPhase::Open)),
            incident("inc-mitigated", 20, Some(IncidentPhase::Mitigated)),
            incident("inc-resolved", 30, Some(IncidentPhase::Resolved)),
            incident("inc-new", 40, None),
            other_model,
            other_ns,
        ]
        .into_iter()
        .map(Arc::new)
        .collect(),
        ..snapshot(vec![waiting()], teams())
    };
    let row = &models(&s, &ModelsQuery::default(), time(100).0)[0];
    assert_eq!(
        kinds(row),
        [
            ("IncidentOpen", Some("ml-platform")),
            ("IncidentOpen", Some("ml-platform")),
            ("IncidentOpen", None),
        ]
    );
    let messages: Vec<&str> = row.risks.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "inc-open (Open): error-rate 0.071 > 0.02 for 5m",
            "inc-mitigated (Mitigated): error-rate 0.071 > 0.02 for 5m",
            "inc-new (Open): error-rate 0.071 > 0.02 for 5m",
        ]
    );
}

#[test]
fn a_candidate_waiting_for_a_rollback_drill_is_the_platform_team_s_risk() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
    let ready = |status: &str, reason: &str, message: &str| Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: time(0),
        observed_generation: None,
    };
    let message = "2.4.0 is not promoted: HandoffPolicy/prod requires a rollback drill of \
                   fraud-scorer that passed, with its tabletop acknowledged, within 720h; last \
                   good run: never";
    let mut m = waiting();
    m.status.as_mut().unwrap().conditions = vec![ready("False", "DrillOverdue", message)];
    let s = snapshot(vec![m], teams());
    let row = &models(&s, &ModelsQuery::default(), time(0).0)[0];
    assert_eq!(kinds(row), [("DrillOverdue", Some("ml-platform"))]);
    assert_eq!(row.risks[0].message, message);

    // Waiting for sign-offs, or for an Incident, is not a drill risk.
    for (status, reason) in [("False", "AwaitingAttestations"), ("False", "IncidentOpen")] {
        let mut m = waiting();
        m.status.as_mut().unwrap().conditions = vec![ready(status, reason, "…")];
        let s = snapshot(vec![m], teams());
        let row = &models(&s, &ModelsQuery::default(), time(0).0)[0];
        assert!(kinds(row).is_empty(), "{reason}: {:?}", row.risks);
    }
}

/// Three models: payments/fraud-scorer (no risk, AwaitingAttestations), retail/churn
/// (two risks, Serving, owned by retail-*), payments/aardvark (one risk, Degraded).
fn three_models() -> Snapshot {
    let mut churn = waiting_as("retail", "churn");
    churn.spec.owners.data = "retail-data".into();
    churn.spec.owners.application = "retail-app".into();
    churn.status.as_mut().unwrap().phase = Some(Phase::Serving);
    let mut aardvark = waiting_as("payments", "aardvark");
    aardvark.status.as_mut().unwrap().phase = Some(Phase::Degraded);
    let mut ts = teams();
    ts.push(team("retail-app", &["rita"], &[]));
    snapshot(vec![waiting(), churn, aardvark], ts)
}

fn names(rows: &[ModelRisk]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{}/{}", r.namespace, r.name))
        .collect()
}

#[test]
fn models_filter_by_namespace_and_team() {
    let s = three_models();
    let q = |ns: Option<&str>, team: Option<&str>| ModelsQuery {
        ns: ns.map(String::from),
        team: team.map(String::from),
        sort: Some("name".into()),
    };
    let now = time(0).0;
    assert_eq!(
        names(&models(&s, &q(Some("payments"), None), now)),
        ["payments/aardvark", "payments/fraud-scorer"]
    );
    assert_eq!(
        names(&models(&s, &q(None, Some("retail-app")), now)),
        ["retail/churn"]
    );
    assert_eq!(
        names(&models(&s, &q(None, Some("retail-data")), now)),
        ["retail/churn"],
        "the data role counts"
    );
    assert_eq!(
        names(&models(&s, &q(None, Some("ml-platform")), now)).len(),
        3,
        "the platform role counts"
    );
    assert!(models(&s, &q(Some("retail"), Some("payments-app")), now).is_empty());
    assert!(models(&s, &q(Some("nowhere"), None), now).is_empty());
    assert_eq!(
        models(&s, &q(Some(""), Some("")), now).len(),
        3,
        "an empty filter (a blank form field) is no filter"
    );
}

#[test]
fn models_sort_by_risk_name_or_phase() {
    let s = three_models();
    let now = time(0).0;
    let sorted = |sort: Option<&str>| {
        let q = ModelsQuery {
            sort: sort.map(String::from),
            ..Default::default()
        };
        names(&models(&s, &q, now))
    };
    let rows = models(&s, &ModelsQuery::default(), now);
    let churn = rows.iter().find(|r| r.name == "churn").unwrap();
    assert_eq!(
        kinds(churn),
        [("NoMembers", Some("retail-data"))],
        "retail-data does not exist"
    );
    // By risk: most first, then by name. churn and aardvark have one risk each.
    assert_eq!(
        sorted(None),
        ["payments/aardvark", "retail/churn", "payments/fraud-scorer"]
    );
    assert_eq!(sorted(Some("risk")), sorted(None));
    assert_eq!(sorted(Some("bogus")), sorted(None), "unknown: the default");
    assert_eq!(
        sorted(Some("name")),
        ["payments/aardvark", "payments/fraud-scorer", "retail/churn"]
    );
    // By phase name: AwaitingAttestations < Degraded < Serving.
    assert_eq!(
        sorted(Some("phase")),
        ["payments/fraud-scorer", "payments/aardvark", "retail/churn"]
    );
}

#[test]
fn models_with_more_risks_come_first() {
    let mut s = three_models();
    let mut risky = waiting_as("zeta", "zz");
    risky.status.as_mut().unwrap().phase = Some(Phase::Degraded);
    risky.spec.owners.application = "gone".into();
    s.mds.push(Arc::new(risky));
    let rows = models(&s, &ModelsQuery::default(), time(0).0);
    assert_eq!(names(&rows)[0], "zeta/zz");
    assert_eq!(rows[0].risks.len(), 2);
}
