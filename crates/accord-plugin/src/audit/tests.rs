use accord_core::{
    audit::{envelope, keys::RecordKeys},
    testing::{md, time},
};

use super::*;
use crate::api::{
    ConformanceViolation, ModelDeploymentStatus, PAYLOAD_TYPE, PREDICATE_TYPE, Predicate,
    PreviousRecord, PromotionRecordSpec, RecordAction, RecordedModel, STATEMENT_TYPE, Statement,
    ViolationKind,
};

fn keys() -> RecordKeys {
    RecordKeys::from_seed("r1", [7; 32])
}

/// Record `sequence` of `namespace/name` (uid `uid-NAME`), at testing second `at`.
fn statement(
    namespace: &str,
    name: &str,
    sequence: i64,
    at: i64,
    previous: Option<PreviousRecord>,
) -> Statement {
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![],
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            cluster: "prod-eu".into(),
            model: RecordedModel {
                namespace: namespace.into(),
                name: name.into(),
                uid: format!("uid-{name}"),
            },
            sequence,
            previous,
            action: RecordAction::Promoted,
            reason: "AllAttested".into(),
            at: time(at),
            version: format!("2.{sequence}.0"),
            fingerprint: None,
            artifact_fingerprint: None,
            image: format!("registry.example.com/{name}:2.{sequence}.0"),
            introduced_by: None,
            policies: vec![],
            items: vec![],
            canary: None,
            upstream: None,
            previous_version: None,
            incident: None,
            follow_ups: vec![],
            drill: None,
        },
    }
}

/// The chain of `n` records of `payments/fraud-scorer`, each naming the one before.
fn chain(n: i64) -> Vec<Envelope> {
    let mut previous = None;
    let mut out = vec![];
    for sequence in 1..=n {
        let s = statement(
            "payments",
            "fraud-scorer",
            sequence,
            sequence * 60,
            previous,
        );
        let (envelope, digest) = envelope(&s, &keys());
        previous = Some(PreviousRecord {
            name: format!("fraud-scorer-uid-{sequence}"),
            digest: Some(digest),
        });
        out.push(envelope);
    }
    out
}

fn jsonl(envelopes: &[Envelope]) -> String {
    envelopes
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect()
}

fn record(namespace: &str, name: &str, sequence: i64, at: i64) -> PromotionRecord {
    let s = statement(namespace, name, sequence, at, None);
    let (envelope, digest) = envelope(&s, &keys());
    let mut record = PromotionRecord::new(
        &format!("{name}-uid-{sequence}"),
        PromotionRecordSpec {
            model_deployment: name.into(),
            model_uid: format!("uid-{name}"),
            sequence,
            action: RecordAction::Promoted,
            version: s.predicate.version.clone(),
            at: time(at),
            digest,
            envelope,
        },
    );
    record.metadata.namespace = Some(namespace.into());
    record
}

// audit key

