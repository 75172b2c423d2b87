//! The promotion gate (pure): which attestations count for the candidate, what each
//! team still owes, and the approvals a promotion records. No API access here.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{
    auto_approve::{self, AutoOutcome},
    candidate::Candidate,
    trust::{Author, Verifier},
};
use crate::{
    api::{
        Approval, Attestation, AutoApproval, ChecklistItemStatus, ItemApproval, ModelDeployment,
        Role, Team, VerifiedSigner,
        fingerprint::short,
        labels::{ATTESTER_GROUPS, MODEL_DEPLOYMENT_UID},
        reasons::counted,
    },
    policy::{Effective, Requirement, SignOffRules},
    signing,
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
}

impl GateOutcome {
    /// Whether every required item is attested.
    pub fn complete(&self) -> bool {
        self.owed.is_empty() && self.owed_after_canary.is_empty()
    }

    /// Whether every item needed before a canary is attested.
    pub fn ready_for_canary(&self) -> bool {
        self.owed.is_empty()
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
        before.chain(after).collect::<Vec<_>>().join("; ")
    }
}

/// Whether a user, with the groups recorded at admission, belongs to `team` now.
pub fn is_member(team: &Team, user: &str, groups: &[String]) -> bool {
    team.spec.members.contains(user, groups)
}

fn recorded_groups(attestation: &Attestation) -> Vec<String> {
    attestation
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ATTESTER_GROUPS))
        .map(|g| {
            g.split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Judges attestations for one candidate of one ModelDeployment, at one instant.
struct Judge<'a> {
    md: &'a ModelDeployment,
    candidate: &'a Candidate,
    verifier: &'a dyn Verifier,
    now: Timestamp,
}

impl Judge<'_> {
    /// Why an attestation for the candidate is not authentic or not about exactly this
    /// candidate of this object, or `None` when it is. A signed attestation's signature
    /// is judged with its Team, in [`Judge::rejection`].
    fn provenance(&self, attestation: &Attestation) -> Option<Rejection> {
        let (md, candidate) = (self.md, self.candidate);
        if attestation.is_withdrawn() {
            return rejected(
                counted::WITHDRAWN,
                "the attestation is being withdrawn (deleted)",
            );
        }
        if !attestation.is_signed()
            && let Some(message) = self.verifier.reject(attestation)
        {
            return rejected(counted::INVALID_SEAL, message);
        }
        let admitted_for = attestation
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(MODEL_DEPLOYMENT_UID));
        if let Some(uid) = admitted_for
            && Some(uid) != md.metadata.uid.as_ref()
        {
            return rejected(
                counted::OTHER_OBJECT,
                format!(
                    "it was admitted for an earlier ModelDeployment of this name (uid {uid}), deleted since"
                ),
            );
        }
        if attestation.spec.candidate.is_none() && !candidate.legacy_attestations {
            return rejected(
                counted::NO_CANDIDATE,
                format!(
                    "it names no candidate fingerprint and the candidate changed since it was admitted: attest the candidate {} instead",
                    short(&candidate.fingerprint)
                ),
            );
        }
        if !md.spec.digest_matches(attestation.spec.digest.as_deref()) {
            return rejected(
                counted::DIGEST_MISMATCH,
                format!(
                    "it names digest {}, the candidate is {}",
                    attestation.spec.digest.as_deref().unwrap_or("(none)"),
                    md.spec.model.digest.as_deref().unwrap_or_default()
                ),
            );
        }
        self.before_failure(attestation)
    }

    /// A sign-off given before this candidate failed never promotes it again: judged by
    /// when the Attestation was created and, for a signed one (which can be deleted and
    /// applied again from Git), by when it was signed.
    fn before_failure(&self, attestation: &Attestation) -> Option<Rejection> {
        let failed_at = self.candidate.failed_at.as_ref()?.0;
        let created_before = attestation
            .metadata
            .creation_timestamp
            .as_ref()
            .is_none_or(|t| t.0 <= failed_at);
        let signed_before = attestation.spec.signature.as_ref().is_some_and(|s| {
            signing::parse_signed_at(&s.signed_at).map_or(true, |at| at <= failed_at)
        });
        (created_before || signed_before).then(|| Rejection {
            reason: counted::ADMITTED_BEFORE_FAILURE,
            message: format!(
                "this candidate failed and was rolled back at {failed_at}; sign-off given before that never promotes it again"
            ),
        })
    }

    /// Why `attestation` does not count for `team_name`'s item, or `None` when it does.
    /// `signature` is [`Judge::signature`]'s answer for a signed attestation.
    fn rejection(
        &self,
        attestation: &Attestation,
        team_name: &str,
        team: Option<&Team>,
        signature: Option<&Result<VerifiedSigner, Rejection>>,
    ) -> Option<Rejection> {
        if let Some(rejection) = self.provenance(attestation) {
            return Some(rejection);
        }
        let Some(user) = attestation.attester() else {
            return rejected(counted::NO_ATTESTER, "it records no attestedBy user");
        };
        match &self.candidate.author {
            Author::Known(author) if author == user => {
                return rejected(
                    counted::SELF_ATTESTED,
                    format!(
                        "{user} introduced this candidate and may not attest it (separation of duties)"
                    ),
                );
            }
            Author::Unknown(why) => {
                return rejected(
                    counted::CANDIDATE_AUTHOR_UNKNOWN,
                    format!(
                        "Accord cannot tell who introduced this candidate: {why}; re-apply the spec through the API server"
                    ),
                );
            }
            _ => {}
        }
        if let Some(recorded) = attestation.spec.team.as_deref()
            && recorded != team_name
        {
            return rejected(
                counted::WRONG_TEAM,
                format!("it was made for team {recorded}, but the item belongs to {team_name}"),
            );
        }
        let Some(team) = team else {
            return rejected(
                counted::UNKNOWN_TEAM,
                format!("team {team_name} does not exist"),
            );
        };
        if let Some(signature) = signature {
            return signature.as_ref().err().cloned();
        }
        let groups = recorded_groups(attestation);
        let vouched_by_team = groups.is_empty()
            && self.verifier.trusts_recorded_team()
            && attestation.spec.team.as_deref() == Some(team_name);
        if !vouched_by_team && !is_member(team, user, &groups) {
            return rejected(
                counted::NOT_A_MEMBER,
                format!("{user} is not a member of team {team_name}"),
            );
        }
        None
    }

    /// A signed attestation's signature, checked against `team`'s keys as they are now.
    fn signature(
        &self,
        attestation: &Attestation,
        team: &Team,
    ) -> Result<VerifiedSigner, Rejection> {
        let namespace = attestation
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_default();
        signing::verify(namespace, &attestation.spec, team, self.now).map_err(|e| Rejection {
            reason: counted::BAD_SIGNATURE,
            message: format!("its signature does not count: {e}"),
        })
    }
}

