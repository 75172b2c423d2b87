//! The matching HandoffPolicies' rules on every sign-off: `require: Signed` and
//! `maxAge`.

use jiff::Timestamp;

use super::{Rejection, rejected, signature::given_at};
use crate::{
    api::{Attestation, reasons::counted},
    policy::SignOffRules,
};

/// Why a sign-off that is otherwise sound does not meet the matching policies' rules
/// (`require: Signed`, `maxAge`), or `None`.
pub(super) fn policy_rejection(
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
