//! The reconciler end to end, on the real local control plane: the operator runs as a
//! real process under its own ServiceAccount, and people act as the static users.

mod support;

use std::time::{Duration, Instant};

use accord_e2e::{Kubectl, TestNamespace, events_for, poll};
use serde_json::json;
use support::*;

/// One operator for every test in this binary (they share the leader Lease).
fn operator() {
    accord_e2e::shared_operator("reconciler");
}

fn count_events(namespace: &str, name: &str, reason: &str) -> usize {
    events_for(namespace, "ModelDeployment", name)
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| e.count as usize)
        .sum()
}

#[test]
fn gate_blocks_until_every_team_signs_off_then_promotes() {
    operator();
    let ns = TestNamespace::create("gate");
    let n = ns.name.as_str();
    create(&model_deployment(n, "scorer", "1.0.0"));

    // 1. Before attestations: no Deployment, conditions, one PromotionBlocked Event.
    let md = wait_phase(n, "scorer", "AwaitingAttestations", Duration::from_secs(30));
    assert!(
        deployment(n, "scorer").is_none(),
        "a Deployment exists before sign-off"
    );
    let handoff = condition(&md, "HandoffComplete");
    assert_eq!(handoff["status"], "False");
    let message = handoff["message"].as_str().unwrap();
    for owed in [
        "data-platform owes drift",
        "ml-platform owes latency",
        "payments-app owes kpis",
    ] {
        assert!(message.contains(owed), "{message}");
    }
    assert_eq!(condition(&md, "Ready")["status"], "False");
    assert_eq!(md["status"]["pendingItems"], 3);
    for type_ in ["Ready", "HandoffComplete", "RolledBack", "Escalated"] {
        assert_eq!(condition(&md, type_)["observedGeneration"], 1, "{type_}");
    }
    poll(
        "one PromotionBlocked Event",
        Duration::from_secs(10),
        || {
            (count_events(n, "scorer", "PromotionBlocked") == 1)
                .then_some(())
                .ok_or("no event yet".to_string())
        },
    );

    // 2. Partial attestations keep blocking; the message says what each team still owes.
    attest("alice", n, "scorer", "drift", "1.0.0");
    attest("bob", n, "scorer", "latency", "1.0.0");
    let md = poll(
        "pending items to drop to 1",
        Duration::from_secs(20),
        || {
            let md = get_md(n, "scorer");
            (md["status"]["pendingItems"] == 1)
                .then(|| md.clone())
                .ok_or_else(|| md["status"].to_string())
        },
    );
    let message = condition(&md, "HandoffComplete")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("payments-app owes kpis"), "{message}");
    assert!(!message.contains("data-platform owes"), "{message}");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert!(
        deployment(n, "scorer").is_none(),
        "promoted on partial sign-off"
    );
    let checklist = md["status"]["checklist"].as_array().unwrap();
    assert_eq!(checklist[0]["attestedBy"], "alice");
    assert_eq!(checklist[0]["attestation"], "scorer-1.0.0-drift");

    // 3. The last attestation promotes.
    let last = Instant::now();
    attest("carol", n, "scorer", "kpis", "1.0.0");
    poll(
        "the Deployment to run 1.0.0",
        Duration::from_secs(30),
        || {
            (deployment_image(n, "scorer").as_deref() == Some("registry.example.com/scorer:1.0.0"))
                .then_some(())
                .ok_or("no Deployment yet".to_string())
        },
    );
    println!(
        "time from last attestation to Deployment update: {:?}",
        last.elapsed()
    );
    let md = wait_phase(n, "scorer", "Serving", Duration::from_secs(60));
    assert_eq!(condition(&md, "Ready")["status"], "True");
    assert_eq!(condition(&md, "HandoffComplete")["status"], "True");
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    let history = md["status"]["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["outcome"], "Promoted");
    assert_eq!(history[0]["approvals"].as_array().unwrap().len(), 3);
    assert!(count_events(n, "scorer", "Promoted") == 1);
    assert_eq!(
        count_events(n, "scorer", "PromotionBlocked"),
        1,
        "exactly one PromotionBlocked per candidate"
    );

    // Every accountability label on the Deployment, its pod template, its pods and the Service.
    let expected = [
        ("accord.dev/data-owner", "data-platform"),
        ("accord.dev/platform-owner", "ml-platform"),
        ("accord.dev/application-owner", "payments-app"),
        ("accord.dev/model", "scorer"),
        ("accord.dev/model-version", "1.0.0"),
        ("app.kubernetes.io/managed-by", "accord"),
    ];
    let d = deployment(n, "scorer").unwrap();
    let svc = Kubectl::admin()
        .get_json(&["service", "scorer", "-n", n])
        .expect("a Service for serving.port");
    let pods = Kubectl::admin()
        .get_json(&["pods", "-n", n, "-l", "accord.dev/model=scorer"])
        .unwrap();
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 2);
    for (key, value) in expected {
        assert_eq!(d["metadata"]["labels"][key], value, "Deployment {key}");
        assert_eq!(
            d["spec"]["template"]["metadata"]["labels"][key], value,
            "pod template {key}"
        );
        assert_eq!(svc["metadata"]["labels"][key], value, "Service {key}");
        for pod in pods {
            assert_eq!(pod["metadata"]["labels"][key], value, "pod {key}");
        }
    }
    assert_eq!(
        d["metadata"]["annotations"]["accord.dev/approved-by"],
        "alice,bob,carol"
    );
    assert_eq!(
        d["metadata"]["ownerReferences"][0]["kind"],
        "ModelDeployment"
    );
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 10);
    // The ModelDeployment itself carries its owners, written by field manager `accord`.
    assert_eq!(
        md["metadata"]["labels"]["accord.dev/platform-owner"],
        "ml-platform"
    );
    let with_fields = Kubectl::admin()
        .ok(&[
            "get",
            "md",
            "scorer",
            "-n",
            n,
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .json();
    let managers = with_fields["metadata"]["managedFields"].as_array().unwrap();
    assert!(
        managers.iter().any(|m| m["manager"] == "accord"),
        "labels are applied by field manager accord"
    );
    let accord_spec = managers
        .iter()
        .any(|m| m["manager"] == "accord" && m["fieldsV1"].get("f:spec").is_some());
    assert!(!accord_spec, "the operator must never own spec fields");
    // And `kubectl get -l` answers who is accountable.
    let owned = Kubectl::admin().ok(&[
        "get",
        "deploy",
        "-n",
        n,
        "-l",
        "accord.dev/platform-owner=ml-platform",
        "-o",
        "name",
    ]);
    assert_eq!(owned.stdout.trim(), "deployment.apps/scorer");
}

#[test]
fn a_new_version_needs_new_attestations() {
    operator();
    let ns = TestNamespace::create("newver");
    let n = ns.name.as_str();
    serving(n, "ranker", "1.0.0", |_| {});
    set_version(n, "ranker", "2.0.0");
    let md = wait_phase(n, "ranker", "AwaitingAttestations", Duration::from_secs(30));
    assert_eq!(md["status"]["candidateVersion"], "2.0.0");
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    assert_eq!(
        md["status"]["pendingItems"], 3,
        "1.0.0's attestations must not count for 2.0.0"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        deployment_image(n, "ranker").as_deref(),
        Some("registry.example.com/ranker:1.0.0")
    );

    attest("alice", n, "ranker", "drift", "2.0.0");
    attest("bob", n, "ranker", "latency", "2.0.0");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        deployment_image(n, "ranker").as_deref(),
        Some("registry.example.com/ranker:1.0.0"),
        "promoted early"
    );
    attest("carol", n, "ranker", "kpis", "2.0.0");
    let md = wait_phase(n, "ranker", "Serving", Duration::from_secs(60));
    assert_eq!(md["status"]["activeVersion"], "2.0.0");
    assert_eq!(
        deployment_image(n, "ranker").as_deref(),
        Some("registry.example.com/ranker:2.0.0")
    );
    assert_eq!(md["status"]["history"].as_array().unwrap().len(), 2);
    let d = deployment(n, "ranker").unwrap();
    assert_eq!(d["metadata"]["labels"]["accord.dev/model-version"], "2.0.0");
}

