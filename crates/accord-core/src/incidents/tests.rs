//! Incidents through the whole decision, as successive reconciles would make it:
//! 2.4.0 then 2.5.0 serve; 2.5.0's guard breaches.

use super::*;
use crate::{
    api::{
        ChecklistItem, Guard, HandoffPolicySpec, HistoryOutcome, Monitoring, Phase,
        handoff_policy::{Responsibility, Stage},
        reasons::history,
    },
    decide::Decision,
    guards::Reading,
    testing::{Verify, World, attestation, md, time},
};

fn guard(action: GuardAction, for_: &str) -> Guard {
    Guard {
        name: "error-rate".into(),
        query: "max(errors{version=\"{{version}}\"})".into(),
        max_value: Some(0.02),
        min_value: None,
        for_: for_.into(),
        interval_seconds: 30,
        owner: Role::Platform,
        action,
    }
}

/// The incident-response row: the application role is Accountable.
fn matrix() -> HandoffPolicy {
    HandoffPolicy {
        metadata: ObjectMeta {
            name: Some("org".into()),
            ..Default::default()
        },
        spec: HandoffPolicySpec {
            responsibilities: vec![Responsibility {
                stage: Stage::IncidentResponse,
                responsible: vec![Role::Platform],
                accountable: Role::Application,
                consulted: vec![],
                informed: vec![],
            }],
            ..Default::default()
        },
        status: None,
    }
}

/// 2.4.0 then 2.5.0 promoted and available, 2.5.0 watched by `guard`.
fn serving(guard: Guard) -> World {
    let mut world = World::converged();
    world.policies = vec![matrix()];
    let next = md("2.5.0");
    let m = world.model_deployment.as_mut().unwrap();
    m.spec.model = next.spec.model;
    m.spec.serving = next.spec.serving;
    m.spec.monitoring = Some(Monitoring {
        address: "http://prometheus:9090".into(),
        escalate_after: Some("10m".into()),
        guards: vec![guard],
    });
    world.attestations = vec![
        attestation("b1", "drift", "2.5.0", "alice", &["data-platform-eng"]),
        attestation("b2", "latency", "2.5.0", "bob", &[]),
        attestation("b3", "kpis", "2.5.0", "carol", &[]),
    ];
    for t in 10..14 {
        step(&mut world, t, None);
    }
    assert_eq!(active(&world), "2.5.0");
    world
}

fn reading(value: &str, breached: bool, t: i64) -> Reading {
    Reading {
        guard: "error-rate".into(),
        at: time(t),
        value: Some(value.into()),
        breached: Some(breached),
        message: breached.then(|| format!("{value} is above the maximum 0.02")),
    }
}

/// One reconcile at `t` with `read` taken, its writes carried out.
fn step(world: &mut World, t: i64, read: Option<Reading>) -> Decision {
    world.readings = read.into_iter().collect();
    let decision = world.decide(&Verify::default(), t);
    world.carry_out(&decision);
    world.readings.clear();
    decision
}

fn active(world: &World) -> String {
    world
        .md()
        .status
        .as_ref()
        .unwrap()
        .active_version
        .clone()
        .unwrap()
}

fn phase(world: &World, name: &str) -> Option<IncidentPhase> {
    let incident = world
        .incidents
        .iter()
        .find(|i| i.metadata.name.as_deref() == Some(name))?;
    incident.status.as_ref()?.phase
}

fn rca(name: &str, incident: &str, user: &str, follow_ups: &[&str]) -> Attestation {
    let mut a = attestation(
        name,
        crate::api::incident::ROOT_CAUSE_ANALYSIS,
        "2.5.0",
        user,
        &[],
    );
    a.spec.incident = Some(incident.into());
    a.spec.candidate = None;
    a.spec.evidence = Some("https://wiki.example.com/rca/1".into());
    a.spec.follow_ups = follow_ups.iter().map(|s| s.to_string()).collect();
    a
}

