//! `kubectl accord incidents [-A]`: every Incident, open ones first. Also the views of
//! Incidents that `incident show`, `status` and `explain` share: who answers one, what
//! resolving it needs (with the exact `kubectl accord attest` line), the follow-ups a
//! signed-off root cause asks of the model's next candidate, and the guards breaching.
//! The views are pure; `run` reads the Incidents.

use kube::{Api, api::ListParams};
use serde::Serialize;

// On its own line: hack/check-layers.py would read `incident::` in a group as the module.
use crate::api::incident::ROOT_CAUSE_ANALYSIS;
use crate::{
    api::{HistoryOutcome, Incident, IncidentPhase, ModelDeployment},
    scope::{Failure, Scope},
    text::{age, dash, indent, table},
};

/// One row of `incidents`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IncidentRow {
    pub namespace: String,
    pub name: String,
    pub model_deployment: String,
    pub version: String,
    /// The guard whose breach opened it; absent when a person did.
    pub guard: Option<String>,
    pub opened_by: Option<String>,
    pub phase: String,
    /// The Responsible Team.
    pub owner: Option<String>,
    /// The Accountable Team (signs the root cause off).
    pub accountable: Option<String>,
    pub created_at: Option<String>,
    /// `45s`, `12m`, `5h`, `3d`: how long ago it was created.
    pub age: String,
}

/// What resolving an Incident takes: the Attestation, and the command that makes it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Resolving {
    /// The Accountable Team whose member signs the root cause off, once recorded.
    pub team: Option<String>,
    pub needs: String,
    pub command: String,
}

/// `incidents`: every Incident in the namespace (all with `-A`), open ones first.
pub async fn run(scope: &Scope) -> Result<String, Failure> {
    let incidents = scope.incidents().await?;
    let rows = view(&incidents, jiff::Timestamp::now());
    scope.print(&rows, || {
        if rows.is_empty() {
            let place = if scope.all_namespaces {
                "any namespace".to_string()
            } else {
                scope.namespace.clone()
            };
            format!("No Incidents in {place}.\n")
        } else {
            text(&rows, scope.all_namespaces)
        }
    })
}

/// Where an Incident is; one the operator has not recorded yet is `Open`.
pub fn phase(incident: &Incident) -> IncidentPhase {
    incident
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or_default()
}

/// Open ones first, then mitigated, then resolved; the newest first within each.
fn rank(phase: IncidentPhase) -> u8 {
    match phase {
        IncidentPhase::Open => 0,
        IncidentPhase::Mitigated => 1,
        IncidentPhase::Resolved => 2,
    }
}

/// The rows of `incidents` as of `now`, open ones first.
pub fn view(incidents: &[Incident], now: jiff::Timestamp) -> Vec<IncidentRow> {
    let mut sorted: Vec<&Incident> = incidents.iter().collect();
    sorted.sort_by(|a, b| {
        let created = |i: &Incident| i.metadata.creation_timestamp.as_ref().map(|t| t.0);
        rank(phase(a))
            .cmp(&rank(phase(b)))
            .then_with(|| created(b).cmp(&created(a)))
            .then_with(|| a.metadata.namespace.cmp(&b.metadata.namespace))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    sorted.into_iter().map(|i| row(i, now)).collect()
}

fn row(incident: &Incident, now: jiff::Timestamp) -> IncidentRow {
    let st = incident.status.clone().unwrap_or_default();
    let created = incident.metadata.creation_timestamp.as_ref().map(|t| t.0);
    IncidentRow {
        namespace: incident.metadata.namespace.clone().unwrap_or_default(),
        name: incident.metadata.name.clone().unwrap_or_default(),
        model_deployment: incident.spec.model_deployment.clone(),
        version: incident.spec.version.clone(),
        guard: incident.spec.guard.clone(),
        opened_by: incident.spec.opened_by.clone(),
        phase: format!("{:?}", phase(incident)),
        owner: st.owner.map(|a| a.team),
        accountable: st.accountable.map(|a| a.team),
        created_at: created.map(|t| t.to_string()),
        age: created.map_or_else(|| "-".into(), |t| age(t, now)),
    }
}

/// The GUARD column: the guard, or `by USER` when a person opened it.
pub fn opened_how(guard: &Option<String>, opened_by: &Option<String>) -> String {
    match (guard, opened_by) {
        (Some(guard), _) => guard.clone(),
        (None, Some(by)) => format!("by {by}"),
        (None, None) => "-".into(),
    }
}

/// `incidents` as text; `all_namespaces` adds a NAMESPACE column.
pub fn text(rows: &[IncidentRow], all_namespaces: bool) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                r.name.clone(),
                r.model_deployment.clone(),
                r.version.clone(),
                opened_how(&r.guard, &r.opened_by),
                r.phase.clone(),
                dash(&r.owner),
                dash(&r.accountable),
                r.age.clone(),
            ];
            if all_namespaces {
                cells.insert(0, r.namespace.clone());
            }
            cells
        })
        .collect();
    let mut header = vec![
        "NAME",
        "MODEL",
        "VERSION",
        "GUARD",
        "PHASE",
        "OWNER",
        "ACCOUNTABLE",
        "AGE",
    ];
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    table(&header, &cells)
}

