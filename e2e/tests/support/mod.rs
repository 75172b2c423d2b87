//! Helpers shared by the operator end-to-end tests: manifests, attesting as the
//! static users, and reading what a user would see.
#![allow(dead_code)]

use std::time::Duration;

use accord_e2e::{Kubectl, poll};
use serde_json::{Value, json};

/// Which Team each static user signs for (by their group).
pub fn team_of(user: &str) -> &'static str {
    match user {
        "alice" => "data-platform",
        "bob" => "ml-platform",
        "carol" => "payments-app",
        other => panic!("no team for {other}"),
    }
}

/// A ModelDeployment owned by the example Teams with one required item per role:
/// `drift` (data), `latency` (platform), `kpis` (application).
pub fn model_deployment(namespace: &str, name: &str, version: &str) -> Value {
    json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "owners": {"data": "data-platform", "platform": "ml-platform", "application": "payments-app"},
            "model": {"name": name, "version": version},
            "serving": {"image": format!("registry.example.com/{name}:{version}"), "replicas": 2, "port": 8080},
            "handoff": {"checklist": [
                {"id": "drift", "owner": "data"},
                {"id": "latency", "owner": "platform"},
                {"id": "kpis", "owner": "application"}
            ]},
            "rollback": {"mode": "Automatic", "progressDeadlineSeconds": 10}
        }
    })
}

pub fn create(object: &Value) {
    let out = Kubectl::admin().apply(&object.to_string());
    assert!(out.success, "apply failed: {}", out.stderr);
}

/// Patches a ModelDeployment (`patch_type` merge or json) as `kubectl`'s identity; it
/// must be admitted.
fn patch_md_with(kubectl: Kubectl, namespace: &str, name: &str, patch_type: &str, patch: &Value) {
    kubectl.ok(&[
        "patch",
        "md",
        name,
        "-n",
        namespace,
        "--type",
        patch_type,
        "-p",
        &patch.to_string(),
    ]);
}

/// Merge-patches a ModelDeployment as admin (the spec author).
pub fn patch_md(namespace: &str, name: &str, patch: Value) {
    patch_md_with(Kubectl::admin(), namespace, name, "merge", &patch);
}

/// Moves a ModelDeployment to `version` (model version and image).
pub fn set_version(namespace: &str, name: &str, version: &str) {
    patch_md(
        namespace,
        name,
        json!({"spec": {"model": {"version": version}, "serving": {"image": format!("registry.example.com/{name}:{version}")}}}),
    );
}

/// `user` attests `item` of `md` for `version`, acting as themselves.
pub fn attest(user: &str, namespace: &str, md: &str, item: &str, version: &str) {
    let attestation = json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "Attestation",
        "metadata": {"name": format!("{md}-{version}-{item}"), "namespace": namespace},
        "spec": {"modelDeployment": md, "item": item, "version": version,
                 "attestedBy": user, "team": team_of(user)}
    });
    create_as(user, &attestation);
}

/// `user` attests `item` as themselves under the Attestation name `name` (the webhook
/// records who and for which team).
pub fn attest_as_named(
    user: &str,
    namespace: &str,
    md: &str,
    item: &str,
    version: &str,
    name: &str,
) {
    let attestation = json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelDeployment": md, "item": item, "version": version}
    });
    create_as(user, &attestation);
}

/// `user` creates `attestation` (any manifest) as themselves; it must be admitted.
pub fn create_as(user: &str, attestation: &Value) {
    let out =
        Kubectl::user(user).run_with_stdin(&["create", "-f", "-"], Some(&attestation.to_string()));
    assert!(
        out.success,
        "{user} could not create {}: {}",
        attestation["metadata"]["name"], out.stderr
    );
}

/// alice, bob and carol attest every item of `md` for `version`.
pub fn attest_all(namespace: &str, md: &str, version: &str) {
    attest("alice", namespace, md, "drift", version);
    attest("bob", namespace, md, "latency", version);
    attest("carol", namespace, md, "kpis", version);
}

pub fn get_md(namespace: &str, name: &str) -> Value {
    Kubectl::admin()
        .get_json(&["md", name, "-n", namespace])
        .unwrap_or_else(|| panic!("md {namespace}/{name} missing"))
}

