//! `kubectl accord incident show|ack|open`: one Incident — what happened, who answers
//! for it, its timeline and what resolving it needs; acknowledging it (the
//! `accord.dev/acknowledged-by` annotation, which Accord's webhook sets to you); and
//! opening one for the version a ModelDeployment serves. The views are pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use serde::Serialize;
use serde_json::json;

use crate::{
    api::{
        GuardAction, Incident, IncidentSpec, IncidentStatus, ModelDeployment, TimelineEntry, labels,
    },
    incidents::{Resolving, phase, resolving},
    scope::{Failure, Scope},
    text::{dash, indent, table},
};

/// `incident show`: the Incident and what resolving it needs.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Show {
    pub namespace: String,
    pub name: String,
    pub phase: String,
    pub created_at: Option<String>,
    pub spec: IncidentSpec,
    pub status: IncidentStatus,
    /// What resolving it needs; absent once it is resolved.
    pub resolving: Option<Resolving>,
}

/// `incident show <name>`.
pub async fn show(scope: &Scope, name: &str) -> Result<String, Failure> {
    let incident = scope.incident(name).await?;
    let view = view(&incident);
    scope.print(&view, || text(&view))
}

/// The Incident as `incident show` presents it.
pub fn view(incident: &Incident) -> Show {
    Show {
        namespace: incident.metadata.namespace.clone().unwrap_or_default(),
        name: incident.metadata.name.clone().unwrap_or_default(),
        phase: format!("{:?}", phase(incident)),
        created_at: incident
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string()),
        spec: incident.spec.clone(),
        status: incident.status.clone().unwrap_or_default(),
        resolving: resolving(incident),
    }
}

/// `incident show` as text.
pub fn text(view: &Show) -> String {
    let spec = &view.spec;
    let opened = match (&spec.guard, &spec.opened_by, &spec.opened_as) {
        (Some(guard), ..) => format!("guard {guard}"),
        (None, Some(by), Some(role)) => format!("{by} (as {role})"),
        (None, Some(by), None) => by.clone(),
        (None, None, _) => "-".into(),
    };
    let mut out = format!(
        "Incident {}/{}   Phase: {}   Opened: {}\nModelDeployment: {}   Version: {}   Fingerprint: {}\nOpened by: {opened}   Action: {:?}\nSummary: {}\n",
        view.namespace,
        view.name,
        view.phase,
        view.status
            .opened_at
            .as_ref()
            .map(|t| t.0.to_string())
            .or(view.created_at.clone())
            .unwrap_or_else(|| "-".into()),
        spec.model_deployment,
        spec.version,
        dash(&spec.fingerprint),
        spec.action,
        spec.summary,
    );
    out.push_str("\nAnswerers:\n");
    let ack = format!(
        "kubectl accord incident ack {} -n {}",
        view.name, view.namespace
    );
    let ack = view.resolving.as_ref().map(|_| ack.as_str());
    out.push_str(&indent(&answerers_text(&view.status, ack)));
    out.push_str("\nTimeline:\n");
    out.push_str(&indent(&timeline_text(&view.status.timeline)));
    match &view.resolving {
        Some(r) => out.push_str(&format!("\nTo resolve it: {}:\n  {}\n", r.needs, r.command)),
        None => out.push_str("\nResolved.\n"),
    }
    out
}

