//! Rollback drills: `kubectl accord drills [-A]` (every drill, its last run and the
//! tabletop's progress), `drill run NAME` (runs one now and follows it step by step),
//! `drill report NAME [--run ID]` (one run's report, and who still owes a review), and
//! the review Attestation `attest MD --drill DRILL/RUN` creates. The views are pure.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde::Serialize;
use serde_json::json;

use crate::{
    api::{
        Attestation, AttestationSpec, DrillRun, RollbackDrill, RunResult, labels,
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
    pub next_run: String,
    /// The newest finished run's reviews: `platform ✓ application ✗`.
    pub acknowledged: String,
}

/// The rows of `drills`.
pub fn view(drills: &[RollbackDrill], now: jiff::Timestamp) -> Vec<DrillRow> {
    drills
        .iter()
        .map(|drill| {
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
                next_run: status.next_run_at.map_or("-".into(), |t| t.0.to_string()),
                acknowledged: status
                    .runs
                    .iter()
                    .find(|r| r.is_finished())
                    .map_or("-".into(), |run| reviews(drill, run)),
            }
        })
        .collect()
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
        "REVIEWED",
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

async fn get(scope: &Scope, name: &str) -> Result<RollbackDrill, Failure> {
    Api::<RollbackDrill>::namespaced(scope.client.clone(), &scope.namespace)
        .get(name)
        .await
        .map_err(|e| scope.failure(e))
}

/// `drills [-A]`.
pub async fn list(scope: &Scope) -> Result<String, Failure> {
    let drills = api(scope)
        .list(&ListParams::default())
        .await
        .map_err(|e| scope.failure(e))?
        .items;
    let rows = view(&drills, jiff::Timestamp::now());
    scope.print(&rows, || {
        if rows.is_empty() {
            "No RollbackDrills found (docs/drills.md).\n".into()
        } else {
            text(&rows, scope.all_namespaces)
        }
    })
}

/// One step of a run as a progress line.
pub fn step_line(step: &crate::api::DrillStep) -> String {
    format!(
        "  {:<18} {:<7} {:>7}  {}",
        step.name.as_str(),
        format!("{:?}", step.result),
        step.duration.as_deref().unwrap_or(""),
        step.message.as_deref().unwrap_or("")
    )
}

/// The report of one run.
pub fn report(drill: &RollbackDrill, run: &DrillRun) -> String {
    let name = drill.metadata.name.as_deref().unwrap_or_default();
    let mut out = format!(
        "RollbackDrill {}/{name}, run {} ({}{}): {:?}\n",
        drill.metadata.namespace.as_deref().unwrap_or_default(),
        run.id,
        run.trigger,
        run.requested_by
            .as_ref()
            .map(|u| format!(", requested by {u}"))
            .unwrap_or_default(),
        run.result
    );
    if let Some(target) = &run.target {
        out += &format!(
            "  rehearsed: {} ({}) {}\n",
            target.version,
            target.image.as_deref().unwrap_or("-"),
            target.fingerprint.as_deref().unwrap_or("")
        );
    }
    out += &format!(
        "  started {}{}; workload {}; time to Ready {}\n",
        run.started_at.0,
        run.finished_at
            .as_ref()
            .map(|f| format!(", finished {}", f.0))
            .unwrap_or_default(),
        run.workload.as_deref().unwrap_or("-"),
        run.time_to_ready.as_deref().unwrap_or("-")
    );
    if let Some(message) = &run.message {
        out += &format!("  {message}\n");
    }
    out += "Steps:\n";
    for step in &run.steps {
        out += &step_line(step);
        out.push('\n');
    }
    out + &tabletop_text(drill, run)
}

/// Who reviewed a run, and who still owes a review (by when, and how).
fn tabletop_text(drill: &RollbackDrill, run: &DrillRun) -> String {
    let name = drill.metadata.name.as_deref().unwrap_or_default();
    let Some(tabletop) = &drill.spec.tabletop else {
        return "Tabletop: none (spec.tabletop); this drill never satisfies a policy's drills.maxAge\n".into();
    };
    let mut out = format!("Tabletop ({}):\n", reviews(drill, run));
    for ack in &run.acknowledged_by {
        out += &format!(
            "  {} reviewed for {} (team {}, attestation {})\n",
            ack.user, ack.role, ack.team, ack.attestation
        );
    }
    let missing: Vec<String> = tabletop
        .acknowledge
        .iter()
        .filter(|role| !run.acknowledged_by.iter().any(|a| a.role == **role))
        .map(|role| role.to_string())
        .collect();
    if !missing.is_empty() && run.is_finished() {
        let version = run.target.as_ref().map_or("?", |t| t.version.as_str());
        out += &format!(
            "  still owed by: {} (within {} of the run's end{})\n  review it: kubectl accord attest {} --drill {} --evidence <link to your notes>   # version {version}\n",
            missing.join(", "),
            tabletop.within,
            run.escalated_at
                .as_ref()
                .map(|t| format!("; escalated {}", t.0))
                .unwrap_or_default(),
            drill.spec.model_deployment,
            run_ref(name, &run.id)
        );
    }
    out
}

/// `drill report NAME [--run ID]`.
pub async fn show(scope: &Scope, name: &str, run: Option<&str>) -> Result<String, Failure> {
    let drill = get(scope, name).await?;
    let runs = drill
        .status
        .as_ref()
        .map(|s| s.runs.as_slice())
        .unwrap_or_default();
    let chosen = match run {
        Some(id) => runs.iter().find(|r| r.id == id).ok_or_else(|| {
            Failure(format!(
                "RollbackDrill {name} has no run {id}; its runs: {}",
                runs.iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        None => runs.first().ok_or_else(|| {
            Failure(format!(
                "RollbackDrill {name} has not run yet: kubectl accord drill run {name}"
            ))
        })?,
    };
    let report_text = report(&drill, chosen);
    scope.print(chosen, || report_text)
}

/// How `drill run` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
}

/// `drill run NAME`: asks for a run (the annotation; the webhook records you), then
/// follows it, printing each step as it lands, until it finishes or `timeout`.
pub async fn run_now(
    scope: &Scope,
    name: &str,
    wait: Option<Duration>,
    print: fn(&str),
) -> Result<Outcome, Failure> {
    get(scope, name).await?;
    let at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_err(|e| Failure(e.to_string()))?
        .to_string();
    let patch = json!({"metadata": {"annotations": {labels::RUN_REQUESTED_AT: at}}});
    Api::<RollbackDrill>::namespaced(scope.client.clone(), &scope.namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| scope.failure(e))?;
    print(&format!(
        "run of RollbackDrill {}/{name} requested at {at}\n",
        scope.namespace
    ));
    let Some(timeout) = wait else {
        return Ok(Outcome::Passed);
    };
    follow(scope, name, &at, timeout, print).await
}

/// Follows the run answering the request `at` until it finishes.
async fn follow(
    scope: &Scope,
    name: &str,
    at: &str,
    timeout: Duration,
    print: fn(&str),
) -> Result<Outcome, Failure> {
    let deadline = std::time::Instant::now() + timeout;
    let mut shown = 0;
    let mut announced = false;
    loop {
        let drill = get(scope, name).await?;
        let status = drill.status.clone().unwrap_or_default();
        let run = status
            .runs
            .first()
            .filter(|_| status.last_run_request.as_deref() == Some(at));
        if let Some(run) = run {
            if !announced {
                let target = run.target.as_ref().map_or("?", |t| t.version.as_str());
                print(&format!("run {} rehearses {target}:\n", run.id));
                announced = true;
            }
            for step in run.steps.iter().skip(shown) {
                print(&format!("{}\n", step_line(step)));
            }
            shown = run.steps.len();
            if run.is_finished() {
                print(&format!(
                    "{:?}: {}\n",
                    run.result,
                    run.message.as_deref().unwrap_or_default()
                ));
                return Ok(match run.result {
                    RunResult::Passed => Outcome::Passed,
                    _ => Outcome::Failed,
                });
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(Failure(format!(
                "the run did not finish within {}s; follow it with: kubectl accord drill report {name}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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
    let (drill_name, run_id) = split_run_ref(reference).ok_or_else(|| {
        Failure(format!(
            "--drill takes DRILL/RUN (kubectl accord drills), not {reference}"
        ))
    })?;
    if drill.spec.model_deployment != model_deployment {
        return Err(Failure(format!(
            "RollbackDrill {drill_name} rehearses ModelDeployment {}, not {model_deployment}",
            drill.spec.model_deployment
        )));
    }
    let run = drill.run(run_id).ok_or_else(|| {
        Failure(format!("RollbackDrill {drill_name} has no run {run_id} (kubectl accord drill report {drill_name})"))
    })?;
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
    let drill_name = reference.split('/').next().unwrap_or_default();
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
