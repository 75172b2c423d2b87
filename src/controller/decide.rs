//! The whole decision for one ModelDeployment (pure): from what was observed, which
//! attestations count ([`gate`]), what happens next ([`rollout`]), and exactly which
//! writes that takes — none when everything already matches. The reconcile driver
//! only carries these out.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Service},
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::ResourceExt;

use super::{
    desired,
    gate::{self, AttestationVerifier},
    observe::Observed,
    rollout::{self, Plan, PlanInput},
    verdicts::{VerdictWrite, changed_verdicts},
};
use crate::api::{ModelDeployment, ModelDeploymentStatus, Role};

/// What to do about the Service of the same name.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceWrite {
    /// Apply this Service.
    Apply(Box<Service>),
    /// Delete ours: the serving shape no longer names a port.
    Delete,
}

/// The writes a decision takes, in the order they are made.
#[derive(Debug, Clone, Default)]
pub struct Writes {
    /// Owner labels for the ModelDeployment itself.
    pub labels: Option<BTreeMap<String, String>>,
    pub deployment: Option<Deployment>,
    pub service: Option<ServiceWrite>,
    pub status: Option<ModelDeploymentStatus>,
}

impl Writes {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.labels.is_none()
            && self.deployment.is_none()
            && self.service.is_none()
            && self.status.is_none()
    }
}

/// One ModelDeployment's decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub plan: Plan,
    pub writes: Writes,
    /// Attestation verdicts that change.
    pub verdicts: Vec<VerdictWrite>,
}

/// Owner roles whose Team does not exist, with the Team name.
pub fn missing_teams(md: &ModelDeployment, observed: &Observed) -> Vec<(Role, String)> {
    Role::ALL
        .into_iter()
        .map(|role| (role, md.spec.owners.team_for(role).to_string()))
        .filter(|(_, team)| observed.team(team).is_none())
        .collect()
}

/// Each existing owner Team's contacts, for escalation messages.
pub fn contacts(observed: &Observed) -> BTreeMap<String, Vec<String>> {
    observed
        .teams
        .iter()
        .filter_map(|(name, team)| Some((name.clone(), team.as_ref()?.spec.contacts.clone())))
        .collect()
}

/// Decides `md` from what was observed at `now`.
pub fn decide(
    md: &ModelDeployment,
    observed: &Observed,
    verifier: &dyn AttestationVerifier,
    now: Time,
) -> Decision {
    let lookup = |name: &str| observed.team(name);
    let gate = gate::evaluate(
        md,
        observed.attestations.iter().map(AsRef::as_ref),
        &lookup,
        verifier,
    );
    let input = PlanInput {
        md,
        gate: &gate,
        missing_teams: missing_teams(md, observed),
        contacts: contacts(observed),
        deployment: observed.deployment.clone(),
        now: now.clone(),
    };
    let plan = rollout::plan(&input);
    let writes = writes(md, observed, &plan);
    let verdicts = changed_verdicts(md, &gate, &observed.attestations, &now);
    Decision {
        plan,
        writes,
        verdicts,
    }
}

