//! Canaries on the real control plane with a real Prometheus (started by the test on
//! loopback, scraping an endpoint the test controls in place of the model's metrics):
//! a canary whose error rate stays low is promoted after the bake; one whose error
//! rate rises is rolled back with the values in history; an `after: Canary` item holds
//! full promotion until attested on canary evidence; an owner aborts a canary, others
//! cannot.

mod support;

use std::time::Duration;

use accord_e2e::{Kubectl, MetricsSource, Prometheus, TestNamespace, events_for, poll};
use serde_json::{Value, json};
use support::{
    attest, attest_as_named, condition, get_md, last_history, patch_md, serving, wait_phase,
};

const WAIT: Duration = Duration::from_secs(90);

fn operator() {
    accord_e2e::shared_operator("canary");
}

/// The model's error ratio per version, as the model would export it.
fn errors(namespace: &str, by_version: &[(&str, &str)]) -> String {
    let mut text = String::from("# TYPE model_error_ratio gauge\n");
    for (version, ratio) in by_version {
        text.push_str(&format!(
            "model_error_ratio{{namespace=\"{namespace}\",version=\"{version}\"}} {ratio}\n"
        ));
    }
    text
}

fn canary_spec(prometheus: Option<&Prometheus>, bake: i32) -> Value {
    let mut canary = json!({"replicas": 1, "bakeSeconds": bake});
    if let Some(prometheus) = prometheus {
        canary["analysis"] = json!({
            "address": prometheus.address,
            "query": "max(model_error_ratio{namespace=\"{{namespace}}\",version=\"{{version}}\"})",
            "maxValue": 0.05,
            "intervalSeconds": 1,
            "failureLimit": 1
        });
    }
    json!({"canary": canary})
}

fn release(namespace: &str, name: &str, version: &str) {
    support::set_version(namespace, name, version);
}

fn sign_off(namespace: &str, name: &str, version: &str, items: &[(&str, &str)]) {
    for (user, item) in items {
        attest(user, namespace, name, item, version);
    }
}

fn deployment(namespace: &str, name: &str) -> Value {
    Kubectl::admin()
        .get_json(&["deployment", name, "-n", namespace])
        .unwrap_or(Value::Null)
}

#[test]
fn a_healthy_canary_is_promoted_after_the_bake_and_a_failing_one_is_rolled_back() {
    operator();
    let ns = TestNamespace::create("canary");
    let n = ns.name.as_str();
    let source = MetricsSource::start();
    let prometheus = Prometheus::start(source.port);
    let spec = canary_spec(Some(&prometheus), 6);
    // The first version has nothing to compare with: promoted directly.
    serving(n, "fraud", "1.0.0", |md| {
        md["spec"]["rollout"] = spec.clone()
    });
    assert!(deployment(n, "fraud-canary").is_null());

    source.set(&errors(n, &[("1.0.0", "0.01"), ("2.0.0", "0.01")]));
    prometheus.wait_for(
        &format!("max(model_error_ratio{{namespace=\"{n}\",version=\"2.0.0\"}})"),
        "0.01",
    );
    release(n, "fraud", "2.0.0");
    sign_off(
        n,
        "fraud",
        "2.0.0",
        &[("alice", "drift"), ("bob", "latency"), ("carol", "kpis")],
    );
    let md = wait_phase(n, "fraud", "Canary", WAIT);
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    let canary = poll("the canary Deployment", WAIT, || {
        let d = deployment(n, "fraud-canary");
        (d["status"]["availableReplicas"] == 1)
            .then_some(d.clone())
            .ok_or_else(|| d.to_string())
    });
    let pod_labels = &canary["spec"]["template"]["metadata"]["labels"];
    assert_eq!(pod_labels["accord.dev/track"], "canary");
    assert_eq!(pod_labels["accord.dev/model-version"], "2.0.0");
    let service = Kubectl::admin()
        .get_json(&["service", "fraud", "-n", n])
        .unwrap();
    assert_eq!(
        service["spec"]["selector"],
        json!({"accord.dev/instance": "fraud"}),
        "the Service sends the canary its share"
    );
    assert_eq!(pod_labels["accord.dev/instance"], "fraud");
    assert_eq!(
        deployment(n, "fraud")["spec"]["template"]["metadata"]["labels"]["accord.dev/model-version"],
        "1.0.0",
        "the stable Deployment keeps 1.0.0 during the canary"
    );

    // Promoted once baked, with what the analysis measured.
    let md = poll("2.0.0 to be promoted after the bake", WAIT, || {
        let md = get_md(n, "fraud");
        (md["status"]["activeVersion"] == "2.0.0")
            .then_some(md.clone())
            .ok_or_else(|| condition(&md, "Ready")["message"].to_string())
    });
    let promoted = last_history(&md);
    assert_eq!(promoted["outcome"], "Promoted");
    assert_eq!(promoted["canary"]["outcome"], "Promoted");
    let measured = promoted["canary"]["measurements"].as_array().unwrap();
    assert!(!measured.is_empty());
    assert!(
        measured
            .iter()
            .all(|m| m["value"] == "0.01" && m["passed"] == true),
        "{measured:?}"
    );
    poll("the canary to be parked", WAIT, || {
        let d = deployment(n, "fraud-canary");
        (d["spec"]["replicas"] == 0)
            .then_some(())
            .ok_or_else(|| d["spec"].to_string())
    });

    // 3.0.0 errs: the analysis fails, 2.0.0 keeps serving, the values are on record.
    source.set(&errors(n, &[("2.0.0", "0.01"), ("3.0.0", "0.5")]));
    prometheus.wait_for(
        &format!("max(model_error_ratio{{namespace=\"{n}\",version=\"3.0.0\"}})"),
        "0.5",
    );
    release(n, "fraud", "3.0.0");
    sign_off(
        n,
        "fraud",
        "3.0.0",
        &[("alice", "drift"), ("bob", "latency"), ("carol", "kpis")],
    );
    let md = wait_phase(n, "fraud", "RolledBack", WAIT);
    assert_eq!(md["status"]["activeVersion"], "2.0.0");
    let kept = last_history(&md);
    assert_eq!(
        (kept["outcome"].as_str(), kept["reason"].as_str()),
        (Some("RolledBack"), Some("AnalysisFailed"))
    );
    assert_eq!(kept["version"], "2.0.0");
    let values: Vec<&str> = kept["canary"]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert!(
        values.len() >= 2 && values.iter().all(|v| *v == "0.5"),
        "{values:?}"
    );
    assert_eq!(md["status"]["failedCandidates"][0]["version"], "3.0.0");
    let warning = events_for(n, "ModelDeployment", "fraud")
        .into_iter()
        .find(|e| e.reason == "CanaryFailed")
        .expect("a CanaryFailed Event");
    assert_eq!(warning.type_, "Warning");
    assert!(warning.note.contains("0.5 (failed)"), "{}", warning.note);
    assert_eq!(
        deployment(n, "fraud")["spec"]["template"]["metadata"]["labels"]["accord.dev/model-version"],
        "2.0.0"
    );
    poll("the failed canary to be parked", WAIT, || {
        let d = deployment(n, "fraud-canary");
        (d["spec"]["replicas"] == 0)
            .then_some(())
            .ok_or_else(|| d["spec"].to_string())
    });
}

