//! The ModelDeployment reconcile driver. Each phase is a named step; the decision in
//! between is pure ([`accord_core::decide`]), so this file only reads, writes and reports:
//!
//! read the object → observe the caches → decide → apply the writes → record the
//! attestation verdicts → publish Events and metrics.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Resource, ResourceExt, core::DeserializeGuard, runtime::controller::Action};
use tracing::instrument;

use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Service},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use accord_core::{
    canary,
    decide::{Decision, ObjectWrite, Writes, decide},
    desired,
    events::PlannedEvent,
    guards,
    observe::Observed,
    verdicts::VerdictWrite,
};

use super::{
    Error, Step, analysis,
    apply::{self, DriftReport},
    events,
    observe::observe,
};
use crate::{
    api::{ModelDeployment, namespaced_name, reasons::event},
    metrics::{ControllerMetrics, ModelLabels},
};

/// What the ModelDeployment reconciler uses.
pub struct Context {
    pub client: kube::Client,
    pub recorder: kube::runtime::events::Recorder,
    pub metrics: ControllerMetrics,
    pub stores: crate::watch::Stores,
    /// Decides whether an attestation is authentic (the webhook's seal).
    pub verifier: Arc<dyn accord_core::trust::Verifier>,
    /// Accord's own ModelDeployment writes, so their watch events ask for nothing.
    pub own_writes: Arc<crate::watch::OwnWrites>,
    /// Queries canaries' analysis servers.
    pub prometheus: analysis::Prometheus,
    /// Tells Teams what happened (`Team.spec.notify`), off the reconcile path.
    pub notifier: crate::notify::Notifier,
    /// When each guard was last read, by ModelDeployment (the operator's memory: a
    /// healthy guard writes nothing; after a restart every guard is read at once).
    pub guard_clock: GuardClock,
    /// Writes the PromotionRecords a decision plans, once its status is written.
    pub records: Arc<crate::records::Records>,
}

/// When each guard of each ModelDeployment was last read, and for which version.
#[derive(Default)]
pub struct GuardClock(std::sync::Mutex<std::collections::HashMap<String, GuardTimes>>);

/// Guard name → when it was last read, for the version with `fingerprint`.
#[derive(Default, Clone)]
struct GuardTimes {
    fingerprint: String,
    read: std::collections::HashMap<String, Time>,
}

impl GuardClock {
    /// When `guard` of `key` was last read for the version `fingerprint`.
    fn reader(&self, key: &str, fingerprint: &str) -> impl Fn(&str) -> Option<Time> + use<> {
        let times = self
            .0
            .lock()
            .expect("not poisoned")
            .get(key)
            .filter(|t| t.fingerprint == fingerprint)
            .cloned()
            .unwrap_or_default();
        move |guard: &str| times.read.get(guard).cloned()
    }

    fn record(&self, key: &str, fingerprint: &str, guard: &str, at: Time) {
        let mut all = self.0.lock().expect("not poisoned");
        let times = all.entry(key.to_string()).or_default();
        if times.fingerprint != fingerprint {
            *times = GuardTimes {
                fingerprint: fingerprint.to_string(),
                read: Default::default(),
            };
        }
        times.read.insert(guard.to_string(), at);
    }

    /// Forgets a ModelDeployment that no longer watches anything.
    fn forget(&self, key: &str) {
        self.0.lock().expect("not poisoned").remove(key);
    }
}

/// Reconciles one ModelDeployment.
#[instrument(skip(guard, ctx), fields(name = %guard.name_any(), namespace = guard.namespace().unwrap_or_default()))]
pub async fn reconcile(
    guard: Arc<DeserializeGuard<ModelDeployment>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let md = readable(&guard, &ctx).await?;
    if md.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes the managed objects; Attestations stay as records.
        return Ok(Action::await_change());
    }
    let now = Time(jiff::Timestamp::now());
    let mut observed = observe(&ctx.stores, md);
    // Only a ModelDeployment with a canary pays for its fingerprint here.
    let due =
        canary::config(md).and_then(|_| canary::analysis_due(md, &md.spec.fingerprint(), &now));
    if let Some((analysis, query)) = due {
        let measurement = ctx.prometheus.measure(&analysis, &query, now.clone()).await;
        tracing::info!(query, value = ?measurement.value, passed = measurement.passed, "canary analysis");
        observed.measurement = Some(measurement);
    }
    observed.readings = read_guards(&ctx, md, &now).await;
    let mut decision = decide(md, &observed, ctx.verifier.as_ref(), now.clone());
    if decision.writes.creates() && look_up_names(&ctx, md, &decision.writes, &mut observed).await?
    {
        decision = decide(md, &observed, ctx.verifier.as_ref(), now.clone());
    }
    let drift = apply::carry_out(&ctx.client, md, &decision.writes, &ctx.own_writes, || {
        queue_records(&ctx, md, &observed, &decision);
    })
    .await?;
    record_incidents(&ctx, &observed, &decision).await?;
    record_verdicts(&ctx, md, &decision.verdicts).await?;
    publish(&ctx, md, &decision, &drift).await;
    Ok(Action::requeue(requeue_after(&ctx, md, &decision, &now)))
}

