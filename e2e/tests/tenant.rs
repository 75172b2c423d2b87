//! A GitOps tenant: a ServiceAccount bound only to the built-in `admin` role in its own
//! namespace, with the chart's roles installed (they aggregate into `edit` and so into
//! `admin`) — how Flux multi-tenancy and Argo CD projects run. It must be able to
//! apply, re-apply and withdraw signed sign-offs with server-side apply (a PATCH, even
//! for a new object), while Accord still decides who signed them.

use std::{path::PathBuf, process::Command, time::Duration};

use accord_e2e::{
    Kubectl, Operator, TestNamespace, cluster_dir, plugin_command, poll, repo_root, run_tool,
    token_kubeconfig,
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const TENANT: &str = "tenant";

/// The chart's aggregated roles for people, rendered by Helm and applied as admin;
/// removed again when dropped, so a later `helm install` finds no stray objects.
struct ChartRoles(String);

impl ChartRoles {
    fn install() -> Self {
        let chart = repo_root().join("charts/accord");
        let (ok, rendered) = run_tool(
            "helm",
            &[
                "template",
                "accord",
                chart.to_str().unwrap(),
                "--show-only",
                "templates/user-roles.yaml",
            ],
            None,
            &[],
        );
        assert!(ok, "helm template failed: {rendered}");
        let out = Kubectl::admin().apply(&rendered);
        assert!(out.success, "{}", out.stderr);
        Self(rendered)
    }
}

impl Drop for ChartRoles {
    fn drop(&mut self) {
        let _ = Kubectl::admin()
            .run_with_stdin(&["delete", "--ignore-not-found", "-f", "-"], Some(&self.0));
    }
}

/// Whether the built-in `admin` ClusterRole, as aggregated by the controller-manager,
/// grants `verb` on Attestations.
fn admin_role_grants(verb: &str) -> bool {
    let role = Kubectl::admin()
        .get_json(&["clusterrole", "admin"])
        .expect("the built-in admin role");
    role["rules"].as_array().into_iter().flatten().any(|rule| {
        let has = |key: &str, want: &str| {
            rule[key]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == want || x == "*"))
        };
        has("apiGroups", "accord.dev") && has("resources", "attestations") && has("verbs", verb)
    })
}

fn keygen(dir: &std::path::Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join(format!("{name}.pub")));
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen");
    let public = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    (path, public.trim().to_string())
}

/// alice's signed sign-off of `item`, as `kubectl accord attest --sign` prints it.
fn signed_by_alice(namespace: &str, item: &str, key: &std::path::Path) -> String {
    let out = plugin_command()
        .arg("--kubeconfig")
        .arg(cluster_dir().join("users/alice.kubeconfig"))
        .args(["attest", "fraud-scorer", "--item", item, "--sign", "--key"])
        .arg(key)
        .args(["-n", namespace, "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "alice could not sign {item}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn attestation(namespace: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&["attestation", name, "-n", namespace])
}

fn status(namespace: &str) -> Value {
    Kubectl::admin()
        .get_json(&["md", "fraud-scorer", "-n", namespace])
        .map(|md| md["status"].clone())
        .unwrap_or_default()
}

fn counted_for(namespace: &str, item: &str) -> Option<String> {
    status(namespace)["checklist"]
        .as_array()?
        .iter()
        .find(|i| i["id"] == item && i["attested"] == true)
        .and_then(|i| i["attestedBy"].as_str().map(String::from))
}

/// The tenant's namespace, ServiceAccount and `admin` RoleBinding; its kubectl.
fn tenant(namespace: &str) -> Kubectl {
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": TENANT, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "tenant-admin", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
         "subjects": [{"kind": "ServiceAccount", "name": TENANT, "namespace": namespace}]}
    ]});
    let out = Kubectl::admin().apply(&objects.to_string());
    assert!(out.success, "{}", out.stderr);
    Kubectl::with_kubeconfig(
        &format!("system:serviceaccount:{namespace}:{TENANT}"),
        token_kubeconfig(TENANT, namespace),
    )
}

