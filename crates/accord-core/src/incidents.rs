//! Incidents (pure): opening one on a confirmed breach, what holds a model's next
//! candidate back (an open Incident; follow-ups its root cause asked for), and each
//! Incident's status — who answers (the matrix), notified, escalated, acknowledged,
//! rolled back, mitigated, resolved by a root-cause analysis the Accountable Team signed.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::{
    api::{
        Answerer, Attestation, GuardAction, HandoffPolicy, HistoryOutcome, Incident, IncidentPhase,
        IncidentSpec, IncidentStatus, ModelDeployment, NotifyEvent, Resolution, Role, Team,
        TimelineEntry, labels,
        reasons::{condition as reason, event},
    },
    events::{EventType, PlannedEvent},
    gate::{UpstreamBlock, is_member, recorded_groups},
    guards::{self, Breach},
    notify::Notice,
    policy::{self, Effective},
    rollout::RollBackFor,
    timing::elapsed,
    trust::Verifier,
};

/// How many timeline entries an Incident keeps (the oldest after the first go).
pub const MAX_TIMELINE: usize = 32;

/// The name of the Incident a breach of `guard` opens for the version with
/// `fingerprint`: stable, so a retried create finds the one already made; `-2`, `-3`…
/// when earlier ones of the same name exist.
pub fn name_for(md: &ModelDeployment, guard: &str, fingerprint: &str, taken: &[&str]) -> String {
    let md_name = md.metadata.name.as_deref().unwrap_or_default();
    let short = fingerprint.trim_start_matches("sha256:");
    let base = format!("{md_name}-{guard}-{}", &short[..short.len().min(8)]);
    let mut name = base.clone();
    let mut n = 1;
    while taken.contains(&name.as_str()) {
        n += 1;
        name = format!("{base}-{n}");
    }
    name
}

/// The Incident a confirmed breach opens, unless one is already open for the version.
pub fn open_for_breach(
    md: &ModelDeployment,
    breach: &Breach,
    incidents: &[&Incident],
) -> Result<Incident, String> {
    let entry = guards::watched(md).expect("a breach is of a watched version");
    let fingerprint = entry.fingerprint_in(&md.spec);
    let open = incidents
        .iter()
        .find(|i| i.is_open() && i.spec.version == entry.version);
    if let Some(open) = open {
        return Err(open.metadata.name.clone().unwrap_or_default());
    }
    let taken: Vec<&str> = incidents
        .iter()
        .filter_map(|i| i.metadata.name.as_deref())
        .collect();
    Ok(Incident {
        metadata: ObjectMeta {
            name: Some(name_for(md, &breach.guard.name, &fingerprint, &taken)),
            namespace: md.metadata.namespace.clone(),
            labels: Some(BTreeMap::from([(
                labels::MODEL.to_string(),
                md.metadata.name.clone().unwrap_or_default(),
            )])),
            ..Default::default()
        },
        spec: IncidentSpec {
            model_deployment: md.metadata.name.clone().unwrap_or_default(),
            version: entry.version.clone(),
            fingerprint: Some(fingerprint),
            guard: Some(breach.guard.name.clone()),
            summary: breach.summary.clone(),
            action: breach.guard.action,
            opened_by: None,
            opened_as: None,
        },
        status: None,
    })
}

/// The rollback an open Incident asks for on the version it is about, while that
/// version is the promoted one in place: once, since the rollback replaces it.
pub fn rollback_asked(md: &ModelDeployment, incidents: &[&Incident]) -> Option<RollBackFor> {
    let active = md.status.as_ref()?.history.last()?;
    if active.outcome != HistoryOutcome::Promoted {
        return None;
    }
    let fingerprint = active.fingerprint_in(&md.spec);
    incidents
        .iter()
        .filter(|i| i.is_open() && i.spec.action == GuardAction::RollBack)
        .find(|i| i.spec.fingerprint.as_deref() == Some(fingerprint.as_str()))
        .map(|i| RollBackFor {
            reason: if i.spec.guard.is_some() {
                crate::api::reasons::history::GUARD_BREACHED
            } else {
                crate::api::reasons::history::INCIDENT_OPENED
            },
            why: format!(
                "Incident {} ({})",
                i.metadata.name.as_deref().unwrap_or_default(),
                i.spec.summary
            ),
        })
}

