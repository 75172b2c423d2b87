//! The current candidate (pure): its fingerprint, who introduced it, whether and when
//! it failed before, and whether attestations admitted before fingerprints existed
//! still count for it. Computed once per reconcile, before the gate.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::trust::{Author, Verifier};
use crate::api::{HistoryOutcome, ModelDeployment};

/// An upstream sign-off offered to carry ([`crate::upstream`]): it counted upstream
/// for this candidate's artifact and still verifies there. The gate decides whether it
/// counts here.
#[derive(Debug, Clone)]
pub struct Offered {
    pub item: String,
    pub attested_by: String,
    /// The groups recorded for the attester at admission (for membership here).
    pub groups: Vec<String>,
    pub attestation: std::sync::Arc<crate::api::Attestation>,
    pub from: crate::api::CarriedFrom,
}

/// What the spec names as the candidate, and what is known about it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its candidate fingerprint: what a sign-off is about.
    pub fingerprint: String,
    /// Who introduced it; they may not attest it.
    pub author: Author,
    /// When it was last rolled back, if ever: attestations admitted until then never
    /// promote it again.
    pub failed_at: Option<Time>,
    /// Attestations without `spec.candidate` (admitted before fingerprints) count for
    /// it: it is the candidate they were admitted for, unchanged since.
    pub legacy_attestations: bool,
    /// Its artifact fingerprint (the model and images, no configuration).
    pub artifact: String,
    /// Upstream sign-offs offered to carry, by item ([`crate::upstream`]); the gate
    /// decides which count here.
    pub carried: std::collections::BTreeMap<String, Vec<Offered>>,
    /// Items of `spec.promotion.carry` with nothing to carry, and why.
    pub not_carried: std::collections::BTreeMap<String, String>,
}

/// The candidate `md` names now.
pub fn current(md: &ModelDeployment, verifier: &dyn Verifier) -> Candidate {
    let fingerprint = md.spec.fingerprint();
    let status = md.status.clone().unwrap_or_default();
    let identity = md.spec.identity();
    let failed_at = status
        .failed_candidates
        .iter()
        .rev()
        .find(|f| f.fingerprint == fingerprint)
        .map(|f| f.failed_at.clone())
        .or_else(|| {
            // Recorded by an Accord from before fingerprints: it failed at its rollback.
            status
                .failed_candidate
                .as_ref()
                .filter(|f| **f == identity)?;
            status
                .history
                .iter()
                .rev()
                .find(|e| e.outcome == HistoryOutcome::RolledBack)
                .map(|e| e.at.clone())
        });
    let legacy_attestations = match &status.candidate {
        Some(tracking) => match &tracking.fingerprint {
            None => tracking.identity == identity,
            Some(tracked) => *tracked == fingerprint && tracking.legacy_attestations,
        },
        None => false,
    };
    Candidate {
        author: verifier.candidate_author(md, &fingerprint),
        fingerprint,
        failed_at,
        legacy_attestations,
        artifact: md.spec.artifact_fingerprint(),
        carried: Default::default(),
        not_carried: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{CandidateTracking, FailedCandidate, ModelDeploymentStatus},
        {
            testing::{md, time},
            trust::TrustAsWritten,
        },
    };

    fn tracked(
        m: &ModelDeployment,
        fingerprint: Option<String>,
        legacy: bool,
    ) -> CandidateTracking {
        CandidateTracking {
            artifact_fingerprint: None,
            fingerprint,
            identity: m.spec.identity(),
            author: None,
            legacy_attestations: legacy,
            first_seen: time(0),
            blocked_reported: false,
            escalated: false,
        }
    }

    #[test]
    fn a_candidate_tracked_before_fingerprints_keeps_its_attestations_until_it_changes() {
        let mut m = md("2.4.0");
        m.status = Some(ModelDeploymentStatus {
            candidate: Some(tracked(&m, None, false)),
            ..Default::default()
        });
        assert!(current(&m, &TrustAsWritten).legacy_attestations);
        // The adopted candidate keeps the flag while its fingerprint is unchanged …
        let fingerprint = m.spec.fingerprint();
        m.status.as_mut().unwrap().candidate = Some(tracked(&m, Some(fingerprint), true));
        assert!(current(&m, &TrustAsWritten).legacy_attestations);
        // … and loses it for any other candidate.
        m.spec.serving.image = Some("evil:1".into());
        assert!(!current(&m, &TrustAsWritten).legacy_attestations);
        // A legacy record of another identity never adopts.
        let mut other = md("2.4.0");
        let mut stale = tracked(&other, None, false);
        stale.identity.image = "old:1".into();
        other.status = Some(ModelDeploymentStatus {
            candidate: Some(stale),
            ..Default::default()
        });
        assert!(!current(&other, &TrustAsWritten).legacy_attestations);
    }

    #[test]
    fn a_failure_is_remembered_by_fingerprint() {
        let mut m = md("2.4.0");
        let fingerprint = m.spec.fingerprint();
        m.status = Some(ModelDeploymentStatus {
            failed_candidates: vec![FailedCandidate {
                artifact_fingerprint: None,
                fingerprint: fingerprint.clone(),
                version: "2.4.0".into(),
                failed_at: time(50),
            }],
            ..Default::default()
        });
        let candidate = current(&m, &TrustAsWritten);
        assert_eq!(candidate.fingerprint, fingerprint);
        assert_eq!(candidate.failed_at, Some(time(50)));
        m.spec.serving.replicas = 7;
        assert_eq!(
            current(&m, &TrustAsWritten).failed_at,
            Some(time(50)),
            "an operational change is the same candidate"
        );
        m.spec.serving.image = Some("other:1".into());
        assert_eq!(current(&m, &TrustAsWritten).failed_at, None);
    }
}
