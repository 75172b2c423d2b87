//! The Team reconciler: keeps `status.modelDeployments` and `status.pendingItems`
//! current, and the pending-items gauge with them. It runs on Team spec changes and
//! when a ModelDeployment changes a Team's numbers (see [`super::triggers`]); its own
//! status writes set off nothing.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{ResourceExt, runtime::controller::Action};

use super::{Context, Error, apply, status::set_condition};
use crate::{
    api::{ModelDeployment, Phase, Team, TeamStatus, conditions, reasons::condition},
    metrics::TeamLabels,
    timing,
};

/// What one ModelDeployment adds to each owner Team's counts: (1, pending items),
/// keyed by Team name. A Team holding several roles is counted once.
pub fn contribution(md: &ModelDeployment) -> BTreeMap<&str, (i32, i32)> {
    let awaiting = md
        .status
        .as_ref()
        .filter(|s| s.phase == Some(Phase::AwaitingAttestations));
    md.spec
        .owners
        .teams()
        .into_iter()
        .map(|team| {
            let pending = awaiting.map_or(0, |status| {
                status
                    .checklist
                    .iter()
                    .filter(|i| i.team == team && i.required && !i.attested)
                    .count() as i32
            });
            (team, (1, pending))
        })
        .collect()
}

/// What a Team's status should say, from the ModelDeployments that name it.
pub fn team_counts<'a>(
    team: &str,
    model_deployments: impl IntoIterator<Item = &'a ModelDeployment>,
) -> (i32, i32) {
    model_deployments
        .into_iter()
        .filter_map(|md| contribution(md).get(team).copied())
        .fold((0, 0), |(owned, pending), (o, p)| (owned + o, pending + p))
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
            .map_err(|e| Error::kube(&name, e))?;
    }
    Ok(Action::requeue(timing::IDLE_REQUEUE))
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
