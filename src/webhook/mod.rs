//! The admission webhook: it establishes *who* attested from the API server's
//! authenticated user, seals what it admits, and guards decision rights on
//! ModelDeployments. It serves on every replica, leader or not.
//!
//! [`decision`] and [`review`] are pure; [`seal`] and [`certs`] hold the keys and
//! certificates (in Secrets of the operator's namespace); [`server`] is the HTTPS
//! endpoint; [`configuration`] writes the webhook configurations when asked to.

pub mod certs;
pub mod configuration;
pub mod decision;
pub mod review;
pub mod seal;
pub mod server;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures::StreamExt;
use kube::{
    Api, Client,
    core::DeserializeGuard,
    runtime::{WatchStreamExt, reflector, watcher},
};

use crate::api::{ModelDeployment, Team};
use certs::CertSource;
use configuration::Endpoint;
use seal::SharedKeys;
use server::{WebhookMetrics, WebhookState};

/// How the webhook runs.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Where the HTTPS server listens.
    pub addr: SocketAddr,
    /// Where the certificate comes from.
    pub certs: CertSource,
    /// How the API server reaches the webhook; `None` leaves the configurations alone.
    pub manage_configurations: Option<Endpoint>,
    /// Groups allowed to change owners and request rollbacks on any ModelDeployment.
    pub admin_groups: Vec<String>,
}

/// Starts the webhook: stores, certificate renewal, the HTTPS server, and (when asked)
/// the webhook configurations. Returns once the server is listening.
pub async fn start(
    client: Client,
    config: WebhookConfig,
    keys: Arc<SharedKeys>,
    metrics: WebhookMetrics,
) -> Result<(), String> {
    let (model_deployments, md_writer) = reflector::store::<DeserializeGuard<ModelDeployment>>();
    let (teams, team_writer) = reflector::store::<Team>();
    let md_watch = watcher(
        Api::<DeserializeGuard<ModelDeployment>>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(md_writer)
    .touched_objects()
    .for_each(|_| futures::future::ready(()));
    let team_watch = watcher(Api::<Team>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(team_writer)
        .touched_objects()
        .for_each(|_| futures::future::ready(()));
    tokio::spawn(md_watch);
    tokio::spawn(team_watch);

    let cert_store = certs::load(&client, &config.certs).await?;
    let (ca_tx, ca_rx) = tokio::sync::watch::channel(cert_store.ca_pem());
    tokio::spawn(certs::keep_fresh(
        client.clone(),
        config.certs.clone(),
        cert_store.clone(),
        move |store| {
            let _ = ca_tx.send(store.ca_pem());
        },
    ));

    let state = Arc::new(WebhookState {
        client: client.clone(),
        model_deployments: model_deployments.clone(),
        teams: teams.clone(),
        keys,
        admin_groups: config.admin_groups.clone(),
        metrics,
    });
    // Bind before returning, so a port in use fails start-up with a clear message.
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {} for the webhook: {e}", config.addr))?;
    tokio::spawn({
        let state = state.clone();
        let certs = cert_store.clone();
        async move {
            if let Err(err) = server::serve(listener, state, certs).await {
                tracing::error!(%err, "the admission webhook server stopped");
            }
        }
    });

    // Wait until the stores have listed once, so the first decisions see the world.
    let synced = tokio::time::timeout(Duration::from_secs(30), async {
        let _ = model_deployments.wait_until_ready().await;
        let _ = teams.wait_until_ready().await;
    });
    if synced.await.is_err() {
        tracing::warn!(
            "webhook stores did not sync within 30 s; decisions fall back to live reads"
        );
    }

    if let Some(endpoint) = config.manage_configurations {
        tokio::spawn(configuration::keep_applied(client, endpoint, ca_rx));
    }
    Ok(())
}