#[test]
fn sign_off_on_canary_evidence_holds_promotion_and_only_owners_abort_a_canary() {
    operator();
    let ns = TestNamespace::create("canary-signoff");
    let n = ns.name.as_str();
    let spec = canary_spec(None, 3);
    serving(n, "fraud", "1.0.0", |md| {
        md["spec"]["rollout"] = spec.clone();
        md["spec"]["handoff"]["checklist"][2]["after"] = json!("Canary");
    });

    // carol signs the KPIs off before any canary ran: it does not count.
    release(n, "fraud", "2.0.0");
    wait_phase(n, "fraud", "AwaitingAttestations", WAIT);
    attest_as_named("carol", n, "fraud", "kpis", "2.0.0", "kpis-too-early");
    sign_off(
        n,
        "fraud",
        "2.0.0",
        &[("alice", "drift"), ("bob", "latency")],
    );
    wait_phase(n, "fraud", "Canary", WAIT);
    // Baked, and still a canary: the application team owes its sign-off on what it saw.
    std::thread::sleep(Duration::from_secs(6));
    let md = get_md(n, "fraud");
    assert_eq!(md["status"]["phase"], "Canary");
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    let ready = condition(&md, "Ready");
    assert!(
        ready["message"]
            .as_str()
            .unwrap_or_default()
            .contains("payments-app owes kpis (on canary evidence)"),
        "{ready}"
    );
    let early = Kubectl::admin()
        .get_json(&["attestation", "kpis-too-early", "-n", n])
        .unwrap();
    let counted = early["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Counted").cloned())
        .unwrap_or_default();
    assert_eq!(
        (counted["status"].as_str(), counted["reason"].as_str()),
        (Some("False"), Some("BeforeCanary"))
    );
    // On canary evidence, it counts: promoted.
    attest_as_named("carol", n, "fraud", "kpis", "2.0.0", "kpis-on-canary");
    let md = wait_phase(n, "fraud", "Serving", WAIT);
    assert_eq!(md["status"]["activeVersion"], "2.0.0");
    assert_eq!(last_history(&md)["canary"]["outcome"], "Promoted");

    // 3.0.0 bakes for long; only its owners may stop it.
    patch_md(
        n,
        "fraud",
        json!({"spec": {"rollout": canary_spec(None, 600)}}),
    );
    release(n, "fraud", "3.0.0");
    sign_off(
        n,
        "fraud",
        "3.0.0",
        &[("alice", "drift"), ("bob", "latency")],
    );
    wait_phase(n, "fraud", "Canary", WAIT);
    let abort = |user: &str| {
        let at = jiff::Timestamp::now().to_string();
        Kubectl::user(user).run(&[
            "annotate",
            "md",
            "fraud",
            "-n",
            n,
            &format!("accord.dev/rollback-requested-at={at}"),
            "--overwrite",
        ])
    };
    for outsider in ["alice", "mallory"] {
        let out = abort(outsider);
        assert!(!out.success, "{outsider} aborted the canary");
        assert!(
            out.stderr.contains("may not request a rollback"),
            "{}",
            out.stderr
        );
    }
    let md = get_md(n, "fraud");
    assert_eq!(md["status"]["phase"], "Canary");
    assert!(md["metadata"]["annotations"]["accord.dev/rollback-requested-at"].is_null());
    let out = abort("bob");
    assert!(out.success, "{}", out.stderr);
    let md = wait_phase(n, "fraud", "RolledBack", WAIT);
    assert_eq!(md["status"]["activeVersion"], "2.0.0");
    let kept = last_history(&md);
    assert_eq!(kept["reason"], "RollbackRequested");
    assert_eq!(kept["canary"]["outcome"], "RollbackRequested");
    poll("the aborted canary to be parked", WAIT, || {
        let d = deployment(n, "fraud-canary");
        (d["spec"]["replicas"] == 0)
            .then_some(())
            .ok_or_else(|| d["spec"].to_string())
    });
}
