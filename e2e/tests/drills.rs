//! Rollback drills on the real control plane: a drill of the previous known-good
//! version runs its recorded serving shape beside production (its pods really serve,
//! on a stand-in node, and the smoke request goes through the API server's proxy),
//! every step is recorded, production's Deployment and Service are never written, and
//! the tabletop is acknowledged by the platform and application Teams; a policy's
//! `drills.maxAge` holds a candidate back until then, and the drill satisfies
//! `rollback-tested`. A smoke failure is recorded; a target that cannot be scheduled
//! fails at Ready with the scheduler's words; a schedule fires on the minute. And the
//! attempts to get around it, each checked against what is stored afterwards.

mod support;

use std::{sync::OnceLock, time::Duration};

use accord_e2e::{Kubectl, Operator, TestNamespace, events_for, plugin_as, poll, stand_in_node};
use serde_json::{Value, json};
use support::{attest_as_named, condition, create, get_md, model_deployment, set_version};

const WAIT: Duration = Duration::from_secs(90);
/// The port the previous known-good version serves on (a real HTTP server, on the
/// stand-in node).
const PORT: u16 = 18091;

fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        accord_e2e::prepare();
        Operator::start("drills", "accord-operator", &[])
    })
}

/// The stand-in node that really runs (serves) the pods bound to it.
fn stand_in() -> &'static stand_in_node::StandInNode {
    static NODE: OnceLock<stand_in_node::StandInNode> = OnceLock::new();
    NODE.get_or_init(|| stand_in_node::StandInNode::serve("e2e-drills", "/usr/bin/python3".into()))
}

/// The template of version 1.0.0: a real HTTP server on the stand-in node, with labels
/// of its own (`app: fraud`) that a drill must not copy.
fn served_template(version: &str) -> Value {
    let node = stand_in_node::LABEL;
    json!({
        "metadata": {"labels": {"app": "fraud", "tier": "scoring"}},
        "spec": {
            "nodeSelector": {node: "e2e-drills"},
            "tolerations": [{"key": node, "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{
                "name": "model",
                "image": format!("registry.example.com/fraud:{version}"),
                "args": ["-m", "http.server", PORT.to_string(), "--bind", stand_in_node::host_ip()],
                "ports": [{"name": "http", "containerPort": PORT}]
            }]
        }
    })
}

fn get(kind: &str, n: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&[kind, name, "-n", n])
}

fn resource_version(kind: &str, n: &str, name: &str) -> String {
    get(kind, n, name).expect("exists")["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

fn drill(n: &str, name: &str) -> Value {
    get("rollbackdrill", n, name).unwrap_or(Value::Null)
}

/// Waits for run `index` (0: newest) of a drill to finish; returns it.
fn finished_run(n: &str, name: &str, after: usize) -> Value {
    poll(&format!("drill {name} to finish a run"), WAIT, || {
        let drill = drill(n, name);
        let runs = drill["status"]["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        match runs.first() {
            Some(run) if runs.len() > after && run["result"] != "Running" => Ok(run.clone()),
            _ => Err(drill["status"].to_string()),
        }
    })
}

fn step<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or(&Value::Null)
}

fn create_as(user: &str, object: &Value) -> Result<(), String> {
    let out = Kubectl::user(user).run_with_stdin(&["create", "-f", "-"], Some(&object.to_string()));
    if out.success { Ok(()) } else { Err(out.stderr) }
}

fn rollback_drill(n: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
           "metadata": {"name": name, "namespace": n}, "spec": spec})
}

fn review(n: &str, name: &str, run: &str, drill_name: &str, version: &str) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
           "metadata": {"name": name, "namespace": n},
           "spec": {"modelDeployment": "fraud", "item": "drill-review", "version": version,
                    "drill": format!("{drill_name}/{run}"),
                    "evidence": "https://wiki.example.com/drills/fraud"}})
}

