//! `kubectl accord audit …`: the operator's signed PromotionRecords, outside the cluster.
//!
//! - `key` prints the public keys the operator publishes (ConfigMap `accord-record-keys`
//!   in its namespace) as PEM, the active one first, for an auditor to keep;
//! - `export` writes the records' DSSE envelopes as JSON lines, sorted by namespace,
//!   model and sequence (`--since` keeps the recent ones);
//! - `verify` checks such a file offline against the keys (signatures, Statements,
//!   chains), one row per record, and fails when any record does;
//! - `report` lists the serving versions that would not be promoted under today's
//!   policies (`status.conformance`, written by the operator).
//!
//! The views are pure; the `run` functions read the cluster or the files. See
//! docs/plugin.md#audit.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use accord_core::{
    audit::{
        keys::{PUBLIC_KEYS_CONFIGMAP, PublicKey, parse_pems, published_keys},
        verify::{Outcome, Row, verify_all},
    },
    timing::parse_duration,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde::Serialize;

use crate::{
    api::{Envelope, ModelDeployment, PromotionRecord},
    scope::{Failure, Scope},
    text::{dash, table},
};

/// Where the operator runs unless `--operator-namespace` says otherwise (the chart's
/// and the operator's own default).
pub const OPERATOR_NAMESPACE: &str = "accord-system";
/// The ConfigMap key naming the active key id.
const ACTIVE: &str = "active";

// ---------------------------------------------------------------------------------------
// audit key

/// One published public key.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// Hex `sha256` of its SubjectPublicKeyInfo DER (the DSSE `keyid`).
    pub keyid: String,
    /// New records are signed with it.
    pub active: bool,
    /// SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes it.
    pub pem: String,
}

/// The public keys a published ConfigMap's data lists, the active one first.
pub fn key_view(data: &BTreeMap<String, String>) -> Vec<KeyView> {
    let active = data.get(ACTIVE);
    published_keys(data)
        .into_iter()
        .map(|key| KeyView {
            active: Some(&key.keyid) == active,
            pem: key.to_pem(),
            keyid: key.keyid,
        })
        .collect()
}

/// The keys as a PEM file: each block preceded by `# keyid HEX`, `(active)` marking the
/// active one. `parse_pems` (and `audit verify --key`) ignore the comments.
pub fn key_text(keys: &[KeyView]) -> String {
    keys.iter()
        .map(|k| {
            let active = if k.active { " (active)" } else { "" };
            format!("# keyid {}{active}\n{}", k.keyid, k.pem)
        })
        .collect()
}

/// `audit key`: the public keys published in `operator_namespace`.
pub async fn key(scope: &Scope, operator_namespace: &str) -> Result<String, Failure> {
    let api: Api<ConfigMap> = Api::namespaced(scope.client.clone(), operator_namespace);
    let Some(config_map) = api
        .get_opt(PUBLIC_KEYS_CONFIGMAP)
        .await
        .map_err(|e| scope.failure(e))?
    else {
        return Err(Failure(format!(
            "ConfigMap {operator_namespace}/{PUBLIC_KEYS_CONFIGMAP} not found: the operator publishes its record keys there once it runs; if it runs in another namespace, give --operator-namespace NS"
        )));
    };
    let keys = key_view(&config_map.data.unwrap_or_default());
    if keys.is_empty() {
        return Err(Failure(format!(
            "ConfigMap {operator_namespace}/{PUBLIC_KEYS_CONFIGMAP} publishes no public key yet"
        )));
    }
    scope.print(&keys, || key_text(&keys))
}

// ---------------------------------------------------------------------------------------
// audit export

/// Parses `--since`: `90d`, `1d12h`, `12h`, `30m`, `45s` (days, then what
/// [`parse_duration`] reads).
pub fn parse_since(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 90d, 12h or 30m");
    let (days, rest) = match text.split_once('d') {
        Some((days, rest)) if !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(days.parse::<u64>().map_err(|_| bad())?), rest)
        }
        _ => (None, text),
    };
    let rest = match (days, rest) {
        (Some(_), "") => Duration::ZERO,
        (_, rest) => parse_duration(rest).ok_or_else(bad)?,
    };
    let days = days.unwrap_or(0);
    days.checked_mul(86_400)
        .map(Duration::from_secs)
        .and_then(|d| d.checked_add(rest))
        .ok_or_else(bad)
}

