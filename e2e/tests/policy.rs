//! HandoffPolicies on the real control plane: a policy selecting `tier=prod`-style
//! namespaces tightens the ModelDeployments there and nowhere else; the two-person rule
//! counts distinct people; `maxAge` expires old sign-offs; only admins decide
//! policies; deleting one never un-promotes what serves.

mod support;

use std::time::Duration;

use accord_e2e::{
    Kubectl, Operator, TestNamespace, Unchanged, apply_file, assert_denied_by_accord,
    assert_not_stored, cluster_dir, plugin_command, poll,
};
use serde_json::{Value, json};
use support::{
    attest, attest_as_named, condition, create, get_md, model_deployment, serving, wait_phase,
};

const WAIT: Duration = Duration::from_secs(60);

fn item(md: &Value, id: &str) -> Value {
    md["status"]["checklist"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id).cloned())
        .unwrap_or(Value::Null)
}

fn policy(name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&["handoffpolicy", name])
}

fn counted(namespace: &str, attestation: &str) -> (String, String) {
    let att = Kubectl::admin()
        .get_json(&["attestation", attestation, "-n", namespace])
        .unwrap_or_default();
    let c = att["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Counted").cloned())
        .unwrap_or_default();
    (
        c["status"].as_str().unwrap_or_default().to_string(),
        c["reason"].as_str().unwrap_or_default().to_string(),
    )
}

fn label_namespace(namespace: &str, label: &str) {
    Kubectl::admin().ok(&["label", "namespace", namespace, label, "--overwrite"]);
}