/// What holds a new candidate back: an open Incident of the model, or follow-ups a
/// resolved one asked for that the effective checklist does not carry as required.
pub fn block(
    md: &ModelDeployment,
    incidents: &[&Incident],
    effective: &Effective,
) -> Option<UpstreamBlock> {
    if let Some(open) = incidents.iter().find(|i| i.is_open()) {
        let name = open.metadata.name.as_deref().unwrap_or_default();
        let signer = open
            .status
            .as_ref()
            .and_then(|s| s.accountable.as_ref())
            .map(|a| format!("team {}", a.team))
            .unwrap_or_else(|| "the Accountable Team".into());
        return Some(UpstreamBlock {
            reason: reason::INCIDENT_OPEN,
            message: format!(
                "Incident {name} is open ({}): no new candidate is promoted until {signer} signs off its root cause (kubectl accord incident show {name})",
                open.spec.summary
            ),
        });
    }
    let missing = follow_ups_missing(md, incidents, effective);
    (!missing.is_empty()).then(|| UpstreamBlock {
        reason: reason::FOLLOW_UP_MISSING,
        message: format!(
            "the root-cause analysis of {} asks the next candidate to carry {}: add them to spec.handoff.checklist as required items",
            missing.keys().cloned().collect::<Vec<_>>().join(", "),
            missing.values().flatten().cloned().collect::<Vec<_>>().join(", ")
        ),
    })
}

/// Incident name → follow-up items missing from the checklist, for Incidents resolved
/// since the last promotion.
pub fn follow_ups_missing(
    md: &ModelDeployment,
    incidents: &[&Incident],
    effective: &Effective,
) -> BTreeMap<String, Vec<String>> {
    let history = md
        .status
        .as_ref()
        .map(|s| s.history.as_slice())
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for incident in incidents {
        let Some(status) = &incident.status else {
            continue;
        };
        let (Some(resolved_at), Some(resolution)) = (&status.resolved_at, &status.resolution)
        else {
            continue;
        };
        let promoted_since = history
            .iter()
            .any(|e| e.outcome == HistoryOutcome::Promoted && e.at.0 > resolved_at.0);
        if promoted_since {
            continue;
        }
        let missing: Vec<String> = resolution
            .follow_ups
            .iter()
            .filter(|id| !effective.item(id).is_some_and(|r| r.required))
            .cloned()
            .collect();
        if !missing.is_empty() {
            out.insert(incident.metadata.name.clone().unwrap_or_default(), missing);
        }
    }
    out
}

/// What one Incident's next status needs to know.
pub struct Context<'a> {
    pub md: &'a ModelDeployment,
    /// The ModelDeployment's status as this decision leaves it.
    pub status: &'a crate::api::ModelDeploymentStatus,
    pub policies: &'a [&'a HandoffPolicy],
    pub team: &'a dyn Fn(&str) -> Option<Team>,
    /// Root-cause analyses naming this ModelDeployment.
    pub analyses: &'a [&'a Attestation],
    pub verifier: &'a dyn Verifier,
    pub now: &'a Time,
}

/// The next status of one Incident and what to say about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// `None` when the status does not change.
    pub status: Option<IncidentStatus>,
    pub events: Vec<PlannedEvent>,
    pub notices: Vec<Notice>,
    pub requeue_after: Option<Duration>,
    pub mitigated_after: Option<Duration>,
    pub resolved_after: Option<Duration>,
}

/// The next status of `incident`.
pub fn update(incident: &Incident, cx: &Context) -> Update {
    let old = incident.status.clone().unwrap_or_default();
    let mut next = Next {
        incident,
        cx,
        status: old.clone(),
        out: Update::default(),
    };
    if next.status.phase.is_none() {
        next.triage();
    }
    if next.status.phase != Some(IncidentPhase::Resolved) {
        next.acknowledge();
        next.escalate();
        next.mitigate();
        next.resolve();
    }
    let mut out = next.out;
    if next.status != old {
        out.status = Some(next.status);
    }
    out
}

struct Next<'a> {
    incident: &'a Incident,
    cx: &'a Context<'a>,
    status: IncidentStatus,
    out: Update,
}

