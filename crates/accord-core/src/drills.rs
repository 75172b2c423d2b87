//! Rollback drills and the gate: whether a policy's `drills.maxAge` is met by a
//! RollbackDrill of the model that passed and was acknowledged recently enough.
//!
//! A run counts ([`good_run`]) when it passed and a member of every role of its
//! drill's `spec.tabletop.acknowledge` acknowledged its report; a drill without a
//! tabletop never counts, since nobody reviewed what it showed. When the policies
//! that select a model ask for drills ([`crate::policy::DrillRules`]), a candidate
//! waits with `DrillOverdue` ([`block`]) unless such a run finished within the
//! shortest `maxAge`; the same run satisfies the checklist items the policies'
//! `drills.satisfies` name ([`satisfies`]), until it is older than `maxAge`
//! ([`expires_in`], when the decision looks again).

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use crate::{
    api::{DrillRun, ModelDeployment, RollbackDrill, RunResult, reasons::condition as reason},
    gate::UpstreamBlock,
    policy::{DrillRules, Effective},
    timing::elapsed,
};

/// A run that counts, with its drill.
#[derive(Debug, Clone, Copy)]
pub struct GoodRun<'a> {
    pub drill: &'a RollbackDrill,
    pub run: &'a DrillRun,
    /// When it finished.
    pub finished_at: &'a Time,
}

impl GoodRun<'_> {
    /// `RollbackDrill/<name> run <id>`, as `status.checklist[].satisfiedByDrill` names it.
    pub fn reference(&self) -> String {
        format!(
            "RollbackDrill/{} run {}",
            self.drill.name_any(),
            self.run.id
        )
    }

    /// How long it has counted at `now` (never negative).
    fn age(&self, now: &Time) -> Duration {
        elapsed(self.finished_at, now)
    }
}

/// Whether `run` of `drill` counts: it passed, it finished, and a member of every role
/// of the drill's `spec.tabletop.acknowledge` acknowledged it. A drill without a
/// tabletop (or with an empty one) never counts: nobody reviewed what it showed.
pub fn good_run(drill: &RollbackDrill, run: &DrillRun) -> bool {
    let Some(tabletop) = drill
        .spec
        .tabletop
        .as_ref()
        .filter(|t| !t.acknowledge.is_empty())
    else {
        return false;
    };
    run.result == RunResult::Passed
        && run.finished_at.is_some()
        && tabletop
            .acknowledge
            .iter()
            .all(|role| run.acknowledged_by.iter().any(|a| a.role == *role))
}

/// Whether `drill` rehearses `md` (the caller's list may hold others).
fn is_of(md: &ModelDeployment, drill: &RollbackDrill) -> bool {
    drill.is_for(md.metadata.namespace.as_deref(), &md.name_any())
}

fn runs(drill: &RollbackDrill) -> &[DrillRun] {
    drill.status.as_ref().map_or(&[], |s| s.runs.as_slice())
}

/// The newest good run of `md`'s drills, whatever its age (drills of other models are
/// ignored); between equals, the drill and run named last.
pub fn last_good<'a>(md: &ModelDeployment, drills: &[&'a RollbackDrill]) -> Option<GoodRun<'a>> {
    drills
        .iter()
        .copied()
        .filter(|drill| is_of(md, drill))
        .flat_map(|drill| {
            runs(drill).iter().filter_map(move |run| {
                let finished_at = run.finished_at.as_ref()?;
                good_run(drill, run).then_some(GoodRun {
                    drill,
                    run,
                    finished_at,
                })
            })
        })
        .max_by(|a, b| {
            let key = |g: &GoodRun<'_>| (g.finished_at.0, g.drill.name_any(), g.run.id.clone());
            key(a).cmp(&key(b))
        })
}

/// The newest good run when the policies ask for drills and it finished less than
/// their `maxAge` before `now`.
pub fn fresh<'a>(
    md: &ModelDeployment,
    drills: &[&'a RollbackDrill],
    effective: &Effective,
    now: &Time,
) -> Option<GoodRun<'a>> {
    let rules = effective.drills.as_ref()?;
    last_good(md, drills).filter(|good| good.age(now) < rules.max_age)
}

/// How long the fresh good run keeps counting (then the candidate is blocked again
/// and the items it satisfied are owed): when the decision should look again.
pub fn expires_in(
    md: &ModelDeployment,
    drills: &[&RollbackDrill],
    effective: &Effective,
    now: &Time,
) -> Option<Duration> {
    let rules = effective.drills.as_ref()?;
    let good = fresh(md, drills, effective, now)?;
    Some(rules.max_age.saturating_sub(good.age(now)))
}

/// What holds a candidate back when the policies ask for drills: no drill of the model
/// passed, with its tabletop acknowledged, within their shortest `maxAge`
/// (`DrillOverdue`). The message names the policy, the `maxAge`, the last good run
/// (or "never") and what to do.
pub fn block(
    md: &ModelDeployment,
    drills: &[&RollbackDrill],
    effective: &Effective,
    now: &Time,
) -> Option<UpstreamBlock> {
    let rules = effective.drills.as_ref()?;
    if fresh(md, drills, effective, now).is_some() {
        return None;
    }
    let mine: Vec<&RollbackDrill> = drills.iter().copied().filter(|d| is_of(md, d)).collect();
    let mut parts = vec![required(md, rules), last_good_text(md, &mine)];
    parts.extend(not_counting(&mine, rules, now));
    parts.push(what_to_do(md, &mine));
    Some(UpstreamBlock {
        reason: reason::DRILL_OVERDUE,
        message: parts.join("; "),
    })
}

