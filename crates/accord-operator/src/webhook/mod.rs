//! The admission webhook: it establishes *who* attested from the API server's
//! authenticated user, seals what it admits, and guards decision rights on
//! ModelDeployments. It serves on every replica, leader or not.
//!
//! It reads the ModelDeployment, Team, Incident and RollbackDrill caches of the shared
//! watches ([`crate::watch`]). [`decision`] and [`review`] are pure; [`seal`] and
//! [`certs`] hold the keys and certificates (in Secrets of the operator's namespace);
//! [`server`] is the HTTPS endpoint; [`configuration`] writes the webhook
//! configurations when asked to.

pub mod certs;
pub mod check;
pub mod configuration;
pub mod server;

use std::{net::SocketAddr, sync::Arc};

use kube::Client;

use crate::{timing, watch::Stores};
use accord_core::seal::SharedKeys;
use certs::{CertError, CertSource};
use configuration::Endpoint;
use server::WebhookState;

use crate::metrics::WebhookMetrics;

/// How the webhook runs.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Where the HTTPS server listens.
    pub addr: SocketAddr,
    /// Where the certificate comes from.
    pub certs: CertSource,
    /// How the API server reaches the webhook; `None` leaves the configurations alone.
    pub manage_configurations: Option<Endpoint>,
    /// Who may make any decision (admin groups), and who the operator is: only it
    /// writes status and uses its field manager name.
    pub rights: accord_core::admission::Rights,
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error("cannot listen on {addr} for the webhook: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Serves admissions on a runtime of their own: the API server waits on every answer,
/// so a burst of reconciles on a 2-core machine must never queue ahead of them.
fn serve_on_own_runtime(
    listener: std::net::TcpListener,
    state: Arc<WebhookState>,
    certs: Arc<certs::CertStore>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("accord-webhook")
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("accord-webhook".into())
        .spawn(move || {
            runtime.block_on(async move {
                let served = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => server::serve(listener, state, certs).await,
                    Err(err) => Err(err),
                };
                if let Err(err) = served {
                    tracing::error!(%err, "the admission webhook server stopped");
                }
            })
        })?;
    Ok(())
}

/// Starts the webhook over the shared caches: certificate renewal, the HTTPS server,
/// and (when asked) the webhook configurations. Returns once the server is listening.
pub async fn start(
    client: Client,
    config: WebhookConfig,
    stores: &Stores,
    keys: Arc<SharedKeys>,
    metrics: WebhookMetrics,
) -> Result<(), StartError> {
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
        model_deployments: stores.model_deployments.clone(),
        teams: stores.teams.clone(),
        policies: stores.policies.clone(),
        namespaces: stores.namespaces.clone(),
        incidents: stores.incidents.clone(),
        drills: stores.drills.clone(),
        keys,
        rights: config.rights.clone(),
        metrics,
    });
    // Bind before returning, so a port in use fails start-up with a clear message.
    let bind_error = |source| StartError::Bind {
        addr: config.addr,
        source,
    };
    let listener = std::net::TcpListener::bind(config.addr).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    serve_on_own_runtime(listener, state, cert_store).map_err(bind_error)?;

    // Wait until the caches have listed once, so the first decisions see the world.
    let synced = tokio::time::timeout(timing::WEBHOOK_CACHE_SYNC, async {
        let _ = stores.model_deployments.wait_until_ready().await;
        let _ = stores.teams.wait_until_ready().await;
        let _ = stores.incidents.wait_until_ready().await;
        let _ = stores.drills.wait_until_ready().await;
    });
    if synced.await.is_err() {
        tracing::warn!("webhook caches did not sync in time; decisions fall back to live reads");
    }

    if let Some(endpoint) = config.manage_configurations {
        let exempt = config.rights.operator_identities.clone();
        tokio::spawn(configuration::keep_applied(client, endpoint, exempt, ca_rx));
    }
    Ok(())
}
