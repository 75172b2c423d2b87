//! Promotion through environments (pure): whether the candidate's artifact earned its
//! place upstream — the upstream exists and shares itself with this namespace, the
//! artifact served there long enough without a break and never failed there — and
//! which upstream sign-offs are on offer to carry (docs/environments.md).
//!
//! Everything is judged from the upstream's sealed history (entries whose seal does not
//! verify are ignored), its operator-written status, and Attestations that still exist
//! and verify now. Whether an offered sign-off counts here (the attester's membership
//! of this ModelDeployment's Team, separation of duties, the policies' rules) is the
//! gate's call, in [`crate::gate`].

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use crate::{
    api::{
        Attestation, CarriedFrom, HistoryEntry, ModelDeployment, UpstreamEvidence,
        fingerprint::short,
        labels::MODEL_DEPLOYMENT_UID,
        namespaced_name,
        reasons::{condition as reason, counted},
    },
    candidate::Offered,
    gate::{Rejection, UpstreamBlock as Block, is_member, recorded_groups},
    history,
    observe::UpstreamObserved,
    policy::PromotionRules,
    signing,
    trust::Verifier,
};

/// The upstream's verdict on the candidate.
#[derive(Debug, Clone, Default)]
pub struct UpstreamOutcome {
    /// Set when the candidate may not be promoted because of the upstream.
    pub blocked: Option<Block>,
    /// When the outcome changes by time alone (the soak is met).
    pub requeue_after: Option<Duration>,
    /// What the upstream showed, for the promotion's history entry (set when the soak
    /// is met; `carried` is filled by the gate).
    pub evidence: Option<UpstreamEvidence>,
    /// Sign-offs offered to carry, by item.
    pub offered: BTreeMap<String, Vec<Offered>>,
    /// Items in `carry` that do not carry, and why (a policy's `neverCarry`, or why
    /// an upstream sign-off does not verify).
    pub not_carried: BTreeMap<String, String>,
}

fn blocked(reason: &'static str, message: String) -> Block {
    Block { reason, message }
}

fn outcome_of(block: Block) -> UpstreamOutcome {
    UpstreamOutcome {
        blocked: Some(block),
        ..Default::default()
    }
}

fn block(reason: &'static str, message: String) -> UpstreamOutcome {
    outcome_of(blocked(reason, message))
}

/// The soak required of `md`: the longer of its own and its policies' `minSoak`.
pub fn required_soak(md: &ModelDeployment, rules: &PromotionRules) -> Duration {
    let own = md
        .spec
        .promotion
        .as_ref()
        .and_then(|p| p.soak.as_deref())
        .and_then(crate::timing::parse_duration)
        .unwrap_or_default();
    rules.min_soak.as_ref().map_or(own, |(d, _)| own.max(*d))
}

/// A duration as Go writes it, to the second (`24h0m0s` → `24h`, `90s` → `1m30s`).
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn since(from: &Time, to: &Time) -> Duration {
    to.0.duration_since(from.0)
        .try_into()
        .unwrap_or(Duration::ZERO)
}

/// Judges the upstream of `md` for a candidate with `artifact` (its artifact
/// fingerprint) at `now`.
pub fn judge(
    md: &ModelDeployment,
    artifact: &str,
    rules: &PromotionRules,
    upstream: Option<&UpstreamObserved>,
    verifier: &dyn Verifier,
    now: &Time,
) -> UpstreamOutcome {
    let (upstream, up) = match cited(md, rules, upstream) {
        Ok(Some(cited)) => cited,
        Ok(None) => return UpstreamOutcome::default(),
        Err(why) => return outcome_of(why),
    };
    let from = namespaced_name(&up.metadata);
    let history = history::trusted(up, verifier).history;
    let soak = required_soak(md, rules);
    let served = history
        .iter()
        .rposition(|e| e.artifact_in(&up.spec) == artifact);
    if let Some(block) = failed_upstream(up, artifact, served.map(|i| &history[i])) {
        return UpstreamOutcome {
            blocked: Some(block),
            ..Default::default()
        };
    }
    let Some(index) = served else {
        let there = history
            .last()
            .map(|e| format!("; version {} serves there", e.version))
            .unwrap_or_else(|| "; nothing has been promoted there yet".into());
        return block(
            reason::NOT_SERVED_UPSTREAM,
            format!(
                "artifact {} has never served in the upstream {from}{there}; promote it there first",
                short(artifact)
            ),
        );
    };
    let entry = &history[index];
    let replaced_at = history.get(index + 1).map(|next| next.at.clone());
    let (start, soaking) = match stretch(entry, replaced_at.as_ref(), &from, soak, now) {
        Ok(stretch) => stretch,
        Err(why) => return outcome_of(why),
    };
    let mut outcome = UpstreamOutcome::default();
    if let Some((block, left)) = soaking {
        outcome.blocked = Some(block);
        outcome.requeue_after = Some(left);
    }
    outcome.evidence = Some(UpstreamEvidence {
        model_deployment: from,
        uid: up.metadata.uid.clone(),
        version: entry.version.clone(),
        fingerprint: entry.fingerprint_in(&up.spec),
        artifact_fingerprint: artifact.to_string(),
        available_since: start,
        soak: go_duration(soak),
        carried: vec![],
    });
    offer(md, up, upstream, entry, rules, verifier, now, &mut outcome);
    outcome
}