#[test]
fn a_breach_shorter_than_for_opens_nothing_and_a_good_reading_ends_it() {
    let mut world = serving(guard(GuardAction::RollBack, "5m"));
    let d = step(&mut world, 100, Some(reading("0.07", true, 100)));
    assert!(d.writes.incidents.is_empty());
    let record = &world
        .md()
        .status
        .as_ref()
        .unwrap()
        .monitoring
        .as_ref()
        .unwrap()
        .guards[0];
    assert_eq!(record.breaching_since, Some(time(100)));
    step(&mut world, 250, Some(reading("0.09", true, 250)));
    assert!(world.incidents.is_empty(), "4m10s is shorter than 5m");
    step(&mut world, 280, Some(reading("0.01", false, 280)));
    let monitoring = world
        .md()
        .status
        .as_ref()
        .unwrap()
        .monitoring
        .clone()
        .unwrap();
    assert!(
        monitoring.guards.is_empty(),
        "the breach ended: {monitoring:?}"
    );
    step(&mut world, 390, Some(reading("0.07", true, 390)));
    assert!(
        world.incidents.is_empty(),
        "the window starts again after a good reading"
    );
    assert_eq!(active(&world), "2.5.0");
}

#[test]
fn an_unreadable_guard_neither_starts_nor_ends_a_breach() {
    let mut world = serving(guard(GuardAction::RollBack, "60s"));
    step(&mut world, 100, Some(reading("0.07", true, 100)));
    let unreadable = Reading {
        breached: None,
        value: None,
        message: Some("cannot reach Prometheus".into()),
        ..reading("", false, 130)
    };
    step(&mut world, 130, Some(unreadable));
    let record = &world
        .md()
        .status
        .as_ref()
        .unwrap()
        .monitoring
        .as_ref()
        .unwrap()
        .guards[0];
    assert_eq!(
        record.breaching_since,
        Some(time(100)),
        "kept through no reading"
    );
    step(&mut world, 160, Some(reading("0.07", true, 160)));
    assert_eq!(
        world.incidents.len(),
        1,
        "60s of breach, one reading unreadable in between"
    );
}

#[test]
fn a_breach_lasting_for_rolls_back_opens_one_incident_and_tells_the_responsible_team() {
    let mut world = serving(guard(GuardAction::RollBack, "60s"));
    step(&mut world, 100, Some(reading("0.07", true, 100)));
    let d = step(&mut world, 160, Some(reading("0.071", true, 160)));
    assert_eq!(d.writes.incidents.len(), 1);
    let incident = &world.incidents[0];
    let name = incident.metadata.name.clone().unwrap();
    assert!(name.starts_with("fraud-scorer-error-rate-"), "{name}");
    assert_eq!(incident.spec.version, "2.5.0");
    assert_eq!(incident.spec.guard.as_deref(), Some("error-rate"));
    assert_eq!(incident.spec.action, GuardAction::RollBack);
    assert!(
        incident
            .spec
            .summary
            .contains("0.071 is above the maximum 0.02 for 60s")
    );
    // Rolled back in the same decision, recorded with the guard's reason.
    let last = world
        .md()
        .status
        .as_ref()
        .unwrap()
        .history
        .last()
        .unwrap()
        .clone();
    assert_eq!(last.outcome, HistoryOutcome::RolledBack);
    assert_eq!(last.reason, history::GUARD_BREACHED);
    assert_eq!(last.version, "2.4.0");
    // The next reconcile sees the Incident: triaged, the platform Team told.
    let d = step(&mut world, 161, None);
    let status = world.incidents[0].status.clone().unwrap();
    assert!(status.opened_at.is_some());
    assert_eq!(status.owner.as_ref().unwrap().team, "ml-platform");
    assert_eq!(status.accountable.as_ref().unwrap().team, "payments-app");
    assert_eq!(d.notices.len(), 1);
    assert_eq!(d.notices[0].team, "ml-platform");
    assert_eq!(d.notices[0].event, NotifyEvent::IncidentOpened);
    let whats: Vec<&str> = status.timeline.iter().map(|t| t.what.as_str()).collect();
    assert_eq!(whats, ["Opened", "Notified", "RolledBack", "Mitigated"]);
    // The restored 2.4.0 is available (the world rolls out at once): mitigated.
    assert_eq!(phase(&world, &name), Some(IncidentPhase::Mitigated));
    assert_eq!(d.incident_times.mitigated.len(), 1);
    // Nothing more is said on the next look.
    let d = step(&mut world, 170, None);
    assert!(d.notices.is_empty() && d.writes.incident_statuses.is_empty());
}

