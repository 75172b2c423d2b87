use std::sync::Arc;

use super::{
    keys::{RecordKeys, parse_pems},
    verify::{Outcome, verify_all},
    *,
};
use crate::{
    api::{EnvelopeSignature, PreviousRecord},
    testing::World,
};

fn keys() -> RecordKeys {
    RecordKeys::from_seed("r1", [7; 32])
}

/// A world promoted once, and its record's plan (the only one).
fn promoted() -> (World, Vec<RecordPlan>) {
    let (world, plan) = World::promoted_with_record();
    (world, vec![plan])
}

fn sign(world: &World, plan: &RecordPlan, previous: Option<PreviousRecord>) -> (Envelope, String) {
    let (_, envelope, digest) = world.sign_record(plan, previous, "test", &keys());
    (envelope, digest)
}

#[test]
fn a_promotion_plans_exactly_one_record_named_in_its_history_entry() {
    let (world, plans) = promoted();
    assert_eq!(plans.len(), 1, "{plans:?}");
    let status = world.md().status.clone().unwrap();
    assert_eq!(status.record_sequence, Some(1));
    let entry = status.history.last().unwrap();
    assert_eq!(entry.record.as_deref(), Some("fraud-scorer-uid-md-1"));
    assert_eq!(plans[0].name, "fraud-scorer-uid-md-1");
    assert_eq!(plans[0].sequence, 1);
    assert!(
        entry.seal.is_some(),
        "the record name is sealed with the entry"
    );
}

#[test]
fn a_rollback_restoring_an_entry_gets_its_own_record() {
    let (world, _) = promoted();
    let md = world.md().clone();
    let before = md.status.clone().unwrap().history;
    let mut status = md.status.clone().unwrap();
    let restored = crate::api::HistoryEntry {
        outcome: HistoryOutcome::RolledBack,
        at: crate::testing::time(99),
        ..before[0].clone()
    };
    assert!(
        restored.record.is_some(),
        "copied with the old record's name"
    );
    status.history.push(restored);
    let plans = plan(&md, &before, &mut status);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].name, "fraud-scorer-uid-md-2");
    assert_eq!(
        status.history[1].record.as_deref(),
        Some("fraud-scorer-uid-md-2")
    );
    assert_eq!(
        status.history[0].record.as_deref(),
        Some("fraud-scorer-uid-md-1")
    );
    assert_eq!(status.record_sequence, Some(2));
    assert_eq!(plans[0].previous_version.as_deref(), Some("2.4.0"));
}

#[test]
fn the_statement_names_each_item_its_team_and_approver() {
    let (world, plans) = promoted();
    let attestations: Vec<Arc<Attestation>> =
        world.attestations.iter().cloned().map(Arc::new).collect();
    let ctx = Context {
        cluster: "prod-eu",
        md: world.md(),
        attestations: &attestations,
        previous: None,
    };
    let s = statement(&plans[0], &ctx);
    assert_eq!(s.type_, STATEMENT_TYPE);
    assert_eq!(s.predicate_type, PREDICATE_TYPE);
    let p = &s.predicate;
    assert_eq!(
        (p.cluster.as_str(), p.action),
        ("prod-eu", RecordAction::Promoted)
    );
    assert_eq!(p.version, "2.4.0");
    assert_eq!(p.model.uid, "uid-md");
    let drift = p.items.iter().find(|i| i.id == "drift").unwrap();
    assert_eq!(
        (drift.owner.as_str(), drift.team.as_str()),
        ("data", "data-platform")
    );
    assert_eq!(drift.approvers.len(), 1);
    let a = &drift.approvers[0];
    assert_eq!(a.user.as_deref(), Some("alice"));
    assert_eq!(a.attestation.as_deref(), Some("a1"));
    assert_eq!(a.how, ApprovalKind::InCluster);
    assert!(a.given_at.is_some());
    assert_eq!(p.items.len(), 3);
}