/// The upstream `md` cites, when it names one that exists and shares itself with
/// `md`'s namespace; `Ok(None)` when it names none and no policy requires one.
fn cited<'a>(
    md: &ModelDeployment,
    rules: &PromotionRules,
    upstream: Option<&'a UpstreamObserved>,
) -> Result<Option<(&'a UpstreamObserved, &'a ModelDeployment)>, Block> {
    let Some(from) = md.spec.upstream() else {
        return match &rules.require_upstream {
            Some(policy) => Err(blocked(
                reason::UPSTREAM_REQUIRED,
                format!(
                    "{policy} requires a model to come through an upstream environment: set spec.promotion.from (a change for its platform team)"
                ),
            )),
            None => Ok(None),
        };
    };
    let namespace = md.namespace().unwrap_or_default();
    let found = upstream.and_then(|u| {
        let up = u.md.as_deref()?;
        up.metadata.deletion_timestamp.is_none().then_some((u, up))
    });
    let Some((upstream, up)) = found else {
        return Err(blocked(
            reason::UPSTREAM_NOT_FOUND,
            format!(
                "the upstream ModelDeployment {from} (spec.promotion.from) does not exist; create it, or correct spec.promotion.from"
            ),
        ));
    };
    if up.metadata.namespace == md.metadata.namespace && up.metadata.name == md.metadata.name {
        return Err(blocked(
            reason::UPSTREAM_NOT_FOUND,
            format!("{from} cannot be its own upstream; name the environment it comes from"),
        ));
    }
    if !up.spec.downstream().contains(&namespace) {
        return Err(blocked(
            reason::UPSTREAM_NOT_SHARED,
            format!(
                "the upstream {from} does not list namespace {namespace} in spec.promotion.downstream; its platform team {} decides that",
                up.spec.owners.platform
            ),
        ));
    }
    Ok(Some((upstream, up)))
}

/// The stretch an entry served without a break: its start, and — while it still
/// serves and the soak is not met — the `Soaking` block with the time left. A
/// stretch that ended (the entry was replaced) short of the soak never grows.
fn stretch(
    entry: &HistoryEntry,
    replaced_at: Option<&Time>,
    from: &str,
    soak: Duration,
    now: &Time,
) -> Result<(Time, Option<(Block, Duration)>), Block> {
    let Some(start) = entry.available_since.clone() else {
        return Err(match replaced_at {
            Some(at) => blocked(
                reason::NOT_SERVED_UPSTREAM,
                format!(
                    "version {} was replaced in {from} at {} before it was available there; promote it there again",
                    entry.version, at.0
                ),
            ),
            None => blocked(
                reason::SOAKING,
                format!(
                    "version {} is not available in {from} right now (rolling out or pods not Ready); the soak of {} starts once it is",
                    entry.version,
                    go_duration(soak)
                ),
            ),
        });
    };
    let served_for = since(&start, replaced_at.unwrap_or(now));
    if served_for >= soak {
        return Ok((start, None));
    }
    let message = format!(
        "version {} has served in {from} for {} of the {} soak",
        entry.version,
        go_duration(served_for),
        go_duration(soak)
    );
    if let Some(at) = replaced_at {
        return Err(blocked(
            reason::NOT_SERVED_UPSTREAM,
            format!(
                "{message}; it was replaced there at {} before the soak was met: promote it there again",
                at.0
            ),
        ));
    }
    let left = soak - served_for;
    let soaking = Block {
        reason: reason::SOAKING,
        message: format!("{message}: {} left", go_duration(left)),
    };
    Ok((start, Some((soaking, left))))
}

/// `FailedUpstream` when the artifact failed upstream after it last started serving
/// there (or at all, when it never did).
fn failed_upstream(
    up: &ModelDeployment,
    artifact: &str,
    served: Option<&HistoryEntry>,
) -> Option<Block> {
    let status = up.status.as_ref()?;
    let failure = status.failed_candidates.iter().rev().find(|f| {
        f.artifact_fingerprint.as_deref() == Some(artifact)
            && served.is_none_or(|entry| f.failed_at.0 >= entry.at.0)
    })?;
    Some(Block {
        reason: reason::FAILED_UPSTREAM,
        message: format!(
            "version {} (artifact {}) failed in the upstream {} at {} and was rolled back there; fix it there, or name another artifact",
            failure.version,
            short(artifact),
            namespaced_name(&up.metadata),
            failure.failed_at.0
        ),
    })
}

