//! What each page of the board shows, as plain data built from one [`Snapshot`] of the
//! watched objects: what the caller's Teams owe, the models and what makes each risky,
//! one model's checklist and timeline, the Teams. Pure (the clock is a parameter), so
//! every rule is unit-tested; `html` draws these, `/api/models` serializes them.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use accord_core::timing::parse_duration;
use jiff::Timestamp;
use serde::Serialize;

use crate::api::{
    Attestation, HandoffPolicy, Incident, IncidentPhase, ModelDeployment, Phase, Role, Team,
};

/// The objects the board watches, as the caller may read them.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub mds: Vec<Arc<ModelDeployment>>,
    pub attestations: Vec<Arc<Attestation>>,
    pub teams: Vec<Arc<Team>>,
    pub policies: Vec<Arc<HandoffPolicy>>,
    pub incidents: Vec<Arc<Incident>>,
}

/// The caller, as the API server authenticated them (SelfSubjectReview).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Me {
    pub user: String,
    pub groups: Vec<String>,
}

impl Me {
    /// The Teams the caller belongs to, by user name or group.
    pub fn teams(&self, snapshot: &Snapshot) -> BTreeSet<String> {
        snapshot
            .teams
            .iter()
            .filter(|t| t.spec.members.contains(&self.user, &self.groups))
            .filter_map(|t| t.metadata.name.clone())
            .collect()
    }
}

fn ns_name(md: &ModelDeployment) -> (String, String) {
    (
        md.metadata.namespace.clone().unwrap_or_default(),
        md.metadata.name.clone().unwrap_or_default(),
    )
}

/// When the candidate's sign-off becomes overdue: first seen + `escalateAfter`.
fn escalation_deadline(md: &ModelDeployment) -> Option<Timestamp> {
    let first_seen = md.status.as_ref()?.candidate.as_ref()?.first_seen.0;
    let after = parse_duration(md.spec.handoff.escalate_after.as_deref()?)?;
    first_seen
        .checked_add(jiff::SignedDuration::try_from(after).ok()?)
        .ok()
}

/// The candidate fingerprint of the spec: the one the status recorded when it describes
/// this generation (hashing a spec costs more than rendering its row), else computed.
pub fn candidate_fingerprint(md: &ModelDeployment) -> String {
    let st = md.status.as_ref();
    let current = st.and_then(|s| s.observed_generation).is_some()
        && st.and_then(|s| s.observed_generation) == md.metadata.generation;
    let recorded = st
        .and_then(|s| s.candidate.as_ref())
        .filter(|c| current && c.identity.version == md.spec.model.version)
        .and_then(|c| c.fingerprint.clone());
    recorded.unwrap_or_else(|| md.spec.fingerprint())
}

/// One open item a Team of the caller owes.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Owed {
    pub namespace: String,
    pub model: String,
    pub item: String,
    pub description: Option<String>,
    pub team: String,
    pub role: String,
    pub version: String,
    pub fingerprint: String,
    /// What still counts, e.g. `1 more person of data-platform`.
    pub still: String,
    /// Whether the caller already signed it (more people of the Team are needed).
    pub signed_by_me: bool,
    /// Whether the caller introduced this candidate, and so may not sign it off.
    pub authored_by_me: bool,
    /// Why a sign-off given for it did not count, when one exists.
    pub reason: Option<String>,
    /// Since when it has been owed: when Accord first saw the candidate.
    pub since: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    pub overdue: bool,
}

/// The open items the caller's Teams owe, oldest first.
pub fn owed(snapshot: &Snapshot, me: &Me, now: Timestamp) -> Vec<Owed> {
    let mine = me.teams(snapshot);
    let mut out = Vec::new();
    for md in &snapshot.mds {
        let Some(st) = md.status.as_ref() else {
            continue;
        };
        let (namespace, model) = ns_name(md);
        let since = st.candidate.as_ref().map(|c| c.first_seen.0);
        let deadline = escalation_deadline(md);
        let mut fingerprint = None;
        for item in st.checklist.iter().filter(|i| i.required && !i.attested) {
            if !mine.contains(&item.team) {
                continue;
            }
            let needed = item.min_approvals.unwrap_or(1) as usize;
            let more = needed.saturating_sub(item.approvals.len()).max(1);
            let fingerprint = fingerprint
                .get_or_insert_with(|| candidate_fingerprint(md))
                .clone();
            out.push(Owed {
                namespace: namespace.clone(),
                model: model.clone(),
                item: item.id.clone(),
                description: md
                    .spec
                    .handoff
                    .checklist
                    .iter()
                    .find(|c| c.id == item.id)
                    .and_then(|c| c.description.clone()),
                team: item.team.clone(),
                role: item.owner.clone(),
                version: md.spec.model.version.clone(),
                fingerprint,
                still: format!(
                    "{more} more {} of {}",
                    if more == 1 { "person" } else { "people" },
                    item.team
                ),
                signed_by_me: item.approvals.iter().any(|a| a.attested_by == me.user),
                authored_by_me: st
                    .candidate
                    .as_ref()
                    .and_then(|c| c.author.as_deref())
                    .is_some_and(|a| a == me.user),
                reason: item.reason.clone(),
                since,
                deadline,
                overdue: deadline.is_some_and(|d| d <= now),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.since, &a.namespace, &a.model, &a.item).cmp(&(b.since, &b.namespace, &b.model, &b.item))
    });
    out
}

/// A sign-off given by a Team of the caller.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Signed {
    pub namespace: String,
    pub model: String,
    pub item: String,
    pub version: String,
    pub by: String,
    pub team: String,
    pub at: Option<Timestamp>,
    pub evidence: Option<String>,
}

