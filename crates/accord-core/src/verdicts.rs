//! Attestation verdicts (pure): the `Counted` condition each Attestation for the
//! candidate should carry, from the gate's outcome, and which of them deserve an
//! `AttestationRejected` Event. Only changed verdicts are returned, so a converged
//! ModelDeployment writes no Attestation status.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;

use super::{
    candidate::Candidate,
    events::PlannedEvent,
    gate::{GateOutcome, is_for_candidate},
    status::{condition, set_condition},
};
use crate::api::{
    Attestation, AttestationStatus, ModelDeployment,
    conditions::COUNTED,
    reasons::{counted, event},
};

/// A verdict to write on one Attestation.
#[derive(Debug, Clone)]
pub struct VerdictWrite {
    pub attestation: Arc<Attestation>,
    /// Its status: conditions with `Counted` set, and the verified signer if signed.
    pub status: AttestationStatus,
    /// An `AttestationRejected` Event for the ModelDeployment, when it newly does not count.
    pub rejection: Option<PlannedEvent>,
}

/// Whether it counts, why, and a sentence for humans.
fn verdict(
    attestation: &Attestation,
    md: &ModelDeployment,
    gate: &GateOutcome,
) -> (bool, &'static str, String) {
    let name = attestation.metadata.name.as_deref().unwrap_or_default();
    if let Some(item) = gate.items.iter().find(|i| {
        // A sign-off carried from the upstream is another namespace's Attestation,
        // whatever its name.
        i.approvals
            .iter()
            .any(|a| a.attestation == name && a.carried_from.is_none())
    }) {
        let mut message = format!(
            "counts for item {} of version {}",
            item.id, md.spec.model.version
        );
        if let Some(needed) = item.min_approvals {
            message.push_str(&format!(
                " ({} of the {needed} distinct people it needs)",
                item.approvals.len().min(needed as usize)
            ));
        }
        return (true, counted::COUNTED, message);
    }
    if let Some((_, rejection)) = gate.rejected.iter().find(|(n, _)| n == name) {
        return (false, rejection.reason, rejection.message.clone());
    }
    let message = format!(
        "item {} is already attested by an earlier Attestation",
        attestation.spec.item
    );
    (false, counted::SUPERSEDED, message)
}

/// The verdicts that change, for the Attestations about `md`'s candidate (being
/// withdrawn ones excepted: they are about to disappear).
pub fn changed_verdicts(
    md: &ModelDeployment,
    candidate: &Candidate,
    gate: &GateOutcome,
    attestations: &[Arc<Attestation>],
    now: &Time,
) -> Vec<VerdictWrite> {
    attestations
        .iter()
        .filter(|a| is_for_candidate(a, md, candidate) && !a.is_withdrawn())
        .filter_map(|attestation| {
            let (counts, reason, message) = verdict(attestation, md, gate);
            let old_status = attestation.status.clone().unwrap_or_default();
            let old = &old_status.conditions;
            let mut conditions = old.clone();
            set_condition(
                &mut conditions,
                COUNTED,
                counts,
                reason,
                message.clone(),
                None,
                now,
            );
            let name = attestation.metadata.name.as_deref().unwrap_or_default();
            let status = AttestationStatus {
                conditions,
                verified_by: gate.verified.get(name).cloned(),
            };
            if status == old_status {
                return None;
            }
            let was_rejected =
                condition(old, COUNTED).is_some_and(|c| c.status == "False" && c.reason == reason);
            // Superseded and pre-failure sign-off are expected, not alarms: the
            // RolledBack Event already says the candidate failed.
            let quiet = [counted::SUPERSEDED, counted::ADMITTED_BEFORE_FAILURE];
            let announce = !counts && !quiet.contains(&reason) && !was_rejected;
            let rejection = announce.then(|| {
                let who = attestation.attester().unwrap_or("an unknown user");
                PlannedEvent {
                    related: Some(attestation.object_ref(&())),
                    ..PlannedEvent::warning(
                        event::ATTESTATION_REJECTED,
                        format!("attestation {name} by {who} does not count: {message}"),
                    )
                }
            });
            Some(VerdictWrite {
                attestation: attestation.clone(),
                status,
                rejection,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::ChecklistItemStatus,
        {
            candidate::current,
            gate::Rejection,
            testing::{attestation, md, time},
            trust::TrustAsWritten,
        },
    };

    fn changed_verdicts(
        md: &ModelDeployment,
        gate: &GateOutcome,
        attestations: &[Arc<Attestation>],
        now: &Time,
    ) -> Vec<VerdictWrite> {
        super::changed_verdicts(md, &current(md, &TrustAsWritten), gate, attestations, now)
    }

    fn gate() -> GateOutcome {
        GateOutcome {
            items: vec![ChecklistItemStatus {
                id: "drift".into(),
                attested: true,
                attestation: Some("a1".into()),
                approvals: vec![crate::api::ItemApproval {
                    carried_from: None,
                    attested_by: "alice".into(),
                    attestation: "a1".into(),
                }],
                ..Default::default()
            }],
            rejected: vec![(
                "bad".into(),
                Rejection {
                    reason: counted::NOT_A_MEMBER,
                    message: "mallory is not a member of team data-platform".into(),
                },
            )],
            ..Default::default()
        }
    }

    #[test]
    fn counted_rejected_and_superseded_attestations_each_get_their_verdict() {
        let md = md("2.4.0");
        let atts: Vec<Arc<Attestation>> = ["a1", "bad", "a22"]
            .iter()
            .map(|n| Arc::new(attestation(n, "drift", "2.4.0", "alice", &[])))
            .collect();
        let writes = changed_verdicts(&md, &gate(), &atts, &time(0));
        let summary: Vec<(String, String, bool)> = writes
            .iter()
            .map(|w| {
                (
                    w.attestation.metadata.name.clone().unwrap(),
                    w.status.conditions[0].reason.clone(),
                    w.rejection.is_some(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a1".into(), counted::COUNTED.into(), false),
                ("bad".into(), counted::NOT_A_MEMBER.into(), true),
                ("a22".into(), counted::SUPERSEDED.into(), false),
            ]
        );
        let note = &writes[1].rejection.as_ref().unwrap().note;
        assert!(
            note.contains("attestation bad by alice does not count"),
            "{note}"
        );
    }

    #[test]
    fn unchanged_verdicts_write_nothing_and_other_versions_are_ignored() {
        let md = md("2.4.0");
        let first = changed_verdicts(
            &md,
            &gate(),
            &[Arc::new(attestation("bad", "drift", "2.4.0", "alice", &[]))],
            &time(0),
        );
        let mut stored = attestation("bad", "drift", "2.4.0", "alice", &[]);
        stored.status = Some(first[0].status.clone());
        assert!(changed_verdicts(&md, &gate(), &[Arc::new(stored)], &time(60)).is_empty());
        let stale = Arc::new(attestation("a1", "drift", "2.3.0", "alice", &[]));
        assert!(changed_verdicts(&md, &gate(), &[stale], &time(0)).is_empty());
    }
}
