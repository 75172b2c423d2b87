//! The CRDs meet a real API server: every validation rule rejects bad input at
//! `kubectl apply` time with a message naming the offending field, and the examples
//! are accepted.

use accord_e2e::{Kubectl, TestNamespace, repo_root};
use serde_json::{Value, json};

fn model_deployment(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "owners": {"data": "data-platform", "platform": "ml-platform", "application": "payments-app"},
            "model": {"name": "fraud-scorer", "version": "2.4.0", "digest": format!("sha256:{}", "a".repeat(64))},
            "serving": {"image": "registry.example.com/fraud-scorer:2.4.0", "replicas": 2, "port": 8080},
            "handoff": {
                "checklist": [
                    {"id": "data-drift-checked", "owner": "data"},
                    {"id": "latency-slo-met", "owner": "platform"},
                    {"id": "business-kpis-approved", "owner": "application"}
                ],
                "escalateAfter": "24h"
            },
            "rollback": {"mode": "Automatic", "progressDeadlineSeconds": 600}
        }
    })
}

fn team(name: &str) -> Value {
    json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "Team",
        "metadata": {"name": name},
        "spec": {"members": {"groups": ["data-platform-eng"]}}
    })
}

fn attestation(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "Attestation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelDeployment": "fraud-scorer", "item": "data-drift-checked", "version": "2.4.0"}
    })
}

/// Sets (or with `Value::Null`, removes) the value at a JSON pointer.
fn with(mut object: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = object
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent} in object"));
    match (parent, value) {
        (Value::Object(map), Value::Null) => {
            map.remove(key);
        }
        (Value::Object(map), value) => {
            map.insert(key.to_string(), value);
        }
        (Value::Array(items), value) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{pointer} does not point into an object or array"),
    }
    object
}

struct Case {
    rule: &'static str,
    object: Value,
    /// Every string here must appear in kubectl's error.
    expect: &'static [&'static str],
}

