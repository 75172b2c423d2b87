//! `kubectl accord status MD [--watch]`: the candidate and active version, phase,
//! conditions, who attested what and what each Team still owes, a running canary's
//! progress, and the model's open Incidents, follow-ups and breaching guards. The view
//! is pure; `run` and `watch` read it from the cluster.

use std::collections::BTreeMap;

use kube::{Api, api::ListParams};
use serde::Serialize;

use crate::{
    api::{Attestation, ModelDeployment},
    incidents::{self, ModelIncidents},
    scope::{Failure, Output, Scope},
    text::{dash, indent, table},
};

/// One checklist row of `status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ItemRow {
    pub item: String,
    pub owner: String,
    pub team: String,
    pub required: bool,
    pub attested: bool,
    pub attested_by: Option<String>,
    pub attested_at: Option<String>,
    pub evidence: Option<String>,
    pub reason: Option<String>,
}

/// One condition row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConditionRow {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// `kubectl accord status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub namespace: String,
    pub name: String,
    pub candidate: String,
    /// The candidate fingerprint (what a sign-off is about), computed from the spec.
    pub fingerprint: String,
    /// Who introduced the candidate, as the webhook recorded it.
    pub candidate_author: Option<String>,
    pub active: Option<String>,
    pub phase: Option<String>,
    pub conditions: Vec<ConditionRow>,
    pub checklist: Vec<ItemRow>,
    /// Team → items it still owes.
    pub owed: BTreeMap<String, Vec<String>>,
    /// The canary of the candidate, while it runs: progress and analysis values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryView>,
    /// Its open Incidents, the follow-ups the next candidate must carry, its guards.
    #[serde(skip_serializing_if = "ModelIncidents::is_empty")]
    pub incidents: ModelIncidents,
}

/// A running canary, for `status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CanaryView {
    pub version: String,
    pub replicas: i32,
    pub started_at: String,
    pub available_at: Option<String>,
    pub bake_seconds: i32,
    /// `value (passed)` / `value (failed: why)`, oldest first.
    pub measurements: Vec<String>,
    pub failed_measurements: i32,
    pub failure_limit: Option<i32>,
}

/// `status <md>`.
pub async fn run(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let api: Api<Attestation> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let attestations = api
        .list(&ListParams::default())
        .await
        .map_err(|e| scope.failure(e))?
        .items;
    let mut view = view(&md, &attestations);
    view.incidents = incidents::read_for(scope, &md).await;
    scope.print(&view, || text(&view))
}

/// `status <md> --watch`: prints the status, then again each time it changes, until
/// interrupted (or the ModelDeployment is deleted).
pub async fn watch(
    scope: &Scope,
    name: &str,
    mut print: impl FnMut(&str),
) -> Result<String, Failure> {
    let mut last = String::new();
    loop {
        let text = run(scope, name).await?;
        if text != last {
            if !last.is_empty() && scope.output == Output::Table {
                print(&format!("--- {} ---\n", jiff::Timestamp::now()));
            }
            print(&text);
            last = text;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(String::new()),
        }
    }
}

fn canary_view(md: &ModelDeployment) -> Option<CanaryView> {
    let run = md.status.as_ref()?.canary.as_ref()?;
    let config = accord_core::canary::config(md)?;
    Some(CanaryView {
        version: run.version.clone(),
        replicas: config.replicas,
        started_at: run.started_at.0.to_string(),
        available_at: run.available_at.as_ref().map(|t| t.0.to_string()),
        bake_seconds: config.bake_seconds,
        measurements: run
            .measurements
            .iter()
            .map(|m| {
                let value = m.value.as_deref().unwrap_or("-");
                match (&m.message, m.passed) {
                    (_, true) => format!("{value} (passed)"),
                    (Some(why), false) => format!("{value} (failed: {why})"),
                    (None, false) => format!("{value} (failed)"),
                }
            })
            .collect(),
        failed_measurements: run.failed_measurements,
        failure_limit: config.analysis.as_ref().map(|a| a.failure_limit),
    })
}

/// The checklist rows: what the operator recorded, else the spec's own items (none
/// attested yet). Evidence comes from the Attestation that counted.
fn checklist(md: &ModelDeployment, attestations: &[Attestation]) -> Vec<ItemRow> {
    let recorded = md
        .status
        .as_ref()
        .map(|s| s.checklist.as_slice())
        .unwrap_or_default();
    let evidence = |name: &Option<String>| {
        let name = name.as_deref()?;
        attestations
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(name))?
            .spec
            .evidence
            .clone()
    };
    if recorded.is_empty() {
        md.spec
            .handoff
            .checklist
            .iter()
            .map(|i| ItemRow {
                item: i.id.clone(),
                owner: i.owner.to_string(),
                team: md.spec.owners.team_for(i.owner).to_string(),
                required: i.required,
                attested: false,
                attested_by: None,
                attested_at: None,
                evidence: None,
                reason: None,
            })
            .collect()
    } else {
        recorded
            .iter()
            .map(|i| ItemRow {
                item: i.id.clone(),
                owner: i.owner.clone(),
                team: i.team.clone(),
                required: i.required,
                attested: i.attested,
                attested_by: i.attested_by.clone(),
                attested_at: i.attested_at.as_ref().map(|t| t.0.to_string()),
                evidence: evidence(&i.attestation),
                reason: i.reason.clone(),
            })
            .collect()
    }
}

