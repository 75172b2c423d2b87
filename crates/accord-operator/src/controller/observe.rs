//! What one reconcile reads, taken from the shared watch caches into the plain value
//! the pure decision takes ([`accord_core::observe::Observed`]). No API calls.

use accord_core::{api::ModelDeployment, desired, observe::Observed};
use kube::{ResourceExt, runtime::reflector::ObjectRef};

use crate::watch::Stores;

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
    Observed {
        teams,
        attestations,
        deployment: stores
            .deployments
            .get(&ObjectRef::new(&name).within(&namespace)),
        service: stores
            .services
            .get(&ObjectRef::new(&name).within(&namespace)),
        canary: stores
            .deployments
            .get(&ObjectRef::new(&desired::canary_name(md)).within(&namespace)),
        measurement: None,
        foreign: vec![],
        policies: stores.policies.state(),
        namespace_labels: stores.namespace_labels(&namespace),
    }
}
