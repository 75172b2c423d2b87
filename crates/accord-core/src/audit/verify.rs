//! Offline verification of exported records (`kubectl accord audit verify`): each
//! envelope's signature against the published keys, that its Statement is well formed,
//! and that no record is missing from a model's chain.
//!
//! A chain is a model's records (by uid) in sequence order. Each record names the one
//! before it, with the digest of its payload; a record whose predecessor is not there
//! although a later one is, a sequence seen twice, or a digest that does not match, is a
//! failure. The oldest record exported may name a predecessor that is not exported
//! (`--since`, `--record-retention`): that is said, not failed.

use std::collections::BTreeMap;

use base64::Engine as _;
use ed25519_dalek::Signature;

use super::{keys::PublicKey, pae, payload_digest};
use crate::api::{Envelope, PAYLOAD_TYPE, PREDICATE_TYPE, RecordAction, STATEMENT_TYPE, Statement};

/// One record's line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `namespace/name`, or `-` when the payload could not be read.
    pub model: String,
    pub sequence: Option<i64>,
    pub action: String,
    pub version: String,
    pub at: String,
    /// The key that verified it (short id), or `-`.
    pub key: String,
    /// `ok`, or what is wrong.
    pub result: Outcome,
}

/// What verification found for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Verified; something worth saying that is not a failure.
    Note(String),
    Failed(Vec<String>),
}

impl Outcome {
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// A parsed, signature-checked record.
struct Checked {
    index: usize,
    statement: Statement,
    digest: String,
}

/// Verifies every envelope and every chain; one row per envelope, in input order,
/// plus a row for each gap found.
pub fn verify_all(envelopes: &[Envelope], keys: &[PublicKey]) -> Vec<Row> {
    let mut rows = Vec::with_capacity(envelopes.len());
    let mut checked = Vec::new();
    for (index, envelope) in envelopes.iter().enumerate() {
        match verify_envelope(envelope, keys) {
            Ok((statement, key, digest)) => {
                let problems = well_formed(&statement);
                rows.push(row(
                    Some(&statement),
                    &key,
                    if problems.is_empty() {
                        Outcome::Ok
                    } else {
                        Outcome::Failed(problems)
                    },
                ));
                checked.push(Checked {
                    index,
                    statement,
                    digest,
                });
            }
            Err(problem) => {
                let statement = decode(envelope).ok();
                rows.push(row(statement.as_ref(), "-", Outcome::Failed(vec![problem])));
            }
        }
    }
    chains(&checked, &mut rows);
    rows
}

fn row(statement: Option<&Statement>, key: &str, result: Outcome) -> Row {
    let p = statement.map(|s| &s.predicate);
    Row {
        model: p.map_or("-".into(), |p| {
            format!("{}/{}", p.model.namespace, p.model.name)
        }),
        sequence: p.map(|p| p.sequence),
        action: p.map_or("-".into(), |p| format!("{:?}", p.action)),
        version: p.map_or("-".into(), |p| p.version.clone()),
        at: p.map_or("-".into(), |p| p.at.0.to_string()),
        key: key.get(..12).unwrap_or(key).to_string(),
        result,
    }
}

/// The envelope's Statement, unverified.
pub fn decode(envelope: &Envelope) -> Result<Statement, String> {
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .map_err(|e| format!("payload is not base64: {e}"))?;
    serde_json::from_slice(&payload).map_err(|e| format!("payload is not an Accord Statement: {e}"))
}

/// The digest of an envelope's payload (unverified), when it is base64.
pub fn decode_digest(envelope: &Envelope) -> Option<String> {
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .ok()?;
    Some(payload_digest(&payload))
}

/// Checks `envelope`'s signature against `keys`; its Statement, the key id and the
/// payload's digest.
pub fn verify_envelope(
    envelope: &Envelope,
    keys: &[PublicKey],
) -> Result<(Statement, String, String), String> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(format!(
            "payloadType is {:?}, not {PAYLOAD_TYPE}",
            envelope.payload_type
        ));
    }
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .map_err(|e| format!("payload is not base64: {e}"))?;
    let message = pae(&envelope.payload_type, &payload);
    let verified = envelope.signatures.iter().find_map(|sig| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&sig.sig)
            .ok()?;
        let signature = Signature::from_slice(&bytes).ok()?;
        keys.iter()
            .filter(|k| sig.keyid.is_empty() || sig.keyid == k.keyid)
            .find(|k| k.key.verify_strict(&message, &signature).is_ok())
    });
    let Some(key) = verified else {
        let ids: Vec<&str> = envelope
            .signatures
            .iter()
            .map(|s| s.keyid.as_str())
            .collect();
        return Err(format!(
            "no signature verifies with the given keys (signed by keyid {})",
            ids.join(", ")
        ));
    };
    let statement = serde_json::from_slice(&payload)
        .map_err(|e| format!("signed payload is not an Accord Statement: {e}"))?;
    Ok((statement, key.keyid.clone(), payload_digest(&payload)))
}