/// The upstream sign-offs offered to carry for the items in `carry`: those the sealed
/// entry records as approvals of its promotion, whose Attestation still exists,
/// verifies, names that candidate, and whose attester is still a member of the
/// upstream's owning Team.
#[allow(clippy::too_many_arguments)]
fn offer(
    md: &ModelDeployment,
    up: &ModelDeployment,
    upstream: &UpstreamObserved,
    entry: &HistoryEntry,
    rules: &PromotionRules,
    verifier: &dyn Verifier,
    now: &Time,
    outcome: &mut UpstreamOutcome,
) {
    let fingerprint = entry.fingerprint_in(&up.spec);
    for item in md.spec.carried_items() {
        if let Some(policy) = rules.never_carry.get(item) {
            outcome.not_carried.insert(
                item.clone(),
                format!("{policy} never carries item {item}: sign it off in this environment"),
            );
            continue;
        }
        let approvers: Vec<&str> = entry
            .approvals
            .iter()
            .filter(|a| a.item == *item)
            .map(|a| a.attested_by.as_str())
            .collect();
        let mut why_not = Vec::new();
        for person in approvers {
            let found = upstream.attestations.iter().find(|a| {
                a.spec.item == *item
                    && a.attester() == Some(person)
                    && a.spec.candidate.as_deref() == Some(fingerprint.as_str())
            });
            let Some(attestation) = found else {
                why_not.push(missing_sign_off(up, entry, item, person));
                continue;
            };
            match verify_upstream(up, upstream, attestation, item, person, verifier, now) {
                Ok(groups) => outcome
                    .offered
                    .entry(item.clone())
                    .or_default()
                    .push(Offered {
                        item: item.clone(),
                        attested_by: person.to_string(),
                        groups,
                        from: CarriedFrom {
                            model_deployment: namespaced_name(&up.metadata),
                            attestation: attestation.name_any(),
                            uid: attestation.metadata.uid.clone(),
                        },
                        attestation: attestation.clone(),
                    }),
                Err(rejection) => why_not.push(rejection.message),
            }
        }
        if !outcome.offered.contains_key(item) {
            let why = if why_not.is_empty() {
                format!(
                    "no sign-off of item {item} counted for version {} in {}",
                    entry.version,
                    namespaced_name(&up.metadata)
                )
            } else {
                why_not.join("; ")
            };
            outcome.not_carried.insert(item.clone(), why);
        }
    }
}

/// Why an approver the upstream entry lists has no Attestation there: it was withdrawn,
/// or it was itself carried into the upstream (carry is one hop).
fn missing_sign_off(
    up: &ModelDeployment,
    entry: &HistoryEntry,
    item: &str,
    person: &str,
) -> String {
    let here = namespaced_name(&up.metadata);
    let origin = entry.upstream.as_ref().filter(|u| {
        u.carried
            .iter()
            .any(|c| c.item == item && c.attested_by == person)
    });
    match origin {
        Some(u) => format!(
            "{person}'s sign-off was itself carried into {here} from {}: carry is one hop, so sign {item} off in {here}",
            u.model_deployment
        ),
        None => format!("{person}'s sign-off upstream is gone (withdrawn)"),
    }
}

/// Whether an upstream Attestation still stands there: not withdrawn, sealed by the
/// webhook (or signed by a key of its Team), admitted for this very upstream object,
/// and given by someone who is still a member of the upstream Team owning the item.
/// Returns the groups recorded for the attester.
fn verify_upstream(
    up: &ModelDeployment,
    upstream: &UpstreamObserved,
    attestation: &Attestation,
    item: &str,
    person: &str,
    verifier: &dyn Verifier,
    now: &Time,
) -> Result<Vec<String>, Rejection> {
    let refuse = |message: String| Rejection {
        reason: counted::NOT_CARRIED,
        message,
    };
    let name = attestation.name_any();
    if attestation.is_withdrawn() {
        return Err(refuse(format!(
            "upstream attestation {name} is being withdrawn"
        )));
    }
    let admitted_for = attestation
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MODEL_DEPLOYMENT_UID));
    if admitted_for.is_some_and(|uid| Some(uid) != up.metadata.uid.as_ref()) {
        return Err(refuse(format!(
            "upstream attestation {name} was admitted for an earlier ModelDeployment of that name"
        )));
    }
    let team_name = up.item_team(item).unwrap_or_default();
    let team = upstream.teams.get(&team_name).cloned().flatten();
    let Some(team) = team else {
        return Err(refuse(format!(
            "the upstream team {team_name} does not exist"
        )));
    };
    if attestation.is_signed() {
        let namespace = attestation.namespace().unwrap_or_default();
        signing::verify(&namespace, &attestation.spec, &team, now.0).map_err(|e| {
            refuse(format!(
                "upstream attestation {name}'s signature does not verify: {e}"
            ))
        })?;
    } else if let Some(why) = verifier.reject(attestation) {
        return Err(refuse(format!("upstream attestation {name}: {why}")));
    }
    let groups = recorded_groups(attestation);
    let vouched = groups.is_empty()
        && verifier.trusts_recorded_team()
        && attestation.spec.team.as_deref() == Some(team_name.as_str());
    if !attestation.is_signed() && !vouched && !is_member(&team, person, &groups) {
        return Err(refuse(format!(
            "{person} is no longer a member of the upstream team {team_name}"
        )));
    }
    Ok(groups)
}

#[cfg(test)]
mod tests;
