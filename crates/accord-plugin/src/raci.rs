//! The responsibility matrix (RACI) a model's HandoffPolicies declare, with the model's
//! actual Teams named, and the stages Accord itself enforces marked: shared by
//! `explain` (one model) and `matrix` (every model). Pure.

use serde::Serialize;

use accord_core::policy::{StageRoles, responsibilities};

use crate::{
    api::{HandoffPolicy, ModelDeployment, Role, handoff_policy::Stage},
    text::table,
};

/// The marker on a stage Accord enforces.
pub const ENFORCED_MARK: &str = "*";

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
    /// How Accord enforces this stage for the model, when it does: `the gate`
    /// (deployment), `guards in spec.monitoring` (monitoring), `Incidents and
    /// root-cause sign-off` (incident response). The other stages are the Teams' own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforced_by_accord: Option<String>,
}

/// How Accord enforces `stage` for `md`, if it does: deployment by the gate,
/// monitoring by the guards of `spec.monitoring` (when it declares some), incident
/// response by Incidents and their root-cause sign-off.
pub fn enforced(stage: Stage, md: &ModelDeployment) -> Option<&'static str> {
    match stage {
        Stage::Deployment => Some("the gate"),
        Stage::Monitoring => md
            .spec
            .monitoring
            .as_ref()
            .filter(|m| !m.guards.is_empty())
            .map(|_| "guards in spec.monitoring"),
        Stage::IncidentResponse => Some("Incidents and root-cause sign-off"),
        _ => None,
    }
}

/// What Accord's enforcing `stage` (its words) means, in one line.
fn enforced_meaning(stage: &str) -> Option<&'static str> {
    Some(match stage {
        "deployment" => {
            "deployment: the gate — no version serves until every required checklist item is signed off by the Team that owns it"
        }
        "monitoring" => {
            "monitoring: the guards in spec.monitoring — a breach that lasts its `for` opens an Incident the guard's owner Team answers (with action RollBack, Accord also rolls back)"
        }
        "incident response" => {
            "incident response: Incidents — no new candidate is promoted while one is open; it resolves when a member of the Accountable Team signs off its root cause (item root-cause-analysis)"
        }
        _ => return None,
    })
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
            enforced_by_accord: enforced(s.stage, md).map(String::from),
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
                match r.enforced_by_accord {
                    Some(_) => format!("{} {ENFORCED_MARK}", r.stage),
                    None => r.stage.clone(),
                },
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
    table(&header, &cells) + &footnote(rows)
}

/// The footnote under a RACI table: what each enforced stage shown means.
fn footnote(rows: &[(String, &RaciRow)]) -> String {
    let mut stages: Vec<&str> = Vec::new();
    for (_, r) in rows {
        if r.enforced_by_accord.is_some() && !stages.contains(&r.stage.as_str()) {
            stages.push(&r.stage);
        }
    }
    if stages.is_empty() {
        return String::new();
    }
    let mut out = format!("{ENFORCED_MARK} enforced by Accord:\n");
    for line in stages.into_iter().filter_map(enforced_meaning) {
        out.push_str(&format!("  {line}\n"));
    }
    out
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

    #[test]
    fn the_stages_accord_enforces_are_marked_and_explained() {
        let row = |stage: Stage| Responsibility {
            stage,
            responsible: vec![Role::Platform],
            accountable: Role::Platform,
            consulted: vec![],
            informed: vec![],
        };
        let mut policy = HandoffPolicy::new(
            "raci",
            HandoffPolicySpec {
                responsibilities: vec![
                    row(Stage::Training),
                    row(Stage::Deployment),
                    row(Stage::Monitoring),
                    row(Stage::IncidentResponse),
                ],
                ..Default::default()
            },
        );
        policy.metadata.name = Some("raci".into());
        let mut m = md("2.4.0");
        m.status = Some(ModelDeploymentStatus {
            policies: vec!["raci".into()],
            ..Default::default()
        });
        let all = [policy];
        let enforced = |m: &crate::api::ModelDeployment| -> Vec<(String, bool)> {
            matrix::view(std::slice::from_ref(m), &all)[0]
                .responsibilities
                .iter()
                .map(|r| (r.stage.clone(), r.enforced_by_accord.is_some()))
                .collect()
        };
        let stages = |marks: [bool; 4]| -> Vec<(String, bool)> {
            ["training", "deployment", "monitoring", "incident response"]
                .into_iter()
                .map(String::from)
                .zip(marks)
                .collect()
        };
        // Monitoring is Accord's only where spec.monitoring declares guards.
        assert_eq!(enforced(&m), stages([false, true, false, true]));
        m.spec.monitoring = Some(crate::fixtures::monitoring());
        assert_eq!(enforced(&m), stages([false, true, true, true]));
        let text = matrix::text(&matrix::view(&[m], &all));
        let line = |stage: &str| {
            text.lines()
                .find(|l| l.contains(stage))
                .unwrap_or_else(|| panic!("{text}"))
                .to_string()
        };
        assert!(line("training").contains("training   "), "{text}");
        assert!(!line("training").contains('*'), "{text}");
        assert!(line("deployment").contains("deployment *"), "{text}");
        assert!(
            line("incident response ").contains("incident response *"),
            "{text}"
        );
        for footnote in [
            "* enforced by Accord:\n  deployment: the gate",
            "\n  monitoring: the guards in spec.monitoring",
            "\n  incident response: Incidents — no new candidate is promoted while one is open",
        ] {
            assert!(text.contains(footnote), "{footnote:?} not in:\n{text}");
        }
    }
}