pub fn condition(md: &Value, type_: &str) -> Value {
    md["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

/// Waits until the ModelDeployment reports `phase`, returning it.
pub fn wait_phase(namespace: &str, name: &str, phase: &str, timeout: Duration) -> Value {
    poll(
        &format!("{namespace}/{name} to reach phase {phase}"),
        timeout,
        || {
            let md = get_md(namespace, name);
            (md["status"]["phase"] == phase)
                .then(|| md.clone())
                .ok_or_else(|| md["status"].to_string())
        },
    )
}

pub fn deployment(namespace: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&["deployment", name, "-n", namespace])
}

/// The image the managed Deployment's pod template runs.
pub fn deployment_image(namespace: &str, name: &str) -> Option<String> {
    deployment(namespace, name).and_then(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .map(String::from)
    })
}

/// Creates `name` in `namespace` and takes it through full sign-off to Serving.
pub fn serving(
    namespace: &str,
    name: &str,
    version: &str,
    customize: impl FnOnce(&mut Value),
) -> Value {
    let mut md = model_deployment(namespace, name, version);
    customize(&mut md);
    create(&md);
    attest_all(namespace, name, version);
    wait_phase(namespace, name, "Serving", Duration::from_secs(60))
}

/// The newest entry of a ModelDeployment's `status.history` (null when none).
pub fn last_history(md: &Value) -> Value {
    md["status"]["history"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .unwrap_or(Value::Null)
}

/// `user` applies a JSON patch to a ModelDeployment; it must be admitted.
pub fn json_patch_md_as(user: &str, namespace: &str, name: &str, patch: &Value) {
    patch_md_with(Kubectl::user(user), namespace, name, "json", patch);
}

/// A KWOK node in a pool of its own (label `e2e.accord.dev/pool=<pool>`), for a
/// version pinned to it by nodeSelector; removing the label later makes the scheduler
/// really refuse that version's pods. Returns the node's name.
pub fn pool_node(pool: &str) -> String {
    let node = format!("{pool}-pool");
    create(&json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node, "annotations": {"kwok.x-k8s.io/node": "fake"},
                     "labels": {"e2e.accord.dev/pool": pool, "type": "kwok", "kubernetes.io/os": "linux"}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "20"},
                   "capacity": {"cpu": "4", "memory": "8Gi", "pods": "20"}}}));
    node
}

/// `name` serving 1.0.0 pinned to `pool_node(pool)`, then 2.0.0 anywhere; the pool's
/// label is then taken off its node, so 1.0.0 can no longer be scheduled.
pub fn serving_with_unschedulable_previous(namespace: &str, name: &str, pool: &str) -> String {
    let node = pool_node(pool);
    let pinned = json!({"spec": {"nodeSelector": {"e2e.accord.dev/pool": pool},
        "containers": [{"name": "model", "image": format!("registry.example.com/{name}:1.0.0")}]}});
    serving(namespace, name, "1.0.0", |md| {
        md["spec"]["serving"] = json!({"replicas": 1, "template": pinned});
    });
    patch_md(
        namespace,
        name,
        json!({"spec": {"model": {"version": "2.0.0"},
        "serving": {"template": null, "image": format!("registry.example.com/{name}:2.0.0"), "port": 8080}}}),
    );
    attest_all(namespace, name, "2.0.0");
    poll(
        &format!("{name} 2.0.0 to serve"),
        Duration::from_secs(90),
        || {
            let md = get_md(namespace, name);
            (md["status"]["activeVersion"] == "2.0.0" && md["status"]["phase"] == "Serving")
                .then_some(())
                .ok_or_else(|| md["status"].to_string())
        },
    );
    Kubectl::admin().ok(&["label", "node", &node, "e2e.accord.dev/pool-"]);
    node
}

/// Creates the Secret `<namespace>-hooks` in accord-system holding one notification URL
/// per `(key, path)`: `http://127.0.0.1:<port>/<path>`; returns its name.
pub fn hook_secret(namespace: &str, port: u16, hooks: &[(&str, &str)]) -> String {
    let secret = format!("{namespace}-hooks");
    let literals: Vec<String> = hooks
        .iter()
        .map(|(key, path)| format!("--from-literal={key}=http://127.0.0.1:{port}/{path}"))
        .collect();
    let mut args = vec![
        "create",
        "secret",
        "generic",
        &secret,
        "-n",
        "accord-system",
    ];
    args.extend(literals.iter().map(String::as_str));
    Kubectl::admin().ok(&args);
    secret
}
