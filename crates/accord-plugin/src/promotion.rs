//! Promotion through environments, for the views (pure): the promotion rules of the
//! HandoffPolicies that apply to a ModelDeployment, the soak it needs upstream, and how
//! far its candidate is with it (docs/environments.md). `pipeline` and `explain` show
//! these; the gate's own verdict stays the Ready condition the operator writes.

use std::time::Duration;

use accord_core::{policy::PromotionRules, upstream::go_duration};
use serde::Serialize;

use crate::api::{
    HandoffPolicy, HistoryEntry, ModelDeployment, conditions::READY, fingerprint::short,
    reasons::condition as reason,
};

/// The Ready reasons that mean the upstream holds the candidate back, with a message
/// that says what to do (the operator's verdict, from the sealed history).
pub const BLOCKING_REASONS: [&str; 5] = [
    reason::UPSTREAM_REQUIRED,
    reason::UPSTREAM_NOT_FOUND,
    reason::UPSTREAM_NOT_SHARED,
    reason::NOT_SERVED_UPSTREAM,
    reason::FAILED_UPSTREAM,
];

/// The merged promotion rules of `policies` (those the operator recorded as applying
/// to a model): the operator's own merge.
pub fn rules(policies: &[&HandoffPolicy]) -> PromotionRules {
    accord_core::policy::promotion_rules(policies.iter().copied())
}

/// `sha256:` and the first 12 hex digits, then `…`: a fingerprint for humans.
pub fn short_fingerprint(fingerprint: &str) -> String {
    format!("sha256:{}…", short(fingerprint))
}

/// Where a candidate stands with its upstream's soak.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum SoakState {
    /// It serves upstream, not yet for the soak.
    Soaking,
    /// It has served upstream for the soak (the gate may still wait for sign-offs).
    Soaked,
    /// It is the active version upstream, but not available there yet: the soak has
    /// not started.
    NotStarted,
    /// It is not (or no longer) what serves upstream.
    NotServed,
    /// The operator's Ready condition says the upstream blocks it (see `reason`).
    Blocked,
    /// It already runs here: the soak was met when it was promoted.
    Met,
    /// The upstream could not be read.
    Unknown,
}

/// A candidate's soak progress against its upstream.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SoakView {
    pub state: SoakState,
    /// The Ready condition's reason, when it is an upstream reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The soak required (Go-style duration, `0s` when none).
    pub required: String,
    /// How long it has served upstream without a break, when it serves there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served: Option<String>,
    /// How long is left, while soaking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
    /// The same in seconds, while soaking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_seconds: Option<u64>,
    /// One line for humans, e.g. `soaking: 10m of 24h, 23h50m left`.
    pub text: String,
}

impl SoakView {
    fn new(state: SoakState, required: Duration, text: String) -> Self {
        SoakView {
            state,
            reason: None,
            required: go_duration(required),
            served: None,
            left: None,
            left_seconds: None,
            text,
        }
    }
}

/// The time from `from` to `to` (zero when `to` is earlier).
fn between(from: jiff::Timestamp, to: jiff::Timestamp) -> Duration {
    to.duration_since(from).try_into().unwrap_or(Duration::ZERO)
}

/// The operator's Ready condition `(reason, message)`, when it is about the candidate
/// the spec names now.
fn current_ready(md: &ModelDeployment) -> Option<(String, String)> {
    let st = md.status.as_ref()?;
    let seen = st
        .candidate
        .as_ref()
        .and_then(|c| c.artifact_fingerprint.as_deref());
    if seen.is_some_and(|seen| seen != md.spec.artifact_fingerprint()) {
        return None; // written for an earlier candidate
    }
    let ready = st.conditions.iter().find(|c| c.type_ == READY)?;
    Some((ready.reason.clone(), ready.message.clone()))
}

