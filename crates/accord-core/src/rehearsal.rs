//! One rollback drill's run, decided (pure): when a run is due, which version it
//! rehearses, the objects it creates, how each step is judged, and which tabletop
//! reviews count. The operator ([`accord-operator`]'s drill controller) reads the
//! world, calls these, and carries out what they say.
//!
//! A drill never touches production: its Deployment and Service are named
//! `<model>-drill-<run>`, owned by the RollbackDrill, and its pods carry only Accord's
//! drill labels (every label of the recorded template is dropped, `accord.dev/instance`
//! included), so no production Service — Accord's or a hand-made one — selects them.
//!
//! [`accord-operator`]: ../../accord_operator/index.html

use std::{collections::BTreeMap, time::Duration};

use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{Pod, Service, ServicePort, ServiceSpec},
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time},
        util::intstr::IntOrString,
    },
};
use kube::{Resource, ResourceExt};

use crate::{
    api::{
        Acknowledgement, Attestation, DrillRun, DrillStep, DrillTarget, HistoryEntry,
        ModelDeployment, Role, RollbackDrill, RunResult, RunTarget, StepName, StepResult,
        TargetName, Team, labels,
    },
    desired,
    gate::{is_member, recorded_groups},
    schedule::{Schedule, ScheduleError},
    timing::parse_duration,
    trust::Verifier,
};

#[cfg(test)]
mod tests;

/// Why a run started: `spec.schedule`, a creation without a schedule, or a person's
/// request (`kubectl accord drill run`).
pub const TRIGGER_SCHEDULE: &str = "Schedule";
pub const TRIGGER_CREATE: &str = "Created";
pub const TRIGGER_REQUEST: &str = "Requested";

/// The deadline when `spec.deadline` does not parse (the schema keeps it from
/// happening).
const DEFAULT_DEADLINE: Duration = Duration::from_secs(600);

/// A run's id: its start, UTC, to the second (`20261208-100000`). Deployment and
/// Service names need a DNS label, so no colons.
pub fn run_id(at: Timestamp) -> String {
    at.strftime("%Y%m%d-%H%M%S").to_string()
}

/// The longest a DNS-1035 label (a Service name) may be.
const NAME_MAX: usize = 63;

/// The name of a run's Deployment and Service: `<model>-drill-<run>`, shortened with a
/// hash when longer than a DNS label allows, and prefixed when it would start with a
/// digit (a Service name must start with a letter).
pub fn workload_name(model: &str, run: &str) -> String {
    let mut name = format!("{model}-drill-{run}");
    if name.len() > NAME_MAX {
        let hash = crate::api::fingerprint::content_hash(&name);
        let hash = hash.trim_start_matches("sha256:");
        let keep = NAME_MAX - "-drill-".len() - run.len() - 9;
        let model: String = model.chars().take(keep).collect();
        name = format!("{}-{}-drill-{run}", model.trim_end_matches('-'), &hash[..8]);
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("d{}", &name[..name.len().min(NAME_MAX - 1)]);
    }
    name
}

/// A drill's `spec.deadline`.
pub fn deadline(drill: &RollbackDrill) -> Duration {
    parse_duration(&drill.spec.deadline)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_DEADLINE)
}

/// A drill's schedule, when it has one.
pub fn schedule(drill: &RollbackDrill) -> Option<Result<Schedule, ScheduleError>> {
    let expression = drill.spec.schedule.as_deref()?;
    Some(Schedule::parse(expression, drill.spec.time_zone.as_deref()))
}

/// A run that is due now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub trigger: &'static str,
    /// Who asked (a request), from the annotation the webhook wrote.
    pub requested_by: Option<String>,
    /// The schedule's firing this run answers.
    pub schedule_time: Option<Timestamp>,
    /// The request annotation's value this run answers.
    pub request: Option<String>,
}

