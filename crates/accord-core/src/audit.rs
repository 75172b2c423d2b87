//! PromotionRecords (pure): which history entries get a record and its name, the in-toto
//! Statement that accounts for one, and its DSSE envelope. The operator writes them
//! after the status that names them; [`verify`] checks them offline. See docs/audit.md.
//!
//! A record is built from what the decision left in status (the history entry, the
//! checklist that let it through, the policies) and the Attestations it names, so the
//! record of a promotion says exactly what the gate counted.

pub mod keys;
pub mod verify;

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::ResourceExt;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::api::{
    Answerer, ApprovalKind, Approver, Attestation, ChecklistItemStatus, DrillRecordMark, DrillRun,
    DrillTarget, Envelope, HistoryEntry, HistoryOutcome, Incident, IncidentPhase, IncidentStatus,
    ModelDeployment, ModelDeploymentStatus, PAYLOAD_TYPE, PREDICATE_TYPE, Predicate,
    PreviousRecord, PromotionRecord, PromotionRecordSpec, RecordAction, RecordedDrill,
    RecordedItem, RecordedModel, Resolution, RollbackDrill, RunResult, STATEMENT_TYPE, Statement,
    Subject, incident::ROOT_CAUSE_ANALYSIS, labels, reasons,
};

/// The label every PromotionRecord carries: its ModelDeployment's name.
pub const MODEL_LABEL: &str = "accord.dev/model-deployment";
/// The label carrying its ModelDeployment's uid.
pub const MODEL_UID_LABEL: &str = labels::MODEL_DEPLOYMENT_UID;

/// One record a decision asks for: its name and place in the chain, and the history
/// entry it accounts for (for a resolved Incident: the entry of the version it was
/// about, at the resolution).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPlan {
    pub name: String,
    pub sequence: i64,
    pub entry: HistoryEntry,
    /// The version that served before the entry, when one did.
    pub previous_version: Option<String>,
    /// Set for the record of an Incident whose root cause was signed off.
    pub incident: Option<ResolvedIncident>,
    /// Set for the record of a rollback drill's finished run.
    pub drill: Option<RecordedDrill>,
}

/// An Incident resolved by this decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedIncident {
    pub name: String,
    /// The Accountable role and Team, who signed the root cause off.
    pub accountable: Option<Answerer>,
    pub resolution: Resolution,
}

/// An entry for a version the bounded history no longer holds: only its version.
fn unknown_entry(version: &str, at: &Option<Time>) -> HistoryEntry {
    HistoryEntry {
        fingerprint: None,
        artifact_fingerprint: None,
        version: version.to_string(),
        image: String::new(),
        digest: None,
        artifact: None,
        training_data_digest: None,
        outcome: HistoryOutcome::Promoted,
        at: at.clone().unwrap_or(Time(jiff::Timestamp::UNIX_EPOCH)),
        reason: String::new(),
        approvals: vec![],
        canary: None,
        auto_approval: None,
        serving: None,
        available_at: None,
        available_since: None,
        upstream: None,
        record: None,
        seal: None,
    }
}

/// Names the record of `incident`, resolved by this decision (`next` is its new
/// status), continuing `status.recordSequence`; `None` unless it was just resolved.
pub fn plan_incident(
    md: &ModelDeployment,
    status: &mut ModelDeploymentStatus,
    incident: &Incident,
    next: &IncidentStatus,
) -> Option<RecordPlan> {
    let was_resolved = incident
        .status
        .as_ref()
        .is_some_and(|s| s.phase == Some(IncidentPhase::Resolved));
    if was_resolved || next.phase != Some(IncidentPhase::Resolved) {
        return None;
    }
    let resolution = next.resolution.clone()?;
    let at = next.resolved_at.clone()?;
    let version = &incident.spec.version;
    let served = status
        .history
        .iter()
        .rev()
        .find(|e| &e.version == version)
        .cloned();
    let entry = HistoryEntry {
        at,
        reason: reasons::event::INCIDENT_RESOLVED.to_string(),
        record: None,
        seal: None,
        fingerprint: incident
            .spec
            .fingerprint
            .clone()
            .or_else(|| served.as_ref().and_then(|e| e.fingerprint.clone())),
        ..served.unwrap_or_else(|| unknown_entry(version, &next.resolved_at))
    };
    let sequence = status.record_sequence.unwrap_or(0) + 1;
    status.record_sequence = Some(sequence);
    Some(RecordPlan {
        name: record_name(md, sequence),
        sequence,
        entry,
        previous_version: None,
        incident: Some(ResolvedIncident {
            name: incident.metadata.name.clone().unwrap_or_default(),
            accountable: next.accountable.clone(),
            resolution,
        }),
        drill: None,
    })
}