#[test]
fn nobody_acknowledging_escalates_to_the_accountable_team_once_and_an_ack_prevents_it() {
    let mut world = serving(guard(GuardAction::Alert, "0s"));
    step(&mut world, 100, Some(reading("0.07", true, 100)));
    let d = step(&mut world, 101, None);
    assert!(
        d.plan.requeue_after <= std::time::Duration::from_secs(600),
        "{:?}",
        d.plan.requeue_after
    );
    assert_eq!(active(&world), "2.5.0", "Alert keeps the version serving");
    assert!(
        step(&mut world, 600, None).notices.is_empty(),
        "9m59s: not yet"
    );
    let d = step(&mut world, 701, None);
    assert_eq!(d.notices.len(), 1);
    assert_eq!(d.notices[0].team, "payments-app");
    assert_eq!(d.notices[0].event, NotifyEvent::IncidentEscalated);
    assert!(
        step(&mut world, 2000, None).notices.is_empty(),
        "escalated once"
    );

    let mut acked = serving(guard(GuardAction::Alert, "0s"));
    step(&mut acked, 100, Some(reading("0.07", true, 100)));
    step(&mut acked, 101, None);
    acked.incidents[0]
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(labels::ACKNOWLEDGED_BY.into(), "bob".into());
    step(&mut acked, 200, None);
    let status = acked.incidents[0].status.clone().unwrap();
    assert_eq!(status.acknowledged_by.as_deref(), Some("bob"));
    assert!(
        step(&mut acked, 800, None).notices.is_empty(),
        "acknowledged: no escalation"
    );
}

