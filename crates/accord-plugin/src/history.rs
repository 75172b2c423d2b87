//! `kubectl accord history MD`: the model's promotions and rollbacks, oldest first,
//! with who approved each and the PromotionRecord that accounts for it. The view is
//! pure, read from the status history.

use serde::Serialize;

use crate::{
    api::ModelDeployment,
    scope::{Failure, Scope},
    text::{dash, table},
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
    /// The PromotionRecord (signed account) of this entry, once the operator wrote it.
    pub record: Option<String>,
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
                    record: e.record.clone(),
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
                dash(&r.record),
            ]
        })
        .collect();
    table(
        &[
            "VERSION",
            "OUTCOME",
            "AT",
            "REASON",
            "APPROVED BY",
            "IMAGE",
            "RECORD",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use crate::{
        api::{Approval, HistoryOutcome},
        fixtures::{history_entry, waiting},
    };

    use super::*;

    #[test]
    fn each_entry_names_its_promotion_record() {
        let mut md = waiting();
        let mut promoted = history_entry("2.3.1", 0, Some(0));
        promoted.approvals = vec![Approval {
            item: "drift".into(),
            attested_by: "alice".into(),
        }];
        promoted.record = Some("fraud-scorer-uid-md-1".into());
        let mut rolled_back = history_entry("2.3.0", 60, None);
        rolled_back.outcome = HistoryOutcome::RolledBack;
        md.status.as_mut().unwrap().history = vec![promoted, rolled_back];
        let rows = view(&md);
        assert_eq!(rows[0].record.as_deref(), Some("fraud-scorer-uid-md-1"));
        assert_eq!(rows[1].record, None, "written before records existed");
        let text = text(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("VERSION ") && lines[0].ends_with(" RECORD"),
            "{text}"
        );
        assert!(lines[1].contains("alice (drift)"), "{text}");
        assert!(lines[1].ends_with(" fraud-scorer-uid-md-1"), "{text}");
        assert!(lines[2].ends_with(" -"), "{text}");
        let json = serde_json::to_value(&rows).unwrap();
        assert_eq!(json[0]["record"], "fraud-scorer-uid-md-1");
    }
}