/// What resolving `incident` needs, or `None` once it is resolved: an Attestation of its
/// root cause by a member of its Accountable Team, and the command that creates it.
pub fn resolving(incident: &Incident) -> Option<Resolving> {
    if !incident.is_open() {
        return None;
    }
    let name = incident.metadata.name.as_deref().unwrap_or_default();
    let namespace = incident.metadata.namespace.as_deref().unwrap_or("default");
    let team = incident
        .status
        .as_ref()
        .and_then(|s| s.accountable.as_ref())
        .map(|a| a.team.clone());
    let by = match &team {
        Some(team) => format!("by a member of team {team} (accountable)"),
        None => "by a member of its Accountable Team (not recorded yet: the operator has not seen the Incident)".into(),
    };
    Some(Resolving {
        needs: format!(
            "an Attestation with spec.incident: {name}, item {ROOT_CAUSE_ANALYSIS}, an evidence link, version {}, {by}",
            incident.spec.version
        ),
        command: format!(
            "kubectl accord attest {} -n {namespace} --item {ROOT_CAUSE_ANALYSIS} --incident {name} --evidence URL [--follow-up ITEM]...",
            incident.spec.model_deployment
        ),
        team,
    })
}

/// An Incident of a model not resolved yet, for `status` and `explain`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenIncident {
    pub name: String,
    pub phase: String,
    pub version: String,
    pub guard: Option<String>,
    pub opened_by: Option<String>,
    pub summary: String,
    /// `team (role)`, Responsible.
    pub owner: Option<String>,
    /// `team (role)`, Accountable.
    pub accountable: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolving: Option<Resolving>,
}

/// A follow-up a signed-off root cause asks of the model's next candidate.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FollowUp {
    pub item: String,
    /// The Incident whose root-cause analysis named it.
    pub incident: String,
    /// Whether the model's checklist carries the item.
    pub on_checklist: bool,
}

/// A guard of the serving version the operator recorded as breaching, or as having
/// opened an Incident.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GuardRow {
    pub name: String,
    pub breaching_since: Option<String>,
    pub value: Option<String>,
    pub message: Option<String>,
    pub incident: Option<String>,
}

/// `spec.monitoring` and what the operator last recorded of it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringView {
    /// How many guards `spec.monitoring` declares.
    pub guards: usize,
    /// The version the guards watch, once recorded.
    pub version: Option<String>,
    /// The guards recorded as breaching or as having opened an Incident.
    pub recorded: Vec<GuardRow>,
}

/// A model's Incidents, follow-ups and guards, for `status` and `explain`.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModelIncidents {
    /// Its Incidents not resolved yet: while there is one, no candidate is promoted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<OpenIncident>,
    /// Follow-ups of root causes signed off since the model's last promotion: the next
    /// candidate must carry them (the operator's `FollowUpMissing` says when it does not).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<FollowUp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringView>,
    /// Why the Incidents could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ModelIncidents {
    pub fn is_empty(&self) -> bool {
        *self == ModelIncidents::default()
    }
}

