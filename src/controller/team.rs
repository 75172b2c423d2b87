//! The Team reconciler: keeps `status.modelDeployments` and `status.pendingItems`
//! current, and the pending-items gauge with them.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use kube::{
    Api, Client, ResourceExt,
    core::DeserializeGuard,
    runtime::{
        WatchStreamExt,
        controller::{Action, Controller},
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use tracing::warn;

use super::{Context, Error, status::set_condition};
use crate::{
    api::{ModelDeployment, Phase, Role, Team, TeamStatus},
    metrics::{ControllerLabels, ErrorLabels, TeamLabels},
};

const TEAM_CONTROLLER: &str = "team";

struct TeamContext {
    shared: Arc<Context>,
    model_deployments: Store<DeserializeGuard<ModelDeployment>>,
}

/// The Team controller, ready to run.
pub(super) fn controller(
    client: Client,
    shared: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> impl std::future::Future<Output = ()> {
    let (model_deployments, writer) = reflector::store();
    let md_events = watcher(
        Api::<DeserializeGuard<ModelDeployment>>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .touched_objects();
    let ctx = Arc::new(TeamContext {
        shared,
        model_deployments,
    });
    Controller::new(Api::<Team>::all(client), watcher::Config::default())
        .watches_stream(md_events, |guard: DeserializeGuard<ModelDeployment>| {
            guard
                .0
                .map(|md| {
                    Role::ALL
                        .map(|role| ObjectRef::new(md.spec.owners.team_for(role)))
                        .to_vec()
                })
                .unwrap_or_default()
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
}

/// What a Team's status should say, from the ModelDeployments that name it.
pub fn team_counts<'a>(
    team: &str,
    model_deployments: impl IntoIterator<Item = &'a ModelDeployment>,
) -> (i32, i32) {
    let mut owned = 0;
    let mut pending = 0;
    for md in model_deployments {
        if !Role::ALL
            .iter()
            .any(|role| md.spec.owners.team_for(*role) == team)
        {
            continue;
        }
        owned += 1;
        let Some(status) = &md.status else { continue };
        if status.phase == Some(Phase::AwaitingAttestations) {
            pending += status
                .checklist
                .iter()
                .filter(|i| i.team == team && i.required && !i.attested)
                .count() as i32;
        }
    }
    (owned, pending)
}

async fn reconcile(team: Arc<Team>, ctx: Arc<TeamContext>) -> Result<Action, Error> {
    let shared = &ctx.shared;
    let labels = ControllerLabels {
        controller: TEAM_CONTROLLER.into(),
    };
    shared.metrics.reconciles.get_or_create(&labels).inc();
    let name = team.name_any();
    let all = ctx.model_deployments.state();
    let (owned, pending) = team_counts(&name, all.iter().filter_map(|g| g.0.as_ref().ok()));
    shared
        .metrics
        .pending_items
        .get_or_create(&TeamLabels { team: name.clone() })
        .set(i64::from(pending));

    let old = team.status.clone().unwrap_or_default();
    let mut status = TeamStatus {
        observed_generation: team.metadata.generation,
        conditions: old.conditions.clone(),
        model_deployments: owned,
        pending_items: pending,
    };
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
    set_condition(
        &mut status.conditions,
        crate::api::conditions::READY,
        true,
        "Counted",
        format!("named by {owned} ModelDeployments; {pending} checklist items wait for this team"),
        team.metadata.generation,
        &now,
    );
    if team.status.as_ref() != Some(&status) {
        super::apply::team_status(&shared.client, &team, &status)
            .await
            .map_err(|e| Error::kube(&name, e))?;
    }
    Ok(Action::requeue(Duration::from_secs(300)))
}

fn error_policy(team: Arc<Team>, error: &Error, ctx: Arc<TeamContext>) -> Action {
    ctx.shared
        .metrics
        .errors
        .get_or_create(&ErrorLabels {
            controller: TEAM_CONTROLLER.into(),
            reason: error.metric_label().into(),
        })
        .inc();
    let delay = ctx.shared.backoff(&format!("team/{}", team.name_any()));
    warn!(%error, team = %team.name_any(), retry_in = ?delay, "team reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{ChecklistItemStatus, ModelDeploymentStatus},
        controller::testing::md,
    };

    #[test]
    fn counts_models_and_items_waiting_for_the_team() {
        let mut waiting = md("2.4.0");
        waiting.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::AwaitingAttestations),
            checklist: vec![
                ChecklistItemStatus {
                    id: "a".into(),
                    team: "ml-platform".into(),
                    required: true,
                    ..Default::default()
                },
                ChecklistItemStatus {
                    id: "b".into(),
                    team: "ml-platform".into(),
                    required: false,
                    ..Default::default()
                },
                ChecklistItemStatus {
                    id: "c".into(),
                    team: "data-platform".into(),
                    required: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let mut serving = md("2.3.0");
        serving.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::Serving),
            ..Default::default()
        });
        let mut unrelated = md("1.0.0");
        unrelated.spec.owners.platform = "other".into();
        unrelated.spec.owners.data = "other".into();
        unrelated.spec.owners.application = "other".into();
        assert_eq!(
            team_counts("ml-platform", [&waiting, &serving, &unrelated]),
            (2, 1)
        );
        assert_eq!(team_counts("data-platform", [&waiting]), (1, 1));
        assert_eq!(team_counts("nobody", [&waiting]), (0, 0));
    }
}
