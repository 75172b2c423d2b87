//! Accord's signed audit records verify with an implementation Accord did not write:
//! `e2e/audit/verify_independent.py` checks each exported DSSE envelope with Python's
//! securesystemslib (the ed25519 signature over the DSSE PAE), the in-toto attestation
//! framework (the Statement v1) and jsonschema (the predicate against
//! docs/promotion-predicate.schema.json). Three chained records pass; a tampered
//! payload, a key that did not sign and a signed predicate that breaks the schema fail,
//! each naming its line.
//!
//! Needs no cluster: the records are signed here by accord-core exactly as the operator
//! signs them, and written as `kubectl accord audit export` writes them (one envelope of
//! JSON a line) beside the PEM key the ConfigMap `accord-record-keys` publishes. The
//! Python is `ACCORD_PYTHON` (e2e/run.sh sets it) or else hack/python-tools.sh's
//! cached venv (made once, seconds). Run alone:
//! `cargo test -p accord-e2e --test independent_verify`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use accord_core::{
    api::{Envelope, HistoryOutcome, PAYLOAD_TYPE, PreviousRecord, Statement},
    audit::{self, RecordPlan, keys::RecordKeys},
    testing::World,
};
use accord_e2e::repo_root;
use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The venv's python: `ACCORD_PYTHON`, or what hack/python-tools.sh prints (it makes the
/// venv the first time, with progress on stderr).
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(python) = std::env::var_os("ACCORD_PYTHON") {
            return python.to_string_lossy().into_owned();
        }
        let out = Command::new("bash")
            .arg(repo_root().join("hack/python-tools.sh"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("bash runs hack/python-tools.sh");
        assert!(out.status.success(), "hack/python-tools.sh failed");
        let stdout = String::from_utf8(out.stdout).expect("a path");
        stdout.lines().last().expect("a path").trim().to_string()
    })
}

/// A scratch directory of its own, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "accord-independent-verify-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the independent check said: its exit code, stdout lines and stderr.
struct Verdict {
    code: Option<i32>,
    lines: Vec<String>,
    stderr: String,
}

impl std::fmt::Debug for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n{}\n{}",
            self.code,
            self.lines.join("\n"),
            self.stderr
        )
    }
}

