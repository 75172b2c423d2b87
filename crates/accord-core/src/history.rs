//! Which history entries Accord wrote (pure). Every entry the operator writes carries
//! its seal; before deciding, entries whose seal does not verify — written into status
//! by someone else — are discarded, so a forged `Promoted` entry can never be deployed,
//! restored or named as an approver. After deciding, the entries the decision added
//! or changed are sealed.
//!
//! Migration: status written by an Accord from before history seals has no sealed entry
//! at all; such a history is adopted once, as it stands, and sealed.

use std::fmt::Write as _;

use super::{events::PlannedEvent, trust::Verifier};
use crate::api::{HistoryEntry, ModelDeployment, reasons::event};

/// The history a decision may build on, and an Event when entries were discarded.
pub struct Trusted {
    pub history: Vec<HistoryEntry>,
    pub discarded: Option<PlannedEvent>,
}

/// Keeps the entries of `md`'s history that Accord wrote.
pub fn trusted(md: &ModelDeployment, verifier: &dyn Verifier) -> Trusted {
    let history = md
        .status
        .as_ref()
        .map(|s| s.history.clone())
        .unwrap_or_default();
    if history.iter().all(|e| e.seal.is_none()) {
        return Trusted {
            history,
            discarded: None,
        };
    }
    let (kept, forged): (Vec<HistoryEntry>, Vec<HistoryEntry>) = history
        .into_iter()
        .partition(|entry| verifier.history_verifies(md, entry));
    let discarded = (!forged.is_empty()).then(|| {
        let mut note = String::from(
            "discarded status.history entries that Accord did not write (their seal does not verify); they are never deployed:",
        );
        for entry in &forged {
            let _ = write!(note, " {:?} {} ({}) at {};", entry.outcome, entry.version, entry.image, entry.at.0);
        }
        PlannedEvent::warning(event::HISTORY_DISCARDED, note)
    });
    Trusted {
        history: kept,
        discarded,
    }
}

/// Seals every entry whose seal does not verify: the ones this decision added or
/// changed (all others were verified, or adopted, before it).
pub fn seal(md: &ModelDeployment, history: &mut [HistoryEntry], verifier: &dyn Verifier) {
    for entry in history {
        if !verifier.history_verifies(md, entry) {
            entry.seal = verifier.seal_history(md, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{HistoryOutcome, ModelDeploymentStatus},
        testing::{Verify, md, time},
    };

    fn entry(version: &str) -> HistoryEntry {
        HistoryEntry {
            record: None,
            artifact_fingerprint: None,
            available_since: None,
            upstream: None,
            fingerprint: None,
            version: version.into(),
            image: format!("img:{version}"),
            digest: None,
            artifact: None,
            outcome: HistoryOutcome::Promoted,
            at: time(0),
            reason: "AllItemsAttested".into(),
            approvals: vec![],
            auto_approval: None,
            canary: None,
            training_data_digest: None,
            serving: None,
            available_at: None,
            seal: None,
        }
    }

    fn with_history(history: Vec<HistoryEntry>) -> ModelDeployment {
        let mut m = md("2.4.0");
        m.status = Some(ModelDeploymentStatus {
            history,
            ..Default::default()
        });
        m
    }

    #[test]
    fn an_unsealed_history_from_before_seals_is_adopted_then_sealed() {
        let m = with_history(vec![entry("1.0.0"), entry("2.0.0")]);
        let mut trusted = trusted(&m, &Verify::default());
        assert_eq!(trusted.history.len(), 2);
        assert!(trusted.discarded.is_none());
        seal(&m, &mut trusted.history, &Verify::default());
        assert!(
            trusted
                .history
                .iter()
                .all(|e| Verify::default().history_verifies(&m, e))
        );
    }

    #[test]
    fn once_sealed_an_entry_without_a_valid_seal_is_discarded() {
        let verify = Verify::default();
        let m = with_history(vec![entry("1.0.0")]);
        let mut sealed = trusted(&m, &verify).history;
        seal(&m, &mut sealed, &verify);
        let mut forged = entry("6.6.6");
        forged.image = "evil:1".into();
        let mut tampered = sealed[0].clone();
        tampered.image = "evil:2".into();
        sealed.push(forged);
        sealed.push(tampered);
        let m = with_history(sealed);
        let trusted = trusted(&m, &verify);
        assert_eq!(trusted.history.len(), 1);
        assert_eq!(trusted.history[0].version, "1.0.0");
        let note = trusted.discarded.expect("an Event").note;
        assert!(note.contains("6.6.6") && note.contains("evil:2"), "{note}");
    }
}