/// The oldest `spec.at` `--since` keeps, as of `now`.
pub fn cutoff(since: Option<Duration>, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let since = jiff::SignedDuration::try_from(since?).ok()?;
    Some(now.checked_sub(since).unwrap_or(jiff::Timestamp::MIN))
}

/// The records to export: those at or after `cutoff`, by namespace, model and sequence
/// (then model uid and name, so that a re-created namesake's chain is stable).
pub fn export_order(
    records: &[PromotionRecord],
    cutoff: Option<jiff::Timestamp>,
) -> Vec<&PromotionRecord> {
    let mut kept: Vec<&PromotionRecord> = records
        .iter()
        .filter(|r| cutoff.is_none_or(|c| r.spec.at.0 >= c))
        .collect();
    kept.sort_by(|a, b| {
        (
            &a.metadata.namespace,
            &a.spec.model_deployment,
            a.spec.sequence,
            &a.spec.model_uid,
            &a.metadata.name,
        )
            .cmp(&(
                &b.metadata.namespace,
                &b.spec.model_deployment,
                b.spec.sequence,
                &b.spec.model_uid,
                &b.metadata.name,
            ))
    });
    kept
}

/// Writes each record's `spec.envelope` as one line of JSON (`{"payloadType":…,
/// "payload":…,"signatures":[{"keyid":…,"sig":…}]}`); how many it wrote.
pub fn write_export(records: &[&PromotionRecord], out: &mut impl Write) -> std::io::Result<usize> {
    for record in records {
        serde_json::to_writer(&mut *out, &record.spec.envelope)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(records.len())
}

/// `audit export`: the envelopes of the scope's PromotionRecords (all namespaces with
/// `-A`) written to `out` as JSON lines. Returns nothing more to print.
pub async fn export(
    scope: &Scope,
    since: Option<Duration>,
    out: &mut impl Write,
) -> Result<String, Failure> {
    let records = scope.promotion_records().await?;
    let kept = export_order(&records, cutoff(since, jiff::Timestamp::now()));
    if kept.is_empty() {
        let place = if scope.all_namespaces {
            "any namespace".to_string()
        } else {
            format!("namespace {}", scope.namespace)
        };
        let recent = if since.is_some() { " (--since)" } else { "" };
        eprintln!("note: no PromotionRecords in {place}{recent}");
    }
    match write_export(&kept, out) {
        Ok(_) => Ok(String::new()),
        // `| head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(String::new()),
        Err(e) => Err(Failure(format!("cannot write the export: {e}"))),
    }
}

// ---------------------------------------------------------------------------------------
// audit verify

/// The lines of an export: each non-blank line's number (from 1) and its envelope, or
/// why it is none.
pub fn read_envelopes(text: &str) -> Vec<(usize, Result<Envelope, String>)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let n = i + 1;
            let envelope = serde_json::from_str::<Envelope>(line).map_err(|e| {
                if e.is_data() {
                    format!("line {n} is not a DSSE envelope: {e}")
                } else {
                    format!("line {n} is not JSON: {e}")
                }
            });
            (n, envelope)
        })
        .collect()
}

/// Verifies an export's text against `keys`: one row per non-blank line, in order (a
/// line that is no envelope is a failed row naming it).
pub fn verify_rows(text: &str, keys: &[PublicKey]) -> Vec<Row> {
    let lines = read_envelopes(text);
    let envelopes: Vec<Envelope> = lines
        .iter()
        .filter_map(|(_, e)| e.as_ref().ok().cloned())
        .collect();
    let mut verified = verify_all(&envelopes, keys).into_iter();
    let mut rows: Vec<Row> = lines
        .into_iter()
        .filter_map(|(_, envelope)| match envelope {
            Ok(_) => verified.next(),
            Err(why) => Some(Row {
                model: "-".into(),
                sequence: None,
                action: "-".into(),
                version: "-".into(),
                at: "-".into(),
                key: "-".into(),
                result: Outcome::Failed(vec![why]),
            }),
        })
        .collect();
    rows.extend(verified);
    rows
}

/// The RESULT column: `ok`, `note: …` or `FAILED: …`.
pub fn result_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok => "ok".into(),
        Outcome::Note(note) => format!("note: {note}"),
        Outcome::Failed(problems) => format!("FAILED: {}", problems.join("; ")),
    }
}

