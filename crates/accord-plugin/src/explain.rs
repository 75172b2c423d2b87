//! `kubectl accord explain md MD`: the effective checklist — which policy required each
//! item and what it still needs (how many more people, from which Team, by when) — and
//! the model's RACI; with `spec.promotion`, where its candidates come from, the soak
//! they need, what carries, and what the upstream showed for the active version; its
//! open Incidents (what resolving each needs), follow-ups and breaching guards. The
//! view is pure, built from what the operator recorded in status.

use accord_core::{
    policy::PromotionRules,
    upstream::{go_duration, required_soak},
};
use serde::Serialize;

use crate::{
    api::{
        ChecklistItemStatus, HandoffPolicy, ModelDeployment, ModelDeploymentStatus, Phase,
        UpstreamEvidence,
    },
    incidents::{self, ModelIncidents},
    promotion::{rules, short_fingerprint},
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
    /// Each sign-off carried from upstream: `carried from NS/NAME (attestation A by P)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<String>,
}

/// Where the candidates come from (`spec.promotion` and the policies' rules).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PromotionView {
    /// The upstream, `namespace/name`.
    pub from: Option<String>,
    /// The soak required upstream (Go-style duration, `0s` when none).
    pub soak: String,
    /// What asks for a soak: `spec.promotion.soak 1h`, `HandoffPolicy/P minSoak 24h`.
    pub soak_from: Vec<String>,
    /// Items whose upstream sign-off counts here.
    pub carry: Vec<String>,
    /// Items a policy never carries: `ITEM (HandoffPolicy/P)`.
    pub never_carry: Vec<String>,
    /// Namespaces that may cite this one as their upstream.
    pub downstream: Vec<String>,
    /// The policy that requires an upstream, if one does.
    pub upstream_required_by: Option<String>,
    /// What the upstream showed when the active version was promoted here.
    pub evidence: Option<UpstreamEvidence>,
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
    /// Promotion through environments, when the spec or a policy speaks of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionView>,
    /// Its open Incidents and what resolving each needs, the follow-ups the next
    /// candidate must carry, and its guards.
    #[serde(skip_serializing_if = "ModelIncidents::is_empty")]
    pub incidents: ModelIncidents,
}

/// `explain md <md>`.
pub async fn run(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let policies = scope.policies().await?;
    let mut view = view(&md, &policies);
    view.incidents = incidents::read_for(scope, &md).await;
    scope.print(&view, || text(&view))
}

/// Builds `explain` from the checklist the operator recorded in status, and the
/// responsibility matrix of the policies it recorded as applying; its Incidents are
/// left to the caller ([`incidents::of_model`]).
pub fn view(md: &ModelDeployment, all_policies: &[HandoffPolicy]) -> Explain {
    let st = md.status.clone().unwrap_or_default();
    let policies = policies_of(md, all_policies);
    Explain {
        namespace: md.metadata.namespace.clone().unwrap_or_default(),
        name: md.metadata.name.clone().unwrap_or_default(),
        candidate: md.spec.model.version.clone(),
        phase: st.phase.map(|p| format!("{p:?}")),
        responsibilities: raci(md, &policies),
        policies: applying_policies(&st),
        escalates_at: escalates_at(md, &st),
        items: st.checklist.iter().map(|i| item_row(md, i)).collect(),
        promotion: promotion(md, &st, &rules(&policies)),
        incidents: ModelIncidents::default(),
    }
}

