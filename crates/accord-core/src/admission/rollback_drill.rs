//! RollbackDrills: creating, changing, running (the run-requested-at annotation) and
//! deleting one belongs to the platform Team of the ModelDeployment it rehearses;
//! `spec.target`, `spec.schedule` and `spec.timeZone` are judged here, where the
//! schema cannot; and who asked for a run is written from the authenticated user.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Requester, Rights, SYSTEM_DELETERS, Verdict, describe_members, member_of};
use crate::{
    api::{DrillTarget, ModelDeployment, RollbackDrill, Team, labels, namespaced_name},
    schedule::Schedule,
    timing::parse_duration,
};

fn annotation<'a>(drill: &'a RollbackDrill, key: &str) -> Option<&'a str> {
    drill
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Whether this change asks for a run: the request annotation is new or changed.
fn requests_run(old: Option<&RollbackDrill>, new: &RollbackDrill) -> bool {
    let asked = annotation(new, labels::RUN_REQUESTED_AT);
    asked.is_some() && asked != old.and_then(|o| annotation(o, labels::RUN_REQUESTED_AT))
}

/// Who asked for the run, as the drill must record it: the requester for a new
/// request, and otherwise whatever was recorded before (nothing a client writes).
fn requested_by(
    old: Option<&RollbackDrill>,
    new: &RollbackDrill,
    requester: &Requester,
) -> Option<String> {
    if requests_run(old, new) {
        Some(requester.username.clone())
    } else {
        old.and_then(|o| annotation(o, labels::RUN_REQUESTED_BY))
            .map(String::from)
    }
}

/// The mutating webhook: writes `accord.dev/run-requested-by` from the authenticated
/// user when a run is requested, and keeps it as recorded otherwise.
pub fn mutate(old: Option<&RollbackDrill>, new: &RollbackDrill, requester: &Requester) -> Verdict {
    let wanted = requested_by(old, new, requester);
    if annotation(new, labels::RUN_REQUESTED_BY) == wanted.as_deref() {
        return Verdict::allow();
    }
    let mut annotations: BTreeMap<String, String> =
        new.metadata.annotations.clone().unwrap_or_default();
    match wanted {
        Some(user) => annotations.insert(labels::RUN_REQUESTED_BY.into(), user),
        None => annotations.remove(labels::RUN_REQUESTED_BY),
    };
    Verdict::Allow(vec![
        json!({"op": "add", "path": "/metadata/annotations", "value": annotations}),
    ])
}

/// What a validating decision reads besides the objects.
pub struct Context<'a> {
    pub md: Option<&'a ModelDeployment>,
    pub team: &'a dyn Fn(&str) -> Option<Team>,
    pub rights: &'a Rights,
}

/// The validating webhook: CREATE and UPDATE (`new` set) and DELETE (`new` unset).
pub fn validate(
    old: Option<&RollbackDrill>,
    new: Option<&RollbackDrill>,
    requester: &Requester,
    cx: &Context,
) -> Verdict {
    let user = requester.username.as_str();
    if cx.rights.is_operator(requester) || SYSTEM_DELETERS.contains(&user) {
        return Verdict::allow();
    }
    let Some(new) = new else {
        let old = old.expect("a delete has the old object");
        return match platform_right(old, requester, cx, "delete") {
            Ok(()) => Verdict::allow(),
            Err(message) => Verdict::Deny(message),
        };
    };
    // The spec is judged when it is written: a metadata-only change (a label, a
    // finalizer, a run request) of a drill stored earlier is not refused for it.
    let spec_written = old.is_none_or(|old| old.spec != new.spec);
    let checked = immutable_model(old, new)
        .and_then(|()| {
            if spec_written {
                check_spec(new)
            } else {
                Ok(())
            }
        })
        .and_then(|()| check_requested_by(old, new, requester))
        .and_then(|()| match old {
            // Nothing a person asked for changed (Kubernetes' own bookkeeping).
            Some(old)
                if old.spec == new.spec
                    && old.metadata.labels == new.metadata.labels
                    && old.metadata.annotations == new.metadata.annotations =>
            {
                Ok(())
            }
            Some(_) if requests_run(old, new) => {
                platform_right(new, requester, cx, "request a run of")
            }
            Some(_) => platform_right(new, requester, cx, "change"),
            None => platform_right(new, requester, cx, "create"),
        });
    match checked {
        Ok(()) => Verdict::allow(),
        Err(message) => Verdict::Deny(message),
    }
}

