//! The whole decision for one ModelDeployment (pure): from what was observed, which
//! attestations count ([`gate`]), what happens next ([`rollout`]), and exactly which
//! writes that takes — none when everything already matches. The reconcile driver
//! only carries these out.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Service},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::{
    audit, candidate, conformance, desired, drift, drills,
    events::PlannedEvent,
    gate, guards, history, incidents,
    notify::Notice,
    observe::Observed,
    rollout::{self, Plan, PlanInput},
    trust::Verifier,
    upstream,
    verdicts::{VerdictWrite, changed_verdicts},
};
use crate::api::{
    Incident, IncidentStatus, ModelDeployment, ModelDeploymentStatus, Role, RollbackDrill, labels,
    reasons::event,
};

/// How one managed object is written.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectWrite<K> {
    /// Create it (it does not exist): a name taken meanwhile fails, never adopts.
    Create(Box<K>),
    /// Replace the controlled object with exactly this, conditional on its
    /// resourceVersion. `drift` names the first field someone else changed, when that
    /// is why (Accord's own changes carry a new serving hash).
    Replace {
        object: Box<K>,
        drift: Option<String>,
    },
    /// Delete the controlled object (a Service whose port went away).
    Delete,
}

impl<K> ObjectWrite<K> {
    /// Whether this write creates an object.
    pub fn creates(&self) -> bool {
        matches!(self, ObjectWrite::Create(_))
    }
}

/// The writes a decision takes, in the order they are made: the record first, so no
/// promotion ever happens without its history entry.
#[derive(Debug, Clone, Default)]
pub struct Writes {
    /// Owner labels for the ModelDeployment itself.
    pub labels: Option<BTreeMap<String, String>>,
    pub status: Option<ModelDeploymentStatus>,
    pub deployment: Option<ObjectWrite<Deployment>>,
    pub service: Option<ObjectWrite<Service>>,
    /// The canary Deployment (`<name>-canary`).
    pub canary: Option<ObjectWrite<Deployment>>,
    /// Incidents to open, before the status that rolls back for them is written.
    pub incidents: Vec<Incident>,
    /// Incident statuses that change, after the ModelDeployment's status.
    pub incident_statuses: Vec<(String, IncidentStatus)>,
}

impl Writes {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.labels.is_none()
            && self.deployment.is_none()
            && self.service.is_none()
            && self.canary.is_none()
            && self.status.is_none()
            && self.incidents.is_empty()
            && self.incident_statuses.is_empty()
    }

    /// Whether a managed object would be created (its name must be checked first).
    pub fn creates(&self) -> bool {
        self.deployment.as_ref().is_some_and(ObjectWrite::creates)
            || self.service.as_ref().is_some_and(ObjectWrite::creates)
            || self.canary.as_ref().is_some_and(ObjectWrite::creates)
    }
}

/// One ModelDeployment's decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub plan: Plan,
    pub writes: Writes,
    /// Attestation verdicts that change.
    pub verdicts: Vec<VerdictWrite>,
    /// Teams to tell about Incidents (opened: the Responsible Team; escalated: the
    /// Accountable Team), once their status is written.
    pub notices: Vec<Notice>,
    /// How long Incidents took to be mitigated and resolved, for metrics.
    pub incident_times: IncidentTimes,
    /// PromotionRecords to write once the status naming them is written.
    pub records: Vec<audit::RecordPlan>,
}

/// How long the Incidents mitigated or resolved in a decision took, from their opening.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentTimes {
    pub mitigated: Vec<std::time::Duration>,
    pub resolved: Vec<std::time::Duration>,
}

/// Owner roles whose Team does not exist, with the Team name.
pub fn missing_teams(md: &ModelDeployment, observed: &Observed) -> Vec<(Role, String)> {
    Role::ALL
        .into_iter()
        .map(|role| (role, md.spec.owners.team_for(role).to_string()))
        .filter(|(_, team)| observed.team(team).is_none())
        .collect()
}

/// Each existing owner Team's contacts, and the notification destinations it is told
/// escalations through (`notified:<name>`), for escalation messages.
pub fn contacts(observed: &Observed) -> BTreeMap<String, Vec<String>> {
    observed
        .teams
        .iter()
        .filter_map(|(name, team)| {
            let team = team.as_ref()?;
            let mut reach = team.spec.contacts.clone();
            reach.extend(crate::notify::destinations(
                team,
                crate::api::NotifyEvent::Escalated,
            ));
            Some((name.clone(), reach))
        })
        .collect()
}