/// Whether a run is due at `now`: a request not yet answered first, then a schedule's
/// latest missed firing (many missed firings make one run), then — for a drill with
/// no schedule — one run on creation.
pub fn due(drill: &RollbackDrill, schedule: Option<&Schedule>, now: Timestamp) -> Option<Due> {
    let status = drill.status.clone().unwrap_or_default();
    let annotations = drill.annotations();
    if let Some(request) = annotations.get(labels::RUN_REQUESTED_AT)
        && status.last_run_request.as_ref() != Some(request)
    {
        return Some(Due {
            trigger: TRIGGER_REQUEST,
            requested_by: annotations.get(labels::RUN_REQUESTED_BY).cloned(),
            schedule_time: None,
            request: Some(request.clone()),
        });
    }
    match schedule {
        Some(schedule) => {
            let after = status
                .last_schedule_time
                .as_ref()
                .map(|t| t.0)
                .or_else(|| drill.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .unwrap_or(now);
            let fired = schedule.latest_due(after, now)?;
            Some(Due {
                trigger: TRIGGER_SCHEDULE,
                requested_by: None,
                schedule_time: Some(fired),
                request: None,
            })
        }
        None => (status.runs.is_empty() && status.last_run.is_none()).then_some(Due {
            trigger: TRIGGER_CREATE,
            requested_by: None,
            schedule_time: None,
            request: None,
        }),
    }
}

/// The version a run rehearses, and the sealed history entry it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub target: RunTarget,
    pub entry: HistoryEntry,
    /// The TargetResolved step's message.
    pub message: String,
}

fn fingerprint_of(entry: &HistoryEntry) -> String {
    entry
        .fingerprint
        .clone()
        .unwrap_or_else(|| format!("{}@{}", entry.version, entry.image))
}

/// Finds the run's target in `md`'s history: `PreviousKnownGood` is the newest entry
/// before the active one that was available and runs something else; `{version}` the
/// newest entry of that version. Its seal must verify: a drill never runs an entry
/// Accord did not write, nor one altered since.
pub fn resolve_target(
    drill: &RollbackDrill,
    md: &ModelDeployment,
    verifier: &dyn Verifier,
) -> Result<Resolved, String> {
    let history = md.status.as_ref().map_or(&[][..], |s| s.history.as_slice());
    let entry = match &drill.spec.target {
        DrillTarget::Named(TargetName::PreviousKnownGood) => {
            let (active, earlier) = history.split_last().ok_or_else(|| {
                format!(
                    "ModelDeployment {} has no history yet: nothing was ever promoted, so there is no previous known-good version to rehearse",
                    md.name_any()
                )
            })?;
            let active_fingerprint = fingerprint_of(active);
            earlier
                .iter()
                .rev()
                .find(|e| e.available_at.is_some() && fingerprint_of(e) != active_fingerprint)
                .ok_or_else(|| format!(
                    "no earlier version of ModelDeployment {} was ever available apart from the active {}: a rollback would have nothing to restore; promote a second version first, or name one with spec.target.version",
                    md.name_any(), active.version
                ))?
        }
        DrillTarget::Version(v) => history
            .iter()
            .rev()
            .find(|e| e.version == v.version)
            .ok_or_else(|| format!(
                "version {} is not in the history of ModelDeployment {}: a rollback can only restore a version that was promoted (kubectl accord history {})",
                v.version, md.name_any(), md.name_any()
            ))?,
        DrillTarget::Invalid(value) => {
            return Err(format!(
                "spec.target {value} is neither PreviousKnownGood nor {{version: …}}"
            ));
        }
    };
    if !verifier.history_verifies(md, entry) {
        return Err(format!(
            "the history entry of {} ({}) does not carry a valid seal: it was altered after Accord wrote it, so it is not rehearsed (and a rollback would not restore it)",
            entry.version, entry.image
        ));
    }
    let digest = entry
        .digest
        .as_deref()
        .map(|d| format!(", artifact {d}"))
        .unwrap_or_default();
    Ok(Resolved {
        target: RunTarget {
            version: entry.version.clone(),
            fingerprint: entry.fingerprint.clone(),
            image: Some(entry.image.clone()),
        },
        message: format!(
            "{} ({}{digest}) is in the history and its seal verifies: it is exactly what Accord promoted",
            entry.version, entry.image
        ),
        entry: entry.clone(),
    })
}

