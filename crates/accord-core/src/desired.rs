//! Desired managed objects (pure): the Deployment and Service that run the active
//! version, with every accountability label. Built from plain values, never the API.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Capabilities, Container, ContainerPort, PodSecurityContext, PodSpec, PodTemplateSpec,
            SeccompProfile, SecurityContext, Service, ServicePort, ServiceSpec,
        },
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference},
        util::intstr::IntOrString,
    },
};
use kube::Resource;

use crate::api::{
    HistoryEntry, HistoryOutcome, ModelDeployment, Serving, fingerprint::content_hash, labels,
};

pub use crate::api::model_deployment::SERVING_CONTAINER as CONTAINER_NAME;

/// The name of the serving port (container port of the simple form, Service port).
const PORT_NAME: &str = "http";

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

fn serving_of(active: &HistoryEntry, md: &ModelDeployment) -> Serving {
    active
        .serving
        .clone()
        .unwrap_or_else(|| md.spec.serving.with_image(&active.image))
}

/// The security context Accord gives the simple form's container: what Pod Security
/// `restricted` demands (no privilege escalation, every capability dropped).
fn restricted_container() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        ..Default::default()
    }
}

/// The simple form's pod security context: non-root, RuntimeDefault seccomp.
fn restricted_pod() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

/// The pod template of the simple form: one container named `model`, restricted.
fn simple_template(serving: &Serving) -> PodTemplateSpec {
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: serving.image.clone(),
        args: (!serving.args.is_empty()).then(|| serving.args.clone()),
        env: (!serving.env.is_empty()).then(|| serving.env.clone()),
        resources: serving.resources.clone(),
        ports: serving.port.map(|port| {
            vec![ContainerPort {
                name: Some(PORT_NAME.into()),
                container_port: port,
                ..Default::default()
            }]
        }),
        security_context: Some(restricted_container()),
        ..Default::default()
    };
    PodTemplateSpec {
        metadata: None,
        spec: Some(PodSpec {
            containers: vec![container],
            security_context: Some(restricted_pod()),
            ..Default::default()
        }),
    }
}

/// The pod template that runs `serving`: the template form as written, or the simple
/// form's; Accord's labels are merged in over the template's own.
fn pod_template(serving: &Serving, labels: &BTreeMap<String, String>) -> PodTemplateSpec {
    let mut template = serving
        .template
        .clone()
        .unwrap_or_else(|| simple_template(serving));
    let meta = template.metadata.get_or_insert_default();
    meta.labels.get_or_insert_default().extend(labels.clone());
    // Only labels and annotations of a pod template's metadata mean anything.
    meta.name = None;
    meta.namespace = None;
    template
}

/// The pod template a history entry ran, as recorded (no Accord labels added).
pub fn pod_template_of(entry: &HistoryEntry, md: &ModelDeployment) -> PodTemplateSpec {
    pod_template(&serving_of(entry, md), &BTreeMap::new())
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
            template: pod_template(&serving, &labels),
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

/// The name of `md`'s canary Deployment.
pub fn canary_name(md: &ModelDeployment) -> String {
    format!(
        "{}{}",
        md.metadata.name.as_deref().unwrap_or_default(),
        labels::CANARY_SUFFIX
    )
}

/// The canary Deployment running the candidate `version` with `serving` on `replicas`
/// pods, beside the active version and behind the same Service.
pub fn desired_canary(
    md: &ModelDeployment,
    version: &str,
    serving: &Serving,
    replicas: i32,
) -> Deployment {
    let mut labels = managed_labels(md, version);
    labels.insert(labels::TRACK.into(), labels::TRACK_CANARY.into());
    let mut selector = selector_labels(md);
    selector.insert(labels::TRACK.into(), labels::TRACK_CANARY.into());
    let mut deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(canary_name(md)),
            namespace: md.metadata.namespace.clone(),
            labels: Some(labels.clone()),
            owner_references: Some(owner_reference(md)),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..Default::default()
            },
            progress_deadline_seconds: Some(md.spec.rollback.progress_deadline_seconds),
            template: pod_template(serving, &labels),
            ..Default::default()
        }),
        status: None,
    };
    let hash = content_hash(&deployment);
    deployment.metadata.annotations =
        Some(BTreeMap::from([(labels::SERVING_HASH.to_string(), hash)]));
    deployment
}

/// The serving hash of a parked canary Deployment.
pub const PARKED: &str = "parked";

