//! Team notifications: what a reconcile decided (its Events) told to the owner Teams
//! that asked for it (`Team.spec.notify`), as a Slack-compatible JSON POST to a URL
//! kept in a Secret in the operator's namespace.
//!
//! Planning who is told what is pure ([`plan`]); delivery runs on its own task: a
//! reconcile only enqueues, never waits. Each delivery is retried with backoff until
//! one attempt succeeds (so a receiver that fails twice then succeeds gets exactly one
//! delivery), and counted in `accord_notifications_total`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{
    api::{ModelDeployment, NotifyEvent, SecretKeyRef, Team, reasons::event},
    events::PlannedEvent,
};

/// One message for one destination of one Team.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub team: String,
    /// The destination's name (`spec.notify[].name`).
    pub target: String,
    pub secret: SecretKeyRef,
    pub event: NotifyEvent,
    pub body: Value,
}

/// Something one Team is told, whatever the Events (an Incident it answers for).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub team: String,
    pub event: NotifyEvent,
    pub note: String,
}

/// What a team may be told about a planned Event, if anything.
pub fn notify_event(reason: &str) -> Option<NotifyEvent> {
    match reason {
        event::PROMOTION_BLOCKED => Some(NotifyEvent::Blocked),
        event::ESCALATED => Some(NotifyEvent::Escalated),
        event::PROMOTED => Some(NotifyEvent::Promoted),
        event::ROLLED_BACK | event::CANARY_FAILED => Some(NotifyEvent::RolledBack),
        event::ATTESTATION_WITHDRAWN => Some(NotifyEvent::Withdrawn),
        _ => None,
    }
}

/// The Teams told about `event`: those that owe sign-off for `Blocked` and `Escalated`,
/// every owner Team otherwise (each once).
pub fn recipients(
    md: &ModelDeployment,
    event: NotifyEvent,
    owed: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut teams: Vec<String> = match event {
        NotifyEvent::Blocked | NotifyEvent::Escalated => owed.keys().cloned().collect(),
        _ => md
            .spec
            .owners
            .teams()
            .iter()
            .map(|t| t.to_string())
            .collect(),
    };
    teams.sort();
    teams.dedup();
    teams
}

/// The body: `text` for Slack and its kin, `accord` for machines.
pub fn body(
    md: &ModelDeployment,
    event: NotifyEvent,
    note: &str,
    owed: &BTreeMap<String, Vec<String>>,
) -> Value {
    let namespace = md.metadata.namespace.as_deref().unwrap_or_default();
    let name = md.metadata.name.as_deref().unwrap_or_default();
    let version = &md.spec.model.version;
    json!({
        "text": format!("[Accord] {event:?}: ModelDeployment {namespace}/{name} {version}: {note}"),
        "accord": {
            "event": format!("{event:?}"),
            "namespace": namespace,
            "modelDeployment": name,
            "version": version,
            "message": note,
            "owed": owed,
        }
    })
}

/// Who is told what about `events` (pure). `team` looks a Team up as it is now.
pub fn plan(
    md: &ModelDeployment,
    events: &[PlannedEvent],
    owed: &BTreeMap<String, Vec<String>>,
    team: &dyn Fn(&str) -> Option<Team>,
) -> Vec<Notification> {
    let mut out = Vec::new();
    for planned in events {
        let Some(kind) = notify_event(planned.reason) else {
            continue;
        };
        let message = body(md, kind, &planned.note, owed);
        for name in recipients(md, kind, owed) {
            let Some(found) = team(&name) else { continue };
            for target in found
                .spec
                .notify
                .iter()
                .filter(|t| t.events.contains(&kind))
            {
                out.push(Notification {
                    team: name.clone(),
                    target: target.name.clone(),
                    secret: target.url_secret_ref.clone(),
                    event: kind,
                    body: message.clone(),
                });
            }
        }
    }
    out
}

/// A notice for one Team (an Incident opened or escalated) to each of its destinations
/// that asked for its kind.
pub fn to_team(md: &ModelDeployment, notice: &Notice, team: &Team) -> Vec<Notification> {
    let message = body(md, notice.event, &notice.note, &BTreeMap::new());
    team.spec
        .notify
        .iter()
        .filter(|t| t.events.contains(&notice.event))
        .map(|target| Notification {
            team: notice.team.clone(),
            target: target.name.clone(),
            secret: target.url_secret_ref.clone(),
            event: notice.event,
            body: message.clone(),
        })
        .collect()
}

/// Each Team's destinations that are told about `event`, as `notified:<name>` — what
/// the escalation message says.
pub fn destinations(team: &Team, event: NotifyEvent) -> Vec<String> {
    team.spec
        .notify
        .iter()
        .filter(|t| t.events.contains(&event))
        .map(|t| format!("notified:{}", t.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::NotifyTarget,
        testing::{md, team},
    };

    fn with_notify(name: &str, events: &[NotifyEvent]) -> Team {
        let mut t = team(name, &["someone"], &[]);
        t.spec.notify = vec![NotifyTarget {
            name: format!("{name}-hook"),
            url_secret_ref: SecretKeyRef {
                name: "hooks".into(),
                key: name.into(),
            },
            events: events.to_vec(),
        }];
        t
    }

    #[test]
    fn only_subscribed_teams_are_told_and_blocking_news_goes_to_the_late_ones() {
        let m = md("2.4.0");
        let teams = |name: &str| match name {
            "data-platform" => Some(with_notify(
                name,
                &[NotifyEvent::Escalated, NotifyEvent::RolledBack],
            )),
            "ml-platform" => Some(with_notify(name, &[NotifyEvent::Promoted])),
            "payments-app" => Some(team(name, &[], &[])),
            _ => None,
        };
        let owed = BTreeMap::from([
            ("data-platform".to_string(), vec!["drift".to_string()]),
            ("ml-platform".to_string(), vec!["latency".to_string()]),
        ]);
        let events = [
            PlannedEvent::warning(event::ESCALATED, "2.4.0 has waited too long".into()),
            PlannedEvent::warning(event::CANARY_FAILED, "canary 2.4.0 ended".into()),
            PlannedEvent::normal(event::SERVING_UPDATED, "replicas".into()),
        ];
        let out = plan(&m, &events, &owed, &teams);
        let told: Vec<(&str, NotifyEvent)> =
            out.iter().map(|n| (n.team.as_str(), n.event)).collect();
        assert_eq!(
            told,
            [
                ("data-platform", NotifyEvent::Escalated),
                ("data-platform", NotifyEvent::RolledBack)
            ]
        );
        let body = &out[0].body;
        assert_eq!(body["accord"]["namespace"], "payments");
        assert_eq!(body["accord"]["modelDeployment"], "fraud-scorer");
        assert_eq!(body["accord"]["owed"]["ml-platform"], json!(["latency"]));
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("Escalated: ModelDeployment payments/fraud-scorer 2.4.0")
        );
        assert_eq!(out[0].secret.key, "data-platform");
        assert_eq!(
            destinations(&teams("data-platform").unwrap(), NotifyEvent::Escalated),
            ["notified:data-platform-hook"]
        );
        assert!(destinations(&teams("ml-platform").unwrap(), NotifyEvent::Escalated).is_empty());
    }
}
