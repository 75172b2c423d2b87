//! The RollbackDrill reconciler: starts a run when one is due, follows it step by step
//! ([`accord_core::rehearsal`] decides each), cleans up after it, and records the
//! tabletop's acknowledgements and escalations.
//!
//! A run's status is written (Running) **before** its objects are created, and every
//! reconcile removes what the drill owns that its running run does not account for.
//! A run this process did not start is one a previous operator process left behind
//! (killed, or a leader that stepped down): it is finished as Failed and its objects
//! are deleted — see docs/drills.md.

use std::{collections::HashSet, sync::Arc, time::Duration};

use http_body_util::BodyExt;
use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{Pod, Service},
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, ListParams, PostParams, Preconditions},
    runtime::{controller::Action, events::Recorder},
};

use accord_core::{
    events::PlannedEvent,
    notify::{Notice, to_team},
    rehearsal::{self, Next},
    status::set_condition,
};

use super::{Error, Step, apply, events};
use crate::{
    api::{
        DrillRun, ModelDeployment, NotifyEvent, RollbackDrill, RollbackDrillStatus, RunResult,
        StepName, StepResult, conditions,
        reasons::{condition, event},
    },
    metrics::ControllerMetrics,
    timing,
    watch::Stores,
};

/// What the drill reconciler uses.
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub stores: Stores,
    pub verifier: Arc<dyn accord_core::trust::Verifier>,
    pub metrics: ControllerMetrics,
    pub notifier: crate::notify::Notifier,
    /// The runs this process started (`namespace/drill/run`): a Running run not here
    /// was left by another process.
    pub started: std::sync::Mutex<HashSet<String>>,
    /// Where the registry credentials for the ImagePresent step are; `None`: the step
    /// is Skipped.
    pub registry: Option<crate::registry::RegistryTarget>,
}

impl Context {
    fn started(&self, key: &str) -> bool {
        self.started.lock().expect("not poisoned").contains(key)
    }
}

/// How often a running run is looked at.
const WHILE_RUNNING: Duration = Duration::from_secs(2);

fn run_key(drill: &RollbackDrill, run: &str) -> String {
    format!(
        "{}/{}/{run}",
        drill.namespace().unwrap_or_default(),
        drill.name_any()
    )
}

fn now() -> Time {
    Time(Timestamp::now())
}