fn ready_reason(md: &Value) -> String {
    condition(md, "Ready")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Each owner signs off `items` of fraud's `version` (as themselves).
fn sign_off(n: &str, version: &str, items: &[&str]) {
    for item in items {
        let user = match *item {
            "drift" => "alice",
            "latency" | "rollback-tested" => "bob",
            _ => "carol",
        };
        attest_as_named(
            user,
            n,
            "fraud",
            item,
            version,
            &format!("fraud-{version}-{item}"),
        );
    }
}

fn wait_serving(n: &str, version: &str) -> Value {
    poll(&format!("fraud {version} to serve"), WAIT, || {
        let md = get_md(n, "fraud");
        (md["status"]["activeVersion"] == version && md["status"]["phase"] == "Serving")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    })
}

/// No pod of the production Deployment runs on the stand-in node any more (the old
/// version's server has stopped listening on PORT).
fn wait_production_off_stand_in(n: &str) {
    poll(
        "the old version's pods to leave the stand-in node",
        WAIT,
        || {
            let pods = Kubectl::admin()
                .get_json(&[
                    "pods",
                    "-n",
                    n,
                    "-l",
                    "accord.dev/instance=fraud",
                    "--field-selector",
                    "spec.nodeName=e2e-drills",
                ])
                .and_then(|l| l["items"].as_array().cloned())
                .unwrap_or_default();
            pods.is_empty()
                .then_some(())
                .ok_or(format!("{} pods", pods.len()))
        },
    );
}

/// fraud: 1.0.0 served for real on the stand-in node, then 2.0.0 on KWOK; a policy
/// asks for a drill passed and acknowledged within 10 minutes, and lets it satisfy
/// `rollback-tested`.
fn set_up(n: &str) {
    operator();
    stand_in();
    let mut md = model_deployment(n, "fraud", "1.0.0");
    md["metadata"]["labels"] = json!({"e2e.accord.dev/drills": n});
    md["spec"]["serving"] = json!({"replicas": 1, "template": served_template("1.0.0")});
    // A real process on the stand-in node starts slower than a KWOK pod: on a loaded
    // machine 10 s was not always enough to be Available.
    md["spec"]["rollback"]["progressDeadlineSeconds"] = json!(60);
    md["spec"]["handoff"]["checklist"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "rollback-tested", "owner": "platform"}));
    create(&md);
    sign_off(n, "1.0.0", &["drift", "latency", "rollback-tested", "kpis"]);
    wait_serving(n, "1.0.0");
    support::patch_md(
        n,
        "fraud",
        json!({"spec": {"model": {"version": "2.0.0"},
                        "serving": {"template": null, "image": "registry.example.com/fraud:2.0.0", "port": 8080}}}),
    );
    sign_off(n, "2.0.0", &["drift", "latency", "rollback-tested", "kpis"]);
    wait_serving(n, "2.0.0");
    wait_production_off_stand_in(n);
}

