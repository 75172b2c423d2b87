//! Signed sign-offs: a signature checked against the owning Team's keys as they are
//! now, and when a sign-off was given (its signed time, else its creation).

use jiff::Timestamp;

use super::{Judge, Rejection};
use crate::{
    api::{Attestation, Team, VerifiedSigner, reasons::counted},
    signing,
};

impl Judge<'_> {
    /// A signed attestation's signature, checked against `team`'s keys as they are now.
    pub(super) fn signature(
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

/// When a sign-off was given: `signedAt` for a signed one, else its creation.
pub(super) fn given_at(attestation: &Attestation) -> Option<Timestamp> {
    match &attestation.spec.signature {
        Some(signature) => signing::parse_signed_at(&signature.signed_at).ok(),
        None => attestation
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0),
    }
}
