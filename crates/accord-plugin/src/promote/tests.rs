use std::collections::BTreeMap;

use accord_core::testing::{md, time};
use serde_json::json;

use super::*;
use crate::api::{
    HistoryOutcome, ModelDeploymentStatus, Promotion, TrainingData, UpstreamRef, labels,
};

const DIGEST: &str = "sha256:abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd";
const DATA: &str = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

/// The upstream in payments-staging whose history's last entry put its spec in place.
fn upstream(spec: ModelDeploymentSpec) -> ModelDeployment {
    let mut up = md("2.4.0");
    up.metadata.namespace = Some("payments-staging".into());
    up.spec = spec;
    up.spec.promotion = Some(Promotion {
        downstream: vec!["payments-prod".into()],
        ..Default::default()
    });
    let entry = HistoryEntry {
        record: None,
        fingerprint: Some(up.spec.fingerprint()),
        artifact_fingerprint: Some(up.spec.artifact_fingerprint()),
        version: up.spec.model.version.clone(),
        image: up.spec.serving.serving_image(),
        digest: up.spec.model.digest.clone(),
        artifact: up.spec.model.artifact.clone(),
        training_data_digest: up
            .spec
            .model
            .training_data
            .as_ref()
            .map(|t| t.digest.clone()),
        outcome: HistoryOutcome::Promoted,
        at: time(0),
        reason: "Attested".into(),
        approvals: vec![],
        canary: None,
        auto_approval: None,
        serving: Some(up.spec.serving.clone()),
        available_at: Some(time(10)),
        available_since: Some(time(10)),
        upstream: None,
        seal: None,
    };
    up.status = Some(ModelDeploymentStatus {
        active_version: Some(entry.version.clone()),
        history: vec![entry],
        ..Default::default()
    });
    up
}

/// 2.4.0 with a digest, an artifact location and training data.
fn staged_spec() -> ModelDeploymentSpec {
    let mut spec = md("2.4.0").spec;
    spec.model.digest = Some(DIGEST.into());
    spec.model.artifact = Some("s3://models/fraud-scorer/2.4.0".into());
    spec.model.training_data = Some(TrainingData {
        digest: DATA.into(),
        uri: Some("s3://features/fraud/2026-11".into()),
    });
    spec
}

/// fraud-scorer 2.3.1 in payments-prod, citing staging, with its own configuration.
fn prod() -> ModelDeployment {
    let mut m = md("2.3.1");
    m.metadata.namespace = Some("payments-prod".into());
    m.metadata.resource_version = Some("42".into());
    m.spec.serving.replicas = 6;
    m.spec.serving.env = vec![k8s_openapi::api::core::v1::EnvVar {
        name: "MODE".into(),
        value: Some("prod".into()),
        value_from: None,
    }];
    m.spec.promotion = Some(Promotion {
        from: Some(UpstreamRef {
            namespace: "payments-staging".into(),
            name: "fraud-scorer".into(),
        }),
        soak: Some("24h".into()),
        carry: vec!["drift".into()],
        downstream: vec![],
    });
    m
}