/// `md`'s open Incidents, follow-ups and guards, read from its namespace; when the
/// Incidents cannot be read, why (the guards are shown all the same).
pub async fn read_for(scope: &Scope, md: &ModelDeployment) -> ModelIncidents {
    let namespace = md.metadata.namespace.as_deref().unwrap_or(&scope.namespace);
    let api: Api<Incident> = Api::namespaced(scope.client.clone(), namespace);
    match api.list(&ListParams::default()).await {
        Ok(list) => of_model(md, &list.items),
        Err(e) => ModelIncidents {
            monitoring: monitoring(md),
            error: Some(scope.failure(e).0),
            ..ModelIncidents::default()
        },
    }
}

/// `md`'s open Incidents, follow-ups and guards, from `incidents` (any models').
pub fn of_model(md: &ModelDeployment, incidents: &[Incident]) -> ModelIncidents {
    let name = md.metadata.name.as_deref().unwrap_or_default();
    let mine: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.is_for(md.metadata.namespace.as_deref(), name))
        .collect();
    let mut open: Vec<&Incident> = mine.iter().copied().filter(|i| i.is_open()).collect();
    open.sort_by_key(|i| i.metadata.creation_timestamp.as_ref().map(|t| t.0));
    ModelIncidents {
        open: open.into_iter().map(open_incident).collect(),
        follow_ups: follow_ups(md, &mine),
        monitoring: monitoring(md),
        error: None,
    }
}

fn open_incident(incident: &Incident) -> OpenIncident {
    let st = incident.status.clone().unwrap_or_default();
    let answerer = |a: Option<crate::api::Answerer>| a.map(|a| format!("{} ({})", a.team, a.role));
    OpenIncident {
        name: incident.metadata.name.clone().unwrap_or_default(),
        phase: format!("{:?}", phase(incident)),
        version: incident.spec.version.clone(),
        guard: incident.spec.guard.clone(),
        opened_by: incident.spec.opened_by.clone(),
        summary: incident.spec.summary.clone(),
        owner: answerer(st.owner),
        accountable: answerer(st.accountable),
        acknowledged_by: st.acknowledged_by,
        resolving: resolving(incident),
    }
}