/// The report: the table, then `N records, M failed`.
pub fn verify_text(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.model.clone(),
                r.sequence.map_or_else(|| "-".into(), |s| s.to_string()),
                r.action.clone(),
                r.version.clone(),
                r.at.clone(),
                r.key.clone(),
                result_text(&r.result),
            ]
        })
        .collect();
    let failed = rows.iter().filter(|r| r.result.failed()).count();
    table(
        &["MODEL", "SEQ", "ACTION", "VERSION", "AT", "KEY", "RESULT"],
        &cells,
    ) + &format!("{} records, {failed} failed\n", rows.len())
}

/// Reads a file, `-` for stdin.
fn read(path: &Path) -> Result<String, Failure> {
    if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))
}

/// Every public key in the `--key` files (several PEM blocks each allowed).
pub fn read_keys(key_files: &[PathBuf]) -> Result<Vec<PublicKey>, Failure> {
    let mut keys: Vec<PublicKey> = Vec::new();
    for path in key_files {
        let text = read(path)?;
        let found = parse_pems(&text).map_err(|e| {
            Failure(format!(
                "{}: {e} (want ed25519 public keys, as `kubectl accord audit key` prints them)",
                path.display()
            ))
        })?;
        for key in found {
            if !keys.iter().any(|k| k.keyid == key.keyid) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// `audit verify FILE --key KEYFILE…`, offline: the report, returned when every record
/// verifies; otherwise handed to `print` (stdout) and a failure returned, so the
/// process exits non-zero.
pub fn verify(
    file: &Path,
    key_files: &[PathBuf],
    print: impl FnOnce(&str),
) -> Result<String, Failure> {
    let keys = read_keys(key_files)?;
    let rows = verify_rows(&read(file)?, &keys);
    if rows.is_empty() {
        return Err(Failure(format!(
            "{} holds no envelope (one DSSE envelope of JSON per line, as `kubectl accord audit export` writes)",
            file.display()
        )));
    }
    let report = verify_text(&rows);
    let failed = rows.iter().filter(|r| r.result.failed()).count();
    if failed == 0 {
        return Ok(report);
    }
    print(&report);
    Err(Failure(format!(
        "{failed} of {} records failed verification",
        rows.len()
    )))
}

// ---------------------------------------------------------------------------------------
// audit report

/// One way a serving version falls short of today's policies.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceRow {
    pub namespace: String,
    pub model_deployment: String,
    /// The version that serves (`status.activeVersion`).
    pub version: String,
    pub team: String,
    pub kind: String,
    pub item: Option<String>,
    pub message: String,
}

/// Every violation the operator recorded in `status.conformance`, by namespace and
/// model, in the order recorded.
pub fn report_view(mds: &[ModelDeployment]) -> Vec<ConformanceRow> {
    let mut sorted: Vec<&ModelDeployment> = mds.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    sorted
        .into_iter()
        .filter_map(|md| Some((md, md.status.as_ref()?)))
        .flat_map(|(md, status)| {
            status.conformance.iter().map(move |v| ConformanceRow {
                namespace: md.metadata.namespace.clone().unwrap_or_default(),
                model_deployment: md.metadata.name.clone().unwrap_or_default(),
                version: status.active_version.clone().unwrap_or_else(|| "-".into()),
                team: v.team.clone(),
                kind: v.kind.as_str().into(),
                item: v.item.clone(),
                message: v.message.clone(),
            })
        })
        .collect()
}

/// `report` as text; `place` says where was looked when nothing was found.
pub fn report_text(rows: &[ConformanceRow], place: &str) -> String {
    if rows.is_empty() {
        return format!("every serving version meets today's policies ({place})\n");
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.namespace.clone(),
                r.model_deployment.clone(),
                r.version.clone(),
                r.team.clone(),
                r.kind.clone(),
                dash(&r.item),
                r.message.clone(),
            ]
        })
        .collect();
    table(
        &[
            "NAMESPACE",
            "MODEL",
            "VERSION",
            "TEAM",
            "KIND",
            "ITEM",
            "MESSAGE",
        ],
        &cells,
    )
}

/// `audit report`: the serving versions of the scope's ModelDeployments (all with
/// `-A`) that would not be promoted today. Exits 0 either way: it is a report.
pub async fn report(scope: &Scope) -> Result<String, Failure> {
    let rows = report_view(&scope.model_deployments().await?);
    let place = if scope.all_namespaces {
        "all namespaces".to_string()
    } else {
        format!("namespace {}", scope.namespace)
    };
    scope.print(&rows, || report_text(&rows, &place))
}

#[cfg(test)]
mod tests;
