//! The promotion gate (pure): which attestations count for the candidate, what each
//! team still owes, and the approvals a promotion records. No API access here.
//!
//! [`evaluate`] judges each item of the effective checklist; an attestation counts when
//! its [`provenance`] and identity hold, its [`signature`] verifies (when signed), it
//! meets the policies' [`sign_off_rules`], and, for an item on [`canary`] evidence,
//! it was given after the canary ran. An item a policy's `drills.satisfies` names may
//! instead rest on a recent rollback drill ([`GateOutcome::satisfy_by_drill`]).

use std::collections::BTreeMap;

use jiff::Timestamp;

mod canary;
mod drill;
mod provenance;
mod sign_off_rules;
mod signature;

pub use provenance::{is_for_candidate, recorded_groups};
use sign_off_rules::policy_rejection;

use crate::{
    api::{
        Approval, Attestation, AutoApproval, ChecklistItemStatus, ItemApproval, ModelDeployment,
        Role, Team, VerifiedSigner, reasons::counted,
    },
    auto_approve::{self, AutoOutcome},
    candidate::Candidate,
    policy::{Effective, Requirement, SignOffRules},
    trust::Verifier,
};

/// Why an attestation does not count: a CamelCase reason and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: &'static str,
    pub message: String,
}

fn rejected(reason: &'static str, message: impl Into<String>) -> Option<Rejection> {
    Some(Rejection {
        reason,
        message: message.into(),
    })
}

/// Why the upstream environment does not let the candidate through
/// ([`crate::upstream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamBlock {
    pub reason: &'static str,
    pub message: String,
}

/// The gate's verdict for one candidate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GateOutcome {
    /// One entry per checklist item, in checklist order.
    pub items: Vec<ChecklistItemStatus>,
    /// Team name → required item ids it has not attested, in checklist order.
    pub owed: BTreeMap<String, Vec<String>>,
    /// The same for items attested on canary evidence (`after: Canary`), when the
    /// candidate runs as a canary first; otherwise they are in `owed`.
    pub owed_after_canary: BTreeMap<String, Vec<String>>,
    /// Required items needed before the canary (all required items without one).
    pub required_before_canary: usize,
    /// Who attested what, for the promotion record (required and optional items).
    pub approvals: Vec<Approval>,
    /// Attestations for this candidate that exist but do not count: (name, reason).
    pub rejected: Vec<(String, Rejection)>,
    /// Signed attestations for this candidate whose signature verifies now, by name.
    pub verified: BTreeMap<String, VerifiedSigner>,
    /// Items an `autoApprove` rule satisfied because no person had, with the baseline.
    pub auto_approval: Option<AutoApproval>,
    /// The HandoffPolicies that apply, by name.
    pub policies: Vec<String>,
    /// Set when the upstream environment does not let the candidate through yet
    /// (set by [`crate::decide`]); the candidate waits whatever is attested.
    pub upstream: Option<UpstreamBlock>,
    /// When the upstream's verdict changes by time alone (its soak is met).
    pub upstream_requeue: Option<std::time::Duration>,
    /// What the upstream showed, with the sign-offs carried, for the promotion's
    /// history entry.
    pub upstream_evidence: Option<crate::api::UpstreamEvidence>,
}

impl GateOutcome {
    /// Whether every required item is attested (and the upstream lets it through).
    pub fn complete(&self) -> bool {
        self.owed.is_empty() && self.owed_after_canary.is_empty() && self.upstream.is_none()
    }

    /// Whether every item needed before a canary is attested (and the upstream lets
    /// it through).
    pub fn ready_for_canary(&self) -> bool {
        self.owed.is_empty() && self.upstream.is_none()
    }

    /// Number of required items not attested.
    pub fn pending(&self) -> usize {
        self.owed
            .values()
            .chain(self.owed_after_canary.values())
            .map(Vec::len)
            .sum()
    }