/// Whether `attestation` is about the candidate `md` names: its namespace and name,
/// and the candidate fingerprint (or, for an attestation from before fingerprints,
/// the version). Only those are judged; the rest are about other candidates and are
/// ignored silently.
pub fn is_for_candidate(
    attestation: &Attestation,
    md: &ModelDeployment,
    candidate: &Candidate,
) -> bool {
    let namespace = md.metadata.namespace.as_deref();
    let name = md.metadata.name.as_deref().unwrap_or_default();
    if attestation.metadata.namespace.as_deref() != namespace
        || attestation.spec.model_deployment != name
    {
        return false;
    }
    match &attestation.spec.candidate {
        Some(fingerprint) => *fingerprint == candidate.fingerprint,
        None => attestation.spec.version == md.spec.model.version,
    }
}

/// When a sign-off was given: `signedAt` for a signed one, else its creation.
fn given_at(attestation: &Attestation) -> Option<Timestamp> {
    match &attestation.spec.signature {
        Some(signature) => signing::parse_signed_at(&signature.signed_at).ok(),
        None => attestation
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0),
    }
}

impl Judge<'_> {
    /// An item on canary evidence counts only sign-off given after the canary of this
    /// candidate became available (until the candidate is promoted: then it was
    /// judged so already).
    fn canary_rejection(&self, attestation: &Attestation, item: &Requirement) -> Option<Rejection> {
        if !item.after_canary {
            return None;
        }
        let status = self.md.status.as_ref()?;
        let promoted = status
            .history
            .last()
            .is_some_and(|e| e.fingerprint_in(&self.md.spec) == self.candidate.fingerprint);
        if promoted || !super::canary::applies(self.md) {
            return None;
        }
        let available = status
            .canary
            .as_ref()
            .filter(|c| c.fingerprint == self.candidate.fingerprint)
            .and_then(|c| c.available_at.as_ref());
        let given = given_at(attestation);
        match (available, given) {
            (Some(since), Some(given)) if given > since.0 => None,
            (since, _) => rejected(
                counted::BEFORE_CANARY,
                match since {
                    Some(since) => format!(
                        "item {} is signed off on canary evidence, and this was given before the canary was available at {}: attest again on what it showed",
                        item.id, since.0
                    ),
                    None => format!(
                        "item {} is signed off on canary evidence, and the canary is not available yet: attest once it has run",
                        item.id
                    ),
                },
            ),
        }
    }
}

