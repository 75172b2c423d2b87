//! A GitOps tenant: a ServiceAccount bound only to the built-in `admin` role in its own
//! namespace, with the chart's roles installed (they aggregate into `edit` and so into
//! `admin`) — how Flux multi-tenancy and Argo CD projects run. It must be able to
//! apply, re-apply and withdraw signed sign-offs with server-side apply (a PATCH, even
//! for a new object), while Accord still decides who signed them.

use std::time::Duration;

use accord_e2e::{
    ChartRoles, Kubectl, Operator, TestNamespace, cluster_dir, keygen, plugin_command, poll,
    tenant, tenant_user,
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

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

#[test]
fn a_tenant_with_only_admin_in_its_namespace_applies_and_withdraws_signed_sign_offs() {
    let _guard = accord_e2e::exclusive();
    let ns = TestNamespace::create("tenant");
    let namespace = ns.name.as_str();
    let _operator = Operator::start(
        "tenant",
        "accord-operator",
        &["--gitops-identities", &tenant_user(namespace)],
    );
    let _roles = ChartRoles::install();
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