#[test]
fn a_policy_tightens_the_models_it_selects_and_only_admins_decide_it() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("policy", "accord-operator", &[]);
    let prod = TestNamespace::create("policy-prod");
    let dev = TestNamespace::create("policy-dev");
    let (p, d) = (prod.name.as_str(), dev.name.as_str());
    // A label only this run uses, so the policy touches nothing else on the cluster.
    let tier = format!("accord-e2e-tier-{p}");
    label_namespace(p, &format!("{tier}=prod"));
    label_namespace(d, &format!("{tier}=dev"));
    let name = format!("{p}-baseline");
    // RBAC lets the static users write policies, so every refusal below is Accord's.
    apply_file("e2e/manifests/red-team-rbac.yaml");
    let subjects: Vec<Value> = ["alice", "dave", "mallory"]
        .map(|u| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u}))
        .into();
    let grant = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("{p}-policies")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team-policies"},
        "subjects": subjects});
    create(&grant);

    // Serving before the policy exists; a candidate waiting in each namespace, whose
    // own checklist makes drift optional.
    serving(p, "live", "1.0.0", |_| {});
    let optional_drift =
        |md: &mut Value| md["spec"]["handoff"]["checklist"][0]["required"] = json!(false);
    for ns in [p, d] {
        let mut md = model_deployment(ns, "scorer", "2.0.0");
        optional_drift(&mut md);
        create(&md);
        wait_phase(ns, "scorer", "AwaitingAttestations", WAIT);
    }

    let manifest = json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": name},
        "spec": {
            "description": "every production model: two data people on drift, and a bias review",
            "namespaceSelector": {"matchLabels": {tier.clone(): "prod"}},
            "requiredItems": [
                {"id": "drift", "owner": "data", "minApprovals": 2},
                {"id": "bias-reviewed", "owner": "application", "description": "fairness across segments"}
            ]
        }
    })
    .to_string();

    // Only admins create policies: a team member and an outsider are refused.
    for user in ["alice", "mallory"] {
        let case = format!("{user} creates the policy");
        let out = Kubectl::user(user).run_with_stdin(&["create", "-f", "-"], Some(&manifest));
        let denial = format!("{user} may not create HandoffPolicy {name}");
        assert_denied_by_accord(&case, &out, &[&denial]);
        assert_not_stored(&case, "handoffpolicy", None, &name);
    }
    let out = Kubectl::admin().run_with_stdin(&["create", "-f", "-"], Some(&manifest));
    assert!(out.success, "{}", out.stderr);

    // The prod candidate gets the policy's items at once; dev's does not.
    poll("the policy to apply in prod", WAIT, || {
        let md = get_md(p, "scorer");
        let (drift, bias) = (item(&md, "drift"), item(&md, "bias-reviewed"));
        (drift["required"] == true
            && drift["minApprovals"] == 2
            && bias["requiredBy"] == json!([format!("HandoffPolicy/{name}")]))
        .then_some(())
        .ok_or_else(|| md["status"]["checklist"].to_string())
    });
    let drift = item(&get_md(p, "scorer"), "drift");
    assert_eq!(
        drift["requiredBy"],
        json!(["ModelDeployment", format!("HandoffPolicy/{name}")]),
        "required: false in the ModelDeployment cannot override the policy"
    );
    let dev_md = get_md(d, "scorer");
    assert!(item(&dev_md, "bias-reviewed").is_null(), "{dev_md}");
    assert_eq!(item(&dev_md, "drift")["required"], false);
    poll("the policy to count what it selects", WAIT, || {
        let policy = policy(&name).ok_or("gone")?;
        (policy["status"]["matchedModelDeployments"] == 2
            && condition(&policy, "Ready")["status"] == "True")
            .then_some(())
            .ok_or_else(|| policy["status"].to_string())
    });
    let live = get_md(p, "live");
    assert_eq!(
        live["status"]["phase"], "Serving",
        "a new policy never un-promotes"
    );
    assert_eq!(live["status"]["activeVersion"], "1.0.0");

    // Nobody but an admin weakens it.
    let baseline = Unchanged::read("handoffpolicy", None, &name);
    let weaken =
        json!({"spec": {"requiredItems": [{"id": "drift", "owner": "data", "minApprovals": 1}]}});
    for user in ["alice", "dave"] {
        let out = Kubectl::user(user).run(&[
            "patch",
            "handoffpolicy",
            &name,
            "--type",
            "merge",
            "-p",
            &weaken.to_string(),
        ]);
        let denial = format!("{user} may not change HandoffPolicy {name}");
        assert_denied_by_accord(&format!("{user} weakens the policy"), &out, &[&denial]);
        let out = Kubectl::user(user).run(&["delete", "handoffpolicy", &name]);
        let denial = format!("{user} may not delete HandoffPolicy {name}");
        assert_denied_by_accord(&format!("{user} deletes the policy"), &out, &[&denial]);
    }
    // Nor forges its status.
    let forged = json!({"status": {"matchedModelDeployments": 0}});
    let out = Kubectl::user("mallory").run(&[
        "patch",
        "handoffpolicy",
        &name,
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        &forged.to_string(),
    ]);
    let case = "mallory forges the policy's status";
    let denial = format!("mallory may not write the status of HandoffPolicy {name}");
    assert_denied_by_accord(case, &out, &[&denial]);
    baseline.assert_still(case, "/status/matchedModelDeployments", 2);
    baseline.assert_same(case, &["/metadata/generation"]);
    baseline.assert_still(case, "/spec/requiredItems/0/minApprovals", 2);

    // dev: drift stays optional there, so bob and carol promote it.
    attest("bob", d, "scorer", "latency", "2.0.0");
    attest("carol", d, "scorer", "kpis", "2.0.0");
    wait_phase(d, "scorer", "Serving", WAIT);

    // prod: every item, and drift from two distinct people of data-platform.
    attest("bob", p, "scorer", "latency", "2.0.0");
    attest("carol", p, "scorer", "kpis", "2.0.0");
    // carol signs off the policy's item with the plugin (it knows the policy's items).
    let out = plugin_command()
        .arg("--kubeconfig")
        .arg(cluster_dir().join("users/carol.kubeconfig"))
        .args(["attest", "scorer", "--item", "bias-reviewed", "-n", p])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    attest_as_named("alice", p, "scorer", "drift", "2.0.0", "scorer-drift-alice");
    attest_as_named(
        "alice",
        p,
        "scorer",
        "drift",
        "2.0.0",
        "scorer-drift-alice-again",
    );
    poll("alice's second sign-off to count once", WAIT, || {
        let md = get_md(p, "scorer");
        let verdict = counted(p, "scorer-drift-alice-again");
        (verdict == ("False".into(), "SamePerson".into())
            && item(&md, "drift")["approvals"].as_array().map(Vec::len) == Some(1)
            && item(&md, "bias-reviewed")["attested"] == true)
            .then_some(())
            .ok_or_else(|| format!("{verdict:?} {}", md["status"]["checklist"]))
    });
    let md = get_md(p, "scorer");
    assert_eq!(
        md["status"]["phase"], "AwaitingAttestations",
        "one person is not two"
    );
    assert!(
        condition(&md, "HandoffComplete")["message"]
            .as_str()
            .unwrap_or_default()
            .contains("drift (1 of 2 people)"),
        "{}",
        condition(&md, "HandoffComplete")
    );
    // kubectl accord explain says who asked for what and who is still needed.
    let out = plugin_command()
        .arg("--kubeconfig")
        .arg(cluster_dir().join("kubeconfig"))
        .args(["explain", "md", "scorer", "-n", p])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("policies: {name}")), "{text}");
    let drift_row = text
        .lines()
        .find(|l| l.starts_with("drift"))
        .unwrap_or_default();
    assert!(
        drift_row.contains(&format!("ModelDeployment, HandoffPolicy/{name}"))
            && drift_row.contains("1 more person of data-platform")
            && drift_row.contains("alice"),
        "{text}"
    );
    // dave is in two groups (data and ml platform): one more person for data-platform.
    attest_as_named("dave", p, "scorer", "drift", "2.0.0", "scorer-drift-dave");
    let md = wait_phase(p, "scorer", "Serving", WAIT);
    let drift_approvers: Vec<&str> = md["status"]["history"]
        .as_array()
        .and_then(|h| h.last())
        .and_then(|e| e["approvals"].as_array())
        .unwrap()
        .iter()
        .filter(|a| a["item"] == "drift")
        .filter_map(|a| a["attestedBy"].as_str())
        .collect();
    assert_eq!(drift_approvers, ["alice", "dave"]);
    assert_eq!(
        item(&md, "drift")["approvals"].as_array().map(Vec::len),
        Some(2)
    );

    let _ = Kubectl::admin().run(&["delete", "clusterrolebinding", &format!("{p}-policies")]);

    // Deleting the policy never un-promotes what serves.
    Kubectl::admin().ok(&["delete", "handoffpolicy", &name]);
    for model in ["live", "scorer"] {
        poll(
            &format!("{model} to drop the deleted policy's items"),
            WAIT,
            || {
                let md = get_md(p, model);
                item(&md, "bias-reviewed")
                    .is_null()
                    .then_some(())
                    .ok_or_else(|| md["status"]["checklist"].to_string())
            },
        );
        let md = get_md(p, model);
        assert_eq!(md["status"]["phase"], "Serving", "{model}");
    }
}

