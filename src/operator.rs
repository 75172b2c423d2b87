//! Runs the operator: waits for the CRDs, serves health and metrics on every replica,
//! and runs the reconcilers only while this replica holds the leader Lease.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client, runtime::events::Reporter};
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::{
    api,
    controller::{
        self,
        gate::{AttestationVerifier, TrustAsWritten},
    },
    metrics::Metrics,
    server::{self, Health},
    webhook::{self, WebhookConfig, seal},
};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub metrics_addr: SocketAddr,
    pub leader_election: bool,
    pub lease_name: String,
    pub lease_namespace: String,
    /// This replica's identity in the Lease and in Events.
    pub identity: String,
    /// The operator's namespace: its Secrets (seal keys, webhook certificate) live here.
    pub namespace: String,
    /// The admission webhook, served on every replica; `None` runs without it.
    pub webhook: Option<WebhookConfig>,
    /// Count attestations without a valid seal, trusting `attestedBy` as written.
    /// Only for clusters where the webhook cannot run; never in production.
    pub trust_unsealed_attestations: bool,
}

/// Resolves when the process is asked to stop (SIGTERM or Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("can install a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Waits until every Accord CRD is installed and Established, saying what it waits for.
pub async fn wait_for_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut last_report = None::<std::time::Instant>;
    loop {
        let mut missing = Vec::new();
        for crd in api::crds() {
            let name = crd.metadata.name.unwrap_or_default();
            let established = match api.get_opt(&name).await {
                Ok(Some(found)) => found
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True"),
                Ok(None) => false,
                Err(err) => {
                    warn!(%err, crd = %name, "cannot read CRD");
                    false
                }
            };
            if !established {
                missing.push(name);
            }
        }
        if missing.is_empty() {
            info!("Accord CRDs are Established");
            return;
        }
        if last_report.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
            warn!(missing = ?missing, "waiting for CRDs to be installed and Established (kubectl apply -f crds/)");
            last_report = Some(std::time::Instant::now());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Runs until a shutdown signal; returns an error only when it cannot start.
pub async fn run(client: Client, config: Config) -> Result<(), StartupError> {
    let metrics = Arc::new(Metrics::default());

    let health = Arc::new(Health {
        metrics: metrics.clone(),
        ready: Default::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let server = tokio::spawn(server::serve(
        config.metrics_addr,
        health.clone(),
        stopped(stop_rx.clone()),
    ));
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    tokio::select! {
        _ = wait_for_crds(&client) => {}
        _ = stopped(stop_rx.clone()) => return Ok(()),
    }
    let verifier: Arc<dyn AttestationVerifier + Send + Sync> = if config.trust_unsealed_attestations
    {
        warn!(
            "--trust-unsealed-attestations: attestedBy and team are trusted as written; anyone who can create Attestations can promote"
        );
        Arc::new(TrustAsWritten)
    } else {
        let keys = seal::load_or_create(&client, &config.namespace)
            .await
            .map_err(|e| {
                StartupError(format!(
                    "cannot load or create the seal keys (Secret {}/{}): {e}",
                    config.namespace,
                    seal::KEYS_SECRET
                ))
            })?;
        let shared = Arc::new(seal::SharedKeys::default());
        shared.set(keys);
        tokio::spawn(seal::refresh(
            client.clone(),
            config.namespace.clone(),
            shared.clone(),
            Duration::from_secs(30),
        ));
        if let Some(webhook_config) = config.webhook.clone() {
            webhook::start(
                client.clone(),
                webhook_config,
                shared.clone(),
                metrics.webhook.clone(),
            )
            .await
            .map_err(StartupError)?;
        }
        Arc::new(seal::SealVerifier(shared))
    };
    health.ready.store(true, Ordering::Relaxed);
    let reporter = Reporter {
        controller: "accord".into(),
        instance: Some(config.identity.clone()),
    };

    if !config.leader_election {
        metrics.controller.leader.set(1);
        controller::run(
            client,
            metrics.controller.clone(),
            reporter,
            verifier,
            stopped(stop_rx.clone()),
        )
        .await;
    } else {
        let manager = LeaseManagerBuilder::new(client.clone(), &config.lease_name)
            .with_namespace(&config.lease_namespace)
            .with_identity(&config.identity)
            .with_duration(15)
            .with_grace(5)
            .with_field_manager(api::FIELD_MANAGER)
            .build()
            .await
            .map_err(|e| StartupError(format!("cannot set up leader election: {e}")))?;
        let (mut leader_rx, lease_task) = manager.watch().await;
        info!(lease = %config.lease_name, namespace = %config.lease_namespace, identity = %config.identity, "waiting for leadership");
        loop {
            // Stand by until this replica leads, or until shutdown.
            tokio::select! {
                changed = leader_rx.wait_for(|leader| *leader) => if changed.is_err() { break },
                _ = stopped(stop_rx.clone()) => break,
            }
            info!("acquired the leader lease; starting the reconcilers");
            metrics.controller.leader.set(1);
            let (lost_tx, lost_rx) = watch::channel(false);
            let mut lost_watch = leader_rx.clone();
            let reconcilers = controller::run(
                client.clone(),
                metrics.controller.clone(),
                reporter.clone(),
                verifier.clone(),
                stopped(lost_rx),
            );
            tokio::pin!(reconcilers);
            let shutting_down = tokio::select! {
                _ = &mut reconcilers => false,
                _ = lost_watch.wait_for(|leader| !*leader) => {
                    warn!("lost the leader lease; stopping the reconcilers");
                    let _ = lost_tx.send(true);
                    reconcilers.await;
                    false
                }
                _ = stopped(stop_rx.clone()) => {
                    let _ = lost_tx.send(true);
                    reconcilers.await;
                    true
                }
            };
            metrics.controller.leader.set(0);
            if shutting_down {
                break;
            }
        }
        // Dropping the receiver makes the lease task release the lease and exit.
        drop(leader_rx);
        match tokio::time::timeout(Duration::from_secs(5), lease_task).await {
            Ok(Ok(Ok(_))) => info!("released the leader lease"),
            Ok(Ok(Err(err))) => warn!(%err, "could not release the leader lease"),
            Ok(Err(err)) => error!(%err, "lease task panicked"),
            Err(_) => warn!("timed out releasing the leader lease"),
        }
    }
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(StartupError(format!("metrics server failed: {err}"))),
        Err(err) => Err(StartupError(format!("metrics server panicked: {err}"))),
    }
}

/// Why the operator could not start (or its server stopped), for humans.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);
