//! The reconcilers and their wiring. Watches feed stores (the index of Teams,
//! Attestations and managed objects); each reconcile reads those, calls the pure
//! decision modules, then applies and writes status only when something changed.
//!
//! Data flows one way: watches → stores → [`gate`] → [`rollout`] / [`desired`] → [`apply`].

pub mod apply;
pub mod desired;
pub mod gate;
pub mod rollout;
pub mod status;
mod team;
#[cfg(test)]
pub(crate) mod testing;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Service},
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    core::DeserializeGuard,
    runtime::{
        WatchStreamExt,
        controller::{Action, Controller},
        events::{Event, Recorder, Reporter},
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use tracing::{info, instrument, warn};

use crate::{
    api::{Attestation, ModelDeployment, Role, Team, labels},
    metrics::{ControllerLabels, ControllerMetrics, ErrorLabels, ModelLabels},
};
use gate::AttestationVerifier;
use rollout::{DeploymentObservation, PlanInput};

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

    fn kube(object: &str, source: kube::Error) -> Self {
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

/// Stores fed by watches; the reconcilers read the world from here.
#[derive(Clone)]
pub struct Stores {
    pub teams: Store<Team>,
    pub attestations: Store<Attestation>,
    pub deployments: Store<Deployment>,
    pub services: Store<Service>,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: ControllerMetrics,
    pub stores: Stores,
    /// Decides whether an attestation is authentic (the webhook's seal).
    pub verifier: Arc<dyn AttestationVerifier + Send + Sync>,
    /// Consecutive failures per object, for exponential backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    fn backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("not poisoned");
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        Duration::from_secs((1u64 << (*n).min(8)).min(300))
    }

    fn succeeded(&self, key: &str) {
        self.failures.lock().expect("not poisoned").remove(key);
    }
}

const MD_CONTROLLER: &str = "modeldeployment";

fn object_key(namespace: Option<&str>, name: &str) -> String {
    format!("{}/{name}", namespace.unwrap_or_default())
}

/// The label selector of objects Accord manages.
fn managed_selector() -> String {
    format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE)
}

/// Runs the ModelDeployment and Team reconcilers until `shutdown` resolves.
pub async fn run(
    client: Client,
    metrics: ControllerMetrics,
    reporter: Reporter,
    verifier: Arc<dyn AttestationVerifier + Send + Sync>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (teams, teams_writer) = reflector::store();
    let (attestations, attestations_writer) = reflector::store();
    let (deployments, deployments_writer) = reflector::store();
    let (services, services_writer) = reflector::store();
    let managed = watcher::Config::default().labels(&managed_selector());

    let team_events = watcher(Api::<Team>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(teams_writer)
        .touched_objects();
    let attestation_events = watcher(
        Api::<Attestation>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(attestations_writer)
    .touched_objects();
    let deployment_events = watcher(Api::<Deployment>::all(client.clone()), managed.clone())
        .default_backoff()
        .reflect(deployments_writer)
        .touched_objects();
    let service_events = watcher(Api::<Service>::all(client.clone()), managed)
        .default_backoff()
        .reflect(services_writer)
        .touched_objects();

    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(client.clone(), reporter),
        metrics,
        stores: Stores {
            teams,
            attestations,
            deployments,
            services,
        },
        verifier,
        failures: Mutex::default(),
    });

    let md_api = Api::<DeserializeGuard<ModelDeployment>>::all(client.clone());
    let controller = Controller::new(md_api, watcher::Config::default());
    let model_deployments = controller.store();
    let (shutdown_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut md_shutdown = shutdown_tx.subscribe();
    let mut team_shutdown = shutdown_tx.subscribe();

    let md_controller = controller
        .owns_stream(deployment_events)
        .owns_stream(service_events)
        .watches_stream(attestation_events, |att: Attestation| {
            let namespace = att.namespace().unwrap_or_default();
            Some(ObjectRef::new(&att.spec.model_deployment).within(&namespace))
        })
        .watches_stream(team_events, {
            let model_deployments = model_deployments.clone();
            move |team: Team| {
                let name = team.name_any();
                model_deployments
                    .state()
                    .into_iter()
                    .filter(|guard| {
                        guard.0.as_ref().is_ok_and(|md| {
                            Role::ALL
                                .iter()
                                .any(|r| md.spec.owners.team_for(*r) == name)
                        })
                    })
                    .map(|guard| ObjectRef::from_obj(guard.as_ref()))
                    .collect::<Vec<_>>()
            }
        })
        .graceful_shutdown_on(async move {
            let _ = md_shutdown.recv().await;
        })
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));

    let team_controller = team::controller(client, ctx.clone(), async move {
        let _ = team_shutdown.recv().await;
    });

    info!("controllers started");
    tokio::select! {
        _ = futures::future::join(md_controller, team_controller) => {}
        _ = shutdown => {
            info!("stopping controllers");
            let _ = shutdown_tx.send(());
        }
    }
}

