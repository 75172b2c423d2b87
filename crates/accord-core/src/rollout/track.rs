//! Tracking the candidate: when it was first seen, whether it failed before (and so
//! may not be promoted again until the spec names a new one), and an invalid spec.

use crate::events::EventType;

use crate::api::{
    CandidateTracking, FailedCandidate, Phase,
    conditions::{ESCALATED, HANDOFF_COMPLETE, READY, ROLLED_BACK},
    reasons::{condition as reason, event},
};
use crate::status::{self};

use crate::trust::Author;

use super::Planner;

impl Planner<'_> {
    /// Step 1: the candidate's bookkeeping, the checklist and `HandoffComplete`.
    /// A new candidate identity starts a new sign-off wait; a failure is forgotten
    /// once the spec names a different candidate.
    pub(super) fn track_candidate(&mut self) {
        let candidate = self.input.candidate;
        let gate = self.input.gate;
        self.status.observed_generation = self.input.md.metadata.generation;
        self.status.candidate_version = Some(self.version().to_string());
        let tracked = self.status.candidate.as_ref();
        let same = tracked.is_some_and(|t| t.fingerprint.as_deref() == Some(self.fingerprint()));
        let tracking = match self.status.candidate.take() {
            // Tracked before fingerprints existed, and still the same: adopted as is.
            Some(old) if same || candidate.legacy_attestations => CandidateTracking {
                fingerprint: Some(candidate.fingerprint.clone()),
                artifact_fingerprint: Some(candidate.artifact.clone()),
                legacy_attestations: candidate.legacy_attestations,
                ..old
            },
            _ => CandidateTracking {
                fingerprint: Some(candidate.fingerprint.clone()),
                artifact_fingerprint: Some(candidate.artifact.clone()),
                identity: self.spec().identity(),
                author: None,
                legacy_attestations: false,
                first_seen: self.now(),
                blocked_reported: false,
                escalated: false,
            },
        };
        let author = match &candidate.author {
            Author::Known(user) => Some(user.clone()),
            _ => None,
        };
        self.status.candidate = Some(CandidateTracking { author, ..tracking });
        self.migrate_failed_candidate();
        self.status.checklist = gate.items.clone();
        self.status.policies = gate.policies.clone();
        self.status.pending_items = gate.pending() as i32;
        let version = self.version();
        if gate.complete() {
            let message = format!("every required item is attested for {version}");
            self.condition(HANDOFF_COMPLETE, true, reason::ALL_ITEMS_ATTESTED, message);
        } else {
            let message = format!("{version} waits for sign-off: {}", gate.owed_message());
            self.condition(
                HANDOFF_COMPLETE,
                false,
                reason::ATTESTATIONS_PENDING,
                message,
            );
        }
    }

    /// A failure recorded by an Accord from before fingerprints becomes a failure of
    /// the candidate fingerprint (when it is the same candidate), then is dropped.
    pub(super) fn migrate_failed_candidate(&mut self) {
        let Some(legacy) = self.status.failed_candidate.take() else {
            return;
        };
        if legacy == self.spec().identity()
            && let Some(failed_at) = self.input.candidate.failed_at.clone()
            && !self.candidate_failed()
        {
            self.status.failed_candidates.push(FailedCandidate {
                fingerprint: self.fingerprint().to_string(),
                version: legacy.version,
                failed_at,
                artifact_fingerprint: None,
            });
        }
    }

    /// Bad input (an owner Team is missing, a name is taken): say so and leave
    /// whatever runs untouched.
    pub(super) fn report_invalid(&mut self) {
        let (reason, event_reason, message) = if self.input.missing_teams.is_empty() {
            let message = format!(
                "{} exists and is not controlled by this ModelDeployment: Accord never adopts or changes it; \
                 delete or rename it; the active version keeps serving",
                self.input.name_conflicts.join(" and ")
            );
            (reason::NAME_CONFLICT, event::NAME_CONFLICT, message)
        } else {
            let missing: Vec<String> = self
                .input
                .missing_teams
                .iter()
                .map(|(role, team)| format!("{team} (the {role} owner)"))
                .collect();
            let message = format!(
                "owner Team {} does not exist: create it or correct spec.owners; the active version keeps serving",
                missing.join(" and ")
            );
            (reason::UNKNOWN_TEAM, event::UNKNOWN_TEAM, message)
        };
        let was = status::condition(&self.old.conditions, READY).map(|c| c.reason.clone());
        self.status.phase = Some(Phase::Invalid);
        self.condition(READY, false, reason, message.clone());
        for type_ in [ROLLED_BACK, ESCALATED] {
            if status::condition(&self.status.conditions, type_).is_none() {
                self.condition(type_, false, reason::INVALID, "the spec cannot be acted on");
            }
        }
        if self.old.phase != Some(Phase::Invalid) || was.as_deref() != Some(reason) {
            self.event(EventType::Warning, event_reason, message);
        }
    }
}