/// The newest `limit` sign-offs given for the caller's Teams.
pub fn signed_recently(snapshot: &Snapshot, me: &Me, limit: usize) -> Vec<Signed> {
    let mine = me.teams(snapshot);
    let mut out: Vec<Signed> = snapshot
        .attestations
        .iter()
        .filter(|a| a.spec.team.as_ref().is_some_and(|t| mine.contains(t)))
        .map(|a| Signed {
            namespace: a.metadata.namespace.clone().unwrap_or_default(),
            model: a.spec.model_deployment.clone(),
            item: a.spec.item.clone(),
            version: a.spec.version.clone(),
            by: a.attester().unwrap_or("?").to_string(),
            team: a.spec.team.clone().unwrap_or_default(),
            at: a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            evidence: a.spec.evidence.clone(),
        })
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.at));
    out.truncate(limit);
    out
}

/// One thing that makes a model risky.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Risk {
    /// `EscalationOverdue`, `CanaryRunning`, `CanaryFailed`, `IncidentOpen`,
    /// `DrillOverdue`, `Degraded`, `Invalid`, or a conformance kind (`NewPolicyItem`, `ExpiredSignOff`,
    /// `KeyRevoked`, `NotInTeam`, `NoMembers`, `RaciConflict`, `MissingSignOff`).
    pub kind: String,
    pub team: Option<String>,
    pub message: String,
}

/// One row of `/models` and `/api/models`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelRisk {
    pub namespace: String,
    pub name: String,
    pub phase: Option<String>,
    pub candidate: String,
    pub active: Option<String>,
    pub data: String,
    pub platform: String,
    pub application: String,
    pub pending_items: i32,
    pub risks: Vec<Risk>,
}

fn risk(kind: &str, team: Option<&str>, message: String) -> Risk {
    Risk {
        kind: kind.to_string(),
        team: team.map(str::to_string),
        message,
    }
}

/// The Teams by name and the unresolved Incidents by model, built once per page.
struct Index<'a> {
    teams: HashMap<&'a str, &'a Team>,
    incidents: HashMap<(&'a str, &'a str), Vec<&'a Incident>>,
}

