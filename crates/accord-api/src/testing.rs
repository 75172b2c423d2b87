//! Fixtures for tests: API objects as the API server would store them — three Teams,
//! `fraud-scorer` with one item per role, and Attestations of it. Built only for tests
//! (and for the layers above with the `testing` feature).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::{
    Attestation, AttestationSpec, ChecklistItem, Handoff, ModelDeployment, ModelDeploymentSpec,
    ModelRef, Owners, Role, RollbackMode, RollbackPlan, Serving, Team, TeamMembers, TeamSpec,
    labels::ATTESTER_GROUPS,
};

/// A timestamp `secs` seconds after an arbitrary fixed instant.
pub fn time(secs: i64) -> Time {
    Time(jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap())
}

pub fn team(name: &str, users: &[&str], groups: &[&str]) -> Team {
    let mut team = Team::new(
        name,
        TeamSpec {
            description: None,
            members: TeamMembers {
                users: users.iter().map(|s| s.to_string()).collect(),
                groups: groups.iter().map(|s| s.to_string()).collect(),
            },
            contacts: vec![format!("slack:#{name}")],
            ..Default::default()
        },
    );
    team.metadata.uid = Some(format!("uid-{name}"));
    team
}

/// `fraud-scorer` in `payments` with one required item per role: drift, latency, kpis.
pub fn md(version: &str) -> ModelDeployment {
    let mut md = ModelDeployment::new(
        "fraud-scorer",
        ModelDeploymentSpec {
            owners: Owners {
                data: "data-platform".into(),
                platform: "ml-platform".into(),
                application: "payments-app".into(),
            },
            model: ModelRef {
                name: "fraud-scorer".into(),
                version: version.into(),
                artifact: None,
                digest: None,
                training_data: None,
            },
            serving: Serving {
                image: Some(format!("registry.example.com/fraud-scorer:{version}")),
                replicas: 2,
                port: Some(8080),
                ..Default::default()
            },
            handoff: Handoff {
                checklist: [
                    ("drift", Role::Data),
                    ("latency", Role::Platform),
                    ("kpis", Role::Application),
                ]
                .into_iter()
                .map(|(id, owner)| ChecklistItem {
                    id: id.into(),
                    owner,
                    description: None,
                    required: true,
                    after: None,
                })
                .collect(),
                escalate_after: None,
            },
            rollout: None,
            promotion: None,
            monitoring: None,
            rollback: RollbackPlan {
                mode: RollbackMode::Automatic,
                progress_deadline_seconds: 60,
            },
        },
    );
    md.metadata.namespace = Some("payments".into());
    md.metadata.uid = Some("uid-md".into());
    md.metadata.generation = Some(1);
    md
}

pub fn attestation(
    name: &str,
    item: &str,
    version: &str,
    user: &str,
    groups: &[&str],
) -> Attestation {
    Attestation {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("payments".into()),
            creation_timestamp: Some(time(name.len() as i64)),
            annotations: Some(BTreeMap::from([(
                ATTESTER_GROUPS.to_string(),
                groups.join(","),
            )])),
            ..Default::default()
        },
        spec: AttestationSpec {
            model_deployment: "fraud-scorer".into(),
            item: item.into(),
            version: version.into(),
            candidate: Some(md(version).spec.fingerprint()),
            attested_by: Some(user.into()),
            ..Default::default()
        },
        status: None,
    }
}
