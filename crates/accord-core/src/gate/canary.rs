//! Sign-off on canary evidence: an item marked `after: Canary` counts only sign-off
//! given after the candidate's canary became available.

use super::{Judge, Rejection, rejected, signature::given_at};
use crate::{
    api::{Attestation, reasons::counted},
    policy::Requirement,
};

impl Judge<'_> {
    /// An item on canary evidence counts only sign-off given after the canary of this
    /// candidate became available (until the candidate is promoted: then it was
    /// judged so already).
    pub(super) fn canary_rejection(
        &self,
        attestation: &Attestation,
        item: &Requirement,
    ) -> Option<Rejection> {
        if !item.after_canary {
            return None;
        }
        let status = self.md.status.as_ref()?;
        let promoted = status
            .history
            .last()
            .is_some_and(|e| e.fingerprint_in(&self.md.spec) == self.candidate.fingerprint);
        if promoted || !crate::canary::applies(self.md) {
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