fn observe_deployment(ctx: &Context, md: &ModelDeployment) -> Option<DeploymentObservation> {
    let name = md.name_any();
    let namespace = md.namespace().unwrap_or_default();
    let deployment = ctx
        .stores
        .deployments
        .get(&ObjectRef::new(&name).within(&namespace))?;
    let owned = deployment
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == md.uid().as_ref());
    if !owned {
        return None;
    }
    let spec = deployment.spec.as_ref()?;
    let status = deployment.status.clone().unwrap_or_default();
    let want = spec.replicas.unwrap_or(1);
    let generation_seen =
        status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    let rollout_complete = generation_seen
        && status.updated_replicas.unwrap_or(0) >= want
        && status.replicas.unwrap_or(0) <= want
        && status.available_replicas.unwrap_or(0) >= want;
    Some(DeploymentObservation {
        hash: desired::recorded_hash(&deployment.metadata).map(String::from),
        rollout_complete,
    })
}

#[instrument(skip(guard, ctx), fields(name = %guard.name_any(), namespace = guard.namespace().unwrap_or_default()))]
async fn reconcile(
    guard: Arc<DeserializeGuard<ModelDeployment>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let labels = ControllerLabels {
        controller: MD_CONTROLLER.into(),
    };
    ctx.metrics.reconciles.get_or_create(&labels).inc();
    let started = Instant::now();
    let result = reconcile_model_deployment(&guard, &ctx).await;
    ctx.metrics
        .reconcile_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.succeeded(&object_key(guard.namespace().as_deref(), &guard.name_any()));
    }
    result
}

