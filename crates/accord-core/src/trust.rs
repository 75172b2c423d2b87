//! How the reconcilers tell what Accord itself admitted or wrote from what someone
//! else did: the webhook's seals on Attestations and on the record of who introduced
//! a candidate, and the operator's own seals on history entries. A trait, so the pure
//! decisions can be tested with any answer, and so a cluster without the webhook
//! (`--trust-unsealed-attestations`) can say "trust as written".

use crate::api::{Attestation, HistoryEntry, ModelDeployment};

/// Who introduced the candidate, as far as Accord can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(any(test, feature = "testing"), derive(Default))]
pub enum Author {
    /// The webhook's sealed record names this user.
    Known(String),
    /// There is no valid record: why, for humans. Nothing counts until there is one.
    Unknown(String),
    /// Authorship is not checked (no webhook).
    #[cfg_attr(any(test, feature = "testing"), default)]
    Unchecked,
}

/// What Accord can verify.
pub trait Verifier: Send + Sync {
    /// `None` when the attestation's seal verifies, else why not.
    fn reject(&self, attestation: &Attestation) -> Option<String>;

    /// Whether `spec.team` may stand in for group membership when the attestation
    /// records no groups. Only a verifier that trusts clients says yes.
    fn trusts_recorded_team(&self) -> bool {
        false
    }

    /// Who introduced `fingerprint`, the candidate `md` names.
    fn candidate_author(&self, md: &ModelDeployment, fingerprint: &str) -> Author;

    /// The seal for a history entry of `md`; `None` when entries are not sealed.
    fn seal_history(&self, md: &ModelDeployment, entry: &HistoryEntry) -> Option<String>;

    /// Whether a history entry of `md` carries a valid seal.
    fn history_verifies(&self, md: &ModelDeployment, entry: &HistoryEntry) -> bool;
}

/// Accepts everything as written: `spec.attestedBy` and `spec.team` are trusted, and
/// nothing is sealed. For clusters without Accord's admission webhook only.
pub struct TrustAsWritten;

impl Verifier for TrustAsWritten {
    fn reject(&self, _: &Attestation) -> Option<String> {
        None
    }

    fn trusts_recorded_team(&self) -> bool {
        true
    }

    fn candidate_author(&self, _: &ModelDeployment, _: &str) -> Author {
        Author::Unchecked
    }

    fn seal_history(&self, _: &ModelDeployment, _: &HistoryEntry) -> Option<String> {
        None
    }

    fn history_verifies(&self, _: &ModelDeployment, _: &HistoryEntry) -> bool {
        true
    }
}
