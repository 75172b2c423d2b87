//! Identity and decision rights, end to end: the admission webhook and the operator run
//! as real processes, and people act as the static users. Every case asserts both the
//! verdict and what was (or was not) stored.

mod support;

use std::time::{Duration, Instant};

use accord_e2e::{
    Kubectl, Operator, Output, TestNamespace, Unchanged, assert_denied_by_accord,
    assert_not_stored, events_for, poll, remove_webhook_configurations,
};
use serde_json::{Value, json};
use support::*;

/// Each test runs its own operator, one test at a time.
fn setup(label: &str, extra: &[&str]) -> (std::sync::MutexGuard<'static, ()>, Operator) {
    let guard = accord_e2e::exclusive();
    (guard, Operator::start(label, "accord-operator", extra))
}

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// A ModelDeployment whose candidate 1.0.0 has a digest, created by the admin.
fn guarded_md(n: &str, name: &str) {
    let mut md = model_deployment(n, name, "1.0.0");
    md["spec"]["model"]["digest"] = json!(DIGEST);
    create(&md);
}

fn attestation(
    n: &str,
    name: &str,
    md: &str,
    item: &str,
    version: &str,
    digest: Option<&str>,
) -> Value {
    let mut spec = json!({"modelDeployment": md, "item": item, "version": version});
    if let Some(digest) = digest {
        spec["digest"] = json!(digest);
    }
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
           "metadata": {"name": name, "namespace": n}, "spec": spec})
}

fn create_as(user: &str, object: &Value) -> Output {
    let kubectl = if user == "admin" {
        Kubectl::admin()
    } else {
        Kubectl::user(user)
    };
    kubectl.run_with_stdin(&["create", "-f", "-"], Some(&object.to_string()))
}

fn stored(n: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&["attestation", name, "-n", n])
}

