//! The reconcilers and their wiring. The shared watches ([`crate::watch`]) keep the
//! caches and say what changed; [`runner`] turns that into reconciles of
//! ModelDeployments ([`model_deployment`]), Teams ([`team`]) and HandoffPolicies
//! ([`handoff_policy`]). Each ModelDeployment reconcile is a pipeline:
//!
//! [`observe`] (read the caches) → [`accord_core::decide`] (pure: gate → rollout →
//! desired objects and verdicts) → [`apply`] (only what differs) → [`events`].

pub mod analysis;
pub mod apply;
pub mod events;
pub mod handoff_policy;
pub mod model_deployment;
pub mod observe;
pub mod runner;
pub mod team;

#[cfg(test)]
mod scenarios;

use std::sync::Arc;

use futures::FutureExt;
use kube::{
    Client,
    runtime::{
        controller::Config,
        events::{Recorder, Reporter},
    },
};
use tracing::info;

use crate::{
    metrics::ControllerMetrics,
    timing,
    watch::{OwnWrites, Request, Stores, Watches},
};
use accord_core::trust::Verifier;
use runner::{Backoff, Selection};

/// Errors of a reconcile. Each has a stable, low-cardinality label for metrics.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A write was refused because the object changed since it was read; retried at once.
    #[error("{0} changed since it was read; retrying with the current version")]
    Conflict(String),
    /// Any other API error; retried with backoff.
    #[error("Kubernetes API error on {object}: {source}")]
    Kube {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// The object could not be parsed into Accord's types; waits for the object to change.
    #[error("{0}")]
    InvalidObject(String),
    /// The object or its namespace is going away; nothing to do until something changes.
    #[error("{0} is being deleted")]
    Gone(String),
}

impl Error {
    /// Stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Conflict(_) => "conflict",
            Error::Kube { .. } => "kube_api",
            Error::InvalidObject(_) => "invalid_object",
            Error::Gone(_) => "gone",
        }
    }

    /// Classifies an API error on `object` (conflicts and deletions are expected).
    pub fn kube(object: &str, source: kube::Error) -> Self {
        match &source {
            kube::Error::Api(status) if status.code == 409 => Error::Conflict(object.to_string()),
            kube::Error::Api(status)
                if status.code == 404
                    || (status.code == 403 && status.message.contains("being terminated")) =>
            {
                Error::Gone(object.to_string())
            }
            _ => Error::Kube {
                object: object.to_string(),
                source,
            },
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: ControllerMetrics,
    pub stores: Stores,
    /// Decides whether an attestation is authentic (the webhook's seal).
    pub verifier: Arc<dyn Verifier>,
    /// Consecutive failures per object.
    pub backoff: Backoff,
    /// Accord's own ModelDeployment writes, so their watch events ask for nothing.
    pub own_writes: Arc<OwnWrites>,
    /// Queries canaries' analysis servers.
    pub prometheus: analysis::Prometheus,
    /// The Teams whose gauges this replica publishes.
    pub known_teams: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Tells Teams what happened (`Team.spec.notify`), off the reconcile path.
    pub notifier: crate::notify::Notifier,
}

impl Context {
    pub fn new(
        client: Client,
        reporter: Reporter,
        metrics: ControllerMetrics,
        stores: Stores,
        own_writes: Arc<OwnWrites>,
        verifier: Arc<dyn Verifier>,
        namespace: &str,
    ) -> Self {
        let notifier = crate::notify::Notifier::start(
            client.clone(),
            namespace.to_string(),
            metrics.notifications.clone(),
        );
        Self {
            notifier,
            own_writes,
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            stores,
            verifier,
            backoff: Backoff::default(),
            prometheus: analysis::Prometheus::new(),
            known_teams: Default::default(),
        }
    }
}

fn model_deployment_request(
    request: &Request,
) -> Selection<kube::core::DeserializeGuard<crate::api::ModelDeployment>> {
    match request {
        Request::ModelDeployment(r) => Selection::One(r.clone()),
        _ => Selection::Nothing,
    }
}

fn team_request(request: &Request) -> Selection<crate::api::Team> {
    match request {
        Request::Team(r) => Selection::One(r.clone()),
        _ => Selection::Nothing,
    }
}

fn policy_request(request: &Request) -> Selection<crate::api::HandoffPolicy> {
    match request {
        Request::Policy(r) => Selection::One(r.clone()),
        Request::Policies => Selection::All,
        _ => Selection::Nothing,
    }
}

/// How many ModelDeployments are reconciled at once. Each reconcile is a few API calls;
/// a burst of hundreds at once on a small control plane only slows everyone's writes
/// (people's and the webhook's) while finishing no sooner.
pub const MODEL_DEPLOYMENT_CONCURRENCY: u16 = 4;

/// Runs the ModelDeployment and Team reconcilers over the shared watches until
/// `shutdown` resolves, then lets the reconciles in flight finish.
pub async fn run(
    ctx: Arc<Context>,
    watches: &Watches,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shutdown = shutdown.shared();
    let stores = ctx.stores.clone();
    let model_deployments = runner::run(
        "modeldeployment",
        ctx.clone(),
        stores.model_deployments.clone(),
        runner::requests(
            watches.subscribe(),
            stores.model_deployments.clone(),
            model_deployment_request,
        ),
        model_deployment::reconcile,
        Config::default().concurrency(MODEL_DEPLOYMENT_CONCURRENCY),
        shutdown.clone(),
    );
    let policies = runner::run(
        "handoffpolicy",
        ctx.clone(),
        stores.policies.clone(),
        runner::requests(watches.subscribe(), stores.policies.clone(), policy_request),
        handoff_policy::reconcile,
        Config::default()
            .debounce(timing::TEAM_DEBOUNCE)
            .concurrency(1),
        shutdown.clone(),
    );
    let teams = runner::run(
        "team",
        ctx,
        stores.teams.clone(),
        runner::requests(watches.subscribe(), stores.teams.clone(), team_request),
        team::reconcile,
        Config::default()
            .debounce(timing::TEAM_DEBOUNCE)
            .concurrency(1),
        shutdown,
    );
    info!("controllers started");
    futures::future::join3(model_deployments, teams, policies).await;
    info!("controllers stopped");
}