#[test]
fn promote_copies_the_model_and_image_and_keeps_the_configuration() {
    let up = upstream(staged_spec());
    let down = prod();
    let p = plan(&down, &up).unwrap();
    assert!(!p.already);
    assert_eq!(
        (p.previous_version.as_str(), p.version.as_str()),
        ("2.3.1", "2.4.0")
    );
    assert_eq!(p.spec.model, staged_spec().model);
    assert_eq!(
        p.spec.serving.image.as_deref(),
        Some("registry.example.com/fraud-scorer:2.4.0")
    );
    assert_eq!(p.spec.serving.replicas, 6);
    assert_eq!(p.spec.serving.env, down.spec.serving.env);
    assert_eq!(p.spec.promotion, down.spec.promotion);
    // The very artifact that served upstream.
    assert_eq!(p.artifact_fingerprint, up.spec.artifact_fingerprint());
    assert_eq!(
        p.patch,
        json!({
            "model": {
                "version": "2.4.0",
                "digest": DIGEST,
                "artifact": "s3://models/fraud-scorer/2.4.0",
                "trainingData": {"digest": DATA, "uri": "s3://features/fraud/2026-11"},
            },
            "serving": {"image": "registry.example.com/fraud-scorer:2.4.0"},
        })
    );
    let fields: Vec<&str> = p.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.model.version",
            "spec.model.digest",
            "spec.model.artifact",
            "spec.model.trainingData.digest",
            "spec.model.trainingData.uri",
            "spec.serving.image"
        ]
    );
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    let text = text(&p);
    let short = short_fingerprint(&p.artifact_fingerprint);
    assert!(
        text.starts_with(&format!(
            "fraud-scorer in payments-prod: 2.3.1 → 2.4.0 (artifact {short}), from payments-staging/fraud-scorer\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("  spec.model.version: 2.3.1 → 2.4.0\n"),
        "{text}"
    );
    assert!(
        text.contains("  spec.model.digest: (none) → sha256:abcd"),
        "{text}"
    );
}

#[test]
fn the_training_data_location_is_kept_when_the_history_has_only_its_digest() {
    // The upstream spec has moved on; the entry and the downstream still know the data.
    let mut up = upstream(staged_spec());
    up.spec.model.training_data = None;
    let mut down = prod();
    down.spec.model.training_data = staged_spec().model.training_data;
    let p = plan(&down, &up).unwrap();
    assert_eq!(
        p.spec.model.training_data,
        staged_spec().model.training_data
    );
}

/// A pod template with a `model` container and a `proxy` sidecar.
fn templated(model_image: &str, proxy_image: &str, env: &str) -> Serving {
    Serving {
        template: Some(
            serde_json::from_value(json!({"spec": {"containers": [
                {"name": "model", "image": model_image, "env": [{"name": "MODE", "value": env}]},
                {"name": "proxy", "image": proxy_image, "args": [format!("--mode={env}")]},
            ]}}))
            .unwrap(),
        ),
        replicas: 2,
        port: Some(8080),
        ..Default::default()
    }
}

#[test]
fn promote_sets_each_template_container_image_by_name() {
    let mut spec = md("2.4.0").spec;
    spec.serving = templated("scorer:2.4.0", "envoy:1.31", "staging");
    let up = upstream(spec);
    let mut down = prod();
    down.spec.serving = templated("scorer:2.3.1", "envoy:1.30", "prod");
    down.spec.serving.replicas = 6;
    let p = plan(&down, &up).unwrap();
    assert_eq!(p.spec.serving, {
        let mut s = templated("scorer:2.4.0", "envoy:1.31", "prod");
        s.replicas = 6;
        s
    });
    assert_eq!(p.artifact_fingerprint, up.spec.artifact_fingerprint());
    let changed: Vec<(&str, Option<&str>)> = p
        .changes
        .iter()
        .map(|c| (c.field.as_str(), c.to.as_deref()))
        .collect();
    assert_eq!(
        changed,
        [
            ("spec.model.version", Some("2.4.0")),
            ("container model image", Some("scorer:2.4.0")),
            ("container proxy image", Some("envoy:1.31")),
        ]
    );
    // The patch replaces the container list, with prod's own env and args in it.
    let containers = &p.patch["serving"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["env"][0]["value"], "prod");
    assert_eq!(containers[1]["args"][0], "--mode=prod");
    assert!(p.patch["serving"].get("replicas").is_none());
}

#[test]
fn a_simple_upstream_feeds_the_serving_container_of_a_template() {
    let up = upstream(md("2.4.0").spec);
    let mut down = prod();
    down.spec.serving = templated("registry.example.com/fraud-scorer:2.3.1", "x", "prod");
    let pod = down
        .spec
        .serving
        .template
        .as_mut()
        .unwrap()
        .spec
        .as_mut()
        .unwrap();
    pod.containers.truncate(1);
    let p = plan(&down, &up).unwrap();
    assert_eq!(p.artifact_fingerprint, up.spec.artifact_fingerprint());
}

#[test]
fn promote_refuses_what_would_not_be_the_upstream_artifact() {
    let mut spec = md("2.4.0").spec;
    spec.serving = templated("scorer:2.4.0", "envoy:1.31", "staging");
    let up = upstream(spec);
    // Prod runs the simple form: it cannot run the sidecar that ran upstream.
    let err = plan(&prod(), &up).unwrap_err().to_string();
    assert!(
        err.contains("cannot run the artifact that serves in payments-staging/fraud-scorer")
            && err.contains("[envoy:1.31, scorer:2.4.0]")
            && err.contains("would run [scorer:2.4.0]"),
        "{err}"
    );
}

#[test]
fn promote_says_already_and_refuses_without_an_upstream_or_an_active_version() {
    let up = upstream(staged_spec());
    let mut down = prod();
    down.spec.model = staged_spec().model;
    down.spec.serving.image = Some("registry.example.com/fraud-scorer:2.4.0".into());
    let p = plan(&down, &up).unwrap();
    assert!(p.already);
    assert!(
        text(&p).starts_with("fraud-scorer in payments-prod already names 2.4.0 (artifact sha256:"),
        "{}",
        text(&p)
    );

    let mut alone = prod();
    alone.spec.promotion = None;
    let err = plan(&alone, &up).unwrap_err().to_string();
    assert!(
        err.starts_with("payments-prod/fraud-scorer has no spec.promotion.from"),
        "{err}"
    );

    let mut idle = up.clone();
    idle.status = None;
    let err = plan(&prod(), &idle).unwrap_err().to_string();
    assert!(
        err.contains("the upstream payments-staging/fraud-scorer has nothing active"),
        "{err}"
    );
}

#[test]
fn promote_notes_what_the_gate_will_still_say() {
    let mut up = upstream(staged_spec());
    up.spec.promotion = None;
    up.status.as_mut().unwrap().history[0].available_since = None;
    let p = plan(&prod(), &up).unwrap();
    assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    assert!(p.notes[0].contains("UpstreamNotShared"), "{:?}", p.notes);
    assert!(p.notes[1].contains("not available"), "{:?}", p.notes);
}

#[test]
fn a_merge_patch_has_the_changes_and_nulls_for_removals() {
    let old = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2], "f": "x"});
    let new = json!({"a": 1, "b": {"c": 2, "d": 4}, "e": [1], "g": true});
    assert_eq!(
        merge_patch(&old, &new),
        json!({"b": {"d": 4}, "e": [1], "f": null, "g": true})
    );
}

#[test]
fn the_manifest_to_commit_has_no_status_and_none_of_accords_annotations() {
    let mut down = prod();
    down.metadata.annotations = Some(BTreeMap::from([
        (labels::CANDIDATE_AUTHOR.to_string(), "alice".to_string()),
        (labels::LAST_APPLIED.to_string(), "{}".to_string()),
        ("team.example.com/note".to_string(), "keep".to_string()),
    ]));
    down.status = Some(Default::default());
    let p = plan(&down, &upstream(staged_spec())).unwrap();
    let manifest = manifest(&down, &p.spec).unwrap();
    assert_eq!(manifest["apiVersion"], "accord.dev/v1alpha1");
    assert_eq!(manifest["kind"], "ModelDeployment");
    assert_eq!(manifest["metadata"]["namespace"], "payments-prod");
    assert_eq!(
        manifest["metadata"]["annotations"],
        json!({"team.example.com/note": "keep"})
    );
    assert!(manifest["metadata"].get("resourceVersion").is_none());
    assert!(manifest.get("status").is_none());
    assert_eq!(manifest["spec"]["model"]["version"], "2.4.0");
    assert_eq!(manifest["spec"]["serving"]["replicas"], 6);
}
