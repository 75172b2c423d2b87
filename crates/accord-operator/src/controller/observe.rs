//! What one reconcile reads, taken from the shared watch caches into the plain value
//! the pure decision takes ([`accord_core::observe::Observed`]). No API calls.

use accord_core::{
    api::ModelDeployment,
    desired,
    observe::{Observed, UpstreamObserved},
};
use kube::{ResourceExt, runtime::reflector::ObjectRef};

use crate::watch::Stores;

/// Reads what deciding `md` needs from the caches.
pub fn observe(stores: &Stores, md: &ModelDeployment) -> Observed {
    let name = md.name_any();
    let namespace = md.namespace().unwrap_or_default();
    let (analyses, attestations) = stores
        .attestations
        .state_filter(|a| {
            a.spec.model_deployment == name && a.metadata.namespace.as_deref() == Some(&namespace)
        })
        .into_iter()
        // Drill reviews are about a drill's run, never about a candidate.
        .filter(|a| !a.is_drill_review())
        .partition(|a| a.is_root_cause());
    Observed {
        analyses,
        incidents: stores
            .incidents
            .state_filter(|i| i.is_for(Some(&namespace), &name)),
        readings: vec![],
        drills: stores
            .drills
            .state_filter(|d| d.is_for(Some(&namespace), &name)),
        teams: owner_teams(stores, md),
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
        upstream: upstream(stores, md),
    }
}

/// Each owner Team of `md` by name, as the cache holds it now.
fn owner_teams(
    stores: &Stores,
    md: &ModelDeployment,
) -> std::collections::BTreeMap<String, Option<std::sync::Arc<accord_core::api::Team>>> {
    md.spec
        .owners
        .teams()
        .into_iter()
        .map(|team| (team.to_string(), stores.teams.get(&ObjectRef::new(team))))
        .collect()
}

/// The upstream `spec.promotion.from` names, with its Attestations and owner Teams.
fn upstream(stores: &Stores, md: &ModelDeployment) -> Option<UpstreamObserved> {
    let from = md.spec.upstream()?;
    let key = Stores::model_deployment_ref(&from.namespace, &from.name);
    let Some(up) = stores
        .model_deployments
        .get(&key)
        .and_then(|guard| guard.0.as_ref().ok().cloned())
    else {
        return Some(UpstreamObserved::default());
    };
    let attestations = stores.attestations.state_filter(|a| {
        a.spec.model_deployment == from.name
            && a.metadata.namespace.as_deref() == Some(&from.namespace)
    });
    let teams = owner_teams(stores, &up);
    Some(UpstreamObserved {
        md: Some(std::sync::Arc::new(up)),
        attestations,
        teams,
    })
}