/// Reconciles one drill, read live: a run's steps are side effects (objects created
/// and deleted), so they are never decided on a cache that may lag the last status
/// write.
pub async fn reconcile(cached: Arc<RollbackDrill>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api: Api<RollbackDrill> =
        Api::namespaced(ctx.client.clone(), &cached.namespace().unwrap_or_default());
    let drill = match api.get_opt(&cached.name_any()).await {
        Ok(Some(drill)) => drill,
        Ok(None) => return Ok(Action::await_change()),
        Err(e) => return Err(Error::kube(Step::Read, &describe(&cached), e)),
    };
    if drill.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let mut status = drill.status.clone().unwrap_or_default();
    let md = model_deployment(&ctx.stores, &drill);
    let mut planned = vec![];
    let running = status
        .runs
        .first()
        .filter(|r| r.result == RunResult::Running)
        .map(|r| r.id.clone());
    planned.extend(remove_leftovers(&ctx, &drill, running.as_deref()).await?);
    let mut wait = None;
    if let Some(id) = running {
        let run = status.runs.first_mut().expect("running run");
        wait = if ctx.started(&run_key(&drill, &id)) {
            follow(&ctx, &drill, run).await?
        } else {
            abandon(&ctx, &drill, run).await?;
            None
        };
        if run.is_finished() {
            planned.push(finished(&ctx, run));
        }
    } else if let Some(started) = start(&ctx, &drill, md.as_deref(), &mut status).await? {
        planned.push(started);
        wait = Some(Duration::ZERO);
    }
    if let Some(success) = status.runs.iter().find(|r| r.result == RunResult::Passed) {
        status.last_success = success.finished_at.clone();
    }
    let mut review_due = None;
    if let Some(md) = &md {
        let (events, due) = tabletop(&ctx, &drill, md, &mut status);
        planned.extend(events);
        review_due = due;
    }
    let next = schedule_and_conditions(&drill, md.is_some(), &mut status);
    if drill.status.as_ref() != Some(&status) {
        apply::drill_status(&ctx.client, &drill, &status)
            .await
            .map_err(|e| Error::kube(Step::WriteStatus, &describe(&drill), e))?;
    }
    for event in &planned {
        events::publish(&ctx.recorder, &drill.object_ref(&()), event).await;
    }
    Ok(Action::requeue(
        [wait, next, review_due, Some(timing::IDLE_REQUEUE)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(timing::IDLE_REQUEUE)
            .max(Duration::from_millis(200)),
    ))
}

fn describe(drill: &RollbackDrill) -> String {
    format!(
        "RollbackDrill {}/{}",
        drill.namespace().unwrap_or_default(),
        drill.name_any()
    )
}

fn model_deployment(stores: &Stores, drill: &RollbackDrill) -> Option<Arc<ModelDeployment>> {
    let namespace = drill.namespace().unwrap_or_default();
    let guard = stores.model_deployments.get(&Stores::model_deployment_ref(
        &namespace,
        &drill.spec.model_deployment,
    ))?;
    guard.0.as_ref().ok().map(|md| Arc::new(md.clone()))
}

/// The next firing of the schedule (status.nextRunAt) and the drill's Ready condition;
/// returns how long until that firing.
fn schedule_and_conditions(
    drill: &RollbackDrill,
    md_found: bool,
    status: &mut RollbackDrillStatus,
) -> Option<Duration> {
    let now = now();
    let (ready, reason, message, next) = match rehearsal::schedule(drill) {
        Some(Err(error)) => (false, condition::INVALID_SCHEDULE, error.to_string(), None),
        _ if !md_found => (
            false,
            condition::MODEL_DEPLOYMENT_NOT_FOUND,
            format!(
                "ModelDeployment {} does not exist in this namespace: runs fail at TargetResolved until it does",
                drill.spec.model_deployment
            ),
            None,
        ),
        Some(Ok(schedule)) => {
            let next = schedule.next_after(now.0);
            let when = next.map_or("never".into(), |t| t.to_string());
            (
                true,
                condition::DRILL_READY,
                format!(
                    "next run at {when} ({})",
                    drill.spec.schedule.as_deref().unwrap_or_default()
                ),
                next,
            )
        }
        None => (
            true,
            condition::DRILL_READY,
            "no spec.schedule: runs once on creation and on request (kubectl accord drill run)"
                .into(),
            None,
        ),
    };
    status.next_run_at = next.map(Time);
    status.observed_generation = drill.metadata.generation;
    set_condition(
        &mut status.conditions,
        conditions::READY,
        ready,
        reason,
        message,
        drill.metadata.generation,
        &now,
    );
    next.map(|t| Duration::from_secs(t.duration_since(now.0).as_secs().max(0).unsigned_abs()))
}

/// Starts a run when one is due: writes it (Running) to status first, then creates
/// its objects. Returns the DrillStarted Event.
async fn start(
    ctx: &Context,
    drill: &RollbackDrill,
    md: Option<&ModelDeployment>,
    status: &mut RollbackDrillStatus,
) -> Result<Option<PlannedEvent>, Error> {
    let schedule = match rehearsal::schedule(drill) {
        Some(Ok(schedule)) => Some(schedule),
        Some(Err(_)) => return Ok(None),
        None => None,
    };
    let now = now();
    let Some(due) = rehearsal::due(drill, schedule.as_ref(), now.0) else {
        return Ok(None);
    };
    let mut id = rehearsal::run_id(now.0);
    if status.runs.iter().any(|r| r.id == id) {
        id = format!("{id}-{}", status.runs.len());
    }
    let mut run = DrillRun {
        id: id.clone(),
        trigger: due.trigger.to_string(),
        requested_by: due.requested_by.clone(),
        started_at: now.clone(),
        finished_at: None,
        target: None,
        workload: None,
        steps: vec![],
        time_to_ready: None,
        result: RunResult::Running,
        message: None,
        acknowledged_by: vec![],
        acknowledged_at: None,
        escalated_at: None,
    };
    let resolved = resolve(ctx, drill, md, &mut run, &now).await;
    status.runs.insert(0, run);
    status.runs.truncate(crate::api::rollback_drill::MAX_RUNS);
    status.last_run = Some(id.clone());
    if due.request.is_some() {
        status.last_run_request = due.request.clone();
    }
    if let Some(fired) = due.schedule_time {
        status.last_schedule_time = Some(Time(fired));
    }
    // Status first, conditional on the version read: two replicas never both start it,
    // and a crash after this leaves a Running run whose objects are found and removed.
    let written = apply::drill_status_at(&ctx.client, drill, status, drill.resource_version())
        .await
        .map_err(|e| Error::kube(Step::WriteStatus, &describe(drill), e))?;
    let drill = &written;
    let run = status.runs.first_mut().expect("just added");
    ctx.started
        .lock()
        .expect("not poisoned")
        .insert(run_key(drill, &id));
    if let (Some(resolved), Some(md)) = (resolved, md) {
        create_objects(ctx, drill, md, &resolved, run).await;
    }
    let target = run
        .target
        .as_ref()
        .map_or("?".into(), |t| t.version.clone());
    let by = due
        .requested_by
        .map(|u| format!(", requested by {u}"))
        .unwrap_or_default();
    Ok(Some(PlannedEvent::normal(
        event::DRILL_STARTED,
        format!(
            "run {id} ({}{by}) rehearses a rollback of {} to {target} in {}",
            due.trigger,
            drill.spec.model_deployment,
            run.workload.as_deref().unwrap_or("(nothing created)")
        ),
    )))
}

/// The first steps, judged before anything is created: the target, the image, and
/// the rollback rights. Nothing is created for a target whose image is gone.
async fn resolve(
    ctx: &Context,
    drill: &RollbackDrill,
    md: Option<&ModelDeployment>,
    run: &mut DrillRun,
    now: &Time,
) -> Option<rehearsal::Resolved> {
    use rehearsal::step;
    let Some(md) = md else {
        run.steps.push(step(
            StepName::TargetResolved,
            StepResult::Failed,
            format!(
                "ModelDeployment {} does not exist in this namespace",
                drill.spec.model_deployment
            ),
            None,
            now,
        ));
        return None;
    };
    let resolved = match rehearsal::resolve_target(drill, md, ctx.verifier.as_ref()) {
        Ok(resolved) => resolved,
        Err(message) => {
            run.steps.push(step(
                StepName::TargetResolved,
                StepResult::Failed,
                message,
                None,
                now,
            ));
            return None;
        }
    };
    run.steps.push(step(
        StepName::TargetResolved,
        StepResult::Passed,
        resolved.message.clone(),
        None,
        now,
    ));
    run.target = Some(resolved.target.clone());
    let image = match &ctx.registry {
        None => rehearsal::image_present_not_checked(now),
        Some(registry) => {
            let images = rehearsal::images(&resolved, md);
            check_images(ctx, registry, &resolved.target.version, &images, now).await
        }
    };
    let image_present = image.result != StepResult::Failed;
    run.steps.push(image);
    let platform = ctx
        .stores
        .teams
        .get(&kube::runtime::reflector::ObjectRef::new(
            &md.spec.owners.platform,
        ));
    run.steps
        .push(rehearsal::rollback_rights(md, platform.as_deref(), now));
    if !image_present {
        return None;
    }
    run.workload = Some(rehearsal::workload_name(&md.name_any(), &run.id));
    Some(resolved)
}

/// Asks each image's registry whether the manifest a pull would fetch is still there.
async fn check_images(
    ctx: &Context,
    registry: &crate::registry::RegistryTarget,
    version: &str,
    images: &[String],
    now: &Time,
) -> crate::api::DrillStep {
    use crate::registry::{Lookup, RegistryClient, lookup};
    use rehearsal::ImageCheck;
    let started = std::time::Instant::now();
    let checks = match crate::registry::credentials(&ctx.client, registry).await {
        Err(error) => images
            .iter()
            .map(|image| {
                let why = format!("the registry credentials are unreadable: {error}");
                (image.clone(), ImageCheck::Unanswered(why))
            })
            .collect::<Vec<_>>(),
        Ok(config) => {
            let client = RegistryClient::new(config);
            let mut checks = vec![];
            for image in images {
                let check = match lookup(&client, image).await {
                    Ok(Lookup::Found { digest, .. }) => ImageCheck::Present { digest },
                    Ok(Lookup::Missing { detail }) => ImageCheck::Missing(detail),
                    Err(error) => ImageCheck::Unanswered(error.to_string()),
                };
                checks.push((image.clone(), check));
            }
            checks
        }
    };
    rehearsal::image_present(version, &checks, started.elapsed(), now)
}

/// Creates the run's Deployment and Service. Never adopts: a name already taken fails
/// the run at Scheduled and the object is left alone.
async fn create_objects(
    ctx: &Context,
    drill: &RollbackDrill,
    md: &ModelDeployment,
    resolved: &rehearsal::Resolved,
    run: &mut DrillRun,
) {
    let namespace = drill.namespace().unwrap_or_default();
    let deployment = rehearsal::drill_deployment(drill, md, resolved, &run.id);
    let service = rehearsal::drill_service(drill, md, &run.id);
    let params = PostParams {
        field_manager: Some(crate::api::FIELD_MANAGER.into()),
        ..Default::default()
    };
    let mut failure = Api::<Deployment>::namespaced(ctx.client.clone(), &namespace)
        .create(&params, &deployment)
        .await
        .err()
        .map(|e| format!("could not create Deployment {}: {e}", deployment.name_any()));
    if let (None, Some(service)) = (&failure, service) {
        failure = Api::<Service>::namespaced(ctx.client.clone(), &namespace)
            .create(&params, &service)
            .await
            .err()
            .map(|e| format!("could not create Service {}: {e}", service.name_any()));
    }
    if let Some(message) = failure {
        tracing::warn!(drill = %describe(drill), "{message}");
        run.steps.push(rehearsal::step(
            StepName::Scheduled,
            StepResult::Failed,
            message,
            None,
            &now(),
        ));
    }
}

/// Follows a run this process started; returns when to look again (none: finished).
async fn follow(
    ctx: &Context,
    drill: &RollbackDrill,
    run: &mut DrillRun,
) -> Result<Option<Duration>, Error> {
    let now = now();
    let failed_early = run.steps.iter().any(|s| s.result == StepResult::Failed);
    let next = if failed_early {
        Next::GiveUp
    } else {
        let pods = run_pods(ctx, drill, &run.id).await?;
        rehearsal::advance(
            run,
            drill.spec.replicas,
            &rehearsal::observe_pods(&pods),
            rehearsal::deadline(drill),
            &now,
        )
    };
    match next {
        Next::Wait(after) => return Ok(Some(after.min(WHILE_RUNNING))),
        Next::Smoke => smoke(ctx, drill, run).await,
        Next::GiveUp => {}
    }
    clean_up(ctx, drill, run).await;
    rehearsal::finish(run, &self::now());
    Ok(None)
}

/// Finishes a run another process left Running: its objects are deleted and the run
/// fails, saying so.
async fn abandon(ctx: &Context, drill: &RollbackDrill, run: &mut DrillRun) -> Result<(), Error> {
    let now = now();
    let step = run
        .step(StepName::Ready)
        .map_or(StepName::Ready, |_| StepName::Smoke);
    run.steps.push(rehearsal::step(
        step,
        StepResult::Failed,
        format!(
            "interrupted: the operator restarted (or lost leadership) during the run; nothing was judged after {}",
            run.steps.last().map_or(&run.started_at, |s| &s.at).0
        ),
        None,
        &now,
    ));
    clean_up(ctx, drill, run).await;
    rehearsal::finish(run, &self::now());
    Ok(())
}

async fn run_pods(ctx: &Context, drill: &RollbackDrill, run: &str) -> Result<Vec<Pod>, Error> {
    let selector = rehearsal::run_selector(drill, run)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Api::<Pod>::namespaced(ctx.client.clone(), &drill.namespace().unwrap_or_default())
        .list(&ListParams::default().labels(&selector))
        .await
        .map(|list| list.items)
        .map_err(|e| Error::kube(Step::Apply, &describe(drill), e))
}

/// How many times the smoke request is tried (a second apart) before it fails.
const SMOKE_ATTEMPTS: usize = 3;

/// The smoke check, through the API server's proxy to the run's Service: the same
/// path in a cluster and on a laptop, and the operator needs no network route to pods.
async fn smoke(ctx: &Context, drill: &RollbackDrill, run: &mut DrillRun) {
    if run.step(StepName::Smoke).is_some() {
        return;
    }
    let started = std::time::Instant::now();
    let mut answer = Err("not tried".to_string());
    if let (Some(smoke), Some(workload)) = (&drill.spec.smoke, &run.workload) {
        let path = format!(
            "/api/v1/namespaces/{}/services/{workload}:{}/proxy{}",
            drill.namespace().unwrap_or_default(),
            smoke.port,
            smoke.path
        );
        for attempt in 0..SMOKE_ATTEMPTS {
            answer = get(&ctx.client, &path).await;
            if matches!(&answer, Ok((code, _)) if *code == smoke.expect_status) {
                break;
            }
            if attempt + 1 < SMOKE_ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    run.steps.push(rehearsal::judge_smoke(
        drill,
        answer,
        started.elapsed(),
        &now(),
    ));
}

/// A GET through the API server: the status code and the start of the body.
async fn get(client: &kube::Client, path: &str) -> Result<(u16, String), String> {
    let request = hyper::Request::get(path)
        .body(kube::client::Body::empty())
        .map_err(|e| e.to_string())?;
    let call = client.send(request);
    let response = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .map_err(|_| "no answer within 10s".to_string())?
        .map_err(|e| e.to_string())?;
    let code = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| {
            String::from_utf8_lossy(&b.to_bytes())
                .chars()
                .take(500)
                .collect()
        })
        .unwrap_or_default();
    Ok((code, body))
}

/// Deletes the run's Deployment and Service (each only if it is the one the drill
/// owns: UID precondition) and records CleanedUp.
async fn clean_up(ctx: &Context, drill: &RollbackDrill, run: &mut DrillRun) {
    let namespace = drill.namespace().unwrap_or_default();
    let mut deleted = vec![];
    let mut failed = vec![];
    if let Some(workload) = run.workload.clone() {
        let deployments = Api::<Deployment>::namespaced(ctx.client.clone(), &namespace);
        let services = Api::<Service>::namespaced(ctx.client.clone(), &namespace);
        for outcome in [
            delete_owned(&deployments, drill, &workload, &run.id).await,
            delete_owned(&services, drill, &workload, &run.id).await,
        ] {
            match outcome {
                Ok(Some(what)) => deleted.push(what),
                Ok(None) => {}
                Err(error) => failed.push(error),
            }
        }
    }
    let (result, message) = if failed.is_empty() {
        let what = if deleted.is_empty() {
            "nothing to delete".to_string()
        } else {
            format!("deleted {}", deleted.join(" and "))
        };
        (StepResult::Passed, what)
    } else {
        (StepResult::Failed, failed.join("; "))
    };
    run.steps.retain(|s| s.name != StepName::CleanedUp);
    run.steps.push(rehearsal::step(
        StepName::CleanedUp,
        result,
        message,
        None,
        &now(),
    ));
}

/// Deletes `name` if the drill owns it for `run`; what was deleted, if anything.
async fn delete_owned<K>(
    api: &Api<K>,
    drill: &RollbackDrill,
    name: &str,
    run: &str,
) -> Result<Option<String>, String>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let kind = K::kind(&());
    let object = match api.get_opt(name).await {
        Ok(Some(object)) => object,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("could not read {kind} {name}: {e}")),
    };
    if !owned_by_drill(&object, drill)
        || !rehearsal::is_of_run(&object, &drill.name_any(), Some(run))
    {
        return Ok(None);
    }
    delete_exact(api, &object)
        .await
        .map(|()| Some(format!("{kind} {name}")))
        .map_err(|e| format!("could not delete {kind} {name}: {e}"))
}