fn verify_independent(records: &Path, keys: &[&Path]) -> Verdict {
    let out = Command::new(python())
        .arg(repo_root().join("e2e/audit/verify_independent.py"))
        .arg(records)
        .args(keys)
        .output()
        .expect("the venv's python runs");
    Verdict {
        code: out.status.code(),
        lines: String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn record_keys() -> RecordKeys {
    RecordKeys::from_seed("r1", [7; 32])
}

/// fraud-scorer promoted once, as the decisions leave it, and the plan of its record.
fn promoted() -> (World, RecordPlan) {
    World::promoted_with_record()
}

fn sign(
    world: &World,
    plan: &RecordPlan,
    previous: Option<PreviousRecord>,
) -> (Statement, Envelope, String) {
    world.sign_record(plan, previous, "prod-eu", &record_keys())
}

/// Three records of one chain, as exported JSON lines: 2.4.0 promoted, 2.5.0 promoted,
/// 2.4.0 restored by a rollback; the model and its images pinned by digest (subjects).
fn chain() -> Vec<String> {
    let (world, first) = promoted();
    let steps = [
        ("2.4.0", HistoryOutcome::Promoted, "AllItemsAttested", None),
        (
            "2.5.0",
            HistoryOutcome::Promoted,
            "AllItemsAttested",
            Some("2.4.0"),
        ),
        (
            "2.4.0",
            HistoryOutcome::RolledBack,
            "ProgressDeadlineExceeded",
            Some("2.5.0"),
        ),
    ];
    let mut lines = vec![];
    let mut previous: Option<PreviousRecord> = None;
    for (i, (version, outcome, reason, before)) in steps.into_iter().enumerate() {
        let sequence = i as i64 + 1;
        let hex = format!("{:02x}", 0xa0 + i).repeat(32);
        let mut plan = RecordPlan {
            name: audit::record_name(world.md(), sequence),
            sequence,
            previous_version: before.map(str::to_string),
            ..first.clone()
        };
        plan.entry.version = version.into();
        plan.entry.outcome = outcome;
        plan.entry.reason = reason.into();
        plan.entry.digest = Some(format!("sha256:{hex}"));
        plan.entry.image = format!("registry.example.com/fraud-scorer:{version}@sha256:{hex}");
        let (statement, envelope, digest) = sign(&world, &plan, previous.take());
        assert!(!statement.subject.is_empty(), "{statement:?}");
        lines.push(serde_json::to_string(&envelope).unwrap());
        previous = Some(PreviousRecord {
            name: plan.name.clone(),
            digest: Some(digest),
        });
    }
    lines
}

fn export(scratch: &Scratch, lines: &[String]) -> PathBuf {
    scratch.write("records.jsonl", &(lines.join("\n") + "\n"))
}

fn published_key(scratch: &Scratch, name: &str, keys: &RecordKeys) -> PathBuf {
    let pem: String = keys.public_keys().iter().map(|k| k.to_pem()).collect();
    scratch.write(name, &pem)
}

fn ok_lines(verdict: &Verdict) -> Vec<&str> {
    verdict
        .lines
        .iter()
        .filter(|l| l.starts_with("ok "))
        .map(String::as_str)
        .collect()
}

#[test]
fn a_chain_of_three_records_verifies_with_python_in_toto_and_securesystemslib() {
    let scratch = Scratch::new("chain");
    let records = export(&scratch, &chain());
    let key = published_key(&scratch, "accord-record-keys.pem", &record_keys());
    let verdict = verify_independent(&records, &[&key]);
    assert_eq!(verdict.code, Some(0), "{verdict:?}");
    assert_eq!(
        ok_lines(&verdict),
        vec![
            "ok payments/fraud-scorer seq=1 Promoted 2.4.0",
            "ok payments/fraud-scorer seq=2 Promoted 2.5.0",
            "ok payments/fraud-scorer seq=3 RolledBack 2.4.0",
        ],
        "{verdict:?}"
    );
    assert_eq!(verdict.lines.len(), 3, "{verdict:?}");

    // A key file listing several keys (a rotation) verifies too.
    let other = RecordKeys::from_seed("r0", [3; 32]);
    let both: String = [other.public_keys(), record_keys().public_keys()]
        .concat()
        .iter()
        .map(|k| k.to_pem())
        .collect();
    let both = scratch.write("both.pem", &format!("the published keys\n{both}"));
    let verdict = verify_independent(&records, &[&both]);
    assert_eq!(verdict.code, Some(0), "{verdict:?}");
    assert_eq!(ok_lines(&verdict).len(), 3, "{verdict:?}");
}

#[test]
fn a_tampered_payload_fails_on_its_line_only() {
    let scratch = Scratch::new("tampered");
    let mut lines = chain();
    let mut envelope: Envelope = serde_json::from_str(&lines[1]).unwrap();
    let payload = String::from_utf8(B64.decode(&envelope.payload).unwrap()).unwrap();
    let forged = payload.replace("\"version\":\"2.5.0\"", "\"version\":\"2.5.1\"");
    assert_ne!(payload, forged);
    envelope.payload = B64.encode(forged);
    lines[1] = serde_json::to_string(&envelope).unwrap();
    let records = export(&scratch, &lines);
    let key = published_key(&scratch, "accord-record-keys.pem", &record_keys());

    let verdict = verify_independent(&records, &[&key]);
    assert_eq!(verdict.code, Some(1), "{verdict:?}");
    let failed: Vec<&String> = verdict
        .lines
        .iter()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failed.len(), 1, "{verdict:?}");
    assert!(
        failed[0].starts_with("FAIL line 2: signature by keyid")
            && failed[0].contains("does not verify"),
        "{verdict:?}"
    );
    assert_eq!(
        ok_lines(&verdict),
        vec![
            "ok payments/fraud-scorer seq=1 Promoted 2.4.0",
            "ok payments/fraud-scorer seq=3 RolledBack 2.4.0",
        ],
        "{verdict:?}"
    );
}

#[test]
fn a_key_that_did_not_sign_verifies_nothing() {
    let scratch = Scratch::new("wrong-key");
    let lines = chain();
    let records = export(&scratch, &lines);
    let other_keys = RecordKeys::from_seed("r9", [9; 32]);
    let wrong = published_key(&scratch, "other.pem", &other_keys);
    let verdict = verify_independent(&records, &[&wrong]);
    assert_eq!(verdict.code, Some(1), "{verdict:?}");
    assert!(ok_lines(&verdict).is_empty(), "{verdict:?}");
    for n in 1..=3 {
        assert!(
            verdict
                .lines
                .iter()
                .any(|l| l.starts_with(&format!("FAIL line {n}: signed by keyid"))),
            "line {n}: {verdict:?}"
        );
    }

    // The envelopes relabelled with the other key's id: now securesystemslib checks the
    // signature with that key, and the ed25519 check itself refuses it.
    let relabelled: Vec<String> = lines
        .iter()
        .map(|line| {
            let mut envelope: Envelope = serde_json::from_str(line).unwrap();
            envelope.signatures[0].keyid = other_keys.active_public().keyid;
            serde_json::to_string(&envelope).unwrap()
        })
        .collect();
    let records = export(&scratch, &relabelled);
    let verdict = verify_independent(&records, &[&wrong]);
    assert_eq!(verdict.code, Some(1), "{verdict:?}");
    assert!(ok_lines(&verdict).is_empty(), "{verdict:?}");
    let refused = verdict
        .lines
        .iter()
        .filter(|l| l.contains(": signature by keyid") && l.contains("does not verify"))
        .count();
    assert_eq!(refused, 3, "{verdict:?}");
}

#[test]
fn a_validly_signed_predicate_that_breaks_the_schema_fails() {
    let scratch = Scratch::new("schema");
    let mut lines = chain();
    let envelope: Envelope = serde_json::from_str(&lines[2]).unwrap();
    let mut statement: serde_json::Value =
        serde_json::from_slice(&B64.decode(&envelope.payload).unwrap()).unwrap();
    // Signed by the right key, so only the schema can refuse it.
    statement["predicate"]["sequence"] = "three".into();
    let payload = serde_json::to_vec(&statement).unwrap();
    let resigned = Envelope {
        payload: B64.encode(&payload),
        signatures: vec![record_keys().sign(&audit::pae(PAYLOAD_TYPE, &payload))],
        ..envelope
    };
    lines[2] = serde_json::to_string(&resigned).unwrap();
    let records = export(&scratch, &lines);
    let key = published_key(&scratch, "accord-record-keys.pem", &record_keys());

    let verdict = verify_independent(&records, &[&key]);
    assert_eq!(verdict.code, Some(1), "{verdict:?}");
    assert_eq!(ok_lines(&verdict).len(), 2, "{verdict:?}");
    assert!(
        verdict
            .lines
            .iter()
            .any(|l| l
                .starts_with("FAIL line 3: the predicate does not match the schema at sequence")),
        "{verdict:?}"
    );
}

#[test]
fn a_drill_run_record_verifies_and_meets_the_published_schema() {
    let (world, first) = promoted();
    let run = serde_json::from_value(serde_json::json!({
        "id": "20261208-100000", "trigger": "Schedule", "startedAt": "2026-12-08T10:00:00Z",
        "finishedAt": "2026-12-08T10:00:41Z", "result": "Passed", "timeToReady": "41s",
        "target": {"version": "2.4.0", "fingerprint": "sha256:abc"},
        "workload": "fraud-scorer-drill-20261208-100000",
        "steps": [
            {"name": "TargetResolved", "result": "Passed", "at": "2026-12-08T10:00:00Z",
             "message": "2.4.0 is in the history and its seal verifies"},
            {"name": "Ready", "result": "Passed", "at": "2026-12-08T10:00:41Z",
             "duration": "41s", "message": "1 of 1 pods were Ready after 41s"}]
    }))
    .unwrap();
    let mut plan = RecordPlan {
        drill: Some(accord_core::api::RecordedDrill {
            name: "weekly".into(),
            uid: "uid-weekly".into(),
            run,
        }),
        ..first
    };
    plan.entry.reason = "DrillPassed".into();
    let (statement, envelope, _) = sign(&world, &plan, None);
    assert_eq!(
        statement.predicate.action,
        accord_core::api::RecordAction::DrillRun
    );
    let scratch = Scratch::new("drill-run");
    let records = export(&scratch, &[serde_json::to_string(&envelope).unwrap()]);
    let key = published_key(&scratch, "accord-record-keys.pem", &record_keys());
    let verdict = verify_independent(&records, &[&key]);
    assert_eq!(verdict.code, Some(0), "{verdict:?}");
    assert_eq!(
        ok_lines(&verdict),
        vec!["ok payments/fraud-scorer seq=1 DrillRun 2.4.0"],
        "{verdict:?}"
    );
}