/// The model's RollbackDrills, as observed.
fn drills_of(observed: &Observed) -> Vec<&RollbackDrill> {
    observed.drills.iter().map(AsRef::as_ref).collect()
}

/// What the audit trail needs of a plan: whether what serves after it would be
/// promoted today (its conformance, and when to judge it again, as when the rollback
/// drill the gate relied on grows too old), and the PromotionRecords its new history
/// entries and its drills' newly finished runs get.
fn account(
    md: &ModelDeployment,
    observed: &Observed,
    verifier: &dyn Verifier,
    now: &Time,
    current: &conformance::Current<'_>,
    plan: &mut Plan,
) -> Vec<audit::RecordPlan> {
    // What serves after this decision: the newest entry (a rollback names what it
    // restored or kept).
    let conformance = conformance::judge(
        md,
        plan.status.history.last(),
        observed,
        verifier,
        now,
        current,
    );
    plan.status.conformance = conformance.violations;
    let drill_lapses = drills::expires_in(md, &drills_of(observed), current.effective, now);
    if let Some(recheck) = conformance.recheck_in.into_iter().chain(drill_lapses).min() {
        plan.requeue_after = plan
            .requeue_after
            .min(recheck.max(crate::timing::MIN_REQUEUE));
    }
    let mut records = audit::plan(md, history_before(md), &mut plan.status);
    records.extend(audit::plan_drills(
        md,
        &mut plan.status,
        &drills_of(observed),
    ));
    records
}

/// The (trusted) history a decision starts from.
fn history_before(md: &ModelDeployment) -> &[crate::api::HistoryEntry] {
    md.status.as_ref().map_or(&[], |s| s.history.as_slice())
}

/// The spec's candidate (with the sign-offs the upstream offers to carry), its
/// effective checklist, what the upstream showed, and which sign-offs count (and
/// which items a recent rollback drill satisfies).
fn gate_candidate(
    md: &ModelDeployment,
    observed: &Observed,
    verifier: &dyn Verifier,
    now: &Time,
) -> (
    candidate::Candidate,
    crate::policy::Effective,
    upstream::UpstreamOutcome,
    gate::GateOutcome,
) {
    let mut candidate = candidate::current(md, verifier);
    let lookup = |name: &str| observed.team(name);
    let effective = observed.effective(md);
    let mut upstream = upstream::judge(
        md,
        &candidate.artifact,
        &effective.promotion,
        observed.upstream.as_ref(),
        verifier,
        now,
    );
    candidate.carried = std::mem::take(&mut upstream.offered);
    candidate.not_carried = std::mem::take(&mut upstream.not_carried);
    let mut gate = gate::evaluate(
        md,
        &effective,
        &candidate,
        observed.attestations.iter().map(AsRef::as_ref),
        &lookup,
        verifier,
        now.0,
    );
    gate.satisfy_by_drill(&drills::satisfies(
        md,
        &drills_of(observed),
        &effective,
        now,
    ));
    (candidate, effective, upstream, gate)
}