/// Queues the records the decision planned, now that the status naming them is
/// written (the writer task signs and creates them).
fn queue_records(ctx: &Context, md: &ModelDeployment, observed: &Observed, decision: &Decision) {
    if decision.records.is_empty() {
        return;
    }
    let mut written = md.clone();
    written.status = Some(decision.plan.status.clone());
    // Root-cause analyses are Attestations too (a resolved Incident's record names one).
    let attestations: Vec<_> = observed
        .attestations
        .iter()
        .chain(&observed.analyses)
        .cloned()
        .collect();
    ctx.records
        .queue(written, decision.records.clone(), attestations);
}

/// When to look again: what the decision says, or sooner when a guard of the version
/// that serves — as the decision leaves it (it may just have become available) — is
/// due to be read.
fn requeue_after(
    ctx: &Context,
    md: &ModelDeployment,
    decision: &Decision,
    now: &Time,
) -> std::time::Duration {
    let planned = decision.plan.requeue_after;
    guards::config(md).map_or(planned, |_| {
        let mut after = md.clone();
        after.status = Some(decision.plan.status.clone());
        let Some(entry) = guards::watched(&after) else {
            return planned;
        };
        let key = namespaced_name(&md.metadata);
        let reader = ctx
            .guard_clock
            .reader(&key, &entry.fingerprint_in(&md.spec));
        guards::next_due(&after, &reader, now).map_or(planned, |due| {
            planned.min(due.max(accord_core::timing::MIN_REQUEUE))
        })
    })
}

/// Reads the guards that are due for the version that serves: one Prometheus instant
/// query each, with a timeout, remembered so the next is an interval later.
async fn read_guards(ctx: &Context, md: &ModelDeployment, now: &Time) -> Vec<guards::Reading> {
    let key = namespaced_name(&md.metadata);
    let (Some(monitoring), Some(entry)) = (guards::config(md), guards::watched(md)) else {
        ctx.guard_clock.forget(&key);
        return vec![];
    };
    let fingerprint = entry.fingerprint_in(&md.spec);
    let due = guards::due(md, &ctx.guard_clock.reader(&key, &fingerprint), now);
    let mut readings = Vec::with_capacity(due.len());
    for (guard, query) in due {
        let answer = ctx.prometheus.read(&monitoring.address, &query).await;
        ctx.guard_clock
            .record(&key, &fingerprint, &guard.name, now.clone());
        let reading = guards::judge(&guard, answer, now.clone());
        if reading.breached != Some(false) {
            tracing::info!(guard = guard.name, query, value = ?reading.value, message = ?reading.message, "guard out of bounds or unreadable");
        }
        ctx.metrics.guard_readings.inc();
        readings.push(reading);
    }
    readings
}

/// Writes each Incident status that changed, conditional on the version read.
async fn record_incidents(
    ctx: &Context,
    observed: &Observed,
    decision: &Decision,
) -> Result<(), Error> {
    for (name, status) in &decision.writes.incident_statuses {
        let Some(incident) = observed
            .incidents
            .iter()
            .find(|i| i.metadata.name.as_deref() == Some(name))
        else {
            continue;
        };
        apply::incident_status(&ctx.client, incident, status)
            .await
            .map_err(|e| {
                let object = format!("Incident {}", namespaced_name(&incident.metadata));
                Error::kube(Step::RecordIncidents, &object, e)
            })?;
    }
    Ok(())
}

/// Before creating a Deployment or Service, reads the name live: the caches hold only
/// objects labelled as Accord's, and a same-named object Accord does not control must
/// never be adopted. Only the kinds about to be created are read, at the same time.
/// Returns whether an object was found (the decision must be remade).
async fn look_up_names(
    ctx: &Context,
    md: &ModelDeployment,
    writes: &Writes,
    observed: &mut Observed,
) -> Result<bool, Error> {
    let name = md.name_any();
    let canary_name = desired::canary_name(md);
    let (deployment, service, canary) = futures::join!(
        look_up::<Deployment>(ctx, md, &name, creates(&writes.deployment)),
        look_up::<Service>(ctx, md, &name, creates(&writes.service)),
        look_up::<Deployment>(ctx, md, &canary_name, creates(&writes.canary)),
    );
    let mut found = false;
    if let Some(live) = deployment? {
        found = true;
        note_owner(md, &live.metadata, "Deployment", observed);
        observed.deployment = Some(Arc::new(live));
    }
    if let Some(live) = service? {
        found = true;
        note_owner(md, &live.metadata, "Service", observed);
        observed.service = Some(Arc::new(live));
    }
    if let Some(live) = canary? {
        found = true;
        if !desired::controlled_by(&live.metadata, md) {
            let namespace = md.namespace().unwrap_or_default();
            observed
                .foreign
                .push(format!("Deployment {namespace}/{canary_name}"));
        }
        observed.canary = Some(Arc::new(live));
    }
    Ok(found)
}

fn creates<K>(write: &Option<ObjectWrite<K>>) -> bool {
    write.as_ref().is_some_and(ObjectWrite::creates)
}