impl<'a> Index<'a> {
    fn new(snapshot: &'a Snapshot) -> Index<'a> {
        let mut incidents: HashMap<(&str, &str), Vec<&Incident>> = HashMap::new();
        for inc in &snapshot.incidents {
            if crate::incidents::phase(inc) != IncidentPhase::Resolved {
                let key = (
                    inc.metadata.namespace.as_deref().unwrap_or_default(),
                    inc.spec.model_deployment.as_str(),
                );
                incidents.entry(key).or_default().push(inc);
            }
        }
        Index {
            teams: snapshot
                .teams
                .iter()
                .filter_map(|t| Some((t.metadata.name.as_deref()?, &**t)))
                .collect(),
            incidents,
        }
    }
}

/// What makes one model risky now.
fn risks_of(md: &ModelDeployment, index: &Index, now: Timestamp) -> Vec<Risk> {
    let mut out = Vec::new();
    let Some(st) = md.status.as_ref() else {
        return out;
    };
    if let Some(deadline) = escalation_deadline(md).filter(|d| *d <= now) {
        for item in st.checklist.iter().filter(|i| i.required && !i.attested) {
            out.push(risk(
                "EscalationOverdue",
                Some(&item.team),
                format!(
                    "{} owes {} for {} since {deadline} (escalation deadline)",
                    item.team, item.id, md.spec.model.version
                ),
            ));
        }
    }
    match st.phase {
        Some(Phase::Degraded) => out.push(risk(
            "Degraded",
            None,
            "the candidate failed and waits for a manual decision".into(),
        )),
        Some(Phase::Invalid) => out.push(risk(
            "Invalid",
            None,
            "the spec cannot be acted on; see its Ready condition".into(),
        )),
        _ => {}
    }
    if let Some(canary) = &st.canary {
        out.push(risk(
            "CanaryRunning",
            None,
            format!(
                "canary of {} running, {} failed measurements",
                canary.version, canary.failed_measurements
            ),
        ));
    } else if let Some(failed) = st
        .history
        .last()
        .and_then(|h| h.canary.as_ref())
        .filter(|c| c.outcome != "Promoted")
    {
        out.push(risk(
            "CanaryFailed",
            None,
            format!("canary of {} ended {}", failed.version, failed.outcome),
        ));
    }
    for v in &st.conformance {
        let kind = serde_json::to_value(v.kind)
            .ok()
            .and_then(|k| k.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", v.kind));
        out.push(risk(&kind, Some(&v.team), v.message.clone()));
    }
    out.extend(no_members(md, index, &out));
    out.extend(drill_overdue(md));
    out.extend(open_incidents(md, index));
    out
}

/// The model's Incidents not resolved, each with its Responsible Team.
fn open_incidents(md: &ModelDeployment, index: &Index) -> Vec<Risk> {
    let (namespace, name) = ns_name(md);
    index
        .incidents
        .get(&(namespace.as_str(), name.as_str()))
        .into_iter()
        .flatten()
        .map(|inc| {
            risk(
                "IncidentOpen",
                inc.status
                    .as_ref()
                    .and_then(|s| s.owner.as_ref())
                    .map(|o| o.team.as_str()),
                format!(
                    "{} ({:?}): {}",
                    inc.metadata.name.as_deref().unwrap_or_default(),
                    crate::incidents::phase(inc),
                    inc.spec.summary
                ),
            )
        })
        .collect()
}

/// The candidate waits for a rollback drill a HandoffPolicy requires (its Ready
/// condition says `DrillOverdue`): the platform Team's to run. The condition's message
/// names the policy, its `maxAge` and the last good run.
fn drill_overdue(md: &ModelDeployment) -> Option<Risk> {
    let ready = accord_core::status::condition(
        &md.status.as_ref()?.conditions,
        crate::api::conditions::READY,
    )?;
    (ready.status == "False" && ready.reason == crate::api::reasons::condition::DRILL_OVERDUE).then(
        || {
            risk(
                crate::api::reasons::condition::DRILL_OVERDUE,
                Some(&md.spec.owners.platform),
                ready.message.clone(),
            )
        },
    )
}

/// A role whose Team is missing or has nobody in it, unless conformance said so already.
fn no_members(md: &ModelDeployment, index: &Index, already: &[Risk]) -> Vec<Risk> {
    let mut out = Vec::new();
    for role in [Role::Data, Role::Platform, Role::Application] {
        let name = md.spec.owners.team_for(role);
        if already
            .iter()
            .any(|r| r.kind == "NoMembers" && r.team.as_deref() == Some(name))
        {
            continue;
        }
        let team = index.teams.get(name);
        let empty = team
            .is_none_or(|t| t.spec.members.users.is_empty() && t.spec.members.groups.is_empty());
        if empty {
            out.push(risk(
                "NoMembers",
                Some(name),
                format!(
                    "{} role: Team {name} {}",
                    role.as_str(),
                    if team.is_none() {
                        "does not exist"
                    } else {
                        "has no members"
                    }
                ),
            ));
        }
    }
    out
}

/// How `/models` is filtered and sorted (its query string).
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize, PartialEq)]
pub struct ModelsQuery {
    /// Only this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns: Option<String>,
    /// Only models where this Team holds a role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `risk` (most risks first, the default), `name` or `phase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
}

/// Every model the caller can see, with its risks, filtered and sorted.
pub fn models(snapshot: &Snapshot, query: &ModelsQuery, now: Timestamp) -> Vec<ModelRisk> {
    let keep = |md: &&Arc<ModelDeployment>| {
        let ns_ok = query
            .ns
            .as_deref()
            .is_none_or(|ns| ns.is_empty() || md.metadata.namespace.as_deref() == Some(ns));
        let o = &md.spec.owners;
        let team_ok = query.team.as_deref().is_none_or(|t| {
            t.is_empty()
                || [&o.data, &o.platform, &o.application]
                    .iter()
                    .any(|x| *x == t)
        });
        ns_ok && team_ok
    };
    let index = Index::new(snapshot);
    let mut rows: Vec<ModelRisk> = snapshot
        .mds
        .iter()
        .filter(keep)
        .map(|md| {
            let (namespace, name) = ns_name(md);
            let st = md.status.as_ref();
            ModelRisk {
                namespace,
                name,
                phase: st.and_then(|s| s.phase).map(|p| format!("{p:?}")),
                candidate: md.spec.model.version.clone(),
                active: st.and_then(|s| s.active_version.clone()),
                data: md.spec.owners.data.clone(),
                platform: md.spec.owners.platform.clone(),
                application: md.spec.owners.application.clone(),
                pending_items: st.map_or(0, |s| s.pending_items),
                risks: risks_of(md, &index, now),
            }
        })
        .collect();
    let by_name =
        |a: &ModelRisk, b: &ModelRisk| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name));
    match query.sort.as_deref() {
        Some("name") => rows.sort_by(by_name),
        Some("phase") => rows.sort_by(|a, b| a.phase.cmp(&b.phase).then_with(|| by_name(a, b))),
        _ => rows.sort_by(|a, b| {
            b.risks
                .len()
                .cmp(&a.risks.len())
                .then_with(|| by_name(a, b))
        }),
    }
    rows
}

#[cfg(test)]
#[path = "views_tests.rs"]
mod tests;
