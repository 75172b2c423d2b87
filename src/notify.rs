//! Team notifications: what a reconcile decided (its Events) told to the owner Teams
//! that asked for it (`Team.spec.notify`), as a Slack-compatible JSON POST to a URL
//! kept in a Secret in the operator's namespace.
//!
//! Planning who is told what is pure ([`plan`]); delivery runs on its own task: a
//! reconcile only enqueues, never waits. Each delivery is retried with backoff until
//! one attempt succeeds (so a receiver that fails twice then succeeds gets exactly one
//! delivery), and counted in `accord_notifications_total`.

use std::{collections::BTreeMap, time::Duration};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client as HttpClient, rt::TokioExecutor};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use prometheus_client::metrics::{counter::Counter, family::Family};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::{
    api::{ModelDeployment, NotifyEvent, SecretKeyRef, Team, reasons::event},
    controller::events::PlannedEvent,
    metrics::NotifyLabels,
};

/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Waits between attempts: 6 attempts over about half a minute.
const BACKOFF: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
];
/// Deliveries waiting at most; more are dropped (and counted).
const QUEUE: usize = 1024;

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

/// Enqueues notifications for a task that delivers them.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Notification>,
    counts: Family<NotifyLabels, Counter>,
}

fn count(counts: &Family<NotifyLabels, Counter>, n: &Notification, outcome: &str) {
    counts
        .get_or_create(&NotifyLabels {
            team: n.team.clone(),
            event: format!("{:?}", n.event),
            outcome: outcome.into(),
        })
        .inc();
}

impl Notifier {
    /// Starts the delivery task; URLs are read from Secrets in `namespace`.
    pub fn start(client: Client, namespace: String, counts: Family<NotifyLabels, Counter>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
        let http: HttpClient<_, Full<Bytes>> = HttpClient::builder(TokioExecutor::new())
            .build(crate::controller::analysis::connector());
        let delivery = Delivery {
            secrets: Api::namespaced(client, &namespace),
            http,
            counts: counts.clone(),
        };
        tokio::spawn(async move {
            while let Some(notification) = rx.recv().await {
                let delivery = delivery.clone();
                tokio::spawn(async move { delivery.deliver(notification).await });
            }
        });
        Self { tx, counts }
    }

    /// Queues `notification`; never waits. A full queue drops it (counted).
    pub fn send(&self, notification: Notification) {
        if let Err(mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n)) =
            self.tx.try_send(notification)
        {
            warn!(
                team = n.team,
                target = n.target,
                "notification queue full: dropped"
            );
            count(&self.counts, &n, "dropped");
        }
    }
}

#[derive(Clone)]
struct Delivery {
    secrets: Api<Secret>,
    http: HttpClient<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    counts: Family<NotifyLabels, Counter>,
}

impl Delivery {
    async fn url(&self, secret: &SecretKeyRef) -> Result<String, String> {
        let found = self
            .secrets
            .get_opt(&secret.name)
            .await
            .map_err(|e| format!("cannot read Secret {}: {e}", secret.name))?
            .ok_or_else(|| format!("Secret {} does not exist", secret.name))?;
        let bytes = found
            .data
            .as_ref()
            .and_then(|d| d.get(&secret.key))
            .ok_or_else(|| format!("Secret {} has no key {}", secret.name, secret.key))?;
        String::from_utf8(bytes.0.clone())
            .map(|url| url.trim().to_string())
            .map_err(|_| format!("Secret {} key {} is not text", secret.name, secret.key))
    }

    async fn post(&self, url: &str, body: &Value) -> Result<(), String> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("not a usable URL: {e}"))?;
        match tokio::time::timeout(TIMEOUT, self.http.request(request)).await {
            Err(_) => Err(format!("no answer within {}s", TIMEOUT.as_secs())),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(format!("answered {}", response.status())),
        }
    }

    /// Delivers one notification, retrying with backoff until an attempt succeeds.
    async fn deliver(self, n: Notification) {
        let url = match self.url(&n.secret).await {
            Ok(url) => url,
            Err(why) => {
                warn!(team = n.team, target = n.target, %why, "notification not sent");
                count(&self.counts, &n, "failed");
                return;
            }
        };
        for (attempt, wait) in std::iter::once(None).chain(BACKOFF.map(Some)).enumerate() {
            if let Some(wait) = wait {
                count(&self.counts, &n, "retried");
                tokio::time::sleep(wait).await;
            }
            match self.post(&url, &n.body).await {
                Ok(()) => {
                    info!(team = n.team, target = n.target, event = ?n.event, attempt = attempt + 1, "notified");
                    count(&self.counts, &n, "delivered");
                    return;
                }
                Err(why) => {
                    warn!(team = n.team, target = n.target, attempt = attempt + 1, %why, "notification failed")
                }
            }
        }
        count(&self.counts, &n, "failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::NotifyTarget,
        controller::testing::{md, team},
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
