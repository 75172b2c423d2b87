//! What each Team is counted for (pure): the ModelDeployments that name it in any role,
//! and the required checklist items it still owes. The Team reconciler writes these
//! into `Team.status`; the watch triggers use them to tell which Teams a change moves.

use std::collections::BTreeMap;

use crate::api::{ModelDeployment, Phase};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{ChecklistItemStatus, ModelDeploymentStatus},
        testing::md,
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
