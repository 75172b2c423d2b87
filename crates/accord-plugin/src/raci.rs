//! The responsibility matrix (RACI) a model's HandoffPolicies declare, with the model's
//! actual Teams named: shared by `explain` (one model) and `matrix` (every model). Pure.

use serde::Serialize;

use accord_core::policy::{StageRoles, responsibilities};

use crate::{
    api::{HandoffPolicy, ModelDeployment, Role},
    text::table,
};

/// One lifecycle stage of a model's responsibility matrix, with Team names.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RaciRow {
    /// e.g. `data access`.
    pub stage: String,
    /// `team (role)` for each role.
    pub responsible: Vec<String>,
    pub accountable: Vec<String>,
    pub consulted: Vec<String>,
    pub informed: Vec<String>,
    pub declared_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

/// The policies among `all` that apply to `md`, as the operator last recorded.
pub fn policies_of<'a>(md: &ModelDeployment, all: &'a [HandoffPolicy]) -> Vec<&'a HandoffPolicy> {
    let names = md
        .status
        .as_ref()
        .map(|s| s.policies.as_slice())
        .unwrap_or_default();
    all.iter()
        .filter(|p| p.metadata.name.as_ref().is_some_and(|n| names.contains(n)))
        .collect()
}

/// `md`'s responsibility matrix under `policies`, with its owner Teams named.
pub fn raci(md: &ModelDeployment, policies: &[&HandoffPolicy]) -> Vec<RaciRow> {
    let teams = |roles: &[Role]| -> Vec<String> {
        roles
            .iter()
            .map(|r| format!("{} ({r})", md.spec.owners.team_for(*r)))
            .collect()
    };
    responsibilities(policies.iter().copied())
        .into_iter()
        .map(|s: StageRoles| RaciRow {
            stage: s.stage.words().to_string(),
            responsible: teams(&s.responsible),
            accountable: teams(&s.accountable),
            consulted: teams(&s.consulted),
            informed: teams(&s.informed),
            declared_by: s.declared_by,
            conflict: s.conflict,
        })
        .collect()
}

/// The RACI rows as a table; `with_model` puts each row's model (its first element)
/// in a first column.
pub fn raci_table(rows: &[(String, &RaciRow)], with_model: bool) -> String {
    let join = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(model, r)| {
            let mut accountable = join(&r.accountable);
            if let Some(conflict) = &r.conflict {
                accountable = format!("{accountable} (conflict: {conflict})");
            }
            let mut row = vec![
                r.stage.clone(),
                join(&r.responsible),
                accountable,
                join(&r.consulted),
                join(&r.informed),
            ];
            if with_model {
                row.insert(0, model.clone());
            }
            row
        })
        .collect();
    let mut header = vec![
        "STAGE",
        "RESPONSIBLE",
        "ACCOUNTABLE",
        "CONSULTED",
        "INFORMED",
    ];
    if with_model {
        header.insert(0, "MODEL");
    }
    table(&header, &cells)
}

#[cfg(test)]
mod tests {
    use accord_core::testing::md;

    use crate::{
        api::{
            HandoffPolicy, HandoffPolicySpec, ModelDeploymentStatus, Role,
            handoff_policy::{Responsibility, Stage},
        },
        explain, matrix,
    };

    #[test]
    fn the_raci_names_the_actual_teams_of_each_model() {
        let mut policy = HandoffPolicy::new(
            "fraud-raci",
            HandoffPolicySpec {
                responsibilities: vec![Responsibility {
                    stage: Stage::IncidentResponse,
                    responsible: vec![Role::Platform],
                    accountable: Role::Application,
                    consulted: vec![Role::Data],
                    informed: vec![],
                }],
                ..Default::default()
            },
        );
        policy.metadata.name = Some("fraud-raci".into());
        let mut m = md("2.4.0");
        let other = HandoffPolicy::new("unrelated", policy.spec.clone());
        let all = [policy, other];
        // Only the policies the operator recorded as applying count.
        assert!(explain::view(&m, &all).responsibilities.is_empty());
        m.status = Some(ModelDeploymentStatus {
            policies: vec!["fraud-raci".into()],
            ..Default::default()
        });
        let view = explain::view(&m, &all);
        let row = &view.responsibilities[0];
        assert_eq!(row.stage, "incident response");
        assert_eq!(row.responsible, ["ml-platform (platform)"]);
        assert_eq!(row.accountable, ["payments-app (application)"]);
        assert_eq!(row.consulted, ["data-platform (data)"]);
        assert_eq!(row.declared_by, ["HandoffPolicy/fraud-raci"]);
        let text = explain::text(&view);
        assert!(text.contains("responsibilities:"), "{text}");
        let rows = matrix::view(&[m], &all);
        assert_eq!(rows[0].responsibilities, view.responsibilities);
        let text = matrix::text(&rows);
        let line = text
            .lines()
            .find(|l| l.contains("incident response"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.starts_with("payments/fraud-scorer"), "{line}");
        assert!(line.contains("payments-app (application)"), "{line}");
    }
}