#[test]
fn an_open_incident_holds_the_next_candidate_until_the_accountable_team_signs_the_root_cause() {
    let mut world = serving(guard(GuardAction::RollBack, "0s"));
    step(&mut world, 100, Some(reading("0.07", true, 100)));
    step(&mut world, 101, None);
    let name = world.incidents[0].metadata.name.clone().unwrap();
    // 2.6.0, fully signed off, waits.
    let next = md("2.6.0");
    let m = world.model_deployment.as_mut().unwrap();
    m.spec.model = next.spec.model;
    m.spec.serving = next.spec.serving;
    world.attestations.extend([
        attestation("c1", "drift", "2.6.0", "alice", &["data-platform-eng"]),
        attestation("c2", "latency", "2.6.0", "bob", &[]),
        attestation("c3", "kpis", "2.6.0", "carol", &[]),
    ]);
    step(&mut world, 200, None);
    let status = world.md().status.clone().unwrap();
    assert_eq!(status.active_version.as_deref(), Some("2.4.0"));
    let ready = crate::status::condition(&status.conditions, "Ready").unwrap();
    assert_eq!(ready.reason, reason::INCIDENT_OPEN);
    assert!(ready.message.contains(&name), "{}", ready.message);
    // bob is Responsible, not Accountable: his analysis resolves nothing.
    world.attestations.push(rca("r1", &name, "bob", &[]));
    step(&mut world, 210, None);
    assert_eq!(phase(&world, &name), Some(IncidentPhase::Mitigated));
    assert_eq!(active(&world), "2.4.0");
    // carol's, with two follow-ups, resolves it; the candidate now waits for them.
    world
        .attestations
        .push(rca("r2", &name, "carol", &["load-test", "alert-runbook"]));
    let d = step(&mut world, 220, None);
    assert_eq!(phase(&world, &name), Some(IncidentPhase::Resolved));
    assert_eq!(d.incident_times.resolved.len(), 1);
    // The resolution is a signed record too, next in the model's chain, naming carol's
    // analysis and the follow-ups; it is planned once.
    let resolved: Vec<_> = d.records.iter().filter(|r| r.incident.is_some()).collect();
    assert_eq!(resolved.len(), 1, "{:?}", d.records);
    let sequence = world.md().status.as_ref().unwrap().record_sequence;
    assert_eq!(Some(resolved[0].sequence), sequence);
    assert_eq!(resolved[0].entry.version, "2.5.0");
    let rcas: Vec<std::sync::Arc<Attestation>> = world
        .attestations
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    let statement = crate::audit::statement(
        resolved[0],
        &crate::audit::Context {
            cluster: "c",
            md: world.md(),
            attestations: &rcas,
            previous: None,
        },
    );
    let p = &statement.predicate;
    assert_eq!(p.action, crate::api::RecordAction::IncidentResolved);
    assert_eq!(p.incident.as_deref(), Some(name.as_str()));
    assert_eq!(p.follow_ups, ["load-test", "alert-runbook"]);
    let approver = &p.items[0].approvers[0];
    assert_eq!(approver.user.as_deref(), Some("carol"));
    assert_eq!(approver.attestation.as_deref(), Some("r2"));
    assert_eq!(p.items[0].team, "payments-app");
    let again = step(&mut world, 230, None);
    assert!(
        again.records.iter().all(|r| r.incident.is_none()),
        "{:?}",
        again.records
    );
    let resolution = world.incidents[0]
        .status
        .clone()
        .unwrap()
        .resolution
        .unwrap();
    assert_eq!(resolution.attested_by, "carol");
    step(&mut world, 221, None);
    let status = world.md().status.clone().unwrap();
    let ready = crate::status::condition(&status.conditions, "Ready").unwrap();
    assert_eq!(ready.reason, reason::FOLLOW_UP_MISSING, "{}", ready.message);
    assert!(
        ready.message.contains("load-test, alert-runbook"),
        "{}",
        ready.message
    );
    assert_eq!(active(&world), "2.4.0");
    // The spec carries them, required: they are owed like any item, then promoted.
    let m = world.model_deployment.as_mut().unwrap();
    for (id, owner) in [
        ("load-test", Role::Platform),
        ("alert-runbook", Role::Platform),
    ] {
        m.spec.handoff.checklist.push(ChecklistItem {
            id: id.into(),
            owner,
            description: None,
            required: true,
            after: None,
        });
    }
    step(&mut world, 230, None);
    assert_eq!(active(&world), "2.4.0", "the follow-ups are owed");
    world.attestations.extend([
        attestation("c4", "load-test", "2.6.0", "bob", &[]),
        attestation("c5", "alert-runbook", "2.6.0", "bob", &[]),
    ]);
    for t in 240..244 {
        step(&mut world, t, None);
    }
    assert_eq!(active(&world), "2.6.0");
    // Promoted since: the follow-ups no longer hold anything back.
    let resolved: Vec<&Incident> = world.incidents.iter().collect();
    let effective = world.observed().effective(world.md());
    assert!(follow_ups_missing(world.md(), &resolved, &effective).is_empty());
}

#[test]
fn one_incident_per_version_while_open_and_a_forged_or_other_analysis_does_not_resolve() {
    let mut world = serving(guard(GuardAction::Alert, "0s"));
    step(&mut world, 100, Some(reading("0.07", true, 100)));
    step(&mut world, 130, Some(reading("0.08", true, 130)));
    step(&mut world, 160, Some(reading("0.09", true, 160)));
    assert_eq!(
        world.incidents.len(),
        1,
        "never a second while the first is open"
    );
    let name = world.incidents[0].metadata.name.clone().unwrap();
    // An analysis for another version, or of another Incident, does not count.
    let mut other_version = rca("r1", &name, "carol", &[]);
    other_version.spec.version = "2.4.0".into();
    let replayed = rca("r2", "fraud-scorer-error-rate-elsewhere", "carol", &[]);
    world.attestations.extend([other_version, replayed]);
    step(&mut world, 170, None);
    assert_eq!(phase(&world, &name), Some(IncidentPhase::Open));
    // carol's own, but its seal does not verify (written past the webhook).
    world.attestations.push(rca("r3", &name, "carol", &[]));
    let refused = Verify {
        reject: Some("its seal does not match its fields".into()),
        ..Default::default()
    };
    let d = world.decide(&refused, 180);
    assert!(
        d.writes
            .incident_statuses
            .iter()
            .all(|(_, s)| s.phase != Some(IncidentPhase::Resolved)),
        "an analysis whose seal does not verify resolves nothing"
    );
    // Verified, it does.
    step(&mut world, 190, None);
    assert_eq!(phase(&world, &name), Some(IncidentPhase::Resolved));
    assert_eq!(
        world.md().status.as_ref().unwrap().phase,
        Some(Phase::Serving)
    );
}

