//! Conformance (pure): would the version that serves be promoted today? The gate is
//! asked about the serving version as if it were the candidate, under today's policies,
//! Teams and keys; every required item it would not pass is a violation, with its kind.
//! Reporting only: nothing here changes what runs (docs/audit.md).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::{
    candidate::Candidate,
    gate::{self, GateOutcome},
    observe::Observed,
    policy,
    trust::{Author, Verifier},
    upstream,
};
use crate::api::{
    ConformanceViolation, HistoryEntry, HistoryOutcome, ModelDeployment, Role, ViolationKind,
    reasons::counted,
};

/// At most this many violations are kept per model (the status list's bound).
const MAX_VIOLATIONS: usize = 64;

/// What conformance found, and when it may change by itself.
#[derive(Debug, Default)]
pub struct Judged {
    pub violations: Vec<ConformanceViolation>,
    /// When the next sign-off that counts expires under `maxAge` (judge again then).
    pub recheck_in: Option<std::time::Duration>,
}

/// The gate's view of the spec's candidate, as the decision computed it.
pub struct Current<'a> {
    pub candidate: &'a Candidate,
    pub gate: &'a GateOutcome,
    pub effective: &'a policy::Effective,
}

/// The violations of `md`'s serving version, `serving` (the newest history entry once
/// the decision is carried out; none when nothing serves). `current` is the decision's
/// gate for the spec's candidate, reused as it is when that candidate is what serves
/// (the usual case: nothing is evaluated twice).
pub fn judge(
    md: &ModelDeployment,
    serving: Option<&HistoryEntry>,
    observed: &Observed,
    verifier: &dyn Verifier,
    now: &Time,
    current: &Current<'_>,
) -> Judged {
    let Some(serving) = serving else {
        return Judged::default();
    };
    let evaluated;
    let (gate, effective) = if serving.fingerprint_in(&md.spec) == current.candidate.fingerprint {
        (current.gate, current.effective)
    } else {
        evaluated = evaluate_serving(md, serving, observed, verifier, now);
        (&evaluated.0, &evaluated.1)
    };
    let conflicted = |id: &str| effective.item(id).is_some_and(|r| r.conflict.is_some());
    let mut violations = items(&md.name_any(), serving, gate, observed, &conflicted);
    violations.extend(no_members(md, observed));
    violations.extend(raci_conflicts(md, observed));
    violations.truncate(MAX_VIOLATIONS);
    Judged {
        violations,
        recheck_in: next_expiry(gate, effective, observed, now),
    }
}

/// How long until the first sign-off counting for the serving version passes the
/// policies' `maxAge`.
fn next_expiry(
    gate: &GateOutcome,
    effective: &policy::Effective,
    observed: &Observed,
    now: &Time,
) -> Option<std::time::Duration> {
    let (max_age, _) = effective.rules.max_age.as_ref()?;
    let limit = jiff::SignedDuration::try_from(*max_age).ok()?;
    gate.items
        .iter()
        .flat_map(|item| &item.approvals)
        .filter_map(|approval| {
            let created = observed
                .attestations
                .iter()
                .find(|a| a.metadata.name.as_deref() == Some(approval.attestation.as_str()))?
                .metadata
                .creation_timestamp
                .as_ref()?;
            let left = created.0.checked_add(limit).ok()?.duration_since(now.0);
            std::time::Duration::try_from(left).ok()
        })
        .min()
}

/// The gate's outcome for the serving version under today's policies, and those
/// policies' effective checklist. Who introduced it was checked when it was promoted;
/// it is not asked again.
fn evaluate_serving(
    md: &ModelDeployment,
    serving: &HistoryEntry,
    observed: &Observed,
    verifier: &dyn Verifier,
    now: &Time,
) -> (GateOutcome, policy::Effective) {
    let mut serving_md = md.clone();
    serving_md.spec = serving.recorded_spec(&md.spec, true);
    let artifact = serving.artifact_in(&md.spec);
    let effective = observed.effective(&serving_md);
    let up = upstream::judge(
        &serving_md,
        &artifact,
        &effective.promotion,
        observed.upstream.as_ref(),
        verifier,
        now,
    );
    let candidate = Candidate {
        fingerprint: serving.fingerprint_in(&md.spec),
        author: Author::Unchecked,
        failed_at: None,
        legacy_attestations: false,
        artifact,
        carried: up.offered,
        not_carried: up.not_carried,
    };
    let lookup = |name: &str| observed.team(name);
    let mut outcome = gate::evaluate(
        &serving_md,
        &effective,
        &candidate,
        observed.attestations.iter().map(AsRef::as_ref),
        &lookup,
        verifier,
        now.0,
    );
    // A fresh drill stands in for the items the policies let it satisfy, for what
    // serves as for a candidate: the same evidence as the decision's gate.
    let drills: Vec<_> = observed.drills.iter().map(AsRef::as_ref).collect();
    outcome.satisfy_by_drill(&crate::drills::satisfies(
        &serving_md,
        &drills,
        &effective,
        now,
    ));
    (outcome, effective)
}