/// The name of `md`'s record `sequence`: `<name>-<uid prefix>-<sequence>`, so a deleted
/// and re-created namesake starts another chain without colliding.
pub fn record_name(md: &ModelDeployment, sequence: i64) -> String {
    let name = md.metadata.name.as_deref().unwrap_or_default();
    let name = name.get(..200).unwrap_or(name).trim_end_matches(['-', '.']);
    let uid = md.metadata.uid.as_deref().unwrap_or_default();
    let uid = uid.get(..8).unwrap_or(uid);
    format!("{name}-{uid}-{sequence}")
}

/// Names a record for every entry of `status.history` that is not in `before` (the
/// history the decision started from), in order, continuing `status.recordSequence`.
pub fn plan(
    md: &ModelDeployment,
    before: &[HistoryEntry],
    status: &mut ModelDeploymentStatus,
) -> Vec<RecordPlan> {
    let mut plans = Vec::new();
    let mut sequence = status.record_sequence.unwrap_or(0);
    let is_new = |entry: &HistoryEntry| {
        !before
            .iter()
            .any(|b| b.at == entry.at && b.outcome == entry.outcome && b.version == entry.version)
    };
    for i in 0..status.history.len() {
        // A new entry copied from an older one (a rollback restores an entry) carries
        // that one's record name: it gets its own.
        if !is_new(&status.history[i]) {
            continue;
        }
        sequence += 1;
        let name = record_name(md, sequence);
        status.history[i].record = Some(name.clone());
        let previous_version = previous_version(&status.history[..i], &status.history[i]);
        plans.push(RecordPlan {
            name,
            sequence,
            entry: status.history[i].clone(),
            previous_version,
            incident: None,
            drill: None,
        });
    }
    if !plans.is_empty() {
        status.record_sequence = Some(sequence);
    }
    plans
}

/// Names a record for every finished run of `md`'s rollback drills that has none yet
/// (newer than the drill's mark in `status.drillRecords`), oldest first, continuing
/// `status.recordSequence`; moves the marks. A drill's runs finish one after another,
/// so its newest recorded run id is enough to know which are new. Marks of drills that
/// are gone are dropped: their runs can no longer be read, and a namesake has another
/// uid.
pub fn plan_drills(
    md: &ModelDeployment,
    status: &mut ModelDeploymentStatus,
    drills: &[&RollbackDrill],
) -> Vec<RecordPlan> {
    let mut plans = vec![];
    let mut sequence = status.record_sequence.unwrap_or(0);
    for (drill, run) in unrecorded_runs(status, drills) {
        sequence += 1;
        plans.push(drill_plan(md, status, drill, run, sequence));
        let uid = drill.uid().unwrap_or_default();
        match status.drill_records.iter_mut().find(|m| m.uid == uid) {
            Some(mark) => mark.run.clone_from(&run.id),
            None => status.drill_records.push(DrillRecordMark {
                drill: drill.name_any(),
                uid,
                run: run.id.clone(),
            }),
        }
    }
    status
        .drill_records
        .retain(|m| drills.iter().any(|d| d.uid().as_deref() == Some(&m.uid)));
    if !plans.is_empty() {
        status.record_sequence = Some(sequence);
    }
    plans
}

/// The finished runs past each drill's mark, oldest first.
fn unrecorded_runs<'a>(
    status: &ModelDeploymentStatus,
    drills: &[&'a RollbackDrill],
) -> Vec<(&'a RollbackDrill, &'a DrillRun)> {
    let mut new = vec![];
    for drill in drills {
        let uid = drill.uid().unwrap_or_default();
        let mark = status
            .drill_records
            .iter()
            .find(|m| m.uid == uid)
            .map(|m| m.run.as_str());
        let runs = drill.status.iter().flat_map(|s| &s.runs);
        new.extend(
            runs.filter(|r| r.result != RunResult::Running && r.finished_at.is_some())
                .filter(|r| mark.is_none_or(|mark| r.id.as_str() > mark))
                .map(|r| (*drill, r)),
        );
    }
    let key = |(drill, run): &(&RollbackDrill, &DrillRun)| {
        (
            run.finished_at.as_ref().map(|t| t.0),
            drill.name_any(),
            run.id.clone(),
        )
    };
    new.sort_by_key(key);
    new
}

