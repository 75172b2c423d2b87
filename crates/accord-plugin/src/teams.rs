//! `kubectl accord teams`: every Team with its members, the models it owns (in any
//! namespace) and how many items it owes. The view is pure.

use serde::Serialize;

use crate::{
    api::{ModelDeployment, Team},
    matrix,
    scope::{Failure, Scope},
    text::table,
};

/// One row of `teams`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TeamRow {
    pub name: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub model_deployments: Vec<String>,
    pub pending_items: usize,
}

/// `teams`: Teams with members, models owned and items pending.
pub async fn run(scope: &Scope) -> Result<String, Failure> {
    let teams = scope.teams().await?;
    let mds = scope.every_namespace().model_deployments().await?;
    let rows = view(&teams, &mds);
    scope.print(&rows, || text(&rows))
}

/// Teams with their members, the ModelDeployments they own, and items pending.
pub fn view(teams: &[Team], mds: &[ModelDeployment]) -> Vec<TeamRow> {
    let matrix = matrix::view(mds, &[]);
    let mut rows: Vec<TeamRow> = teams
        .iter()
        .map(|t| {
            let name = t.metadata.name.clone().unwrap_or_default();
            let mut owned = Vec::new();
            let mut pending = 0;
            for row in &matrix {
                for cell in [&row.data, &row.platform, &row.application] {
                    if cell.team == name {
                        pending += cell.pending.len();
                        if !owned.contains(&row.model_deployment) {
                            owned.push(row.model_deployment.clone());
                        }
                    }
                }
            }
            TeamRow {
                name,
                users: t.spec.members.users.clone(),
                groups: t.spec.members.groups.clone(),
                model_deployments: owned,
                pending_items: pending,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// `teams` as text.
pub fn text(rows: &[TeamRow]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut members: Vec<String> = r.users.clone();
            members.extend(r.groups.iter().map(|g| format!("group:{g}")));
            vec![
                r.name.clone(),
                members.join(", "),
                r.model_deployments.join(", "),
                r.pending_items.to_string(),
            ]
        })
        .collect();
    table(&["TEAM", "MEMBERS", "MODELS", "PENDING"], &rows)
}

#[cfg(test)]
mod tests {
    use accord_core::testing::team;

    use super::*;
    use crate::fixtures::waiting;

    #[test]
    fn teams_count_models_and_pending() {
        let rows = view(
            &[
                team("ml-platform", &["bob"], &["ml-platform-eng"]),
                team("idle", &["x"], &[]),
            ],
            &[waiting()],
        );
        let ml = rows.iter().find(|r| r.name == "ml-platform").unwrap();
        assert_eq!((ml.model_deployments.len(), ml.pending_items), (1, 1));
        let idle = rows.iter().find(|r| r.name == "idle").unwrap();
        assert_eq!((idle.model_deployments.len(), idle.pending_items), (0, 0));
        assert!(text(&rows).contains("bob, group:ml-platform-eng"));
    }
}
