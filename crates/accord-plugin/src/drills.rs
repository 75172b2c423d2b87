//! Rollback drills: `kubectl accord drills [-A]` (every drill, its last run and the
//! tabletop's progress), `drill run NAME` (runs one now and follows it step by step:
//! [`follow`]), `drill report NAME [--run ID]` (one run's report, and who still owes a
//! review by when), and the review Attestation `attest MD --drill DRILL/RUN` creates.
//! The views are pure.

pub mod follow;

use accord_core::rehearsal::{missing_roles, review_due};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api,
    api::{ListParams, PostParams},
};
use serde::Serialize;

pub use follow::{EXIT_FAILED, EXIT_TIMED_OUT, Follow, Outcome, exit_code, run_now};

use crate::{
    api::{
        Attestation, AttestationSpec, DrillRun, DrillStep, RollbackDrill,
        rollback_drill::DRILL_REVIEW, run_ref, split_run_ref,
    },
    scope::{Failure, Scope},
    text::{age, table},
};

/// One row of `drills`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DrillRow {
    pub namespace: String,
    pub name: String,
    pub model_deployment: String,
    /// The cron expression (with its zone), or `once`.
    pub schedule: String,
    pub target: String,
    /// `20261208-090000 Passed`, or `-`.
    pub last_run: String,
    /// How long ago a run last passed, or `never`.
    pub last_success: String,
    /// When the schedule fires next, and in how long; `-` without a schedule.
    pub next_run: String,
    /// The newest finished run's reviews: `platform ✓ application ✗`.
    pub acknowledged: String,
}

/// The rows of `drills`.
pub fn view(drills: &[RollbackDrill], now: jiff::Timestamp) -> Vec<DrillRow> {
    drills.iter().map(|drill| row(drill, now)).collect()
}

fn row(drill: &RollbackDrill, now: jiff::Timestamp) -> DrillRow {
    let status = drill.status.clone().unwrap_or_default();
    let spec = &drill.spec;
    let schedule = match (&spec.schedule, &spec.time_zone) {
        (Some(s), Some(zone)) => format!("{s} ({zone})"),
        (Some(s), None) => s.clone(),
        (None, _) => "once".into(),
    };
    DrillRow {
        namespace: drill.metadata.namespace.clone().unwrap_or_default(),
        name: drill.metadata.name.clone().unwrap_or_default(),
        model_deployment: spec.model_deployment.clone(),
        schedule,
        target: spec.target.to_string(),
        last_run: status
            .runs
            .first()
            .map_or("-".into(), |r| format!("{} {:?}", r.id, r.result)),
        last_success: status
            .last_success
            .map_or("never".into(), |t| format!("{} ago", age(t.0, now))),
        next_run: status.next_run_at.map_or("-".into(), |t| {
            if t.0 > now {
                format!("{} (in {})", t.0, age(now, t.0))
            } else {
                format!("{} (due)", t.0)
            }
        }),
        acknowledged: status
            .runs
            .iter()
            .find(|r| r.is_finished())
            .map_or("-".into(), |run| reviews(drill, run)),
    }
}

/// `platform ✓ application ✗` for a run's tabletop.
pub fn reviews(drill: &RollbackDrill, run: &DrillRun) -> String {
    let Some(tabletop) = &drill.spec.tabletop else {
        return "no tabletop".into();
    };
    tabletop
        .acknowledge
        .iter()
        .map(|role| {
            let done = run.acknowledged_by.iter().any(|a| a.role == *role);
            format!("{role} {}", if done { "✓" } else { "✗" })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `drills` table.
pub fn text(rows: &[DrillRow], all_namespaces: bool) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                r.name.clone(),
                r.model_deployment.clone(),
                r.schedule.clone(),
                r.target.clone(),
                r.last_run.clone(),
                r.last_success.clone(),
                r.next_run.clone(),
                r.acknowledged.clone(),
            ];
            if all_namespaces {
                cells.insert(0, r.namespace.clone());
            }
            cells
        })
        .collect();
    let mut header = vec![
        "NAME",
        "MODEL",
        "SCHEDULE",
        "TARGET",
        "LAST RUN",
        "LAST SUCCESS",
        "NEXT RUN",
        "ACKNOWLEDGED",
    ];
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    table(&header, &cells)
}

fn api(scope: &Scope) -> Api<RollbackDrill> {
    if scope.all_namespaces {
        Api::all(scope.client.clone())
    } else {
        Api::namespaced(scope.client.clone(), &scope.namespace)
    }
}

/// The RollbackDrill `name` in the scope's namespace.
pub(crate) async fn get(scope: &Scope, name: &str) -> Result<RollbackDrill, Failure> {
    Api::<RollbackDrill>::namespaced(scope.client.clone(), &scope.namespace)
        .get_opt(name)
        .await
        .map_err(|e| scope.failure(e))?
        .ok_or_else(|| {
            Failure(format!(
                "RollbackDrill {name} not found in namespace {}; list them with: kubectl accord drills -n {}",
                scope.namespace, scope.namespace
            ))
        })
}

