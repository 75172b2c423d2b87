//! What the plugin prints (pure): summaries that serialize to JSON/YAML, and tables.

use std::collections::BTreeMap;

use serde::Serialize;

use accord_core::policy::{StageRoles, responsibilities};

use crate::api::{Attestation, HandoffPolicy, ModelDeployment, Role, Team};

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

/// Builds the status view from a ModelDeployment and its Attestations (for evidence).
pub fn status(md: &ModelDeployment, attestations: &[Attestation]) -> Status {
    let st = md.status.clone().unwrap_or_default();
    let evidence = |name: &Option<String>| {
        let name = name.as_deref()?;
        attestations
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(name))?
            .spec
            .evidence
            .clone()
    };
    let checklist: Vec<ItemRow> = if st.checklist.is_empty() {
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
        st.checklist
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
    };
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
    }
}

/// One item of `explain`: who asks for it and what it still needs.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExplainRow {
    pub item: String,
    pub owner: String,
    pub team: String,
    pub required: bool,
    /// `ModelDeployment` and/or `HandoffPolicy/<name>`.
    pub required_by: Vec<String>,
    /// "done", "1 person", "2 more people", "optional", or why it is blocked.
    pub needs: String,
    /// Each person whose sign-off counts.
    pub signed_off_by: Vec<String>,
}

/// `kubectl accord explain md NAME`: the effective checklist.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Explain {
    pub namespace: String,
    pub name: String,
    pub candidate: String,
    pub phase: Option<String>,
    /// The HandoffPolicies that apply, from what the operator last recorded.
    pub policies: Vec<String>,
    /// When sign-off escalates (`spec.handoff.escalateAfter` after the candidate was
    /// first seen), if it is set.
    pub escalates_at: Option<String>,
    pub items: Vec<ExplainRow>,
    /// The responsibility matrix its policies declare, with the actual Teams.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responsibilities: Vec<RaciRow>,
}

/// One lifecycle stage of a model's responsibility matrix, with Team names.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RaciRow {
    /// e.g. `data access`.
    pub stage: String,
    /// `team (role)` for each role.
    pub responsible: Vec<String>,
    pub accountable: Vec<String>,
    pub consulted: Vec<String>,
    pub informed: Vec<String>,
    pub declared_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

/// The policies among `all` that apply to `md`, as the operator last recorded.
pub fn policies_of<'a>(md: &ModelDeployment, all: &'a [HandoffPolicy]) -> Vec<&'a HandoffPolicy> {
    let names = md
        .status
        .as_ref()
        .map(|s| s.policies.as_slice())
        .unwrap_or_default();
    all.iter()
        .filter(|p| p.metadata.name.as_ref().is_some_and(|n| names.contains(n)))
        .collect()
}

/// `md`'s responsibility matrix under `policies`, with its owner Teams named.
pub fn raci(md: &ModelDeployment, policies: &[&HandoffPolicy]) -> Vec<RaciRow> {
    let teams = |roles: &[Role]| -> Vec<String> {
        roles
            .iter()
            .map(|r| format!("{} ({r})", md.spec.owners.team_for(*r)))
            .collect()
    };
    responsibilities(policies.iter().copied())
        .into_iter()
        .map(|s: StageRoles| RaciRow {
            stage: s.stage.words().to_string(),
            responsible: teams(&s.responsible),
            accountable: teams(&s.accountable),
            consulted: teams(&s.consulted),
            informed: teams(&s.informed),
            declared_by: s.declared_by,
            conflict: s.conflict,
        })
        .collect()
}

/// The RACI rows as a table, `prefix` cells first (e.g. the model's name).
fn raci_table(rows: &[(String, &RaciRow)], with_model: bool) -> String {
    let join = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(model, r)| {
            let mut accountable = join(&r.accountable);
            if let Some(conflict) = &r.conflict {
                accountable = format!("{accountable} (conflict: {conflict})");
            }
            let mut row = vec![
                r.stage.clone(),
                join(&r.responsible),
                accountable,
                join(&r.consulted),
                join(&r.informed),
            ];
            if with_model {
                row.insert(0, model.clone());
            }
            row
        })
        .collect();
    let mut header = vec![
        "STAGE",
        "RESPONSIBLE",
        "ACCOUNTABLE",
        "CONSULTED",
        "INFORMED",
    ];
    if with_model {
        header.insert(0, "MODEL");
    }
    table(&header, &cells)
}

