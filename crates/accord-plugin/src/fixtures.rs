//! Test fixtures the subcommands' unit tests share: a ModelDeployment as the operator
//! records it while its candidate waits for sign-off, and alice's sign-off of it; the
//! same model in a chain of environments, and the history entries of its promotions;
//! Incidents of it, and its guards.

use accord_core::testing::{md, time};

use crate::attest::sign::SignOff;

use crate::api::{
    Answerer, ChecklistItemStatus, Guard, GuardAction, HistoryEntry, HistoryOutcome, Incident,
    IncidentPhase, IncidentSpec, IncidentStatus, ModelDeployment, ModelDeploymentStatus,
    Monitoring, Phase, Promotion, Role, TimelineEntry, UpstreamRef,
};

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

/// A promotion of `version` (as `md(version)` has it) at `at`, available without a
/// break since `since` (testing seconds).
pub fn history_entry(version: &str, at: i64, since: Option<i64>) -> HistoryEntry {
    let spec = md(version).spec;
    HistoryEntry {
        record: None,
        fingerprint: Some(spec.fingerprint()),
        artifact_fingerprint: Some(spec.artifact_fingerprint()),
        version: version.into(),
        image: spec.serving.serving_image(),
        digest: None,
        artifact: None,
        training_data_digest: None,
        outcome: HistoryOutcome::Promoted,
        at: time(at),
        reason: "Attested".into(),
        approvals: vec![],
        canary: None,
        auto_approval: None,
        serving: Some(spec.serving.clone()),
        available_at: since.map(time),
        available_since: since.map(time),
        upstream: None,
        seal: None,
    }
}

/// `fraud-scorer` with candidate `version` in namespace `ns`, coming from the
/// `fraud-scorer` of namespace `from` (carrying `drift`), shared with `downstream`.
pub fn in_environment(
    ns: &str,
    version: &str,
    from: Option<&str>,
    downstream: &[&str],
) -> ModelDeployment {
    let mut m = md(version);
    m.metadata.namespace = Some(ns.into());
    m.spec.promotion = Some(Promotion {
        from: from.map(|namespace| UpstreamRef {
            namespace: namespace.into(),
            name: "fraud-scorer".into(),
        }),
        soak: None,
        carry: if from.is_some() {
            vec!["drift".into()]
        } else {
            vec![]
        },
        downstream: downstream.iter().map(|d| d.to_string()).collect(),
    });
    m
}

/// Incident `name` of `fraud-scorer` 2.4.0 in `payments`, created at testing second
/// `created`, opened by the `error-rate` guard (owner ml-platform, accountable
/// payments-app), in `phase` (`None`: not recorded by the operator yet).
pub fn incident(name: &str, created: i64, phase: Option<IncidentPhase>) -> Incident {
    let mut incident = Incident::new(
        name,
        IncidentSpec {
            model_deployment: "fraud-scorer".into(),
            version: "2.4.0".into(),
            fingerprint: Some(md("2.4.0").spec.fingerprint()),
            guard: Some("error-rate".into()),
            summary: "error-rate 0.071 > 0.02 for 5m".into(),
            action: GuardAction::RollBack,
            opened_by: None,
            opened_as: None,
        },
    );
    incident.metadata.namespace = Some("payments".into());
    incident.metadata.creation_timestamp = Some(time(created));
    incident.status = phase.map(|phase| IncidentStatus {
        phase: Some(phase),
        owner: Some(Answerer {
            role: Role::Platform,
            team: "ml-platform".into(),
        }),
        accountable: Some(Answerer {
            role: Role::Application,
            team: "payments-app".into(),
        }),
        opened_at: Some(time(created)),
        timeline: vec![TimelineEntry {
            at: time(created),
            what: "Opened".into(),
            by: Some("accord".into()),
            message: Some("error-rate 0.071 is above the maximum 0.02".into()),
        }],
        ..Default::default()
    });
    incident
}

/// `spec.monitoring` with one guard, `error-rate` (owner platform, rolls back).
pub fn monitoring() -> Monitoring {
    Monitoring {
        address: "http://prometheus.monitoring:9090".into(),
        escalate_after: None,
        guards: vec![Guard {
            name: "error-rate".into(),
            query: "rate(errors{version=\"{{version}}\"}[5m])".into(),
            max_value: Some(0.02),
            min_value: None,
            for_: "5m".into(),
            interval_seconds: 30,
            owner: Role::Platform,
            action: GuardAction::RollBack,
        }],
    }
}