#[test]
fn subjects_are_the_model_digest_and_pinned_images() {
    let (mut world, plans) = promoted();
    let mut plan = plans[0].clone();
    plan.entry.digest = Some(format!("sha256:{}", "ab".repeat(32)));
    plan.entry.image = format!(
        "registry.example.com/fraud:2.4.0@sha256:{}",
        "cd".repeat(32)
    );
    world.attestations.clear();
    let ctx = Context {
        cluster: "c",
        md: world.md(),
        attestations: &[],
        previous: None,
    };
    let s = statement(&plan, &ctx);
    let names: Vec<(&str, &str)> = s
        .subject
        .iter()
        .map(|s| (s.name.as_str(), s.digest["sha256"].as_str()))
        .collect();
    let (ab, cd) = ("ab".repeat(32), "cd".repeat(32));
    let fingerprint = plan.entry.fingerprint_in(&world.md().spec);
    let candidate = fingerprint.strip_prefix("sha256:").unwrap();
    assert_eq!(
        names,
        vec![
            ("fraud-scorer", ab.as_str()),
            ("registry.example.com/fraud", cd.as_str()),
            ("payments/fraud-scorer", candidate),
        ]
    );
    // An unpinned image is no subject; the candidate always is.
    plan.entry.image = "registry.example.com/fraud:2.4.0".into();
    plan.entry.digest = None;
    let only = statement(&plan, &ctx).subject;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].name, "payments/fraud-scorer");
}

#[test]
fn pinned_reads_repository_and_digest_with_a_port_and_a_tag() {
    let hex = "0f".repeat(32);
    assert_eq!(
        pinned(&format!("localhost:5000/a/b:1.0@sha256:{hex}")),
        Some(("localhost:5000/a/b".into(), hex.clone()))
    );
    assert_eq!(
        pinned(&format!("localhost:5000/a/b@sha256:{hex}")),
        Some(("localhost:5000/a/b".into(), hex.clone()))
    );
    assert_eq!(pinned("localhost:5000/a/b:1.0"), None);
    assert_eq!(pinned("a@sha256:short"), None);
}

#[test]
fn a_signed_record_verifies_and_any_change_breaks_it() {
    let (world, plans) = promoted();
    let (envelope, _) = sign(&world, &plans[0], None);
    let public = keys().public_keys();
    let rows = verify_all(std::slice::from_ref(&envelope), &public);
    assert_eq!(rows[0].result, Outcome::Ok, "{rows:?}");
    assert_eq!(rows[0].model, "payments/fraud-scorer");

    let mut payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .unwrap();
    let at = payload.iter().position(|b| *b == b'2').unwrap();
    payload[at] = b'3';
    let tampered = Envelope {
        payload: base64::engine::general_purpose::STANDARD.encode(payload),
        ..envelope.clone()
    };
    assert!(verify_all(&[tampered], &public)[0].result.failed());

    let other = RecordKeys::from_seed("r9", [9; 32]).public_keys();
    let rows = verify_all(std::slice::from_ref(&envelope), &other);
    assert!(
        rows[0].result.failed(),
        "verified with a key that did not sign"
    );

    let unsigned = Envelope {
        signatures: vec![EnvelopeSignature {
            keyid: String::new(),
            sig: String::new(),
        }],
        ..envelope
    };
    assert!(verify_all(&[unsigned], &public)[0].result.failed());
}

fn chain(n: i64) -> (Vec<Envelope>, Vec<String>) {
    let (world, plans) = promoted();
    let mut envelopes = vec![];
    let mut digests: Vec<String> = vec![];
    for sequence in 1..=n {
        let plan = RecordPlan {
            name: record_name(world.md(), sequence),
            sequence,
            ..plans[0].clone()
        };
        let previous = (sequence > 1).then(|| PreviousRecord {
            name: record_name(world.md(), sequence - 1),
            digest: digests.last().cloned(),
        });
        let (envelope, digest) = sign(&world, &plan, previous);
        envelopes.push(envelope);
        digests.push(digest);
    }
    (envelopes, digests)
}

#[test]
fn a_whole_chain_verifies_in_any_order() {
    let (mut envelopes, _) = chain(4);
    envelopes.reverse();
    let rows = verify_all(&envelopes, &keys().public_keys());
    assert!(rows.iter().all(|r| r.result == Outcome::Ok), "{rows:?}");
}