/// Who answers for it and what each did: owner, accountable, acknowledgement (else
/// `ack`, the command that gives it, while it is open), escalation, mitigation,
/// resolution.
fn answerers_text(st: &IncidentStatus, ack: Option<&str>) -> String {
    let at = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.as_ref().map(|t| t.0.to_string())
    };
    let answerer = |a: &Option<crate::api::Answerer>| {
        a.as_ref().map_or("not recorded yet".to_string(), |a| {
            format!("{} ({})", a.team, a.role)
        })
    };
    let mut out = format!(
        "responsible (owner): {}\naccountable:         {}\nacknowledged:        {}\n",
        answerer(&st.owner),
        answerer(&st.accountable),
        match (&st.acknowledged_by, at(&st.acknowledged_at)) {
            (Some(by), Some(when)) => format!("by {by} at {when}"),
            (Some(by), None) => format!("by {by}"),
            (None, _) => match ack {
                Some(ack) => format!("nobody yet: {ack}"),
                None => "nobody".into(),
            },
        }
    );
    if let Some(when) = at(&st.escalated_at) {
        out.push_str(&format!(
            "escalated:           {when}, to the accountable team\n"
        ));
    }
    if let Some(when) = at(&st.mitigated_at) {
        out.push_str(&format!("mitigated:           {when}\n"));
    }
    if let Some(r) = &st.resolution {
        out.push_str(&format!(
            "resolved:            {} by {} (team {}), attestation {}, evidence {}\n",
            at(&st.resolved_at).unwrap_or_else(|| "-".into()),
            r.attested_by,
            r.team,
            r.attestation,
            dash(&r.evidence)
        ));
        if !r.follow_ups.is_empty() {
            out.push_str(&format!(
                "follow-ups:          {} (the next candidate must carry them)\n",
                r.follow_ups.join(", ")
            ));
        }
    }
    out
}

fn timeline_text(timeline: &[TimelineEntry]) -> String {
    if timeline.is_empty() {
        return "nothing recorded yet\n".into();
    }
    let rows: Vec<Vec<String>> = timeline
        .iter()
        .map(|e| {
            vec![
                e.at.0.to_string(),
                e.what.clone(),
                dash(&e.by),
                dash(&e.message),
            ]
        })
        .collect();
    table(&["AT", "WHAT", "BY", "MESSAGE"], &rows)
}

/// `incident ack <name>`: sets `accord.dev/acknowledged-by` (Accord's webhook writes
/// the authenticated user into it) and says who it was recorded as.
pub async fn ack(scope: &Scope, name: &str) -> Result<String, Failure> {
    scope.incident(name).await?;
    let me = crate::identity::whoami(&scope.client)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "me".into());
    let api: Api<Incident> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let patch = json!({"metadata": {"annotations": {labels::ACKNOWLEDGED_BY: me}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| scope.failure(e))?;
    let stored = scope.incident(name).await?;
    let acked = acknowledged(&stored);
    scope.print(&acked, || ack_text(&acked))
}

/// Who an Incident's acknowledgement was recorded as, read back after `ack`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledged {
    pub namespace: String,
    pub name: String,
    /// The annotation as stored: the user Accord's webhook recorded.
    pub acknowledged_by: Option<String>,
    /// The first acknowledgement the operator recorded, if any yet.
    pub first_acknowledged_by: Option<String>,
    pub first_acknowledged_at: Option<String>,
}

/// The acknowledgement of `incident` as stored.
pub fn acknowledged(incident: &Incident) -> Acknowledged {
    let st = incident.status.clone().unwrap_or_default();
    Acknowledged {
        namespace: incident.metadata.namespace.clone().unwrap_or_default(),
        name: incident.metadata.name.clone().unwrap_or_default(),
        acknowledged_by: incident
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::ACKNOWLEDGED_BY))
            .cloned(),
        first_acknowledged_by: st.acknowledged_by,
        first_acknowledged_at: st.acknowledged_at.map(|t| t.0.to_string()),
    }
}

/// `incident ack` as text.
pub fn ack_text(acked: &Acknowledged) -> String {
    let mut out = format!(
        "incident {}/{} acknowledged: recorded as {}\n",
        acked.namespace,
        acked.name,
        dash(&acked.acknowledged_by)
    );
    if let Some(first) = acked
        .first_acknowledged_by
        .as_ref()
        .filter(|first| Some(*first) != acked.acknowledged_by.as_ref())
    {
        out.push_str(&format!(
            "it was first acknowledged by {first}{}\n",
            acked
                .first_acknowledged_at
                .as_ref()
                .map_or(String::new(), |at| format!(" at {at}"))
        ));
    }
    out
}

/// `incident open <md>`: what to open.
#[derive(Debug, Clone)]
pub struct Open<'a> {
    pub model_deployment: &'a str,
    pub summary: &'a str,
    pub roll_back: bool,
    /// The Incident's name (default `<md>-<unix seconds>`).
    pub name: Option<&'a str>,
}

