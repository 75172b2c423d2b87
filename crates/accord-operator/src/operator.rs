//! Runs the operator: waits for the CRDs, serves health and metrics on every replica,
//! and runs the reconcilers only while this replica holds the leader Lease.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client, runtime::events::Reporter};
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tracing::{error, info, warn};

use accord_core::trust::{TrustAsWritten, Verifier};

use crate::{
    api, controller,
    metrics::{ControllerMetrics, Metrics},
    record_keys,
    records::{RecordConfig, Records},
    seal_store,
    server::{self, Health},
    timing,
    watch::Watches,
    webhook::{self, WebhookConfig},
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
    /// How PromotionRecords are written.
    pub records: RecordConfig,
    /// Registry access for drills' ImagePresent step (`--drill-registry`).
    pub drill_registry: Option<crate::registry::RegistryTarget>,
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
        if last_report.is_none_or(|t| t.elapsed() > timing::CRD_WAIT_REPORT) {
            warn!(missing = ?missing, "waiting for CRDs to be installed and Established (kubectl apply -f crds/)");
            last_report = Some(std::time::Instant::now());
        }
        tokio::time::sleep(timing::CRD_POLL).await;
    }
}

/// Why the operator could not start (or its server stopped), for humans.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    SealKeys(#[from] seal_store::SealKeysError),
    #[error(transparent)]
    Webhook(#[from] webhook::StartError),
    #[error("cannot read or create the record signing key (Secret accord-record-keys): {0}")]
    RecordKeys(kube::Error),
    #[error("cannot learn this operator's own identity (SelfSubjectReview): {0}")]
    Identity(kube::Error),
    #[error("cannot set up leader election: {0}")]
    LeaderElection(kube_lease_manager::LeaseManagerError),
    #[error("metrics server failed: {0}")]
    MetricsServer(std::io::Error),
    #[error("metrics server panicked: {0}")]
    MetricsServerPanicked(tokio::task::JoinError),
}

/// Resolves once a stop was requested.
#[derive(Clone)]
struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop requested by SIGTERM or Ctrl-C.
    fn on_signal() -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            info!("shutdown requested");
            let _ = tx.send(true);
        });
        Self(rx)
    }

    fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Runs until a shutdown signal; returns an error only when it cannot start.
pub async fn run(client: Client, config: Config) -> Result<(), StartupError> {
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health {
        metrics: metrics.clone(),
        ready: Default::default(),
    });
    let stop = Stop::on_signal();
    let server = tokio::spawn(server::serve(
        config.metrics_addr,
        health.clone(),
        stop.requested(),
    ));
    tokio::select! {
        _ = wait_for_crds(&client) => {}
        _ = stop.requested() => return Ok(()),
    }
    let watches = Watches::start(&client);
    let verifier = start_verification(&client, &config, &watches, &metrics).await?;
    let records = start_records(&client, &config, &metrics).await?;
    health.ready.store(true, Ordering::Relaxed);
    let reconcilers = Reconcilers {
        records,
        client: client.clone(),
        metrics: metrics.controller.clone(),
        reporter: Reporter {
            controller: "accord".into(),
            instance: Some(config.identity.clone()),
        },
        verifier,
        watches,
        reach: controller::Reach {
            namespace: config.namespace.clone(),
            drill_registry: config.drill_registry.clone(),
        },
    };
    if config.leader_election {
        reconcile_while_leading(&client, &config, &reconcilers, &stop).await?;
    } else {
        metrics.controller.leader.set(1);
        reconcilers.run(stop.requested()).await;
    }
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(StartupError::MetricsServer(err)),
        Err(err) => Err(StartupError::MetricsServerPanicked(err)),
    }
}

/// Loads (or creates) the record signing key, publishes its public half, and keeps
/// both current.
async fn start_records(
    client: &Client,
    config: &Config,
    metrics: &Metrics,
) -> Result<Arc<Records>, StartupError> {
    if config.records.disabled {
        warn!(
            "--write-records=false: no PromotionRecords are written (for measuring only; the audit trail has gaps)"
        );
    }
    let keys = record_keys::load_or_create(client, &config.namespace)
        .await
        .map_err(StartupError::RecordKeys)?;
    let shared = Arc::new(record_keys::SharedRecordKeys::default());
    shared.set(keys);
    tokio::spawn(record_keys::refresh(
        client.clone(),
        config.namespace.clone(),
        shared.clone(),
        timing::SEAL_KEY_REFRESH,
    ));
    Ok(Arc::new(Records::new(
        client.clone(),
        shared,
        config.records.clone(),
        metrics.controller.clone(),
    )))
}