    /// "data-platform owes data-drift-checked, pii-reviewed; ml-platform owes latency-slo-met";
    /// items attested on canary evidence say so.
    pub fn owed_message(&self) -> String {
        let before = self
            .owed
            .iter()
            .map(|(team, items)| format!("{team} owes {}", items.join(", ")));
        let after = self
            .owed_after_canary
            .iter()
            .map(|(team, items)| format!("{team} owes {} (on canary evidence)", items.join(", ")));
        let upstream = self.upstream.iter().map(|b| b.message.clone());
        upstream
            .chain(before)
            .chain(after)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Whether a user, with the groups recorded at admission, belongs to `team` now.
pub fn is_member(team: &Team, user: &str, groups: &[String]) -> bool {
    team.spec.members.contains(user, groups)
}

/// Judges attestations for one candidate of one ModelDeployment, at one instant.
struct Judge<'a> {
    md: &'a ModelDeployment,
    candidate: &'a Candidate,
    verifier: &'a dyn Verifier,
    now: Timestamp,
}

/// Decides, for the candidate in `md.spec`, which items of its effective checklist
/// (its own items with the matching policies', [`crate::policy::effective`]) are
/// attested.
///
/// `attestations` may hold any Attestations; only those in the ModelDeployment's
/// namespace naming it and its candidate are considered. `team` looks a Team
/// up by name as it is now. An item needing several approvals counts distinct
/// people; the earliest created sign-offs are recorded.
pub fn evaluate<'a>(
    md: &ModelDeployment,
    effective: &Effective,
    candidate: &Candidate,
    attestations: impl IntoIterator<Item = &'a Attestation>,
    team: &dyn Fn(&str) -> Option<Team>,
    verifier: &dyn Verifier,
    now: Timestamp,
) -> GateOutcome {
    let judge = Judge {
        md,
        candidate,
        verifier,
        now,
    };
    let mut relevant: Vec<&Attestation> = attestations
        .into_iter()
        .filter(|a| is_for_candidate(a, md, candidate))
        .collect();
    relevant.sort_by(|a, b| {
        let key = |x: &Attestation| {
            (
                x.metadata.creation_timestamp.as_ref().map(|t| t.0),
                x.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });

    let mut outcome = GateOutcome {
        policies: effective.policies.clone(),
        ..Default::default()
    };
    let mut teams: BTreeMap<Role, (String, Option<Team>)> = BTreeMap::new();
    for role in Role::ALL {
        let team_name = md.spec.owners.team_for(role).to_string();
        let found = team(&team_name);
        teams.insert(role, (team_name, found));
    }
    let auto = auto_approve::judge(md, effective, candidate);
    let canary = crate::canary::applies(md);
    for item in &effective.items {
        let (team_name, team) = &teams[&item.owner];
        let status = judge.item(
            item,
            team_name,
            team.as_ref(),
            &relevant,
            &effective.rules,
            &mut outcome,
        );
        record(item, status, team_name, &auto, canary, &mut outcome);
    }
    outcome
}

/// Records an item's verdict in the outcome: its approvals when complete (by people,
/// or else by an `autoApprove` rule), what its team still owes otherwise.
fn record(
    item: &Requirement,
    mut status: ChecklistItemStatus,
    team_name: &str,
    auto: &AutoOutcome,
    canary: bool,
    outcome: &mut GateOutcome,
) {
    let needed = item.min_approvals.max(1) as usize;
    let after_canary = canary && item.after_canary;
    outcome.required_before_canary += usize::from(item.required && !after_canary);
    status.attested = status.approvals.len() >= needed;
    if !status.attested
        && let (Some(grant), Some(basis)) = (auto.granted.get(&item.id), &auto.basis)
    {
        status.attested = true;
        status.auto_approved_by = Some(format!("{} rule {}", grant.policy, grant.rule));
        status.reason = None;
        outcome
            .auto_approval
            .get_or_insert_with(|| basis.clone())
            .items
            .push(grant.clone());
        outcome.items.push(status);
        return;
    }
    if !status.attested
        && status.reason.is_none()
        && let Some(why) = auto.refused.get(&item.id)
    {
        status.reason = Some(why.clone());
    }
    if status.attested {
        outcome
            .approvals
            .extend(status.approvals.iter().map(|a| Approval {
                item: item.id.clone(),
                attested_by: a.attested_by.clone(),
            }));
    } else {
        if item.conflict.is_none() && !status.approvals.is_empty() {
            let people: Vec<&str> = status
                .approvals
                .iter()
                .map(|a| a.attested_by.as_str())
                .collect();
            status.reason = Some(format!(
                "{} of {needed} distinct people of team {team_name} have signed off ({}): {} more needed",
                people.len(),
                people.join(", "),
                needed - people.len()
            ));
        }
        if item.required {
            let owed = if needed > 1 {
                format!(
                    "{} ({} of {needed} people)",
                    item.id,
                    status.approvals.len()
                )
            } else {
                item.id.clone()
            };
            let owed_in = if after_canary {
                &mut outcome.owed_after_canary
            } else {
                &mut outcome.owed
            };
            owed_in.entry(team_name.to_string()).or_default().push(owed);
        }
    }
    outcome.items.push(status);
}

impl Judge<'_> {
    /// One item: which of the relevant attestations count for it, distinct people
    /// only, up to the number it needs. Rejections go to `outcome`.
    fn item(
        &self,
        item: &Requirement,
        team_name: &str,
        team: Option<&Team>,
        relevant: &[&Attestation],
        rules: &SignOffRules,
        outcome: &mut GateOutcome,
    ) -> ChecklistItemStatus {
        let needed = item.min_approvals.max(1) as usize;
        let mut status = ChecklistItemStatus {
            id: item.id.clone(),
            owner: item.owner.to_string(),
            team: team_name.to_string(),
            required: item.required,
            required_by: item.required_by.clone(),
            min_approvals: (needed > 1).then_some(item.min_approvals),
            reason: item.conflict.clone(),
            after: item.after_canary.then_some(crate::api::After::Canary),
            ..Default::default()
        };
        let candidates = relevant
            .iter()
            .filter(|a| a.spec.item == item.id && item.conflict.is_none());
        for attestation in candidates {
            let att_name = attestation.metadata.name.clone().unwrap_or_default();
            let signature = attestation
                .is_signed()
                .then_some(team)
                .flatten()
                .map(|team| self.signature(attestation, team));
            if let Some(Ok(signer)) = &signature {
                outcome.verified.insert(att_name.clone(), signer.clone());
            }
            let rejection = self
                .rejection(attestation, team_name, team, signature.as_ref())
                .or_else(|| policy_rejection(attestation, rules, self.now))
                .or_else(|| self.canary_rejection(attestation, item));
            let complete = status.approvals.len() >= needed;
            match rejection {
                None if complete => {}
                None => {
                    let who = attestation.attester().unwrap_or_default().to_string();
                    if status.approvals.iter().any(|a| a.attested_by == who) {
                        outcome.rejected.push((
                            att_name,
                            Rejection {
                                reason: counted::SAME_PERSON,
                                message: format!(
                                    "{who} already counts for item {}, which needs {needed} distinct people",
                                    item.id
                                ),
                            },
                        ));
                        continue;
                    }
                    if status.approvals.is_empty() {
                        status.attested_by = Some(who.clone());
                        status.attestation = Some(att_name.clone());
                    }
                    status.attested_at = attestation.metadata.creation_timestamp.clone();
                    status.approvals.push(ItemApproval {
                        attested_by: who,
                        attestation: att_name,
                        carried_from: None,
                    });
                    status.reason = None;
                }
                Some(rejection) => {
                    if !complete {
                        let message = &rejection.message;
                        status.reason =
                            Some(format!("attestation {att_name} does not count: {message}"));
                    }
                    outcome.rejected.push((att_name, rejection));
                }
            }
        }
        if item.conflict.is_none() {
            self.carry(item, team_name, team, rules, &mut status);
        }
        status
    }

    /// Sign-offs carried from the upstream (`spec.promotion.carry`) count as more
    /// distinct people when their attester is a member of this item's Team now, did
    /// not introduce this candidate, and the sign-off meets this model's policies.
    /// Their verdicts are the upstream's own: nothing is written to them from here.
    fn carry(
        &self,
        item: &Requirement,
        team_name: &str,
        team: Option<&Team>,
        rules: &SignOffRules,
        status: &mut ChecklistItemStatus,
    ) {
        let needed = item.min_approvals.max(1) as usize;
        let offered = self.candidate.carried.get(&item.id).into_iter().flatten();
        let mut refused = Vec::new();
        for sign_off in offered {
            if status.approvals.len() >= needed {
                break;
            }
            let who = &sign_off.attested_by;
            if status.approvals.iter().any(|a| a.attested_by == *who) {
                continue;
            }
            let member = team.is_some_and(|t| {
                is_member(t, who, &sign_off.groups)
                    || (sign_off.attestation.is_signed()
                        && t.spec.signing_keys.iter().any(|k| k.user == *who))
            });
            let rejection = match &self.candidate.author {
                _ if !member => Some(format!("{who} is not a member of team {team_name}")),
                crate::trust::Author::Known(author) if author == who => Some(format!(
                    "{who} introduced this candidate and may not attest it (separation of duties)"
                )),
                crate::trust::Author::Unknown(why) => Some(format!(
                    "Accord cannot tell who introduced this candidate: {why}"
                )),
                _ => policy_rejection(&sign_off.attestation, rules, self.now).map(|r| r.message),
            };
            match rejection {
                Some(why) => refused.push(format!(
                    "the sign-off carried from {} ({}) does not count: {why}",
                    sign_off.from.model_deployment, sign_off.from.attestation
                )),
                None => {
                    if status.approvals.is_empty() {
                        status.attested_by = Some(who.clone());
                        status.attestation = Some(sign_off.from.attestation.clone());
                        status.carried_from = Some(sign_off.from.clone());
                        status.attested_at =
                            sign_off.attestation.metadata.creation_timestamp.clone();
                    }
                    status.approvals.push(ItemApproval {
                        attested_by: who.clone(),
                        attestation: sign_off.from.attestation.clone(),
                        carried_from: Some(sign_off.from.clone()),
                    });
                    status.reason = None;
                }
            }
        }
        if status.approvals.len() < needed && status.reason.is_none() {
            let not_carried = self.candidate.not_carried.get(&item.id).cloned();
            status.reason = refused.into_iter().next().or(not_carried);
        }
    }
}

#[cfg(test)]
mod tests;