/// `incident open <md> --summary TEXT`: creates the Incident, as you.
pub async fn open(scope: &Scope, request: &Open<'_>) -> Result<String, Failure> {
    let md = scope.model_deployment(request.model_deployment).await?;
    let incident = new_incident(
        &md,
        &scope.namespace,
        request,
        jiff::Timestamp::now().as_second(),
    )?;
    let api: Api<Incident> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let created = api
        .create(&PostParams::default(), &incident)
        .await
        .map_err(|e| scope.failure(e))?;
    scope.print(&created, || opened_text(&created))
}

/// The Incident `incident open` creates for the version `md` serves (its active
/// version), `now` in Unix seconds naming it when no name is given.
pub fn new_incident(
    md: &ModelDeployment,
    namespace: &str,
    request: &Open<'_>,
    now: i64,
) -> Result<Incident, Failure> {
    let md_name = request.model_deployment;
    let st = md.status.clone().unwrap_or_default();
    let version = st.active_version.clone().ok_or_else(|| {
        Failure(format!(
            "{namespace}/{md_name} serves no version yet: an Incident is about the active version"
        ))
    })?;
    let fingerprint = st
        .history
        .last()
        .filter(|e| e.version == version)
        .map(|e| e.fingerprint_in(&md.spec));
    let suffix = format!("-{now}");
    let name = request.name.map(String::from).unwrap_or_else(|| {
        let stem: String = md_name.chars().take(253 - suffix.len()).collect();
        format!("{}{suffix}", stem.trim_end_matches(['-', '.']))
    });
    Ok(Incident {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        spec: IncidentSpec {
            model_deployment: md_name.to_string(),
            version,
            fingerprint,
            guard: None,
            summary: request.summary.to_string(),
            action: if request.roll_back {
                GuardAction::RollBack
            } else {
                GuardAction::Alert
            },
            opened_by: None,
            opened_as: None,
        },
        status: None,
    })
}

