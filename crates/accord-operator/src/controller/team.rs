//! The Team reconciler: keeps `status.modelDeployments` and `status.pendingItems`
//! current, and the pending-items gauge with them. It runs on Team spec changes and
//! when a ModelDeployment changes a Team's numbers (see [`crate::watch::triggers`]); its own
//! status writes set off nothing.

use std::sync::Arc;

use accord_core::team_counts::team_counts;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{ResourceExt, runtime::controller::Action};

use accord_core::status::set_condition;

use super::{Error, Step, apply};
use crate::{
    api::{Team, TeamStatus, conditions, reasons::condition},
    metrics::{ControllerMetrics, TeamLabels},
    timing,
    watch::Stores,
};

/// What the Team reconciler uses.
pub struct Context {
    pub client: kube::Client,
    pub stores: Stores,
    /// The pending-items gauge it keeps per Team.
    pub metrics: ControllerMetrics,
    /// The Teams whose gauges this replica publishes.
    pub known_teams: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Recounts one Team.
pub async fn reconcile(team: Arc<Team>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = team.name_any();
    let all = ctx.stores.model_deployments.state();
    let (owned, pending) = team_counts(&name, all.iter().filter_map(|g| g.0.as_ref().ok()));
    ctx.metrics
        .pending_items
        .get_or_create(&TeamLabels { team: name.clone() })
        .set(i64::from(pending));
    {
        let teams = ctx.stores.teams.state();
        let mut known = ctx.known_teams.lock().expect("not poisoned");
        ctx.metrics.retain_teams(
            &mut known,
            teams
                .iter()
                .map(|t| t.metadata.name.as_deref().unwrap_or_default()),
        );
    }

    let old = team.status.clone().unwrap_or_default();
    let mut status = TeamStatus {
        observed_generation: team.metadata.generation,
        conditions: old.conditions.clone(),
        model_deployments: owned,
        pending_items: pending,
    };
    set_condition(
        &mut status.conditions,
        conditions::READY,
        true,
        condition::COUNTED,
        format!("named by {owned} ModelDeployments; {pending} checklist items wait for this team"),
        team.metadata.generation,
        &Time(jiff::Timestamp::now()),
    );
    if team.status.as_ref() != Some(&status) {
        apply::team_status(&ctx.client, &team, &status)
            .await
            .map_err(|e| Error::kube(Step::WriteStatus, &format!("Team {name}"), e))?;
    }
    Ok(Action::requeue(timing::IDLE_REQUEUE))
}