async fn reconcile_model_deployment(
    guard: &DeserializeGuard<ModelDeployment>,
    ctx: &Context,
) -> Result<Action, Error> {
    let md = match &guard.0 {
        Ok(md) => md,
        Err(invalid) => {
            let message = format!(
                "ModelDeployment {}/{} cannot be read by this operator: {invalid}; fix the object \
                 (or install the CRDs that match this operator version)",
                guard.namespace().unwrap_or_default(),
                guard.name_any()
            );
            let event = Event {
                type_: kube::runtime::events::EventType::Warning,
                reason: "InvalidObject".into(),
                note: Some(truncate(&message, 1000)),
                action: "Reconcile".into(),
                secondary: None,
            };
            if let Err(err) = ctx.recorder.publish(&event, &guard.object_ref(&())).await {
                warn!(%err, "could not record Event");
            }
            return Err(Error::InvalidObject(message));
        }
    };
    if md.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes the managed objects; Attestations stay as records.
        return Ok(Action::await_change());
    }
    let name = md.name_any();
    let namespace = md.namespace().unwrap_or_default();
    let key = object_key(Some(&namespace), &name);

    // Read the world from the stores.
    let lookup_team = |team: &str| {
        ctx.stores
            .teams
            .get(&ObjectRef::new(team))
            .map(|t| (*t).clone())
    };
    let attestations = ctx.stores.attestations.state();
    let gate = gate::evaluate(
        md,
        attestations.iter().map(AsRef::as_ref),
        &lookup_team,
        ctx.verifier.as_ref(),
    );
    let mut missing_teams = Vec::new();
    let mut contacts = BTreeMap::new();
    for role in Role::ALL {
        let team_name = md.spec.owners.team_for(role);
        match lookup_team(team_name) {
            Some(team) => {
                contacts.insert(team_name.to_string(), team.spec.contacts.clone());
            }
            None => missing_teams.push((role, team_name.to_string())),
        }
    }
    let input = PlanInput {
        md,
        gate: &gate,
        missing_teams,
        contacts,
        deployment: observe_deployment(ctx, md),
        now: Time(jiff::Timestamp::now()),
    };
    let plan = rollout::plan(&input);

    // Apply: only what differs from what is there.
    let owner_labels = desired::owner_labels(md);
    let current_labels = md.labels();
    if owner_labels
        .iter()
        .any(|(k, v)| current_labels.get(k) != Some(v))
    {
        apply::model_deployment_labels(&ctx.client, md, &owner_labels)
            .await
            .map_err(|e| Error::kube(&key, e))?;
    }
    if let Some(active) = &plan.serve {
        let want = desired::desired_deployment(md, active, &plan.status.history);
        let live = input.deployment.as_ref().and_then(|d| d.hash.clone());
        if live.as_deref() != desired::recorded_hash(&want.metadata) {
            apply::managed(&ctx.client, &want)
                .await
                .map_err(|e| Error::kube(&format!("Deployment {key}"), e))?;
        }
        let live_service = ctx
            .stores
            .services
            .get(&ObjectRef::new(&name).within(&namespace));
        match desired::desired_service(md, active) {
            Some(want) => {
                let live_hash = live_service
                    .as_ref()
                    .and_then(|s| desired::recorded_hash(&s.metadata).map(String::from));
                if live_hash.as_deref() != desired::recorded_hash(&want.metadata) {
                    apply::managed(&ctx.client, &want)
                        .await
                        .map_err(|e| Error::kube(&format!("Service {key}"), e))?;
                }
            }
            None => {
                let ours = live_service.is_some_and(|s| {
                    s.owner_references()
                        .iter()
                        .any(|o| Some(&o.uid) == md.uid().as_ref())
                });
                if ours {
                    apply::delete_service(&ctx.client, &namespace, &name)
                        .await
                        .map_err(|e| Error::kube(&format!("Service {key}"), e))?;
                }
            }
        }
    }
    if md.status.as_ref() != Some(&plan.status) {
        apply::model_deployment_status(&ctx.client, md, &plan.status)
            .await
            .map_err(|e| Error::kube(&key, e))?;
    }

    record_attestation_verdicts(ctx, md, &gate, &attestations).await?;

    // Only after the state is recorded: Events and metrics, so a retry repeats none.
    let reference = md.object_ref(&());
    for planned in &plan.events {
        let event = Event {
            type_: planned.type_,
            reason: planned.reason.into(),
            note: Some(truncate(&planned.note, 1000)),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            warn!(%err, reason = planned.reason, "could not record Event");
        }
        info!(reason = planned.reason, "{}", planned.note);
    }
    let model = ModelLabels {
        namespace: namespace.clone(),
        model_deployment: name.clone(),
    };
    if plan.signals.promoted {
        ctx.metrics.promotions.get_or_create(&model).inc();
    }
    if plan.signals.rolled_back {
        ctx.metrics.rollbacks.get_or_create(&model).inc();
    }
    if plan.signals.escalated {
        ctx.metrics.escalations.get_or_create(&model).inc();
    }
    if let Some(wait) = plan.signals.sign_off_wait {
        ctx.metrics.sign_off_wait.observe(wait.as_secs_f64());
    }
    Ok(Action::requeue(plan.requeue_after))
}