/// Decides `md` from what was observed at `now`.
pub fn decide(
    md: &ModelDeployment,
    observed: &Observed,
    verifier: &dyn Verifier,
    now: Time,
) -> Decision {
    // Only the history Accord wrote is decided on.
    let read = md;
    let trusted = history::trusted(read, verifier);
    let mut md = read.clone();
    md.status.get_or_insert_default().history = trusted.history;
    let md = &md;
    let (candidate, effective, upstream, mut gate) = gate_candidate(md, observed, verifier, &now);
    let known: Vec<&Incident> = observed.incidents.iter().map(AsRef::as_ref).collect();
    // The upstream, Incidents and rollback drills decide whether a candidate may be
    // promoted, not whether the version already promoted may keep running.
    if !is_active(md, &candidate) {
        gate.upstream = incidents::block(md, &known, &effective)
            .or_else(|| drills::block(md, &drills_of(observed), &effective, &now))
            .or(upstream.blocked);
        gate.upstream_requeue = upstream.requeue_after;
    }
    let Watched {
        monitoring,
        opened,
        roll_back: breached,
        unreadable,
    } = watch(md, observed, &known, &now);
    let asked: Vec<&Incident> = known.iter().copied().chain(&opened).collect();
    gate.upstream_evidence = upstream.evidence.map(|mut evidence| {
        evidence.carried = carried_sign_offs(&gate);
        evidence
    });
    let input = PlanInput {
        md,
        candidate: &candidate,
        gate: &gate,
        missing_teams: missing_teams(md, observed),
        // A name taken matters once something is (or is about to be) served.
        name_conflicts: if served_or_signed(md, &gate) {
            observed.name_conflicts(md)
        } else {
            vec![]
        },
        contacts: contacts(observed),
        deployment: observed.deployment_observation(md),
        canary: observed.canary_observation(md),
        measurement: observed.measurement.clone(),
        roll_back_for: breached.or_else(|| incidents::rollback_asked(md, &asked)),
        now: now.clone(),
    };
    let mut plan = rollout::plan(&input);
    plan.status.monitoring = monitoring;
    let current = conformance::Current {
        candidate: &candidate,
        gate: &gate,
        effective: &effective,
    };
    let records = account(md, observed, verifier, &now, &current, &mut plan);
    history::seal(md, &mut plan.status.history, verifier);
    plan.events.splice(0..0, trusted.discarded);
    plan.events.extend(withdrawals(read, &candidate, observed));
    plan.events.extend(unreadable);
    let writes = writes(read, md, observed, &plan);
    let verdicts = changed_verdicts(md, &candidate, &gate, &observed.attestations, &now);
    let mut decision = Decision {
        plan,
        writes,
        verdicts,
        notices: vec![],
        incident_times: IncidentTimes::default(),
        records,
    };
    decision.writes.incidents = opened;
    decision.follow_incidents(md, observed, verifier, &now);
    decision
}

impl Decision {
    /// Each known Incident of `md`'s next status, from the status this decision
    /// leaves the ModelDeployment in, and what to say about it.
    fn follow_incidents(
        &mut self,
        md: &ModelDeployment,
        observed: &Observed,
        verifier: &dyn Verifier,
        now: &Time,
    ) {
        let applying: Vec<&crate::api::HandoffPolicy> = observed
            .policies
            .iter()
            .map(AsRef::as_ref)
            .filter(|p| crate::policy::applies(p, &observed.namespace_labels, md.labels()))
            .collect();
        let analyses: Vec<&crate::api::Attestation> =
            observed.analyses.iter().map(AsRef::as_ref).collect();
        let lookup = |name: &str| observed.team(name);
        let cx = incidents::Context {
            md,
            status: &self.plan.status,
            policies: &applying,
            team: &lookup,
            analyses: &analyses,
            verifier,
            now,
        };
        let updates: Vec<_> = observed
            .incidents
            .iter()
            .map(|incident| (incident.clone(), incidents::update(incident, &cx)))
            .collect();
        for (incident, update) in updates {
            if let Some(next) = &update.status
                && let Some(record) =
                    audit::plan_incident(md, &mut self.plan.status, &incident, next)
            {
                self.records.push(record);
                // The chain's sequence moved: the status names it.
                self.writes.status = Some(self.plan.status.clone());
            }
            self.absorb(&incident, update);
        }
    }

    /// Takes one Incident's update into the decision.
    fn absorb(&mut self, incident: &Incident, update: incidents::Update) {
        if let Some(status) = update.status {
            let name = incident.metadata.name.clone().unwrap_or_default();
            self.writes.incident_statuses.push((name, status));
        }
        self.plan.events.extend(update.events);
        self.notices.extend(update.notices);
        if let Some(after) = update.requeue_after {
            let after = after.max(crate::timing::MIN_REQUEUE);
            self.plan.requeue_after = self.plan.requeue_after.min(after);
        }
        self.incident_times.mitigated.extend(update.mitigated_after);
        self.incident_times.resolved.extend(update.resolved_after);
    }
}

