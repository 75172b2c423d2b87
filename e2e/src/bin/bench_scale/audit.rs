//! The API server's audit log read for the rows: the operator's writes and the
//! promotion path (last attestation → the operator's first Deployment write).

use std::collections::BTreeMap;

use accord_e2e::{AuditLog, audit::AuditMark};
use serde_json::Value;

use crate::OPERATOR;

pub(super) fn is_write(event: &Value) -> bool {
    matches!(
        event["verb"].as_str(),
        Some("create" | "update" | "patch" | "delete")
    )
}

fn timestamp(event: &Value) -> f64 {
    event["stageTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(0.0, |t| t.as_microsecond() as f64 / 1e6)
}

/// The promotion path of phase 2 as the audit log recorded it.
pub(super) struct Promotions {
    /// Per promoted model, seconds from its last attestation to the operator's first
    /// Deployment write, sorted.
    pub(super) latencies: Vec<f64>,
    /// The operator's writes (leases aside) by `resource[/subresource]`.
    pub(super) writes_by_kind: BTreeMap<String, usize>,
}

/// Reads the audit log since `mark`: per model, the last attestation's create and the
/// operator's first Deployment write, and the operator's writes by kind.
pub(super) fn promotions_from_audit_log(mark: AuditMark) -> Promotions {
    let events = AuditLog::events_since(mark);
    let mut last_attestation: BTreeMap<String, f64> = BTreeMap::new();
    let mut deployment_write: BTreeMap<String, f64> = BTreeMap::new();
    let mut writes_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        let o = &e["objectRef"];
        let user = e["user"]["username"].as_str().unwrap_or_default();
        if o["resource"] == "attestations"
            && e["verb"] == "create"
            && o["subresource"].is_null()
            && e["responseStatus"]["code"] == 201
        {
            let md = o["name"]
                .as_str()
                .unwrap_or_default()
                .rsplit_once('-')
                .map(|(md, _)| md.to_string())
                .unwrap_or_default();
            let at = timestamp(e);
            let entry = last_attestation.entry(md).or_insert(at);
            *entry = entry.max(at);
        }
        if user == OPERATOR && is_write(e) && o["resource"] != "leases" {
            let kind = format!(
                "{}{}",
                o["resource"].as_str().unwrap_or_default(),
                o["subresource"]
                    .as_str()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            );
            *writes_by_kind.entry(kind).or_default() += 1;
            if o["resource"] == "deployments" {
                // The first write: a create (or, by an operator that applies, a patch).
                deployment_write
                    .entry(o["name"].as_str().unwrap_or_default().to_string())
                    .or_insert(timestamp(e));
            }
        }
    }
    let mut latencies: Vec<f64> = deployment_write
        .iter()
        .filter_map(|(md, at)| Some(at - last_attestation.get(md)?))
        .collect();
    latencies.sort_by(f64::total_cmp);
    Promotions {
        latencies,
        writes_by_kind,
    }
}

/// The `q` quantile of sorted `latencies`: the value at index `len × q` (the last one
/// at most), NaN when there is none.
pub(super) fn pick(latencies: &[f64], q: f64) -> f64 {
    latencies
        .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}