#[test]
fn max_age_expires_old_sign_offs_and_signed_policies_refuse_unsigned_ones() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("policy-age", "accord-operator", &[]);
    let ns = TestNamespace::create("policy-age");
    let n = ns.name.as_str();
    let selector = format!("accord-e2e-aging-{n}");
    let name = format!("{n}-recent");
    let aging = json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {selector.clone(): "yes"}},
                 "attestations": {"maxAge": "10s"}}
    });
    create(&aging);
    let mut md = model_deployment(n, "aging", "1.0.0");
    md["metadata"]["labels"] = json!({selector.clone(): "yes"});
    md["spec"]["handoff"]["checklist"] = json!([
        {"id": "latency", "owner": "platform"},
        {"id": "kpis", "owner": "application"}
    ]);
    create(&md);
    wait_phase(n, "aging", "AwaitingAttestations", WAIT);
    attest("bob", n, "aging", "latency", "1.0.0");
    std::thread::sleep(Duration::from_secs(12));
    attest("carol", n, "aging", "kpis", "1.0.0");
    poll("bob's old sign-off to expire", WAIT, || {
        let md = get_md(n, "aging");
        let verdict = counted(n, "aging-1.0.0-latency");
        (verdict == ("False".into(), "Expired".into())
            && counted(n, "aging-1.0.0-kpis").0 == "True")
            .then_some(())
            .ok_or_else(|| format!("{verdict:?} {}", md["status"]["checklist"]))
    });
    let md = get_md(n, "aging");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    let reason = item(&md, "latency")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains(&format!("maxAge 10s of HandoffPolicy {name}")),
        "{reason}"
    );
    // A fresh sign-off counts.
    attest_as_named("bob", n, "aging", "latency", "1.0.0", "aging-latency-again");
    wait_phase(n, "aging", "Serving", WAIT);

    // A policy requiring signed sign-offs: an unsigned one does not count.
    let strict = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {selector.clone(): "yes"}},
                 "attestations": {"require": "Signed"}}});
    create(&strict);
    support::set_version(n, "aging", "1.1.0");
    wait_phase(n, "aging", "AwaitingAttestations", WAIT);
    attest("bob", n, "aging", "latency", "1.1.0");
    poll(
        "an unsigned sign-off to be refused by the policy",
        WAIT,
        || {
            let verdict = counted(n, "aging-1.1.0-latency");
            (verdict == ("False".into(), "SignatureRequired".into()))
                .then_some(())
                .ok_or_else(|| format!("{verdict:?}"))
        },
    );
    assert_eq!(get_md(n, "aging")["status"]["activeVersion"], "1.0.0");
    Kubectl::admin().ok(&["delete", "handoffpolicy", &name]);
}