/// The guards' records after this decision's readings, the Incidents their confirmed
/// breaches open (none for a version with one already open), and the rollback a
/// confirmed breach of a `RollBack` guard asks for (whichever Incident records it).
fn watch(md: &ModelDeployment, observed: &Observed, known: &[&Incident], now: &Time) -> Watched {
    let mut stepped = guards::step(md, &observed.readings, now);
    let mut opened: Vec<Incident> = vec![];
    let mut roll_back = None;
    for breach in &stepped.breaches {
        let mut all: Vec<&Incident> = known.to_vec();
        all.extend(opened.iter());
        let name = match incidents::open_for_breach(md, breach, &all) {
            Ok(incident) => {
                let name = incident.metadata.name.clone().unwrap_or_default();
                opened.push(incident);
                name
            }
            Err(open) => open,
        };
        let record = stepped
            .status
            .as_mut()
            .and_then(|s| s.guards.iter_mut().find(|g| g.name == breach.guard.name));
        if breach.guard.action == crate::api::GuardAction::RollBack && roll_back.is_none() {
            roll_back = Some(rollout::RollBackFor {
                reason: crate::api::reasons::history::GUARD_BREACHED,
                why: format!("Incident {name} ({})", breach.summary),
            });
        }
        if let Some(record) = record {
            record.incident = Some(name);
        }
    }
    let unreadable = stepped
        .unreadable
        .iter()
        .map(|(guard, why)| {
            let note = format!(
                "guard {guard} has no reading ({why}); a breach neither starts nor ends until it has one"
            );
            PlannedEvent::warning(event::GUARD_UNREADABLE, note)
        })
        .collect();
    Watched {
        monitoring: stepped.status,
        opened,
        roll_back,
        unreadable,
    }
}

/// What the guards' readings led to in one decision.
struct Watched {
    monitoring: Option<crate::api::MonitoringStatus>,
    opened: Vec<Incident>,
    roll_back: Option<rollout::RollBackFor>,
    unreadable: Vec<PlannedEvent>,
}

/// Whether the candidate is the version that runs (and has not failed).
fn is_active(md: &ModelDeployment, candidate: &candidate::Candidate) -> bool {
    candidate.failed_at.is_none()
        && md
            .status
            .as_ref()
            .and_then(|s| s.history.last())
            .is_some_and(|e| e.fingerprint_in(&md.spec) == candidate.fingerprint)
}

/// The sign-offs that count because they were carried from the upstream.
fn carried_sign_offs(gate: &gate::GateOutcome) -> Vec<crate::api::CarriedSignOff> {
    gate.items
        .iter()
        .filter(|item| item.attested)
        .flat_map(|item| {
            item.approvals.iter().filter_map(|a| {
                let from = a.carried_from.as_ref()?;
                Some(crate::api::CarriedSignOff {
                    item: item.id.clone(),
                    attested_by: a.attested_by.clone(),
                    attestation: from.attestation.clone(),
                })
            })
        })
        .collect()
}

fn served_or_signed(md: &ModelDeployment, gate: &gate::GateOutcome) -> bool {
    gate.complete() || md.status.as_ref().is_some_and(|s| !s.history.is_empty())
}

/// An `AttestationWithdrawn` Event for each Attestation that counted for this same
/// candidate at the last reconcile and is gone (or being deleted) now.
fn withdrawals(
    read: &ModelDeployment,
    candidate: &candidate::Candidate,
    observed: &Observed,
) -> Vec<PlannedEvent> {
    let Some(status) = &read.status else {
        return vec![];
    };
    let same_candidate = status
        .candidate
        .as_ref()
        .is_some_and(|c| c.fingerprint.as_deref() == Some(candidate.fingerprint.as_str()));
    if !same_candidate {
        return vec![];
    }
    let present = |name: &str| {
        observed
            .attestations
            .iter()
            .any(|a| a.metadata.name.as_deref() == Some(name) && !a.is_withdrawn())
    };
    status
        .checklist
        .iter()
        .filter(|item| item.attested && item.carried_from.is_none())
        .filter_map(|item| {
            let name = item.attestation.as_deref()?;
            (!present(name)).then(|| {
                PlannedEvent::normal(
                    event::ATTESTATION_WITHDRAWN,
                    format!(
                        "attestation {name} by {} for item {} (team {}) was withdrawn; the item is owed again unless another attestation counts",
                        item.attested_by.as_deref().unwrap_or("an unknown user"),
                        item.id,
                        item.team
                    ),
                )
            })
        })
        .collect()
}

