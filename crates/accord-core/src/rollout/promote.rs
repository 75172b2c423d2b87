//! Promotion: the candidate is promoted when the gate is complete (directly, or through
//! a canary), recorded in history before anything is deployed; otherwise it waits.

use crate::events::EventType;

use crate::status::push_history;
use crate::{
    api::{
        CanaryRecord, HistoryEntry, HistoryOutcome, Phase,
        conditions::READY,
        reasons::{condition as reason, event, history},
    },
    timing::{elapsed, seconds},
};

use super::{ActiveHealth, Planner};

impl Planner<'_> {
    /// Step 4: what the candidate's state is. Returns whether it waits for sign-off.
    pub(super) fn decide_candidate(&mut self, health: &ActiveHealth) -> bool {
        let failed = self.candidate_failed();
        // Only a canary decided below keeps running.
        self.status.canary = None;
        match self.status.history.last().cloned() {
            Some(active) if !failed && self.fingerprint_of(&active) == self.fingerprint() => {
                self.report_active(&active, health);
                false
            }
            _ if self.canary_due() && !self.failed_now() => self.run_canary(),
            // Fresh sign-off (given after a failure) may promote a failed candidate again.
            // With a canary, promotion only ever follows a canary.
            _ if self.signed_off() && !crate::canary::applies(self.input.md) => {
                self.promote(None);
                false
            }
            Some(active) if failed => {
                self.report_failed(&active, health);
                false
            }
            _ => {
                self.await_sign_off();
                true
            }
        }
    }

    /// Every required item is attested (and the canary, if any, passed): record the
    /// promotion, with what the canary showed; the Deployment follows.
    pub(super) fn promote(&mut self, canary: Option<CanaryRecord>) {
        let candidate = self.spec().identity();
        let version = self.version();
        let fingerprint = self.fingerprint().to_string();
        self.status
            .failed_candidates
            .retain(|f| f.fingerprint != fingerprint);
        let entry = HistoryEntry {
            record: None,
            fingerprint: Some(fingerprint),
            artifact_fingerprint: Some(self.input.candidate.artifact.clone()),
            available_since: None,
            upstream: self.input.gate.upstream_evidence.clone(),
            seal: None,
            version: candidate.version.clone(),
            image: candidate.image.clone(),
            digest: candidate.digest.clone(),
            artifact: candidate.artifact.clone(),
            outcome: HistoryOutcome::Promoted,
            at: self.now(),
            reason: if self.input.gate.auto_approval.is_some() {
                history::AUTO_APPROVED.into()
            } else {
                history::ALL_ITEMS_ATTESTED.into()
            },
            approvals: self.input.gate.approvals.clone(),
            auto_approval: self.input.gate.auto_approval.clone(),
            canary,
            training_data_digest: self
                .spec()
                .model
                .training_data
                .as_ref()
                .map(|t| t.digest.clone()),
            serving: Some(self.spec().serving.clone()),
            available_at: None,
        };
        let mut approvers: Vec<String> = entry
            .approvals
            .iter()
            .map(|a| format!("{} ({})", a.attested_by, a.item))
            .collect();
        if let Some(auto) = &entry.auto_approval {
            approvers.extend(auto.items.iter().map(|i| {
                format!(
                    "{} rule {} ({}, patch release of {} trained on the same data)",
                    i.policy, i.rule, i.item, auto.baseline_version
                )
            }));
        }
        let previous = self
            .status
            .history
            .last()
            .map(|e| format!(", replacing {}", e.version))
            .unwrap_or_default();
        push_history(&mut self.status.history, entry);
        let note = format!(
            "promoted {version}{previous}; approved by {}",
            approvers.join(", ")
        );
        self.event(EventType::Normal, event::PROMOTED, note);
        self.signals.promoted = true;
        self.signals.sign_off_wait = self
            .status
            .candidate
            .as_ref()
            .map(|c| elapsed(&c.first_seen, &self.input.now));
        self.status.phase = Some(Phase::Promoting);
        let message = format!("version {version} is rolling out");
        self.condition(READY, false, reason::ROLLOUT_IN_PROGRESS, message);
        self.requeue_within(seconds(
            self.spec().rollback.progress_deadline_seconds.max(1),
        ));
    }

    /// Some required items are not attested: block, once per candidate.
    pub(super) fn await_sign_off(&mut self) {
        let version = self.version();
        let owed = self.input.gate.owed_message();
        self.status.phase = Some(Phase::AwaitingAttestations);
        let serving = self
            .status
            .history
            .last()
            .map(|e| format!("; {} keeps serving", e.version))
            .unwrap_or_default();
        let message = format!("{version} is not promoted: {owed}{serving}");
        let why = match &self.input.gate.upstream {
            Some(block) => block.reason,
            None => reason::AWAITING_ATTESTATIONS,
        };
        self.condition(READY, false, why, message);
        if let Some(soaked) = self.input.gate.upstream_requeue {
            self.requeue_within(soaked);
        }
        let tracking = self.status.candidate.as_mut().expect("tracked in step 1");
        if !tracking.blocked_reported {
            tracking.blocked_reported = true;
            let note = format!("{version} is not promoted until signed off: {owed}");
            self.event(EventType::Normal, event::PROMOTION_BLOCKED, note);
        }
    }
}