/// The record of `drill`'s finished `run`: the history entry of the version it
/// rehearsed, at the run's end.
fn drill_plan(
    md: &ModelDeployment,
    status: &ModelDeploymentStatus,
    drill: &RollbackDrill,
    run: &DrillRun,
    sequence: i64,
) -> RecordPlan {
    // A run that resolved no target (it failed at TargetResolved) names the version
    // the drill asked for, or says it was not resolved.
    let version = match (&run.target, &drill.spec.target) {
        (Some(target), _) => target.version.clone(),
        (None, DrillTarget::Version(v)) => v.version.clone(),
        (None, _) => "unresolved".to_string(),
    };
    let served = run.target.as_ref().and_then(|_| {
        status
            .history
            .iter()
            .rev()
            .find(|e| e.version == version)
            .cloned()
    });
    let reason = if run.result == RunResult::Passed {
        reasons::event::DRILL_PASSED
    } else {
        reasons::event::DRILL_FAILED
    };
    let at = run.finished_at.clone();
    let entry = HistoryEntry {
        at: at.clone().unwrap_or(Time(jiff::Timestamp::UNIX_EPOCH)),
        reason: reason.to_string(),
        record: None,
        seal: None,
        ..served.unwrap_or_else(|| unknown_entry(&version, &at))
    };
    RecordPlan {
        name: record_name(md, sequence),
        sequence,
        entry,
        previous_version: None,
        incident: None,
        drill: Some(RecordedDrill {
            name: drill.name_any(),
            uid: drill.uid().unwrap_or_default(),
            run: run.clone(),
        }),
    }
}

/// What served before `entry`: the newest earlier entry of another version (a kept
/// rollback entry names the version it kept, so it is its own previous version).
fn previous_version(earlier: &[HistoryEntry], entry: &HistoryEntry) -> Option<String> {
    earlier
        .last()
        .map(|e| e.version.clone())
        .filter(|v| v != &entry.version || entry.outcome == HistoryOutcome::RolledBack)
}

/// What a record's Statement is built from besides the plan.
pub struct Context<'a> {
    /// The cluster's configured name.
    pub cluster: &'a str,
    /// The ModelDeployment with the status the decision wrote.
    pub md: &'a ModelDeployment,
    /// Attestations of its namespace, to name each approver's uid, time and evidence.
    pub attestations: &'a [std::sync::Arc<Attestation>],
    /// The record before this one in the chain.
    pub previous: Option<PreviousRecord>,
}

/// The in-toto Statement accounting for `plan`.
pub fn statement(plan: &RecordPlan, ctx: &Context<'_>) -> Statement {
    if let Some(incident) = &plan.incident {
        return incident_statement(plan, incident, ctx);
    }
    if let Some(drill) = &plan.drill {
        let mut statement = base_statement(plan, ctx, RecordAction::DrillRun);
        statement.predicate.drill = Some(drill.clone());
        return statement;
    }
    let entry = &plan.entry;
    let action = match entry.outcome {
        HistoryOutcome::RolledBack => RecordAction::RolledBack,
        HistoryOutcome::Promoted if entry.auto_approval.is_some() => RecordAction::AutoApproved,
        HistoryOutcome::Promoted => RecordAction::Promoted,
    };
    let mut statement = base_statement(plan, ctx, action);
    let p = &mut statement.predicate;
    p.canary = entry.canary.clone();
    p.upstream = entry.upstream.clone();
    p.previous_version = plan.previous_version.clone();
    // A rollback needs no sign-off: items, policies and who introduced it are a
    // promotion's.
    if let (HistoryOutcome::Promoted, Some(status)) = (&entry.outcome, &ctx.md.status) {
        p.items = items(&status.checklist, ctx);
        p.policies = status.policies.clone();
        p.introduced_by = entry
            .auto_approval
            .as_ref()
            .and_then(|a| a.introduced_by.clone())
            .or_else(|| status.candidate.as_ref().and_then(|c| c.author.clone()));
    }
    statement
}

/// A Statement about `plan`'s entry with `action`: its subjects and the predicate's
/// fields every record has; the rest is left empty for the caller to fill.
fn base_statement(plan: &RecordPlan, ctx: &Context<'_>, action: RecordAction) -> Statement {
    let (md, entry) = (ctx.md, &plan.entry);
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject: subjects(md, entry),
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            cluster: ctx.cluster.into(),
            model: recorded_model(md),
            sequence: plan.sequence,
            previous: ctx.previous.clone(),
            action,
            reason: entry.reason.clone(),
            at: entry.at.clone(),
            version: entry.version.clone(),
            fingerprint: entry.fingerprint.clone(),
            artifact_fingerprint: entry.artifact_fingerprint.clone(),
            image: entry.image.clone(),
            introduced_by: None,
            policies: vec![],
            items: vec![],
            canary: None,
            upstream: None,
            previous_version: None,
            incident: None,
            follow_ups: vec![],
            drill: None,
        },
    }
}