/// The follow-ups of root causes signed off after the model's last promotion.
fn follow_ups(md: &ModelDeployment, incidents: &[&Incident]) -> Vec<FollowUp> {
    let last_promotion = md.status.as_ref().and_then(|s| {
        s.history
            .iter()
            .filter(|e| e.outcome == HistoryOutcome::Promoted)
            .map(|e| e.at.0)
            .max()
    });
    let mut resolved: Vec<(&Incident, jiff::Timestamp)> = incidents
        .iter()
        .filter_map(|i| Some((*i, i.status.as_ref()?.resolved_at.as_ref()?.0)))
        .filter(|(_, at)| last_promotion.is_none_or(|p| *at > p))
        .collect();
    resolved.sort_by_key(|(_, at)| *at);
    resolved
        .into_iter()
        .flat_map(|(i, _)| {
            let name = i.metadata.name.clone().unwrap_or_default();
            let items = i.status.iter().flat_map(|s| &s.resolution);
            items
                .flat_map(|r| r.follow_ups.clone())
                .map(move |item| FollowUp {
                    on_checklist: md.item_team(&item).is_some(),
                    item,
                    incident: name.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The guards, when `spec.monitoring` declares some or the operator recorded any.
fn monitoring(md: &ModelDeployment) -> Option<MonitoringView> {
    let declared = md.spec.monitoring.as_ref().map_or(0, |m| m.guards.len());
    let recorded = md.status.as_ref().and_then(|s| s.monitoring.as_ref());
    if declared == 0 && recorded.is_none() {
        return None;
    }
    Some(MonitoringView {
        guards: declared,
        version: recorded.map(|r| r.version.clone()),
        recorded: recorded
            .iter()
            .flat_map(|r| &r.guards)
            .map(|g| GuardRow {
                name: g.name.clone(),
                breaching_since: g.breaching_since.as_ref().map(|t| t.0.to_string()),
                value: g.value.clone(),
                message: g.message.clone(),
                incident: g.incident.clone(),
            })
            .collect(),
    })
}

/// A model's Incidents, follow-ups and guards as text; empty when there is nothing.
pub fn model_text(view: &ModelIncidents) -> String {
    let mut out = String::new();
    if let Some(error) = &view.error {
        out.push_str(&format!("\nnote: cannot read Incidents: {error}\n"));
    }
    if !view.open.is_empty() {
        out.push_str("\nIncidents open (no candidate is promoted until each is resolved):\n");
        for incident in &view.open {
            out.push_str(&indent(&open_text(incident)));
        }
    }
    if !view.follow_ups.is_empty() {
        out.push_str("\nFollow-ups the next candidate must carry (root causes signed off since the last promotion):\n");
        for f in &view.follow_ups {
            let state = if f.on_checklist {
                "on the checklist"
            } else {
                "MISSING from the checklist"
            };
            out.push_str(&format!("  {} (from {}): {state}\n", f.item, f.incident));
        }
    }
    if let Some(monitoring) = &view.monitoring {
        out.push_str(&monitoring_text(monitoring));
    }
    out
}

/// One open Incident: what, who answers, what resolving it needs.
pub fn open_text(incident: &OpenIncident) -> String {
    let mut out = format!(
        "{} ({}) version {}, {}: {}\n  owner {}, accountable {}, acknowledged by {}\n",
        incident.name,
        incident.phase,
        incident.version,
        match &incident.guard {
            Some(guard) => format!("guard {guard}"),
            None => format!("opened {}", opened_how(&None, &incident.opened_by)),
        },
        incident.summary,
        dash(&incident.owner),
        dash(&incident.accountable),
        incident
            .acknowledged_by
            .clone()
            .unwrap_or_else(|| "nobody yet".into()),
    );
    if let Some(r) = &incident.resolving {
        out.push_str(&format!("  to resolve: {}\n    {}\n", r.needs, r.command));
    }
    out
}

fn monitoring_text(m: &MonitoringView) -> String {
    let watching = m
        .version
        .as_ref()
        .map_or(String::new(), |v| format!(", watching {v}"));
    let mut out = format!("\nGuards ({} declared{watching}):\n", m.guards);
    let breaching: Vec<&GuardRow> = m
        .recorded
        .iter()
        .filter(|g| g.breaching_since.is_some() || g.incident.is_some())
        .collect();
    if breaching.is_empty() {
        out.push_str("  none breaching\n");
        return out;
    }
    let rows: Vec<Vec<String>> = breaching
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                g.breaching_since
                    .clone()
                    .unwrap_or_else(|| "within bounds now".into()),
                dash(&g.value),
                dash(&g.message),
                dash(&g.incident),
            ]
        })
        .collect();
    out.push_str(&indent(&table(
        &["GUARD", "BREACHING SINCE", "VALUE", "MESSAGE", "INCIDENT"],
        &rows,
    )));
    out
}

#[cfg(test)]
mod tests {
    use accord_core::testing::time;

    use super::*;
    use crate::{
        api::{GuardStatus, MonitoringStatus, Resolution},
        fixtures::{history_entry, incident, monitoring, waiting},
    };

    /// `inc` resolved at testing second `at`, its root cause naming `follow_ups`.
    fn resolved(name: &str, at: i64, follow_ups: &[&str]) -> Incident {
        let mut inc = incident(name, at - 100, Some(IncidentPhase::Resolved));
        let st = inc.status.as_mut().unwrap();
        st.resolved_at = Some(time(at));
        st.resolution = Some(Resolution {
            attestation: format!("{name}-root-cause-analysis"),
            attested_by: "carol".into(),
            team: "payments-app".into(),
            evidence: Some("https://wiki/rca".into()),
            follow_ups: follow_ups.iter().map(|f| f.to_string()).collect(),
        });
        inc
    }

    #[test]
    fn incidents_lists_open_ones_first_with_who_opened_them() {
        let mut by_person = incident("by-hand", 50, None);
        by_person.spec.guard = None;
        by_person.spec.opened_by = Some("bob".into());
        let mut elsewhere = incident("risk-1", 10, Some(IncidentPhase::Mitigated));
        elsewhere.metadata.namespace = Some("risk".into());
        let all = [
            resolved("old", 5, &[]),
            incident("first", 0, Some(IncidentPhase::Open)),
            elsewhere,
            by_person,
        ];
        let rows = view(&all, time(3 * 3600).0);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["by-hand", "first", "risk-1", "old"]);
        assert_eq!(rows[0].phase, "Open", "not recorded yet counts as open");
        assert_eq!(rows[1].age, "3h");
        let text = text(&rows, true);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("NAMESPACE   NAME      MODEL          VERSION   GUARD"),
            "{text}"
        );
        assert!(
            lines[0].ends_with("OWNER         ACCOUNTABLE    AGE"),
            "{text}"
        );
        assert!(
            lines[1].contains("by bob") && lines[1].contains("Open"),
            "{text}"
        );
        assert!(
            lines[2].contains("error-rate")
                && lines[2].contains("ml-platform")
                && lines[2].contains("payments-app"),
            "{text}"
        );
        assert!(lines[3].starts_with("risk ") && lines[3].contains("Mitigated"));
        assert!(!super::text(&rows, false).contains("NAMESPACE"));
    }

    #[test]
    fn resolving_names_the_accountable_team_and_the_exact_command() {
        let open = incident("fraud-scorer-1800000000", 0, Some(IncidentPhase::Mitigated));
        let r = resolving(&open).unwrap();
        assert_eq!(r.team.as_deref(), Some("payments-app"));
        assert_eq!(
            r.needs,
            "an Attestation with spec.incident: fraud-scorer-1800000000, item root-cause-analysis, an evidence link, version 2.4.0, by a member of team payments-app (accountable)"
        );
        assert_eq!(
            r.command,
            "kubectl accord attest fraud-scorer -n payments --item root-cause-analysis --incident fraud-scorer-1800000000 --evidence URL [--follow-up ITEM]..."
        );
        let unseen = resolving(&incident("new", 0, None)).unwrap();
        assert!(unseen.team.is_none());
        assert!(
            unseen.needs.contains("not recorded yet"),
            "{}",
            unseen.needs
        );
        assert_eq!(resolving(&resolved("done", 10, &[])), None);
    }

    #[test]
    fn a_model_shows_its_open_incidents_follow_ups_and_breaching_guards() {
        let mut md = waiting();
        md.spec.monitoring = Some(monitoring());
        let st = md.status.as_mut().unwrap();
        st.history = vec![history_entry("2.3.1", 1000, Some(1000))];
        st.monitoring = Some(MonitoringStatus {
            fingerprint: "sha256:x".into(),
            version: "2.3.1".into(),
            guards: vec![GuardStatus {
                name: "error-rate".into(),
                breaching_since: Some(time(2000)),
                value: Some("0.071".into()),
                message: Some("0.071 is above the maximum 0.02".into()),
                incident: Some("open-1".into()),
            }],
        });
        let mut other_model = incident("other", 0, None);
        other_model.spec.model_deployment = "churn".into();
        let all = [
            incident("open-1", 2100, Some(IncidentPhase::Open)),
            other_model,
            resolved("before-promotion", 500, &["ignored"]),
            resolved("after-promotion", 1500, &["latency", "load-test"]),
        ];
        let view = of_model(&md, &all);
        assert_eq!(view.open.len(), 1);
        assert_eq!(
            view.open[0].accountable.as_deref(),
            Some("payments-app (application)")
        );
        let follow_ups: Vec<(&str, bool)> = view
            .follow_ups
            .iter()
            .map(|f| (f.item.as_str(), f.on_checklist))
            .collect();
        assert_eq!(follow_ups, [("latency", true), ("load-test", false)]);
        let text = model_text(&view);
        for line in [
            "\nIncidents open (no candidate is promoted until each is resolved):\n",
            "  open-1 (Open) version 2.4.0, guard error-rate: error-rate 0.071 > 0.02 for 5m\n",
            "    owner ml-platform (platform), accountable payments-app (application), acknowledged by nobody yet\n",
            "    to resolve: an Attestation with spec.incident: open-1, item root-cause-analysis",
            "      kubectl accord attest fraud-scorer -n payments --item root-cause-analysis --incident open-1 --evidence URL",
            "  load-test (from after-promotion): MISSING from the checklist\n",
            "  latency (from after-promotion): on the checklist\n",
            "\nGuards (1 declared, watching 2.3.1):\n",
            "0.071 is above the maximum 0.02",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }
        // Nothing to say: nothing shown.
        assert!(of_model(&waiting(), &[]).is_empty());
        assert_eq!(model_text(&of_model(&waiting(), &[])), "");
        md.status.as_mut().unwrap().monitoring = None;
        assert!(model_text(&of_model(&md, &[])).contains("  none breaching\n"));
    }
}