impl Next<'_> {
    fn name(&self) -> &str {
        self.incident.metadata.name.as_deref().unwrap_or_default()
    }

    fn record(&mut self, what: &str, by: Option<String>, message: Option<String>) {
        self.status.timeline.push(TimelineEntry {
            at: self.cx.now.clone(),
            what: what.into(),
            by,
            message,
        });
        let excess = self.status.timeline.len().saturating_sub(MAX_TIMELINE);
        if excess > 0 {
            self.status.timeline.drain(1..=excess);
        }
    }

    fn event(&mut self, type_: EventType, reason: &'static str, note: String) {
        self.out.events.push(PlannedEvent {
            type_,
            reason,
            note,
            related: None,
        });
    }

    fn answerer(&self, role: Role) -> Answerer {
        Answerer {
            role,
            team: self.cx.md.spec.owners.team_for(role).to_string(),
        }
    }

    /// First sight: who answers, from the guard's owner (or who opened it) and the
    /// "incident response" row of the matching policies; the Responsible Team is told.
    fn triage(&mut self) {
        let spec = &self.incident.spec;
        let owner_role = spec
            .guard
            .as_ref()
            .and_then(|g| {
                guards::config(self.cx.md)?
                    .guards
                    .iter()
                    .find(|x| &x.name == g)
                    .map(|x| x.owner)
            })
            .or(spec.opened_as)
            .unwrap_or(Role::Platform);
        let accountable_role = policy::responsibilities(self.cx.policies.iter().copied())
            .into_iter()
            .find(|s| s.stage == crate::api::handoff_policy::Stage::IncidentResponse)
            .and_then(|s| s.accountable.first().copied())
            .unwrap_or(owner_role);
        let owner = self.answerer(owner_role);
        self.status.accountable = Some(self.answerer(accountable_role));
        self.status.phase = Some(IncidentPhase::Open);
        self.status.opened_at = Some(self.cx.now.clone());
        let by = spec.opened_by.clone().unwrap_or_else(|| "accord".into());
        self.record("Opened", Some(by.clone()), Some(spec.summary.clone()));
        let note = format!(
            "Incident {} opened by {by} on {} {}: {}; team {} ({}) is responsible",
            self.name(),
            spec.model_deployment,
            spec.version,
            spec.summary,
            owner.team,
            owner.role.as_str()
        );
        self.record("Notified", Some(owner.team.clone()), None);
        self.out.notices.push(Notice {
            team: owner.team.clone(),
            event: NotifyEvent::IncidentOpened,
            note: note.clone(),
        });
        self.event(EventType::Warning, event::INCIDENT_OPENED, note);
        self.status.owner = Some(owner);
    }

    fn acknowledge(&mut self) {
        if self.status.acknowledged_by.is_some() {
            return;
        }
        let Some(by) = self
            .incident
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::ACKNOWLEDGED_BY))
            .filter(|v| !v.is_empty())
            .cloned()
        else {
            return;
        };
        self.status.acknowledged_by = Some(by.clone());
        self.status.acknowledged_at = Some(self.cx.now.clone());
        self.record("Acknowledged", Some(by.clone()), None);
        let note = format!("Incident {} acknowledged by {by}", self.name());
        self.event(EventType::Normal, event::INCIDENT_ACKNOWLEDGED, note);
    }

    /// Nobody acknowledged it within `escalateAfter`: the Accountable Team is told.
    fn escalate(&mut self) {
        if self.status.acknowledged_by.is_some() || self.status.escalated_at.is_some() {
            return;
        }
        let Some(opened) = self.status.opened_at.clone() else {
            return;
        };
        let after = guards::escalate_after(self.cx.md);
        let waited = elapsed(&opened, self.cx.now);
        if waited < after {
            self.out.requeue_after = Some(after - waited);
            return;
        }
        let accountable = self.status.accountable.clone().expect("triaged");
        self.status.escalated_at = Some(self.cx.now.clone());
        self.record("Escalated", Some(accountable.team.clone()), None);
        let note = format!(
            "Incident {} on {} {} is not acknowledged after {}s; team {} ({}) is accountable: {}",
            self.name(),
            self.incident.spec.model_deployment,
            self.incident.spec.version,
            after.as_secs(),
            accountable.team,
            accountable.role.as_str(),
            self.incident.spec.summary
        );
        self.out.notices.push(Notice {
            team: accountable.team,
            event: NotifyEvent::IncidentEscalated,
            note: note.clone(),
        });
        self.event(EventType::Warning, event::INCIDENT_ESCALATED, note);
    }

    /// The version was rolled back: once the version restored is available, the
    /// Incident is mitigated.
    fn mitigate(&mut self) {
        if self.status.phase != Some(IncidentPhase::Open) {
            return;
        }
        let spec = &self.incident.spec;
        let history = &self.cx.status.history;
        let restored = history.windows(2).rev().find_map(|pair| {
            let (failed, restored) = (&pair[0], &pair[1]);
            let about = failed.version == spec.version
                && spec
                    .fingerprint
                    .as_ref()
                    .is_none_or(|f| *f == failed.fingerprint_in(&self.cx.md.spec));
            (about && restored.outcome == HistoryOutcome::RolledBack).then_some(restored)
        });
        let Some(restored) = restored.cloned() else {
            return;
        };
        if !self.status.timeline.iter().any(|t| t.what == "RolledBack") {
            let message = format!("rolled back to {} ({})", restored.version, restored.reason);
            self.record("RolledBack", Some("accord".into()), Some(message));
        }
        if restored.available_at.is_none() {
            return;
        }
        self.status.phase = Some(IncidentPhase::Mitigated);
        self.status.mitigated_at = Some(self.cx.now.clone());
        let message = format!("{} is available again", restored.version);
        self.record("Mitigated", Some("accord".into()), Some(message.clone()));
        self.out.mitigated_after = self
            .status
            .opened_at
            .as_ref()
            .map(|o| elapsed(o, self.cx.now));
        let note = format!("Incident {} is mitigated: {message}", self.name());
        self.event(EventType::Normal, event::INCIDENT_MITIGATED, note);
    }

    /// Whether `rca` is authentic (admitted by the webhook: its seal; signed: its
    /// signature with `team`'s keys) and its attester is a current member of `team`.
    fn counts(&self, rca: &Attestation, team: &Team) -> bool {
        // Separation of duties: whoever opened it does not sign its root cause off.
        if rca.is_withdrawn() || rca.attester() == self.incident.spec.opened_by.as_deref() {
            return false;
        }
        if rca.is_signed() {
            let namespace = rca.metadata.namespace.as_deref().unwrap_or_default();
            return crate::signing::verify(namespace, &rca.spec, team, self.cx.now.0).is_ok();
        }
        self.cx.verifier.reject(rca).is_none()
            && rca
                .attester()
                .is_some_and(|user| is_member(team, user, &recorded_groups(rca)))
    }

    /// A root-cause analysis by a current member of the Accountable Team resolves it.
    fn resolve(&mut self) {
        let Some(accountable) = self.status.accountable.clone() else {
            return;
        };
        let team = (self.cx.team)(&accountable.team);
        let name = self.name().to_string();
        let signed = self.cx.analyses.iter().find(|a| {
            a.spec.incident.as_deref() == Some(name.as_str())
                && a.spec.version == self.incident.spec.version
                && a.spec.evidence.is_some()
                && team.as_ref().is_some_and(|t| self.counts(a, t))
        });
        let Some(rca) = signed else { return };
        let by = rca.attester().unwrap_or_default().to_string();
        self.status.phase = Some(IncidentPhase::Resolved);
        self.status.resolved_at = Some(self.cx.now.clone());
        self.status.resolution = Some(Resolution {
            attestation: rca.metadata.name.clone().unwrap_or_default(),
            attested_by: by.clone(),
            team: accountable.team.clone(),
            evidence: rca.spec.evidence.clone(),
            follow_ups: rca.spec.follow_ups.clone(),
        });
        let follow = if rca.spec.follow_ups.is_empty() {
            String::new()
        } else {
            format!(
                "; the next candidate must carry {}",
                rca.spec.follow_ups.join(", ")
            )
        };
        self.record(
            "RootCauseSignedOff",
            Some(by.clone()),
            rca.spec.evidence.clone(),
        );
        self.out.resolved_after = self
            .status
            .opened_at
            .as_ref()
            .map(|o| elapsed(o, self.cx.now));
        let note = format!(
            "Incident {name} is resolved: root cause signed off by {by} ({}){follow}",
            accountable.team
        );
        self.event(EventType::Normal, event::INCIDENT_RESOLVED, note);
    }
}

#[cfg(test)]
mod tests;