#[test]
fn operational_changes_apply_at_once_without_attestations() {
    operator();
    let ns = TestNamespace::create("ops");
    let n = ns.name.as_str();
    serving(n, "tagger", "1.0.0", |_| {});
    // Replicas and resources are operational: they do not change what runs.
    patch_md(
        n,
        "tagger",
        json!({"spec": {"serving": {"replicas": 4, "resources": {"limits": {"memory": "1Gi"}}}}}),
    );
    poll(
        "the Deployment to scale to 4",
        Duration::from_secs(30),
        || {
            let d = deployment(n, "tagger").unwrap();
            (d["spec"]["replicas"] == 4
                && d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
                    == "1Gi")
                .then_some(())
                .ok_or_else(|| d["spec"].to_string())
        },
    );
    let md = get_md(n, "tagger");
    assert_eq!(
        md["status"]["history"].as_array().unwrap().len(),
        1,
        "no new promotion"
    );
    assert_eq!(
        md["status"]["history"][0]["serving"]["replicas"], 4,
        "the snapshot follows what runs"
    );
    assert_eq!(count_events(n, "tagger", "ServingUpdated"), 1);

    // Arguments decide what runs: a new candidate, which waits for sign-off.
    patch_md(
        n,
        "tagger",
        json!({"spec": {"serving": {"args": ["--batch=64"]}}}),
    );
    let md = wait_phase(n, "tagger", "AwaitingAttestations", Duration::from_secs(30));
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    let d = deployment(n, "tagger").unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["args"].is_null(),
        "the running Deployment keeps its arguments until sign-off: {}",
        d["spec"]
    );
}