/// Builds `explain` from the checklist the operator recorded in status, and the
/// responsibility matrix of the policies it recorded as applying.
pub fn explain(md: &ModelDeployment, all_policies: &[HandoffPolicy]) -> Explain {
    let st = md.status.clone().unwrap_or_default();
    let mut policies: Vec<String> = st
        .checklist
        .iter()
        .flat_map(|i| &i.required_by)
        .filter_map(|by| by.strip_prefix("HandoffPolicy/"))
        .map(String::from)
        .chain(st.policies.iter().cloned())
        .collect();
    policies.sort();
    policies.dedup();
    let escalates_at = st.candidate.as_ref().and_then(|c| {
        let after =
            accord_core::timing::parse_duration(md.spec.handoff.escalate_after.as_deref()?)?;
        let after = jiff::SignedDuration::try_from(after).ok()?;
        c.first_seen
            .0
            .checked_add(after)
            .ok()
            .map(|t| t.to_string())
    });
    let items = st
        .checklist
        .iter()
        .map(|i| {
            let needed = i.min_approvals.unwrap_or(1) as usize;
            let more = needed.saturating_sub(i.approvals.len().max(usize::from(i.attested)));
            let needs = if let Some(rule) = &i.auto_approved_by {
                format!("done: auto-approved by {rule}")
            } else if i.attested {
                "done".to_string()
            } else if let Some(reason) = i
                .reason
                .as_deref()
                .filter(|r| r.contains("cannot be attested"))
            {
                format!("blocked: {reason}")
            } else if !i.required {
                "optional".to_string()
            } else {
                let people = if more == 1 { "person" } else { "people" };
                let more_word = if i.approvals.is_empty() { "" } else { " more" };
                format!("{more}{more_word} {people} of {}", i.team)
            };
            ExplainRow {
                item: i.id.clone(),
                owner: i.owner.clone(),
                team: i.team.clone(),
                required: i.required,
                required_by: if i.required_by.is_empty() {
                    vec![accord_core::policy::BY_MODEL_DEPLOYMENT.to_string()]
                } else {
                    i.required_by.clone()
                },
                needs,
                signed_off_by: if i.approvals.is_empty() {
                    i.attested_by.iter().cloned().collect()
                } else {
                    i.approvals.iter().map(|a| a.attested_by.clone()).collect()
                },
            }
        })
        .collect();
    Explain {
        namespace: md.metadata.namespace.clone().unwrap_or_default(),
        name: md.metadata.name.clone().unwrap_or_default(),
        candidate: md.spec.model.version.clone(),
        phase: st.phase.map(|p| format!("{p:?}")),
        responsibilities: raci(md, &policies_of(md, all_policies)),
        policies,
        escalates_at,
        items,
    }
}

/// `explain` as text.
pub fn explain_text(view: &Explain) -> String {
    let mut out = format!(
        "{}/{} candidate {} ({})\n",
        view.namespace,
        view.name,
        view.candidate,
        view.phase.as_deref().unwrap_or("not decided yet")
    );
    out.push_str(&format!(
        "policies: {}\n",
        if view.policies.is_empty() {
            "none".to_string()
        } else {
            view.policies.join(", ")
        }
    ));
    if let Some(at) = &view.escalates_at {
        out.push_str(&format!("sign-off escalates at {at}\n"));
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = view
        .items
        .iter()
        .map(|r| {
            vec![
                r.item.clone(),
                format!("{} ({})", r.owner, r.team),
                r.required_by.join(", "),
                r.needs.clone(),
                r.signed_off_by.join(", "),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "ITEM",
            "OWNER (TEAM)",
            "REQUIRED BY",
            "NEEDS",
            "SIGNED OFF BY",
        ],
        &rows,
    ));
    if !view.responsibilities.is_empty() {
        out.push_str("\nresponsibilities:\n");
        let rows: Vec<(String, &RaciRow)> = view
            .responsibilities
            .iter()
            .map(|r| (String::new(), r))
            .collect();
        out.push_str(&raci_table(&rows, false));
    }
    out
}

/// One row of `history`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    pub version: String,
    pub outcome: String,
    pub at: String,
    pub reason: String,
    pub approvers: Vec<String>,
    pub image: String,
}