/// The promotion section: shown when the spec has `promotion` or a policy sets a
/// promotion rule.
fn promotion(
    md: &ModelDeployment,
    st: &ModelDeploymentStatus,
    rules: &PromotionRules,
) -> Option<PromotionView> {
    if md.spec.promotion.is_none() && *rules == PromotionRules::default() {
        return None;
    }
    let own = md.spec.promotion.as_ref().and_then(|p| p.soak.as_ref());
    let soak_from = own
        .map(|soak| format!("spec.promotion.soak {soak}"))
        .into_iter()
        .chain(
            rules
                .min_soak
                .as_ref()
                .map(|(d, by)| format!("{by} minSoak {}", go_duration(*d))),
        )
        .collect();
    Some(PromotionView {
        from: md.spec.upstream().map(ToString::to_string),
        soak: go_duration(required_soak(md, rules)),
        soak_from,
        carry: md.spec.carried_items().to_vec(),
        never_carry: rules
            .never_carry
            .iter()
            .map(|(item, by)| format!("{item} ({by})"))
            .collect(),
        downstream: md.spec.downstream().to_vec(),
        upstream_required_by: rules.require_upstream.clone(),
        evidence: st.history.last().and_then(|e| e.upstream.clone()),
    })
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

/// The sign-offs of `i` carried from upstream: `carried from NS/NAME (attestation A by
/// P)`.
fn carried(i: &ChecklistItemStatus) -> Vec<String> {
    let line = |from: &crate::api::CarriedFrom, by: &str| {
        format!(
            "carried from {} (attestation {} by {by})",
            from.model_deployment, from.attestation
        )
    };
    if i.approvals.is_empty() {
        return i
            .carried_from
            .iter()
            .map(|from| line(from, i.attested_by.as_deref().unwrap_or("-")))
            .collect();
    }
    i.approvals
        .iter()
        .filter_map(|a| Some(line(a.carried_from.as_ref()?, &a.attested_by)))
        .collect()
}

/// One checklist item: who requires it, what it still needs, who signed it off.
fn item_row(md: &ModelDeployment, i: &ChecklistItemStatus) -> ExplainRow {
    let needed = i.min_approvals.unwrap_or(1) as usize;
    let more = needed.saturating_sub(i.approvals.len().max(usize::from(i.attested)));
    let carried = carried(i);
    let carries_from = md
        .spec
        .upstream()
        .filter(|_| md.spec.carried_items().contains(&i.id));
    let needs = if let Some(rule) = &i.auto_approved_by {
        format!("done: auto-approved by {rule}")
    } else if i.attested && !carried.is_empty() {
        format!("done: {}", carried.join("; "))
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
        let mut needs = format!("{more}{more_word} {people} of {}", i.team);
        if let Some(from) = carries_from {
            needs.push_str(&format!(", here or in {from} (carried)"));
            if let Some(reason) = &i.reason {
                needs.push_str(&format!("; not carried: {reason}"));
            }
        }
        needs
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
        carried,
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
    out.push_str(&incidents::model_text(&view.incidents));
    if !view.responsibilities.is_empty() {
        out.push_str("\nresponsibilities:\n");
        let rows: Vec<(String, &RaciRow)> = view
            .responsibilities
            .iter()
            .map(|r| (String::new(), r))
            .collect();
        out.push_str(&raci_table(&rows, false));
    }
    if let Some(promotion) = &view.promotion {
        out.push_str(&promotion_text(promotion));
    }
    out
}

/// The promotion section as text.
fn promotion_text(p: &PromotionView) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let mut out = format!(
        "\npromotion:\n  from: {}\n",
        p.from.as_deref().unwrap_or("none (no upstream)")
    );
    if let Some(by) = &p.upstream_required_by {
        out.push_str(&format!("  an upstream is required by {by}\n"));
    }
    let soak = if p.soak == "0s" { "none" } else { &p.soak };
    out.push_str(&format!("  soak: {soak}"));
    if !p.soak_from.is_empty() {
        out.push_str(&format!(" (the longest of: {})", p.soak_from.join(", ")));
    }
    out.push_str(&format!("\n  carry: {}\n", list(&p.carry)));
    if !p.never_carry.is_empty() {
        out.push_str(&format!("  never carried: {}\n", p.never_carry.join(", ")));
    }
    out.push_str(&format!("  downstream: {}\n", list(&p.downstream)));
    if let Some(e) = &p.evidence {
        out.push_str(&format!(
            "  upstream evidence of the active version: {} (artifact {}) served in {} since {}, soak {}\n",
            e.version,
            short_fingerprint(&e.artifact_fingerprint),
            e.model_deployment,
            e.available_since.0,
            e.soak
        ));
        for c in &e.carried {
            out.push_str(&format!(
                "    carried: {} by {} (attestation {})\n",
                c.item, c.attested_by, c.attestation
            ));
        }
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

    /// A carried item says where it was signed off; the promotion section shows the
    /// upstream, the soak the policies make longest, what carries and the evidence.
    #[test]
    fn explain_shows_carried_items_and_the_promotion() {
        use crate::api::{CarriedFrom, CarriedSignOff, ItemApproval, UpstreamEvidence};

        let mut m = crate::fixtures::in_environment(
            "payments-prod",
            "2.4.0",
            Some("payments-staging"),
            &[],
        );
        let promotion = m.spec.promotion.as_mut().unwrap();
        promotion.soak = Some("1h".into());
        promotion.carry = vec!["drift".into(), "latency".into()];
        let from = CarriedFrom {
            model_deployment: "payments-staging/fraud-scorer".into(),
            attestation: "fraud-scorer-2.4.0-drift".into(),
            uid: None,
        };
        let mut entry = crate::fixtures::history_entry("2.3.1", 0, Some(5));
        entry.upstream = Some(UpstreamEvidence {
            model_deployment: "payments-staging/fraud-scorer".into(),
            uid: None,
            version: "2.3.1".into(),
            fingerprint: String::new(),
            artifact_fingerprint: md("2.3.1").spec.artifact_fingerprint(),
            available_since: accord_core::testing::time(-7200),
            soak: "24h".into(),
            carried: vec![CarriedSignOff {
                item: "drift".into(),
                attested_by: "carol".into(),
                attestation: "fraud-scorer-2.3.1-drift".into(),
            }],
        });
        m.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::AwaitingAttestations),
            policies: vec!["prod".into()],
            history: vec![entry],
            checklist: vec![
                ChecklistItemStatus {
                    id: "drift".into(),
                    owner: "data".into(),
                    team: "data-platform".into(),
                    required: true,
                    attested: true,
                    attested_by: Some("alice".into()),
                    carried_from: Some(from.clone()),
                    approvals: vec![ItemApproval {
                        attested_by: "alice".into(),
                        attestation: from.attestation.clone(),
                        carried_from: Some(from),
                    }],
                    ..Default::default()
                },
                ChecklistItemStatus {
                    id: "latency".into(),
                    owner: "platform".into(),
                    team: "ml-platform".into(),
                    required: true,
                    reason: Some(
                        "bob is no longer a member of the upstream team ml-platform".into(),
                    ),
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
        let mut policy = HandoffPolicy::new("prod", Default::default());
        policy.spec.promotion = Some(crate::api::handoff_policy::PromotionRules {
            require_upstream: true,
            min_soak: Some("24h".into()),
            never_carry: vec!["pii".into()],
        });
        let view = view(&m, &[policy]);
        let needs: Vec<&str> = view.items.iter().map(|r| r.needs.as_str()).collect();
        assert_eq!(
            needs,
            [
                "done: carried from payments-staging/fraud-scorer (attestation fraud-scorer-2.4.0-drift by alice)",
                "1 person of ml-platform, here or in payments-staging/fraud-scorer (carried); not carried: bob is no longer a member of the upstream team ml-platform",
                "1 person of payments-app",
            ]
        );
        let promotion = view.promotion.as_ref().unwrap();
        assert_eq!(promotion.soak, "24h");
        assert_eq!(
            promotion.soak_from,
            ["spec.promotion.soak 1h", "HandoffPolicy/prod minSoak 24h"]
        );
        let text = text(&view);
        for line in [
            "\npromotion:\n  from: payments-staging/fraud-scorer\n",
            "  an upstream is required by HandoffPolicy/prod\n",
            "  soak: 24h (the longest of: spec.promotion.soak 1h, HandoffPolicy/prod minSoak 24h)\n",
            "  carry: drift, latency\n",
            "  never carried: pii (HandoffPolicy/prod)\n",
            "  downstream: none\n",
            "  upstream evidence of the active version: 2.3.1 (artifact sha256:",
            "served in payments-staging/fraud-scorer since 2027-01-15T06:00:00Z, soak 24h\n",
            "    carried: drift by carol (attestation fraud-scorer-2.3.1-drift)\n",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }
        // No promotion anywhere: no section.
        assert!(!super::text(&super::view(&md("2.4.0"), &[])).contains("promotion:"));
    }

    #[test]
    fn explain_shows_open_incidents_follow_ups_and_guards() {
        use crate::{api::IncidentPhase, fixtures};
        let mut m = fixtures::waiting();
        m.spec.monitoring = Some(fixtures::monitoring());
        let mut view = super::view(&m, &[]);
        let inc = fixtures::incident("inc-1", 0, Some(IncidentPhase::Mitigated));
        view.incidents = incidents::of_model(&m, &[inc]);
        let text = text(&view);
        for line in [
            "  inc-1 (Mitigated) version 2.4.0, guard error-rate: error-rate 0.071 > 0.02 for 5m\n",
            "      kubectl accord attest fraud-scorer -n payments --item root-cause-analysis --incident inc-1 --evidence URL [--follow-up ITEM]...\n",
            "\nGuards (1 declared):\n  none breaching\n",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }
    }
}