#[test]
fn invalid_manifests_are_rejected_naming_the_field() {
    accord_e2e::prepare();
    let ns = TestNamespace::create("validation");
    let md = |name: &str| model_deployment(&ns.name, name);
    let att = |name: &str| attestation(&ns.name, name);
    let long = "v".repeat(64);
    let candidate = json!(format!("sha256:{}", "b".repeat(64)));
    let signature = json!({"signer": "alice", "signedAt": "2026-11-28T10:00:00Z",
        "sshsig": "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"});
    let signed = |name: &str| {
        with(
            with(att(name), "/spec/signature", signature.clone()),
            "/spec/candidate",
            candidate.clone(),
        )
    };
    let keyed = |name: &str| {
        let keyed = with(team(name), "/spec/members/users", json!(["alice"]));
        with(
            keyed,
            "/spec/signingKeys",
            json!([{"user": "alice", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8nI3Q0SPR7VSv9dRXTkP9HXm9aIrk5F1ZL6Wg0mwGx alice"}]),
        )
    };
    let dup_checklist =
        json!([{"id": "same", "owner": "data"}, {"id": "same", "owner": "platform"}]);
    let template = json!({"spec": {"containers": [{"name": "server", "image": "i:1"}]}});

    #[rustfmt::skip]
    let cases = vec![
        Case { rule: "soak and carry need an upstream", object: with(md("e1"), "/spec/promotion", json!({"soak": "24h", "carry": ["data-drift-checked"]})), expect: &["spec.promotion", "need spec.promotion.from"] },
        Case { rule: "soak is a Go-style duration", object: with(md("e2"), "/spec/promotion", json!({"from": {"namespace": "staging", "name": "fraud-scorer"}, "soak": "1 day"})), expect: &["spec.promotion.soak"] },
        Case { rule: "carry ids unique", object: with(md("e3"), "/spec/promotion", json!({"from": {"namespace": "staging", "name": "fraud-scorer"}, "carry": ["a", "a"]})), expect: &["spec.promotion.carry", "must be unique"] },
        Case { rule: "upstream namespace is a DNS label", object: with(md("e4"), "/spec/promotion", json!({"from": {"namespace": "Staging!", "name": "fraud-scorer"}})), expect: &["spec.promotion.from.namespace"] },
        Case { rule: "downstream namespaces are DNS labels", object: with(md("e5"), "/spec/promotion", json!({"downstream": ["prod", "No Such"]})), expect: &["spec.promotion.downstream[1]"] },
        Case { rule: "spec.owners required", object: with(md("c1"), "/spec/owners", Value::Null), expect: &["spec.owners: Required value"] },
        Case { rule: "each owner role required", object: with(md("c2"), "/spec/owners/platform", Value::Null), expect: &["spec.owners.platform: Required value"] },
        Case { rule: "model.version required", object: with(md("c3"), "/spec/model/version", Value::Null), expect: &["spec.model.version: Required value"] },
        Case { rule: "model.name required", object: with(md("c3b"), "/spec/model/name", Value::Null), expect: &["spec.model.name: Required value"] },
        Case { rule: "rollback plan required", object: with(md("c4"), "/spec/rollback", Value::Null), expect: &["spec.rollback: Required value"] },
        Case { rule: "rollback mode required", object: with(md("c4b"), "/spec/rollback/mode", Value::Null), expect: &["spec.rollback.mode: Required value"] },
        Case { rule: "serving: image or template (CEL)", object: with(md("c5"), "/spec/serving/image", Value::Null), expect: &["spec.serving", "set exactly one of image (the simple form) or template"] },
        Case { rule: "serving: not both forms (CEL)", object: with(md("c5b"), "/spec/serving/template", template.clone()), expect: &["spec.serving", "set exactly one of image (the simple form) or template"] },
        Case { rule: "serving: the template has the serving container (CEL)", object: with(with(md("c5c"), "/spec/serving/image", Value::Null), "/spec/serving/template", template.clone()), expect: &["spec.serving.template", "must include the serving container"] },
        Case { rule: "serving: the template is a pod template", object: with(with(md("c5d"), "/spec/serving/image", Value::Null), "/spec/serving/template", json!({"spec": {"containers": [{"name": "model", "image": "i:1", "ports": [{"containerPort": "http"}]}]}})), expect: &["spec.serving.template.spec.containers[0].ports[0].containerPort", "must be of type integer"] },
        Case { rule: "canary analysis: max or min (CEL)", object: with(md("c5e"), "/spec/rollout", json!({"canary": {"analysis": {"address": "http://p:9090", "query": "up", "maxValue": 1, "minValue": 0}}})), expect: &["spec.rollout.canary.analysis", "set exactly one of maxValue or minValue"] },
        Case { rule: "canary analysis: an http address", object: with(md("c5f"), "/spec/rollout", json!({"canary": {"analysis": {"address": "prometheus:9090", "query": "up", "maxValue": 1}}})), expect: &["spec.rollout.canary.analysis.address", "should match"] },
        Case { rule: "canary replicas at least 1", object: with(md("c5g"), "/spec/rollout", json!({"canary": {"replicas": 0}})), expect: &["spec.rollout.canary.replicas", "greater than or equal to 1"] },
        Case { rule: "item after enum", object: with(md("c5h"), "/spec/handoff/checklist/0/after", json!("Lunch")), expect: &["spec.handoff.checklist[0].after", "Unsupported value: \"Lunch\""] },
        Case { rule: "serving.image non-empty", object: with(md("c6"), "/spec/serving/image", json!("")), expect: &["spec.serving.image", "at least 1"] },
        Case { rule: "checklist owner enum", object: with(md("c7"), "/spec/handoff/checklist/0/owner", json!("security")), expect: &["spec.handoff.checklist[0].owner", "Unsupported value: \"security\""] },
        Case { rule: "rollback mode enum", object: with(md("c8"), "/spec/rollback/mode", json!("Sometimes")), expect: &["spec.rollback.mode", "Unsupported value: \"Sometimes\""] },
        Case { rule: "checklist at least one item", object: with(md("c9"), "/spec/handoff/checklist", json!([])), expect: &["spec.handoff.checklist", "at least 1 items"] },
        Case { rule: "checklist ids unique (CEL)", object: with(md("c10"), "/spec/handoff/checklist", dup_checklist), expect: &["spec.handoff.checklist", "item ids must be unique"] },
        Case { rule: "item id is a DNS-1123 label", object: with(md("c11"), "/spec/handoff/checklist/1/id", json!("Latency_SLO")), expect: &["spec.handoff.checklist[1].id", "should match"] },
        Case { rule: "checklist item owner required", object: with(md("c11b"), "/spec/handoff/checklist/0/owner", Value::Null), expect: &["spec.handoff.checklist[0].owner: Required value"] },
        Case { rule: "version is a label value (charset)", object: with(md("c12"), "/spec/model/version", json!("2.4.0+build.7")), expect: &["spec.model.version", "should match"] },
        Case { rule: "version is a label value (length)", object: with(md("c13"), "/spec/model/version", json!(long)), expect: &["spec.model.version", "Too long"] },
        Case { rule: "digest is sha256:<64 hex>", object: with(md("c14"), "/spec/model/digest", json!("sha256:abc123")), expect: &["spec.model.digest", "should match"] },
        Case { rule: "replicas at most 100", object: with(md("c15"), "/spec/serving/replicas", json!(101)), expect: &["spec.serving.replicas", "less than or equal to 100"] },
        Case { rule: "replicas not negative", object: with(md("c16"), "/spec/serving/replicas", json!(-1)), expect: &["spec.serving.replicas", "greater than or equal to 0"] },
        Case { rule: "replicas is an integer", object: with(md("c16b"), "/spec/serving/replicas", json!("two")), expect: &["spec.serving.replicas", "integer"] },
        Case { rule: "progress deadline at least 10s", object: with(md("c17"), "/spec/rollback/progressDeadlineSeconds", json!(5)), expect: &["spec.rollback.progressDeadlineSeconds", "greater than or equal to 10"] },
        Case { rule: "progress deadline at most 3600s", object: with(md("c18"), "/spec/rollback/progressDeadlineSeconds", json!(7200)), expect: &["spec.rollback.progressDeadlineSeconds", "less than or equal to 3600"] },
        Case { rule: "escalateAfter is a duration (word)", object: with(md("c19"), "/spec/handoff/escalateAfter", json!("tomorrow")), expect: &["spec.handoff.escalateAfter", "should match"] },
        Case { rule: "escalateAfter is a duration (no days)", object: with(md("c20"), "/spec/handoff/escalateAfter", json!("1d")), expect: &["spec.handoff.escalateAfter", "should match"] },
        Case { rule: "owner Team name is a DNS name", object: with(md("c21"), "/spec/owners/data", json!("Data Platform")), expect: &["spec.owners.data", "should match"] },
        Case { rule: "port in 1..65535", object: with(md("c22"), "/spec/serving/port", json!(70000)), expect: &["spec.serving.port", "less than or equal to 65535"] },
        Case { rule: "ModelDeployment name fits a label (CEL)", object: md(&format!("m{}", "d".repeat(63))), expect: &["metadata.name of a ModelDeployment must be at most 63 characters"] },
        Case { rule: "unknown fields are refused (strict)", object: with(md("c23"), "/spec/serving/replica", json!(3)), expect: &["unknown field", "spec.serving.replica"] },
        Case { rule: "Team needs a user or group (CEL)", object: with(team("e2e-empty-team"), "/spec/members", json!({})), expect: &["spec.members", "at least one user or group"] },
        Case { rule: "Team members required", object: with(team("e2e-no-members"), "/spec/members", Value::Null), expect: &["spec.members: Required value"] },
        Case { rule: "Team name fits a label (CEL)", object: team(&format!("t{}", "e".repeat(63))), expect: &["metadata.name of a Team must be at most 63 characters"] },
        Case { rule: "Attestation version required", object: with(att("a1"), "/spec/version", Value::Null), expect: &["spec.version: Required value"] },
        Case { rule: "Attestation item is a DNS-1123 label", object: with(att("a2"), "/spec/item", json!("Drift Checked")), expect: &["spec.item", "should match"] },
        Case { rule: "Attestation digest is sha256", object: with(att("a3"), "/spec/digest", json!("md5:0123")), expect: &["spec.digest", "should match"] },
        Case { rule: "Attestation names its ModelDeployment", object: with(att("a4"), "/spec/modelDeployment", Value::Null), expect: &["spec.modelDeployment: Required value"] },
        Case { rule: "a signed Attestation names its candidate (CEL)", object: with(att("s1"), "/spec/signature", signature.clone()), expect: &["spec.candidate is required on a signed Attestation"] },
        Case { rule: "attestedBy of a signed Attestation is its signer (CEL)", object: with(with(signed("s2"), "/spec/attestedBy", json!("bob")), "/spec/candidate", candidate.clone()), expect: &["spec.attestedBy of a signed Attestation must equal spec.signature.signer"] },
        Case { rule: "sshsig is armored (CEL)", object: with(signed("s3"), "/spec/signature/sshsig", json!("U1NIU0lH")), expect: &["spec.signature.sshsig must be an armored SSH signature"] },
        Case { rule: "signedAt is UTC to the second", object: with(signed("s4"), "/spec/signature/signedAt", json!("2026-11-28 10:00")), expect: &["spec.signature.signedAt", "should match"] },
        Case { rule: "signer is one word", object: with(signed("s5"), "/spec/signature/signer", json!("alice\nsigner: bob")), expect: &["spec.signature.signer", "should match"] },
        Case { rule: "evidence is one line", object: with(signed("s6"), "/spec/evidence", json!("https://ci/1\nsigner: bob")), expect: &["spec.evidence", "should match"] },
        Case { rule: "signature needs signer, signedAt and sshsig", object: with(signed("s7"), "/spec/signature/signer", Value::Null), expect: &["spec.signature.signer: Required value"] },
        Case { rule: "signing key belongs to a member (CEL)", object: with(keyed("e2e-key-stranger"), "/spec/signingKeys/0/user", json!("mallory")), expect: &["spec.signingKeys[].user must be listed in spec.members.users"] },
        Case { rule: "signing key is an accepted type (CEL)", object: with(keyed("e2e-key-rsa"), "/spec/signingKeys/0/key", json!("ssh-rsa AAAAB3NzaC1yc2E alice")), expect: &["spec.signingKeys[0].key", "must be one OpenSSH public key line of type ssh-ed25519"] },
        Case { rule: "revoked key is a SHA256 fingerprint", object: with(keyed("e2e-key-revoked"), "/spec/revokedKeys", json!(["MD5:00:11"])), expect: &["spec.revokedKeys[0]", "should match"] },
        Case { rule: "validBefore is a timestamp", object: with(keyed("e2e-key-valid"), "/spec/signingKeys/0/validBefore", json!("next year")), expect: &["spec.signingKeys[0].validBefore"] },
    ];
    assert!(cases.len() >= 20);

    let admin = Kubectl::admin();
    let mut failures = Vec::new();
    for case in &cases {
        let out = admin.apply(&case.object.to_string());
        if out.success {
            failures.push(format!(
                "{}: was ACCEPTED: {}",
                case.rule,
                out.stdout.trim()
            ));
            continue;
        }
        let missing: Vec<_> = case
            .expect
            .iter()
            .filter(|s| !out.stderr.contains(**s))
            .collect();
        if !missing.is_empty() {
            failures.push(format!(
                "{}: error lacks {missing:?}; kubectl said: {}",
                case.rule,
                out.stderr.trim()
            ));
        }
    }
    // Nothing rejected may have been stored.
    let stored = admin.ok(&[
        "get",
        "modeldeployments,attestations",
        "-n",
        &ns.name,
        "-o",
        "name",
    ]);
    if !stored.stdout.trim().is_empty() {
        failures.push(format!("rejected objects were stored: {}", stored.stdout));
    }
    assert!(
        failures.is_empty(),
        "{} of {} rules misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn attestation_spec_is_immutable_after_create() {
    accord_e2e::prepare();
    let ns = TestNamespace::create("immutable");
    let admin = Kubectl::admin();
    let original = attestation(&ns.name, "drift");
    let created = admin.run_with_stdin(&["create", "-f", "-"], Some(&original.to_string()));
    assert!(created.success, "create failed: {}", created.stderr);

    let changed = with(original.clone(), "/spec/version", json!("2.5.0"));
    let out = admin.apply(&changed.to_string());
    assert!(
        !out.success,
        "changing an Attestation's spec was accepted: {}",
        out.stdout
    );
    assert!(out.stderr.contains("spec is immutable"), "{}", out.stderr);
    let stored = admin
        .get_json(&["attestation", "drift", "-n", &ns.name])
        .expect("still exists");
    assert_eq!(
        stored["spec"]["version"], "2.4.0",
        "the stored spec must be unchanged"
    );

    // Metadata is not spec: labels can still be added.
    admin.ok(&[
        "label",
        "attestation",
        "drift",
        "-n",
        &ns.name,
        "reviewed=yes",
    ]);
}

#[test]
fn examples_are_accepted() {
    accord_e2e::prepare();
    let admin = Kubectl::admin();
    let root = repo_root();
    for file in [
        "examples/teams.yaml",
        "examples/policies.yaml",
        "examples/fraud-scorer.yaml",
        "examples/fraud-scorer-gpu.yaml",
        "examples/environments/pipeline.yaml",
        "examples/drills/fraud-scorer-weekly.yaml",
    ] {
        if file.contains("environments") {
            // Its ModelDeployments live in namespaces the file creates; a server-side
            // dry run needs them to exist.
            for ns in ["payments-dev", "payments-staging", "payments-prod"] {
                let _ = admin.run(&["create", "namespace", ns]);
            }
        }
        let out = admin.run(&[
            "apply",
            "--dry-run=server",
            "-f",
            root.join(file).to_str().unwrap(),
        ]);
        assert!(out.success, "{file} rejected: {}", out.stderr);
    }
    // The monitored model: its Namespace and ModelDeployment pass the schema and CEL
    // rules; its Incident and root cause are Accord's to admit once a version serves.
    let _ = admin.run(&["create", "namespace", "payments-monitored"]);
    let text = std::fs::read_to_string(root.join("examples/incidents/monitored.yaml")).unwrap();
    let model: Vec<&str> = text.split("\n---\n").take(2).collect();
    let out = admin.run_with_stdin(
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&model.join("\n---\n")),
    );
    assert!(
        out.success,
        "the monitored example rejected: {}",
        out.stderr
    );
    // Attestations go in a scratch namespace so the shared example stays pristine.
    let ns = TestNamespace::create("examples");
    for user in ["alice", "bob", "carol"] {
        let text = std::fs::read_to_string(root.join(format!("examples/attestations/{user}.yaml")))
            .unwrap();
        let text = text.replace("namespace: payments", &format!("namespace: {}", ns.name));
        let out = admin.apply(&text);
        assert!(
            out.success,
            "{user}'s attestations rejected: {}",
            out.stderr
        );
    }
    let names = admin
        .ok(&["get", "attestations", "-n", &ns.name, "-o", "name"])
        .stdout;
    assert_eq!(names.lines().count(), 5, "{names}");
    let md = admin
        .get_json(&["md", "fraud-scorer", "-n", "payments"])
        .expect("example ModelDeployment stored");
    assert_eq!(md["spec"]["rollback"]["progressDeadlineSeconds"], 600);
    assert_eq!(
        md["spec"]["handoff"]["checklist"][0]["required"], true,
        "defaults are applied"
    );
}
