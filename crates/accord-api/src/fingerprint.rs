//! The candidate fingerprint: what a sign-off is about. One function computes it for
//! the controller, the webhook and the plugin, so all three agree byte for byte.
//!
//! It is `sha256:<hex>` of the canonical JSON (keys sorted, no whitespace) of
//! `{"model": spec.model, "run": <what runs>}`, where *what runs* is everything in
//! `spec.serving` that decides which code and data run — images, command, args, env,
//! envFrom, volumes and volume mounts — and nothing operational (replicas, resources,
//! probes, scheduling, ports, labels, annotations). The simple serving form is
//! described as the equivalent single container named `model`, so the two forms of
//! the same workload fingerprint alike.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::model_deployment::{ModelDeploymentSpec, SERVING_CONTAINER};

/// The fields of a container that decide what runs.
const CONTAINER_RUN_FIELDS: [&str; 7] = [
    "name",
    "image",
    "command",
    "args",
    "env",
    "envFrom",
    "volumeMounts",
];

/// Keeps only `fields` of a JSON object, dropping empty values so that an absent list
/// and an empty one fingerprint alike.
fn only(object: &Value, fields: &[&str]) -> Value {
    let kept: Map<String, Value> = fields
        .iter()
        .filter_map(|field| {
            let value = object.get(*field)?;
            let empty = value.is_null()
                || value.as_array().is_some_and(Vec::is_empty)
                || value.as_object().is_some_and(Map::is_empty);
            (!empty).then(|| (field.to_string(), value.clone()))
        })
        .collect();
    Value::Object(kept)
}

/// What runs, from a pod spec in JSON form: its containers' run fields (init
/// containers too) and its volumes.
pub fn run_identity(pod_spec: &Value) -> Value {
    let containers = |key: &str| -> Value {
        pod_spec
            .get(key)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|c| only(c, &CONTAINER_RUN_FIELDS))
                    .collect()
            })
            .map(Value::Array)
            .unwrap_or(Value::Null)
    };
    let mut run = Map::new();
    for key in ["containers", "initContainers"] {
        let list = containers(key);
        if list.as_array().is_some_and(|l| !l.is_empty()) {
            run.insert(key.to_string(), list);
        }
    }
    if let Some(volumes) = pod_spec
        .get("volumes")
        .filter(|v| v.as_array().is_some_and(|l| !l.is_empty()))
    {
        run.insert("volumes".into(), volumes.clone());
    }
    Value::Object(run)
}

/// Pod fields that decide what the model's pods may do, rather than what runs.
const POD_PRIVILEGE_FIELDS: [&str; 10] = [
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "securityContext",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostUsers",
    "shareProcessNamespace",
    "runtimeClassName",
];

/// What the model's pods may do: the pod's identity, host access and security
/// contexts (each container's too). Not part of the fingerprint (the design keeps it to
/// what runs), but changing it on an existing ModelDeployment is the platform team's
/// decision. The simple form always runs with Accord's restricted defaults.
pub fn privileges(serving: &crate::model_deployment::Serving) -> Value {
    let Some(pod) = serving.template.as_ref().and_then(|t| t.spec.as_ref()) else {
        return json!("restricted");
    };
    let pod = serde_json::to_value(pod).expect("pod specs serialize");
    let mut out = only(&pod, &POD_PRIVILEGE_FIELDS);
    for key in ["containers", "initContainers"] {
        let contexts: Vec<Value> = pod
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| only(c, &["name", "securityContext"]))
            .collect();
        if !contexts.is_empty() {
            out[key] = Value::Array(contexts);
        }
    }
    out
}

/// What runs, for the serving part of a spec.
fn serving_run(spec: &ModelDeploymentSpec) -> Value {
    let serving = &spec.serving;
    if let Some(pod) = serving.template.as_ref().and_then(|t| t.spec.as_ref()) {
        return run_identity(&serde_json::to_value(pod).expect("pod specs serialize"));
    }
    let container = json!({
        "name": SERVING_CONTAINER,
        "image": serving.image,
        "args": serving.args,
        "env": serving.env,
    });
    run_identity(&json!({"containers": [container]}))
}