/// The labels of a run's objects and pods: Accord's drill labels, the model's owners,
/// and nothing that selects production (no `accord.dev/instance`).
pub fn drill_labels(
    drill: &RollbackDrill,
    md: &ModelDeployment,
    run: &str,
) -> BTreeMap<String, String> {
    let mut labels = desired::owner_labels(md);
    labels.insert(labels::DRILL.into(), drill.name_any());
    labels.insert(labels::DRILL_RUN.into(), run.into());
    labels.insert(labels::MANAGED_BY.into(), labels::MANAGED_BY_VALUE.into());
    labels
}

/// The labels a run's Deployment and Service select its pods by.
pub fn run_selector(drill: &RollbackDrill, run: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::DRILL.to_string(), drill.name_any()),
        (labels::DRILL_RUN.to_string(), run.to_string()),
    ])
}

fn owned_by(drill: &RollbackDrill) -> Option<Vec<OwnerReference>> {
    drill.controller_owner_ref(&()).map(|owner| vec![owner])
}

fn meta(drill: &RollbackDrill, md: &ModelDeployment, run: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(workload_name(&md.name_any(), run)),
        namespace: drill.namespace(),
        labels: Some(drill_labels(drill, md, run)),
        owner_references: owned_by(drill),
        ..Default::default()
    }
}

/// A run's Deployment: the target's recorded serving shape with `spec.replicas`, its
/// pod labels replaced by the drill's.
pub fn drill_deployment(
    drill: &RollbackDrill,
    md: &ModelDeployment,
    resolved: &Resolved,
    run: &str,
) -> Deployment {
    let mut template = desired::pod_template_of(&resolved.entry, md);
    let pod_meta = template.metadata.get_or_insert_default();
    pod_meta.labels = Some(drill_labels(drill, md, run));
    Deployment {
        metadata: meta(drill, md, run),
        spec: Some(DeploymentSpec {
            replicas: Some(drill.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(run_selector(drill, run)),
                ..Default::default()
            },
            progress_deadline_seconds: i32::try_from(deadline(drill).as_secs()).ok(),
            template,
            ..Default::default()
        }),
        status: None,
    }
}

