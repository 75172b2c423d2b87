//! `attest MD --incident NAME --evidence URL [--follow-up ITEM]...`: the root-cause
//! analysis that resolves an Incident — item `root-cause-analysis`, the Incident's
//! version, no candidate or digest — counted when a member of the Incident's
//! Accountable Team signs it off. With `--sign`, [`for_signing`] makes it ready to sign.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, api::PostParams};

use super::{attestation_name, sign::SignOff};
// On its own line: hack/check-layers.py would read `incident::` in a group as the module.
use crate::api::incident::ROOT_CAUSE_ANALYSIS;
use crate::{
    api::{Attestation, AttestationSignature, AttestationSpec, Incident},
    scope::{Failure, Scope},
};

/// What the root-cause analysis says besides its Incident.
#[derive(Debug, Clone, Default)]
pub struct RootCause<'a> {
    /// The ModelDeployment named on the command line (the Incident's, or a mistake).
    pub model_deployment: &'a str,
    pub evidence: Option<String>,
    pub comment: Option<String>,
    /// Checklist item ids the model's next candidate must carry.
    pub follow_ups: Vec<String>,
}

/// `attest <md> --incident NAME`: creates the root-cause analysis, as you.
pub async fn run(scope: &Scope, incident: &str, rc: &RootCause<'_>) -> Result<String, Failure> {
    let incident = scope.incident(incident).await?;
    let attestation = attestation(&incident, rc)?;
    let api: Api<Attestation> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let created = api
        .create(&PostParams::default(), &attestation)
        .await
        .map_err(|e| scope.failure(e))?;
    scope.print(&created, || created_text(&created))
}

/// The root-cause analysis of `incident` (unsigned, no attester: the webhook records
/// who creates it). Refused when the Incident is about another model or is resolved
/// already, and without evidence.
pub fn attestation(incident: &Incident, rc: &RootCause<'_>) -> Result<Attestation, Failure> {
    let name = incident.metadata.name.clone().unwrap_or_default();
    let namespace = incident.metadata.namespace.clone().unwrap_or_default();
    if incident.spec.model_deployment != rc.model_deployment {
        return Err(Failure(format!(
            "incident {namespace}/{name} is about ModelDeployment {}, not {}",
            incident.spec.model_deployment, rc.model_deployment
        )));
    }
    if let Some(resolution) = incident
        .status
        .as_ref()
        .filter(|_| !incident.is_open())
        .and_then(|s| s.resolution.as_ref())
    {
        return Err(Failure(format!(
            "incident {namespace}/{name} is resolved already, by attestation {} ({})",
            resolution.attestation, resolution.attested_by
        )));
    }
    let Some(evidence) = rc.evidence.clone() else {
        return Err(Failure(
            "a root-cause analysis needs --evidence: a link to the write-up".into(),
        ));
    };
    Ok(Attestation {
        metadata: ObjectMeta {
            name: Some(rca_name(&name, "")),
            namespace: Some(namespace),
            ..Default::default()
        },
        spec: AttestationSpec {
            model_deployment: incident.spec.model_deployment.clone(),
            item: ROOT_CAUSE_ANALYSIS.into(),
            version: incident.spec.version.clone(),
            digest: None,
            candidate: None,
            evidence: Some(evidence),
            comment: rc.comment.clone(),
            attested_by: None,
            team: None,
            incident: Some(name),
            follow_ups: rc.follow_ups.clone(),
            drill: None,
            signature: None,
        },
        status: None,
    })
}

/// The root-cause analysis of `incident` as `sign_off`'s signer makes it, ready to
/// sign (an empty signature): named after the signer and the time, as every signed
/// sign-off is.
pub fn for_signing(
    incident: &Incident,
    model_deployment: &str,
    sign_off: &SignOff,
    follow_ups: &[String],
) -> Result<Attestation, Failure> {
    let rc = RootCause {
        model_deployment,
        evidence: sign_off.evidence.clone(),
        comment: sign_off.comment.clone(),
        follow_ups: follow_ups.to_vec(),
    };
    let mut attestation = attestation(incident, &rc)?;
    let when: String = sign_off
        .signed_at
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    attestation.metadata.name = Some(rca_name(
        incident.metadata.name.as_deref().unwrap_or_default(),
        &format!("{}-{when}", sign_off.signer),
    ));
    attestation.spec.attested_by = Some(sign_off.signer.clone());
    attestation.spec.signature = Some(AttestationSignature {
        signer: sign_off.signer.clone(),
        signed_at: sign_off.signed_at.clone(),
        sshsig: String::new(),
    });
    Ok(attestation)
}

