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
pub mod rollback_drill;
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
use runner::{Runner, Selection};

/// The step of a reconcile an API call belongs to, so an error says where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The live read of a name before creating an object there.
    LookUpNames,
    /// A write the decision asked for: labels, status, a managed object.
    Apply,
    /// An Attestation's `Counted` verdict.
    RecordVerdicts,
    /// An Incident's status.
    RecordIncidents,
    /// A Team's or HandoffPolicy's status.
    WriteStatus,
    /// The live read of the object before acting on it (a RollbackDrill).
    Read,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::LookUpNames => "looking up the names of objects to create",
            Step::Apply => "applying the decision",
            Step::RecordVerdicts => "recording attestation verdicts",
            Step::RecordIncidents => "recording incident status",
            Step::WriteStatus => "writing status",
            Step::Read => "reading it",
        })
    }
}

/// Errors of a reconcile. Each has a stable, low-cardinality label for metrics.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A write was refused because the object changed since it was read; retried at once.
    #[error("{object} changed since it was read ({step}); retrying with the current version")]
    Conflict { step: Step, object: String },
    /// Any other API error; retried with backoff.
    #[error("Kubernetes API error on {object} while {step}: {source}")]
    Kube {
        step: Step,
        object: String,
        #[source]
        source: kube::Error,
    },
    /// The object could not be parsed into Accord's types; waits for the object to change.
    #[error("{0}")]
    InvalidObject(String),
    /// The object or its namespace is going away; nothing to do until something changes.
    #[error("{object} is being deleted ({step})")]
    Gone { step: Step, object: String },
}

impl Error {
    /// Stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Conflict { .. } => "conflict",
            Error::Kube { .. } => "kube_api",
            Error::InvalidObject(_) => "invalid_object",
            Error::Gone { .. } => "gone",
        }
    }

    /// Classifies an API error on `object` in `step` (conflicts and deletions are
    /// expected).
    pub fn kube(step: Step, object: &str, source: kube::Error) -> Self {
        let object = object.to_string();
        match &source {
            kube::Error::Api(status) if status.code == 409 => Error::Conflict { step, object },
            kube::Error::Api(status)
                if status.code == 404
                    || (status.code == 403 && status.message.contains("being terminated")) =>
            {
                Error::Gone { step, object }
            }
            _ => Error::Kube {
                step,
                object,
                source,
            },
        }
    }
}

/// The three reconcilers' contexts, each holding only what its reconciler uses.
pub struct Contexts {
    pub model_deployments: Arc<model_deployment::Context>,
    pub teams: Arc<team::Context>,
    pub policies: Arc<handoff_policy::Context>,
    pub drills: Arc<rollback_drill::Context>,
    /// Reconcile counts, durations and errors, per reconciler.
    pub metrics: ControllerMetrics,
}

/// What the ModelDeployment reconciler trusts and signs with: the seal verifier that
/// tells authentic attestations, and the writer of signed PromotionRecords.
pub struct Keys {
    pub verifier: Arc<dyn Verifier>,
    pub records: Arc<crate::records::Records>,
}

/// Where the operator lives and what it may reach beyond the API server.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// The operator's namespace (notification URL Secrets live here).
    pub namespace: String,
    /// Registries that drills may ask whether their target's images are still there
    /// (`--drill-registry`); `None` leaves the ImagePresent step Skipped.
    pub drill_registry: Option<crate::registry::RegistryTarget>,
}