#[test]
fn a_rollback_guard_rolls_back_even_when_a_persons_alert_incident_is_open_for_the_version() {
    let mut world = serving(guard(GuardAction::RollBack, "0s"));
    let fingerprint = world
        .md()
        .status
        .as_ref()
        .unwrap()
        .history
        .last()
        .unwrap()
        .fingerprint_in(&world.md().spec);
    world.incidents.push(Incident {
        metadata: ObjectMeta {
            name: Some("seen-by-users".into()),
            namespace: Some("payments".into()),
            ..Default::default()
        },
        spec: IncidentSpec {
            model_deployment: "fraud-scorer".into(),
            version: "2.5.0".into(),
            fingerprint: Some(fingerprint),
            summary: "checkout errors".into(),
            opened_by: Some("carol".into()),
            opened_as: Some(Role::Application),
            ..Default::default()
        },
        status: None,
    });
    step(&mut world, 90, None);
    assert_eq!(
        active(&world),
        "2.5.0",
        "an Alert Incident rolls nothing back"
    );
    let owner = world.incidents[0].status.clone().unwrap().owner.unwrap();
    assert_eq!(
        owner.team, "payments-app",
        "Responsible: the role of who opened it"
    );
    let d = step(&mut world, 100, Some(reading("0.07", true, 100)));
    assert!(
        d.writes.incidents.is_empty(),
        "the open Incident records the breach"
    );
    assert_eq!(active(&world), "2.4.0");
    let monitoring = world
        .md()
        .status
        .as_ref()
        .unwrap()
        .monitoring
        .clone()
        .unwrap();
    assert_eq!(
        monitoring.guards[0].incident.as_deref(),
        Some("seen-by-users")
    );
}

#[test]
fn a_person_with_rollback_rights_opening_one_rolls_the_version_back_once() {
    let mut world = serving(guard(GuardAction::Alert, "5m"));
    let fingerprint = world
        .md()
        .status
        .as_ref()
        .unwrap()
        .history
        .last()
        .unwrap()
        .fingerprint_in(&world.md().spec);
    world.incidents.push(Incident {
        metadata: ObjectMeta {
            name: Some("checkout-errors".into()),
            namespace: Some("payments".into()),
            ..Default::default()
        },
        spec: IncidentSpec {
            model_deployment: "fraud-scorer".into(),
            version: "2.5.0".into(),
            fingerprint: Some(fingerprint),
            summary: "checkout errors".into(),
            action: GuardAction::RollBack,
            opened_by: Some("bob".into()),
            opened_as: Some(Role::Platform),
            ..Default::default()
        },
        status: None,
    });
    step(&mut world, 90, None);
    let history = world.md().status.as_ref().unwrap().history.clone();
    let last = history.last().unwrap();
    assert_eq!(
        (last.version.as_str(), last.reason.as_str()),
        ("2.4.0", history::INCIDENT_OPENED)
    );
    step(&mut world, 91, None);
    step(&mut world, 92, None);
    assert_eq!(
        world.md().status.as_ref().unwrap().history.len(),
        history.len(),
        "once"
    );
    assert_eq!(
        phase(&world, "checkout-errors"),
        Some(IncidentPhase::Mitigated)
    );
}