/// Serializes `value` canonically: object keys sorted, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// `sha256:<hex>` of `value`'s canonical JSON.
pub fn sha256_of(value: &Value) -> String {
    let digest = Sha256::digest(canonical_json(value).as_bytes());
    format!("sha256:{}", hex::encode(digest))
}

/// The document a candidate fingerprint is the hash of.
pub fn candidate_document(spec: &ModelDeploymentSpec) -> Value {
    let model = serde_json::to_value(&spec.model).expect("the model serializes");
    json!({"model": model, "run": serving_run(spec)})
}

/// The candidate fingerprint of a ModelDeployment spec.
pub fn candidate_fingerprint(spec: &ModelDeploymentSpec) -> String {
    sha256_of(&candidate_document(spec))
}

/// The images of every container that runs (containers and init containers), sorted
/// and without repeats: what the artifact fingerprint takes from `spec.serving`.
pub fn running_images(spec: &ModelDeploymentSpec) -> Vec<String> {
    let run = serving_run(spec);
    let mut images: Vec<String> = ["containers", "initContainers"]
        .iter()
        .flat_map(|key| {
            run.get(*key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|c| c.get("image").and_then(Value::as_str).map(String::from))
        .collect();
    images.sort();
    images.dedup();
    images
}

/// The document an artifact fingerprint is the hash of: `{"images": [...], "model":
/// spec.model}` (docs/environments.md).
pub fn artifact_document(spec: &ModelDeploymentSpec) -> Value {
    let model = serde_json::to_value(&spec.model).expect("the model serializes");
    json!({"model": model, "images": running_images(spec)})
}

/// The artifact fingerprint: the candidate fingerprint without configuration — the
/// model and the image of every container that runs, nothing else (no env, args,
/// resources, replicas, probes or volumes). Sign-offs carry across environments only
/// for the same artifact.
pub fn artifact_fingerprint(spec: &ModelDeploymentSpec) -> String {
    sha256_of(&artifact_document(spec))
}

/// Fingerprints are long; messages show the first 12 hex digits, like `docker images`.
pub fn short(fingerprint: &str) -> &str {
    let hex = fingerprint.strip_prefix("sha256:").unwrap_or(fingerprint);
    &hex[..hex.len().min(12)]
}

/// A short content hash of `value`'s JSON form.
pub fn content_hash(value: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(value).expect("Accord's objects serialize");
    hex::encode(&Sha256::digest(&bytes)[..8])
}

impl ModelDeploymentSpec {
    /// The candidate fingerprint of this spec.
    pub fn fingerprint(&self) -> String {
        candidate_fingerprint(self)
    }

    /// The artifact fingerprint of this spec.
    pub fn artifact_fingerprint(&self) -> String {
        artifact_fingerprint(self)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
    use proptest::prelude::*;

    use super::*;
    use crate::testing::md;

    fn fingerprint_of(change: impl FnOnce(&mut ModelDeploymentSpec)) -> String {
        let mut spec = md("2.4.0").spec;
        change(&mut spec);
        candidate_fingerprint(&spec)
    }

    #[test]
    fn canonical_form_sorts_keys_and_has_no_whitespace() {
        let value = json!({"b": [1, {"z": true, "a": null}], "a": "x y"});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":"x y","b":[1,{"a":null,"z":true}]}"#
        );
    }

    #[test]
    fn it_is_a_sha256_over_the_documented_shape() {
        let spec = md("2.4.0").spec;
        let fingerprint = candidate_fingerprint(&spec);
        assert!(
            fingerprint.starts_with("sha256:") && fingerprint.len() == 71,
            "{fingerprint}"
        );
        // The document is exactly model + what runs, so a reader can recompute it.
        let expected = r#"{"model":{"name":"fraud-scorer","version":"2.4.0"},"run":{"containers":[{"image":"registry.example.com/fraud-scorer:2.4.0","name":"model"}]}}"#;
        assert_eq!(canonical_json(&candidate_document(&spec)), expected);
        assert_eq!(
            fingerprint,
            sha256_of(&serde_json::from_str(expected).unwrap())
        );
    }

    #[test]
    fn the_artifact_fingerprint_is_a_sha256_over_the_documented_shape() {
        let spec = md("2.4.0").spec;
        let expected = r#"{"images":["registry.example.com/fraud-scorer:2.4.0"],"model":{"name":"fraud-scorer","version":"2.4.0"}}"#;
        assert_eq!(canonical_json(&artifact_document(&spec)), expected);
        // Pinned: docs/environments.md quotes this value; any change breaks every carry.
        assert_eq!(
            artifact_fingerprint(&spec),
            "sha256:9c64d80ca89c7bb76b993063ac6a199446fb1c36e3c1ae3e5a60710306921bbb"
        );
    }

    #[test]
    fn the_artifact_is_the_model_and_the_images_and_nothing_else() {
        let base = artifact_fingerprint(&md("2.4.0").spec);
        let of = |change: &dyn Fn(&mut ModelDeploymentSpec)| {
            let mut spec = md("2.4.0").spec;
            change(&mut spec);
            artifact_fingerprint(&spec)
        };
        // Configuration is left out.
        assert_eq!(of(&|s| s.serving.replicas = 7), base);
        assert_eq!(of(&|s| s.serving.args = vec!["--fast".into()]), base);
        assert_eq!(
            of(&|s| s.serving.env = vec![EnvVar {
                name: "MODE".into(),
                value: Some("prod".into()),
                value_from: None,
            }]),
            base
        );
        assert_eq!(
            of(&|s| s.serving.resources = Some(ResourceRequirements::default())),
            base
        );
        // The model and the images are the artifact.
        assert_ne!(of(&|s| s.serving.image = Some("other:1".into())), base);
        assert_ne!(of(&|s| s.model.version = "2.4.1".into()), base);
        assert_ne!(
            of(&|s| s.model.digest = Some(format!("sha256:{}", "b".repeat(64)))),
            base
        );
        // The same workload in the template form, with a sidecar, differs by the sidecar.
        let mut templated = md("2.4.0").spec;
        templated.serving = crate::Serving {
            template: Some(
                serde_json::from_value(json!({"spec": {"containers": [
                    {"name": "model", "image": "registry.example.com/fraud-scorer:2.4.0",
                     "env": [{"name": "X", "value": "1"}]}]}}))
                .unwrap(),
            ),
            ..Default::default()
        };
        assert_eq!(artifact_fingerprint(&templated), base);
        let mut sidecar = templated.clone();
        let pod = sidecar
            .serving
            .template
            .as_mut()
            .unwrap()
            .spec
            .as_mut()
            .unwrap();
        pod.containers
            .push(serde_json::from_value(json!({"name": "proxy", "image": "envoy:1"})).unwrap());
        assert_ne!(artifact_fingerprint(&sidecar), base);
    }

    #[test]
    fn what_runs_counts() {
        let base = fingerprint_of(|_| {});
        type Change = Box<dyn FnOnce(&mut ModelDeploymentSpec)>;
        let changes: Vec<(&str, Change)> = vec![
            ("version", Box::new(|s| s.model.version = "2.4.1".into())),
            ("name", Box::new(|s| s.model.name = "other".into())),
            (
                "digest",
                Box::new(|s| s.model.digest = Some(format!("sha256:{}", "a".repeat(64)))),
            ),
            (
                "artifact",
                Box::new(|s| s.model.artifact = Some("s3://m/2".into())),
            ),
            (
                "image",
                Box::new(|s| s.serving.image = Some("evil:1".into())),
            ),
            (
                "args",
                Box::new(|s| s.serving.args = vec!["--unsafe".into()]),
            ),
            (
                "env",
                Box::new(|s| {
                    s.serving.env = vec![EnvVar {
                        name: "MODE".into(),
                        value: Some("x".into()),
                        value_from: None,
                    }]
                }),
            ),
        ];
        for (what, change) in changes {
            assert_ne!(
                fingerprint_of(change),
                base,
                "{what} must change the fingerprint"
            );
        }
    }

    #[test]
    fn operational_fields_do_not_count() {
        let base = fingerprint_of(|_| {});
        assert_eq!(fingerprint_of(|s| s.serving.replicas = 9), base);
        assert_eq!(fingerprint_of(|s| s.serving.port = None), base);
        assert_eq!(
            fingerprint_of(|s| s.serving.resources = Some(ResourceRequirements::default())),
            base
        );
        assert_eq!(
            fingerprint_of(|s| s.handoff.escalate_after = Some("1h".into())),
            base
        );
        assert_eq!(
            fingerprint_of(|s| s.rollback.progress_deadline_seconds = 99),
            base
        );
        assert_eq!(
            fingerprint_of(|s| s.serving.args = vec![]),
            base,
            "empty equals absent"
        );
    }

    #[test]
    fn the_simple_form_and_its_equivalent_template_fingerprint_alike() {
        let simple = md("2.4.0").spec;
        let mut templated = simple.clone();
        templated.serving = crate::Serving {
            replicas: 5,
            template: Some(
                serde_json::from_value(json!({"spec": {
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
                    "nodeSelector": {"accelerator": "nvidia-a100"},
                    "containers": [{"name": "model", "image": "registry.example.com/fraud-scorer:2.4.0",
                                    "readinessProbe": {"httpGet": {"port": 8080}},
                                    "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}))
                .unwrap(),
            ),
            ..Default::default()
        };
        assert_eq!(
            candidate_fingerprint(&templated),
            candidate_fingerprint(&simple)
        );
        // What runs in a template counts: a volume, a mount, a command, an init container.
        for change in [
            json!({"volumes": [{"name": "w", "emptyDir": {}}]}),
            json!({"containers": [{"name": "model", "image": "registry.example.com/fraud-scorer:2.4.0",
                                   "volumeMounts": [{"name": "w", "mountPath": "/w"}]}]}),
            json!({"containers": [{"name": "model", "image": "registry.example.com/fraud-scorer:2.4.0",
                                   "command": ["/bin/evil"]}]}),
            json!({"initContainers": [{"name": "fetch", "image": "busybox"}]}),
        ] {
            let mut changed = templated.clone();
            let mut pod = serde_json::to_value(
                changed
                    .serving
                    .template
                    .as_ref()
                    .unwrap()
                    .spec
                    .as_ref()
                    .unwrap(),
            )
            .unwrap();
            for (key, value) in change.as_object().unwrap() {
                pod[key] = value.clone();
            }
            changed.serving.template.as_mut().unwrap().spec =
                Some(serde_json::from_value(pod).unwrap());
            assert_ne!(
                candidate_fingerprint(&changed),
                candidate_fingerprint(&simple),
                "{change}"
            );
        }
    }

    #[test]
    fn run_identity_of_a_pod_spec_ignores_operational_fields() {
        let pod = json!({
            "containers": [{"name": "model", "image": "i", "resources": {"limits": {"cpu": "1"}},
                            "readinessProbe": {"httpGet": {"port": 8080}}, "ports": [{"containerPort": 8080}]}],
            "nodeSelector": {"gpu": "a100"}, "tolerations": [{"key": "gpu"}],
        });
        assert_eq!(
            run_identity(&pod),
            json!({"containers": [{"name": "model", "image": "i"}]})
        );
    }

    proptest! {
        /// Key order never matters; every value does.
        #[test]
        fn stable_across_field_order(keys in proptest::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{0,6}", 1..8)) {
            let forward: Map<String, Value> = keys.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let mut reversed = Map::new();
            for (k, v) in keys.iter().rev() {
                reversed.insert(k.clone(), json!(v));
            }
            prop_assert_eq!(sha256_of(&Value::Object(forward.clone())), sha256_of(&Value::Object(reversed)));
            let (first, _) = keys.iter().next().unwrap();
            let mut changed = forward.clone();
            changed.insert(first.clone(), json!("changed-value"));
            prop_assert_ne!(sha256_of(&Value::Object(forward)), sha256_of(&Value::Object(changed)));
        }

        /// Any image or version names a different candidate; any replica count the same.
        #[test]
        fn images_and_versions_count_replicas_do_not(image in "[a-z]{1,10}:[0-9]{1,3}", replicas in 0i32..100) {
            let base = fingerprint_of(|_| {});
            prop_assume!(image != "fraud-scorer:2.4.0");
            prop_assert_ne!(fingerprint_of(|s| s.serving.image = Some(image.clone())), base.clone());
            prop_assert_eq!(fingerprint_of(|s| s.serving.replicas = replicas), base);
        }
    }
}