/// `<incident>-root-cause-analysis[-<rest>]`, made a valid object name.
fn rca_name(incident: &str, rest: &str) -> String {
    attestation_name(incident, ROOT_CAUSE_ANALYSIS, rest)
}

/// What `attest --incident` created, as text.
pub fn created_text(created: &Attestation) -> String {
    let namespace = created.metadata.namespace.as_deref().unwrap_or_default();
    let incident = created.spec.incident.as_deref().unwrap_or_default();
    let mut out = format!(
        "attestation {namespace}/{} created: {} signs off the root cause of incident {incident} ({} {}) for team {}\n",
        created.metadata.name.as_deref().unwrap_or_default(),
        created.spec.attested_by.as_deref().unwrap_or("you"),
        created.spec.model_deployment,
        created.spec.version,
        created.spec.team.as_deref().unwrap_or("?")
    );
    if !created.spec.follow_ups.is_empty() {
        out.push_str(&format!(
            "follow-ups the next candidate must carry: {}\n",
            created.spec.follow_ups.join(", ")
        ));
    }
    out.push_str(&format!(
        "it resolves the incident once the operator counts it: kubectl accord incident show {incident} -n {namespace}\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{IncidentPhase, Resolution},
        attest::sign::statement,
        fixtures::{incident, sign_off},
    };

    fn rc() -> RootCause<'static> {
        RootCause {
            model_deployment: "fraud-scorer",
            evidence: Some("https://wiki.example.com/rca/7".into()),
            comment: None,
            follow_ups: vec!["load-test".into()],
        }
    }

    #[test]
    fn the_root_cause_analysis_names_the_incident_and_its_version_not_a_candidate() {
        let inc = incident("fraud-scorer-1800000000", 0, Some(IncidentPhase::Mitigated));
        let att = attestation(&inc, &rc()).unwrap();
        assert_eq!(
            att.metadata.name.as_deref(),
            Some("fraud-scorer-1800000000-root-cause-analysis")
        );
        assert_eq!(att.metadata.namespace.as_deref(), Some("payments"));
        let spec = &att.spec;
        assert_eq!(
            (spec.item.as_str(), spec.version.as_str()),
            (ROOT_CAUSE_ANALYSIS, "2.4.0")
        );
        assert_eq!(spec.incident.as_deref(), Some("fraud-scorer-1800000000"));
        assert_eq!((&spec.candidate, &spec.digest), (&None, &None));
        assert_eq!(spec.follow_ups, ["load-test"]);
        let text = created_text(&att);
        assert!(
            text.contains(
                "signs off the root cause of incident fraud-scorer-1800000000 (fraud-scorer 2.4.0)"
            ),
            "{text}"
        );
        assert!(text.contains("follow-ups the next candidate must carry: load-test\n"));
    }

    #[test]
    fn refused_for_another_model_a_resolved_incident_or_without_evidence() {
        let mut inc = incident("i", 0, Some(IncidentPhase::Open));
        let other = RootCause {
            model_deployment: "churn",
            ..rc()
        };
        let err = attestation(&inc, &other).unwrap_err();
        assert!(
            err.0
                .contains("is about ModelDeployment fraud-scorer, not churn"),
            "{err}"
        );
        let bare = RootCause {
            evidence: None,
            ..rc()
        };
        assert!(
            attestation(&inc, &bare)
                .unwrap_err()
                .0
                .contains("--evidence")
        );
        let st = inc.status.as_mut().unwrap();
        st.phase = Some(IncidentPhase::Resolved);
        st.resolution = Some(Resolution {
            attestation: "i-root-cause-analysis".into(),
            attested_by: "carol".into(),
            team: "payments-app".into(),
            ..Default::default()
        });
        let err = attestation(&inc, &rc()).unwrap_err();
        assert!(
            err.0
                .contains("resolved already, by attestation i-root-cause-analysis (carol)"),
            "{err}"
        );
    }

    #[test]
    fn a_signed_root_cause_analysis_signs_its_incident_and_follow_ups() {
        let inc = incident("i", 0, Some(IncidentPhase::Open));
        let mut who = sign_off();
        who.item = ROOT_CAUSE_ANALYSIS.into();
        let att = for_signing(&inc, "fraud-scorer", &who, &["load-test".into()]).unwrap();
        assert_eq!(
            att.metadata.name.as_deref(),
            Some("i-root-cause-analysis-alice-20261128100000")
        );
        assert_eq!(att.spec.attested_by.as_deref(), Some("alice"));
        let text = statement(&att).unwrap();
        assert!(
            text.contains("\nincident: i\nfollowUps: load-test\nsigner: alice\n"),
            "{text}"
        );
    }
}
