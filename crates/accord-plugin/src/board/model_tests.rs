use std::sync::Arc;

use accord_core::testing::{attestation, md, time};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use super::*;
use crate::{
    api::{
        AttestationSignature, Canary, CanaryStatus, CarriedFrom, ChecklistItemStatus,
        HistoryOutcome, IncidentPhase, ItemApproval, ModelDeploymentStatus, RolloutStrategy,
    },
    fixtures::{history_entry, incident, waiting},
};

fn snapshot(md: ModelDeployment, attestations: Vec<Attestation>) -> Snapshot {
    Snapshot {
        mds: vec![Arc::new(md)],
        attestations: attestations.into_iter().map(Arc::new).collect(),
        ..Default::default()
    }
}

fn approval(user: &str, attestation: &str) -> ItemApproval {
    ItemApproval {
        attested_by: user.into(),
        attestation: attestation.into(),
        carried_from: None,
    }
}

fn at(a: Attestation, secs: i64) -> Attestation {
    let mut a = a;
    a.metadata.creation_timestamp = Some(time(secs));
    a
}

fn the_page(s: &Snapshot, events: &[Event]) -> ModelPage {
    page(s, "payments", "fraud-scorer", events).expect("the page of payments/fraud-scorer")
}

fn item<'a>(page: &'a ModelPage, id: &str) -> &'a Item {
    page.items.iter().find(|i| i.id == id).expect(id)
}

/// fraud-scorer 2.4.0 where each item counted another way: drift in the cluster (and
/// by erin, whose Attestation is gone), latency signed, kpis carried from staging, bias
/// auto-approved; load-test optional and open.
fn every_way() -> (ModelDeployment, Vec<Attestation>) {
    let mut m = waiting();
    m.spec.handoff.checklist[0].description = Some("PSI under 0.2 on last week".into());
    let checklist = &mut m.status.as_mut().unwrap().checklist;
    checklist[0].approvals = vec![approval("alice", "a1"), approval("erin", "a-gone")];
    checklist[1].attested = true;
    checklist[1].approvals = vec![approval("bob", "a2")];
    checklist[2].attested = true;
    checklist[2].approvals = vec![ItemApproval {
        attested_by: "carol".into(),
        attestation: "a3".into(),
        carried_from: Some(CarriedFrom {
            model_deployment: "payments-staging/fraud-scorer".into(),
            attestation: "a3".into(),
            uid: None,
        }),
    }];
    checklist.push(ChecklistItemStatus {
        id: "bias".into(),
        owner: "data".into(),
        team: "data-platform".into(),
        required: true,
        attested: true,
        auto_approved_by: Some("HandoffPolicy/prod rule patch-release".into()),
        ..Default::default()
    });
    checklist.push(ChecklistItemStatus {
        id: "load-test".into(),
        owner: "platform".into(),
        team: "ml-platform".into(),
        required: false,
        ..Default::default()
    });
    let mut a1 = at(attestation("a1", "drift", "2.4.0", "alice", &[]), 10);
    a1.spec.evidence = Some("https://ci.example.com/runs/1".into());
    let mut a2 = at(attestation("a2", "latency", "2.4.0", "bob", &[]), 20);
    a2.spec.signature = Some(AttestationSignature {
        signer: "bob".into(),
        signed_at: "2027-01-15T08:00:20Z".into(),
        sshsig: "-----BEGIN SSH SIGNATURE-----".into(),
    });
    // A local Attestation with the carried one's name is not the one that counted.
    let mut a3 = at(attestation("a3", "kpis", "2.4.0", "carol", &[]), 30);
    a3.spec.evidence = Some("https://local.example.com".into());
    // Same name, another namespace: not this model's.
    let mut foreign = at(attestation("a1", "drift", "2.4.0", "mallory", &[]), 99);
    foreign.metadata.namespace = Some("retail".into());
    foreign.spec.evidence = Some("https://evil.example.com".into());
    (m, vec![foreign, a1, a2, a3])
}

