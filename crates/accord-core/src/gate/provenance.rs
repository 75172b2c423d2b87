//! Provenance and identity: whether an attestation is authentic and about exactly this
//! candidate of this object, given after its last failure, by someone other than whoever
//! introduced it, and by a member of the Team that owns the item.

use super::{Judge, Rejection, is_member, rejected};
use crate::{
    api::{
        Attestation, ModelDeployment, Team, VerifiedSigner,
        fingerprint::short,
        labels::{ATTESTER_GROUPS, MODEL_DEPLOYMENT_UID},
        reasons::counted,
    },
    candidate::Candidate,
    signing,
    trust::Author,
};

/// The groups the webhook recorded for the attester at admission.
pub fn recorded_groups(attestation: &Attestation) -> Vec<String> {
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
    pub(super) fn rejection(
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