#[test]
fn a_tenant_with_only_admin_in_its_namespace_applies_and_withdraws_signed_sign_offs() {
    let _guard = accord_e2e::exclusive();
    let ns = TestNamespace::create("tenant");
    let namespace = ns.name.as_str();
    let tenant_user = format!("system:serviceaccount:{namespace}:{TENANT}");
    let _operator = Operator::start(
        "tenant",
        "accord-operator",
        &["--gitops-identities", &tenant_user],
    );
    let _roles = ChartRoles::install();
    poll("the chart's roles to aggregate into admin", WAIT, || {
        (admin_role_grants("patch") && admin_role_grants("update"))
            .then_some(())
            .ok_or_else(|| "admin does not grant patch and update on attestations yet".to_string())
    });
    let tenant = tenant(namespace);

    // The tenant applies the model (as Git holds it) and alice's Team holds her key.
    let keys = cluster_dir().join("tenant-keys").join(namespace);
    std::fs::create_dir_all(&keys).unwrap();
    let (alice_key, alice_pub) = keygen(&keys, "alice");
    let data = format!("{namespace}-data");
    let team = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": data},
        "spec": {"members": {"users": ["alice"]}, "signingKeys": [{"user": "alice", "key": alice_pub}]}});
    assert!(Kubectl::admin().apply(&team.to_string()).success);
    let model = json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "fraud-scorer", "namespace": namespace},
        "spec": {
            "owners": {"data": data, "platform": "ml-platform", "application": "payments-app"},
            "model": {"name": "fraud-scorer", "version": "2.4.0"},
            "serving": {"image": "registry.example.com/fraud-scorer:2.4.0", "replicas": 1},
            "handoff": {"checklist": [{"id": "drift", "owner": "data"}, {"id": "latency", "owner": "platform"}]},
            "rollback": {"mode": "Automatic", "progressDeadlineSeconds": 30}
        }
    });
    let out = tenant.run_with_stdin(
        &["apply", "--server-side", "-f", "-"],
        Some(&model.to_string()),
    );
    assert!(out.success, "the tenant applies its model: {}", out.stderr);
    poll("the candidate to wait", WAIT, || {
        (status(namespace)["phase"] == "AwaitingAttestations")
            .then_some(())
            .ok_or_else(|| status(namespace).to_string())
    });

    // Apply: server-side, as Flux's kustomize-controller does under the tenant.
    let signed = signed_by_alice(namespace, "drift", &alice_key);
    let sent: Value = serde_json::from_str(&signed).unwrap();
    let name = sent["metadata"]["name"].as_str().unwrap().to_string();
    let apply = || tenant.run_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&signed));
    let out = apply();
    assert!(
        out.success,
        "the tenant applies the signed sign-off: {}",
        out.stderr
    );
    let stored = attestation(namespace, &name).expect("stored");
    assert_eq!(stored["spec"], sent["spec"], "stored exactly as signed");
    poll("alice's signed sign-off to count", WAIT, || {
        (counted_for(namespace, "drift").as_deref() == Some("alice"))
            .then_some(())
            .ok_or_else(|| status(namespace)["checklist"].to_string())
    });

    // Re-apply (every sync does): admitted, and nothing changes.
    let before = attestation(namespace, &name).unwrap();
    let out = apply();
    assert!(out.success, "the tenant re-applies: {}", out.stderr);
    let after = attestation(namespace, &name).unwrap();
    assert_eq!(
        before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"],
        "a re-apply of the same sign-off writes nothing"
    );
    assert_eq!(after["spec"], sent["spec"]);

    // A re-apply that alters the signed spec is still Accord's to refuse.
    let mut altered = sent.clone();
    altered["spec"]["evidence"] = json!("https://ci.example.com/runs/forged");
    let out = tenant.run_with_stdin(
        &["apply", "--server-side", "-f", "-"],
        Some(&altered.to_string()),
    );
    assert!(
        !out.success,
        "an altered sign-off was applied: {}",
        out.stdout
    );
    assert_eq!(
        attestation(namespace, &name).unwrap()["spec"],
        sent["spec"],
        "the stored sign-off is unchanged"
    );

    // Withdraw: removed from Git, the tenant prunes it.
    let out = tenant.run(&["delete", "attestation", &name, "-n", namespace]);
    assert!(out.success, "the tenant withdraws it: {}", out.stderr);
    assert!(attestation(namespace, &name).is_none(), "withdrawn");
    poll("the withdrawn sign-off to stop counting", WAIT, || {
        counted_for(namespace, "drift")
            .is_none()
            .then_some(())
            .ok_or_else(|| status(namespace)["checklist"].to_string())
    });
}