#[test]
fn each_sign_off_says_how_it_came_to_count() {
    let (m, attestations) = every_way();
    let p = the_page(&snapshot(m, attestations), &[]);
    let ids: Vec<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["drift", "latency", "kpis", "bias", "load-test"]);

    let drift = item(&p, "drift");
    assert_eq!(
        drift.description.as_deref(),
        Some("PSI under 0.2 on last week")
    );
    assert_eq!(
        (drift.owner.as_str(), drift.team.as_str()),
        ("data", "data-platform")
    );
    assert_eq!(
        drift.sign_offs,
        vec![
            SignOff {
                by: "alice".into(),
                attestation: Some("a1".into()),
                at: Some(time(10).0),
                evidence: Some("https://ci.example.com/runs/1".into()),
                how: How::InCluster,
                from: None,
            },
            SignOff {
                by: "erin".into(),
                attestation: Some("a-gone".into()),
                at: None,
                evidence: None,
                how: How::InCluster,
                from: None,
            },
        ]
    );
    let latency = &item(&p, "latency").sign_offs[0];
    assert_eq!((latency.how, latency.at), (How::Signed, Some(time(20).0)));
    assert_eq!(
        item(&p, "kpis").sign_offs,
        vec![SignOff {
            by: "carol".into(),
            attestation: Some("a3".into()),
            at: None,
            evidence: None,
            how: How::Carried,
            from: Some("payments-staging/fraud-scorer".into()),
        }]
    );
    assert_eq!(
        item(&p, "bias").sign_offs,
        vec![SignOff {
            by: "Accord".into(),
            attestation: None,
            at: None,
            evidence: None,
            how: How::AutoApproved,
            from: Some("HandoffPolicy/prod rule patch-release".into()),
        }]
    );
    let states: Vec<&str> = p.items.iter().map(Item::state).collect();
    assert_eq!(
        states,
        ["attested", "attested", "attested", "attested", "optional"]
    );
    assert!(item(&p, "load-test").sign_offs.is_empty());
}

#[test]
fn a_sign_off_recorded_before_approvals_existed_still_shows_who() {
    // Status written before `approvals`: only attestedBy and attestation (as `waiting`).
    let a1 = at(attestation("a1", "drift", "2.4.0", "alice", &[]), 10);
    let p = the_page(&snapshot(waiting(), vec![a1]), &[]);
    let drift = item(&p, "drift");
    assert_eq!(drift.state(), "attested");
    assert_eq!(
        drift.sign_offs,
        vec![SignOff {
            by: "alice".into(),
            attestation: Some("a1".into()),
            at: Some(time(10).0),
            evidence: None,
            how: How::InCluster,
            from: None,
        }]
    );
    assert_eq!(item(&p, "latency").state(), "pending");
    assert!(item(&p, "latency").sign_offs.is_empty());
}

#[test]
fn without_a_recorded_checklist_the_spec_items_are_pending() {
    let p = the_page(&snapshot(md("2.4.0"), vec![]), &[]);
    let rows: Vec<(&str, &str, &str)> = p
        .items
        .iter()
        .map(|i| (i.id.as_str(), i.team.as_str(), i.state()))
        .collect();
    assert_eq!(
        rows,
        [
            ("drift", "data-platform", "pending"),
            ("latency", "ml-platform", "pending"),
            ("kpis", "payments-app", "pending")
        ]
    );
    assert!(p.timeline.is_empty());
    assert_eq!(p.rollback_target, None);
}

fn event(reason: &str, set: impl FnOnce(&mut Event)) -> Event {
    let mut e = Event {
        reason: Some(reason.into()),
        message: Some(format!("{reason} happened")),
        metadata: ObjectMeta::default(),
        ..Default::default()
    };
    set(&mut e);
    e
}

#[test]
fn the_timeline_merges_history_sign_offs_and_events_newest_first() {
    let mut m = waiting();
    let mut rolled_back = history_entry("2.3.1", 40, Some(45));
    rolled_back.outcome = HistoryOutcome::RolledBack;
    rolled_back.reason = "CanaryFailed".into();
    m.status.as_mut().unwrap().history = vec![history_entry("2.3.0", 10, Some(12)), rolled_back];
    let a1 = at(attestation("a1", "drift", "2.4.0", "alice", &[]), 20);
    let mut signed = at(attestation("s-dan", "latency", "2.4.0", "ignored", &[]), 50);
    signed.spec.signature = Some(AttestationSignature {
        signer: "dan".into(),
        signed_at: "2027-01-15T08:00:50Z".into(),
        sshsig: "-----BEGIN SSH SIGNATURE-----".into(),
    });
    let mut other_model = at(attestation("o1", "drift", "2.4.0", "olga", &[]), 70);
    other_model.spec.model_deployment = "churn".into();
    let events = [
        event("PromotionBlocked", |e| {
            e.first_timestamp = Some(time(1));
            e.last_timestamp = Some(time(30));
        }),
        event("CanaryStarted", |e| {
            e.event_time = Some(MicroTime(time(60).0))
        }),
        event("CandidateSeen", |e| e.first_timestamp = Some(time(5))),
        event("Escalated", |e| {
            e.metadata.creation_timestamp = Some(time(35))
        }),
        event("Undated", |_| {}),
    ];
    let p = the_page(&snapshot(m, vec![a1, signed, other_model]), &events);
    let timeline: Vec<(Option<i64>, &str, &str)> = p
        .timeline
        .iter()
        .map(|m| {
            let secs = m.at.map(|t| t.as_second() - time(0).0.as_second());
            (secs, m.source, m.what.as_str())
        })
        .collect();
    assert_eq!(
        timeline,
        [
            (Some(60), "Event", "CanaryStarted: CanaryStarted happened"),
            (Some(50), "SignOff", "dan signed off latency for 2.4.0"),
            (Some(40), "History", "RolledBack 2.3.1 (CanaryFailed)"),
            (Some(35), "Event", "Escalated: Escalated happened"),
            (
                Some(30),
                "Event",
                "PromotionBlocked: PromotionBlocked happened"
            ),
            (Some(20), "SignOff", "alice signed off drift for 2.4.0"),
            (Some(10), "History", "Promoted 2.3.0 (Attested)"),
            (Some(5), "Event", "CandidateSeen: CandidateSeen happened"),
            (None, "Event", "Undated: Undated happened"),
        ]
    );
}