/// The candidate of `md` against its upstream's history at `now`: whether it serves
/// there, since when, and how much of the `required` soak is left. `upstream` is the
/// ModelDeployment `spec.promotion.from` names, when it could be read. `None` when
/// `md` has no upstream and no upstream reason holds it back.
pub fn soak_progress(
    md: &ModelDeployment,
    upstream: Option<&ModelDeployment>,
    required: Duration,
    now: jiff::Timestamp,
) -> Option<SoakView> {
    let ready = current_ready(md);
    if let Some((reason, message)) = ready
        .clone()
        .filter(|(reason, _)| BLOCKING_REASONS.contains(&reason.as_str()))
    {
        return Some(SoakView {
            reason: Some(reason),
            ..SoakView::new(SoakState::Blocked, required, message)
        });
    }
    let from = md.spec.upstream()?;
    let artifact = md.spec.artifact_fingerprint();
    let own = md.status.as_ref().and_then(|s| s.history.last());
    if let Some(entry) = own.filter(|e| e.artifact_fingerprint.as_deref() == Some(&artifact)) {
        return Some(met(entry, required));
    }
    let Some(up) = upstream else {
        // The operator can read it: its word on the soak is the next best thing.
        if let Some((reason, message)) = ready.filter(|(r, _)| r == reason::SOAKING) {
            return Some(SoakView {
                reason: Some(reason),
                ..SoakView::new(SoakState::Soaking, required, message)
            });
        }
        let text = format!("unknown: the upstream {from} cannot be read");
        return Some(SoakView::new(SoakState::Unknown, required, text));
    };
    let history = up
        .status
        .as_ref()
        .map(|s| s.history.as_slice())
        .unwrap_or_default();
    let Some(index) = history
        .iter()
        .rposition(|e| e.artifact_fingerprint.as_deref() == Some(&artifact))
    else {
        let there = history.last().map_or_else(
            || "nothing has been promoted there yet".to_string(),
            |e| format!("{} serves there", e.version),
        );
        let text = format!("not served upstream: {there}");
        return Some(SoakView::new(SoakState::NotServed, required, text));
    };
    let entry = &history[index];
    if let Some(next) = history.get(index + 1) {
        let text = format!(
            "not served upstream: {} was replaced in {from} at {} ({} serves there)",
            entry.version,
            next.at.0,
            history.last().map_or("-", |e| e.version.as_str())
        );
        return Some(SoakView::new(SoakState::NotServed, required, text));
    }
    let Some(since) = &entry.available_since else {
        let text = format!(
            "not started: {} is not available in {from} yet; the soak of {} starts once it is",
            entry.version,
            go_duration(required)
        );
        return Some(SoakView::new(SoakState::NotStarted, required, text));
    };
    Some(serving_upstream(since.0, required, now))
}

/// The candidate has served upstream since `since`: soaking or soaked.
fn serving_upstream(since: jiff::Timestamp, required: Duration, now: jiff::Timestamp) -> SoakView {
    let served = Duration::from_secs(between(since, now).as_secs());
    if served >= required {
        let text = if required.is_zero() {
            format!(
                "soaked: no soak required; served {} upstream",
                go_duration(served)
            )
        } else {
            format!(
                "soaked: served {} upstream, {} required",
                go_duration(served),
                go_duration(required)
            )
        };
        return SoakView {
            served: Some(go_duration(served)),
            ..SoakView::new(SoakState::Soaked, required, text)
        };
    }
    let left = required - served;
    let text = format!(
        "soaking: {} of {}, {} left",
        go_duration(served),
        go_duration(required),
        go_duration(left)
    );
    SoakView {
        served: Some(go_duration(served)),
        left: Some(go_duration(left)),
        left_seconds: Some(left.as_secs()),
        ..SoakView::new(SoakState::Soaking, required, text)
    }
}

