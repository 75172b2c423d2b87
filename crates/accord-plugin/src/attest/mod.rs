//! `kubectl accord attest MD --item ID`: sign off a checklist item of the current
//! candidate, as yourself, by creating an Attestation. [`sign`] covers `--sign`,
//! `--print-statement` and `--from-file`: a signed Attestation to commit to Git instead;
//! [`rca`] covers `--incident`: the root-cause analysis that resolves an Incident.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, api::PostParams};

use crate::{
    api::{Attestation, AttestationSpec},
    scope::{Failure, Scope},
};

pub mod rca;
pub mod sign;

/// `attest <md> --item ID`: creates the Attestation for the current candidate.
pub async fn run(
    scope: &Scope,
    name: &str,
    item: &str,
    evidence: Option<String>,
    comment: Option<String>,
) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    if md.item_team(item).is_none() {
        return Err(Failure(format!(
            "item {item:?} is not on the checklist of {}/{name}; its items are: {}",
            scope.namespace,
            md.item_ids()
        )));
    }
    let version = md.spec.model.version.clone();
    let attestation = Attestation {
        metadata: ObjectMeta {
            name: Some(attestation_name(name, &version, item)),
            namespace: Some(scope.namespace.clone()),
            ..Default::default()
        },
        spec: AttestationSpec {
            model_deployment: name.to_string(),
            item: item.to_string(),
            version: version.clone(),
            digest: md.spec.model.digest.clone(),
            candidate: Some(md.spec.fingerprint()),
            evidence,
            comment,
            attested_by: None,
            team: None,
            incident: None,
            follow_ups: vec![],
            drill: None,
            signature: None,
        },
        status: None,
    };
    let api: Api<Attestation> = Api::namespaced(scope.client.clone(), &scope.namespace);
    let created = api
        .create(&PostParams::default(), &attestation)
        .await
        .map_err(|e| scope.failure(e))?;
    scope.print(&created, || {
        format!(
            "attestation {}/{} created: {} attests {item} of {name} {version} for team {}\n",
            scope.namespace,
            created.metadata.name.as_deref().unwrap_or_default(),
            created.spec.attested_by.as_deref().unwrap_or("you"),
            created.spec.team.as_deref().unwrap_or("?")
        )
    })
}

/// The Attestation name `attest` uses: `<md>-<version>-<item>`, made a valid object name.
pub fn attestation_name(md: &str, version: &str, item: &str) -> String {
    let raw = format!("{md}-{version}-{item}").to_lowercase();
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(253)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_names_are_valid_object_names() {
        assert_eq!(
            attestation_name("fraud-scorer", "2.4.0", "drift"),
            "fraud-scorer-2.4.0-drift"
        );
        assert_eq!(attestation_name("m", "V1_rc", "x"), "m-v1-rc-x");
    }
}