/// What `incident open` created, as text.
pub fn opened_text(created: &Incident) -> String {
    let namespace = created.metadata.namespace.as_deref().unwrap_or_default();
    let name = created.metadata.name.as_deref().unwrap_or_default();
    let spec = &created.spec;
    let by = match (&spec.opened_by, &spec.opened_as) {
        (Some(by), Some(role)) => format!("{by} (as {role})"),
        (Some(by), None) => by.clone(),
        (None, _) => "you".into(),
    };
    let action = match spec.action {
        GuardAction::RollBack => format!(
            "Accord rolls {} back by its plan and tells the owning Teams",
            spec.model_deployment
        ),
        GuardAction::Alert => format!(
            "{} keeps serving; Accord tells the owning Teams",
            spec.model_deployment
        ),
    };
    format!(
        "incident {namespace}/{name} opened by {by} for {} {}: {}\n{action}; no new candidate is promoted until its root cause is signed off.\nfollow it with: kubectl accord incident show {name} -n {namespace}\n",
        spec.model_deployment, spec.version, spec.summary
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use accord_core::testing::time;

    use super::*;
    use crate::{
        api::{IncidentPhase, Role},
        fixtures::{history_entry, incident, waiting},
    };

    #[test]
    fn show_gives_the_spec_the_answerers_the_timeline_and_what_resolving_needs() {
        let mut inc = incident("fraud-scorer-1800000000", 0, Some(IncidentPhase::Open));
        let st = inc.status.as_mut().unwrap();
        st.acknowledged_by = Some("bob".into());
        st.acknowledged_at = Some(time(60));
        let text = text(&view(&inc));
        for line in [
            "Incident payments/fraud-scorer-1800000000   Phase: Open   Opened: 2027-01-15T08:00:00Z\n",
            "ModelDeployment: fraud-scorer   Version: 2.4.0   Fingerprint: sha256:",
            "Opened by: guard error-rate   Action: RollBack\nSummary: error-rate 0.071 > 0.02 for 5m\n",
            "\nAnswerers:\n  responsible (owner): ml-platform (platform)\n  accountable:         payments-app (application)\n  acknowledged:        by bob at 2027-01-15T08:01:00Z\n",
            "\nTimeline:\n  AT                     WHAT     BY       MESSAGE\n  2027-01-15T08:00:00Z   Opened   accord   error-rate 0.071 is above the maximum 0.02\n",
            "\nTo resolve it: an Attestation with spec.incident: fraud-scorer-1800000000, item root-cause-analysis, an evidence link, version 2.4.0, by a member of team payments-app (accountable):\n  kubectl accord attest fraud-scorer -n payments --item root-cause-analysis --incident fraud-scorer-1800000000 --evidence URL [--follow-up ITEM]...\n",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }
        let mut by_hand = incident("x", 0, None);
        by_hand.spec.guard = None;
        by_hand.spec.opened_by = Some("bob".into());
        by_hand.spec.opened_as = Some(Role::Platform);
        let text = super::text(&view(&by_hand));
        assert!(text.contains("Opened by: bob (as platform)"), "{text}");
        assert!(
            text.contains("responsible (owner): not recorded yet"),
            "{text}"
        );
        assert!(
            text.contains(
                "acknowledged:        nobody yet: kubectl accord incident ack x -n payments\n"
            ),
            "{text}"
        );
        assert!(text.contains("  nothing recorded yet\n"), "{text}");
    }

    #[test]
    fn ack_says_who_it_was_recorded_as() {
        let mut inc = incident("i", 0, Some(IncidentPhase::Open));
        inc.metadata.annotations = Some(BTreeMap::from([(
            labels::ACKNOWLEDGED_BY.to_string(),
            "carol".to_string(),
        )]));
        assert_eq!(
            ack_text(&acknowledged(&inc)),
            "incident payments/i acknowledged: recorded as carol\n"
        );
        let st = inc.status.as_mut().unwrap();
        st.acknowledged_by = Some("bob".into());
        st.acknowledged_at = Some(time(60));
        assert_eq!(
            ack_text(&acknowledged(&inc)),
            "incident payments/i acknowledged: recorded as carol\nit was first acknowledged by bob at 2027-01-15T08:01:00Z\n"
        );
    }

    #[test]
    fn open_is_about_the_active_version_and_its_fingerprint() {
        let mut md = waiting();
        let request = Open {
            model_deployment: "fraud-scorer",
            summary: "scores drift upwards",
            roll_back: false,
            name: None,
        };
        md.status.as_mut().unwrap().history = vec![history_entry("2.3.1", 0, Some(0))];
        let inc = new_incident(&md, "payments", &request, 1_800_000_000).unwrap();
        assert_eq!(
            inc.metadata.name.as_deref(),
            Some("fraud-scorer-1800000000")
        );
        assert_eq!(
            inc.spec.version, "2.3.1",
            "the active version, not the candidate"
        );
        assert_eq!(
            inc.spec.fingerprint,
            Some(accord_core::testing::md("2.3.1").spec.fingerprint())
        );
        assert_eq!(
            (inc.spec.action, inc.spec.guard.clone()),
            (GuardAction::Alert, None)
        );
        let named = Open {
            roll_back: true,
            name: Some("scores-drift"),
            ..request.clone()
        };
        let inc = new_incident(&md, "payments", &named, 1).unwrap();
        assert_eq!(inc.metadata.name.as_deref(), Some("scores-drift"));
        assert_eq!(inc.spec.action, GuardAction::RollBack);
        md.status.as_mut().unwrap().history.clear();
        assert_eq!(
            new_incident(&md, "payments", &request, 1)
                .unwrap()
                .spec
                .fingerprint,
            None,
            "no history entry of it: the webhook fills it in"
        );
        md.status = None;
        let err = new_incident(&md, "payments", &request, 1).unwrap_err();
        assert!(err.0.contains("serves no version yet"), "{err}");
    }

    #[test]
    fn opened_says_what_follows() {
        let mut inc = incident("scores-drift", 0, None);
        inc.spec.guard = None;
        inc.spec.opened_by = Some("bob".into());
        inc.spec.opened_as = Some(Role::Platform);
        let text = opened_text(&inc);
        assert!(
            text.starts_with("incident payments/scores-drift opened by bob (as platform) for fraud-scorer 2.4.0: error-rate 0.071 > 0.02 for 5m\nAccord rolls fraud-scorer back by its plan"),
            "{text}"
        );
        assert!(
            text.ends_with("kubectl accord incident show scores-drift -n payments\n"),
            "{text}"
        );
    }
}