/// The Statement of an Incident's resolution: the version it was about, and the one
/// sign-off that resolved it (the root-cause analysis by the Accountable Team).
fn incident_statement(
    plan: &RecordPlan,
    incident: &ResolvedIncident,
    ctx: &Context<'_>,
) -> Statement {
    let resolution = &incident.resolution;
    let found = ctx
        .attestations
        .iter()
        .find(|a| a.metadata.name.as_deref() == Some(resolution.attestation.as_str()));
    let signer = found.and_then(|a| a.status.as_ref()?.verified_by.clone());
    let approver = Approver {
        user: Some(resolution.attested_by.clone()),
        team: resolution.team.clone(),
        how: if signer.is_some() {
            ApprovalKind::Signed
        } else {
            ApprovalKind::InCluster
        },
        attestation: Some(resolution.attestation.clone()),
        uid: found.and_then(|a| a.metadata.uid.clone()),
        given_at: found.and_then(|a| a.metadata.creation_timestamp.clone()),
        key_fingerprint: signer.map(|s| s.key_fingerprint),
        carried_from: None,
        rule: None,
        evidence: resolution.evidence.clone(),
        comment: found.and_then(|a| a.spec.comment.clone()),
    };
    let accountable = incident.accountable.clone();
    let mut statement = base_statement(plan, ctx, RecordAction::IncidentResolved);
    let p = &mut statement.predicate;
    p.policies = ctx
        .md
        .status
        .as_ref()
        .map(|s| s.policies.clone())
        .unwrap_or_default();
    p.items = vec![RecordedItem {
        id: ROOT_CAUSE_ANALYSIS.into(),
        owner: accountable
            .as_ref()
            .map_or_else(String::new, |a| a.role.as_str().to_string()),
        team: accountable.map_or_else(|| resolution.team.clone(), |a| a.team),
        required: true,
        required_by: vec![],
        approvers: vec![approver],
    }];
    p.incident = Some(incident.name.clone());
    p.follow_ups = resolution.follow_ups.clone();
    statement
}

fn recorded_model(md: &ModelDeployment) -> RecordedModel {
    RecordedModel {
        namespace: md.metadata.namespace.clone().unwrap_or_default(),
        name: md.metadata.name.clone().unwrap_or_default(),
        uid: md.metadata.uid.clone().unwrap_or_default(),
    }
}

/// The model artifact (when its digest is known), every image pinned by digest, and
/// always the candidate itself: `<namespace>/<name>` with its fingerprint, the sha256
/// of the canonical document of what ran (in-toto requires at least one subject).
fn subjects(md: &ModelDeployment, entry: &HistoryEntry) -> Vec<Subject> {
    let mut subjects = Vec::new();
    if let Some(hex) = entry
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
    {
        subjects.push(Subject {
            name: md.spec.model.name.clone(),
            digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]),
        });
    }
    for image in pinned_images(entry) {
        if let Some((repository, hex)) = pinned(&image)
            && !subjects
                .iter()
                .any(|s| s.name == repository && s.digest["sha256"] == hex)
        {
            subjects.push(Subject {
                name: repository,
                digest: BTreeMap::from([("sha256".to_string(), hex)]),
            });
        }
    }
    let fingerprint = entry.fingerprint_in(&md.spec);
    if let Some(hex) = fingerprint.strip_prefix("sha256:") {
        subjects.push(Subject {
            name: format!(
                "{}/{}",
                md.metadata.namespace.as_deref().unwrap_or_default(),
                md.metadata.name.as_deref().unwrap_or_default()
            ),
            digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]),
        });
    }
    subjects
}

/// Every image `entry` ran that is pinned by digest, as written (`repo[:tag]@sha256:…`):
/// what a record can be attached to in a registry.
pub fn pinned_images(entry: &HistoryEntry) -> Vec<String> {
    let mut images = vec![entry.image.clone()];
    if let Some(serving) = &entry.serving {
        collect_images(
            &serde_json::to_value(serving).unwrap_or_default(),
            &mut images,
        );
    }
    let mut pinned_only: Vec<String> = images.into_iter().filter(|i| pinned(i).is_some()).collect();
    pinned_only.dedup();
    pinned_only
}

fn collect_images(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("image", Value::String(image)) => out.push(image.clone()),
                    _ => collect_images(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_images(v, out)),
        _ => {}
    }
}

/// `repo[:tag]@sha256:hex` as (`repo`, `hex`).
pub fn pinned(image: &str) -> Option<(String, String)> {
    let (name, hex) = image.split_once("@sha256:")?;
    let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let repository = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    valid.then(|| (repository.to_string(), hex.to_ascii_lowercase()))
}

