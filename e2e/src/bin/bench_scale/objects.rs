//! The objects the benchmark writes, as JSON: ModelDeployments, HandoffPolicies and
//! Attestations, the baseline's Deployments and ConfigMaps, and the `List` that carries
//! a batch of them to one `kubectl`; the `_in` forms write into another namespace;
//! `spec.monitoring` for `GUARDS=1`.

use serde_json::{Value, json};

use crate::{BASELINE_NS, NS, STAGING_NS, upstream};

pub(super) fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

pub(super) fn model(name: &str) -> Value {
    model_in(NS, name)
}

/// A model; with `UPSTREAMS=1`, each in the benchmark namespace comes through its
/// staging twin of the same name (same artifact), carrying `drift`, and each staging
/// twin lists the benchmark namespace as its downstream.
pub(super) fn model_in(namespace: &str, name: &str) -> Value {
    let mut md = plain_model(namespace, name);
    if upstream::enabled() && namespace == NS {
        md["spec"]["promotion"] = json!({"from": {"namespace": STAGING_NS, "name": name},
                                         "soak": "0s", "carry": ["drift"]});
    }
    if namespace == STAGING_NS {
        md["spec"]["promotion"] = json!({"downstream": [NS]});
    }
    md
}

fn plain_model(namespace: &str, name: &str) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
    "metadata": {"name": name, "namespace": namespace},
    "spec": {
        "owners": {"data": "data-platform", "platform": "ml-platform", "application": "payments-app"},
        "model": {"name": name, "version": "1.0.0"},
        "serving": {"image": format!("registry.example.com/{name}:1.0.0"), "replicas": 0},
        "handoff": {"checklist": [{"id": "drift", "owner": "data"}, {"id": "latency", "owner": "platform"}]},
        "rollback": {"mode": "Automatic"}
    }})
}

/// Policy `k` of the benchmark: it selects every benchmark ModelDeployment and asks for
/// nothing they do not already need (the items they have, a 30-day maxAge, an
/// auto-approve rule that never applies to a first version, a RACI row), so it costs
/// the operator its matching, merging and rule judging on every decision but no extra
/// sign-off.
pub(super) fn policy(k: usize) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": format!("bench-scale-{k:02}")},
        "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NS}},
                 "requiredItems": [{"id": if k.is_multiple_of(2) { "drift" } else { "latency" },
                                    "owner": if k.is_multiple_of(2) { "data" } else { "platform" }}],
                 "attestations": {"maxAge": "720h"},
                 "autoApprove": [{"name": "patch", "items": ["drift", "latency"]}],
                 "responsibilities": [{"stage": "Deployment", "responsible": ["platform"], "accountable": "platform"}]}})
}

/// `spec.monitoring` for `GUARDS=1`: one guard on the model's error ratio at
/// `address`, at the default interval (30 s: `intervalSeconds` left out).
pub(super) fn monitoring(address: &str) -> Value {
    json!({"address": address,
           "guards": [{"name": "error-rate",
                       "query": "model_error_ratio{namespace=\"{{namespace}}\",model=\"{{name}}\",version=\"{{version}}\"}",
                       "maxValue": 0.05, "for": "5m", "owner": "platform", "action": "RollBack"}]})
}

pub(super) fn attestation(md: &str, item: &str) -> Value {
    attestation_in(NS, md, item)
}

pub(super) fn attestation_in(namespace: &str, md: &str, item: &str) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
        "metadata": {"name": format!("{md}-{item}"), "namespace": namespace},
        "spec": {"modelDeployment": md, "item": item, "version": "1.0.0"}})
}

pub(super) fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": BASELINE_NS},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "model", "image": format!("registry.example.com/{name}:1.0.0")}]}}}})
}

pub(super) fn config_map(name: &str) -> Value {
    config_map_in(BASELINE_NS, name)
}

pub(super) fn config_map_in(namespace: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace}, "data": {"version": "1.0.0"}})
}