/// A violation for every required item the gate would not pass.
fn items(
    model: &str,
    serving: &HistoryEntry,
    gate: &GateOutcome,
    observed: &Observed,
    conflicted: &dyn Fn(&str) -> bool,
) -> Vec<ConformanceViolation> {
    let approved_then = |item: &str| {
        serving.approvals.iter().any(|a| a.item == item)
            || serving
                .auto_approval
                .as_ref()
                .is_some_and(|a| a.items.iter().any(|i| i.item == item))
    };
    // A kept-rollback or restored entry records no approvals of its own; only a
    // promotion says what was required then.
    let promoted = serving.outcome == HistoryOutcome::Promoted;
    gate.items
        .iter()
        .filter(|item| item.required && !item.attested)
        .map(|item| {
            let rejection = gate
                .rejected
                .iter()
                .filter(|(name, _)| attestation_item(observed, name) == Some(item.id.as_str()))
                .map(|(_, r)| r)
                .next();
            let (kind, message) = match rejection {
                Some(r) if r.reason == counted::EXPIRED => {
                    (ViolationKind::ExpiredSignOff, r.message.clone())
                }
                Some(r) if r.reason == counted::BAD_SIGNATURE => {
                    (ViolationKind::KeyRevoked, r.message.clone())
                }
                Some(r) if r.reason == counted::NOT_A_MEMBER => {
                    (ViolationKind::NotInTeam, r.message.clone())
                }
                _ if conflicted(&item.id) => (
                    ViolationKind::RaciConflict,
                    item.reason.clone().unwrap_or_default(),
                ),
                _ if promoted && !approved_then(&item.id) => (
                    ViolationKind::NewPolicyItem,
                    format!(
                        "required by {} since {} was promoted; nobody of team {} has signed it off",
                        item.required_by.join(", "),
                        serving.version,
                        item.team
                    ),
                ),
                Some(r) => (ViolationKind::MissingSignOff, r.message.clone()),
                None => (
                    ViolationKind::MissingSignOff,
                    item.reason.clone().unwrap_or_else(|| {
                        format!("no sign-off by team {} counts any more", item.team)
                    }),
                ),
            };
            ConformanceViolation {
                kind,
                team: item.team.clone(),
                item: Some(item.id.clone()),
                message: format!("{model}: {message}"),
            }
        })
        .collect()
}

fn attestation_item<'a>(observed: &'a Observed, name: &str) -> Option<&'a str> {
    observed
        .attestations
        .iter()
        .find(|a| a.metadata.name.as_deref() == Some(name))
        .map(|a| a.spec.item.as_str())
}

/// A role whose Team does not exist or names nobody: no one could sign for it today.
fn no_members(md: &ModelDeployment, observed: &Observed) -> Vec<ConformanceViolation> {
    Role::ALL
        .into_iter()
        .filter_map(|role| {
            let name = md.spec.owners.team_for(role);
            let message = match observed.team(name) {
                None => format!("{}: team {name} ({role}) does not exist", md.name_any()),
                Some(t) if t.spec.members.users.is_empty() && t.spec.members.groups.is_empty() => {
                    format!("{}: team {name} ({role}) has no members", md.name_any())
                }
                Some(_) => return None,
            };
            Some(ConformanceViolation {
                kind: ViolationKind::NoMembers,
                team: name.to_string(),
                item: None,
                message,
            })
        })
        .collect()
}

/// Stages whose policies name different Accountable roles.
fn raci_conflicts(md: &ModelDeployment, observed: &Observed) -> Vec<ConformanceViolation> {
    let labels = md.labels().clone();
    let applying = observed
        .policies
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| policy::applies(p, &observed.namespace_labels, &labels));
    policy::responsibilities(applying)
        .into_iter()
        .filter_map(|stage| {
            let conflict = stage.conflict?;
            let team = stage
                .accountable
                .first()
                .map(|r| md.spec.owners.team_for(*r).to_string())
                .unwrap_or_default();
            Some(ConformanceViolation {
                kind: ViolationKind::RaciConflict,
                team,
                item: None,
                message: format!("{}: {conflict}", md.name_any()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