#[test]
fn printed_keys_round_trip_through_parse_pems_active_first() {
    let mut rotated = RecordKeys::from_seed("r1", [1; 32]);
    let old = rotated.active_public();
    rotated.rotate("r2", [2; 32]);
    let new = rotated.active_public();
    let data = rotated.published(None).unwrap();
    let keys = key_view(&data);
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (keys[0].keyid.as_str(), keys[0].active),
        (new.keyid.as_str(), true)
    );
    assert_eq!(
        (keys[1].keyid.as_str(), keys[1].active),
        (old.keyid.as_str(), false)
    );
    let text = key_text(&keys);
    assert!(
        text.starts_with(&format!(
            "# keyid {} (active)\n-----BEGIN PUBLIC KEY-----\n",
            new.keyid
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("# keyid {}\n-----BEGIN", old.keyid)),
        "{text}"
    );
    assert_eq!(text.matches("(active)").count(), 1);
    assert_eq!(parse_pems(&text).unwrap(), vec![new, old]);
    // What `audit verify --key` reads back from the file.
    let dir = std::env::temp_dir().join(format!("accord-audit-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("accord-record-keys.pem");
    std::fs::write(&file, &text).unwrap();
    assert_eq!(
        read_keys(&[file.clone(), file]).unwrap().len(),
        2,
        "deduplicated"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // JSON for scripts.
    let json = serde_json::to_value(&keys).unwrap();
    assert_eq!(json[0]["active"], true);
    assert!(
        json[0]["pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
}

#[test]
fn a_configmap_without_keys_lists_none() {
    assert!(key_view(&BTreeMap::new()).is_empty());
}

// audit export

#[test]
fn since_reads_days_hours_and_minutes() {
    let h = |n: u64| Duration::from_secs(n * 3600);
    assert_eq!(parse_since("90d"), Ok(h(90 * 24)));
    assert_eq!(parse_since("12h"), Ok(h(12)));
    assert_eq!(parse_since("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_since("1d12h"), Ok(h(36)));
    assert_eq!(parse_since("0d"), Ok(Duration::ZERO));
    for bad in ["", "d", "90", "3w", "-1d", "9999999999999999999d"] {
        assert!(parse_since(bad).is_err(), "{bad}");
    }
    let now = time(86_400).0;
    assert_eq!(cutoff(Some(h(24)), now), Some(time(0).0));
    assert_eq!(cutoff(None, now), None);
}

#[test]
fn export_writes_one_envelope_per_line_by_namespace_model_and_sequence() {
    let records = vec![
        record("payments", "fraud-scorer", 10, 600),
        record("payments", "fraud-scorer", 2, 120),
        record("ads", "ctr", 1, 60),
        record("payments", "churn", 1, 30),
        record("payments", "fraud-scorer", 1, 0),
    ];
    let order = |kept: Vec<&PromotionRecord>| -> Vec<String> {
        kept.iter()
            .map(|r| format!("{}/{}", r.spec.model_deployment, r.spec.sequence))
            .collect()
    };
    assert_eq!(
        order(export_order(&records, None)),
        [
            "ctr/1",
            "churn/1",
            "fraud-scorer/1",
            "fraud-scorer/2",
            "fraud-scorer/10"
        ],
        "sequence 10 after 2, not as names sort"
    );
    assert_eq!(
        order(export_order(&records, Some(time(120).0))),
        ["fraud-scorer/2", "fraud-scorer/10"],
        "--since keeps spec.at at or after the cutoff"
    );
    let kept = export_order(&records, None);
    let mut out = Vec::new();
    assert_eq!(write_export(&kept, &mut out).unwrap(), 5);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(text.ends_with('\n'));
    let e = &kept[0].spec.envelope;
    assert_eq!(
        lines[0],
        format!(
            r#"{{"payloadType":"{PAYLOAD_TYPE}","payload":"{}","signatures":[{{"keyid":"{}","sig":"{}"}}]}}"#,
            e.payload, e.signatures[0].keyid, e.signatures[0].sig
        )
    );
    for (line, record) in lines.iter().zip(&kept) {
        let back: Envelope = serde_json::from_str(line).unwrap();
        assert_eq!(&back, &record.spec.envelope);
    }
    // And it verifies as exported (each chain starts at sequence 1 except the gap).
    let rows = verify_rows(&text, &[keys().active_public()]);
    assert_eq!(rows.len(), 5);
    assert!(rows[..3].iter().all(|r| !r.result.failed()), "{rows:?}");
}

// audit verify

#[test]
fn an_intact_export_verifies() {
    let text = jsonl(&chain(3));
    let rows = verify_rows(&text, &[keys().active_public()]);
    assert!(rows.iter().all(|r| r.result == Outcome::Ok), "{rows:?}");
    let report = verify_text(&rows);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines[0],
        "MODEL                   SEQ   ACTION     VERSION   AT                     KEY            RESULT"
    );
    assert_eq!(
        lines[1],
        format!(
            "payments/fraud-scorer   1     Promoted   2.1.0     2027-01-15T08:01:00Z   {}   ok",
            &keys().active_public().keyid[..12]
        )
    );
    assert_eq!(lines.last().unwrap(), &"3 records, 0 failed");
}

#[test]
fn a_tampered_record_a_gap_and_a_bad_line_fail_by_row() {
    let mut envelopes = chain(4);
    // Tamper with record 2: same signature, other payload.
    let mut forged = statement("payments", "fraud-scorer", 2, 120, None);
    forged.predicate.version = "6.6.6".into();
    envelopes[1].payload = envelope(&forged, &keys()).0.payload;
    // Drop record 3: a gap before 4.
    envelopes.remove(2);
    let mut text = jsonl(&envelopes);
    text.insert(0, '\n');
    text.push_str("not json\n\n{\"payload\": 1}\n");
    let rows = verify_rows(&text, &[keys().active_public()]);
    let results: Vec<String> = rows.iter().map(|r| result_text(&r.result)).collect();
    assert_eq!(rows.len(), 5, "blank lines ignored: {results:?}");
    assert_eq!(results[0], "ok");
    assert!(
        results[1].starts_with("FAILED: no signature verifies"),
        "{results:?}"
    );
    assert_eq!(
        rows[1].version, "6.6.6",
        "the unverified payload is still shown"
    );
    assert!(
        results[2].starts_with("FAILED: gap: records 2..3"),
        "{results:?}"
    );
    assert!(
        results[3].starts_with("FAILED: line 5 is not JSON"),
        "{results:?}"
    );
    assert!(
        results[4].starts_with("FAILED: line 7 is not a DSSE envelope"),
        "{results:?}"
    );
    assert_eq!(rows[3].model, "-");
    let report = verify_text(&rows);
    assert!(report.ends_with("\n5 records, 4 failed\n"), "{report}");
}

#[test]
fn an_export_starting_mid_chain_is_noted_not_failed() {
    let text = jsonl(&chain(3)[1..]);
    let rows = verify_rows(&text, &[keys().active_public()]);
    let results: Vec<String> = rows.iter().map(|r| result_text(&r.result)).collect();
    assert!(
        results[0].starts_with("note: chain starts here"),
        "{results:?}"
    );
    assert_eq!(results[1], "ok");
    assert!(verify_text(&rows).ends_with("2 records, 0 failed\n"));
}

#[test]
fn verify_prints_the_report_and_fails_when_a_record_does() {
    let dir = std::env::temp_dir().join(format!("accord-audit-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("keys.pem");
    let data = keys().published(None).unwrap();
    std::fs::write(&key, key_text(&key_view(&data))).unwrap();
    let good = dir.join("good.jsonl");
    std::fs::write(&good, jsonl(&chain(2))).unwrap();
    let mut printed = None;
    let report = verify(&good, std::slice::from_ref(&key), |t| {
        printed = Some(t.to_string())
    });
    assert!(report.unwrap().ends_with("2 records, 0 failed\n"));
    assert_eq!(printed, None, "returned, for the binary to print");

    let other = dir.join("other.pem");
    let stranger = RecordKeys::from_seed("x", [9; 32]).active_public();
    std::fs::write(&other, stranger.to_pem()).unwrap();
    let err = verify(&good, &[other], |t| printed = Some(t.to_string())).unwrap_err();
    assert_eq!(err.0, "2 of 2 records failed verification");
    assert!(printed.unwrap().ends_with("2 records, 2 failed\n"));

    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    let err = verify(&empty, std::slice::from_ref(&key), |_| {}).unwrap_err();
    assert!(err.0.contains("holds no envelope"), "{err}");
    let err = verify(&good, std::slice::from_ref(&good), |_| {}).unwrap_err();
    assert!(
        err.0.contains("no `-----BEGIN PUBLIC KEY-----` block"),
        "{err}"
    );
    let err = verify(&dir.join("missing"), &[key], |_| {}).unwrap_err();
    assert!(err.0.starts_with("cannot read"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// audit report

fn serving(namespace: &str, name: &str, violations: Vec<ConformanceViolation>) -> ModelDeployment {
    let mut m = md("2.5.0");
    m.metadata.namespace = Some(namespace.into());
    m.metadata.name = Some(name.into());
    m.status = Some(ModelDeploymentStatus {
        active_version: Some("2.4.0".into()),
        conformance: violations,
        ..Default::default()
    });
    m
}

fn violation(
    kind: ViolationKind,
    team: &str,
    item: Option<&str>,
    message: &str,
) -> ConformanceViolation {
    ConformanceViolation {
        kind,
        team: team.into(),
        item: item.map(String::from),
        message: message.into(),
    }
}

#[test]
fn the_report_lists_each_violation_of_each_serving_version() {
    let mds = vec![
        serving(
            "payments",
            "fraud-scorer",
            vec![
                violation(
                    ViolationKind::NewPolicyItem,
                    "payments-app",
                    Some("fairness"),
                    "required by HandoffPolicy/fairness since the promotion",
                ),
                violation(
                    ViolationKind::NoMembers,
                    "ml-platform",
                    None,
                    "team ml-platform has no members",
                ),
            ],
        ),
        serving("payments", "churn", vec![]),
        serving(
            "ads",
            "ctr",
            vec![violation(
                ViolationKind::ExpiredSignOff,
                "data-platform",
                Some("drift"),
                "signed off 400 days ago",
            )],
        ),
    ];
    let rows = report_view(&mds);
    assert_eq!(rows.len(), 3);
    let text = report_text(&rows, "all namespaces");
    assert_eq!(
        text,
        "\
NAMESPACE   MODEL          VERSION   TEAM            KIND             ITEM       MESSAGE
ads         ctr            2.4.0     data-platform   ExpiredSignOff   drift      signed off 400 days ago
payments    fraud-scorer   2.4.0     payments-app    NewPolicyItem    fairness   required by HandoffPolicy/fairness since the promotion
payments    fraud-scorer   2.4.0     ml-platform     NoMembers        -          team ml-platform has no members
"
    );
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(
        json[2],
        serde_json::json!({
            "namespace": "payments",
            "modelDeployment": "fraud-scorer",
            "version": "2.4.0",
            "team": "ml-platform",
            "kind": "NoMembers",
            "item": null,
            "message": "team ml-platform has no members",
        })
    );
}

#[test]
fn a_conforming_scope_says_so() {
    let mut never_promoted = md("1.0.0");
    never_promoted.status = None;
    let rows = report_view(&[serving("payments", "churn", vec![]), never_promoted]);
    assert!(rows.is_empty());
    assert_eq!(
        report_text(&rows, "namespace payments"),
        "every serving version meets today's policies (namespace payments)\n"
    );
    assert_eq!(serde_json::to_string_pretty(&rows).unwrap(), "[]");
}