/// Makes version 2.0.0 unschedulable: it requests more CPU than any node has.
fn fail_version_two(n: &str, name: &str) {
    patch_md(
        n,
        name,
        json!({"spec": {"model": {"version": "2.0.0"}, "serving": {
            "image": format!("registry.example.com/{name}:2.0.0"),
            "resources": {"requests": {"cpu": "1000"}}}}}),
    );
    attest_all(n, name, "2.0.0");
    poll("2.0.0 to be promoted", Duration::from_secs(30), || {
        (deployment_image(n, name).as_deref()
            == Some(&format!("registry.example.com/{name}:2.0.0")))
        .then_some(())
        .ok_or("not yet".to_string())
    });
}

#[test]
fn automatic_rollback_restores_the_last_good_version_and_never_repromotes() {
    operator();
    let ns = TestNamespace::create("autorb");
    let n = ns.name.as_str();
    serving(n, "fraud", "1.0.0", |_| {});
    fail_version_two(n, "fraud");
    let md = wait_phase(n, "fraud", "RolledBack", Duration::from_secs(60));
    assert_eq!(
        deployment_image(n, "fraud").as_deref(),
        Some("registry.example.com/fraud:1.0.0")
    );
    let d = deployment(n, "fraud").unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["resources"]
            .get("requests")
            .is_none(),
        "the full 1.0.0 snapshot is restored"
    );
    assert_eq!(condition(&md, "RolledBack")["status"], "True");
    assert_eq!(
        condition(&md, "RolledBack")["reason"],
        "ProgressDeadlineExceeded"
    );
    assert_eq!(condition(&md, "Ready")["status"], "False");
    let history = md["status"]["history"].as_array().unwrap().clone();
    assert_eq!(history.last().unwrap()["outcome"], "RolledBack");
    assert_eq!(history.last().unwrap()["version"], "1.0.0");
    let warnings: Vec<_> = events_for(n, "ModelDeployment", "fraud")
        .into_iter()
        .filter(|e| e.reason == "RolledBack")
        .collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].count, 1);
    assert_eq!(warnings[0].type_, "Warning");

    // Never re-promoted while the spec still names 2.0.0: watch for twice the deadline.
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        assert_eq!(
            deployment_image(n, "fraud").as_deref(),
            Some("registry.example.com/fraud:1.0.0"),
            "2.0.0 came back"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let md = get_md(n, "fraud");
    assert_eq!(
        md["status"]["history"].as_array().unwrap().len(),
        history.len()
    );
    assert_eq!(count_events(n, "fraud", "Promoted"), 2);
}