/// A run's Service for the smoke check, when the drill has one: the run's pods only.
pub fn drill_service(drill: &RollbackDrill, md: &ModelDeployment, run: &str) -> Option<Service> {
    let smoke = drill.spec.smoke.as_ref()?;
    Some(Service {
        metadata: meta(drill, md, run),
        spec: Some(ServiceSpec {
            selector: Some(run_selector(drill, run)),
            ports: Some(vec![ServicePort {
                name: Some("smoke".into()),
                port: smoke.port,
                target_port: Some(IntOrString::Int(smoke.port)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    })
}

/// Whether `object` belongs to `run` of `drill` (by its labels): anything else the
/// drill owns is a leftover.
pub fn is_of_run<K: Resource>(object: &K, drill: &str, run: Option<&str>) -> bool {
    let labels = object.meta().labels.as_ref();
    let get = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    get(labels::DRILL) == Some(drill) && run.is_some() && get(labels::DRILL_RUN) == run
}

/// What a run's pods show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodsObserved {
    pub pods: usize,
    pub scheduled: usize,
    pub ready: usize,
    /// The scheduler's (or kubelet's) explanation for the first pod held back.
    pub holdup: Option<String>,
}

fn condition<'a>(pod: &'a Pod, kind: &str) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

/// Counts a run's pods (not being deleted) by what they reached.
pub fn observe_pods(pods: &[Pod]) -> PodsObserved {
    let mut seen = PodsObserved::default();
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        seen.pods += 1;
        let scheduled = condition(pod, "PodScheduled").is_some_and(|c| c.status == "True");
        let ready = condition(pod, "Ready").is_some_and(|c| c.status == "True");
        seen.scheduled += usize::from(scheduled);
        seen.ready += usize::from(ready);
        if seen.holdup.is_none() && !ready {
            let why = condition(pod, if scheduled { "Ready" } else { "PodScheduled" })
                .and_then(|c| c.message.clone().or_else(|| c.reason.clone()));
            seen.holdup = why.map(|w| format!("pod {}: {w}", pod.name_any()));
        }
    }
    seen
}

/// What a running run does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Look again after this long.
    Wait(Duration),
    /// The pods are Ready: check the smoke request (or skip it), then clean up.
    Smoke,
    /// The deadline passed: clean up; the run failed.
    GiveUp,
}

/// A step's record.
pub fn step(
    name: StepName,
    result: StepResult,
    message: impl Into<String>,
    took: Option<Duration>,
    now: &Time,
) -> DrillStep {
    DrillStep {
        name,
        result,
        duration: took.map(format_duration),
        message: Some(message.into()),
        at: now.clone(),
    }
}

/// A duration as the runs show it: `0.1s`, `41s`, `2m5s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 10 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

fn since(run: &DrillRun, now: &Time) -> Duration {
    crate::timing::elapsed(&run.started_at, now)
}

/// Advances a running run from what its pods show: records Scheduled and Ready as
/// they pass, and at the deadline fails the ones that did not, with the scheduler's
/// words.
pub fn advance(
    run: &mut DrillRun,
    want: i32,
    pods: &PodsObserved,
    deadline: Duration,
    now: &Time,
) -> Next {
    let want = usize::try_from(want.max(1)).unwrap_or(1);
    let took = since(run, now);
    if run.step(StepName::Scheduled).is_none() && pods.pods >= want && pods.scheduled >= want {
        run.steps.push(step(
            StepName::Scheduled,
            StepResult::Passed,
            format!("{want} of {want} pods were bound to a node"),
            Some(took),
            now,
        ));
    }
    if run.step(StepName::Ready).is_none() && pods.ready >= want {
        run.time_to_ready = Some(format_duration(took));
        run.steps.push(step(
            StepName::Ready,
            StepResult::Passed,
            format!(
                "{want} of {want} pods were Ready after {}",
                format_duration(took)
            ),
            Some(took),
            now,
        ));
        return Next::Smoke;
    }
    if run.step(StepName::Ready).is_some() {
        return Next::Smoke;
    }
    if took < deadline {
        return Next::Wait((deadline - took).min(Duration::from_secs(2)));
    }
    let holdup = pods
        .holdup
        .clone()
        .unwrap_or_else(|| format!("{} of {want} pods exist", pods.pods));
    let limit = format_duration(deadline);
    if run.step(StepName::Scheduled).is_none() {
        run.steps.push(step(
            StepName::Scheduled,
            StepResult::Failed,
            format!(
                "only {} of {want} pods were bound to a node within {limit}: {holdup}",
                pods.scheduled
            ),
            Some(took),
            now,
        ));
    }
    run.steps.push(step(StepName::Ready, StepResult::Failed, format!("only {} of {want} pods were Ready within spec.deadline ({limit}): {holdup}; a rollback to this version would not have come up either", pods.ready), Some(took), now));
    Next::GiveUp
}

/// The smoke check's verdict on an answer (status code and a short body), or on the
/// error that kept it from answering.
pub fn judge_smoke(
    drill: &RollbackDrill,
    answer: Result<(u16, String), String>,
    took: Duration,
    now: &Time,
) -> DrillStep {
    let Some(smoke) = &drill.spec.smoke else {
        return step(
            StepName::Smoke,
            StepResult::Skipped,
            "no spec.smoke: nothing to request",
            None,
            now,
        );
    };
    let target = format!("GET {} on port {}", smoke.path, smoke.port);
    match answer {
        Ok((code, _)) if code == smoke.expect_status => step(
            StepName::Smoke,
            StepResult::Passed,
            format!("{target} answered {code}"),
            Some(took),
            now,
        ),
        Ok((code, body)) => step(
            StepName::Smoke,
            StepResult::Failed,
            format!(
                "{target} answered {code}, expected {}: {}",
                smoke.expect_status,
                body.chars().take(200).collect::<String>().trim()
            ),
            Some(took),
            now,
        ),
        Err(error) => step(
            StepName::Smoke,
            StepResult::Failed,
            format!("{target} got no answer: {error}"),
            Some(took),
            now,
        ),
    }
}

/// The images the target's pods would pull (containers and init containers of its
/// recorded serving shape), each once, in the order the pod names them.
pub fn images(resolved: &Resolved, md: &ModelDeployment) -> Vec<String> {
    let template = desired::pod_template_of(&resolved.entry, md);
    let mut images: Vec<String> = vec![];
    if let Some(spec) = template.spec {
        let containers = spec.init_containers.into_iter().flatten();
        for image in containers.chain(spec.containers).filter_map(|c| c.image) {
            if !images.contains(&image) {
                images.push(image);
            }
        }
    }
    images
}

/// What the operator learned of one of the target's images from its registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageCheck {
    /// The registry has the manifest a pull would fetch (`digest`, when it named one).
    Present { digest: Option<String> },
    /// The registry answered that it has no such manifest.
    Missing(String),
    /// The registry could not be asked or refused to answer (network, credentials).
    Unanswered(String),
}

/// The ImagePresent step when the operator may not ask registries (the default).
pub fn image_present_not_checked(now: &Time) -> DrillStep {
    step(
        StepName::ImagePresent,
        StepResult::Skipped,
        "registry access is not enabled for drills (--drill-registry): the image reference was not resolved; the pods pulling it is the check",
        None,
        now,
    )
}

/// The ImagePresent step from each image's check: Passed only when every image is
/// there. A registry that could not be asked fails the step too: the claim that the
/// rollback could pull its images is then unproven.
pub fn image_present(
    version: &str,
    checks: &[(String, ImageCheck)],
    took: Duration,
    now: &Time,
) -> DrillStep {
    let mut found = vec![];
    let mut problems = vec![];
    for (image, check) in checks {
        match check {
            ImageCheck::Present { digest } => found.push(match digest {
                Some(digest) if !image.ends_with(digest.as_str()) => {
                    format!("{image} (now {digest})")
                }
                _ => image.clone(),
            }),
            ImageCheck::Missing(detail) => problems.push(format!(
                "{image} is gone from its registry ({detail}): a rollback to {version} could not pull it; push it again or rehearse another version"
            )),
            ImageCheck::Unanswered(detail) => problems.push(format!(
                "could not ask the registry about {image}: {detail}; check the operator's registry credentials (--drill-registry-secret) and its network route to the registry"
            )),
        }
    }
    if checks.is_empty() {
        return step(
            StepName::ImagePresent,
            StepResult::Failed,
            format!("version {version}'s recorded serving shape names no image"),
            Some(took),
            now,
        );
    }
    if problems.is_empty() {
        step(
            StepName::ImagePresent,
            StepResult::Passed,
            format!("in its registry: {}", found.join(", ")),
            Some(took),
            now,
        )
    } else {
        step(
            StepName::ImagePresent,
            StepResult::Failed,
            problems.join("; "),
            Some(took),
            now,
        )
    }
}

/// Whether at least one current member of the platform Team could perform a rollback
/// under the current decision rights: the Team exists, has a member, and its role is
/// one that may ask for a rollback.
pub fn rollback_rights(md: &ModelDeployment, platform: Option<&Team>, now: &Time) -> DrillStep {
    let name = &md.spec.owners.platform;
    let verdict = match platform {
        None => Err(format!(
            "the platform Team {name} does not exist: nobody could roll ModelDeployment {} back",
            md.name_any()
        )),
        Some(team) if team.spec.members.users.is_empty() && team.spec.members.groups.is_empty() => {
            Err(format!(
                "the platform Team {name} has no members: nobody could roll ModelDeployment {} back; add a member to Team {name}",
                md.name_any()
            ))
        }
        Some(team) if Role::ROLLBACK_DECIDERS.contains(&Role::Platform) => {
            let members = &team.spec.members;
            Ok(format!(
                "Team {name} ({} users, {} groups) holds the right to request a rollback",
                members.users.len(),
                members.groups.len()
            ))
        }
        Some(_) => Err(format!(
            "the decision rights no longer let the platform Team {name} request a rollback"
        )),
    };
    match verdict {
        Ok(message) => step(
            StepName::RollbackRightsHeld,
            StepResult::Passed,
            message,
            None,
            now,
        ),
        Err(message) => step(
            StepName::RollbackRightsHeld,
            StepResult::Failed,
            message,
            None,
            now,
        ),
    }
}

/// Finishes a run: its steps in the pinned order, every missing one Skipped, and the
/// result (Passed only when no step failed).
pub fn finish(run: &mut DrillRun, now: &Time) {
    for name in StepName::ALL {
        if run.step(name).is_none() {
            run.steps.push(step(
                name,
                StepResult::Skipped,
                "not reached: an earlier step failed",
                None,
                now,
            ));
        }
    }
    run.steps
        .sort_by_key(|s| StepName::ALL.iter().position(|n| *n == s.name));
    let failed: Vec<&DrillStep> = run
        .steps
        .iter()
        .filter(|s| s.result == StepResult::Failed)
        .collect();
    run.finished_at = Some(now.clone());
    match failed.first() {
        None => {
            run.result = RunResult::Passed;
            let version = run
                .target
                .as_ref()
                .map(|t| t.version.as_str())
                .unwrap_or_default();
            let ready = run.time_to_ready.as_deref().unwrap_or("?");
            run.message = Some(format!(
                "rehearsed a rollback to {version}: Ready in {ready}, every step passed"
            ));
        }
        Some(first) => {
            run.result = RunResult::Failed;
            run.message = Some(format!(
                "failed at {}: {}",
                first.name.as_str(),
                first.message.as_deref().unwrap_or_default()
            ));
        }
    }
}

/// The tabletop reviews of `run` that count: authentic Attestations (their seal
/// binds `spec.drill` to this run) whose attester is a current member of the Team of
/// a role in `tabletop.acknowledge`, one per role, oldest first.
pub fn acknowledgements(
    drill: &RollbackDrill,
    run: &DrillRun,
    md: &ModelDeployment,
    reviews: &[&Attestation],
    team: &dyn Fn(&str) -> Option<std::sync::Arc<Team>>,
    verifier: &dyn Verifier,
) -> Vec<Acknowledgement> {
    let Some(tabletop) = &drill.spec.tabletop else {
        return vec![];
    };
    let reference = crate::api::run_ref(&drill.name_any(), &run.id);
    let version = run.target.as_ref().map(|t| t.version.as_str());
    let mut reviews: Vec<&&Attestation> = reviews
        .iter()
        .filter(|a| a.spec.drill.as_deref() == Some(reference.as_str()))
        .filter(|a| Some(a.spec.version.as_str()) == version && !a.is_withdrawn() && !a.is_signed())
        .filter(|a| verifier.reject(a).is_none())
        .collect();
    reviews.sort_by_key(|a| a.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let mut counted = vec![];
    for role in &tabletop.acknowledge {
        let team_name = md.spec.owners.team_for(*role);
        let Some(members) = team(team_name) else {
            continue;
        };
        let by = reviews.iter().find(|a| {
            a.attester()
                .is_some_and(|user| is_member(&members, user, &recorded_groups(a)))
        });
        if let Some(review) = by {
            counted.push(Acknowledgement {
                role: *role,
                user: review.attester().unwrap_or_default().to_string(),
                team: team_name.to_string(),
                attestation: review.name_any(),
            });
        }
    }
    counted
}

/// The roles of `tabletop.acknowledge` with no acknowledgement yet.
pub fn missing_roles(drill: &RollbackDrill, run: &DrillRun) -> Vec<Role> {
    drill
        .spec
        .tabletop
        .as_ref()
        .map(|t| {
            t.acknowledge
                .iter()
                .filter(|role| !run.acknowledged_by.iter().any(|a| a.role == **role))
                .copied()
                .collect()
        })
        .unwrap_or_default()
}

/// When the tabletop of a finished run is overdue: `tabletop.within` after it finished.
pub fn review_due(drill: &RollbackDrill, run: &DrillRun) -> Option<Timestamp> {
    let within = parse_duration(&drill.spec.tabletop.as_ref()?.within)?;
    let finished = run.finished_at.as_ref()?.0;
    finished
        .checked_add(jiff::SignedDuration::try_from(within).ok()?)
        .ok()
}
