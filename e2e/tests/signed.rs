//! Signed sign-offs through kubectl, without a GitOps engine: a signed Attestation
//! counts from any applier because its signature (not the request) says who signed
//! off, and every way an ordinary user might forge, alter, replay, delete or re-key one
//! is refused — each attempt asserting the answer and the stored state afterwards.
//! The same flows under a real Flux are in `gitops.rs`.

use std::{path::PathBuf, time::Duration};

use accord_e2e::{
    Kubectl, Operator, Output, TestNamespace, Unchanged, apply_file, assert_denied_by_accord,
    assert_not_stored, cluster_dir, keygen, plugin_command, poll, token_kubeconfig,
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
/// A ServiceAccount standing in for a GitOps controller.
const APPLIER: &str = "e2e-gitops-applier";

fn applier_user() -> String {
    format!("system:serviceaccount:accord-system:{APPLIER}")
}

/// The applier's kubeconfig, with the red-team rights so that only Accord says no.
fn applier() -> Kubectl {
    let binding = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": APPLIER, "namespace": "accord-system"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": APPLIER},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team"},
         "subjects": [{"kind": "ServiceAccount", "name": APPLIER, "namespace": "accord-system"}]}
    ]});
    let out = Kubectl::admin().apply(&binding.to_string());
    assert!(out.success, "{}", out.stderr);
    Kubectl::with_kubeconfig(&applier_user(), token_kubeconfig(APPLIER, "accord-system"))
}

fn user_kubeconfig(user: &str) -> PathBuf {
    cluster_dir()
        .join("users")
        .join(format!("{user}.kubeconfig"))
}

