//! Test fixtures the subcommands' unit tests share: a ModelDeployment as the operator
//! records it while its candidate waits for sign-off, and alice's sign-off of it.

use accord_core::testing::md;

use crate::attest::sign::SignOff;

use crate::api::{ChecklistItemStatus, ModelDeployment, ModelDeploymentStatus, Phase};

/// `fraud-scorer` 2.4.0 waiting for sign-off over 2.3.1: `drift` attested by alice,
/// `latency` (ml-platform) and `kpis` (payments-app) still owed.
pub fn waiting() -> ModelDeployment {
    let mut m = md("2.4.0");
    m.status = Some(ModelDeploymentStatus {
        phase: Some(Phase::AwaitingAttestations),
        active_version: Some("2.3.1".into()),
        checklist: vec![
            ChecklistItemStatus {
                id: "drift".into(),
                owner: "data".into(),
                team: "data-platform".into(),
                required: true,
                attested: true,
                attested_by: Some("alice".into()),
                attestation: Some("a1".into()),
                ..Default::default()
            },
            ChecklistItemStatus {
                id: "latency".into(),
                owner: "platform".into(),
                team: "ml-platform".into(),
                required: true,
                ..Default::default()
            },
            ChecklistItemStatus {
                id: "kpis".into(),
                owner: "application".into(),
                team: "payments-app".into(),
                required: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    m
}

/// alice's sign-off of `drift` in `payments`, as the plugin's flags give it.
pub fn sign_off() -> SignOff {
    SignOff {
        namespace: "payments".into(),
        item: "drift".into(),
        evidence: Some("https://ci.example.com/runs/7".into()),
        comment: None,
        signer: "alice".into(),
        signed_at: "2026-11-28T10:00:00Z".into(),
    }
}