/// A canary Deployment with no canary running: parked at zero replicas rather than
/// deleted, so the operator needs no right to delete workloads. The next canary
/// replaces it.
pub fn parked_canary(live: &Deployment) -> Deployment {
    let mut annotations = live.metadata.annotations.clone().unwrap_or_default();
    annotations.insert(labels::SERVING_HASH.to_string(), PARKED.to_string());
    let mut spec = live.spec.clone().unwrap_or_default();
    spec.replicas = Some(0);
    Deployment {
        metadata: ObjectMeta {
            name: live.metadata.name.clone(),
            namespace: live.metadata.namespace.clone(),
            labels: live.metadata.labels.clone(),
            annotations: Some(annotations),
            owner_references: live.metadata.owner_references.clone(),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
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
                name: Some(PORT_NAME.into()),
                port,
                // The simple form names its container port; a template's container
                // listens on the number.
                target_port: Some(if serving.template.is_some() {
                    IntOrString::Int(port)
                } else {
                    IntOrString::String(PORT_NAME.into())
                }),
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
pub(crate) mod tests {
    use super::*;
    use crate::{
        api::{Approval, HistoryOutcome},
        testing::{md, time},
    };

    fn entry(md: &ModelDeployment, outcome: HistoryOutcome, users: &[&str]) -> HistoryEntry {
        HistoryEntry {
            record: None,
            artifact_fingerprint: None,
            available_since: None,
            upstream: None,
            fingerprint: None,
            seal: None,
            version: md.spec.model.version.clone(),
            image: md.spec.serving.serving_image(),
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
            canary: None,
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

    /// fraud-scorer served by a full template: a GPU, a toleration, a probe, a volume,
    /// a ServiceAccount, and a container named `server`.
    pub fn templated(version: &str) -> ModelDeployment {
        let mut m = md(version);
        let template: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"team": "fraud", "accord.dev/model": "spoofed"},
                         "annotations": {"prometheus.io/scrape": "true"}},
            "spec": {
                "serviceAccountName": "fraud-scorer",
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "volumes": [{"name": "weights", "emptyDir": {}}],
                "containers": [{
                    "name": "server",
                    "image": format!("registry.example.com/fraud-scorer:{version}"),
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                    "volumeMounts": [{"name": "weights", "mountPath": "/weights"}]
                }]
            }
        }))
        .unwrap();
        m.spec.serving = Serving {
            replicas: 3,
            port: Some(8080),
            template: Some(template),
            container: Some("server".into()),
            ..Default::default()
        };
        m
    }

    #[test]
    fn the_template_form_passes_through_with_accords_labels_merged_in() {
        let m = templated("2.4.0");
        assert_eq!(
            m.spec.serving.serving_image(),
            "registry.example.com/fraud-scorer:2.4.0"
        );
        let active = entry(&m, HistoryOutcome::Promoted, &["alice"]);
        let d = desired_deployment(&m, &active, std::slice::from_ref(&active));
        let spec = d.spec.unwrap();
        assert_eq!(spec.replicas, Some(3));
        let meta = spec.template.metadata.unwrap();
        let labels = meta.labels.unwrap();
        assert_eq!(labels["team"], "fraud", "the template's own labels stay");
        assert_eq!(labels[labels::MODEL], "fraud-scorer", "Accord's win");
        assert_eq!(labels[labels::INSTANCE], "fraud-scorer");
        assert_eq!(meta.annotations.unwrap()["prometheus.io/scrape"], "true");
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("fraud-scorer"));
        assert_eq!(
            pod.tolerations.unwrap()[0].key.as_deref(),
            Some("nvidia.com/gpu")
        );
        assert!(
            pod.security_context.is_none(),
            "the template decides its own security"
        );
        let server = &pod.containers[0];
        assert_eq!(server.name, "server");
        assert!(server.readiness_probe.is_some());
        let svc = desired_service(&m, &active).unwrap();
        assert_eq!(
            svc.spec.unwrap().ports.unwrap()[0].target_port,
            Some(IntOrString::Int(8080)),
            "a template's container is reached by port number"
        );
    }

    #[test]
    fn the_simple_form_is_restricted_by_default() {
        let m = md("2.4.0");
        let active = entry(&m, HistoryOutcome::Promoted, &[]);
        let pod = desired_deployment(&m, &active, &[])
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        let context = pod.security_context.unwrap();
        assert_eq!(context.run_as_non_root, Some(true));
        assert_eq!(context.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let container = pod.containers[0].security_context.clone().unwrap();
        assert_eq!(container.allow_privilege_escalation, Some(false));
        assert_eq!(container.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    }

    #[test]
    fn a_history_entry_without_a_snapshot_runs_the_spec_with_its_image() {
        let m = templated("2.5.0");
        let mut old = entry(&m, HistoryOutcome::Promoted, &[]);
        old.serving = None;
        old.image = "registry.example.com/fraud-scorer:2.4.0".into();
        let pod = desired_deployment(&m, &old, &[])
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        assert_eq!(
            pod.containers[0].image.as_deref(),
            Some("registry.example.com/fraud-scorer:2.4.0")
        );
    }

    #[test]
    fn the_canary_runs_the_candidate_beside_the_stable_version_and_parks_at_zero() {
        let m = md("2.5.0");
        let canary = desired_canary(&m, "2.5.0", &m.spec.serving, 1);
        assert_eq!(canary.metadata.name.as_deref(), Some("fraud-scorer-canary"));
        let spec = canary.spec.clone().unwrap();
        assert_eq!(spec.replicas, Some(1));
        let selector = spec.selector.match_labels.unwrap();
        assert_eq!(selector[labels::TRACK], labels::TRACK_CANARY);
        let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
        assert_eq!(
            pod_labels[labels::INSTANCE],
            "fraud-scorer",
            "the Service selects it too"
        );
        assert_eq!(pod_labels[labels::MODEL_VERSION], "2.5.0");
        assert!(controlled_by(&canary.metadata, &m));
        let parked = parked_canary(&canary);
        assert_eq!(parked.spec.unwrap().replicas, Some(0));
        assert_eq!(recorded_hash(&parked.metadata), Some(PARKED));
        assert!(controlled_by(&parked.metadata, &m));
    }
}