/// Promotions and rollbacks, oldest first.
pub fn history(md: &ModelDeployment) -> Vec<HistoryRow> {
    md.status
        .as_ref()
        .map(|st| {
            st.history
                .iter()
                .map(|e| HistoryRow {
                    version: e.version.clone(),
                    outcome: format!("{:?}", e.outcome),
                    at: e.at.0.to_string(),
                    reason: e.reason.clone(),
                    approvers: e
                        .approvals
                        .iter()
                        .map(|a| format!("{} ({})", a.attested_by, a.item))
                        .collect(),
                    image: e.image.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One cell of the responsibility matrix: the Team holding a role, and what it owes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MatrixCell {
    pub team: String,
    pub pending: Vec<String>,
}

/// One row of the responsibility matrix.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MatrixRow {
    pub model_deployment: String,
    pub candidate: String,
    pub phase: Option<String>,
    pub data: MatrixCell,
    pub platform: MatrixCell,
    pub application: MatrixCell,
    /// The RACI its policies declare, with the actual Teams.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responsibilities: Vec<RaciRow>,
}

/// Who is accountable for what, across ModelDeployments: the Team holding each role
/// and, where policies declare one, the responsibility matrix per lifecycle stage.
pub fn matrix(mds: &[ModelDeployment], policies: &[HandoffPolicy]) -> Vec<MatrixRow> {
    let mut rows: Vec<MatrixRow> = mds
        .iter()
        .map(|md| {
            let view = status(md, &[]);
            let cell = |role: Role| {
                let team = md.spec.owners.team_for(role).to_string();
                let pending = view
                    .checklist
                    .iter()
                    .filter(|r| r.owner == role.as_str() && r.required && !r.attested)
                    .map(|r| r.item.clone())
                    .collect();
                MatrixCell { team, pending }
            };
            MatrixRow {
                model_deployment: format!("{}/{}", view.namespace, view.name),
                candidate: view.candidate.clone(),
                phase: view.phase.clone(),
                data: cell(Role::Data),
                platform: cell(Role::Platform),
                application: cell(Role::Application),
                responsibilities: raci(md, &policies_of(md, policies)),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.model_deployment.cmp(&b.model_deployment));
    rows
}

/// One row of `teams`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TeamRow {
    pub name: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub model_deployments: Vec<String>,
    pub pending_items: usize,
}

/// Teams with their members, the ModelDeployments they own, and items pending.
pub fn teams(teams: &[Team], mds: &[ModelDeployment]) -> Vec<TeamRow> {
    let matrix = matrix(mds, &[]);
    let mut rows: Vec<TeamRow> = teams
        .iter()
        .map(|t| {
            let name = t.metadata.name.clone().unwrap_or_default();
            let mut owned = Vec::new();
            let mut pending = 0;
            for row in &matrix {
                for cell in [&row.data, &row.platform, &row.application] {
                    if cell.team == name {
                        pending += cell.pending.len();
                        if !owned.contains(&row.model_deployment) {
                            owned.push(row.model_deployment.clone());
                        }
                    }
                }
            }
            TeamRow {
                name,
                users: t.spec.members.users.clone(),
                groups: t.spec.members.groups.clone(),
                model_deployments: owned,
                pending_items: pending,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// Renders rows as an aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".into())
}

/// `status` as text.
pub fn status_text(view: &Status) -> String {
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
    out.push_str("\nChecklist:\n");
    let rows: Vec<Vec<String>> = view
        .checklist
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
    out.push_str(&indent(&table(
        &["ITEM", "OWNER", "TEAM", "ATTESTED BY", "WHEN", "EVIDENCE"],
        &rows,
    )));
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

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// `history` as text.
pub fn history_text(rows: &[HistoryRow]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.version.clone(),
                r.outcome.clone(),
                r.at.clone(),
                r.reason.clone(),
                r.approvers.join(", "),
                r.image.clone(),
            ]
        })
        .collect();
    table(
        &["VERSION", "OUTCOME", "AT", "REASON", "APPROVED BY", "IMAGE"],
        &rows,
    )
}

fn cell_text(cell: &MatrixCell) -> String {
    if cell.pending.is_empty() {
        format!("{} ✓", cell.team)
    } else {
        format!("{} (owes {})", cell.team, cell.pending.join(", "))
    }
}

/// `matrix` as text.
pub fn matrix_text(matrix: &[MatrixRow]) -> String {
    let rows: Vec<Vec<String>> = matrix
        .iter()
        .map(|r| {
            vec![
                r.model_deployment.clone(),
                r.candidate.clone(),
                dash(&r.phase),
                cell_text(&r.data),
                cell_text(&r.platform),
                cell_text(&r.application),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "MODEL",
            "CANDIDATE",
            "PHASE",
            "DATA",
            "PLATFORM",
            "APPLICATION",
        ],
        &rows,
    );
    let raci: Vec<(String, &RaciRow)> = matrix
        .iter()
        .flat_map(|m| {
            m.responsibilities
                .iter()
                .map(|r| (m.model_deployment.clone(), r))
        })
        .collect();
    if !raci.is_empty() {
        out.push_str("\nresponsibilities (from HandoffPolicies):\n");
        out.push_str(&raci_table(&raci, true));
    }
    out
}

/// `teams` as text.
pub fn teams_text(rows: &[TeamRow]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut members: Vec<String> = r.users.clone();
            members.extend(r.groups.iter().map(|g| format!("group:{g}")));
            vec![
                r.name.clone(),
                members.join(", "),
                r.model_deployments.join(", "),
                r.pending_items.to_string(),
            ]
        })
        .collect();
    table(&["TEAM", "MEMBERS", "MODELS", "PENDING"], &rows)
}

/// The Attestation name `attest` uses: `<md>-<version>-<item>`, made a valid object name.
pub fn attestation_name(md: &str, version: &str, item: &str) -> String {
    let raw = format!("{md}-{version}-{item}").to_lowercase();
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(253)
        .collect()
}

#[cfg(test)]
mod tests {
    use accord_core::testing::{md, team};

    use super::*;
    use crate::api::{ChecklistItemStatus, ModelDeploymentStatus, Phase};

    fn waiting() -> ModelDeployment {
        let mut m = md("2.4.0");
        m.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::AwaitingAttestations),
            active_version: Some("2.3.1".into()),
            checklist: vec![
                ChecklistItemStatus {
                    id: "drift".into(),
                    owner: "data".into(),
                    team: "data-platform".into(),
                    required: true,
                    attested: true,
                    attested_by: Some("alice".into()),
                    attestation: Some("a1".into()),
                    ..Default::default()
                },
                ChecklistItemStatus {
                    id: "latency".into(),
                    owner: "platform".into(),
                    team: "ml-platform".into(),
                    required: true,
                    ..Default::default()
                },
                ChecklistItemStatus {
                    id: "kpis".into(),
                    owner: "application".into(),
                    team: "payments-app".into(),
                    required: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        m
    }

    #[test]
    fn status_shows_who_attested_and_what_each_team_owes() {
        let mut att = accord_core::testing::attestation("a1", "drift", "2.4.0", "alice", &[]);
        att.spec.evidence = Some("https://ci/1".into());
        let view = status(&waiting(), &[att]);
        assert_eq!(view.checklist[0].evidence.as_deref(), Some("https://ci/1"));
        assert_eq!(view.owed["ml-platform"], ["latency"]);
        let text = status_text(&view);
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
    }

    #[test]
    fn matrix_has_one_row_per_model_and_a_cell_per_role() {
        let rows = matrix(&[waiting()], &[]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].data.pending, Vec::<String>::new());
        assert_eq!(rows[0].platform.pending, ["latency"]);
        let text = matrix_text(&rows);
        assert!(
            text.contains("data-platform ✓") && text.contains("ml-platform (owes latency)"),
            "{text}"
        );
    }

    #[test]
    fn teams_count_models_and_pending() {
        let rows = teams(
            &[
                team("ml-platform", &["bob"], &["ml-platform-eng"]),
                team("idle", &["x"], &[]),
            ],
            &[waiting()],
        );
        let ml = rows.iter().find(|r| r.name == "ml-platform").unwrap();
        assert_eq!((ml.model_deployments.len(), ml.pending_items), (1, 1));
        let idle = rows.iter().find(|r| r.name == "idle").unwrap();
        assert_eq!((idle.model_deployments.len(), idle.pending_items), (0, 0));
        assert!(teams_text(&rows).contains("bob, group:ml-platform-eng"));
    }

    #[test]
    fn attestation_names_are_valid_object_names() {
        assert_eq!(
            attestation_name("fraud-scorer", "2.4.0", "drift"),
            "fraud-scorer-2.4.0-drift"
        );
        assert_eq!(attestation_name("m", "V1_rc", "x"), "m-v1-rc-x");
    }

    #[test]
    fn explain_says_who_required_each_item_and_how_many_more_people_it_needs() {
        let mut m = md("2.4.0");
        m.spec.handoff.escalate_after = Some("24h".into());
        let approval = |who: &str| crate::api::ItemApproval {
            attested_by: who.into(),
            attestation: format!("a-{who}"),
        };
        m.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::AwaitingAttestations),
            candidate: Some(crate::api::CandidateTracking {
                fingerprint: None,
                identity: m.spec.identity(),
                author: None,
                legacy_attestations: false,
                first_seen: accord_core::testing::time(0),
                blocked_reported: false,
                escalated: false,
            }),
            checklist: vec![
                ChecklistItemStatus {
                    id: "drift".into(),
                    owner: "data".into(),
                    team: "data-platform".into(),
                    required: true,
                    required_by: vec!["ModelDeployment".into(), "HandoffPolicy/prod".into()],
                    min_approvals: Some(2),
                    approvals: vec![approval("alice")],
                    ..Default::default()
                },
                ChecklistItemStatus {
                    id: "latency".into(),
                    owner: "platform".into(),
                    team: "ml-platform".into(),
                    required: true,
                    attested: true,
                    attested_by: Some("bob".into()),
                    approvals: vec![approval("bob")],
                    ..Default::default()
                },
                ChecklistItemStatus {
                    id: "bias-reviewed".into(),
                    owner: "application".into(),
                    team: "payments-app".into(),
                    required: true,
                    required_by: vec!["HandoffPolicy/prod".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let view = explain(&m, &[]);
        assert_eq!(view.policies, ["prod"]);
        assert_eq!(view.escalates_at.as_deref(), Some("2027-01-16T08:00:00Z"));
        let needs: Vec<&str> = view.items.iter().map(|r| r.needs.as_str()).collect();
        assert_eq!(
            needs,
            [
                "1 more person of data-platform",
                "done",
                "1 person of payments-app"
            ]
        );
        assert_eq!(view.items[1].required_by, ["ModelDeployment"]);
        let text = explain_text(&view);
        assert!(text.contains("policies: prod"), "{text}");
        assert!(
            text.contains("ModelDeployment, HandoffPolicy/prod"),
            "{text}"
        );
    }

    #[test]
    fn the_raci_names_the_actual_teams_of_each_model() {
        use crate::api::{
            HandoffPolicySpec,
            handoff_policy::{Responsibility, Stage},
        };
        let mut policy = HandoffPolicy::new(
            "fraud-raci",
            HandoffPolicySpec {
                responsibilities: vec![Responsibility {
                    stage: Stage::IncidentResponse,
                    responsible: vec![Role::Platform],
                    accountable: Role::Application,
                    consulted: vec![Role::Data],
                    informed: vec![],
                }],
                ..Default::default()
            },
        );
        policy.metadata.name = Some("fraud-raci".into());
        let mut m = md("2.4.0");
        let other = HandoffPolicy::new("unrelated", policy.spec.clone());
        let all = [policy, other];
        // Only the policies the operator recorded as applying count.
        assert!(explain(&m, &all).responsibilities.is_empty());
        m.status = Some(ModelDeploymentStatus {
            policies: vec!["fraud-raci".into()],
            ..Default::default()
        });
        let view = explain(&m, &all);
        let row = &view.responsibilities[0];
        assert_eq!(row.stage, "incident response");
        assert_eq!(row.responsible, ["ml-platform (platform)"]);
        assert_eq!(row.accountable, ["payments-app (application)"]);
        assert_eq!(row.consulted, ["data-platform (data)"]);
        assert_eq!(row.declared_by, ["HandoffPolicy/fraud-raci"]);
        let text = explain_text(&view);
        assert!(text.contains("responsibilities:"), "{text}");
        let rows = matrix(&[m], &all);
        assert_eq!(rows[0].responsibilities, view.responsibilities);
        let text = matrix_text(&rows);
        let line = text
            .lines()
            .find(|l| l.contains("incident response"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.starts_with("payments/fraud-scorer"), "{line}");
        assert!(line.contains("payments-app (application)"), "{line}");
    }
}
