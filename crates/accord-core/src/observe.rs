//! What one decision reads (pure values): the ModelDeployment's owner Teams, its
//! Attestations and the objects named like it, as the operator took them from its
//! caches. The decision that follows ([`crate::decide`]) reads nothing else.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::ResourceExt;

use super::desired;
use crate::{
    api::{
        Attestation, HandoffPolicy, Incident, Measurement, ModelDeployment, RollbackDrill, Team,
    },
    policy::{self, Effective},
};

/// What the managed Deployment reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentObservation {
    /// The [`crate::api::labels::SERVING_HASH`] annotation of the live Deployment.
    pub hash: Option<String>,
    /// The Deployment controller has observed the latest spec and every replica is
    /// updated and available (what `kubectl rollout status` waits for).
    pub rollout_complete: bool,
    /// Pods Ready (available), and the replicas wanted.
    pub ready: i32,
    pub want: i32,
}

/// Everything one decision reads about the world.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Each owner Team name, with the Team as it is now (`None`: it does not exist).
    pub teams: BTreeMap<String, Option<Arc<Team>>>,
    /// Attestations naming this ModelDeployment in its namespace, any candidate.
    pub attestations: Vec<Arc<Attestation>>,
    /// The Deployment of the ModelDeployment's name, if one is known.
    pub deployment: Option<Arc<Deployment>>,
    /// The Service of the ModelDeployment's name, if one is known.
    pub service: Option<Arc<Service>>,
    /// The canary Deployment (`<name>-canary`), if one is known.
    pub canary: Option<Arc<Deployment>>,
    /// A measurement of the canary's analysis, taken for this reconcile when due.
    pub measurement: Option<Measurement>,
    /// Objects of the managed names that exist but are not controlled by this
    /// ModelDeployment, found by a live read before creating (e.g. "Deployment ns/name").
    pub foreign: Vec<String>,
    /// Every HandoffPolicy (those that do not select this ModelDeployment are ignored).
    pub policies: Vec<Arc<HandoffPolicy>>,
    /// The labels of the ModelDeployment's namespace, for policies' namespace selectors.
    pub namespace_labels: BTreeMap<String, String>,
    /// The upstream `spec.promotion.from` names, when it names one.
    pub upstream: Option<UpstreamObserved>,
    /// Root-cause analyses (Attestations with `spec.incident`) naming this
    /// ModelDeployment; they are about Incidents, never about a candidate, so they are
    /// kept apart from `attestations`.
    pub analyses: Vec<Arc<Attestation>>,
    /// Incidents about this ModelDeployment.
    pub incidents: Vec<Arc<Incident>>,
    /// The guards' readings taken for this reconcile (those that were due).
    pub readings: Vec<crate::guards::Reading>,
    /// RollbackDrills of this ModelDeployment (their runs are what a policy's
    /// `drills.maxAge` asks for).
    pub drills: Vec<Arc<RollbackDrill>>,
}

/// The upstream environment's ModelDeployment as the operator's caches hold it.
#[derive(Debug, Clone, Default)]
pub struct UpstreamObserved {
    /// The ModelDeployment `spec.promotion.from` names (`None`: it does not exist).
    pub md: Option<Arc<ModelDeployment>>,
    /// Attestations naming it in its namespace.
    pub attestations: Vec<Arc<Attestation>>,
    /// Its owner Teams by name, as they are now.
    pub teams: BTreeMap<String, Option<Arc<Team>>>,
}

impl Observed {
    /// The ModelDeployment's checklist with the matching policies applied.
    pub fn effective(&self, md: &ModelDeployment) -> Effective {
        policy::effective(
            md,
            &self.namespace_labels,
            self.policies.iter().map(AsRef::as_ref),
        )
    }

    /// The owner Team `name`, as it is now.
    pub fn team(&self, name: &str) -> Option<Team> {
        self.teams
            .get(name)
            .cloned()
            .flatten()
            .map(Arc::unwrap_or_clone)
    }

    /// The Deployment, when this ModelDeployment controls it.
    pub fn controlled_deployment(&self, md: &ModelDeployment) -> Option<&Deployment> {
        self.deployment
            .as_deref()
            .filter(|d| desired::controlled_by(&d.metadata, md))
    }

    /// The canary Deployment, when this ModelDeployment controls it.
    pub fn controlled_canary(&self, md: &ModelDeployment) -> Option<&Deployment> {
        self.canary
            .as_deref()
            .filter(|d| desired::controlled_by(&d.metadata, md))
    }

    /// What the controlled canary Deployment reports.
    pub fn canary_observation(&self, md: &ModelDeployment) -> Option<DeploymentObservation> {
        observation(self.controlled_canary(md)?)
    }

    /// The Service, when this ModelDeployment controls it.
    pub fn controlled_service(&self, md: &ModelDeployment) -> Option<&Service> {
        self.service
            .as_deref()
            .filter(|s| desired::controlled_by(&s.metadata, md))
    }

    /// Objects of the managed names that this ModelDeployment does not control.
    pub fn name_conflicts(&self, md: &ModelDeployment) -> Vec<String> {
        let key = crate::api::namespaced_name(&md.metadata);
        let mut conflicts = self.foreign.clone();
        if self.deployment.is_some() && self.controlled_deployment(md).is_none() {
            conflicts.push(format!("Deployment {key}"));
        }
        if self.service.is_some() && self.controlled_service(md).is_none() {
            conflicts.push(format!("Service {key}"));
        }
        if crate::canary::config(md).is_some()
            && self.canary.is_some()
            && self.controlled_canary(md).is_none()
        {
            conflicts.push(format!(
                "Deployment {}/{}",
                md.namespace().unwrap_or_default(),
                desired::canary_name(md)
            ));
        }
        conflicts.sort();
        conflicts.dedup();
        conflicts
    }

    /// What the controlled Deployment reports.
    pub fn deployment_observation(&self, md: &ModelDeployment) -> Option<DeploymentObservation> {
        observation(self.controlled_deployment(md)?)
    }
}

/// What a controlled Deployment reports.
fn observation(deployment: &Deployment) -> Option<DeploymentObservation> {
    let spec = deployment.spec.as_ref()?;
    Some(DeploymentObservation {
        hash: desired::recorded_hash(&deployment.metadata).map(String::from),
        rollout_complete: rollout_complete(deployment),
        ready: deployment
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
        want: spec.replicas.unwrap_or(1),
    })
}

/// Whether the Deployment controller has observed the latest spec and every replica is
/// updated and available (what `kubectl rollout status` waits for).
pub fn rollout_complete(deployment: &Deployment) -> bool {
    let want = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0)
        && status.updated_replicas.unwrap_or(0) >= want
        && status.replicas.unwrap_or(0) <= want
        && status.available_replicas.unwrap_or(0) >= want
}
