//! Auto-approval (pure): which items of the effective checklist a matching
//! HandoffPolicy's `autoApprove` rule satisfies for the candidate, and why a rule that
//! names an item does not apply.
//!
//! A rule applies only when all of these hold, so an ordinary editor cannot steer a
//! candidate into it:
//! - the candidate is a semver patch release (`MAJOR.MINOR.PATCH`, same major and
//!   minor, higher patch) of the baseline: the newest version in the sealed history
//!   other than the candidate itself, which must have been available (known good);
//! - both name the same `spec.model.trainingData.digest`;
//! - the candidate never failed here, and Accord knows who introduced it;
//! - the item needs one person only, its owner roles do not conflict, and every
//!   matching policy that requires the item auto-approves it too.

use std::collections::BTreeMap;

use super::{candidate::Candidate, trust::Author};
use crate::{
    api::{AutoApproval, AutoApprovedItem, HistoryEntry, ModelDeployment, fingerprint::short},
    policy::{BY_MODEL_DEPLOYMENT, Effective, Requirement},
};

/// What the matching `autoApprove` rules do for the candidate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutoOutcome {
    /// Item id → the policy and rule that satisfy it.
    pub granted: BTreeMap<String, AutoApprovedItem>,
    /// Item id → why the rules that name it do not satisfy it.
    pub refused: BTreeMap<String, String>,
    /// The comparison the grants rest on, for the history record; its `items` are
    /// filled in by the gate with the granted items no person signed off.
    pub basis: Option<AutoApproval>,
}

/// A version as `MAJOR.MINOR.PATCH`, with an optional leading `v` (kept to compare).
fn semver(version: &str) -> Option<(bool, u64, u64, u64)> {
    let (v, rest) = match version.strip_prefix('v') {
        Some(rest) => (true, rest),
        None => (false, version),
    };
    let mut parts = rest.split('.');
    let mut number = || -> Option<u64> {
        let part = parts.next()?;
        let canonical = part == "0" || (!part.starts_with('0') && !part.is_empty());
        if !canonical || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let parsed = (v, number()?, number()?, number()?);
    parts.next().is_none().then_some(parsed)
}

/// Whether `candidate` is a patch release of `baseline`, or why not.
pub fn patch_release(candidate: &str, baseline: &str) -> Result<(), String> {
    let not_semver = |v: &str| format!("{v} is not a semver release (MAJOR.MINOR.PATCH)");
    let c = semver(candidate).ok_or_else(|| not_semver(candidate))?;
    let b = semver(baseline).ok_or_else(|| not_semver(baseline))?;
    if c.0 == b.0 && c.1 == b.1 && c.2 == b.2 && c.3 > b.3 {
        Ok(())
    } else {
        Err(format!(
            "{candidate} is not a patch release of the active version {baseline} (same major and minor, higher patch)"
        ))
    }
}

/// The version a patch release is compared with: the newest history entry that is not
/// the candidate itself (so the answer holds after the candidate is promoted).
fn baseline<'a>(md: &'a ModelDeployment, fingerprint: &str) -> Option<&'a HistoryEntry> {
    md.status
        .as_ref()?
        .history
        .iter()
        .rev()
        .find(|e| e.fingerprint_in(&md.spec) != fingerprint)
}

/// The record of a rule applying to this candidate, or why no rule can.
fn condition(md: &ModelDeployment, candidate: &Candidate) -> Result<AutoApproval, String> {
    if candidate.failed_at.is_some() {
        return Err(
            "this candidate failed and was rolled back here before: people must sign it off".into(),
        );
    }
    let introduced_by = match &candidate.author {
        Author::Known(user) => Some(user.clone()),
        Author::Unknown(why) => {
            return Err(format!("Accord cannot tell who introduced it: {why}"));
        }
        Author::Unchecked => None,
    };
    let Some(digest) = md
        .spec
        .model
        .training_data
        .as_ref()
        .map(|t| t.digest.clone())
    else {
        return Err("the candidate names no spec.model.trainingData.digest".into());
    };
    let Some(base) = baseline(md, &candidate.fingerprint) else {
        return Err("no version has been promoted yet: the first is signed off by people".into());
    };
    if base.available_at.is_none() {
        return Err(format!(
            "the active version {} has not been available yet",
            base.version
        ));
    }
    if base.training_data_digest.as_deref() != Some(digest.as_str()) {
        return Err(format!(
            "it was trained on other data ({}) than the active version {} ({})",
            short(&digest),
            base.version,
            base.training_data_digest
                .as_deref()
                .map_or("none recorded", short)
        ));
    }
    patch_release(&md.spec.model.version, &base.version)?;
    Ok(AutoApproval {
        items: vec![],
        baseline_version: base.version.clone(),
        baseline_fingerprint: Some(base.fingerprint_in(&md.spec)),
        training_data_digest: digest,
        introduced_by,
    })
}

/// Why `item` may not be auto-approved whatever the candidate, or `None`.
fn item_refusal(item: &Requirement, effective: &Effective) -> Option<String> {
    if item.conflict.is_some() {
        return Some("its owner roles conflict".into());
    }
    if item.min_approvals > 1 {
        return Some(format!(
            "it needs {} distinct people: the two-person rule is never automatic",
            item.min_approvals
        ));
    }
    item.required_by
        .iter()
        .filter(|by| by.as_str() != BY_MODEL_DEPLOYMENT)
        .find(|by| {
            !effective
                .auto_approve
                .iter()
                .any(|r| &r.policy == *by && r.items.contains(&item.id))
        })
        .map(|by| format!("{by} requires it without auto-approving it"))
}

/// Judges the matching rules for every item they name.
pub fn judge(md: &ModelDeployment, effective: &Effective, candidate: &Candidate) -> AutoOutcome {
    let mut out = AutoOutcome::default();
    if effective.auto_approve.is_empty() {
        return out;
    }
    let condition = condition(md, candidate);
    for item in &effective.items {
        let Some(rule) = effective
            .auto_approve
            .iter()
            .find(|r| r.items.contains(&item.id))
        else {
            continue;
        };
        let why_not = match (&condition, item_refusal(item, effective)) {
            (_, Some(why)) => why,
            (Err(why), None) => why.clone(),
            (Ok(basis), None) => {
                out.granted.insert(
                    item.id.clone(),
                    AutoApprovedItem {
                        item: item.id.clone(),
                        policy: rule.policy.clone(),
                        rule: rule.rule.clone(),
                    },
                );
                out.basis.get_or_insert_with(|| basis.clone());
                continue;
            }
        };
        out.refused.insert(
            item.id.clone(),
            format!(
                "{} rule {} does not apply: {why_not}",
                rule.policy, rule.rule
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests;