/// Loads the seal keys and starts the webhook over the shared caches; returns how the
/// reconcilers tell authentic attestations.
async fn start_verification(
    client: &Client,
    config: &Config,
    watches: &Watches,
    metrics: &Metrics,
) -> Result<Arc<dyn Verifier>, StartupError> {
    if config.trust_unsealed_attestations {
        warn!(
            "--trust-unsealed-attestations: attestedBy and team are trusted as written; anyone who can create Attestations can promote"
        );
        return Ok(Arc::new(TrustAsWritten));
    }
    let keys = seal_store::load_or_create(client, &config.namespace).await?;
    let shared = Arc::new(accord_core::seal::SharedKeys::default());
    shared.set(keys);
    tokio::spawn(seal_store::refresh(
        client.clone(),
        config.namespace.clone(),
        shared.clone(),
        timing::SEAL_KEY_REFRESH,
    ));
    if let Some(mut webhook_config) = config.webhook.clone() {
        let me = own_identity(client).await?;
        info!(identity = %me, "this operator's identity: only it writes status and uses field manager accord");
        webhook_config.rights.operator_identities.push(me);
        webhook::start(
            client.clone(),
            webhook_config,
            &watches.stores,
            shared.clone(),
            metrics.webhook.clone(),
        )
        .await?;
    }
    Ok(Arc::new(accord_core::seal::SealVerifier(shared)))
}

/// Who this process is to the API server.
async fn own_identity(client: &Client) -> Result<String, StartupError> {
    crate::identity::whoami(client)
        .await
        .map_err(StartupError::Identity)?
        .ok_or_else(|| {
            StartupError::Identity(kube::Error::Api(
                kube::core::Status::failure(
                    "the API server did not say who this operator is",
                    "Unknown",
                )
                .boxed(),
            ))
        })
}

/// What the reconcilers need, for each term of leadership.
struct Reconcilers {
    client: Client,
    /// Writes PromotionRecords.
    records: Arc<Records>,
    metrics: ControllerMetrics,
    reporter: Reporter,
    verifier: Arc<dyn Verifier>,
    watches: Watches,
    /// The operator's namespace and its registry access.
    reach: controller::Reach,
}

impl Reconcilers {
    /// Runs the reconcilers until `stop` resolves.
    async fn run(&self, stop: impl Future<Output = ()> + Send + 'static) {
        let contexts = controller::Contexts::new(
            self.client.clone(),
            self.reporter.clone(),
            self.metrics.clone(),
            self.watches.stores.clone(),
            self.watches.own_writes.clone(),
            controller::Keys {
                verifier: self.verifier.clone(),
                records: self.records.clone(),
            },
            self.reach.clone(),
        );
        let writer = tokio::spawn(self.records.clone().run(timing::RECORD_MAINTENANCE));
        controller::run(contexts, &self.watches, stop).await;
        // Records decided before the stop are still created.
        writer.abort();
        let _ = writer.await;
        self.records.flush().await;
    }
}

/// Runs the reconcilers only while this replica holds the leader Lease, until a stop
/// is requested; then releases the Lease.
async fn reconcile_while_leading(
    client: &Client,
    config: &Config,
    reconcilers: &Reconcilers,
    stop: &Stop,
) -> Result<(), StartupError> {
    let manager = LeaseManagerBuilder::new(client.clone(), &config.lease_name)
        .with_namespace(&config.lease_namespace)
        .with_identity(&config.identity)
        .with_duration(timing::LEASE_SECONDS)
        .with_grace(timing::LEASE_GRACE_SECONDS)
        .with_field_manager(api::FIELD_MANAGER)
        .build()
        .await
        .map_err(StartupError::LeaderElection)?;
    let (mut leader_rx, lease_task) = manager.watch().await;
    info!(lease = %config.lease_name, namespace = %config.lease_namespace, identity = %config.identity, "waiting for leadership");
    loop {
        // Stand by until this replica leads, or until shutdown.
        tokio::select! {
            changed = leader_rx.wait_for(|leader| *leader) => if changed.is_err() { break },
            _ = stop.requested() => break,
        }
        info!("acquired the leader lease; starting the reconcilers");
        reconcilers.metrics.leader.set(1);
        let (lost_tx, mut lost_rx) = watch::channel(false);
        let term = reconcilers.run(async move {
            let _ = lost_rx.wait_for(|lost| *lost).await;
        });
        tokio::pin!(term);
        let mut lost_watch = leader_rx.clone();
        let (ended, shutting_down) = tokio::select! {
            _ = &mut term => (true, false),
            _ = lost_watch.wait_for(|leader| !*leader) => {
                warn!("lost the leader lease; stopping the reconcilers");
                (false, false)
            }
            _ = stop.requested() => (false, true),
        };
        let _ = lost_tx.send(true);
        if !ended {
            term.await;
        }
        reconcilers.metrics.leader.set(0);
        reconcilers.metrics.forget_objects();
        if shutting_down {
            break;
        }
    }
    // Dropping the receiver makes the lease task release the lease and exit.
    drop(leader_rx);
    match tokio::time::timeout(timing::LEASE_RELEASE_TIMEOUT, lease_task).await {
        Ok(Ok(Ok(_))) => info!("released the leader lease"),
        Ok(Ok(Err(err))) => warn!(%err, "could not release the leader lease"),
        Ok(Err(err)) => error!(%err, "lease task panicked"),
        Err(_) => warn!("timed out releasing the leader lease"),
    }
    Ok(())
}