/// The live object of kind `K` named `name` in `md`'s namespace, when `wanted`.
async fn look_up<K>(
    ctx: &Context,
    md: &ModelDeployment,
    name: &str,
    wanted: bool,
) -> Result<Option<K>, Error>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    if !wanted {
        return Ok(None);
    }
    apply::get::<K>(&ctx.client, md, name).await.map_err(|e| {
        let namespace = md.namespace().unwrap_or_default();
        let object = format!("{} {namespace}/{name}", K::kind(&()));
        Error::kube(Step::LookUpNames, &object, e)
    })
}

fn note_owner(md: &ModelDeployment, live: &ObjectMeta, kind: &str, observed: &mut Observed) {
    if !desired::controlled_by(live, md) {
        observed
            .foreign
            .push(format!("{kind} {}", namespaced_name(&md.metadata)));
    }
}

/// Queues the notifications the decision's Events call for (never waits for them).
fn notify(ctx: &Context, md: &ModelDeployment, decision: &Decision) {
    let mut owed: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for item in decision
        .plan
        .status
        .checklist
        .iter()
        .filter(|i| i.required && !i.attested)
    {
        owed.entry(item.team.clone())
            .or_default()
            .push(item.id.clone());
    }
    let team = |name: &str| {
        ctx.stores
            .teams
            .get(&kube::runtime::reflector::ObjectRef::new(name))
            .map(Arc::unwrap_or_clone)
    };
    for notification in accord_core::notify::plan(md, &decision.plan.events, &owed, &team) {
        ctx.notifier.send(notification);
    }
    for notice in &decision.notices {
        let Some(found) = team(&notice.team) else {
            continue;
        };
        for notification in accord_core::notify::to_team(md, notice, &found) {
            ctx.notifier.send(notification);
        }
    }
}

/// The object, or an `InvalidObject` Event and error when this operator cannot read it.
async fn readable<'a>(
    guard: &'a DeserializeGuard<ModelDeployment>,
    ctx: &Context,
) -> Result<&'a ModelDeployment, Error> {
    match &guard.0 {
        Ok(md) => Ok(md),
        Err(invalid) => {
            let message = format!(
                "ModelDeployment {} cannot be read by this operator: {invalid}; fix the object \
                 (or install the CRDs that match this operator version)",
                namespaced_name(guard.meta())
            );
            let planned = PlannedEvent::warning(event::INVALID_OBJECT, message.clone());
            events::publish(&ctx.recorder, &guard.object_ref(&()), &planned).await;
            Err(Error::InvalidObject(message))
        }
    }
}

/// Writes each changed `Counted` verdict, and its `AttestationRejected` Event after it.
async fn record_verdicts(
    ctx: &Context,
    md: &ModelDeployment,
    verdicts: &[VerdictWrite],
) -> Result<(), Error> {
    let regarding = md.object_ref(&());
    for verdict in verdicts {
        apply::attestation_status(&ctx.client, &verdict.attestation, &verdict.status)
            .await
            .map_err(|e| {
                let name = namespaced_name(&verdict.attestation.metadata);
                Error::kube(Step::RecordVerdicts, &format!("Attestation {name}"), e)
            })?;
        if let Some(rejection) = &verdict.rejection {
            events::publish(&ctx.recorder, &regarding, rejection).await;
        }
    }
    Ok(())
}

/// After the state is recorded: the plan's Events, the drift reverted, and metrics, so
/// a retry repeats none.
async fn publish(ctx: &Context, md: &ModelDeployment, decision: &Decision, drift: &[DriftReport]) {
    let regarding = md.object_ref(&());
    for planned in &decision.plan.events {
        events::publish(&ctx.recorder, &regarding, planned).await;
    }
    for reverted in drift {
        let note = format!(
            "{} {} was changed by field manager {:?} ({} differed from what Accord runs); Accord restored it",
            reverted.kind,
            namespaced_name(&md.metadata),
            reverted.manager,
            reverted.field
        );
        let planned = PlannedEvent::warning(event::DRIFT_REVERTED, note);
        events::publish(&ctx.recorder, &regarding, &planned).await;
    }
    notify(ctx, md, decision);
    let model = ModelLabels {
        namespace: md.namespace().unwrap_or_default(),
        model_deployment: md.name_any(),
    };
    let signals = &decision.plan.signals;
    let metrics = &ctx.metrics;
    if signals.promoted {
        metrics.promotions.get_or_create(&model).inc();
    }
    if signals.rolled_back {
        metrics.rollbacks.get_or_create(&model).inc();
    }
    if signals.escalated {
        metrics.escalations.get_or_create(&model).inc();
    }
    if let Some(wait) = signals.sign_off_wait {
        metrics.sign_off_wait.observe(wait.as_secs_f64());
    }
    for took in &decision.incident_times.mitigated {
        metrics.time_to_mitigate.observe(took.as_secs_f64());
    }
    for took in &decision.incident_times.resolved {
        metrics.time_to_resolve.observe(took.as_secs_f64());
    }
}
