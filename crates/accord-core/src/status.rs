//! Status bookkeeping (pure): Kubernetes-style conditions and the bounded history.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::HistoryEntry;

/// Longest history kept in status; the oldest entries are dropped first.
pub const MAX_HISTORY: usize = 20;

/// Sets condition `type_`, keeping `lastTransitionTime` unless the status flips, so an
/// unchanged condition compares equal and causes no write.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: &Time,
) {
    let status_text = if status { "True" } else { "False" }.to_string();
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            if existing.status != status_text {
                existing.last_transition_time = now.clone();
            }
            existing.status = status_text;
            existing.reason = reason.into();
            existing.message = message;
            existing.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status: status_text,
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time: now.clone(),
        }),
    }
}

/// The condition of `type_`, if set.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Appends `entry`, dropping the oldest entries beyond [`MAX_HISTORY`].
pub fn push_history(history: &mut Vec<HistoryEntry>, entry: HistoryEntry) {
    history.push(entry);
    if history.len() > MAX_HISTORY {
        let excess = history.len() - MAX_HISTORY;
        history.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{api::HistoryOutcome, testing::time};

    #[test]
    fn transition_time_changes_only_when_status_flips() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            "Ready",
            false,
            "Waiting",
            "m1",
            Some(1),
            &time(0),
        );
        set_condition(
            &mut conditions,
            "Ready",
            false,
            "StillWaiting",
            "m2",
            Some(2),
            &time(10),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, time(0));
        assert_eq!(
            (
                conditions[0].reason.as_str(),
                conditions[0].observed_generation
            ),
            ("StillWaiting", Some(2))
        );
        set_condition(
            &mut conditions,
            "Ready",
            true,
            "Available",
            "m3",
            Some(2),
            &time(20),
        );
        assert_eq!(conditions[0].last_transition_time, time(20));
        assert_eq!(conditions[0].status, "True");
    }

    #[test]
    fn history_is_bounded_dropping_the_oldest() {
        let mut history = Vec::new();
        for i in 0..(MAX_HISTORY + 5) {
            push_history(
                &mut history,
                HistoryEntry {
                    record: None,
                    artifact_fingerprint: None,
                    available_since: None,
                    upstream: None,
                    fingerprint: None,
                    seal: None,
                    version: format!("1.0.{i}"),
                    image: "img".into(),
                    digest: None,
                    artifact: None,
                    outcome: HistoryOutcome::Promoted,
                    at: time(i as i64),
                    reason: "AllItemsAttested".into(),
                    approvals: vec![],
                    auto_approval: None,
                    canary: None,
                    training_data_digest: None,
                    serving: None,
                    available_at: None,
                },
            );
        }
        assert_eq!(history.len(), MAX_HISTORY);
        assert_eq!(history[0].version, "1.0.5");
        assert_eq!(
            history.last().unwrap().version,
            format!("1.0.{}", MAX_HISTORY + 4)
        );
    }
}