/// What differs between the plan and what is there. `read` is the object as read,
/// `md` the same with only the history Accord wrote.
fn writes(
    read: &ModelDeployment,
    md: &ModelDeployment,
    observed: &Observed,
    plan: &Plan,
) -> Writes {
    let owner_labels = desired::owner_labels(md);
    let current = md.labels();
    let labels = owner_labels
        .iter()
        .any(|(k, v)| current.get(k) != Some(v))
        .then_some(owner_labels);
    let mut writes = Writes {
        labels,
        ..Default::default()
    };
    // The status is compared with what was read, forged entries included: dropping
    // them is a change to write.
    if read.status.as_ref() != Some(&plan.status) {
        writes.status = Some(plan.status.clone());
    }
    let live_canary = observed.controlled_canary(md);
    writes.canary = match &plan.canary {
        Some(run) => object_write(
            desired::desired_canary(md, &run.version, &run.serving, run.replicas),
            live_canary,
            |d| &d.metadata,
        ),
        None => live_canary.and_then(|live| {
            object_write(desired::parked_canary(live), Some(live), |d| &d.metadata)
        }),
    };
    let Some(active) = &plan.serve else {
        return writes;
    };
    let want = desired::desired_deployment(md, active, &plan.status.history);
    writes.deployment = object_write(want, observed.controlled_deployment(md), |d| &d.metadata);
    let live_service = observed.controlled_service(md);
    writes.service = match desired::desired_service(md, active) {
        Some(want) => object_write(want, live_service, |s| &s.metadata)
            .map(|write| keep_allocations(write, live_service)),
        None => live_service.map(|_| ObjectWrite::Delete),
    };
    writes
}

/// The parts of a managed object Accord owns and compares: its labels, annotations and
/// spec.
fn owned_parts<K: serde::Serialize>(object: &K) -> Value {
    let value = serde_json::to_value(object).expect("managed objects serialize");
    json!({
        "metadata": {
            "labels": value["metadata"]["labels"],
            "annotations": value["metadata"]["annotations"],
        },
        "spec": value["spec"],
    })
}

/// How to get from `live` (controlled by this ModelDeployment, if it exists) to `want`.
fn object_write<K>(
    mut want: K,
    live: Option<&K>,
    meta: impl Fn(&K) -> &ObjectMeta,
) -> Option<ObjectWrite<K>>
where
    K: Resource + Clone + serde::Serialize,
{
    let Some(live) = live else {
        return Some(ObjectWrite::Create(Box::new(want)));
    };
    let difference = drift::first_difference(&owned_parts(&want), &owned_parts(live))?;
    let ours = desired::recorded_hash(meta(live)) == desired::recorded_hash(want.meta());
    carry_over(want.meta_mut(), meta(live));
    Some(ObjectWrite::Replace {
        object: Box::new(want),
        drift: ours.then_some(difference),
    })
}

/// A Service replaced whole keeps the addresses the API server allocated to it
/// (they are immutable).
fn keep_allocations(write: ObjectWrite<Service>, live: Option<&Service>) -> ObjectWrite<Service> {
    match (write, live.and_then(|l| l.spec.as_ref())) {
        (ObjectWrite::Replace { mut object, drift }, Some(allocated)) => {
            let spec = object.spec.get_or_insert_default();
            spec.cluster_ip = allocated.cluster_ip.clone();
            spec.cluster_ips = allocated.cluster_ips.clone();
            spec.ip_families = allocated.ip_families.clone();
            spec.ip_family_policy = allocated.ip_family_policy.clone();
            ObjectWrite::Replace { object, drift }
        }
        (write, _) => write,
    }
}