/// "HandoffPolicy/b requires a rollback drill of fraud-scorer that passed, with its
/// tabletop acknowledged, within 168h (HandoffPolicy/a also asks for drills)".
fn required(md: &ModelDeployment, rules: &DrillRules) -> String {
    let others: Vec<&str> = rules
        .required_by
        .iter()
        .filter(|p| **p != rules.set_by)
        .map(String::as_str)
        .collect();
    let also = match others.as_slice() {
        [] => String::new(),
        [one] => format!(" ({one} also asks for drills)"),
        many => format!(" ({} also ask for drills)", many.join(", ")),
    };
    format!(
        "{} requires a rollback drill of {} that passed, with its tabletop acknowledged, within {}{also}",
        rules.set_by,
        md.name_any(),
        rules.max_age_text
    )
}

/// "last good run: never", or its date and name.
fn last_good_text(md: &ModelDeployment, drills: &[&RollbackDrill]) -> String {
    match last_good(md, drills) {
        Some(good) => format!(
            "last good run: {} ({})",
            good.finished_at.0,
            good.reference()
        ),
        None => "last good run: never".into(),
    }
}

/// Why recent runs do not count: drills without a tabletop, and the newest passed run
/// within `maxAge` that waits for acknowledgements.
fn not_counting(drills: &[&RollbackDrill], rules: &DrillRules, now: &Time) -> Vec<String> {
    let mut out: Vec<String> = drills
        .iter()
        .filter(|d| {
            d.spec
                .tabletop
                .as_ref()
                .is_none_or(|t| t.acknowledge.is_empty())
        })
        .map(|d| {
            format!(
                "RollbackDrill/{} has no spec.tabletop, so its runs never count",
                d.name_any()
            )
        })
        .collect();
    let waiting = drills
        .iter()
        .filter_map(|d| Some((*d, d.spec.tabletop.as_ref()?)))
        .flat_map(|(drill, tabletop)| runs(drill).iter().map(move |run| (drill, tabletop, run)))
        .filter(|(_, _, run)| run.result == RunResult::Passed)
        .filter_map(|(drill, tabletop, run)| {
            let finished = run.finished_at.as_ref()?;
            (elapsed(finished, now) < rules.max_age).then_some((drill, tabletop, run, finished))
        })
        .max_by_key(|(_, _, _, finished)| finished.0);
    if let Some((drill, tabletop, run, _)) = waiting {
        let missing: Vec<&str> = tabletop
            .acknowledge
            .iter()
            .filter(|role| !run.acknowledged_by.iter().any(|a| a.role == **role))
            .map(|role| role.as_str())
            .collect();
        out.push(format!(
            "RollbackDrill/{} run {} passed but waits for the acknowledgement of the {} role{} (an Attestation with spec.drill: {}, item {})",
            drill.name_any(),
            run.id,
            missing.join(" and "),
            if missing.len() > 1 { "s" } else { "" },
            crate::api::run_ref(&drill.name_any(), &run.id),
            crate::api::rollback_drill::DRILL_REVIEW,
        ));
    }
    out
}

/// The command that fixes it: run a drill of the model that has a tabletop, or make one.
fn what_to_do(md: &ModelDeployment, drills: &[&RollbackDrill]) -> String {
    let namespace = md.namespace().unwrap_or_default();
    let mut runnable: Vec<String> = drills
        .iter()
        .filter(|d| {
            d.spec
                .tabletop
                .as_ref()
                .is_some_and(|t| !t.acknowledge.is_empty())
        })
        .map(|d| d.name_any())
        .collect();
    runnable.sort();
    match runnable.first() {
        Some(name) => format!(
            "run a drill now (kubectl accord drill run {name} -n {namespace}) and have its tabletop acknowledge the report"
        ),
        None => format!(
            "create a RollbackDrill with spec.modelDeployment: {} and a spec.tabletop, then run it (kubectl accord drill run NAME -n {namespace})",
            md.name_any()
        ),
    }
}

/// The checklist items a fresh good run satisfies: item id → `RollbackDrill/<name>
/// run <id>`, for each item the policies' `drills.satisfies` name that the effective
/// checklist holds. An item two owners conflict on, or that needs several distinct
/// people, is left to people: a drill never stands in for the two-person rule.
pub fn satisfies(
    md: &ModelDeployment,
    drills: &[&RollbackDrill],
    effective: &Effective,
    now: &Time,
) -> BTreeMap<String, String> {
    let (Some(rules), Some(good)) = (&effective.drills, fresh(md, drills, effective, now)) else {
        return BTreeMap::new();
    };
    rules
        .satisfies
        .keys()
        .filter(|id| {
            effective
                .item(id)
                .is_some_and(|item| item.conflict.is_none() && item.min_approvals <= 1)
        })
        .map(|id| (id.clone(), good.reference()))
        .collect()
}

#[cfg(test)]
mod tests;