/// Runs the plugin as the cluster admin; returns stdout (it must succeed).
fn plugin_as_admin(args: &[&str]) -> String {
    let out = plugin_command()
        .arg("--kubeconfig")
        .arg(cluster_dir().join("kubeconfig"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn set_release(namespace: &str, name: &str, version: &str, data: &str) {
    support::patch_md(
        namespace,
        name,
        json!({"spec": {
            "model": {"version": version, "trainingData": {"digest": data}},
            "serving": {"image": format!("registry.example.com/{name}:{version}")}
        }}),
    );
}

/// Waits until `md` waits for sign-off of `version` with `id`'s reason containing `why`.
fn refused_for(namespace: &str, md: &str, version: &str, id: &str, why: &str) -> Value {
    poll(
        &format!("{version} to be refused auto-approval"),
        WAIT,
        || {
            let md = get_md(namespace, md);
            let reason = item(&md, id)["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (md["status"]["candidateVersion"] == version
                && md["status"]["phase"] == "AwaitingAttestations"
                && reason.contains(why))
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
        },
    )
}

#[test]
fn patch_releases_on_the_same_data_are_auto_approved_and_nothing_else_is() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("policy-auto", "accord-operator", &[]);
    let ns = TestNamespace::create("policy-auto");
    let n = ns.name.as_str();
    let selector = format!("accord-e2e-patches-{n}");
    let name = format!("{n}-patches");
    let (data_a, data_b) = (
        format!("sha256:{}", "a".repeat(64)),
        format!("sha256:{}", "b".repeat(64)),
    );
    let rule = json!({"name": "patch-releases", "items": ["drift", "latency", "kpis"],
        "description": "a patch release on the same training data changes no evidence"});
    let mut manifest = json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {selector.clone(): "yes"}},
            "requiredItems": [{"id": "kpis", "owner": "application", "minApprovals": 2}],
            "autoApprove": [rule],
            "responsibilities": [
                {"stage": "IncidentResponse", "responsible": ["platform"], "accountable": "application",
                 "consulted": ["data"]},
                {"stage": "Monitoring", "responsible": ["platform", "application"], "accountable": "platform",
                 "consulted": ["platform"]}
            ]
        }
    });
    // Apply-time validation names the field: no two-person item is automatic, and a
    // role is not both responsible and consulted.
    let out = Kubectl::admin().apply(&manifest.to_string());
    assert!(!out.success, "accepted: {}", out.stdout);
    assert!(
        out.stderr.contains("spec.autoApprove")
            && out
                .stderr
                .contains("the two-person rule is never automatic")
            && out.stderr.contains("spec.responsibilities[1].consulted"),
        "{}",
        out.stderr
    );
    assert_not_stored("two-person rule automatic", "handoffpolicy", None, &name);
    manifest["spec"]["requiredItems"][0]["minApprovals"] = json!(1);
    manifest["spec"]["responsibilities"][1]["consulted"] = json!(["data"]);
    create(&manifest);

    // 1.0.0 is signed off by people: there is nothing to compare it with.
    let label = |md: &mut Value| {
        md["metadata"]["labels"] = json!({selector.clone(): "yes"});
        md["spec"]["model"]["trainingData"] = json!({"digest": data_a});
    };
    let md = serving(n, "fraud", "1.0.0", label);
    let first = md["status"]["history"][0].clone();
    assert_eq!(first["reason"], "AllItemsAttested");
    assert!(first["autoApproval"].is_null());
    assert_eq!(first["trainingDataDigest"], json!(data_a));

    // 1.0.1 on the same data: promoted with no Attestation at all, and recorded.
    set_release(n, "fraud", "1.0.1", &data_a);
    let md = poll("the patch release to be promoted", WAIT, || {
        let md = get_md(n, "fraud");
        (md["status"]["activeVersion"] == "1.0.1" && md["status"]["phase"] == "Serving")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    let entry = md["status"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(entry["reason"], "AutoApproved");
    assert!(entry["seal"].is_string(), "{entry}");
    let auto = &entry["autoApproval"];
    assert_eq!(auto["baselineVersion"], "1.0.0");
    assert_eq!(auto["baselineFingerprint"], first["fingerprint"]);
    assert_eq!(auto["trainingDataDigest"], json!(data_a));
    assert!(auto["introducedBy"].is_string(), "{auto}");
    let items: Vec<&str> = auto["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["policy"], format!("HandoffPolicy/{name}"));
            assert_eq!(i["rule"], "patch-releases");
            i["item"].as_str().unwrap()
        })
        .collect();
    assert_eq!(items, ["drift", "latency", "kpis"]);
    assert_eq!(
        item(&md, "kpis")["autoApprovedBy"],
        format!("HandoffPolicy/{name} rule patch-releases")
    );
    let listed = Kubectl::admin()
        .get_json(&["attestations", "-n", n])
        .unwrap();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(3),
        "only 1.0.0's three sign-offs exist"
    );

    // A minor release is not a patch release: people must sign it off.
    set_release(n, "fraud", "1.1.0", &data_a);
    let md = refused_for(
        n,
        "fraud",
        "1.1.0",
        "latency",
        "not a patch release of the active version 1.0.1",
    );
    assert_eq!(md["status"]["activeVersion"], "1.0.1");
    assert_eq!(md["status"]["pendingItems"], 3);
    // A patch release on other data is not either.
    set_release(n, "fraud", "1.0.2", &data_b);
    let md = refused_for(n, "fraud", "1.0.2", "drift", "trained on other data");
    assert_eq!(md["status"]["activeVersion"], "1.0.1");
    std::thread::sleep(Duration::from_secs(3));
    let md = get_md(n, "fraud");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert_eq!(md["status"]["activeVersion"], "1.0.1");
    assert!(
        md["status"]["history"].as_array().map(Vec::len) == Some(2),
        "nothing was promoted: {}",
        md["status"]["history"]
    );

    // Only admins may add a rule: alice (a team member with RBAC to write policies)
    // is refused, and the policy is unchanged.
    apply_file("e2e/manifests/red-team-rbac.yaml");
    let grant = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("{n}-policies")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team-policies"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]});
    create(&grant);
    let widen = json!({"spec": {"autoApprove": [{"name": "anything", "items": ["drift", "latency", "kpis"]}]}});
    let patches = Unchanged::read("handoffpolicy", None, &name);
    let out = Kubectl::user("alice").run(&[
        "patch",
        "handoffpolicy",
        &name,
        "--type",
        "merge",
        "-p",
        &widen.to_string(),
    ]);
    let denial = format!("alice may not change HandoffPolicy {name}");
    assert_denied_by_accord("alice widens the policy", &out, &[&denial]);
    patches.assert_still(
        "alice widens the policy",
        "/spec/autoApprove/0/name",
        "patch-releases",
    );
    let _ = Kubectl::admin().run(&["delete", "clusterrolebinding", &format!("{n}-policies")]);

    // The responsibility matrix, with the model's actual Teams.
    let text = plugin_as_admin(&["explain", "md", "fraud", "-n", n]);
    let row = text
        .lines()
        .find(|l| l.starts_with("incident response"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("ml-platform (platform)")
            && row.contains("payments-app (application)")
            && row.contains("data-platform (data)"),
        "{row}"
    );
    let text = plugin_as_admin(&["matrix", "-n", n]);
    let row = text
        .lines()
        .find(|l| l.contains("monitoring"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.starts_with(&format!("{n}/fraud"))
            && row.contains("ml-platform (platform), payments-app (application)"),
        "{row}"
    );
    let json: Value =
        serde_json::from_str(&plugin_as_admin(&["matrix", "-n", n, "-o", "json"])).unwrap();
    let incident = json[0]["responsibilities"]
        .as_array()
        .and_then(|r| r.iter().find(|s| s["stage"] == "incident response"))
        .cloned()
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(
        incident["accountable"],
        json!(["payments-app (application)"])
    );
    assert_eq!(
        incident["declaredBy"],
        json!([format!("HandoffPolicy/{name}")])
    );
    Kubectl::admin().ok(&["delete", "handoffpolicy", &name]);
}