#[test]
fn the_timeline_keeps_the_newest_200() {
    let events: Vec<Event> = (0..250)
        .map(|n| event(&format!("E{n}"), |e| e.last_timestamp = Some(time(n))))
        .collect();
    let p = the_page(&snapshot(waiting(), vec![]), &events);
    assert_eq!(p.timeline.len(), 200);
    assert_eq!(p.timeline[0].what, "E249: E249 happened");
    assert_eq!(p.timeline[199].what, "E50: E50 happened");
}

fn with_history(active: &str, history: Vec<crate::api::HistoryEntry>) -> ModelDeployment {
    let mut m = waiting();
    let st = m.status.as_mut().unwrap();
    st.active_version = Some(active.into());
    st.history = history;
    m
}

#[test]
fn the_rollback_target_is_the_newest_earlier_available_version() {
    let target = |m: ModelDeployment| the_page(&snapshot(m, vec![]), &[]).rollback_target;
    assert_eq!(
        target(with_history(
            "2.3.1",
            vec![
                history_entry("2.2.0", 0, Some(1)),
                history_entry("2.3.0", 10, Some(11)),
                history_entry("2.3.1", 20, Some(21)),
            ]
        )),
        Some("2.3.0".into())
    );
    // A version that never became available is no target.
    assert_eq!(
        target(with_history(
            "2.3.1",
            vec![
                history_entry("2.3.0", 10, Some(11)),
                history_entry("2.3.0-rc", 15, None),
                history_entry("2.3.1", 20, Some(21)),
            ]
        )),
        Some("2.3.0".into())
    );
    // Only the active version was ever available: nothing to restore.
    assert_eq!(
        target(with_history(
            "2.3.1",
            vec![history_entry("2.3.1", 20, Some(21))]
        )),
        None
    );
    // The active version appears again after a rollback: skipped, the one before wins.
    assert_eq!(
        target(with_history(
            "2.3.0",
            vec![
                history_entry("2.2.0", 0, Some(1)),
                history_entry("2.3.0", 10, Some(11)),
                history_entry("2.3.1", 20, Some(21)),
                history_entry("2.3.0", 30, Some(31)),
            ]
        )),
        Some("2.3.1".into())
    );
}

#[test]
fn the_page_carries_the_rollback_plan_incidents_and_canary() {
    let mut m = waiting();
    m.spec.rollout = Some(RolloutStrategy {
        canary: Some(Canary {
            replicas: 1,
            bake_seconds: 600,
            analysis: None,
        }),
    });
    m.status.as_mut().unwrap().canary = Some(CanaryStatus {
        fingerprint: m.spec.fingerprint(),
        version: "2.4.0".into(),
        started_at: time(0),
        available_at: None,
        measurements: vec![],
        failed_measurements: 1,
    });
    let s = Snapshot {
        incidents: vec![
            Arc::new(incident("inc-open", 10, Some(IncidentPhase::Open))),
            Arc::new(incident("inc-done", 5, Some(IncidentPhase::Resolved))),
        ],
        ..snapshot(m, vec![])
    };
    let p = the_page(&s, &[]);
    assert_eq!(p.rollback_mode, "Automatic");
    assert_eq!(p.progress_deadline_seconds, 60);
    assert_eq!(p.deployment, "fraud-scorer");
    assert_eq!(p.status.candidate, "2.4.0");
    assert_eq!(p.status.active.as_deref(), Some("2.3.1"));
    let open: Vec<&str> = p
        .status
        .incidents
        .open
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(open, ["inc-open"]);
    let canary = p.canary.expect("a canary runs");
    assert_eq!(
        (canary.version.as_str(), canary.failed_measurements),
        ("2.4.0", 1)
    );
    assert_eq!(p.status.canary, Some(canary));
}

#[test]
fn no_page_for_a_model_the_caller_cannot_see() {
    let s = snapshot(waiting(), vec![]);
    assert!(page(&s, "retail", "fraud-scorer", &[]).is_none());
    assert!(page(&s, "payments", "missing", &[]).is_none());
    let empty = Snapshot {
        mds: vec![Arc::new(ModelDeployment {
            status: Some(ModelDeploymentStatus::default()),
            ..md("2.4.0")
        })],
        ..Default::default()
    };
    assert!(page(&empty, "payments", "fraud-scorer", &[]).is_some());
}