#[test]
fn manual_mode_degrades_and_the_annotation_rolls_back() {
    operator();
    let ns = TestNamespace::create("manualrb");
    let n = ns.name.as_str();
    serving(n, "churn", "1.0.0", |md| {
        md["spec"]["rollback"]["mode"] = json!("Manual")
    });
    fail_version_two(n, "churn");
    let md = wait_phase(n, "churn", "Degraded", Duration::from_secs(60));
    assert_eq!(
        condition(&md, "Ready")["reason"],
        "ProgressDeadlineExceeded"
    );
    let degraded: Vec<_> = events_for(n, "ModelDeployment", "churn")
        .into_iter()
        .filter(|e| e.reason == "Degraded")
        .collect();
    assert_eq!(degraded.len(), 1);
    assert_eq!(degraded[0].type_, "Warning");
    assert!(
        degraded[0]
            .note
            .contains("accord.dev/rollback-requested-at"),
        "{}",
        degraded[0].note
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        deployment_image(n, "churn").as_deref(),
        Some("registry.example.com/churn:2.0.0"),
        "Manual mode must not roll back by itself"
    );

    // A platform team member asks for the rollback (decision rights are checked by the webhook).
    Kubectl::user("bob").ok(&[
        "annotate",
        "md",
        "churn",
        "-n",
        n,
        "accord.dev/rollback-requested-at=2026-11-27T10:00:00Z",
    ]);
    let md = wait_phase(n, "churn", "RolledBack", Duration::from_secs(30));
    assert_eq!(
        deployment_image(n, "churn").as_deref(),
        Some("registry.example.com/churn:1.0.0")
    );
    let last = last_history(&md);
    assert_eq!(
        (last["outcome"].as_str(), last["reason"].as_str()),
        (Some("RolledBack"), Some("RollbackRequested"))
    );
    assert_eq!(md["status"]["lastRollbackRequest"], "2026-11-27T10:00:00Z");
}

#[test]
fn overdue_sign_off_escalates_once() {
    operator();
    let ns = TestNamespace::create("escalate");
    let n = ns.name.as_str();
    let mut md = model_deployment(n, "late", "1.0.0");
    md["spec"]["handoff"]["escalateAfter"] = json!("5s");
    create(&md);
    attest("alice", n, "late", "drift", "1.0.0");
    let md = poll("Escalated=True", Duration::from_secs(30), || {
        let md = get_md(n, "late");
        (condition(&md, "Escalated")["status"] == "True")
            .then(|| md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    let message = condition(&md, "Escalated")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("ml-platform (latency, contact slack:#ml-platform-oncall)"),
        "{message}"
    );
    assert!(message.contains("payments-app (kpis"), "{message}");
    assert!(
        !message.contains("data-platform"),
        "alice already signed: {message}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let escalations: Vec<_> = events_for(n, "ModelDeployment", "late")
        .into_iter()
        .filter(|e| e.reason == "Escalated")
        .collect();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert_eq!(escalations[0].type_, "Warning");
    assert!(
        escalations[0].note.contains("mailto:payments@example.com"),
        "{}",
        escalations[0].note
    );
}

#[test]
fn unknown_owner_team_is_invalid_and_recovers_when_created() {
    operator();
    let ns = TestNamespace::create("unknown");
    let n = ns.name.as_str();
    serving(n, "recs", "1.0.0", |_| {});
    let ghost = format!("ghost-{n}");
    // Only a member of the platform or application team may change owners: bob is.
    Kubectl::user("bob").ok(&[
        "patch",
        "md",
        "recs",
        "-n",
        n,
        "--type",
        "merge",
        "-p",
        &json!({"spec": {"owners": {"platform": ghost}}}).to_string(),
    ]);
    let md = wait_phase(n, "recs", "Invalid", Duration::from_secs(30));
    let ready = condition(&md, "Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("UnknownTeam"))
    );
    assert!(ready["message"].as_str().unwrap().contains(&ghost));
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    assert_eq!(
        deployment_image(n, "recs").as_deref(),
        Some("registry.example.com/recs:1.0.0"),
        "the active version keeps serving"
    );
    assert_eq!(count_events(n, "recs", "UnknownTeam"), 1);

    let team = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": ghost},
                      "spec": {"members": {"groups": ["ml-platform-eng"]}}});
    create(&team);
    let md = wait_phase(n, "recs", "Serving", Duration::from_secs(30));
    assert_eq!(
        md["metadata"]["labels"]["accord.dev/platform-owner"],
        ghost.as_str()
    );
    poll(
        "the Deployment to carry the new owner label",
        Duration::from_secs(30),
        || {
            let d = deployment(n, "recs").unwrap();
            (d["metadata"]["labels"]["accord.dev/platform-owner"] == ghost.as_str())
                .then_some(())
                .ok_or_else(|| d["metadata"]["labels"].to_string())
        },
    );
    Kubectl::admin().ok(&["delete", "team", &ghost]);
}

#[test]
fn team_status_counts_models_and_pending_items() {
    operator();
    let ns = TestNamespace::create("teams");
    let n = ns.name.as_str();
    let team_name = format!("counted-{n}");
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": team_name},
                   "spec": {"members": {"groups": ["payments-app-eng"]}}}),
    );
    let mut md = model_deployment(n, "counted", "1.0.0");
    md["spec"]["owners"]["application"] = json!(team_name);
    create(&md);
    let team = poll(
        "the Team to count one model and one pending item",
        Duration::from_secs(30),
        || {
            let t = Kubectl::admin().get_json(&["team", &team_name]).unwrap();
            (t["status"]["modelDeployments"] == 1 && t["status"]["pendingItems"] == 1)
                .then(|| t.clone())
                .ok_or_else(|| t["status"].to_string())
        },
    );
    assert_eq!(team["status"]["observedGeneration"], 1);
    let attestation = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
        "metadata": {"name": "counted-kpis", "namespace": n},
        "spec": {"modelDeployment": "counted", "item": "kpis", "version": "1.0.0", "attestedBy": "carol", "team": team_name}});
    let out = Kubectl::user("carol")
        .run_with_stdin(&["create", "-f", "-"], Some(&attestation.to_string()));
    assert!(out.success, "{}", out.stderr);
    poll(
        "pending items to drop to 0",
        Duration::from_secs(30),
        || {
            let t = Kubectl::admin().get_json(&["team", &team_name]).unwrap();
            (t["status"]["pendingItems"] == 0)
                .then_some(())
                .ok_or_else(|| t["status"].to_string())
        },
    );
    Kubectl::admin().ok(&["delete", "md", "counted", "-n", n]);
    Kubectl::admin().ok(&["delete", "team", &team_name]);
}