/// What a replacement keeps of the live object: its identity and version (the
/// precondition), finalizers, and labels and annotations others set (Accord's own
/// keys are the desired ones).
fn carry_over(want: &mut ObjectMeta, live: &ObjectMeta) {
    want.uid = live.uid.clone();
    want.resource_version = live.resource_version.clone();
    want.finalizers = live.finalizers.clone();
    for (mine, theirs) in [
        (&mut want.labels, &live.labels),
        (&mut want.annotations, &live.annotations),
    ] {
        let mut merged = theirs.clone().unwrap_or_default();
        merged.retain(|key, _| !key.starts_with(labels::ACCORD_PREFIX));
        merged.extend(mine.take().unwrap_or_default());
        *mine = Some(merged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::Phase,
        testing::{Verify, World},
    };

    #[test]
    fn a_signed_off_candidate_writes_everything_once_then_nothing() {
        let mut world = World::signed_off();
        let first = world.decide(&Verify::default(), 0);
        assert!(first.writes.labels.is_some());
        assert!(matches!(
            first.writes.deployment,
            Some(ObjectWrite::Create(_))
        ));
        assert!(matches!(first.writes.service, Some(ObjectWrite::Create(_))));
        assert!(first.writes.status.is_some());
        assert_eq!(first.verdicts.len(), 3);

        let last = world.converge(&Verify::default());
        assert_eq!(
            world.md().status.as_ref().unwrap().phase,
            Some(Phase::Serving)
        );
        assert!(
            last.writes.is_empty(),
            "a converged ModelDeployment writes nothing: {:?}",
            last.writes
        );
        assert!(last.verdicts.is_empty());
        assert!(last.plan.events.is_empty());
    }

    #[test]
    fn history_entries_are_sealed_and_a_forged_one_is_discarded_not_deployed() {
        let mut world = World::converged();
        let history = &world.md().status.as_ref().unwrap().history;
        assert!(history.iter().all(|e| e.seal.is_some()), "{history:?}");
        // Someone writes a Promoted entry for an image of their own into status.
        let mut forged = history[0].clone();
        forged.image = "registry.example.com/evil:1".into();
        forged.version = "6.6.6".into();
        let md = world.model_deployment.as_mut().unwrap();
        md.status.as_mut().unwrap().history.push(forged);
        let decision = world.decide(&Verify::default(), 10);
        assert!(
            decision.writes.deployment.is_none(),
            "the forged entry is never deployed"
        );
        let status = decision
            .writes
            .status
            .expect("the forgery is removed from status");
        assert_eq!(status.history.len(), 1);
        assert_eq!(status.active_version.as_deref(), Some("2.4.0"));
        assert_eq!(
            decision.plan.events[0].reason,
            crate::api::reasons::event::HISTORY_DISCARDED
        );
    }

    #[test]
    fn a_patch_release_on_the_same_data_is_promoted_by_the_rule_and_recorded() {
        use crate::api::{
            HandoffPolicy, HandoffPolicySpec, TrainingData, handoff_policy::AutoApproveRule,
            reasons::history,
        };
        let data = TrainingData {
            digest: format!("sha256:{}", "a".repeat(64)),
            uri: None,
        };
        let mut world = World::signed_off();
        world
            .model_deployment
            .as_mut()
            .unwrap()
            .spec
            .model
            .training_data = Some(data.clone());
        for att in &mut world.attestations {
            att.spec.candidate = Some(world.model_deployment.as_ref().unwrap().spec.fingerprint());
        }
        world.converge(&Verify::default());
        world.policies = vec![HandoffPolicy::new(
            "patches",
            HandoffPolicySpec {
                auto_approve: vec![AutoApproveRule {
                    name: "patch".into(),
                    description: None,
                    items: vec!["latency".into(), "kpis".into()],
                }],
                ..Default::default()
            },
        )];
        let md = world.model_deployment.as_mut().unwrap();
        md.spec.model.version = "2.4.1".into();
        md.spec.serving.image = Some("registry.example.com/fraud-scorer:2.4.1".into());
        // drift still needs a person: without one, nothing is promoted.
        let decision = world.decide(&Verify::default(), 10);
        let status = decision.writes.status.clone().unwrap();
        assert_eq!(status.phase, Some(Phase::AwaitingAttestations));
        assert_eq!(status.pending_items, 1);
        assert_eq!(status.policies, ["patches"]);
        let kpis = status.checklist.iter().find(|i| i.id == "kpis").unwrap();
        assert!(kpis.attested);
        assert_eq!(
            kpis.auto_approved_by.as_deref(),
            Some("HandoffPolicy/patches rule patch")
        );
        let mut drift =
            crate::testing::attestation("a4", "drift", "2.4.1", "alice", &["data-platform-eng"]);
        drift.spec.candidate = Some(world.md().spec.fingerprint());
        world.attestations.push(drift);
        world.converge(&Verify::default());
        let status = world.md().status.clone().unwrap();
        assert_eq!(status.active_version.as_deref(), Some("2.4.1"));
        let entry = status.history.last().unwrap();
        assert_eq!(entry.reason, history::AUTO_APPROVED);
        assert!(entry.seal.is_some());
        assert_eq!(
            entry.training_data_digest.as_deref(),
            Some(data.digest.as_str())
        );
        let auto = entry.auto_approval.as_ref().unwrap();
        assert_eq!(auto.baseline_version, "2.4.0");
        let items: Vec<&str> = auto.items.iter().map(|i| i.item.as_str()).collect();
        assert_eq!(items, ["latency", "kpis"]);
        assert_eq!(entry.approvals.len(), 1, "alice for drift");
        // Serving, the record keeps saying why: nothing is pending.
        assert_eq!(status.pending_items, 0);
    }

    #[test]
    fn a_changed_deployment_is_replaced_and_drift_named_only_when_someone_else_did_it() {
        let mut world = World::converged();
        let deployment = world.deployment.as_mut().unwrap();
        deployment
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .containers[0]
            .image = Some("evil:1".into());
        let decision = world.decide(&Verify::default(), 10);
        match decision.writes.deployment {
            Some(ObjectWrite::Replace { object, drift }) => {
                assert_eq!(
                    drift.as_deref(),
                    Some("spec.template.spec.containers[0].image")
                );
                assert_eq!(
                    object.metadata.uid.as_deref(),
                    Some("uid-deployment"),
                    "conditional on the object"
                );
            }
            other => panic!("expected a replace, got {other:?}"),
        }
        assert!(decision.writes.service.is_none());
        assert!(decision.writes.labels.is_none());
        // An operational change of Accord's own is no drift.
        let mut world = World::converged();
        world
            .model_deployment
            .as_mut()
            .unwrap()
            .spec
            .serving
            .replicas = 5;
        match world.decide(&Verify::default(), 10).writes.deployment {
            Some(ObjectWrite::Replace { drift, .. }) => assert_eq!(drift, None),
            other => panic!("expected a replace, got {other:?}"),
        }
    }

    #[test]
    fn a_same_named_object_accord_does_not_control_is_a_conflict_and_nothing_is_promoted() {
        let mut world = World::signed_off();
        let mut theirs = Deployment::default();
        theirs.metadata.name = Some("fraud-scorer".into());
        theirs.metadata.namespace = Some("payments".into());
        world.deployment = Some(theirs);
        let decision = world.decide(&Verify::default(), 0);
        assert!(decision.writes.deployment.is_none() && decision.writes.service.is_none());
        let status = decision.writes.status.unwrap();
        assert_eq!(status.phase, Some(Phase::Invalid));
        assert!(status.history.is_empty(), "no promotion is recorded");
        assert_eq!(
            decision.plan.events[0].reason,
            crate::api::reasons::event::NAME_CONFLICT
        );
    }

    #[test]
    fn a_withdrawn_attestation_is_an_event_once() {
        let mut world = World::signed_off();
        world
            .model_deployment
            .as_mut()
            .unwrap()
            .spec
            .handoff
            .checklist
            .push(crate::api::ChecklistItem {
                id: "bias".into(),
                owner: Role::Application,
                description: None,
                required: true,
                after: None,
            });
        world.converge(&Verify::default());
        world
            .attestations
            .retain(|a| a.metadata.name.as_deref() != Some("a1"));
        let decision = world.decide(&Verify::default(), 10);
        let withdrawn: Vec<&PlannedEvent> = decision
            .plan
            .events
            .iter()
            .filter(|e| e.reason == event::ATTESTATION_WITHDRAWN)
            .collect();
        assert_eq!(withdrawn.len(), 1, "{:?}", decision.plan.events);
        assert!(
            withdrawn[0].note.contains("a1 by alice for item drift"),
            "{}",
            withdrawn[0].note
        );
        world.carry_out(&decision);
        assert!(world.decide(&Verify::default(), 20).plan.events.is_empty());
    }

    #[test]
    fn missing_teams_are_named_with_their_role() {
        let world = World::signed_off();
        let mut observed = world.observed();
        observed.teams.insert("ml-platform".into(), None);
        assert_eq!(
            missing_teams(world.md(), &observed),
            [(Role::Platform, "ml-platform".to_string())]
        );
        assert!(!contacts(&observed).contains_key("ml-platform"));
        assert_eq!(contacts(&observed)["payments-app"], ["slack:#payments-app"]);
    }

    #[test]
    fn only_a_controlled_service_is_deleted_when_the_port_goes() {
        let mut world = World::converged();
        world.model_deployment.as_mut().unwrap().spec.serving.port = None;
        assert_eq!(
            world.decide(&Verify::default(), 20).writes.service,
            Some(ObjectWrite::Delete)
        );
        world.service.as_mut().unwrap().metadata.owner_references = None;
        assert_eq!(world.decide(&Verify::default(), 20).writes.service, None);
    }
}