/// The candidate runs here already: what its history entry recorded of the upstream.
fn met(entry: &HistoryEntry, required: Duration) -> SoakView {
    let text = match &entry.upstream {
        Some(evidence) => format!(
            "met: promoted here at {} after serving in {} since {} (soak {})",
            entry.at.0, evidence.model_deployment, evidence.available_since.0, evidence.soak
        ),
        None => format!("met: runs here since {}", entry.at.0),
    };
    let served = entry
        .upstream
        .as_ref()
        .map(|e| go_duration(between(e.available_since.0, entry.at.0)));
    SoakView {
        served,
        ..SoakView::new(SoakState::Met, required, text)
    }
}

#[cfg(test)]
mod tests {
    use accord_core::{
        testing::{md, time},
        upstream::required_soak,
    };

    use super::*;
    use crate::{
        api::{ModelDeploymentStatus, handoff_policy::PromotionRules as PolicyPromotion},
        fixtures::{history_entry as entry, in_environment},
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    /// `fraud-scorer` 2.4.0 in `ns`, citing `payments-staging/fraud-scorer` with `soak`.
    fn downstream(ns: &str, soak: Option<&str>) -> ModelDeployment {
        let mut m = in_environment(ns, "2.4.0", Some("payments-staging"), &[]);
        m.spec.promotion.as_mut().unwrap().soak = soak.map(String::from);
        m
    }

    /// The upstream in `payments-staging` with `history`.
    fn upstream(history: Vec<HistoryEntry>) -> ModelDeployment {
        let mut up = in_environment("payments-staging", "2.4.0", None, &["payments-prod"]);
        up.status = Some(ModelDeploymentStatus {
            active_version: history.last().map(|e| e.version.clone()),
            history,
            ..Default::default()
        });
        up
    }

    const HOUR: u64 = 3600;

    #[test]
    fn soaking_counts_from_the_upstream_entry_available_since() {
        let prod = downstream("payments-prod", Some("24h"));
        let up = upstream(vec![
            entry("2.3.1", 0, Some(10)),
            entry("2.4.0", 100, Some(200)),
        ]);
        let now = time(200 + 600).0;
        let soak = soak_progress(&prod, Some(&up), Duration::from_secs(24 * HOUR), now).unwrap();
        assert_eq!(soak.state, SoakState::Soaking);
        assert_eq!(soak.text, "soaking: 10m of 24h, 23h50m left");
        assert_eq!(soak.left_seconds, Some(24 * HOUR - 600));
        // Once the soak is over.
        let later = time(200 + 25 * 3600).0;
        let soak = soak_progress(&prod, Some(&up), Duration::from_secs(24 * HOUR), later).unwrap();
        assert_eq!(soak.state, SoakState::Soaked);
        assert_eq!(soak.text, "soaked: served 25h upstream, 24h required");
    }

    #[test]
    fn an_artifact_not_serving_upstream_says_what_serves_there() {
        let prod = downstream("payments-prod", Some("1h"));
        let required = Duration::from_secs(HOUR);
        let now = time(1000).0;
        let up = upstream(vec![entry("2.3.1", 0, Some(10))]);
        let soak = soak_progress(&prod, Some(&up), required, now).unwrap();
        assert_eq!(soak.state, SoakState::NotServed);
        assert_eq!(soak.text, "not served upstream: 2.3.1 serves there");
        // Replaced upstream since.
        let up = upstream(vec![
            entry("2.4.0", 0, Some(10)),
            entry("2.3.1", 50, Some(60)),
        ]);
        let soak = soak_progress(&prod, Some(&up), required, now).unwrap();
        assert_eq!(soak.state, SoakState::NotServed);
        assert!(
            soak.text
                .contains("2.4.0 was replaced in payments-staging/fraud-scorer")
        );
        // Active but not available there yet.
        let up = upstream(vec![entry("2.4.0", 0, None)]);
        let soak = soak_progress(&prod, Some(&up), required, now).unwrap();
        assert_eq!(soak.state, SoakState::NotStarted);
        // No upstream readable.
        let soak = soak_progress(&prod, None, required, now).unwrap();
        assert_eq!(soak.state, SoakState::Unknown);
        // No upstream at all: nothing to show.
        assert_eq!(soak_progress(&md("2.4.0"), None, required, now), None);
    }

    #[test]
    fn the_operators_upstream_verdict_wins_and_a_promoted_candidate_has_met_it() {
        let mut prod = downstream("payments-prod", Some("1h"));
        prod.status = Some(ModelDeploymentStatus {
            conditions: vec![Condition {
                type_: READY.into(),
                status: "False".into(),
                reason: reason::FAILED_UPSTREAM.into(),
                message: "version 2.4.0 failed in the upstream".into(),
                observed_generation: None,
                last_transition_time: time(0),
            }],
            ..Default::default()
        });
        let up = upstream(vec![entry("2.4.0", 0, Some(10))]);
        let soak = soak_progress(&prod, Some(&up), Duration::ZERO, time(99).0).unwrap();
        assert_eq!(soak.state, SoakState::Blocked);
        assert_eq!(soak.reason.as_deref(), Some("FailedUpstream"));
        assert_eq!(soak.text, "version 2.4.0 failed in the upstream");
        // Soaking is the operator's word only when the upstream cannot be read here.
        let ready = &mut prod.status.as_mut().unwrap().conditions[0];
        ready.reason = reason::SOAKING.into();
        ready.message = "version 2.4.0 has served in payments-staging/fraud-scorer for 1m".into();
        let soak = soak_progress(&prod, None, Duration::ZERO, time(99).0).unwrap();
        assert_eq!(soak.state, SoakState::Soaking);
        assert_eq!(soak.reason.as_deref(), Some("Soaking"));
        assert!(soak.text.ends_with("for 1m"), "{}", soak.text);
        let soak = soak_progress(&prod, Some(&up), Duration::ZERO, time(99).0).unwrap();
        assert_eq!(soak.state, SoakState::Soaked);
        let mut promoted = entry("2.4.0", 5000, Some(5010));
        promoted.upstream = Some(crate::api::UpstreamEvidence {
            model_deployment: "payments-staging/fraud-scorer".into(),
            uid: None,
            version: "2.4.0".into(),
            fingerprint: String::new(),
            artifact_fingerprint: String::new(),
            available_since: time(10),
            soak: "1h".into(),
            carried: vec![],
        });
        prod.status = Some(ModelDeploymentStatus {
            history: vec![promoted],
            ..Default::default()
        });
        let soak = soak_progress(&prod, Some(&up), Duration::from_secs(HOUR), time(9999).0);
        let soak = soak.unwrap();
        assert_eq!(soak.state, SoakState::Met);
        assert!(
            soak.text.starts_with("met: promoted here at"),
            "{}",
            soak.text
        );
        assert_eq!(soak.served.as_deref(), Some("1h23m10s"));
    }

    #[test]
    fn the_longest_soak_of_the_applying_policies_wins() {
        let prod = downstream("payments-prod", Some("1h"));
        let policy = |name: &str, soak: &str| {
            let mut p = HandoffPolicy::new(name, Default::default());
            p.spec.promotion = Some(PolicyPromotion {
                require_upstream: true,
                min_soak: Some(soak.into()),
                never_carry: vec!["pii".into()],
            });
            // Selects something else: the operator recorded it as applying anyway.
            p.spec.namespace_selector = Some(Default::default());
            p
        };
        let (a, b) = (policy("a", "24h"), policy("b", "2h"));
        let rules = rules(&[&a, &b]);
        assert_eq!(required_soak(&prod, &rules), Duration::from_secs(24 * HOUR));
        assert_eq!(rules.require_upstream.as_deref(), Some("HandoffPolicy/a"));
        assert_eq!(rules.never_carry["pii"], "HandoffPolicy/a");
        assert_eq!(
            required_soak(&prod, &PromotionRules::default()),
            Duration::from_secs(HOUR)
        );
    }
}