#[test]
fn identity_comes_from_the_request_and_only_owning_teams_attest() {
    let (_serial, operator) = setup("webhook-identity", &[]);
    let ns = TestNamespace::create("identity");
    let n = ns.name.as_str();
    guarded_md(n, "fraud");
    wait_phase(n, "fraud", "AwaitingAttestations", Duration::from_secs(30));

    // Each case: who attests what, and what Accord's denial must say; nothing is stored.
    let wrong = format!("sha256:{}", "2".repeat(64));
    let fraud = format!("{n}/fraud");
    let nope = format!("ModelDeployment {n}/nope does not exist");
    let cases: [(&str, &str, Value, &[&str]); 6] = [
        // Wrong team: alice (data) attests a platform item.
        (
            "wrong team",
            "alice",
            attestation(n, "a1", "fraud", "latency", "1.0.0", Some(DIGEST)),
            &[
                "alice is not a member of team ml-platform",
                "item latency",
                &fraud,
                "ml-platform-eng",
            ],
        ),
        // No team at all.
        (
            "no team",
            "mallory",
            attestation(n, "a2", "fraud", "drift", "1.0.0", Some(DIGEST)),
            &["mallory is not a member of team data-platform"],
        ),
        // Stale version, wrong digest, unknown item, unknown ModelDeployment.
        (
            "stale version",
            "bob",
            attestation(n, "a3", "fraud", "latency", "0.9.0", Some(DIGEST)),
            &["version 0.9.0 is not the candidate", "which is 1.0.0"],
        ),
        (
            "wrong digest",
            "bob",
            attestation(n, "a4", "fraud", "latency", "1.0.0", Some(&wrong)),
            &["does not match the candidate 1.0.0", DIGEST],
        ),
        (
            "unknown item",
            "carol",
            attestation(n, "a5", "fraud", "vibes", "1.0.0", Some(DIGEST)),
            &["\"vibes\" is not on the checklist", "drift, latency, kpis"],
        ),
        (
            "unknown ModelDeployment",
            "carol",
            attestation(n, "a6", "nope", "kpis", "1.0.0", Some(DIGEST)),
            &[&nope],
        ),
    ];
    for (case, user, attestation, expect) in cases {
        assert_denied_by_accord(case, &create_as(user, &attestation), expect);
        let name = attestation["metadata"]["name"].as_str().unwrap();
        assert_not_stored(case, "attestation", Some(n), name);
    }
    // No name: generateName is refused (the seal covers the name).
    let mut unnamed = attestation(n, "x", "fraud", "kpis", "1.0.0", Some(DIGEST));
    unnamed["metadata"] = json!({"generateName": "kpis-", "namespace": n});
    let out = create_as("carol", &unnamed);
    assert_denied_by_accord("no name", &out, &["generateName is not supported"]);

    // Spoofed identity: the stored attester is the authenticated user, sealed.
    let mut spoofed = attestation(n, "drift", "fraud", "drift", "1.0.0", Some(DIGEST));
    spoofed["spec"]["attestedBy"] = json!("bob");
    spoofed["spec"]["team"] = json!("ml-platform");
    let out = create_as("alice", &spoofed);
    assert!(out.success, "{}", out.stderr);
    let drift = Unchanged::read("attestation", Some(n), "drift");
    let att = drift.before();
    assert_eq!(
        att["spec"]["attestedBy"], "alice",
        "the spoofed attestedBy must be replaced"
    );
    assert_eq!(att["spec"]["team"], "data-platform");
    assert_eq!(
        att["metadata"]["annotations"]["accord.dev/attester-groups"],
        "data-platform-eng"
    );
    assert!(
        att["metadata"]["annotations"]["accord.dev/seal"]
            .as_str()
            .unwrap()
            .starts_with("v2:"),
        "seals of this version cover the candidate fingerprint and the object (v2)"
    );

    // Dry run: the answer shows the mutation, nothing is stored.
    let dry = Kubectl::user("carol").run_with_stdin(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        Some(&attestation(n, "kpis", "fraud", "kpis", "1.0.0", Some(DIGEST)).to_string()),
    );
    assert!(dry.success, "{}", dry.stderr);
    assert_eq!(dry.json()["spec"]["attestedBy"], "carol");
    assert_not_stored("dry run", "attestation", Some(n), "kpis");

    // Spec updates are refused and Accord's annotations cannot be changed, even by an admin.
    let out = Kubectl::admin().run(&[
        "patch",
        "attestation",
        "drift",
        "-n",
        n,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"comment":"edited"}}"#,
    ]);
    assert!(
        !out.success && out.stderr.contains("is immutable"),
        "{}",
        out.stderr
    );
    let out = Kubectl::admin().run(&[
        "annotate",
        "--overwrite",
        "attestation",
        "drift",
        "-n",
        n,
        "accord.dev/seal=v1:k1:00",
    ]);
    assert_denied_by_accord(
        "admin reseals",
        &out,
        &["written by Accord and cannot be changed"],
    );
    drift.assert_same(
        "spec update and reseal",
        &["/spec", "/metadata/annotations/accord.dev~1seal"],
    );
    Kubectl::admin().ok(&["label", "attestation", "drift", "-n", n, "reviewed=yes"]);

    // The right people promote it; the history names them.
    for (user, item) in [("bob", "latency"), ("carol", "kpis")] {
        let out = create_as(
            user,
            &attestation(n, item, "fraud", item, "1.0.0", Some(DIGEST)),
        );
        assert!(out.success, "{user}: {}", out.stderr);
    }
    let md = wait_phase(n, "fraud", "Serving", Duration::from_secs(60));
    let approvers: Vec<&str> = md["status"]["history"][0]["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["attestedBy"].as_str())
        .collect();
    assert_eq!(approvers, ["alice", "bob", "carol"]);
    let counted = stored(n, "drift").unwrap();
    assert_eq!(condition(&counted, "Counted")["status"], "True");

    // Metrics: verdicts by kind and operation, answered in milliseconds.
    let metrics = operator.http_get("/metrics").unwrap();
    assert!(metrics.contains(r#"accord_admission_requests_total{kind="Attestation",operation="CREATE",verdict="denied"}"#), "{metrics}");
    assert!(metrics.contains(r#"accord_admission_requests_total{kind="Attestation",operation="CREATE",verdict="allowed"}"#));
    let sum = metric_value(
        &metrics,
        r#"accord_admission_duration_seconds_sum{kind="Attestation"}"#,
    );
    let count = metric_value(
        &metrics,
        r#"accord_admission_duration_seconds_count{kind="Attestation"}"#,
    );
    println!(
        "mean Attestation admission time: {:.2} ms over {count} requests",
        1000.0 * sum / count
    );
    assert!(
        sum / count < 0.05,
        "admission took {:.1} ms on average",
        1000.0 * sum / count
    );
}

fn metric_value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .map(|v| v.trim().parse::<f64>().unwrap())
        })
        .unwrap_or_else(|| panic!("no {series} in metrics"))
}

#[test]
fn separation_of_duties_and_decision_rights() {
    let (_serial, _operator) = setup("webhook-rights", &[]);
    let ns = TestNamespace::create("rights");
    let n = ns.name.as_str();
    serving(n, "credit", "1.0.0", |_| {});
    let md = get_md(n, "credit");
    assert_eq!(
        md["metadata"]["annotations"]["accord.dev/spec-author"],
        "admin"
    );

    // dave bumps the version, then may not attest his own change; alice may.
    Kubectl::user("dave").ok(&["patch", "md", "credit", "-n", n, "--type", "merge", "-p",
        r#"{"spec":{"model":{"version":"2.0.0"},"serving":{"image":"registry.example.com/credit:2.0.0"}}}"#]);
    assert_eq!(
        get_md(n, "credit")["metadata"]["annotations"]["accord.dev/spec-author"],
        "dave"
    );
    let out = create_as(
        "dave",
        &attestation(n, "dave-drift", "credit", "drift", "2.0.0", None),
    );
    assert_denied_by_accord(
        "own change",
        &out,
        &["dave last changed the spec", "separation of duties"],
    );
    assert_not_stored("own change", "attestation", Some(n), "dave-drift");
    let out = create_as(
        "alice",
        &attestation(n, "alice-drift", "credit", "drift", "2.0.0", None),
    );
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        stored(n, "alice-drift").unwrap()["spec"]["attestedBy"],
        "alice"
    );

    // The spec author cannot be forged, not even by changing only the annotation.
    Kubectl::user("mallory").ok(&[
        "annotate",
        "--overwrite",
        "md",
        "credit",
        "-n",
        n,
        "accord.dev/spec-author=alice",
    ]);
    assert_eq!(
        get_md(n, "credit")["metadata"]["annotations"]["accord.dev/spec-author"],
        "dave"
    );

    // Owners: a data-team member may not change them; a platform member may.
    let credit = Unchanged::read("md", Some(n), "credit");
    let new_owner = r#"{"spec":{"owners":{"data":"payments-app"}}}"#;
    let out = Kubectl::user("alice").run(&[
        "patch", "md", "credit", "-n", n, "--type", "merge", "-p", new_owner,
    ]);
    assert_denied_by_accord(
        "alice changes the owners",
        &out,
        &[
            "alice may not change spec.owners",
            "ml-platform",
            "payments-app",
        ],
    );
    credit.assert_still(
        "alice changes the owners",
        "/spec/owners/data",
        "data-platform",
    );
    Kubectl::user("bob").ok(&[
        "patch", "md", "credit", "-n", n, "--type", "merge", "-p", new_owner,
    ]);
    assert_eq!(
        get_md(n, "credit")["spec"]["owners"]["data"],
        "payments-app"
    );

    // Rollback requests: mallory may not, bob may; the value must be a time.
    let annotate = |user: &str, value: &str| {
        Kubectl::user(user).run(&[
            "annotate",
            "--overwrite",
            "md",
            "credit",
            "-n",
            n,
            &format!("accord.dev/rollback-requested-at={value}"),
        ])
    };
    let request = "/metadata/annotations/accord.dev~1rollback-requested-at";
    let out = annotate("mallory", "2026-11-27T11:00:00Z");
    assert_denied_by_accord(
        "mallory requests a rollback",
        &out,
        &["mallory may not request a rollback"],
    );
    credit.assert_still("mallory requests a rollback", request, Value::Null);
    let out = annotate("bob", "soon");
    assert_denied_by_accord("a rollback request at no time", &out, &["RFC 3339"]);
    credit.assert_still("a rollback request at no time", request, Value::Null);
    let out = annotate("bob", "2026-11-27T11:00:00Z");
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        get_md(n, "credit")["metadata"]["annotations"]["accord.dev/rollback-requested-at"],
        "2026-11-27T11:00:00Z"
    );
}

#[test]
fn unsealed_and_tampered_attestations_never_count() {
    let (_serial, mut operator) = setup("webhook-bypass", &[]);
    let ns = TestNamespace::create("bypass");
    let n = ns.name.as_str();
    create(&model_deployment(n, "spam", "1.0.0"));
    // A properly admitted attestation to copy a seal from.
    assert!(
        create_as(
            "alice",
            &attestation(n, "real-drift", "spam", "drift", "1.0.0", None)
        )
        .success
    );
    let real = stored(n, "real-drift").unwrap();
    let seal = real["metadata"]["annotations"]["accord.dev/seal"]
        .as_str()
        .unwrap()
        .to_string();

    // Someone removes the webhook and writes attestations directly, as admin.
    remove_webhook_configurations();
    let mut forged = attestation(n, "forged-latency", "spam", "latency", "1.0.0", None);
    forged["spec"]["attestedBy"] = json!("bob");
    forged["spec"]["team"] = json!("ml-platform");
    forged["metadata"]["annotations"] = json!({"accord.dev/attester-groups": "ml-platform-eng"});
    assert!(
        create_as("admin", &forged).success,
        "the API server stores it without the webhook"
    );
    let mut tampered = attestation(n, "tampered-kpis", "spam", "kpis", "1.0.0", None);
    tampered["spec"]["attestedBy"] = json!("carol");
    tampered["spec"]["team"] = json!("payments-app");
    tampered["metadata"]["annotations"] =
        json!({"accord.dev/seal": seal, "accord.dev/attester-groups": "payments-app-eng"});
    assert!(create_as("admin", &tampered).success);

    let forged_status = poll(
        "the forged attestation to be marked as not counted",
        Duration::from_secs(30),
        || {
            let att = stored(n, "forged-latency").unwrap();
            (condition(&att, "Counted")["status"] == "False")
                .then(|| att.clone())
                .ok_or_else(|| att.to_string())
        },
    );
    assert_eq!(
        condition(&forged_status, "Counted")["reason"],
        "InvalidSeal"
    );
    assert!(
        condition(&forged_status, "Counted")["message"]
            .as_str()
            .unwrap()
            .contains("no seal")
    );
    let tampered_status = poll(
        "the tampered attestation to be marked",
        Duration::from_secs(30),
        || {
            let att = stored(n, "tampered-kpis").unwrap();
            (condition(&att, "Counted")["status"] == "False")
                .then(|| att.clone())
                .ok_or_else(|| att.to_string())
        },
    );
    assert!(
        condition(&tampered_status, "Counted")["message"]
            .as_str()
            .unwrap()
            .contains("altered")
    );

    // Not promoted, and the status says why.
    std::thread::sleep(Duration::from_secs(3));
    let md = get_md(n, "spam");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert_eq!(md["status"]["pendingItems"], 2);
    assert!(
        deployment(n, "spam").is_none(),
        "promoted on forged attestations"
    );
    let latency = md["status"]["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "latency")
        .unwrap()
        .clone();
    assert_eq!(latency["attested"], false);
    assert!(
        latency["reason"]
            .as_str()
            .unwrap()
            .contains("forged-latency does not count"),
        "{latency}"
    );
    let rejected: Vec<_> = events_for(n, "ModelDeployment", "spam")
        .into_iter()
        .filter(|e| e.reason == "AttestationRejected")
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected
            .iter()
            .all(|e| e.count == 1 && e.type_ == "Warning")
    );

    // Restarting the operator restores the webhook; the forgeries still do not count.
    operator.kill();
    let _operator = Operator::start("webhook-bypass-2", "accord-operator", &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(get_md(n, "spam")["status"]["pendingItems"], 2);
    let rejected: u64 = events_for(n, "ModelDeployment", "spam")
        .iter()
        .filter(|e| e.reason == "AttestationRejected")
        .map(|e| e.count)
        .sum();
    assert_eq!(
        rejected, 2,
        "one AttestationRejected per attestation, across restarts"
    );
}

#[test]
fn attestations_fail_closed_when_the_webhook_is_down_and_other_kinds_do_not() {
    let (_serial, mut operator) = setup("webhook-down", &[]);
    let ns = TestNamespace::create("down");
    let n = ns.name.as_str();
    create(&model_deployment(n, "closed", "1.0.0"));
    operator.kill();
    let started = Instant::now();
    let out = create_as(
        "alice",
        &attestation(n, "drift", "closed", "drift", "1.0.0", None),
    );
    let waited = started.elapsed();
    assert!(
        !out.success,
        "an Attestation was admitted with the webhook down"
    );
    assert!(
        out.stderr.contains("failed calling webhook")
            && out.stderr.contains("mutate.attestations.accord.dev"),
        "{}",
        out.stderr
    );
    assert_not_stored("webhook down", "attestation", Some(n), "drift");
    assert!(
        waited < Duration::from_secs(5),
        "failing closed took {waited:?}"
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unaffected", "namespace": n}, "data": {"k": "v"}});
    let out = Kubectl::admin().apply(&cm.to_string());
    assert!(
        out.success,
        "a ConfigMap create was blocked: {}",
        out.stderr
    );
}

fn served_certificate(port: u16) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername 127.0.0.1 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        ))
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn certificate_rotates_while_attestations_keep_being_admitted() {
    let (_serial, operator) = setup("webhook-rotate", &["--webhook-cert-validity", "30s"]);
    let ns = TestNamespace::create("rotate");
    let n = ns.name.as_str();
    let first = served_certificate(operator.webhook_port);
    assert!(
        first.contains("Fingerprint"),
        "no certificate served: {first:?}"
    );
    let mut admitted = 0;
    let mut rotated_at = None;
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut i = 0;
    while Instant::now() < deadline && (rotated_at.is_none() || admitted < i.min(5)) {
        let name = format!("md-{i}");
        create(&model_deployment(n, &name, "1.0.0"));
        let out = create_as(
            "alice",
            &attestation(n, &format!("{name}-drift"), &name, "drift", "1.0.0", None),
        );
        assert!(
            out.success,
            "attestation {i} refused during rotation: {}",
            out.stderr
        );
        admitted += 1;
        if rotated_at.is_none() && served_certificate(operator.webhook_port) != first {
            rotated_at = Some(i);
        }
        i += 1;
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(
        rotated_at.is_some(),
        "the serving certificate did not rotate within 45 s"
    );
    println!(
        "certificate rotated after {} attestations; {admitted} admitted in all",
        rotated_at.unwrap()
    );
    // Still admitting after the rotation.
    create(&model_deployment(n, "after", "1.0.0"));
    assert!(
        create_as(
            "alice",
            &attestation(n, "after-drift", "after", "drift", "1.0.0", None)
        )
        .success
    );
}

/// With the webhook removed, a cluster admin writes a forged entry into status: the
/// operator discards it (its seal does not verify) and never deploys it.
#[test]
fn a_forged_history_entry_is_discarded_and_never_deployed() {
    let (_serial, _operator) = setup("webhook-history", &[]);
    let ns = TestNamespace::create("history");
    let n = ns.name.as_str();
    serving(n, "hist", "1.0.0", |_| {});
    let entry = get_md(n, "hist")["status"]["history"][0].clone();
    remove_webhook_configurations();
    let mut forged = entry.clone();
    forged["image"] = json!("registry.example.com/evil:6.6.6");
    forged["serving"]["image"] = json!("registry.example.com/evil:6.6.6");
    let body = json!({"status": {"history": [entry, forged]}}).to_string();
    Kubectl::admin().ok(&[
        "patch",
        "md",
        "hist",
        "-n",
        n,
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        &body,
    ]);
    poll(
        "the forged entry to be discarded",
        Duration::from_secs(60),
        || {
            let history = get_md(n, "hist")["status"]["history"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            (history.len() == 1)
                .then_some(())
                .ok_or_else(|| format!("{} entries", history.len()))
        },
    );
    assert_eq!(
        deployment_image(n, "hist").as_deref(),
        Some("registry.example.com/hist:1.0.0"),
        "the forged image was never deployed"
    );
    let discarded = events_for(n, "ModelDeployment", "hist")
        .into_iter()
        .filter(|e| e.reason == "HistoryDiscarded")
        .count();
    assert_eq!(discarded, 1);
}
