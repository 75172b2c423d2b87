//! The set-up steps: the two namespaces emptied, the chart's ServiceAccount and RBAC
//! installed with helm, the benchmark's HandoffPolicies.

use std::process::Command;

use accord_e2e::{Kubectl, cluster_dir, repo_root};
use serde_json::{Value, json};

use crate::{
    NAMESPACES,
    kubectl::kubectl_stdin,
    objects::{list, policy},
    say,
};

/// Deletes the benchmark's namespaces left by an earlier run and creates them empty.
pub(super) fn recreate_namespaces(admin: &Kubectl) {
    for ns in NAMESPACES {
        let _ = admin.run(&["delete", "namespace", ns, "--wait=true", "--timeout=600s"]);
        admin.ok(&["create", "namespace", ns]);
    }
}

/// `helm upgrade --install` of the chart with no pods, no webhook configurations and no
/// CRDs: the operator's ServiceAccount and RBAC only.
pub(super) fn install_chart_rbac() {
    say(
        "installing the chart's ServiceAccount and RBAC (helm install, no pods, no webhook configurations)",
    );
    let helm = Command::new("helm")
        // deploy/operator-rbac.yaml (make e2e, make run) creates the Role and RoleBinding
        // `accord-record-keys-reader` the chart names alike: adopt them.
        .args(["upgrade", "--install", "--take-ownership", "accord"])
        .arg(repo_root().join("charts/accord"))
        .args([
            "-n",
            "accord-system",
            "--create-namespace",
            "--set",
            "replicaCount=0",
            "--set",
            "webhook.createConfigurations=false",
            // The cluster's CRDs stay kubectl's (e2e/cluster and make run install them).
            "--set",
            "crds.enabled=false",
        ])
        .env("KUBECONFIG", cluster_dir().join("kubeconfig"))
        .output()
        .expect("helm runs");
    assert!(
        helm.status.success(),
        "helm: {}",
        String::from_utf8_lossy(&helm.stderr)
    );
}

/// Replaces the benchmark's HandoffPolicies (label `accord-bench=scale`) with `POLICIES`
/// (default 0) copies of [`policy`].
pub(super) fn create_policies(admin: &Kubectl) {
    let policies: usize = std::env::var("POLICIES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let _ = admin.run(&["delete", "handoffpolicies", "-l", "accord-bench=scale"]);
    if policies > 0 {
        say(&format!(
            "{policies} HandoffPolicies select every benchmark ModelDeployment"
        ));
        let mut objects: Vec<Value> = (0..policies).map(policy).collect();
        for object in &mut objects {
            object["metadata"]["labels"] = json!({"accord-bench": "scale"});
        }
        kubectl_stdin("admin", &["create", "-f", "-"], &list(objects));
    }
}