/// Why a sign-off that is otherwise sound does not meet the matching policies' rules
/// (`require: Signed`, `maxAge`), or `None`.
fn policy_rejection(
    attestation: &Attestation,
    rules: &SignOffRules,
    now: Timestamp,
) -> Option<Rejection> {
    if let Some(policy) = &rules.signed_by
        && !attestation.is_signed()
    {
        return rejected(
            counted::SIGNATURE_REQUIRED,
            format!(
                "HandoffPolicy {policy} requires signed sign-offs: sign it with `kubectl accord attest --sign`"
            ),
        );
    }
    let (max_age, policy) = rules.max_age.as_ref()?;
    let given = given_at(attestation)?;
    let limit = jiff::SignedDuration::try_from(*max_age).ok()?;
    (now.duration_since(given) > limit).then(|| Rejection {
        reason: counted::EXPIRED,
        message: format!(
            "it was given at {given}, longer ago than the maxAge {limit:#} of HandoffPolicy {policy}: attest again"
        ),
    })
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
    let canary = super::canary::applies(md);
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
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        candidate::current,
        testing::{TestKey, Verify, attestation, md, signed, ssh_key, team, time, with_key},
        trust::TrustAsWritten,
    };

    /// The gate for the candidate `md` names now.
    fn evaluate<'a>(
        md: &ModelDeployment,
        attestations: impl IntoIterator<Item = &'a Attestation>,
        team: &dyn Fn(&str) -> Option<Team>,
        verifier: &dyn Verifier,
    ) -> GateOutcome {
        super::evaluate(
            md,
            &crate::policy::effective(md, &Default::default(), []),
            &current(md, verifier),
            attestations,
            team,
            verifier,
            time(100_000).0,
        )
    }

    fn teams(name: &str) -> Option<Team> {
        match name {
            "data-platform" => Some(team("data-platform", &[], &["data-platform-eng"])),
            "ml-platform" => Some(team("ml-platform", &["bob"], &[])),
            "payments-app" => Some(team("payments-app", &[], &["payments-app-eng"])),
            _ => None,
        }
    }

    #[test]
    fn nothing_attested_owes_every_required_item_per_team() {
        let md = md("2.4.0");
        let out = evaluate(&md, [], &teams, &TrustAsWritten);
        assert!(!out.complete());
        assert_eq!(out.pending(), 3);
        assert_eq!(
            out.owed_message(),
            "data-platform owes drift; ml-platform owes latency; payments-app owes kpis"
        );
        assert!(out.items.iter().all(|i| !i.attested));
    }

    #[test]
    fn sign_off_on_canary_evidence_counts_only_after_the_canary_was_available() {
        use crate::api::{
            After, Canary, CanaryStatus, HistoryEntry, ModelDeploymentStatus, RolloutStrategy,
        };
        let mut m = md("2.0.0");
        m.spec.handoff.checklist[2].after = Some(After::Canary);
        m.spec.rollout = Some(RolloutStrategy {
            canary: Some(Canary {
                replicas: 1,
                bake_seconds: 60,
                analysis: None,
            }),
        });
        let active: HistoryEntry = serde_json::from_value(serde_json::json!({
            "version": "1.0.0", "image": "i:1", "outcome": "Promoted", "at": "2027-01-15T08:00:00Z",
            "reason": "AllItemsAttested", "availableAt": "2027-01-15T08:00:10Z"}))
        .unwrap();
        let mut canary = CanaryStatus {
            fingerprint: m.spec.fingerprint(),
            version: "2.0.0".into(),
            started_at: time(40),
            available_at: None,
            measurements: vec![],
            failed_measurements: 0,
        };
        let at = |name: &str, secs: i64| {
            let mut a = attestation(name, "kpis", "2.0.0", "carol", &[]);
            a.metadata.creation_timestamp = Some(time(secs));
            a
        };
        let (early, late) = (at("early", 10), at("late", 60));
        let others = [
            attestation("a1", "drift", "2.0.0", "alice", &["data-platform-eng"]),
            attestation("a2", "latency", "2.0.0", "bob", &[]),
        ];
        let teams = |name: &str| match name {
            "payments-app" => Some(team("payments-app", &["carol"], &[])),
            other => teams(other),
        };
        let judge = |m: &ModelDeployment, atts: Vec<&Attestation>| {
            evaluate(m, atts, &teams, &TrustAsWritten)
        };
        for available in [None, Some(time(50))] {
            canary.available_at = available.clone();
            m.status = Some(ModelDeploymentStatus {
                history: vec![active.clone()],
                canary: Some(canary.clone()),
                ..Default::default()
            });
            let out = judge(&m, others.iter().chain([&early]).collect());
            assert!(out.ready_for_canary(), "the canary does not wait for it");
            assert!(!out.complete());
            assert_eq!(out.owed_after_canary["payments-app"], ["kpis"]);
            let (name, rejection) = &out.rejected[0];
            assert_eq!(
                (name.as_str(), rejection.reason),
                ("early", counted::BEFORE_CANARY)
            );
        }
        let out = judge(&m, others.iter().chain([&early, &late]).collect());
        assert!(out.complete(), "{:?}", out.rejected);
        assert_eq!(out.items[2].attestation.as_deref(), Some("late"));
    }

    #[test]
    fn member_by_group_and_by_name_counts() {
        let md = md("2.4.0");
        let atts = [
            attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]),
            attestation("a2", "latency", "2.4.0", "bob", &[]),
            attestation("a3", "kpis", "2.4.0", "carol", &["payments-app-eng"]),
        ];
        let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
        assert!(out.complete(), "{:?}", out.owed);
        assert_eq!(out.approvals.len(), 3);
        assert_eq!(out.items[0].attested_by.as_deref(), Some("alice"));
        assert_eq!(out.items[0].attestation.as_deref(), Some("a1"));
    }

    #[test]
    fn recorded_team_stands_in_for_groups_only_when_trusted() {
        let sealed = Verify::default();
        let md = md("2.4.0");
        let mut att = attestation("a1", "drift", "2.4.0", "alice", &[]);
        att.spec.team = Some("data-platform".into());
        assert!(
            evaluate(&md, std::slice::from_ref(&att), &teams, &TrustAsWritten).items[0].attested
        );
        assert!(!evaluate(&md, &[att], &teams, &sealed).items[0].attested);
    }

    #[test]
    fn other_versions_do_not_count() {
        let md = md("2.5.0");
        let atts = [attestation(
            "a1",
            "drift",
            "2.4.0",
            "alice",
            &["data-platform-eng"],
        )];
        let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
        assert!(!out.items[0].attested);
        assert!(
            out.items[0].reason.is_none(),
            "stale versions are ignored silently"
        );
    }

    #[test]
    fn non_member_does_not_count_and_says_why() {
        let md = md("2.4.0");
        let atts = [attestation("a1", "latency", "2.4.0", "mallory", &[])];
        let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
        let item = &out.items[1];
        assert!(!item.attested);
        assert!(
            item.reason
                .as_deref()
                .unwrap()
                .contains("mallory is not a member of team ml-platform")
        );
        assert_eq!(out.rejected.len(), 1);
    }

    #[test]
    fn membership_is_checked_against_the_team_as_it_is_now() {
        let md = md("2.4.0");
        let atts = [attestation("a1", "latency", "2.4.0", "bob", &[])];
        let without_bob = |name: &str| match name {
            "ml-platform" => Some(team("ml-platform", &["someone-else"], &[])),
            other => teams(other),
        };
        assert!(!evaluate(&md, &atts, &without_bob, &TrustAsWritten).items[1].attested);
    }

    #[test]
    fn wrong_digest_and_wrong_team_do_not_count() {
        let mut md = md("2.4.0");
        md.spec.model.digest = Some(format!("sha256:{}", "a".repeat(64)));
        let mut wrong_digest = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        wrong_digest.spec.digest = Some(format!("sha256:{}", "b".repeat(64)));
        wrong_digest.spec.candidate = Some(md.spec.fingerprint());
        let mut wrong_team = attestation("a2", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        wrong_team.spec.digest = md.spec.model.digest.clone();
        wrong_team.spec.candidate = Some(md.spec.fingerprint());
        wrong_team.spec.team = Some("payments-app".into());
        let out = evaluate(&md, &[wrong_digest, wrong_team], &teams, &TrustAsWritten);
        assert!(!out.items[0].attested);
        assert_eq!(out.rejected.len(), 2);
        assert_eq!(out.rejected[0].1.reason, counted::DIGEST_MISMATCH);
        assert!(
            out.rejected[1]
                .1
                .message
                .contains("made for team payments-app")
        );
    }

    #[test]
    fn optional_items_do_not_block() {
        let mut md = md("2.4.0");
        md.spec.handoff.checklist[2].required = false;
        let atts = [
            attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]),
            attestation("a2", "latency", "2.4.0", "bob", &[]),
        ];
        let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
        assert!(out.complete());
        assert_eq!(out.pending(), 0);
    }

    #[test]
    fn deleted_and_unverified_attestations_do_not_count() {
        let reject_all = Verify {
            reject: Some("no valid seal".into()),
            ..Default::default()
        };
        let md = md("2.4.0");
        let atts = [attestation(
            "a1",
            "drift",
            "2.4.0",
            "alice",
            &["data-platform-eng"],
        )];
        assert!(!evaluate(&md, &atts, &teams, &reject_all).items[0].attested);
        let mut deleting = atts[0].clone();
        deleting.metadata.deletion_timestamp = Some(time(0));
        assert!(!evaluate(&md, &[deleting], &teams, &TrustAsWritten).items[0].attested);
    }

    #[test]
    fn other_model_deployments_and_namespaces_are_ignored() {
        let md = md("2.4.0");
        let mut other_md = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        other_md.spec.model_deployment = "other".into();
        let mut other_ns = attestation("a2", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        other_ns.metadata.namespace = Some("elsewhere".into());
        let out = evaluate(&md, &[other_md, other_ns], &teams, &TrustAsWritten);
        assert!(!out.items[0].attested);
        assert!(out.rejected.is_empty());
    }

    fn all_three(version: &str) -> Vec<Attestation> {
        vec![
            attestation("a1", "drift", version, "alice", &["data-platform-eng"]),
            attestation("a2", "latency", version, "bob", &[]),
            attestation("a3", "kpis", version, "carol", &["payments-app-eng"]),
        ]
    }

    #[test]
    fn only_attestations_of_this_exact_candidate_count() {
        let mut md = md("2.4.0");
        let atts = all_three("2.4.0");
        assert!(evaluate(&md, &atts, &teams, &TrustAsWritten).complete());
        // Same version and digest, another image: another candidate, nothing counts.
        md.spec.serving.image = Some("registry.example.com/evil:2.4.0".into());
        let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
        assert_eq!(out.pending(), 3);
        assert!(
            out.rejected.is_empty(),
            "other candidates are ignored silently"
        );
        // An operational change is the same candidate.
        md.spec.serving.image = Some("registry.example.com/fraud-scorer:2.4.0".into());
        md.spec.serving.replicas = 9;
        assert!(evaluate(&md, &atts, &teams, &TrustAsWritten).complete());
    }

    #[test]
    fn attestations_from_before_fingerprints_count_only_for_an_adopted_candidate() {
        let mut md = md("2.4.0");
        let mut legacy = all_three("2.4.0");
        for att in &mut legacy {
            att.spec.candidate = None;
        }
        let out = evaluate(&md, &legacy, &teams, &TrustAsWritten);
        assert_eq!(out.rejected[0].1.reason, counted::NO_CANDIDATE);
        assert!(!out.complete());
        let tracking = crate::api::CandidateTracking {
            fingerprint: None,
            identity: md.spec.identity(),
            author: None,
            legacy_attestations: false,
            first_seen: time(0),
            blocked_reported: false,
            escalated: false,
        };
        md.status = Some(crate::api::ModelDeploymentStatus {
            candidate: Some(tracking),
            ..Default::default()
        });
        assert!(evaluate(&md, &legacy, &teams, &TrustAsWritten).complete());
    }

    #[test]
    fn sign_off_from_before_a_failure_never_counts_again() {
        let mut md = md("2.4.0");
        md.status = Some(crate::api::ModelDeploymentStatus {
            failed_candidates: vec![crate::api::FailedCandidate {
                fingerprint: md.spec.fingerprint(),
                version: "2.4.0".into(),
                failed_at: time(100),
            }],
            ..Default::default()
        });
        let old = all_three("2.4.0");
        let out = evaluate(&md, &old, &teams, &TrustAsWritten);
        assert_eq!(out.pending(), 3);
        assert_eq!(out.rejected[0].1.reason, counted::ADMITTED_BEFORE_FAILURE);
        let mut fresh = all_three("2.4.0");
        for att in &mut fresh {
            att.metadata.creation_timestamp = Some(time(101));
        }
        assert!(evaluate(&md, &fresh, &teams, &TrustAsWritten).complete());
    }

    #[test]
    fn whoever_introduced_the_candidate_cannot_count_and_an_unknown_author_blocks_all() {
        let md = md("2.4.0");
        let bob_wrote_it = Verify {
            author: Author::Known("bob".into()),
            ..Default::default()
        };
        let out = evaluate(&md, &all_three("2.4.0"), &teams, &bob_wrote_it);
        assert_eq!(out.owed_message(), "ml-platform owes latency");
        assert_eq!(out.rejected[0].1.reason, counted::SELF_ATTESTED);
        let unknown = Verify {
            author: Author::Unknown("no record".into()),
            ..Default::default()
        };
        let out = evaluate(&md, &all_three("2.4.0"), &teams, &unknown);
        assert_eq!(out.pending(), 3);
        assert!(
            out.rejected
                .iter()
                .all(|(_, r)| r.reason == counted::CANDIDATE_AUTHOR_UNKNOWN)
        );
    }

    #[test]
    fn attestations_of_a_deleted_same_named_object_do_not_count() {
        let md = md("2.4.0");
        let mut atts = all_three("2.4.0");
        atts[0]
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(MODEL_DEPLOYMENT_UID.into(), "uid-of-the-old-object".into());
        let out = evaluate(&md, &atts, &teams, &TrustAsWritten);
        assert_eq!(out.owed_message(), "data-platform owes drift");
        assert_eq!(out.rejected[0].1.reason, counted::OTHER_OBJECT);
    }

    fn signing_teams(name: &str, alice: &TestKey) -> Option<Team> {
        match name {
            "data-platform" => Some(with_key(
                team("data-platform", &["alice"], &[]),
                "alice",
                alice,
            )),
            other => teams(other),
        }
    }

    #[test]
    fn a_signed_attestation_counts_for_its_signer_whoever_applied_it() {
        let alice = ssh_key("alice");
        let md = md("2.4.0");
        let att = signed(&md, "drift", "alice", &alice, 10);
        assert_eq!(att.spec.attested_by.as_deref(), Some("alice"));
        let sealed = Verify::default();
        let lookup = |n: &str| signing_teams(n, &alice);
        let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &sealed);
        assert!(out.items[0].attested, "{:?}", out.rejected);
        assert_eq!(out.items[0].attested_by.as_deref(), Some("alice"));
        let name = att.metadata.name.clone().unwrap();
        assert_eq!(out.verified[&name].user, "alice");
        assert_eq!(out.verified[&name].team, "data-platform");
        // The seal verifier is not consulted for signed attestations.
        let reject_all = Verify {
            reject: Some("no seal".into()),
            ..Default::default()
        };
        assert!(evaluate(&md, std::slice::from_ref(&att), &lookup, &reject_all).items[0].attested);
    }

    #[test]
    fn a_revoked_key_or_a_removed_member_uncounts_a_signed_attestation() {
        let alice = ssh_key("alice");
        let md = md("2.4.0");
        let att = signed(&md, "drift", "alice", &alice, 10);
        let fingerprint = {
            let lookup = |n: &str| signing_teams(n, &alice);
            let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &TrustAsWritten);
            out.verified
                .values()
                .next()
                .unwrap()
                .key_fingerprint
                .clone()
        };
        let revoked = |n: &str| {
            signing_teams(n, &alice).map(|mut t| {
                t.spec.revoked_keys.push(fingerprint.clone());
                t
            })
        };
        let out = evaluate(&md, std::slice::from_ref(&att), &revoked, &TrustAsWritten);
        assert!(!out.items[0].attested);
        assert!(out.verified.is_empty());
        assert_eq!(out.rejected[0].1.reason, counted::BAD_SIGNATURE);
        assert!(
            out.rejected[0].1.message.contains("revoked"),
            "{:?}",
            out.rejected
        );
        let left = |n: &str| {
            signing_teams(n, &alice).map(|mut t| {
                t.spec.members.users.clear();
                t.spec.members.groups.push("data-platform-eng".into());
                t
            })
        };
        let out = evaluate(&md, std::slice::from_ref(&att), &left, &TrustAsWritten);
        assert!(!out.items[0].attested);
        assert!(
            out.rejected[0]
                .1
                .message
                .contains("alice is not a member of team data-platform"),
            "{:?}",
            out.rejected
        );
    }

    #[test]
    fn a_signed_attestation_for_another_team_or_by_the_author_does_not_count() {
        let alice = ssh_key("alice");
        let md = md("2.4.0");
        // alice's key in data-platform does not make her a platform signer.
        let att = signed(&md, "latency", "alice", &alice, 10);
        let lookup = |n: &str| signing_teams(n, &alice);
        let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &TrustAsWritten);
        assert!(!out.items[1].attested);
        assert!(
            out.rejected[0]
                .1
                .message
                .contains("no signing key in team ml-platform"),
            "{:?}",
            out.rejected
        );
        let authored = Verify {
            author: Author::Known("alice".into()),
            ..Default::default()
        };
        let att = signed(&md, "drift", "alice", &alice, 10);
        let out = evaluate(&md, std::slice::from_ref(&att), &lookup, &authored);
        assert_eq!(out.rejected[0].1.reason, counted::SELF_ATTESTED);
    }

    #[test]
    fn a_signed_sign_off_from_before_a_failure_never_counts_even_applied_again() {
        let alice = ssh_key("alice");
        let md = md("2.4.0");
        let mut att = signed(&md, "drift", "alice", &alice, 10);
        // Pruned and applied again from Git after the failure: created later, signed before.
        att.metadata.creation_timestamp = Some(time(500));
        let lookup = |n: &str| signing_teams(n, &alice);
        let mut candidate = current(&md, &TrustAsWritten);
        candidate.failed_at = Some(time(100));
        let out = super::evaluate(
            &md,
            &crate::policy::effective(&md, &Default::default(), []),
            &candidate,
            std::slice::from_ref(&att),
            &lookup,
            &TrustAsWritten,
            time(100_000).0,
        );
        assert_eq!(out.rejected[0].1.reason, counted::ADMITTED_BEFORE_FAILURE);
        let fresh = signed(&md, "drift", "alice", &alice, 200);
        let out = super::evaluate(
            &md,
            &crate::policy::effective(&md, &Default::default(), []),
            &candidate,
            std::slice::from_ref(&fresh),
            &lookup,
            &TrustAsWritten,
            time(100_000).0,
        );
        assert!(out.items[0].attested, "{:?}", out.rejected);
    }

    fn under_policy(
        md: &ModelDeployment,
        spec: crate::api::HandoffPolicySpec,
        attestations: &[Attestation],
        now: i64,
    ) -> GateOutcome {
        let policy = crate::api::HandoffPolicy::new("org", spec);
        super::evaluate(
            md,
            &crate::policy::effective(md, &Default::default(), [&policy]),
            &current(md, &TrustAsWritten),
            attestations,
            &teams,
            &TrustAsWritten,
            time(now).0,
        )
    }

    fn two_people(id: &str) -> crate::api::HandoffPolicySpec {
        crate::api::HandoffPolicySpec {
            required_items: vec![crate::api::handoff_policy::PolicyItem {
                id: id.into(),
                owner: Role::Data,
                description: None,
                min_approvals: 2,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_item_needing_two_people_counts_distinct_people_only() {
        let md = md("2.4.0");
        let alice = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        let alice_again = attestation("a2", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        let erin = attestation("a3", "drift", "2.4.0", "erin", &["data-platform-eng"]);
        let out = under_policy(
            &md,
            two_people("drift"),
            &[alice.clone(), alice_again.clone()],
            100,
        );
        let drift = &out.items[0];
        assert!(!drift.attested);
        assert_eq!(drift.min_approvals, Some(2));
        assert_eq!(drift.required_by, ["ModelDeployment", "HandoffPolicy/org"]);
        assert!(
            out.rejected
                .iter()
                .any(|(n, r)| n == "a2" && r.reason == counted::SAME_PERSON)
        );
        assert!(
            out.owed_message().contains("drift (1 of 2 people)"),
            "{}",
            out.owed_message()
        );
        assert!(
            drift
                .reason
                .as_deref()
                .unwrap()
                .contains("1 of 2 distinct people")
        );

        let out = under_policy(&md, two_people("drift"), &[alice, alice_again, erin], 100);
        let drift = &out.items[0];
        assert!(drift.attested);
        let people: Vec<&str> = drift
            .approvals
            .iter()
            .map(|a| a.attested_by.as_str())
            .collect();
        assert_eq!(people, ["alice", "erin"]);
        let recorded: Vec<&str> = out
            .approvals
            .iter()
            .filter(|a| a.item == "drift")
            .map(|a| a.attested_by.as_str())
            .collect();
        assert_eq!(recorded, ["alice", "erin"], "the promotion records both");
    }

    #[test]
    fn a_policy_item_is_required_even_where_the_model_deployment_says_optional() {
        let mut md = md("2.4.0");
        md.spec.handoff.checklist[0].required = false;
        let mut spec = two_people("drift");
        spec.required_items[0].min_approvals = 1;
        let out = under_policy(&md, spec, &[], 100);
        assert!(out.items[0].required);
        assert!(out.owed_message().contains("data-platform owes drift"));
    }

    #[test]
    fn policies_can_require_signed_and_recent_sign_offs() {
        let md = md("2.4.0");
        let mut alice = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        alice.metadata.creation_timestamp = Some(time(0));
        let rules = |max_age: Option<&str>, signed: bool| crate::api::HandoffPolicySpec {
            attestations: Some(crate::api::handoff_policy::AttestationRules {
                max_age: max_age.map(String::from),
                require: signed.then_some(crate::api::handoff_policy::SignatureRequirement::Signed),
            }),
            ..Default::default()
        };
        let fresh = under_policy(
            &md,
            rules(Some("1h"), false),
            std::slice::from_ref(&alice),
            60,
        );
        assert!(fresh.items[0].attested);
        let stale = under_policy(
            &md,
            rules(Some("1h"), false),
            std::slice::from_ref(&alice),
            7200,
        );
        assert!(!stale.items[0].attested);
        assert_eq!(stale.rejected[0].1.reason, counted::EXPIRED);
        assert!(
            stale.rejected[0]
                .1
                .message
                .contains("maxAge 1h of HandoffPolicy org"),
            "{}",
            stale.rejected[0].1.message
        );
        let unsigned = under_policy(&md, rules(None, true), std::slice::from_ref(&alice), 60);
        assert_eq!(unsigned.rejected[0].1.reason, counted::SIGNATURE_REQUIRED);
    }

    #[test]
    fn a_role_conflict_blocks_the_item_and_says_why() {
        let md = md("2.4.0");
        let mut spec = two_people("latency");
        spec.required_items[0].min_approvals = 1;
        let bob = attestation("a1", "latency", "2.4.0", "bob", &[]);
        let out = under_policy(&md, spec, &[bob], 100);
        let latency = out.items.iter().find(|i| i.id == "latency").unwrap();
        assert!(!latency.attested);
        assert!(
            latency
                .reason
                .as_deref()
                .unwrap()
                .contains("cannot be attested until they agree")
        );
    }
}