#[test]
fn a_deleted_record_is_a_gap_that_names_the_missing_sequence() {
    let (mut envelopes, _) = chain(4);
    envelopes.remove(1);
    let rows = verify_all(&envelopes, &keys().public_keys());
    let failed: Vec<&verify::Row> = rows.iter().filter(|r| r.result.failed()).collect();
    assert_eq!(failed.len(), 1, "{rows:?}");
    assert_eq!(failed[0].sequence, Some(3));
    let Outcome::Failed(problems) = &failed[0].result else {
        unreachable!()
    };
    assert!(problems[0].contains("records 2..2"), "{problems:?}");
    assert!(
        problems[0].contains("fraud-scorer-uid-md-2"),
        "{problems:?}"
    );
}

#[test]
fn an_export_that_starts_mid_chain_is_said_not_failed() {
    let (envelopes, _) = chain(3);
    let rows = verify_all(&envelopes[1..], &keys().public_keys());
    assert!(matches!(&rows[0].result, Outcome::Note(n) if n.contains("chain starts here")));
    assert_eq!(rows[1].result, Outcome::Ok);
}

#[test]
fn a_forged_link_fails_even_when_sequences_are_contiguous() {
    let (world, plans) = promoted();
    let (first, _) = sign(&world, &plans[0], None);
    let plan = RecordPlan {
        name: record_name(world.md(), 2),
        sequence: 2,
        ..plans[0].clone()
    };
    let previous = PreviousRecord {
        name: plans[0].name.clone(),
        digest: Some(format!("sha256:{}", "00".repeat(32))),
    };
    let (second, _) = sign(&world, &plan, Some(previous));
    let rows = verify_all(&[first, second], &keys().public_keys());
    assert!(rows[1].result.failed(), "{rows:?}");
}

#[test]
fn keys_round_trip_through_secret_and_pem_and_publishing_only_adds() {
    let mut keys = keys();
    let secret = keys.to_secret("accord-system");
    assert_eq!(RecordKeys::from_secret(&secret), Some(keys.clone()));
    let first = keys.published(None).expect("publishes");
    let old = keys.active_public();
    assert_eq!(parse_pems(&old.to_pem()).unwrap(), vec![old.clone()]);

    keys.rotate("r2", [8; 32]);
    let cm = k8s_openapi::api::core::v1::ConfigMap {
        data: Some(first),
        ..Default::default()
    };
    let second = keys
        .published(Some(&cm))
        .expect("a rotation changes what is published");
    // Even a Secret that dropped r1 keeps r1 published.
    let only_new = RecordKeys::from_seed("r2", [8; 32]);
    let cm2 = k8s_openapi::api::core::v1::ConfigMap {
        data: Some(second.clone()),
        ..Default::default()
    };
    assert_eq!(only_new.published(Some(&cm2)), None);
    let listed = keys::published_keys(&second);
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0],
        keys.active_public(),
        "the active key is listed first"
    );
    assert!(listed.contains(&old));
    // Every listed PEM block parses from one concatenated file.
    let file: String = listed.iter().map(keys::PublicKey::to_pem).collect();
    assert_eq!(parse_pems(&file).unwrap().len(), 2);
    assert!(parse_pems("nothing here").is_err());
}

#[test]
fn pae_matches_the_dsse_specification() {
    // The example from the DSSE protocol document.
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
}

/// A drill of fraud-scorer (uid `uid-<name>`) with `runs`, newest first.
fn drill_with(name: &str, runs: Vec<crate::api::DrillRun>) -> RollbackDrill {
    let mut drill: RollbackDrill = serde_json::from_value(serde_json::json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
        "metadata": {"name": name, "namespace": "payments", "uid": format!("uid-{name}")},
        "spec": {"modelDeployment": "fraud-scorer", "target": "PreviousKnownGood"},
    }))
    .unwrap();
    drill.status = Some(crate::api::RollbackDrillStatus {
        runs,
        ..Default::default()
    });
    drill
}