/// What differs between the plan and what is there.
fn writes(md: &ModelDeployment, observed: &Observed, plan: &Plan) -> Writes {
    let owner_labels = desired::owner_labels(md);
    let current = md.labels();
    let labels = owner_labels
        .iter()
        .any(|(k, v)| current.get(k) != Some(v))
        .then_some(owner_labels);
    let mut writes = Writes {
        labels,
        ..Default::default()
    };
    if let Some(active) = &plan.serve {
        let want = desired::desired_deployment(md, active, &plan.status.history);
        let live = observed.deployment.as_ref().and_then(|d| d.hash.as_deref());
        if live != desired::recorded_hash(&want.metadata) {
            writes.deployment = Some(want);
        }
        let live_service = observed.service.as_ref();
        writes.service = match desired::desired_service(md, active) {
            Some(want) => {
                let live = live_service.and_then(|s| s.hash.as_deref());
                (live != desired::recorded_hash(&want.metadata))
                    .then(|| ServiceWrite::Apply(Box::new(want)))
            }
            None => live_service
                .is_some_and(|s| s.ours)
                .then_some(ServiceWrite::Delete),
        };
    }
    if md.status.as_ref() != Some(&plan.status) {
        writes.status = Some(plan.status.clone());
    }
    writes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        api::Phase,
        controller::{
            gate::TrustAsWritten,
            observe::{DeploymentObservation, ServiceObservation},
            testing::{attestation, md, team, time},
        },
    };

    fn teams() -> BTreeMap<String, Option<Arc<Team>>> {
        [
            team("data-platform", &[], &["data-platform-eng"]),
            team("ml-platform", &["bob"], &[]),
            team("payments-app", &["carol"], &[]),
        ]
        .into_iter()
        .map(|t| (t.name_any(), Some(Arc::new(t))))
        .collect()
    }

    use crate::api::Team;

    /// Takes `md` through promotion to Serving, storing each decision's status and
    /// feeding back what the Deployment and Service would report.
    fn converge(md: &mut ModelDeployment, observed: &mut Observed) -> Decision {
        let mut last = None;
        for t in 0..4 {
            let decision = decide(md, observed, &TrustAsWritten, time(t));
            if let Some(labels) = &decision.writes.labels {
                md.metadata.labels = Some(labels.clone());
            }
            if let Some(deployment) = &decision.writes.deployment {
                observed.deployment = Some(DeploymentObservation {
                    hash: desired::recorded_hash(&deployment.metadata).map(String::from),
                    rollout_complete: true,
                });
            }
            if let Some(ServiceWrite::Apply(service)) = &decision.writes.service {
                observed.service = Some(ServiceObservation {
                    hash: desired::recorded_hash(&service.metadata).map(String::from),
                    ours: true,
                });
            }
            if let Some(status) = &decision.writes.status {
                md.status = Some(status.clone());
            }
            let mut attestations = Vec::new();
            for att in &observed.attestations {
                let mut att = (**att).clone();
                if let Some(v) = decision
                    .verdicts
                    .iter()
                    .find(|v| v.attestation.metadata.name == att.metadata.name)
                {
                    att.status = Some(crate::api::AttestationStatus {
                        conditions: v.conditions.clone(),
                    });
                }
                attestations.push(Arc::new(att));
            }
            observed.attestations = attestations;
            last = Some(decision);
        }
        last.expect("decided")
    }

    fn signed_off() -> Observed {
        Observed {
            teams: teams(),
            attestations: vec![
                Arc::new(attestation(
                    "a1",
                    "drift",
                    "2.4.0",
                    "alice",
                    &["data-platform-eng"],
                )),
                Arc::new(attestation("a2", "latency", "2.4.0", "bob", &[])),
                Arc::new(attestation("a3", "kpis", "2.4.0", "carol", &[])),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn a_signed_off_candidate_writes_everything_once_then_nothing() {
        let mut m = md("2.4.0");
        let mut observed = signed_off();
        let first = decide(&m, &observed, &TrustAsWritten, time(0));
        assert!(first.writes.labels.is_some());
        assert!(first.writes.deployment.is_some());
        assert!(matches!(first.writes.service, Some(ServiceWrite::Apply(_))));
        assert!(first.writes.status.is_some());
        assert_eq!(first.verdicts.len(), 3);

        let last = converge(&mut m, &mut observed);
        assert_eq!(m.status.as_ref().unwrap().phase, Some(Phase::Serving));
        assert!(
            last.writes.is_empty(),
            "a converged ModelDeployment writes nothing: {:?}",
            last.writes
        );
        assert!(last.verdicts.is_empty());
        assert!(last.plan.events.is_empty());
    }

    #[test]
    fn a_changed_deployment_is_applied_again_and_nothing_else() {
        let mut m = md("2.4.0");
        let mut observed = signed_off();
        converge(&mut m, &mut observed);
        observed.deployment.as_mut().unwrap().hash = Some("edited".into());
        let decision = decide(&m, &observed, &TrustAsWritten, time(10));
        assert!(decision.writes.deployment.is_some());
        assert!(decision.writes.service.is_none());
        assert!(decision.writes.labels.is_none());
    }

    #[test]
    fn missing_teams_are_named_with_their_role() {
        let m = md("2.4.0");
        let mut observed = signed_off();
        observed.teams.insert("ml-platform".into(), None);
        assert_eq!(
            missing_teams(&m, &observed),
            [(Role::Platform, "ml-platform".to_string())]
        );
        assert!(!contacts(&observed).contains_key("ml-platform"));
        assert_eq!(contacts(&observed)["payments-app"], ["slack:#payments-app"]);
    }

    #[test]
    fn only_an_owned_service_is_deleted_when_the_port_goes() {
        let mut m = md("2.4.0");
        let mut observed = signed_off();
        converge(&mut m, &mut observed);
        m.spec.serving.port = None;
        let decision = decide(&m, &observed, &TrustAsWritten, time(20));
        assert_eq!(decision.writes.service, Some(ServiceWrite::Delete));
        observed.service.as_mut().unwrap().ours = false;
        let decision = decide(&m, &observed, &TrustAsWritten, time(20));
        assert_eq!(decision.writes.service, None);
    }
}
