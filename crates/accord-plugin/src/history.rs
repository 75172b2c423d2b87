//! `kubectl accord history MD`: the model's promotions and rollbacks, oldest first,
//! with who approved each. The view is pure, read from the status history.

use serde::Serialize;

use crate::{
    api::ModelDeployment,
    scope::{Failure, Scope},
    text::table,
};

/// One row of `history`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    pub version: String,
    pub outcome: String,
    pub at: String,
    pub reason: String,
    pub approvers: Vec<String>,
    pub image: String,
}

/// `history <md>`.
pub async fn run(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let rows = view(&md);
    scope.print(&rows, || {
        if rows.is_empty() {
            format!("{}/{name} has not been promoted yet.\n", scope.namespace)
        } else {
            text(&rows)
        }
    })
}

/// Promotions and rollbacks, oldest first.
pub fn view(md: &ModelDeployment) -> Vec<HistoryRow> {
    md.status
        .as_ref()
        .map(|st| {
            st.history
                .iter()
                .map(|e| HistoryRow {
                    version: e.version.clone(),
                    outcome: format!("{:?}", e.outcome),
                    at: e.at.0.to_string(),
                    reason: e.reason.clone(),
                    approvers: e
                        .approvals
                        .iter()
                        .map(|a| format!("{} ({})", a.attested_by, a.item))
                        .collect(),
                    image: e.image.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `history` as text.
pub fn text(rows: &[HistoryRow]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.version.clone(),
                r.outcome.clone(),
                r.at.clone(),
                r.reason.clone(),
                r.approvers.join(", "),
                r.image.clone(),
            ]
        })
        .collect();
    table(
        &["VERSION", "OUTCOME", "AT", "REASON", "APPROVED BY", "IMAGE"],
        &rows,
    )
}
