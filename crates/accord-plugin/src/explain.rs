//! `kubectl accord explain md MD`: the effective checklist — which policy required each
//! item and what it still needs (how many more people, from which Team, by when) — and
//! the model's RACI. The view is pure, built from what the operator recorded in status.

use serde::Serialize;

use crate::{
    api::{ChecklistItemStatus, HandoffPolicy, ModelDeployment, ModelDeploymentStatus, Phase},
    raci::{RaciRow, policies_of, raci, raci_table},
    scope::{Failure, Scope},
    text::table,
};

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
    /// first seen), if it is set and the candidate still waits for sign-off.
    pub escalates_at: Option<String>,
    pub items: Vec<ExplainRow>,
    /// The responsibility matrix its policies declare, with the actual Teams.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responsibilities: Vec<RaciRow>,
}

/// `explain md <md>`.
pub async fn run(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let policies = scope.policies().await?;
    let view = view(&md, &policies);
    scope.print(&view, || text(&view))
}

/// Builds `explain` from the checklist the operator recorded in status, and the
/// responsibility matrix of the policies it recorded as applying.
pub fn view(md: &ModelDeployment, all_policies: &[HandoffPolicy]) -> Explain {
    let st = md.status.clone().unwrap_or_default();
    Explain {
        namespace: md.metadata.namespace.clone().unwrap_or_default(),
        name: md.metadata.name.clone().unwrap_or_default(),
        candidate: md.spec.model.version.clone(),
        phase: st.phase.map(|p| format!("{p:?}")),
        responsibilities: raci(md, &policies_of(md, all_policies)),
        policies: applying_policies(&st),
        escalates_at: escalates_at(md, &st),
        items: st.checklist.iter().map(item_row).collect(),
    }
}

/// The policies that require an item, or that the operator recorded as applying.
fn applying_policies(st: &ModelDeploymentStatus) -> Vec<String> {
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
    policies
}

/// When sign-off escalates: `escalateAfter` after the candidate was first seen. Only
/// while the candidate waits for sign-off (phase AwaitingAttestations, or required
/// items still owed): a model that owes nothing has nothing to escalate.
fn escalates_at(md: &ModelDeployment, st: &ModelDeploymentStatus) -> Option<String> {
    let owes = |i: &ChecklistItemStatus| i.required && !i.attested && i.auto_approved_by.is_none();
    let waiting =
        matches!(st.phase, Some(Phase::AwaitingAttestations)) || st.checklist.iter().any(owes);
    if !waiting {
        return None;
    }
    let candidate = st.candidate.as_ref()?;
    let after = accord_core::timing::parse_duration(md.spec.handoff.escalate_after.as_deref()?)?;
    let after = jiff::SignedDuration::try_from(after).ok()?;
    candidate
        .first_seen
        .0
        .checked_add(after)
        .ok()
        .map(|t| t.to_string())
}

/// One checklist item: who requires it, what it still needs, who signed it off.
fn item_row(i: &ChecklistItemStatus) -> ExplainRow {
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
}

/// `explain` as text.
pub fn text(view: &Explain) -> String {
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

#[cfg(test)]
mod tests {
    use accord_core::testing::md;

    use super::*;
    use crate::api::CandidateTracking;

    /// The candidate of `m`, first seen at the testing epoch.
    fn tracked(m: &ModelDeployment) -> CandidateTracking {
        CandidateTracking {
            artifact_fingerprint: None,
            fingerprint: None,
            identity: m.spec.identity(),
            author: None,
            legacy_attestations: false,
            first_seen: accord_core::testing::time(0),
            blocked_reported: false,
            escalated: false,
        }
    }

    #[test]
    fn explain_says_who_required_each_item_and_how_many_more_people_it_needs() {
        let mut m = md("2.4.0");
        m.spec.handoff.escalate_after = Some("24h".into());
        let approval = |who: &str| crate::api::ItemApproval {
            carried_from: None,
            attested_by: who.into(),
            attestation: format!("a-{who}"),
        };
        m.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::AwaitingAttestations),
            candidate: Some(tracked(&m)),
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
        let view = view(&m, &[]);
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
        let text = text(&view);
        assert!(text.contains("policies: prod"), "{text}");
        assert!(
            text.contains("ModelDeployment, HandoffPolicy/prod"),
            "{text}"
        );
    }

    /// A model that is Serving and owes nothing is not waiting for sign-off, so
    /// nothing escalates; once an item is owed again, the deadline shows.
    #[test]
    fn explain_shows_no_escalation_once_nothing_waits_for_sign_off() {
        let mut m = md("2.4.0");
        m.spec.handoff.escalate_after = Some("24h".into());
        m.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::Serving),
            active_version: Some("2.4.0".into()),
            candidate: Some(tracked(&m)),
            checklist: vec![ChecklistItemStatus {
                id: "drift".into(),
                owner: "data".into(),
                team: "data-platform".into(),
                required: true,
                attested: true,
                attested_by: Some("alice".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        let view = view(&m, &[]);
        assert_eq!(view.escalates_at, None);
        let text = text(&view);
        assert!(!text.contains("escalates"), "{text}");
        // Still owing an item (here during a canary), it does escalate.
        let status = m.status.as_mut().unwrap();
        status.phase = Some(Phase::Canary);
        status.checklist[0].attested = false;
        let text = super::text(&super::view(&m, &[]));
        assert!(
            text.contains("sign-off escalates at 2027-01-16T08:00:00Z"),
            "{text}"
        );
    }
}
