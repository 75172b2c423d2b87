//! Desired managed objects (pure): the Deployment and Service that run the active
//! version, with every accountability label. Built from plain values, never the API.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
        },
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference},
        util::intstr::IntOrString,
    },
};
use kube::Resource;
use sha2::{Digest, Sha256};

use crate::api::{HistoryEntry, HistoryOutcome, ModelDeployment, Serving, labels};

pub use crate::api::fingerprint::SERVING_CONTAINER as CONTAINER_NAME;

/// Labels on the ModelDeployment itself: its owners and model.
pub fn owner_labels(md: &ModelDeployment) -> BTreeMap<String, String> {
    let owners = &md.spec.owners;
    BTreeMap::from([
        (labels::DATA_OWNER.to_string(), owners.data.clone()),
        (labels::PLATFORM_OWNER.to_string(), owners.platform.clone()),
        (
            labels::APPLICATION_OWNER.to_string(),
            owners.application.clone(),
        ),
        (labels::MODEL.to_string(), md.spec.model.name.clone()),
    ])
}

/// The label selecting a ModelDeployment's pods. It never changes for the life of the
/// Deployment (its selector is immutable), unlike the version and owner labels.
pub fn selector_labels(md: &ModelDeployment) -> BTreeMap<String, String> {
    BTreeMap::from([(
        labels::INSTANCE.to_string(),
        md.metadata.name.clone().unwrap_or_default(),
    )])
}

/// Labels on every managed object and pod template.
pub fn managed_labels(md: &ModelDeployment, active_version: &str) -> BTreeMap<String, String> {
    let mut labels = owner_labels(md);
    labels.extend(selector_labels(md));
    labels.insert(
        labels::MODEL_VERSION.to_string(),
        active_version.to_string(),
    );
    labels.insert(
        labels::MANAGED_BY.to_string(),
        labels::MANAGED_BY_VALUE.to_string(),
    );
    labels
}

/// Users whose attestations promoted `active`: its own approvals, or for a restored
/// version those of its latest promotion in `history`.
pub fn approvers(active: &HistoryEntry, history: &[HistoryEntry]) -> Vec<String> {
    let approvals = if active.outcome == HistoryOutcome::Promoted {
        &active.approvals
    } else {
        history
            .iter()
            .rev()
            .find(|e| e.outcome == HistoryOutcome::Promoted && e.identity() == active.identity())
            .map(|e| &e.approvals)
            .unwrap_or(&active.approvals)
    };
    let mut users: Vec<String> = approvals.iter().map(|a| a.attested_by.clone()).collect();
    users.sort();
    users.dedup();
    users
}

/// Whether `md` (this very object, by UID) is `meta`'s controller. Accord writes only
/// objects it controls; a same-named object it does not control is never adopted.
pub fn controlled_by(meta: &ObjectMeta, md: &ModelDeployment) -> bool {
    let uid = md.metadata.uid.as_deref();
    meta.owner_references
        .iter()
        .flatten()
        .any(|owner| owner.controller == Some(true) && Some(owner.uid.as_str()) == uid)
}

fn owner_reference(md: &ModelDeployment) -> Vec<OwnerReference> {
    md.controller_owner_ref(&()).into_iter().collect()
}

/// A short content hash of `value`'s JSON form.
pub fn content_hash(value: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(value).expect("managed objects serialize");
    hex::encode(&Sha256::digest(&bytes)[..8])
}

fn serving_of(active: &HistoryEntry, md: &ModelDeployment) -> Serving {
    active.serving.clone().unwrap_or_else(|| Serving {
        image: active.image.clone(),
        ..md.spec.serving.clone()
    })
}

/// The Deployment running `active` (the last history entry), with its content hash in
/// the [`labels::SERVING_HASH`] annotation.
pub fn desired_deployment(
    md: &ModelDeployment,
    active: &HistoryEntry,
    history: &[HistoryEntry],
) -> Deployment {
    let serving = serving_of(active, md);
    let labels = managed_labels(md, &active.version);
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(serving.image.clone()),
        args: (!serving.args.is_empty()).then(|| serving.args.clone()),
        env: (!serving.env.is_empty()).then(|| serving.env.clone()),
        resources: serving.resources.clone(),
        ports: serving.port.map(|port| {
            vec![ContainerPort {
                name: Some("http".into()),
                container_port: port,
                ..Default::default()
            }]
        }),
        ..Default::default()
    };
    let mut deployment = Deployment {
        metadata: ObjectMeta {
            name: md.metadata.name.clone(),
            namespace: md.metadata.namespace.clone(),
            labels: Some(labels.clone()),
            annotations: Some(BTreeMap::from([(
                labels::APPROVED_BY.to_string(),
                approvers(active, history).join(","),
            )])),
            owner_references: Some(owner_reference(md)),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(serving.replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(md)),
                ..Default::default()
            },
            progress_deadline_seconds: Some(md.spec.rollback.progress_deadline_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    };
    let hash = content_hash(&deployment);
    deployment
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(labels::SERVING_HASH.to_string(), hash);
    deployment
}

