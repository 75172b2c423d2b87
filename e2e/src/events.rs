//! Kubernetes Events about an object, as `kubectl get events` shows them.

use crate::Kubectl;

/// One Kubernetes Event about an object.
#[derive(Debug, Clone)]
pub struct ObservedEvent {
    /// How many times it happened: repeats of the same Event are recorded as a series.
    pub count: u64,
    pub type_: String,
    pub reason: String,
    pub note: String,
}

/// Events recorded about `kind/name` in `namespace`, oldest first.
pub fn events_for(namespace: &str, kind: &str, name: &str) -> Vec<ObservedEvent> {
    let list = Kubectl::admin()
        .ok(&["get", "events.events.k8s.io", "-n", namespace, "-o", "json"])
        .json();
    let mut events: Vec<(String, ObservedEvent)> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["regarding"]["kind"] == kind && e["regarding"]["name"] == name)
        .map(|e| {
            (
                e["eventTime"].as_str().unwrap_or_default().to_string(),
                ObservedEvent {
                    count: e["series"]["count"].as_u64().unwrap_or(1),
                    type_: e["type"].as_str().unwrap_or_default().into(),
                    reason: e["reason"].as_str().unwrap_or_default().into(),
                    note: e["note"].as_str().unwrap_or_default().into(),
                },
            )
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    events.into_iter().map(|(_, e)| e).collect()
}
