//! The local control plane is a real one: Deployments roll out onto KWOK nodes, the
//! scheduler refuses what does not fit, identities come from static tokens, and the
//! API server reports the pinned version.

use std::time::Duration;

use accord_e2e::{Kubectl, TestNamespace, poll};
use serde_json::Value;

#[test]
fn api_server_reports_the_pinned_version() {
    let versions =
        std::fs::read_to_string(accord_e2e::repo_root().join("e2e/cluster/versions.env")).unwrap();
    let pinned = versions
        .lines()
        .find_map(|l| l.strip_prefix("K8S_VERSION="))
        .expect("K8S_VERSION pinned");
    let version = Kubectl::admin().ok(&["get", "--raw", "/version"]).json();
    assert_eq!(version["gitVersion"], pinned, "{version}");
}

#[test]
fn deployment_becomes_available_on_kwok_nodes() {
    let ns = TestNamespace::create("deploy");
    let admin = Kubectl::admin();
    admin.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        &ns.name,
        "--image=registry.example.com/web:1",
        "--replicas=3",
    ]);
    poll(
        "deployment web to have 3 available replicas",
        Duration::from_secs(60),
        || {
            let d = admin
                .get_json(&["deployment", "web", "-n", &ns.name])
                .ok_or("no deployment")?;
            (d["status"]["availableReplicas"] == 3)
                .then_some(())
                .ok_or_else(|| d["status"].to_string())
        },
    );
    let pods = admin
        .get_json(&["pods", "-n", &ns.name, "-l", "app=web"])
        .unwrap();
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 3);
    for pod in pods {
        assert_eq!(pod["status"]["phase"], "Running", "{}", pod["status"]);
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        assert!(node.starts_with("kwok-node-"), "scheduled on {node:?}");
    }
}

#[test]
fn pod_larger_than_any_node_stays_pending() {
    let ns = TestNamespace::create("pending");
    ns.wait_for_default_service_account();
    let admin = Kubectl::admin();
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "huge", "namespace": ns.name},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/huge:1",
                  "resources": {"requests": {"cpu": "1000"}}}]}
    });
    let out = admin.apply(&pod.to_string());
    assert!(out.success, "{}", out.stderr);
    let condition = poll(
        "the scheduler to mark the pod Unschedulable",
        Duration::from_secs(30),
        || {
            let p = admin
                .get_json(&["pod", "huge", "-n", &ns.name])
                .ok_or("no pod")?;
            let conditions = p["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            conditions
                .into_iter()
                .find(|c| c["type"] == "PodScheduled" && c["reason"] == "Unschedulable")
                .ok_or_else(|| p["status"].to_string())
        },
    );
    assert!(
        condition["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Insufficient cpu"),
        "{condition}"
    );
    let p = admin.get_json(&["pod", "huge", "-n", &ns.name]).unwrap();
    assert_eq!(p["status"]["phase"], "Pending");
    assert!(
        p["spec"]["nodeName"].is_null(),
        "a pod that fits nowhere was bound to {}",
        p["spec"]["nodeName"]
    );
}

fn whoami(user: &str) -> (String, Vec<String>) {
    let review = Kubectl::user(user)
        .ok(&["auth", "whoami", "-o", "json"])
        .json();
    let info = &review["status"]["userInfo"];
    let groups = info["groups"].as_array().map(|g| {
        g.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    });
    (
        info["username"].as_str().unwrap_or_default().to_string(),
        groups.unwrap_or_default(),
    )
}

#[test]
fn static_users_authenticate_with_their_groups() {
    let (name, groups) = whoami("alice");
    assert_eq!(name, "alice");
    assert!(
        groups.contains(&"data-platform-eng".to_string()),
        "{groups:?}"
    );
    let (name, groups) = whoami("dave");
    assert_eq!(name, "dave");
    assert!(
        groups.contains(&"data-platform-eng".to_string())
            && groups.contains(&"ml-platform-eng".to_string())
    );
    let (name, groups) = whoami("mallory");
    assert_eq!(name, "mallory");
    assert_eq!(
        groups,
        ["system:authenticated"],
        "mallory belongs to no team"
    );
}

#[test]
fn users_are_not_admins_rbac_is_enforced() {
    let out = Kubectl::user("mallory").run(&["get", "secrets", "-n", "kube-system"]);
    assert!(!out.success, "mallory could read kube-system secrets");
    assert!(out.stderr.contains("forbidden"), "{}", out.stderr);
}

#[test]
fn service_account_tokens_can_be_issued() {
    let token = Kubectl::admin()
        .ok(&[
            "create",
            "token",
            "default",
            "-n",
            "default",
            "--duration=10m",
        ])
        .stdout;
    assert_eq!(token.trim().split('.').count(), 3, "not a JWT: {token}");
}