/// Builds the status view from a ModelDeployment and its Attestations (for evidence);
/// its Incidents are left to the caller ([`incidents::of_model`]).
pub fn view(md: &ModelDeployment, attestations: &[Attestation]) -> Status {
    let st = md.status.clone().unwrap_or_default();
    let checklist = checklist(md, attestations);
    let mut owed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in checklist.iter().filter(|r| r.required && !r.attested) {
        owed.entry(row.team.clone())
            .or_default()
            .push(row.item.clone());
    }
    Status {
        namespace: md.metadata.namespace.clone().unwrap_or_default(),
        name: md.metadata.name.clone().unwrap_or_default(),
        candidate: md.spec.model.version.clone(),
        fingerprint: md.spec.fingerprint(),
        candidate_author: md
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(crate::api::labels::CANDIDATE_AUTHOR))
            .cloned(),
        active: st.active_version.clone(),
        phase: st.phase.map(|p| format!("{p:?}")),
        conditions: st
            .conditions
            .iter()
            .map(|c| ConditionRow {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect(),
        checklist,
        owed,
        canary: canary_view(md),
        incidents: ModelIncidents::default(),
    }
}

/// `status` as text.
pub fn text(view: &Status) -> String {
    let mut out = format!(
        "ModelDeployment {}/{}\nCandidate: {}   Active: {}   Phase: {}\nFingerprint: {}   Introduced by: {} (may not attest it)\n\nConditions:\n",
        view.namespace,
        view.name,
        view.candidate,
        dash(&view.active),
        dash(&view.phase),
        view.fingerprint,
        dash(&view.candidate_author)
    );
    let rows: Vec<Vec<String>> = view
        .conditions
        .iter()
        .map(|c| {
            vec![
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone(),
                c.message.clone(),
            ]
        })
        .collect();
    out.push_str(&indent(&table(
        &["TYPE", "STATUS", "REASON", "MESSAGE"],
        &rows,
    )));
    out.push_str(&incidents::model_text(&view.incidents));
    out.push_str("\nChecklist:\n");
    out.push_str(&indent(&checklist_table(&view.checklist)));
    if let Some(canary) = &view.canary {
        out.push_str(&canary_text(canary));
    }
    if view.owed.is_empty() {
        out.push_str("\nEvery required item is attested for this candidate.\n");
    } else {
        out.push_str("\nStill owed:\n");
        for (team, items) in &view.owed {
            out.push_str(&format!("  {team}: {}\n", items.join(", ")));
        }
    }
    out
}

/// The checklist as a table: who attested each item, or that it is still pending.
fn checklist_table(checklist: &[ItemRow]) -> String {
    let rows: Vec<Vec<String>> = checklist
        .iter()
        .map(|r| {
            vec![
                r.item.clone(),
                r.owner.clone(),
                r.team.clone(),
                if r.attested {
                    dash(&r.attested_by)
                } else if r.required {
                    "PENDING".into()
                } else {
                    "(optional)".into()
                },
                dash(&r.attested_at),
                dash(&r.evidence),
            ]
        })
        .collect();
    table(
        &["ITEM", "OWNER", "TEAM", "ATTESTED BY", "WHEN", "EVIDENCE"],
        &rows,
    )
}

/// A running canary's progress and analysis, for `status`.
fn canary_text(canary: &CanaryView) -> String {
    let mut out = format!(
        "\nCanary: {} on {} pods, started {}, {}; bake {}s\n",
        canary.version,
        canary.replicas,
        canary.started_at,
        canary
            .available_at
            .as_ref()
            .map_or("not available yet".to_string(), |at| format!(
                "available since {at}"
            )),
        canary.bake_seconds
    );
    if let Some(limit) = canary.failure_limit {
        out.push_str(&format!(
            "  analysis: {} failed of {limit} allowed; measured: {}\n",
            canary.failed_measurements,
            if canary.measurements.is_empty() {
                "nothing yet".to_string()
            } else {
                canary.measurements.join(", ")
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::waiting;

    #[test]
    fn status_shows_who_attested_and_what_each_team_owes() {
        let mut att = accord_core::testing::attestation("a1", "drift", "2.4.0", "alice", &[]);
        att.spec.evidence = Some("https://ci/1".into());
        let view = view(&waiting(), &[att]);
        assert_eq!(view.checklist[0].evidence.as_deref(), Some("https://ci/1"));
        assert_eq!(view.owed["ml-platform"], ["latency"]);
        let text = text(&view);
        assert!(
            text.contains("Candidate: 2.4.0   Active: 2.3.1   Phase: AwaitingAttestations"),
            "{text}"
        );
        assert!(
            text.contains("drift") && text.contains("alice") && text.contains("https://ci/1"),
            "{text}"
        );
        assert!(text.contains("  ml-platform: latency"), "{text}");
        let fingerprint = waiting().spec.fingerprint();
        assert!(
            text.contains(&format!("Fingerprint: {fingerprint}")),
            "{text}"
        );
        assert!(!text.contains("Incidents"), "nothing to say: {text}");
        let json = serde_json::to_value(&view).unwrap();
        assert!(json.get("incidents").is_none(), "{json}");
    }

    #[test]
    fn status_shows_the_open_incidents_and_what_resolving_them_needs() {
        use crate::{api::IncidentPhase, fixtures::incident};
        let md = waiting();
        let mut view = view(&md, &[]);
        view.incidents =
            incidents::of_model(&md, &[incident("inc-1", 0, Some(IncidentPhase::Open))]);
        let text = text(&view);
        let conditions = text.find("Conditions:").unwrap();
        let open = text
            .find("Incidents open")
            .unwrap_or_else(|| panic!("{text}"));
        assert!(conditions < open && open < text.find("Checklist:").unwrap());
        assert!(
            text.contains("    to resolve: an Attestation with spec.incident: inc-1, item root-cause-analysis, an evidence link, version 2.4.0, by a member of team payments-app (accountable)\n"),
            "{text}"
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json["incidents"]["open"][0]["resolving"]["team"],
            "payments-app"
        );
    }
}