impl Contexts {
    pub fn new(
        client: Client,
        reporter: Reporter,
        metrics: ControllerMetrics,
        stores: Stores,
        own_writes: Arc<OwnWrites>,
        keys: Keys,
        reach: Reach,
    ) -> Self {
        let Keys { verifier, records } = keys;
        let notifier = crate::notify::Notifier::start(
            client.clone(),
            reach.namespace.clone(),
            metrics.notifications.clone(),
        );
        Self {
            drills: Arc::new(rollback_drill::Context {
                client: client.clone(),
                recorder: Recorder::new(client.clone(), reporter.clone()),
                stores: stores.clone(),
                verifier: verifier.clone(),
                metrics: metrics.clone(),
                notifier: notifier.clone(),
                started: Default::default(),
                registry: reach.drill_registry,
            }),
            model_deployments: Arc::new(model_deployment::Context {
                recorder: Recorder::new(client.clone(), reporter),
                client: client.clone(),
                metrics: metrics.clone(),
                stores: stores.clone(),
                verifier,
                own_writes,
                prometheus: analysis::Prometheus::new(),
                guard_clock: Default::default(),
                notifier,
                records,
            }),
            teams: Arc::new(team::Context {
                client: client.clone(),
                stores: stores.clone(),
                metrics: metrics.clone(),
                known_teams: Default::default(),
            }),
            policies: Arc::new(handoff_policy::Context { client, stores }),
            metrics,
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

fn drill_request(request: &Request) -> Selection<crate::api::RollbackDrill> {
    match request {
        Request::Drill(r) => Selection::One(r.clone()),
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

/// Runs the ModelDeployment, Team and HandoffPolicy reconcilers over the shared
/// watches until `shutdown` resolves, then lets the reconciles in flight finish.
pub async fn run(
    contexts: Contexts,
    watches: &Watches,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shutdown = shutdown.shared();
    let stores = &watches.stores;
    let runner = |kind| Runner::new(kind, contexts.metrics.clone());
    let model_deployments = runner::run(
        runner("modeldeployment"),
        contexts.model_deployments,
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
        runner("handoffpolicy"),
        contexts.policies,
        stores.policies.clone(),
        runner::requests(watches.subscribe(), stores.policies.clone(), policy_request),
        handoff_policy::reconcile,
        Config::default()
            .debounce(timing::TEAM_DEBOUNCE)
            .concurrency(1),
        shutdown.clone(),
    );
    let teams = runner::run(
        runner("team"),
        contexts.teams,
        stores.teams.clone(),
        runner::requests(watches.subscribe(), stores.teams.clone(), team_request),
        team::reconcile,
        Config::default()
            .debounce(timing::TEAM_DEBOUNCE)
            .concurrency(1),
        shutdown.clone(),
    );
    let drills = runner::run(
        runner("rollbackdrill"),
        contexts.drills,
        stores.drills.clone(),
        runner::requests(watches.subscribe(), stores.drills.clone(), drill_request),
        rollback_drill::reconcile,
        Config::default().concurrency(2),
        shutdown.clone(),
    );
    let gauges = gauges(stores.clone(), contexts.metrics.clone(), shutdown);
    info!("controllers started");
    futures::future::join5(model_deployments, teams, policies, drills, gauges).await;
    info!("controllers stopped");
}

/// How often the gauges counted from the caches (Incidents, conformance) are counted
/// again.
const GAUGES_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Counts, from the caches, until `shutdown`: the Incidents not Resolved and those
/// nobody acknowledged, by their Responsible Team; and the serving versions'
/// conformance violations, by namespace, Team and kind.
async fn gauges(stores: Stores, metrics: ControllerMetrics, shutdown: impl Future<Output = ()>) {
    let incidents = stores.incidents.clone();
    let count = async {
        loop {
            metrics.set_conformance(&conformance_counts(&stores));
            metrics.set_drill_last_successes(&drill_last_successes(&stores));
            let mut open = std::collections::BTreeMap::new();
            let mut unacknowledged = std::collections::BTreeMap::new();
            for incident in incidents.state().iter().filter(|i| i.is_open()) {
                let Some(status) = &incident.status else {
                    continue;
                };
                let Some(owner) = &status.owner else { continue };
                *open.entry(owner.team.clone()).or_insert(0) += 1;
                if status.acknowledged_by.is_none() {
                    *unacknowledged.entry(owner.team.clone()).or_insert(0) += 1;
                }
            }
            metrics.set_incidents_open(&open);
            metrics.set_incidents_unacknowledged(&unacknowledged);
            tokio::time::sleep(GAUGES_EVERY).await;
        }
    };
    futures::future::select(std::pin::pin!(count), std::pin::pin!(shutdown)).await;
}

/// Per model, when a drill of it last passed (`status.lastSuccess`, the newest over
/// its drills in the cache).
fn drill_last_successes(
    stores: &Stores,
) -> std::collections::BTreeMap<crate::metrics::DrillLabels, i64> {
    let mut successes = std::collections::BTreeMap::new();
    for drill in stores.drills.state() {
        let Some(success) = drill.status.as_ref().and_then(|s| s.last_success.as_ref()) else {
            continue;
        };
        let labels = crate::metrics::DrillLabels {
            namespace: drill.metadata.namespace.clone().unwrap_or_default(),
            model: drill.spec.model_deployment.clone(),
        };
        let newest = successes.entry(labels).or_insert(i64::MIN);
        *newest = (*newest).max(success.0.as_second());
    }
    successes
}

/// `status.conformance` of every ModelDeployment in the cache, counted by namespace,
/// Team and kind.
fn conformance_counts(
    stores: &Stores,
) -> std::collections::BTreeMap<crate::metrics::ViolationLabels, i64> {
    let mut counts = std::collections::BTreeMap::new();
    for guard in stores.model_deployments.state() {
        let Ok(md) = &guard.0 else { continue };
        let Some(status) = &md.status else { continue };
        for violation in &status.conformance {
            let labels = crate::metrics::ViolationLabels {
                namespace: md.metadata.namespace.clone().unwrap_or_default(),
                team: violation.team.clone(),
                kind: violation.kind.as_str().to_string(),
            };
            *counts.entry(labels).or_insert(0) += 1;
        }
    }
    counts
}