/// Condition type on an Attestation: whether it counts for the candidate.
pub const COUNTED: &str = "Counted";

/// Tells each Attestation for the candidate whether it counts (its `Counted` condition),
/// and records one `AttestationRejected` Event on the ModelDeployment per attestation
/// that does not. Writes only when the verdict changes.
async fn record_attestation_verdicts(
    ctx: &Context,
    md: &ModelDeployment,
    gate: &gate::GateOutcome,
    attestations: &[Arc<Attestation>],
) -> Result<(), Error> {
    let namespace = md.namespace();
    let name = md.name_any();
    let generation = None;
    let now = Time(jiff::Timestamp::now());
    for attestation in attestations.iter().filter(|a| {
        a.namespace() == namespace
            && a.spec.model_deployment == name
            && a.spec.version == md.spec.model.version
            && a.metadata.deletion_timestamp.is_none()
    }) {
        let att_name = attestation.name_any();
        let counted_for = gate
            .items
            .iter()
            .find(|i| i.attestation.as_deref() == Some(att_name.as_str()));
        let rejection = gate
            .rejected
            .iter()
            .find(|(n, _)| *n == att_name)
            .map(|(_, r)| r);
        let (counts, reason, message) = match (counted_for, rejection) {
            (Some(item), _) => (
                true,
                "Counted",
                format!(
                    "counts for item {} of version {}",
                    item.id, md.spec.model.version
                ),
            ),
            (None, Some(rejection)) => (false, rejection.reason, rejection.message.clone()),
            (None, None) => (
                false,
                "Superseded",
                format!(
                    "item {} is already attested by an earlier Attestation",
                    attestation.spec.item
                ),
            ),
        };
        let old = attestation
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        let mut conditions = old.clone();
        status::set_condition(
            &mut conditions,
            COUNTED,
            counts,
            reason,
            message.clone(),
            generation,
            &now,
        );
        if conditions == old {
            continue;
        }
        apply::attestation_status(&ctx.client, attestation, &conditions)
            .await
            .map_err(|e| {
                Error::kube(
                    &format!(
                        "Attestation {}/{att_name}",
                        namespace.as_deref().unwrap_or_default()
                    ),
                    e,
                )
            })?;
        let was_rejected = status::condition(&old, COUNTED)
            .is_some_and(|c| c.status == "False" && c.reason == reason);
        if !counts && reason != "Superseded" && !was_rejected {
            let who = attestation
                .spec
                .attested_by
                .as_deref()
                .unwrap_or("an unknown user");
            let event = Event {
                type_: kube::runtime::events::EventType::Warning,
                reason: "AttestationRejected".into(),
                note: Some(truncate(
                    &format!("attestation {att_name} by {who} does not count: {message}"),
                    1000,
                )),
                action: "Reconcile".into(),
                secondary: Some(attestation.object_ref(&())),
            };
            if let Err(err) = ctx.recorder.publish(&event, &md.object_ref(&())).await {
                warn!(%err, "could not record Event");
            }
            warn!(attestation = %att_name, "attestation does not count: {message}");
        }
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn error_policy(
    guard: Arc<DeserializeGuard<ModelDeployment>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    ctx.metrics
        .errors
        .get_or_create(&ErrorLabels {
            controller: MD_CONTROLLER.into(),
            reason: error.metric_label().into(),
        })
        .inc();
    let key = object_key(guard.namespace().as_deref(), &guard.name_any());
    match error {
        Error::InvalidObject(_) => {
            warn!(%error, "skipping until the object changes");
            Action::await_change()
        }
        Error::Conflict(_) => Action::requeue(Duration::from_millis(500)),
        Error::Gone(_) => {
            tracing::debug!(%error, "waiting for the deletion to finish");
            Action::await_change()
        }
        Error::Kube { .. } => {
            let delay = ctx.backoff(&key);
            warn!(%error, retry_in = ?delay, "reconcile failed");
            Action::requeue(delay)
        }
    }
}