/// What is wrong with a verified Statement's fields.
pub fn well_formed(statement: &Statement) -> Vec<String> {
    let mut problems = Vec::new();
    if statement.type_ != STATEMENT_TYPE {
        problems.push(format!(
            "_type is {:?}, not {STATEMENT_TYPE}",
            statement.type_
        ));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        problems.push(format!(
            "predicateType is {:?}, not {PREDICATE_TYPE}",
            statement.predicate_type
        ));
    }
    for subject in &statement.subject {
        let ok = subject.digest.get("sha256").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if subject.name.is_empty() || !ok {
            problems.push(format!(
                "subject {:?} has no lowercase sha256 digest",
                subject.name
            ));
        }
    }
    let p = &statement.predicate;
    if p.sequence < 1 {
        problems.push(format!("sequence {} is not positive", p.sequence));
    }
    if p.model.uid.is_empty() || p.model.name.is_empty() || p.model.namespace.is_empty() {
        problems.push("model namespace, name and uid are required".into());
    }
    if p.version.is_empty() {
        problems.push("version is empty".into());
    }
    if (p.action == RecordAction::DrillRun) != p.drill.is_some() {
        problems.push("a DrillRun record, and only one, states its drill and run".into());
    }
    if p.sequence > 1 && p.previous.is_none() {
        problems.push(format!(
            "record {} of its chain names no previous record",
            p.sequence
        ));
    }
    problems
}

/// Checks each model's chain and marks the rows of records that break it.
fn chains(checked: &[Checked], rows: &mut [Row]) {
    let mut by_model: BTreeMap<&str, Vec<&Checked>> = BTreeMap::new();
    for c in checked {
        by_model
            .entry(&c.statement.predicate.model.uid)
            .or_default()
            .push(c);
    }
    for records in by_model.values_mut() {
        records.sort_by_key(|c| c.statement.predicate.sequence);
        let first = records[0];
        if let Some(prev) = &first.statement.predicate.previous {
            note(
                &mut rows[first.index],
                format!(
                    "chain starts here: {} (sequence {}) is not in this export",
                    prev.name,
                    first.statement.predicate.sequence - 1
                ),
            );
        }
        for pair in records.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            let (b, a) = (&before.statement.predicate, &after.statement.predicate);
            let problem = if a.sequence == b.sequence {
                Some(format!("sequence {} appears twice", a.sequence))
            } else if a.sequence != b.sequence + 1 {
                Some(format!(
                    "gap: records {}..{} of {}/{} are missing (this record names {} as previous)",
                    b.sequence + 1,
                    a.sequence - 1,
                    a.model.namespace,
                    a.model.name,
                    a.previous.as_ref().map_or("nothing", |p| p.name.as_str())
                ))
            } else {
                match &a.previous {
                    Some(p) if p.digest.as_deref() == Some(&before.digest) => None,
                    Some(p) if p.digest.is_none() => Some(format!(
                        "link unproven: Accord could not read {} when it wrote this record",
                        p.name
                    )),
                    _ => Some(format!(
                        "previous digest does not match record {} ({})",
                        b.sequence, before.digest
                    )),
                }
            };
            if let Some(problem) = problem {
                fail(&mut rows[after.index], problem);
            }
        }
    }
}

fn note(row: &mut Row, text: String) {
    if row.result == Outcome::Ok {
        row.result = Outcome::Note(text);
    }
}

fn fail(row: &mut Row, text: String) {
    match &mut row.result {
        Outcome::Failed(problems) => problems.push(text),
        other => *other = Outcome::Failed(vec![text]),
    }
}