/// `kubectl-accord` as `user` against the cluster.
fn plugin(user: &str, args: &[&str]) -> (bool, String, String) {
    let out = plugin_command()
        .arg("--kubeconfig")
        .arg(user_kubeconfig(user))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kubectl patch KIND NAME [-n NAMESPACE] --type merge -p PATCH` as `kubectl`'s user.
fn merge_patch(
    kubectl: &Kubectl,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    patch: &Value,
) -> Output {
    let patch = patch.to_string();
    let mut args = vec!["patch", kind, name, "--type", "merge", "-p", &patch];
    if let Some(namespace) = namespace {
        args.extend(["-n", namespace]);
    }
    kubectl.run(&args)
}

fn create_as(kubectl: &Kubectl, manifest: &str) -> Output {
    kubectl.run_with_stdin(&["create", "-f", "-"], Some(manifest))
}

fn attestation(namespace: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&["attestation", name, "-n", namespace])
}

fn md(namespace: &str) -> Value {
    Kubectl::admin()
        .get_json(&["md", "fraud-scorer", "-n", namespace])
        .unwrap()
}

fn attested_by(namespace: &str, item: &str) -> Option<String> {
    md(namespace)["status"]["checklist"]
        .as_array()?
        .iter()
        .find(|i| i["id"] == item && i["attested"] == true)
        .map(|i| i["attestedBy"].as_str().unwrap_or_default().to_string())
}

fn name_of(manifest: &str) -> String {
    let value: Value = serde_json::from_str(manifest).expect("JSON manifest");
    value["metadata"]["name"].as_str().unwrap().to_string()
}

#[test]
fn signed_sign_offs_count_from_any_applier_and_resist_forgery() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start(
        "signed",
        "accord-operator",
        &["--gitops-identities", &applier_user()],
    );
    apply_file("e2e/manifests/red-team-rbac.yaml");
    let ns = TestNamespace::create("signed");
    let namespace = ns.name.as_str();
    let arena = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "red-team", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": format!("{namespace}-teams")},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team-teams"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
                      {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}]}
    ]});
    assert!(Kubectl::admin().apply(&arena.to_string()).success);
    let keys = cluster_dir().join("signed-keys").join(namespace);
    std::fs::create_dir_all(&keys).unwrap();
    let (alice_key, alice_pub) = keygen(&keys, "alice");
    let (bob_key, bob_pub) = keygen(&keys, "bob");
    let (mallory_key, mallory_pub) = keygen(&keys, "mallory");
    let data = format!("{namespace}-data");
    let platform = format!("{namespace}-platform");
    let teams = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": data},
         "spec": {"members": {"users": ["alice"]}, "signingKeys": [{"user": "alice", "key": alice_pub}]}},
        {"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": platform},
         "spec": {"members": {"users": ["bob"]}, "signingKeys": [{"user": "bob", "key": bob_pub}]}}
    ]});
    assert!(Kubectl::admin().apply(&teams.to_string()).success);
    let model = json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "fraud-scorer", "namespace": namespace},
        "spec": {
            "owners": {"data": data, "platform": platform, "application": "payments-app"},
            "model": {"name": "fraud-scorer", "version": "2.4.0"},
            "serving": {"image": "registry.example.com/fraud-scorer:2.4.0", "replicas": 1, "port": 8080},
            "handoff": {"checklist": [{"id": "drift", "owner": "data"}, {"id": "latency", "owner": "platform"}]},
            "rollback": {"mode": "Automatic", "progressDeadlineSeconds": 30}
        }
    });
    assert!(Kubectl::admin().apply(&model.to_string()).success);
    poll("the candidate to wait", WAIT, || {
        (md(namespace)["status"]["phase"] == "AwaitingAttestations")
            .then_some(())
            .ok_or_else(|| md(namespace)["status"].to_string())
    });

    // alice signs drift against the cluster: the plugin reads the ModelDeployment and
    // asks the API server who she is.
    let sign = |user: &str, key: &PathBuf, item: &str| -> String {
        let (ok, out, err) = plugin(
            user,
            &[
                "attest",
                "fraud-scorer",
                "--item",
                item,
                "--sign",
                "--key",
                key.to_str().unwrap(),
                "-n",
                namespace,
                "-o",
                "json",
            ],
        );
        assert!(ok, "{user} could not sign {item}: {err}");
        out
    };
    let (ok, statement, err) = plugin(
        "alice",
        &[
            "attest",
            "fraud-scorer",
            "--item",
            "drift",
            "--print-statement",
            "-n",
            namespace,
        ],
    );
    assert!(ok, "{err}");
    assert!(
        statement.starts_with(&format!(
            "accord.dev/attestation/v1\nnamespace: {namespace}\n"
        )) && statement.contains("\nsigner: alice\n"),
        "{statement}"
    );
    let alice_signed = sign("alice", &alice_key, "drift");
    let alice_name = name_of(&alice_signed);

    // Attempt 1: mallory applies alice's genuine sign-off → admitted unchanged, and it
    // counts as alice's: the signature, not the applier, says who signed off.
    let out = create_as(&Kubectl::user("mallory"), &alice_signed);
    assert!(out.success, "{}", out.stderr);
    let stored = attestation(namespace, &alice_name).unwrap();
    let sent: Value = serde_json::from_str(&alice_signed).unwrap();
    assert_eq!(stored["spec"], sent["spec"], "stored exactly as signed");
    poll("alice's signed sign-off to count", WAIT, || {
        let stored = attestation(namespace, &alice_name).unwrap();
        (attested_by(namespace, "drift").as_deref() == Some("alice")
            && stored["status"]["verifiedBy"]["user"] == "alice")
            .then_some(())
            .ok_or_else(|| stored["status"].to_string())
    });
    let file = keys.join("alice-signed.json");
    std::fs::write(&file, &alice_signed).unwrap();
    let (ok, report, err) = plugin(
        "alice",
        &["verify", "-f", file.to_str().unwrap(), "-n", namespace],
    );
    assert!(
        ok && report.contains("alice signed item drift"),
        "{report}{err}"
    );

    // Attempt 2: the GitOps identity applies an unsigned sign-off → refused.
    let unsigned = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
        "metadata": {"name": "latency-unsigned", "namespace": namespace},
        "spec": {"modelDeployment": "fraud-scorer", "item": "latency", "version": "2.4.0"}})
    .to_string();
    let out = create_as(&applier(), &unsigned);
    let case = "unsigned from a GitOps identity";
    assert_denied_by_accord(case, &out, &["is a GitOps identity"]);
    assert_not_stored(case, "attestation", Some(namespace), "latency-unsigned");

    // Attempt 3: mallory signs with her own key, claiming to be bob → refused.
    let (ok, forged, err) = plugin(
        "mallory",
        &[
            "attest",
            "fraud-scorer",
            "--item",
            "latency",
            "--sign",
            "--signer",
            "bob",
            "--key",
            mallory_key.to_str().unwrap(),
            "-n",
            namespace,
            "-o",
            "json",
        ],
    );
    assert!(ok, "{err}");
    let out = create_as(&Kubectl::user("mallory"), &forged);
    let case = "a forged signer";
    assert_denied_by_accord(case, &out, &["not one of bob's signing keys"]);
    assert_not_stored(case, "attestation", Some(namespace), &name_of(&forged));

    // Attempt 4: mallory changes a field of alice's genuine sign-off (and its name) → refused.
    let mut tampered: Value = serde_json::from_str(&alice_signed).unwrap();
    tampered["metadata"]["name"] = json!("drift-tampered");
    tampered["spec"]["evidence"] = json!("https://ci.example.com/runs/forged");
    let out = create_as(&Kubectl::user("mallory"), &tampered.to_string());
    let case = "a tampered field";
    assert_denied_by_accord(case, &out, &["does not match the statement"]);
    assert_not_stored(case, "attestation", Some(namespace), "drift-tampered");

    // Attempt 5: mallory withdraws alice's sign-off → refused; it still counts.
    let alices = Unchanged::read("attestation", Some(namespace), &alice_name);
    let out =
        Kubectl::user("mallory").run(&["delete", "attestation", &alice_name, "-n", namespace]);
    assert_denied_by_accord("mallory withdraws", &out, &["may not withdraw"]);
    alices.assert_kept("mallory withdraws");

    // Attempt 6: mallory adds her own key for alice to alice's Team → refused.
    let patch = json!({"spec": {"signingKeys": [{"user": "alice", "key": alice_pub}, {"user": "alice", "key": mallory_pub}]}});
    let team = Unchanged::read("team", None, &data);
    let out = merge_patch(&Kubectl::user("mallory"), "team", &data, None, &patch);
    assert_denied_by_accord("mallory adds a key", &out, &["may not change Team"]);
    team.assert_same("mallory adds a key", &["/spec/signingKeys"]);
    assert_eq!(
        team.before()["spec"]["signingKeys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // alice revokes her own key (she is a member): her sign-off stops counting at once,
    // and the offline check says why.
    let fingerprint = stored_fingerprint(namespace, &alice_name);
    let patch = json!({"spec": {"revokedKeys": [fingerprint]}});
    let out = merge_patch(&Kubectl::user("alice"), "team", &data, None, &patch);
    assert!(out.success, "{}", out.stderr);
    poll("alice's sign-off to stop counting", WAIT, || {
        let stored = attestation(namespace, &alice_name).unwrap();
        (attested_by(namespace, "drift").is_none() && stored["status"].get("verifiedBy").is_none())
            .then_some(())
            .ok_or_else(|| stored["status"].to_string())
    });
    let (ok, _, err) = plugin(
        "alice",
        &["verify", "-f", file.to_str().unwrap(), "-n", namespace],
    );
    assert!(!ok && err.contains("is revoked in team"), "{err}");

    // bob signs latency: it counts, but drift is owed again, so nothing is promoted.
    let bob_signed = sign("bob", &bob_key, "latency");
    let out = create_as(&applier(), &bob_signed);
    assert!(out.success, "{}", out.stderr);
    poll("bob's sign-off to count", WAIT, || {
        attested_by(namespace, "latency")
            .filter(|u| u == "bob")
            .map(drop)
            .ok_or_else(|| md(namespace)["status"]["checklist"].to_string())
    });
    assert!(
        md(namespace)["status"]
            .get("activeVersion")
            .is_none_or(Value::is_null)
    );

    // Attempt 7: bob introduces a new candidate and signs it himself → refused
    // (separation of duties holds for signed sign-offs too).
    let bump = json!({"spec": {"model": {"version": "2.5.0"}, "serving": {"image": "registry.example.com/fraud-scorer:2.5.0"}}});
    let out = merge_patch(
        &Kubectl::user("bob"),
        "md",
        "fraud-scorer",
        Some(namespace),
        &bump,
    );
    assert!(out.success, "{}", out.stderr);
    poll("the new candidate", WAIT, || {
        (md(namespace)["status"]["candidate"]["version"] == "2.5.0")
            .then_some(())
            .ok_or_else(|| md(namespace)["status"].to_string())
    });
    let bob_own = sign("bob", &bob_key, "latency");
    let out = create_as(&Kubectl::user("bob"), &bob_own);
    assert_denied_by_accord("self sign-off", &out, &["separation of duties"]);
    assert_not_stored(
        "self sign-off",
        "attestation",
        Some(namespace),
        &name_of(&bob_own),
    );

    let _ = Kubectl::admin().run(&[
        "delete",
        "clusterrolebinding",
        &format!("{namespace}-teams"),
    ]);
    let _ = Kubectl::admin().run(&["delete", "team", &data, &platform]);
}

fn stored_fingerprint(namespace: &str, name: &str) -> String {
    attestation(namespace, name).unwrap()["status"]["verifiedBy"]["keyFingerprint"]
        .as_str()
        .expect("verified")
        .to_string()
}