fn owned_by_drill<K: Resource>(object: &K, drill: &RollbackDrill) -> bool {
    let uid = drill.metadata.uid.as_deref();
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

/// Deletes exactly `object` (UID precondition), pods in the background.
async fn delete_exact<K>(api: &Api<K>, object: &K) -> kube::Result<()>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: object.meta().uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(&object.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the objects the drill owns that its running run (if any) does not account
/// for: what a run left when its operator was killed between steps.
async fn remove_leftovers(
    ctx: &Context,
    drill: &RollbackDrill,
    running: Option<&str>,
) -> Result<Option<PlannedEvent>, Error> {
    let namespace = drill.namespace();
    let name = drill.name_any();
    let finished: Vec<&str> = drill
        .status
        .iter()
        .flat_map(|s| &s.runs)
        .filter(|r| r.is_finished())
        .map(|r| r.id.as_str())
        .collect();
    let stale = |meta: &kube::api::ObjectMeta| {
        let label = |key: &str| {
            meta.labels
                .as_ref()
                .and_then(|l| l.get(key))
                .map(String::as_str)
        };
        let run = label(crate::api::labels::DRILL_RUN);
        // A run this process started and the cache does not show finished yet is its
        // own to clean up (the cache may lag the status write that started it).
        let followed =
            run.is_some_and(|run| ctx.started(&run_key(drill, run)) && !finished.contains(&run));
        meta.namespace == namespace
            && label(crate::api::labels::DRILL) == Some(name.as_str())
            && (running.is_none() || run != running)
            && !followed
    };
    let deployments = ctx
        .stores
        .deployments
        .state_filter(|d| stale(&d.metadata) && owned_by_drill(d, drill));
    let services = ctx
        .stores
        .services
        .state_filter(|s| stale(&s.metadata) && owned_by_drill(s, drill));
    if deployments.is_empty() && services.is_empty() {
        return Ok(None);
    }
    let ns = namespace.unwrap_or_default();
    let mut removed = vec![];
    let describe_err = |e| Error::kube(Step::Apply, &describe(drill), e);
    for deployment in &deployments {
        delete_exact(
            &Api::<Deployment>::namespaced(ctx.client.clone(), &ns),
            deployment.as_ref(),
        )
        .await
        .map_err(describe_err)?;
        removed.push(format!("Deployment {}", deployment.name_any()));
    }
    for service in &services {
        delete_exact(
            &Api::<Service>::namespaced(ctx.client.clone(), &ns),
            service.as_ref(),
        )
        .await
        .map_err(describe_err)?;
        removed.push(format!("Service {}", service.name_any()));
    }
    Ok(Some(PlannedEvent::warning(
        event::DRILL_LEFTOVERS_REMOVED,
        format!(
            "removed {} left by an earlier run that did not finish (its operator stopped mid-run): {}",
            removed.len(),
            removed.join(", ")
        ),
    )))
}

/// The Event of a finished run, and its metrics.
fn finished(ctx: &Context, run: &DrillRun) -> PlannedEvent {
    let message = format!(
        "run {}: {}",
        run.id,
        run.message.as_deref().unwrap_or_default()
    );
    if run.result == RunResult::Passed {
        if let Some(ready) = run.step(StepName::Ready) {
            let took = accord_core::timing::elapsed(&run.started_at, &ready.at);
            ctx.metrics.observe_drill_time_to_ready(took.as_secs_f64());
        }
        PlannedEvent::normal(event::DRILL_PASSED, message)
    } else {
        PlannedEvent::warning(event::DRILL_FAILED, message)
    }
}

/// Records each finished run's acknowledgements, and escalates a review overdue.
fn tabletop(
    ctx: &Context,
    drill: &RollbackDrill,
    md: &ModelDeployment,
    status: &mut RollbackDrillStatus,
) -> (Vec<PlannedEvent>, Option<Duration>) {
    let namespace = drill.namespace();
    let reviews = ctx
        .stores
        .attestations
        .state_filter(|a| a.metadata.namespace == namespace && a.is_drill_review());
    let reviews: Vec<&crate::api::Attestation> = reviews.iter().map(AsRef::as_ref).collect();
    let team = |name: &str| {
        ctx.stores
            .teams
            .get(&kube::runtime::reflector::ObjectRef::new(name))
    };
    let now = now();
    let mut planned = vec![];
    // The soonest review still owed and not yet escalated: the reconcile comes back
    // then, so an escalation is not up to an idle requeue late.
    let mut soonest: Option<Timestamp> = None;
    for run in status.runs.iter_mut().filter(|r| r.is_finished()) {
        let counted =
            rehearsal::acknowledgements(drill, run, md, &reviews, &team, ctx.verifier.as_ref());
        if counted != run.acknowledged_by {
            run.acknowledged_by = counted;
        }
        let missing = rehearsal::missing_roles(drill, run);
        if drill.spec.tabletop.is_some() && missing.is_empty() && run.acknowledged_at.is_none() {
            run.acknowledged_at = Some(now.clone());
            let by: Vec<String> = run
                .acknowledged_by
                .iter()
                .map(|a| format!("{} ({})", a.user, a.role.as_str()))
                .collect();
            planned.push(PlannedEvent::normal(
                event::DRILL_ACKNOWLEDGED,
                format!("run {} was reviewed by {}", run.id, by.join(", ")),
            ));
        }
        let due = rehearsal::review_due(drill, run);
        if missing.is_empty() || run.escalated_at.is_some() {
            continue;
        }
        match due {
            Some(due) if due <= now.0 => {
                run.escalated_at = Some(now.clone());
                planned.push(escalate(ctx, drill, md, run, &missing));
            }
            Some(due) => soonest = Some(soonest.map_or(due, |s| s.min(due))),
            None => {}
        }
    }
    let after = soonest.map(|due| {
        Duration::from_secs(due.duration_since(now.0).as_secs().max(0).unsigned_abs() + 1)
    });
    (planned, after)
}

/// Tells the Teams of the roles that have not reviewed `run` in time.
fn escalate(
    ctx: &Context,
    drill: &RollbackDrill,
    md: &ModelDeployment,
    run: &DrillRun,
    missing: &[crate::api::Role],
) -> PlannedEvent {
    let within = drill
        .spec
        .tabletop
        .as_ref()
        .map_or("", |t| t.within.as_str());
    let note = format!(
        "the report of rollback drill {} run {} ({:?}) waits for a review by {} past {within}: kubectl accord drill report {} --run {}",
        drill.name_any(),
        run.id,
        run.result,
        missing
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        drill.name_any(),
        run.id
    );
    for role in missing {
        let name = md.spec.owners.team_for(*role);
        if let Some(team) = ctx
            .stores
            .teams
            .get(&kube::runtime::reflector::ObjectRef::new(name))
        {
            let notice = Notice {
                team: name.to_string(),
                event: NotifyEvent::Escalated,
                note: note.clone(),
            };
            for notification in to_team(md, &notice, &team) {
                ctx.notifier.send(notification);
            }
        }
    }
    PlannedEvent::warning(event::DRILL_REVIEW_OVERDUE, note)
}
