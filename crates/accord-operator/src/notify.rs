//! Delivers Team notifications (`Team.spec.notify`) planned by
//! [`accord_core::notify`]: a Slack-compatible JSON POST to a URL kept in a Secret in
//! the operator's namespace, retried with backoff off the reconcile path, and counted.

use std::time::Duration;

use accord_core::{api::SecretKeyRef, notify::Notification};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client as HttpClient, rt::TokioExecutor};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use prometheus_client::metrics::{counter::Counter, family::Family};
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::{http, metrics::NotifyLabels};

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
        let http: HttpClient<_, Full<Bytes>> =
            HttpClient::builder(TokioExecutor::new()).build(http::connector());
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