fn drill_run(id: &str, result: RunResult, finished: Option<&str>) -> crate::api::DrillRun {
    serde_json::from_value(serde_json::json!({
        "id": id, "trigger": "Schedule", "startedAt": "2026-12-08T10:00:00Z",
        "finishedAt": finished, "result": result, "steps": [],
        "target": if finished.is_some() && result == RunResult::Passed {
            serde_json::json!({"version": "2.4.0", "fingerprint": "sha256:x"})
        } else { serde_json::Value::Null },
    }))
    .unwrap()
}

#[test]
fn each_finished_drill_run_gets_one_record_in_the_model_s_chain_and_a_gone_drill_s_mark_goes() {
    let (world, plans) = promoted();
    let md = world.md().clone();
    let mut status = md.status.clone().unwrap();
    let weekly = drill_with(
        "weekly",
        vec![
            drill_run(
                "20261208-100000",
                RunResult::Passed,
                Some("2026-12-08T10:01:00Z"),
            ),
            drill_run(
                "20261201-100000",
                RunResult::Failed,
                Some("2026-12-01T10:05:00Z"),
            ),
        ],
    );
    let running = drill_with(
        "adhoc",
        vec![drill_run("20261208-120000", RunResult::Running, None)],
    );
    let drills = [&weekly, &running];
    let recorded = plan_drills(&md, &mut status, &drills);
    let runs: Vec<(i64, &str)> = recorded
        .iter()
        .map(|p| (p.sequence, p.drill.as_ref().unwrap().run.id.as_str()))
        .collect();
    assert_eq!(
        runs,
        [(2, "20261201-100000"), (3, "20261208-100000")],
        "oldest first, after the promotion's record; nothing for a run still going"
    );
    assert_eq!(status.record_sequence, Some(3));
    assert_eq!(
        status.drill_records,
        [DrillRecordMark {
            drill: "weekly".into(),
            uid: "uid-weekly".into(),
            run: "20261208-100000".into(),
        }]
    );
    // The records: DrillRun, the rehearsed version (or "unresolved"), well formed,
    // and the chain verifies after the promotion's record.
    let (first, first_digest) = sign(&world, &plans[0], None);
    let mut envelopes = vec![first];
    let mut previous = PreviousRecord {
        name: plans[0].name.clone(),
        digest: Some(first_digest),
    };
    for plan in &recorded {
        let (envelope, digest) = sign(&world, plan, Some(previous.clone()));
        let statement = verify::decode(&envelope).unwrap();
        assert_eq!(statement.predicate.action, RecordAction::DrillRun);
        assert_eq!(
            statement.predicate.drill.as_ref().unwrap().uid,
            "uid-weekly"
        );
        envelopes.push(envelope);
        previous = PreviousRecord {
            name: plan.name.clone(),
            digest: Some(digest),
        };
    }
    let versions: Vec<String> = recorded.iter().map(|p| p.entry.version.clone()).collect();
    assert_eq!(versions, ["unresolved", "2.4.0"]);
    assert_eq!(
        recorded[1].entry.reason, "DrillPassed",
        "{:?}",
        recorded[1].entry
    );
    let rows = verify_all(&envelopes, &keys().public_keys());
    assert!(rows.iter().all(|r| r.result == Outcome::Ok), "{rows:#?}");

    // Decided again: nothing new. A later run: one record.
    assert!(plan_drills(&md, &mut status, &drills).is_empty());
    let mut later = weekly.clone();
    later.status.as_mut().unwrap().runs.insert(
        0,
        drill_run(
            "20261215-100000",
            RunResult::Passed,
            Some("2026-12-15T10:01:00Z"),
        ),
    );
    let next = plan_drills(&md, &mut status, &[&later, &running]);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].sequence, 4);
    // The drill deleted: its mark goes, and no record is planned.
    assert!(plan_drills(&md, &mut status, &[&running]).is_empty());
    assert_eq!(status.drill_records, []);
    assert_eq!(status.record_sequence, Some(4));
}

#[test]
fn a_drill_run_record_without_its_drill_is_not_well_formed() {
    let (world, plans) = promoted();
    let mut statement = verify::decode(&sign(&world, &plans[0], None).0).unwrap();
    statement.predicate.action = RecordAction::DrillRun;
    assert!(!verify::well_formed(&statement).is_empty());
}