fn items(checklist: &[ChecklistItemStatus], ctx: &Context<'_>) -> Vec<RecordedItem> {
    checklist
        .iter()
        .filter(|item| item.required || item.attested)
        .map(|item| RecordedItem {
            id: item.id.clone(),
            owner: item.owner.clone(),
            team: item.team.clone(),
            required: item.required,
            required_by: item.required_by.clone(),
            approvers: approvers(item, ctx),
        })
        .collect()
}

fn approvers(item: &ChecklistItemStatus, ctx: &Context<'_>) -> Vec<Approver> {
    if let Some(rule) = &item.auto_approved_by {
        return vec![Approver {
            user: None,
            team: item.team.clone(),
            how: ApprovalKind::AutoApproved,
            attestation: None,
            uid: None,
            given_at: None,
            key_fingerprint: None,
            carried_from: None,
            rule: Some(rule.clone()),
            evidence: None,
            comment: None,
        }];
    }
    let mut people: Vec<(String, String, Option<crate::api::CarriedFrom>)> = item
        .approvals
        .iter()
        .map(|a| {
            (
                a.attested_by.clone(),
                a.attestation.clone(),
                a.carried_from.clone(),
            )
        })
        .collect();
    if people.is_empty()
        && let (Some(user), Some(name)) = (&item.attested_by, &item.attestation)
    {
        people.push((user.clone(), name.clone(), item.carried_from.clone()));
    }
    people
        .into_iter()
        .map(|(user, name, carried_from)| {
            let found = ctx
                .attestations
                .iter()
                .find(|a| carried_from.is_none() && a.metadata.name.as_deref() == Some(&name));
            let signer = found.and_then(|a| a.status.as_ref()?.verified_by.clone());
            let how = match (&carried_from, &signer) {
                (Some(_), _) => ApprovalKind::Carried,
                (None, Some(_)) => ApprovalKind::Signed,
                (None, None) => ApprovalKind::InCluster,
            };
            Approver {
                user: Some(user),
                team: item.team.clone(),
                how,
                attestation: Some(name),
                uid: carried_from
                    .as_ref()
                    .and_then(|c| c.uid.clone())
                    .or_else(|| found.and_then(|a| a.metadata.uid.clone())),
                given_at: found.and_then(|a| a.metadata.creation_timestamp.clone()),
                key_fingerprint: signer.map(|s| s.key_fingerprint),
                carried_from,
                rule: None,
                evidence: found.and_then(|a| a.spec.evidence.clone()),
                comment: found.and_then(|a| a.spec.comment.clone()),
            }
        })
        .collect()
}

/// DSSE's pre-authentication encoding of a payload.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// `sha256:` of a payload's bytes: a record's digest.
pub fn payload_digest(payload: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(payload)))
}

/// `statement` signed with the active record key, and its digest.
pub fn envelope(statement: &Statement, keys: &keys::RecordKeys) -> (Envelope, String) {
    let payload = serde_json::to_vec(statement).expect("statements serialize");
    let signature = keys.sign(&pae(PAYLOAD_TYPE, &payload));
    let envelope = Envelope {
        payload_type: PAYLOAD_TYPE.into(),
        payload: base64::engine::general_purpose::STANDARD.encode(&payload),
        signatures: vec![signature],
    };
    (envelope, payload_digest(&payload))
}

/// The PromotionRecord object for a signed Statement.
pub fn record(
    plan: &RecordPlan,
    statement: &Statement,
    envelope: Envelope,
    digest: String,
) -> PromotionRecord {
    let model = &statement.predicate.model;
    let labels = BTreeMap::from([
        (MODEL_LABEL.to_string(), model.name.clone()),
        (MODEL_UID_LABEL.to_string(), model.uid.clone()),
        (
            labels::MANAGED_BY.to_string(),
            labels::MANAGED_BY_VALUE.to_string(),
        ),
    ]);
    PromotionRecord {
        metadata: ObjectMeta {
            name: Some(plan.name.clone()),
            namespace: Some(model.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: PromotionRecordSpec {
            model_deployment: model.name.clone(),
            model_uid: model.uid.clone(),
            sequence: plan.sequence,
            action: statement.predicate.action,
            version: statement.predicate.version.clone(),
            at: statement.predicate.at.clone(),
            digest,
            envelope,
        },
    }
}

/// The time a record was written, for retention.
pub fn recorded_at(record: &PromotionRecord) -> &Time {
    &record.spec.at
}

#[cfg(test)]
mod tests;