#[test]
fn withdrawn_attestation_blocks_again_before_promotion() {
    operator();
    let ns = TestNamespace::create("withdraw");
    let n = ns.name.as_str();
    create(&model_deployment(n, "wd", "1.0.0"));
    attest("alice", n, "wd", "drift", "1.0.0");
    attest("bob", n, "wd", "latency", "1.0.0");
    poll("pending to be 1", Duration::from_secs(20), || {
        let md = get_md(n, "wd");
        (md["status"]["pendingItems"] == 1)
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
    Kubectl::user("bob").ok(&["delete", "attestation", "wd-1.0.0-latency", "-n", n]);
    poll("pending to be 2 again", Duration::from_secs(20), || {
        let md = get_md(n, "wd");
        (md["status"]["pendingItems"] == 2)
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
}

#[test]
fn deleting_a_model_deployment_collects_its_objects_and_keeps_attestations() {
    operator();
    let ns = TestNamespace::create("gc");
    let n = ns.name.as_str();
    serving(n, "gone", "1.0.0", |_| {});
    assert!(
        Kubectl::admin()
            .get_json(&["service", "gone", "-n", n])
            .is_some()
    );
    Kubectl::admin().ok(&["delete", "md", "gone", "-n", n]);
    poll(
        "the Deployment and Service to be garbage-collected",
        Duration::from_secs(60),
        || {
            let d = deployment(n, "gone");
            let s = Kubectl::admin().get_json(&["service", "gone", "-n", n]);
            (d.is_none() && s.is_none())
                .then_some(())
                .ok_or("still there".to_string())
        },
    );
    let atts = Kubectl::admin()
        .ok(&["get", "attestations", "-n", n, "-o", "name"])
        .stdout;
    assert_eq!(
        atts.lines().count(),
        3,
        "attestations are audit records and stay: {atts}"
    );
}