/// `drills [-A]`.
pub async fn list(scope: &Scope) -> Result<String, Failure> {
    let mut drills = api(scope)
        .list(&ListParams::default())
        .await
        .map_err(|e| scope.failure(e))?
        .items;
    drills.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    let rows = view(&drills, jiff::Timestamp::now());
    scope.print(&rows, || {
        if rows.is_empty() {
            "No RollbackDrills found (docs/drills.md).\n".into()
        } else {
            text(&rows, scope.all_namespaces)
        }
    })
}

/// One step of a run as a line: name, result, duration, message.
pub fn step_line(step: &DrillStep) -> String {
    format!(
        "  {:<18} {:<7} {:>7}  {}",
        step.name.as_str(),
        format!("{:?}", step.result),
        step.duration.as_deref().unwrap_or(""),
        step.message.as_deref().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// The report of one run at `now`: what was rehearsed, where, each step, the result,
/// and the tabletop.
pub fn report(drill: &RollbackDrill, run: &DrillRun, now: jiff::Timestamp) -> String {
    let mut out = format!(
        "RollbackDrill {}/{}, run {} ({}{}): {:?}\n",
        drill.metadata.namespace.as_deref().unwrap_or_default(),
        drill.metadata.name.as_deref().unwrap_or_default(),
        run.id,
        run.trigger,
        run.requested_by
            .as_ref()
            .map(|u| format!(", requested by {u}"))
            .unwrap_or_default(),
        run.result
    );
    let target = run.target.clone().unwrap_or_default();
    let or_dash = |value: Option<&str>| value.unwrap_or("-").to_string();
    let fields = [
        (
            "model",
            format!(
                "{} (target {})",
                drill.spec.model_deployment, drill.spec.target
            ),
        ),
        (
            "version",
            or_dash(run.target.as_ref().map(|t| t.version.as_str())),
        ),
        ("fingerprint", or_dash(target.fingerprint.as_deref())),
        ("image", or_dash(target.image.as_deref())),
        ("workload", or_dash(run.workload.as_deref())),
        ("started", run.started_at.0.to_string()),
        (
            "finished",
            run.finished_at
                .as_ref()
                .map_or("- (running)".into(), |t| t.0.to_string()),
        ),
        ("time to Ready", or_dash(run.time_to_ready.as_deref())),
    ];
    for (label, value) in fields {
        out += &format!("  {:<14} {value}\n", format!("{label}:"));
    }
    if let Some(message) = &run.message {
        out += &format!("  {message}\n");
    }
    out += "Steps:\n";
    let mut steps: Vec<&DrillStep> = run.steps.iter().collect();
    steps.sort_by_key(|s| s.name);
    if steps.is_empty() {
        out += "  (none recorded yet)\n";
    }
    for step in steps {
        out += &step_line(step);
        out.push('\n');
    }
    out + &tabletop_text(drill, run, now)
}

/// Who reviewed a run, and who still owes a review (by when, and how).
fn tabletop_text(drill: &RollbackDrill, run: &DrillRun, now: jiff::Timestamp) -> String {
    let Some(tabletop) = &drill.spec.tabletop else {
        return "Tabletop: none (spec.tabletop): this drill never satisfies a policy's drills.maxAge\n".into();
    };
    let mut out = format!("Tabletop ({}):\n", reviews(drill, run));
    for ack in &run.acknowledged_by {
        out += &format!(
            "  {} reviewed for {} (team {}, attestation {})\n",
            ack.user, ack.role, ack.team, ack.attestation
        );
    }
    if let Some(at) = &run.acknowledged_at {
        out += &format!("  every role reviewed it by {}\n", at.0);
    }
    let missing: Vec<String> = missing_roles(drill, run)
        .iter()
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        return out;
    }
    if !run.is_finished() {
        return out
            + &format!(
                "  still owed by: {} once the run finishes (within {})\n",
                missing.join(", "),
                tabletop.within
            );
    }
    if run.target.is_none() {
        return out
            + "  nothing to review: the run rehearsed no version (it failed before its target was resolved); fix what it names and run the drill again\n";
    }
    let due = review_due(drill, run).map_or_else(
        || format!("within {} of the run's end", tabletop.within),
        |due| {
            let overdue = if due < now { ", overdue" } else { "" };
            format!(
                "by {due} ({} after the run finished{overdue})",
                tabletop.within
            )
        },
    );
    out += &format!("  still owed by: {} {due}\n", missing.join(", "));
    if let Some(at) = &run.escalated_at {
        out += &format!("  escalated to the Teams that owe it at {}\n", at.0);
    }
    out + &format!("  review it: {}\n", attest_hint(drill, run))
}

/// The command that gives a review of `run`.
pub fn attest_hint(drill: &RollbackDrill, run: &DrillRun) -> String {
    format!(
        "kubectl accord attest {} -n {} --item {DRILL_REVIEW} --drill {} --evidence <link to your notes>",
        drill.spec.model_deployment,
        drill.metadata.namespace.as_deref().unwrap_or("default"),
        run_ref(drill.metadata.name.as_deref().unwrap_or_default(), &run.id)
    )
}

/// The run `--run ID` names, else the newest.
pub fn choose<'a>(drill: &'a RollbackDrill, run: Option<&str>) -> Result<&'a DrillRun, Failure> {
    let name = drill.metadata.name.as_deref().unwrap_or_default();
    let runs = drill
        .status
        .as_ref()
        .map(|s| s.runs.as_slice())
        .unwrap_or_default();
    match run {
        Some(id) => runs.iter().find(|r| r.id == id).ok_or_else(|| {
            Failure(format!(
                "RollbackDrill {name} has no run {id}; the runs it keeps: {}",
                if runs.is_empty() {
                    "none".into()
                } else {
                    runs.iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
        }),
        None => runs.first().ok_or_else(|| {
            Failure(format!(
                "RollbackDrill {name} has not run yet: kubectl accord drill run {name}"
            ))
        }),
    }
}

/// `drill report NAME [--run ID]`; `-o json|yaml` prints the run.
pub async fn show(scope: &Scope, name: &str, run: Option<&str>) -> Result<String, Failure> {
    let drill = get(scope, name).await?;
    let chosen = choose(&drill, run)?;
    scope.print(chosen, || report(&drill, chosen, jiff::Timestamp::now()))
}

/// The drill and run of `--drill DRILL/RUN`.
fn parse_reference(reference: &str) -> Result<(&str, &str), Failure> {
    split_run_ref(reference)
        .filter(|(drill, run)| !drill.is_empty() && !run.is_empty())
        .ok_or_else(|| {
            Failure(format!(
                "--drill takes DRILL/RUN (kubectl accord drill report DRILL shows the run's id), not {reference}"
            ))
        })
}

/// The review `attest MD --drill DRILL/RUN` creates: item `drill-review`, the run's
/// target version (the webhook records who gives it).
pub fn review(
    drill: &RollbackDrill,
    reference: &str,
    model_deployment: &str,
    evidence: Option<String>,
    comment: Option<String>,
) -> Result<Attestation, Failure> {
    let (drill_name, run_id) = parse_reference(reference)?;
    if drill.spec.model_deployment != model_deployment {
        return Err(Failure(format!(
            "RollbackDrill {drill_name} rehearses ModelDeployment {}, not {model_deployment}",
            drill.spec.model_deployment
        )));
    }
    let run = drill.run(run_id).ok_or_else(|| {
        Failure(format!("RollbackDrill {drill_name} has no run {run_id} (kubectl accord drill report {drill_name})"))
    })?;
    if !run.is_finished() {
        return Err(Failure(format!(
            "run {run_id} of RollbackDrill {drill_name} is still running: review it once it finishes (kubectl accord drill report {drill_name})"
        )));
    }
    let version = run
        .target
        .as_ref()
        .map(|t| t.version.clone())
        .ok_or_else(|| {
            Failure(format!(
                "run {run_id} resolved no target: there is nothing to review"
            ))
        })?;
    let suffix: String = run_id.chars().filter(char::is_ascii_alphanumeric).collect();
    Ok(Attestation {
        metadata: ObjectMeta {
            name: Some(format!(
                "{drill_name}-{suffix}-review-{}",
                jiff::Timestamp::now().as_second()
            )),
            namespace: drill.metadata.namespace.clone(),
            ..Default::default()
        },
        spec: AttestationSpec {
            model_deployment: model_deployment.into(),
            item: DRILL_REVIEW.into(),
            version,
            digest: None,
            candidate: None,
            evidence,
            comment,
            attested_by: None,
            team: None,
            signature: None,
            incident: None,
            drill: Some(run_ref(drill_name, run_id)),
            follow_ups: vec![],
        },
        status: None,
    })
}

/// `attest MD --drill DRILL/RUN`: creates the review, as you.
pub async fn attest(
    scope: &Scope,
    model_deployment: &str,
    reference: &str,
    evidence: Option<String>,
    comment: Option<String>,
) -> Result<String, Failure> {
    let (drill_name, _) = parse_reference(reference)?;
    let drill = get(scope, drill_name).await?;
    let attestation = review(&drill, reference, model_deployment, evidence, comment)?;
    let created = Api::<Attestation>::namespaced(scope.client.clone(), &scope.namespace)
        .create(&PostParams::default(), &attestation)
        .await
        .map_err(|e| scope.failure(e))?;
    scope.print(&created, || {
        format!(
            "attestation {} created: {} reviewed run {} for team {}\n",
            created.metadata.name.as_deref().unwrap_or_default(),
            created.spec.attested_by.as_deref().unwrap_or("you"),
            reference,
            created.spec.team.as_deref().unwrap_or("-")
        )
    })
}

#[cfg(test)]
mod tests;
