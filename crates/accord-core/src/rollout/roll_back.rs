//! Rolling back by the plan: on a failed version (Automatic restores the last good one,
//! Manual degrades), or on an owner's `rollback-requested-at` annotation, once per value.

use crate::events::EventType;

use crate::api::{
    FailedCandidate, HistoryEntry, HistoryOutcome, RollbackMode,
    conditions::ROLLED_BACK,
    labels,
    reasons::{condition as reason, event, history},
};
use crate::status::push_history;

use super::{MAX_FAILED, Planner, describe};

impl Planner<'_> {
    /// Step 2: a manual rollback request; each distinct annotation value acts once.
    pub(super) fn act_on_rollback_request(&mut self) {
        let request = self
            .input
            .md
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::ROLLBACK_REQUESTED_AT))
            .cloned();
        let Some(request) = request else { return };
        if self.old.last_rollback_request.as_ref() == Some(&request) {
            return;
        }
        self.status.last_rollback_request = Some(request.clone());
        if self.abort_canary_on_request(&request) {
            return;
        }
        match self.roll_back(history::ROLLBACK_REQUESTED) {
            Some((failed, restored)) => {
                let note = format!(
                    "rolled back from {} to {} as requested ({} = {request})",
                    describe(&failed),
                    describe(&restored),
                    labels::ROLLBACK_REQUESTED_AT
                );
                self.event(EventType::Warning, event::ROLLED_BACK, note);
            }
            None => {
                let note = format!(
                    "rollback requested ({request}) but there is no earlier good version to restore"
                );
                self.event(EventType::Warning, event::ROLLBACK_UNAVAILABLE, note);
            }
        }
    }

    /// A promoted version failed (`why`): roll back by the plan, recording `reason`.
    /// Returns why it is degraded when nothing was restored.
    pub(super) fn act_on_failure(
        &mut self,
        why: String,
        reason: &'static str,
    ) -> Option<(&'static str, String)> {
        if self.spec().rollback.mode == RollbackMode::Manual {
            return Some((
                reason,
                format!(
                    "{why}; rollback mode is Manual: set the annotation {} to roll back",
                    labels::ROLLBACK_REQUESTED_AT
                ),
            ));
        }
        match self.roll_back(reason) {
            Some((_, restored)) => {
                let note = format!(
                    "{why}; rolled back to {} (rollback mode Automatic)",
                    describe(&restored)
                );
                self.event(EventType::Warning, event::ROLLED_BACK, note);
                None
            }
            None => Some((
                reason,
                format!("{why}, and there is no earlier good version to restore"),
            )),
        }
    }

    /// Step 6: `RolledBack` says whether the candidate was rolled back.
    pub(super) fn report_rollback(&mut self) {
        let last = self
            .status
            .history
            .last()
            .filter(|e| e.outcome == HistoryOutcome::RolledBack)
            .cloned();
        match last.filter(|_| self.candidate_failed()) {
            Some(last) => {
                let message = format!(
                    "version {} was rolled back to {} ({})",
                    self.version(),
                    last.version,
                    last.reason
                );
                self.condition(ROLLED_BACK, true, &last.reason, message);
            }
            None => self.condition(
                ROLLED_BACK,
                false,
                reason::NOT_ROLLED_BACK,
                "the candidate has not been rolled back",
            ),
        }
    }

    /// Appends a `RolledBack` entry restoring the latest known-good version before the
    /// active one, and remembers the candidate as failed when it was the one replaced.
    /// Returns (failed, restored), or `None` when there is nothing to restore.
    pub(super) fn roll_back(&mut self, reason: &str) -> Option<(HistoryEntry, HistoryEntry)> {
        let history = &self.status.history;
        let (failed, earlier) = history.split_last()?;
        let failed_fingerprint = self.fingerprint_of(failed);
        let target = earlier
            .iter()
            .rev()
            .find(|e| e.available_at.is_some() && self.fingerprint_of(e) != failed_fingerprint)?;
        let restored = HistoryEntry {
            outcome: HistoryOutcome::RolledBack,
            at: self.now(),
            reason: reason.to_string(),
            approvals: vec![],
            available_at: None,
            available_since: None,
            upstream: None,
            ..target.clone()
        };
        let failed = failed.clone();
        // A new entry: sealed and given its own record once decided.
        let restored = HistoryEntry {
            seal: None,
            record: None,
            ..restored
        };
        push_history(&mut self.status.history, restored.clone());
        self.signals.rolled_back = true;
        // Sign-off given until now never promotes the rolled-back candidate again.
        self.status
            .failed_candidates
            .retain(|f| f.fingerprint != failed_fingerprint);
        self.status.failed_candidates.push(FailedCandidate {
            fingerprint: failed_fingerprint,
            version: failed.version.clone(),
            failed_at: self.now(),
            artifact_fingerprint: failed.artifact_fingerprint.clone(),
        });
        let excess = self
            .status
            .failed_candidates
            .len()
            .saturating_sub(MAX_FAILED);
        self.status.failed_candidates.drain(..excess);
        Some((failed, restored))
    }
}
