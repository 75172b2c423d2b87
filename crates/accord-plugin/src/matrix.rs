//! `kubectl accord matrix [-A]`: the responsibility matrix — for each model, the Team
//! holding each role and what it owes, and the RACI per lifecycle stage that its
//! HandoffPolicies declare, the stages Accord enforces marked (`*`, explained in a
//! footnote). The view is pure.

use serde::Serialize;

use crate::{
    api::{HandoffPolicy, ModelDeployment, Role},
    raci::{RaciRow, policies_of, raci, raci_table},
    scope::{Failure, Scope},
    status,
    text::{dash, table},
};

/// One cell of the responsibility matrix: the Team holding a role, and what it owes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MatrixCell {
    pub team: String,
    pub pending: Vec<String>,
}

/// One row of the responsibility matrix.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MatrixRow {
    pub model_deployment: String,
    pub candidate: String,
    pub phase: Option<String>,
    pub data: MatrixCell,
    pub platform: MatrixCell,
    pub application: MatrixCell,
    /// The RACI its policies declare, with the actual Teams.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responsibilities: Vec<RaciRow>,
}

/// `matrix`: the responsibility matrix.
pub async fn run(scope: &Scope) -> Result<String, Failure> {
    let policies = scope.policies().await?;
    let rows = view(&scope.model_deployments().await?, &policies);
    scope.print(&rows, || text(&rows))
}

/// Who is accountable for what, across ModelDeployments: the Team holding each role
/// and, where policies declare one, the responsibility matrix per lifecycle stage.
pub fn view(mds: &[ModelDeployment], policies: &[HandoffPolicy]) -> Vec<MatrixRow> {
    let mut rows: Vec<MatrixRow> = mds
        .iter()
        .map(|md| {
            let view = status::view(md, &[]);
            let cell = |role: Role| {
                let team = md.spec.owners.team_for(role).to_string();
                let pending = view
                    .checklist
                    .iter()
                    .filter(|r| r.owner == role.as_str() && r.required && !r.attested)
                    .map(|r| r.item.clone())
                    .collect();
                MatrixCell { team, pending }
            };
            MatrixRow {
                model_deployment: format!("{}/{}", view.namespace, view.name),
                candidate: view.candidate.clone(),
                phase: view.phase.clone(),
                data: cell(Role::Data),
                platform: cell(Role::Platform),
                application: cell(Role::Application),
                responsibilities: raci(md, &policies_of(md, policies)),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.model_deployment.cmp(&b.model_deployment));
    rows
}

fn cell_text(cell: &MatrixCell) -> String {
    if cell.pending.is_empty() {
        format!("{} ✓", cell.team)
    } else {
        format!("{} (owes {})", cell.team, cell.pending.join(", "))
    }
}

/// `matrix` as text.
pub fn text(matrix: &[MatrixRow]) -> String {
    let rows: Vec<Vec<String>> = matrix
        .iter()
        .map(|r| {
            vec![
                r.model_deployment.clone(),
                r.candidate.clone(),
                dash(&r.phase),
                cell_text(&r.data),
                cell_text(&r.platform),
                cell_text(&r.application),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "MODEL",
            "CANDIDATE",
            "PHASE",
            "DATA",
            "PLATFORM",
            "APPLICATION",
        ],
        &rows,
    );
    let raci: Vec<(String, &RaciRow)> = matrix
        .iter()
        .flat_map(|m| {
            m.responsibilities
                .iter()
                .map(|r| (m.model_deployment.clone(), r))
        })
        .collect();
    if !raci.is_empty() {
        out.push_str("\nresponsibilities (from HandoffPolicies):\n");
        out.push_str(&raci_table(&raci, true));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::waiting;

    #[test]
    fn matrix_has_one_row_per_model_and_a_cell_per_role() {
        let rows = view(&[waiting()], &[]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].data.pending, Vec::<String>::new());
        assert_eq!(rows[0].platform.pending, ["latency"]);
        let text = text(&rows);
        assert!(
            text.contains("data-platform ✓") && text.contains("ml-platform (owes latency)"),
            "{text}"
        );
    }
}