#[test]
fn a_drill_rehearses_the_previous_version_beside_production_and_the_tabletop_and_the_policy_rest_on_it()
 {
    let ns = TestNamespace::create("drills");
    let n = ns.name.as_str();
    set_up(n);
    // The policy comes after 2.0.0: the next candidate needs a fresh, reviewed drill.
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": format!("{n}-drills")},
        "spec": {"selector": {"matchLabels": {"e2e.accord.dev/drills": n}},
                 "drills": {"maxAge": "10m", "satisfies": "rollback-tested"}}}),
    );
    set_version(n, "fraud", "3.0.0");
    // Not rollback-tested: the drill is to satisfy it.
    sign_off(n, "3.0.0", &["drift", "latency", "kpis"]);
    let blocked = poll("3.0.0 to wait for a drill", WAIT, || {
        let md = get_md(n, "fraud");
        (ready_reason(&md) == "DrillOverdue")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    let message = condition(&blocked, "Ready")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("never"), "no drill yet: {message}");
    assert_eq!(blocked["status"]["activeVersion"], "2.0.0");

    let production = (
        resource_version("deployment", n, "fraud"),
        resource_version("service", n, "fraud"),
    );
    let spec = json!({"modelDeployment": "fraud", "target": "PreviousKnownGood", "deadline": "60s",
                      "smoke": {"path": "/", "port": PORT},
                      "tabletop": {"acknowledge": ["platform", "application"], "within": "1h"}});
    // Only the platform Team creates a drill.
    for user in ["mallory", "carol"] {
        let denied = create_as(user, &rollback_drill(n, "rehearsal", spec.clone())).unwrap_err();
        assert!(denied.contains("platform"), "{user}: {denied}");
    }
    assert!(
        get("rollbackdrill", n, "rehearsal").is_none(),
        "a refused drill is not stored"
    );
    create_as("bob", &rollback_drill(n, "rehearsal", spec))
        .expect("bob (platform) creates the drill");

    // While it runs: its pods carry none of production's labels, so production's
    // Service never selects them.
    let labels = poll("the drill's pods", WAIT, || {
        let pods = Kubectl::admin()
            .get_json(&["pods", "-n", n, "-l", "accord.dev/drill=rehearsal"])
            .and_then(|l| l["items"].as_array().cloned())
            .unwrap_or_default();
        pods.first()
            .map(|p| p["metadata"]["labels"].clone())
            .ok_or("none yet".to_string())
    });
    assert!(
        labels.get("accord.dev/instance").is_none() && labels.get("app").is_none(),
        "drill pod labels: {labels}"
    );

    let run = finished_run(n, "rehearsal", 0);
    assert_eq!(run["result"], "Passed", "{run:#}");
    assert_eq!(run["target"]["version"], "1.0.0");
    let names: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "TargetResolved",
            "ImagePresent",
            "Scheduled",
            "Ready",
            "Smoke",
            "RollbackRightsHeld",
            "CleanedUp"
        ]
    );
    for name in [
        "TargetResolved",
        "Scheduled",
        "Ready",
        "Smoke",
        "RollbackRightsHeld",
        "CleanedUp",
    ] {
        assert_eq!(step(&run, name)["result"], "Passed", "{name}: {run:#}");
    }
    assert_eq!(step(&run, "ImagePresent")["result"], "Skipped");
    assert!(
        step(&run, "Smoke")["message"]
            .as_str()
            .unwrap()
            .contains("answered 200"),
        "{run:#}"
    );
    assert!(run["timeToReady"].is_string());
    let workload = run["workload"].as_str().unwrap().to_string();
    assert!(workload.starts_with("fraud-drill-"), "{workload}");
    assert!(
        get("deployment", n, &workload).is_none() && get("service", n, &workload).is_none(),
        "cleaned up"
    );
    assert_eq!(
        (
            resource_version("deployment", n, "fraud"),
            resource_version("service", n, "fraud")
        ),
        production,
        "production's Deployment and Service were never written"
    );
    let reasons: Vec<String> = events_for(n, "RollbackDrill", "rehearsal")
        .into_iter()
        .map(|e| e.reason)
        .collect();
    assert!(
        reasons.contains(&"DrillStarted".into()) && reasons.contains(&"DrillPassed".into()),
        "{reasons:?}"
    );

    // The metrics: when the model's drill last passed, and how long it took to be Ready.
    let metrics = poll("the drill metrics", WAIT, || {
        let text = operator().http_get("/metrics").unwrap_or_default();
        text.contains(&format!(
            "accord_rollback_drill_last_success_timestamp_seconds{{namespace=\"{n}\",model=\"fraud\"}}"
        ))
        .then_some(text.clone())
        .ok_or(text)
    });
    assert!(
        metrics.contains("accord_rollback_drill_time_to_ready_seconds_count"),
        "{metrics}"
    );

    // Passed but not reviewed: still held back.
    let md = get_md(n, "fraud");
    assert_eq!(ready_reason(&md), "DrillOverdue", "{}", md["status"]);

    // The tabletop: mallory cannot acknowledge; bob (platform) and carol (application) do.
    let id = run["id"].as_str().unwrap().to_string();
    let denied = create_as(
        "mallory",
        &review(n, "by-mallory", &id, "rehearsal", "1.0.0"),
    )
    .unwrap_err();
    assert!(denied.contains("mallory"), "{denied}");
    assert!(get("attestation", n, "by-mallory").is_none());
    let wrong_version = create_as(
        "bob",
        &review(n, "wrong-version", &id, "rehearsal", "2.0.0"),
    )
    .unwrap_err();
    assert!(wrong_version.contains("1.0.0"), "{wrong_version}");
    create_as("bob", &review(n, "by-bob", &id, "rehearsal", "1.0.0")).expect("bob acknowledges");
    // Replaying bob's acknowledgement onto another run is refused, and nothing changes.
    let replay = Kubectl::user("bob").run(&[
        "patch",
        "attestation",
        "by-bob",
        "-n",
        n,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"drill":"rehearsal/20200101-000000"}}"#,
    ]);
    assert!(!replay.success);
    assert_eq!(
        get("attestation", n, "by-bob").unwrap()["spec"]["drill"],
        format!("rehearsal/{id}")
    );
    // A second run (requested through the plugin, which waits for it) is not
    // acknowledged by the first run's review.
    let (ok, out, err) = plugin_as("bob", &["drill", "run", "rehearsal", "-n", n]);
    assert!(ok, "{out}{err}");
    let second = finished_run(n, "rehearsal", 1);
    assert_ne!(second["id"], json!(id));
    assert_eq!(second["result"], "Passed", "{second:#}");
    assert_eq!(second["requestedBy"], "bob");
    assert!(
        second["acknowledgedBy"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{second:#}"
    );
    let md = get_md(n, "fraud");
    assert_eq!(
        ready_reason(&md),
        "DrillOverdue",
        "one of two roles reviewed: {}",
        md["status"]
    );

    create_as("carol", &review(n, "by-carol", &id, "rehearsal", "1.0.0"))
        .expect("carol acknowledges");
    let reviewed = poll("the run to be acknowledged", WAIT, || {
        let runs = drill(n, "rehearsal")["status"]["runs"].clone();
        let run = runs
            .as_array()
            .and_then(|r| r.iter().find(|r| r["id"] == json!(id)).cloned())
            .unwrap_or_default();
        run["acknowledgedAt"]
            .is_string()
            .then_some(run.clone())
            .ok_or_else(|| run.to_string())
    });
    let by: Vec<(&str, &str)> = reviewed["acknowledgedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["role"].as_str().unwrap(), a["user"].as_str().unwrap()))
        .collect();
    assert_eq!(by, [("platform", "bob"), ("application", "carol")]);

    // Now 3.0.0 is promoted, and its rollback-tested rests on the drill.
    let md = wait_serving(n, "3.0.0");
    let item = md["status"]["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "rollback-tested")
        .cloned()
        .unwrap();
    assert!(
        item["satisfiedByDrill"]
            .as_str()
            .is_some_and(|d| d.contains(&id)),
        "{item}"
    );
    let report = plugin_as(
        "carol",
        &["drill", "report", "rehearsal", "-n", n, "--run", &id],
    );
    assert!(
        report.0 && report.1.contains("bob") && report.1.contains("Smoke"),
        "{report:?}"
    );

    // Forging a passed run in status is refused and leaves status as Accord wrote it.
    let before = drill(n, "rehearsal")["status"].clone();
    let forged = Kubectl::user("bob").run(&[
        "patch",
        "rollbackdrill",
        "rehearsal",
        "-n",
        n,
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"lastSuccess":"2030-01-01T00:00:00Z"}}"#,
    ]);
    assert!(!forged.success, "{}", forged.stdout);
    assert_eq!(
        drill(n, "rehearsal")["status"]["lastSuccess"],
        before["lastSuccess"]
    );

    // A smoke request that gets the wrong answer fails the run at Smoke.
    create_as(
        "bob",
        &rollback_drill(
            n,
            "wrong-path",
            json!({"modelDeployment": "fraud",
        "target": {"version": "1.0.0"}, "deadline": "60s",
        "smoke": {"path": "/no-such-page", "port": PORT}}),
        ),
    )
    .unwrap();
    let failed = finished_run(n, "wrong-path", 0);
    assert_eq!(failed["result"], "Failed", "{failed:#}");
    assert_eq!(step(&failed, "Smoke")["result"], "Failed");
    assert!(
        step(&failed, "Smoke")["message"]
            .as_str()
            .unwrap()
            .contains("404"),
        "{failed:#}"
    );
    assert_eq!(step(&failed, "CleanedUp")["result"], "Passed");

    // Every finished run is a signed record in the model's chain (DrillRun).
    let runs: std::collections::BTreeSet<(String, String)> = ["rehearsal", "wrong-path"]
        .iter()
        .flat_map(|name| {
            drill(n, name)["status"]["runs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |r| (name.to_string(), r["id"].as_str().unwrap().to_string()))
        })
        .collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    poll("a DrillRun record for each run", WAIT, || {
        let recorded = drill_run_records(n);
        (recorded == runs)
            .then_some(())
            .ok_or(format!("{recorded:?}"))
    });

    // bob (platform) deletes the drill that passed: the model's last-success series
    // goes, so the overdue alert does not fire for a drill that no longer exists; its
    // runs stay as Events and as records, which verify with the rest of the chain.
    Kubectl::user("bob").ok(&["delete", "rollbackdrill", "rehearsal", "-n", n]);
    let series = format!(
        "accord_rollback_drill_last_success_timestamp_seconds{{namespace=\"{n}\",model=\"fraud\"}}"
    );
    poll("the deleted drill's series to go", WAIT, || {
        let text = operator().http_get("/metrics").unwrap_or_default();
        (!text.is_empty() && !text.contains(&series))
            .then_some(())
            .ok_or(text)
    });
    assert!(
        events_for(n, "RollbackDrill", "rehearsal")
            .iter()
            .any(|e| e.reason == "DrillPassed"),
        "the runs outlive the drill as Events"
    );
    assert!(get("rollbackdrill", n, "rehearsal").is_none());
    assert_eq!(drill_run_records(n), runs, "the records outlive the drill");
    let dir = std::env::temp_dir().join(format!("accord-e2e-drill-records-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (ok, keys, err) = plugin_as("alice", &["audit", "key"]);
    assert!(ok, "{err}");
    let (ok, lines, err) = plugin_as("alice", &["audit", "export", "-n", n]);
    assert!(ok, "{err}");
    let (jsonl, pem) = (dir.join("records.jsonl"), dir.join("accord.pub"));
    std::fs::write(&jsonl, &lines).unwrap();
    std::fs::write(&pem, &keys).unwrap();
    let (ok, out, err) = plugin_as(
        "alice",
        &[
            "audit",
            "verify",
            jsonl.to_str().unwrap(),
            "--key",
            pem.to_str().unwrap(),
        ],
    );
    assert!(ok, "audit verify: {out}{err}");
    assert_eq!(out.matches("DrillRun").count(), 3, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The (drill, run) of every DrillRun PromotionRecord in `n`, from its signed payload.
fn drill_run_records(n: &str) -> std::collections::BTreeSet<(String, String)> {
    use base64::Engine as _;
    let list = Kubectl::admin()
        .get_json(&["promotionrecords", "-n", n])
        .unwrap_or_default();
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|record| {
            let payload = base64::engine::general_purpose::STANDARD
                .decode(record["spec"]["envelope"]["payload"].as_str()?)
                .ok()?;
            let statement: Value = serde_json::from_slice(&payload).ok()?;
            let p = &statement["predicate"];
            (p["action"] == "DrillRun").then(|| {
                (
                    p["drill"]["name"].as_str().unwrap_or_default().to_string(),
                    p["drill"]["run"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn attempts_to_make_a_drill_touch_production_are_refused_and_nothing_is_stored() {
    let ns = TestNamespace::create("drill-attacks");
    let n = ns.name.as_str();
    operator();
    support::serving(n, "fraud", "1.0.0", |_| {});
    let production = resource_version("deployment", n, "fraud");
    let attempts = [
        // A template, labels or a name of the editor's choosing in the target.
        json!({"modelDeployment": "fraud", "target": {"version": "1.0.0", "template": {"metadata": {"labels": {"accord.dev/instance": "fraud"}}}}}),
        json!({"modelDeployment": "fraud", "target": {"version": "1.0.0", "name": "fraud"}}),
        json!({"modelDeployment": "fraud", "target": "TheOneIWant"}),
        json!({"modelDeployment": "fraud", "target": "PreviousKnownGood", "schedule": "61 * * * *"}),
        json!({"modelDeployment": "fraud", "target": "PreviousKnownGood", "schedule": "0 10 * * 2", "timeZone": "Mars/Olympus"}),
    ];
    for (i, spec) in attempts.into_iter().enumerate() {
        let name = format!("attempt-{i}");
        let denied = create_as("bob", &rollback_drill(n, &name, spec.clone())).unwrap_err();
        assert!(denied.contains("spec."), "{spec}: {denied}");
        assert!(
            get("rollbackdrill", n, &name).is_none(),
            "{spec} was stored"
        );
    }
    // Unknown spec fields (labels, selector) are not even in the schema.
    let out = Kubectl::user("bob").run_with_stdin(
        &["create", "--validate=strict", "-f", "-"],
        Some(
            &rollback_drill(
                n,
                "selector",
                json!({"modelDeployment": "fraud", "selector": {"accord.dev/instance": "fraud"}}),
            )
            .to_string(),
        ),
    );
    assert!(!out.success, "{}", out.stdout);
    assert!(get("rollbackdrill", n, "selector").is_none());
    assert_eq!(resource_version("deployment", n, "fraud"), production);
}

/// A KWOK node only version 1.0.0 of `scorer` may run on (by a label), removed from
/// the pool once 2.0.0 serves: the scheduler really refuses the drill's pods.
#[test]
fn an_unschedulable_target_fails_at_ready_and_a_schedule_fires_on_the_minute() {
    let ns = TestNamespace::create("drill-sched");
    let n = ns.name.as_str();
    operator();
    let node = support::serving_with_unschedulable_previous(n, "scorer", n);

    let spec =
        json!({"modelDeployment": "scorer", "target": "PreviousKnownGood", "deadline": "8s"});
    create_as("bob", &rollback_drill(n, "unschedulable", spec)).unwrap();
    // Every minute, the active version (which does schedule).
    let every_minute = json!({"modelDeployment": "scorer", "target": {"version": "2.0.0"},
                              "schedule": "* * * * *", "deadline": "30s"});
    create_as("bob", &rollback_drill(n, "every-minute", every_minute)).unwrap();

    let run = poll("the unschedulable drill to finish", WAIT, || {
        let run = get("rollbackdrill", n, "unschedulable").unwrap()["status"]["runs"][0].clone();
        (run["result"] == "Failed")
            .then_some(run.clone())
            .ok_or_else(|| run.to_string())
    });
    assert_eq!(step(&run, "Ready")["result"], "Failed", "{run:#}");
    let message = step(&run, "Ready")["message"].as_str().unwrap();
    assert!(
        message.contains("didn't match Pod's node affinity/selector"),
        "{message}"
    );
    assert!(
        run["message"]
            .as_str()
            .unwrap()
            .starts_with("failed at Scheduled")
            || run["message"]
                .as_str()
                .unwrap()
                .starts_with("failed at Ready"),
        "{run:#}"
    );
    assert_eq!(step(&run, "CleanedUp")["result"], "Passed");

    let scheduled = poll("the schedule to fire", Duration::from_secs(100), || {
        let drill = get("rollbackdrill", n, "every-minute").unwrap();
        let run = drill["status"]["runs"][0].clone();
        (run["trigger"] == "Schedule")
            .then_some((drill.clone(), run.clone()))
            .ok_or_else(|| drill["status"].to_string())
    });
    let (drill, run) = scheduled;
    let fired: jiff::Timestamp = drill["status"]["lastScheduleTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let started: jiff::Timestamp = run["startedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(fired.as_second() % 60, 0, "fires on the minute: {fired}");
    let late = started.as_second() - fired.as_second();
    assert!(
        (0..=5).contains(&late),
        "started {late}s after its firing at {fired}"
    );
    assert!(drill["status"]["nextRunAt"].as_str().is_some());
    Kubectl::admin().ok(&["delete", "rollbackdrill", "every-minute", "-n", n]);
    let _ = Kubectl::admin().run(&["delete", "node", &node, "--wait=false"]);
}
