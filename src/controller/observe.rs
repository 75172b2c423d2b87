//! What one reconcile reads: the ModelDeployment's owner Teams, its Attestations and
//! its managed objects, taken from the shared watch caches into plain values. No API
//! calls; the decision that follows ([`super::decide`]) is pure.

use std::{collections::BTreeMap, sync::Arc};

use kube::{ResourceExt, runtime::reflector::ObjectRef};

use super::desired::{self, owned_by};
use crate::{
    api::{Attestation, ModelDeployment, Team},
    watch::Stores,
};

/// What the managed Deployment reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentObservation {
    /// The [`crate::api::labels::SERVING_HASH`] annotation of the live Deployment.
    pub hash: Option<String>,
    /// The Deployment controller has observed the latest spec and every replica is
    /// updated and available (what `kubectl rollout status` waits for).
    pub rollout_complete: bool,
}

/// What the managed Service reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceObservation {
    /// The [`crate::api::labels::SERVING_HASH`] annotation of the live Service.
    pub hash: Option<String>,
    /// Whether this ModelDeployment owns it.
    pub ours: bool,
}

/// Everything one decision reads about the world.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Each owner Team name, with the Team as it is now (`None`: it does not exist).
    pub teams: BTreeMap<String, Option<Arc<Team>>>,
    /// Attestations naming this ModelDeployment in its namespace, any version.
    pub attestations: Vec<Arc<Attestation>>,
    /// The managed Deployment, when this ModelDeployment owns it.
    pub deployment: Option<DeploymentObservation>,
    /// The Service of the same name, if any.
    pub service: Option<ServiceObservation>,
}

impl Observed {
    /// The owner Team `name`, as it is now.
    pub fn team(&self, name: &str) -> Option<Team> {
        self.teams
            .get(name)
            .cloned()
            .flatten()
            .map(Arc::unwrap_or_clone)
    }
}

/// Reads what deciding `md` needs from the caches.
pub fn observe(stores: &Stores, md: &ModelDeployment) -> Observed {
    let name = md.name_any();
    let namespace = md.namespace().unwrap_or_default();
    let teams = md
        .spec
        .owners
        .teams()
        .into_iter()
        .map(|team| (team.to_string(), stores.teams.get(&ObjectRef::new(team))))
        .collect();
    let attestations = stores.attestations.state_filter(|a| {
        a.spec.model_deployment == name && a.metadata.namespace.as_deref() == Some(&namespace)
    });
    let deployment = stores
        .deployments
        .get(&ObjectRef::new(&name).within(&namespace))
        .filter(|d| owned_by(&d.metadata, md))
        .and_then(|d| deployment_observation(&d));
    let service = stores
        .services
        .get(&ObjectRef::new(&name).within(&namespace))
        .map(|s| ServiceObservation {
            hash: desired::recorded_hash(&s.metadata).map(String::from),
            ours: owned_by(&s.metadata, md),
        });
    Observed {
        teams,
        attestations,
        deployment,
        service,
    }
}

/// Whether the live Deployment finished rolling out, and what it was applied from.
fn deployment_observation(
    deployment: &k8s_openapi::api::apps::v1::Deployment,
) -> Option<DeploymentObservation> {
    let spec = deployment.spec.as_ref()?;
    let status = deployment.status.clone().unwrap_or_default();
    let want = spec.replicas.unwrap_or(1);
    let generation_seen =
        status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    let rollout_complete = generation_seen
        && status.updated_replicas.unwrap_or(0) >= want
        && status.replicas.unwrap_or(0) <= want
        && status.available_replicas.unwrap_or(0) >= want;
    Some(DeploymentObservation {
        hash: desired::recorded_hash(&deployment.metadata).map(String::from),
        rollout_complete,
    })
}