/// The requester is a member of the platform Team of the drill's ModelDeployment (or
/// an admin).
fn platform_right(
    drill: &RollbackDrill,
    requester: &Requester,
    cx: &Context,
    action: &str,
) -> Result<(), String> {
    if cx.rights.is_admin(requester) {
        return Ok(());
    }
    let name = namespaced_name(&drill.metadata);
    let namespace = drill.metadata.namespace.as_deref().unwrap_or_default();
    let model = &drill.spec.model_deployment;
    let Some(md) = cx.md else {
        if action == "delete" {
            return Err(format!(
                "{} may not delete RollbackDrill {name}: its spec.modelDeployment, {namespace}/{model}, no longer exists, so no platform Team decides about it; ask a cluster admin{} to delete it",
                requester.username,
                cx.rights.admins_hint()
            ));
        }
        return Err(format!(
            "spec.modelDeployment: ModelDeployment {namespace}/{model} does not exist: a RollbackDrill rehearses the rollback of a ModelDeployment in its own namespace, and its platform Team decides about it"
        ));
    };
    let platform = &md.spec.owners.platform;
    if member_of(cx.team, platform, requester) {
        return Ok(());
    }
    let members = (cx.team)(platform)
        .map_or_else(|| "it does not exist".to_string(), |t| describe_members(&t));
    Err(format!(
        "{} may not {action} RollbackDrill {name}: drills of ModelDeployment {model} belong to its platform Team {platform} ({members}){}; ask one of them",
        requester.username,
        cx.rights.admins_clause()
    ))
}

fn immutable_model(old: Option<&RollbackDrill>, new: &RollbackDrill) -> Result<(), String> {
    match old {
        Some(old) if old.spec.model_deployment != new.spec.model_deployment => Err(format!(
            "spec.modelDeployment is immutable (was {}, now {}): a drill's runs are about one model; create another RollbackDrill instead",
            old.spec.model_deployment, new.spec.model_deployment
        )),
        _ => Ok(()),
    }
}

/// What the schema cannot say: the target's two forms, a cron expression and time
/// zone that parse, and durations that are not zero.
pub fn check_spec(drill: &RollbackDrill) -> Result<(), String> {
    let spec = &drill.spec;
    match &spec.target {
        DrillTarget::Invalid(value) => {
            return Err(format!(
                "spec.target must be PreviousKnownGood or {{version: \"<a version in the history>\"}} with no other key, not {value}: a drill runs only what the sealed history recorded, never a template, name or labels of its own"
            ));
        }
        DrillTarget::Version(v) if v.version.trim().is_empty() => {
            return Err(
                "spec.target.version must name a version in the ModelDeployment's history".into(),
            );
        }
        _ => {}
    }
    match (&spec.schedule, &spec.time_zone) {
        (Some(schedule), zone) => {
            Schedule::parse(schedule, zone.as_deref()).map_err(|e| e.to_string())?;
        }
        (None, Some(zone)) => {
            Schedule::parse("0 0 * * *", Some(zone)).map_err(|e| e.to_string())?;
        }
        (None, None) => {}
    }
    positive("spec.deadline", &spec.deadline)?;
    if let Some(tabletop) = &spec.tabletop {
        positive("spec.tabletop.within", &tabletop.within)?;
    }
    Ok(())
}

fn positive(field: &str, text: &str) -> Result<(), String> {
    match parse_duration(text) {
        Some(d) if !d.is_zero() => Ok(()),
        _ => Err(format!(
            "{field} must be a duration greater than zero, like 10m or 72h, not {text:?}"
        )),
    }
}

/// `accord.dev/run-requested-by` is what the mutating webhook wrote: the requester of
/// a new request, and unchanged otherwise.
fn check_requested_by(
    old: Option<&RollbackDrill>,
    new: &RollbackDrill,
    requester: &Requester,
) -> Result<(), String> {
    let wanted = requested_by(old, new, requester);
    if annotation(new, labels::RUN_REQUESTED_BY) == wanted.as_deref() {
        return Ok(());
    }
    Err(format!(
        "metadata.annotations[{}] is written by Accord from the authenticated user who requests a run ({}); do not set it",
        labels::RUN_REQUESTED_BY,
        labels::RUN_REQUESTED_AT
    ))
}

#[cfg(test)]
mod tests;