/// The Service for `active`, when its serving shape names a port.
pub fn desired_service(md: &ModelDeployment, active: &HistoryEntry) -> Option<Service> {
    let serving = serving_of(active, md);
    let port = serving.port?;
    let mut service = Service {
        metadata: ObjectMeta {
            name: md.metadata.name.clone(),
            namespace: md.metadata.namespace.clone(),
            labels: Some(managed_labels(md, &active.version)),
            owner_references: Some(owner_reference(md)),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(md)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port,
                target_port: Some(IntOrString::String("http".into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    let hash = content_hash(&service);
    service.metadata.annotations = Some(BTreeMap::from([(labels::SERVING_HASH.to_string(), hash)]));
    Some(service)
}

/// The hash recorded on an existing managed object, if any.
pub fn recorded_hash(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()?
        .get(labels::SERVING_HASH)
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{Approval, HistoryOutcome},
        controller::testing::{md, time},
    };

    fn entry(md: &ModelDeployment, outcome: HistoryOutcome, users: &[&str]) -> HistoryEntry {
        HistoryEntry {
            fingerprint: None,
            seal: None,
            version: md.spec.model.version.clone(),
            image: md.spec.serving.image.clone(),
            digest: None,
            artifact: None,
            outcome,
            at: time(0),
            reason: "AllItemsAttested".into(),
            approvals: users
                .iter()
                .map(|u| Approval {
                    item: "x".into(),
                    attested_by: u.to_string(),
                })
                .collect(),
            auto_approval: None,
            training_data_digest: None,
            serving: Some(md.spec.serving.clone()),
            available_at: None,
        }
    }

    #[test]
    fn deployment_carries_every_accountability_label_everywhere() {
        let md = md("2.4.0");
        let active = entry(
            &md,
            HistoryOutcome::Promoted,
            &["carol", "alice", "bob", "alice"],
        );
        let d = desired_deployment(&md, &active, std::slice::from_ref(&active));
        let expected = [
            (labels::DATA_OWNER, "data-platform"),
            (labels::PLATFORM_OWNER, "ml-platform"),
            (labels::APPLICATION_OWNER, "payments-app"),
            (labels::MODEL, "fraud-scorer"),
            (labels::MODEL_VERSION, "2.4.0"),
            (labels::MANAGED_BY, "accord"),
        ];
        let spec = d.spec.as_ref().unwrap();
        let template_labels = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        for (key, value) in expected {
            assert_eq!(
                d.metadata
                    .labels
                    .as_ref()
                    .unwrap()
                    .get(key)
                    .map(String::as_str),
                Some(value),
                "{key}"
            );
            assert_eq!(
                template_labels.get(key).map(String::as_str),
                Some(value),
                "template {key}"
            );
        }
        let annotations = d.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations[labels::APPROVED_BY], "alice,bob,carol");
        assert_eq!(
            spec.template.spec.as_ref().unwrap().containers[0]
                .image
                .as_deref(),
            Some("registry.example.com/fraud-scorer:2.4.0")
        );
        assert_eq!(spec.progress_deadline_seconds, Some(60));
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(
            d.metadata.owner_references.as_ref().unwrap()[0].kind,
            "ModelDeployment"
        );
    }

    #[test]
    fn selector_is_stable_across_versions_and_owners() {
        let old = md("2.4.0");
        let mut new = md("2.5.0");
        new.spec.owners.data = "another-team".into();
        let a = desired_deployment(&old, &entry(&old, HistoryOutcome::Promoted, &[]), &[]);
        let b = desired_deployment(&new, &entry(&new, HistoryOutcome::Promoted, &[]), &[]);
        assert_eq!(a.spec.unwrap().selector, b.spec.unwrap().selector);
    }

    #[test]
    fn hash_changes_with_the_serving_shape_only() {
        let md = md("2.4.0");
        let active = entry(&md, HistoryOutcome::Promoted, &["alice"]);
        let hash = |d: &Deployment| recorded_hash(&d.metadata).unwrap().to_string();
        let first = desired_deployment(&md, &active, &[]);
        assert_eq!(
            hash(&first),
            hash(&desired_deployment(&md, &active, &[])),
            "deterministic"
        );
        let mut scaled = active.clone();
        scaled.serving.as_mut().unwrap().replicas = 5;
        assert_ne!(hash(&first), hash(&desired_deployment(&md, &scaled, &[])));
    }

    #[test]
    fn restored_version_keeps_its_original_approvers() {
        let md = md("2.3.1");
        let promoted = entry(&md, HistoryOutcome::Promoted, &["alice", "bob"]);
        let restored = entry(&md, HistoryOutcome::RolledBack, &[]);
        assert_eq!(
            approvers(&restored, &[promoted, restored.clone()]),
            ["alice", "bob"]
        );
    }

    #[test]
    fn service_only_with_a_port() {
        let mut md = md("2.4.0");
        let svc = desired_service(&md, &entry(&md, HistoryOutcome::Promoted, &[])).unwrap();
        assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, 8080);
        assert_eq!(svc.metadata.labels.unwrap()[labels::MODEL_VERSION], "2.4.0");
        md.spec.serving.port = None;
        assert!(desired_service(&md, &entry(&md, HistoryOutcome::Promoted, &[])).is_none());
    }
}
