//! After promotion, on the real control plane with a real Prometheus (on loopback,
//! scraping an endpoint the test controls in place of the model's metrics): a guard
//! breach that lasts `for` rolls back, opens one Incident and tells the Responsible
//! Team; nobody acknowledging tells the Accountable Team; the next candidate waits for
//! the root cause, which only the Accountable Team signs; its follow-ups must be in
//! the next candidate's checklist. An `Alert` guard keeps the version; a spike shorter
//! than `for` opens nothing. And the attempts to get around it, each checked against
//! what is stored afterwards.

mod support;

use std::{
    io::{Read, Write},
    net::TcpListener,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use accord_e2e::{Kubectl, MetricsSource, Operator, Prometheus, TestNamespace, poll};
use base64::Engine as _;
use serde_json::{Value, json};
use support::{
    attest_as_named, condition, create, get_md, last_history, model_deployment, patch_md,
};

const WAIT: Duration = Duration::from_secs(90);

/// The operator these tests share, kept to read its metrics.
fn operator() -> &'static Mutex<Operator> {
    static OPERATOR: OnceLock<Mutex<Operator>> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        accord_e2e::prepare();
        Mutex::new(Operator::start("incidents", "accord-operator", &[]))
    })
}

/// What a notification receiver saw: (path, JSON body).
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// An HTTP receiver on loopback recording each POST's path and body.
fn receiver() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data);
                let Some(head_end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if data.len() >= head_end + 4 + length {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&data).to_string();
            let path = text
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let body = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b)
                .unwrap_or_default();
            let body = serde_json::from_str(body).unwrap_or(Value::Null);
            record.lock().unwrap().push((path, body));
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, seen)
}

fn told(seen: &Seen, path: &str, event: &str) -> Vec<Value> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(p, b)| p == path && b["accord"]["event"] == event)
        .map(|(_, b)| b.clone())
        .collect()
}

/// This test's three Teams (alice: data, bob: platform, carol: application), the
/// platform and application Teams told about Incidents at `port`, and the policy that
/// makes the application role Accountable for incident response.
struct Owners {
    data: String,
    platform: String,
    app: String,
}

fn owners(n: &str, port: u16) -> Owners {
    let secret = support::hook_secret(n, port, &[("platform", "platform"), ("app", "app")]);
    let team = |name: &str, user: &str, key: Option<&str>| {
        let notify = key.map_or(json!([]), |key| {
            json!([{"name": format!("{key}-pager"), "urlSecretRef": {"name": secret, "key": key},
                    "events": ["IncidentOpened", "IncidentEscalated", "RolledBack"]}])
        });
        create(
            &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": name},
                       "spec": {"members": {"users": [user]}, "notify": notify}}),
        );
    };
    let owners = Owners {
        data: format!("{n}-data"),
        platform: format!("{n}-platform"),
        app: format!("{n}-app"),
    };
    team(&owners.data, "alice", None);
    team(&owners.platform, "bob", Some("platform"));
    team(&owners.app, "carol", Some("app"));
    create(&json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": format!("{n}-matrix")},
        "spec": {
            "selector": {"matchLabels": {"e2e.accord.dev/incidents": n}},
            "responsibilities": [{"stage": "IncidentResponse", "responsible": ["platform"], "accountable": "application"}]
        }
    }));
    owners
}

fn query(name: &str) -> String {
    format!(
        "max(model_error_ratio{{namespace=\"{{{{namespace}}}}\",model=\"{name}\",version=\"{{{{version}}}}\"}})"
    )
}

/// The error ratio the model exports, per (model, version).
fn errors(n: &str, by: &[(&str, &str, &str)]) -> String {
    let mut text = String::from("# TYPE model_error_ratio gauge\n");
    for (model, version, ratio) in by {
        text.push_str(&format!(
            "model_error_ratio{{namespace=\"{n}\",model=\"{model}\",version=\"{version}\"}} {ratio}\n"
        ));
    }
    text
}

/// A ModelDeployment owned by `owners`, watched by one guard.
fn watched(n: &str, name: &str, owners: &Owners, prometheus: &Prometheus, guard: Value) -> Value {
    watched_escalating(n, name, owners, prometheus, guard, "4s")
}

fn watched_escalating(
    n: &str,
    name: &str,
    owners: &Owners,
    prometheus: &Prometheus,
    guard: Value,
    escalate_after: &str,
) -> Value {
    let mut md = model_deployment(n, name, "1.0.0");
    md["metadata"]["labels"] = json!({"e2e.accord.dev/incidents": n});
    md["spec"]["owners"] =
        json!({"data": owners.data, "platform": owners.platform, "application": owners.app});
    let mut guard = guard;
    guard["query"] = json!(query(name));
    md["spec"]["monitoring"] =
        json!({"address": prometheus.address, "escalateAfter": escalate_after, "guards": [guard]});
    md
}

fn sign_off(n: &str, name: &str, version: &str) {
    for (user, item) in [("alice", "drift"), ("bob", "latency"), ("carol", "kpis")] {
        attest_as_named(
            user,
            n,
            name,
            item,
            version,
            &format!("{name}-{version}-{item}"),
        );
    }
}

fn release(n: &str, name: &str, version: &str) {
    support::set_version(n, name, version);
    sign_off(n, name, version);
}

fn wait_active(n: &str, name: &str, version: &str) -> Value {
    poll(&format!("{name} {version} to serve"), WAIT, || {
        let md = get_md(n, name);
        (md["status"]["activeVersion"] == version && md["status"]["phase"] == "Serving")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    })
}

fn incidents(n: &str) -> Vec<Value> {
    Kubectl::admin()
        .get_json(&["incidents", "-n", n])
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default()
}

fn incident(n: &str, name: &str) -> Value {
    Kubectl::admin()
        .get_json(&["incident", name, "-n", n])
        .unwrap_or(Value::Null)
}

fn wait_incident(n: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    poll(what, WAIT, || {
        let all = incidents(n);
        all.iter()
            .find(|i| check(i))
            .cloned()
            .ok_or_else(|| format!("{all:?}"))
    })
}

fn timeline(incident: &Value) -> Vec<String> {
    incident["status"]["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|e| e["what"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `kubectl accord <args>` as `user`: (succeeded, stdout, stderr).
fn accord(user: &str, args: &[&str]) -> (bool, String, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(root.join("target/debug/kubectl-accord"))
        .args(args)
        .args([
            "--kubeconfig",
            Kubectl::user(user).kubeconfig().to_str().unwrap(),
        ])
        .output()
        .expect("kubectl-accord runs (cargo build --bin kubectl-accord)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `user` creates `object`; returns the error text when denied.
fn create_as(user: &str, object: &Value) -> Result<(), String> {
    let out = Kubectl::user(user).run_with_stdin(&["create", "-f", "-"], Some(&object.to_string()));
    if out.success { Ok(()) } else { Err(out.stderr) }
}

fn rca(n: &str, name: &str, md: &str, incident: &str, version: &str, follow_ups: &[&str]) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
           "metadata": {"name": name, "namespace": n},
           "spec": {"modelDeployment": md, "item": "root-cause-analysis", "version": version,
                    "incident": incident, "evidence": "https://wiki.example.com/rca/42",
                    "followUps": follow_ups}})
}

fn ready_reason(md: &Value) -> String {
    condition(md, "Ready")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_breach_rolls_back_opens_one_incident_escalates_and_the_root_cause_feeds_the_next_handoff() {
    let _operator = operator();
    let ns = TestNamespace::create("incidents");
    let n = ns.name.as_str();
    let (port, seen) = receiver();
    let owners = owners(n, port);
    let source = MetricsSource::start();
    let prometheus = Prometheus::start(source.port);
    let guard = json!({"name": "error-rate", "maxValue": 0.05, "for": "3s", "intervalSeconds": 1,
                       "owner": "platform", "action": "RollBack"});
    source.set(&errors(
        n,
        &[("fraud", "1.0.0", "0.01"), ("fraud", "2.0.0", "0.01")],
    ));
    create(&watched(n, "fraud", &owners, &prometheus, guard));
    sign_off(n, "fraud", "1.0.0");
    wait_active(n, "fraud", "1.0.0");
    release(n, "fraud", "2.0.0");
    wait_active(n, "fraud", "2.0.0");
    std::thread::sleep(Duration::from_secs(3));
    assert!(incidents(n).is_empty(), "within bounds: no Incident");

    // 2.0.0 degrades: after `for`, rolled back to 1.0.0 by the plan, one Incident.
    source.set(&errors(
        n,
        &[("fraud", "1.0.0", "0.01"), ("fraud", "2.0.0", "0.2")],
    ));
    let md = poll("the rollback on the guard's breach", WAIT, || {
        let md = get_md(n, "fraud");
        (last_history(&md)["reason"] == "GuardBreached")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    assert_eq!(last_history(&md)["version"], "1.0.0");
    let opened = wait_incident(n, "the Incident to be triaged", |i| {
        i["status"]["owner"].is_object()
    });
    let name = opened["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(opened["spec"]["version"], "2.0.0");
    assert_eq!(opened["spec"]["guard"], "error-rate");
    assert_eq!(opened["status"]["owner"]["team"], owners.platform.as_str());
    assert_eq!(opened["status"]["accountable"]["team"], owners.app.as_str());
    assert!(
        opened["spec"]["summary"]
            .as_str()
            .unwrap()
            .contains("above the maximum 0.05"),
        "{opened}"
    );
    poll("the Responsible Team to be told", WAIT, || {
        let told = told(&seen, "/platform", "IncidentOpened");
        (told.len() == 1)
            .then_some(())
            .ok_or_else(|| format!("{:?}", seen.lock().unwrap()))
    });
    assert!(
        told(&seen, "/app", "IncidentOpened").is_empty(),
        "opened: only the Responsible Team"
    );

    // Nobody acknowledges: after escalateAfter the Accountable Team is told, once.
    let escalated = poll("the escalation", WAIT, || {
        let i = incident(n, &name);
        i["status"]["escalatedAt"]
            .is_string()
            .then_some(i.clone())
            .ok_or_else(|| i["status"].to_string())
    });
    poll("the Accountable Team to be told", WAIT, || {
        (told(&seen, "/app", "IncidentEscalated").len() == 1)
            .then_some(())
            .ok_or_else(|| format!("{:?}", seen.lock().unwrap()))
    });
    let whats = timeline(&escalated);
    for what in ["Opened", "Notified", "RolledBack", "Escalated"] {
        assert!(whats.contains(&what.to_string()), "{what} in {whats:?}");
    }
    let mitigated = poll("1.0.0 back: mitigated", WAIT, || {
        let i = incident(n, &name);
        (i["status"]["phase"] == "Mitigated")
            .then_some(i.clone())
            .ok_or_else(|| i["status"].to_string())
    });
    assert!(mitigated["status"]["mitigatedAt"].is_string());
    assert_eq!(incidents(n).len(), 1, "one Incident per model and version");

    // The next candidate waits for the root cause.
    release(n, "fraud", "3.0.0");
    let md = poll("3.0.0 to wait on the Incident", WAIT, || {
        let md = get_md(n, "fraud");
        (ready_reason(&md) == "IncidentOpen")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    let message = condition(&md, "Ready")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains(&name) && message.contains(&owners.app),
        "{message}"
    );
    assert_eq!(md["status"]["activeVersion"], "1.0.0");

    // bob (Responsible, not Accountable) cannot sign the root cause.
    let denied = create_as(
        "bob",
        &rca(n, "fraud-rca-bob", "fraud", &name, "2.0.0", &[]),
    )
    .unwrap_err();
    assert!(denied.contains(&owners.app), "{denied}");
    assert!(
        Kubectl::admin()
            .get_json(&["attestation", "fraud-rca-bob", "-n", n])
            .is_none()
    );
    assert_eq!(incident(n, &name)["status"]["phase"], "Mitigated");

    // What the plugin shows, and carol (Accountable) signs it with two follow-ups
    // through it: resolved.
    let list = accord("bob", &["incidents", "-n", n]);
    assert!(
        list.0 && list.1.contains(&name) && list.1.contains("Mitigated"),
        "{list:?}"
    );
    let shown = accord("bob", &["incident", "show", &name, "-n", n]);
    assert!(
        shown.0 && shown.1.contains(&owners.app) && shown.1.contains("--incident"),
        "{shown:?}"
    );
    let signed = accord(
        "carol",
        &[
            "attest",
            "fraud",
            "-n",
            n,
            "--incident",
            &name,
            "--evidence",
            "https://wiki.example.com/rca/42",
            "--follow-up",
            "load-test",
            "--follow-up",
            "alert-runbook",
        ],
    );
    assert!(signed.0, "carol signs the root cause: {signed:?}");
    let resolved = poll("the Incident to be resolved", WAIT, || {
        let i = incident(n, &name);
        (i["status"]["phase"] == "Resolved")
            .then_some(i.clone())
            .ok_or_else(|| i["status"].to_string())
    });
    assert_eq!(resolved["status"]["resolution"]["attestedBy"], "carol");
    assert_eq!(
        resolved["status"]["resolution"]["followUps"],
        json!(["load-test", "alert-runbook"])
    );
    // The resolution leaves a signed record in the model's chain, naming the analysis.
    let record = poll("the IncidentResolved record", WAIT, || {
        let list = Kubectl::admin()
            .get_json(&["promotionrecords", "-n", n])
            .unwrap_or_default();
        list["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|r| r["spec"]["action"] == "IncidentResolved")
                    .cloned()
            })
            .ok_or_else(|| list["items"].to_string())
    });
    let payload = base64::engine::general_purpose::STANDARD
        .decode(record["spec"]["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let predicate = &statement["predicate"];
    assert_eq!(predicate["incident"], json!(name));
    assert_eq!(predicate["items"][0]["id"], "root-cause-analysis");
    assert_eq!(predicate["items"][0]["approvers"][0]["user"], "carol");
    assert_eq!(
        predicate["followUps"],
        json!(["load-test", "alert-runbook"])
    );

    // The next candidate waits until its spec carries the follow-ups, then is promoted.
    let md = poll("3.0.0 to wait for the follow-ups", WAIT, || {
        let md = get_md(n, "fraud");
        (ready_reason(&md) == "FollowUpMissing")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    let message = condition(&md, "Ready")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("load-test") && message.contains("alert-runbook"),
        "{message}"
    );
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    let mut checklist = md["spec"]["handoff"]["checklist"]
        .as_array()
        .unwrap()
        .clone();
    checklist.push(json!({"id": "load-test", "owner": "platform"}));
    checklist.push(json!({"id": "alert-runbook", "owner": "platform"}));
    patch_md(
        n,
        "fraud",
        json!({"spec": {"handoff": {"checklist": checklist}}}),
    );
    for item in ["load-test", "alert-runbook"] {
        attest_as_named(
            "bob",
            n,
            "fraud",
            item,
            "3.0.0",
            &format!("fraud-3.0.0-{item}"),
        );
    }
    source.set(&errors(
        n,
        &[("fraud", "1.0.0", "0.01"), ("fraud", "3.0.0", "0.01")],
    ));
    wait_active(n, "fraud", "3.0.0");

    let metrics = operator()
        .lock()
        .unwrap()
        .http_get("/metrics")
        .unwrap_or_default();
    for series in [
        "accord_incident_time_to_mitigate_seconds_count",
        "accord_incident_time_to_resolve_seconds_count",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(series) && !l.ends_with(" 0")),
            "{series} in metrics"
        );
    }
}

#[test]
fn an_alert_guard_keeps_the_version_and_a_spike_shorter_than_for_opens_nothing() {
    let _operator = operator();
    let ns = TestNamespace::create("incidents-alert");
    let n = ns.name.as_str();
    let (port, seen) = receiver();
    let owners = owners(n, port);
    let source = MetricsSource::start();
    let prometheus = Prometheus::start(source.port);
    let calm = |model| [(model, "1.0.0", "0.01")];
    source.set(&errors(n, &[calm("alerting")[0], calm("spiky")[0]]));
    let alert = json!({"name": "error-rate", "maxValue": 0.05, "for": "2s", "intervalSeconds": 1,
                       "owner": "application", "action": "Alert"});
    let slow = json!({"name": "error-rate", "maxValue": 0.05, "for": "20s", "intervalSeconds": 1,
                      "owner": "platform", "action": "RollBack"});
    create(&watched_escalating(
        n,
        "alerting",
        &owners,
        &prometheus,
        alert,
        "8s",
    ));
    create(&watched(n, "spiky", &owners, &prometheus, slow));
    for name in ["alerting", "spiky"] {
        sign_off(n, name, "1.0.0");
        wait_active(n, name, "1.0.0");
    }
    // Both breach; `spiky` only for a few seconds.
    source.set(&errors(
        n,
        &[("alerting", "1.0.0", "0.3"), ("spiky", "1.0.0", "0.3")],
    ));
    let opened = wait_incident(n, "the Alert guard's Incident", |i| {
        i["spec"]["modelDeployment"] == "alerting" && i["status"]["owner"].is_object()
    });
    assert_eq!(opened["spec"]["action"], "Alert");
    assert_eq!(opened["status"]["owner"]["team"], owners.app.as_str());
    // Acknowledged at once by carol: the annotation's value is replaced by who she is.
    let name = opened["metadata"]["name"].as_str().unwrap();
    Kubectl::user("carol").ok(&[
        "annotate",
        "incident",
        name,
        "-n",
        n,
        "accord.dev/acknowledged-by=mallory",
    ]);
    let acked = poll("the acknowledgement", WAIT, || {
        let i = incident(n, name);
        i["status"]["acknowledgedBy"]
            .is_string()
            .then_some(i.clone())
            .ok_or_else(|| i["status"].to_string())
    });
    assert_eq!(
        acked["status"]["acknowledgedBy"], "carol",
        "who acknowledged is who asked"
    );
    std::thread::sleep(Duration::from_secs(4));
    source.set(&errors(
        n,
        &[("alerting", "1.0.0", "0.3"), ("spiky", "1.0.0", "0.01")],
    ));
    let spiky = poll("spiky's breach to end", WAIT, || {
        let md = get_md(n, "spiky");
        let guards = md["status"]["monitoring"]["guards"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        guards
            .is_empty()
            .then_some(md.clone())
            .ok_or_else(|| md["status"]["monitoring"].to_string())
    });
    assert_eq!(spiky["status"]["activeVersion"], "1.0.0");
    // Alert: still serving 1.0.0, no rollback.
    let alerting = get_md(n, "alerting");
    assert_eq!(alerting["status"]["activeVersion"], "1.0.0");
    assert_eq!(alerting["status"]["phase"], "Serving");
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        incident(n, name)["status"]["escalatedAt"].is_null(),
        "acknowledged: not escalated"
    );
    assert!(told(&seen, "/app", "IncidentEscalated").is_empty());
    let all = incidents(n);
    assert_eq!(
        all.len(),
        1,
        "the spike shorter than `for` opened nothing: {all:?}"
    );
    assert!(
        get_md(n, "spiky")["status"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["outcome"] != "RolledBack")
    );
}

#[test]
fn incidents_cannot_be_deleted_forged_forced_or_resolved_by_the_wrong_people() {
    let _operator = operator();
    let ns = TestNamespace::create("incidents-attack");
    let n = ns.name.as_str();
    let (port, _seen) = receiver();
    let owners = owners(n, port);
    let source = MetricsSource::start();
    let prometheus = Prometheus::start(source.port);
    source.set(&errors(
        n,
        &[("fraud", "1.0.0", "0.01"), ("fraud", "2.0.0", "0.01")],
    ));
    let guard = json!({"name": "error-rate", "maxValue": 0.05, "for": "1s", "intervalSeconds": 1,
                       "owner": "platform", "action": "RollBack"});
    create(&watched(n, "fraud", &owners, &prometheus, guard));
    sign_off(n, "fraud", "1.0.0");
    wait_active(n, "fraud", "1.0.0");
    release(n, "fraud", "2.0.0");
    wait_active(n, "fraud", "2.0.0");

    // Someone outside the owning Teams opens one to force a rollback: denied.
    let forced = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Incident",
        "metadata": {"name": "forced", "namespace": n},
        "spec": {"modelDeployment": "fraud", "version": "2.0.0", "summary": "trust me", "action": "RollBack"}});
    let denied = create_as("mallory", &forced).unwrap_err();
    assert!(denied.contains("mallory"), "{denied}");
    // alice (data) may open one, but not ask for a rollback.
    let denied = create_as("alice", &forced).unwrap_err();
    assert!(denied.contains("Alert"), "{denied}");
    assert!(incidents(n).is_empty());
    assert_eq!(get_md(n, "fraud")["status"]["activeVersion"], "2.0.0");

    // carol (application) loosens the guard: denied; tightening it is allowed to her.
    let loosen = Kubectl::user("carol").run(&[
        "patch",
        "md",
        "fraud",
        "-n",
        n,
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/monitoring/guards/0/maxValue","value":0.5}]"#,
    ]);
    assert!(
        !loosen.success && loosen.stderr.contains(&owners.platform),
        "{}",
        loosen.stderr
    );
    Kubectl::user("carol").ok(&[
        "patch",
        "md",
        "fraud",
        "-n",
        n,
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/monitoring/guards/0/maxValue","value":0.04}]"#,
    ]);
    assert_eq!(
        get_md(n, "fraud")["spec"]["monitoring"]["guards"][0]["maxValue"],
        0.04
    );

    // A person with the status in their request gets an Open Incident, not a Resolved one.
    let mut forged = forced.clone();
    forged["metadata"]["name"] = json!("forged");
    forged["spec"]["action"] = json!("Alert");
    forged["status"] = json!({"phase": "Resolved"});
    create_as("alice", &forged).expect("alice opens an Alert Incident");
    let stored = poll("the forged Incident to be triaged", WAIT, || {
        let i = incident(n, "forged");
        i["status"]["phase"]
            .is_string()
            .then_some(i.clone())
            .ok_or_else(|| i.to_string())
    });
    assert_eq!(stored["status"]["phase"], "Open");
    assert_eq!(stored["spec"]["openedBy"], "alice");
    assert!(
        stored["spec"]["fingerprint"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:")
    );
    assert_eq!(
        get_md(n, "fraud")["status"]["activeVersion"],
        "2.0.0",
        "Alert: nothing rolled back"
    );

    // Editors cannot delete it or write its status.
    let delete = Kubectl::user("bob").run(&["delete", "incident", "forged", "-n", n]);
    assert!(
        !delete.success && delete.stderr.contains("admin"),
        "{}",
        delete.stderr
    );
    let status = Kubectl::user("bob").run(&[
        "patch",
        "incident",
        "forged",
        "-n",
        n,
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"phase":"Resolved"}}"#,
    ]);
    assert!(!status.success, "{}", status.stdout);
    assert_eq!(incident(n, "forged")["status"]["phase"], "Open");

    // An RCA carol made for this Incident, replayed by bob onto it: denied (bob is not
    // Accountable); carol's own, but for another version: denied.
    let denied =
        create_as("bob", &rca(n, "replayed", "fraud", "forged", "2.0.0", &[])).unwrap_err();
    assert!(denied.contains(&owners.app), "{denied}");
    let denied = create_as(
        "carol",
        &rca(n, "wrong-version", "fraud", "forged", "1.0.0", &[]),
    )
    .unwrap_err();
    assert!(denied.contains("2.0.0"), "{denied}");
    assert_eq!(incident(n, "forged")["status"]["phase"], "Open");

    // The guard breaches; platform (bob) removes it afterwards: the candidate stays
    // held by the open Incident, and the rolled-back 2.0.0 is not promoted again.
    source.set(&errors(
        n,
        &[("fraud", "1.0.0", "0.01"), ("fraud", "2.0.0", "0.2")],
    ));
    poll("the rollback", WAIT, || {
        let md = get_md(n, "fraud");
        (md["status"]["activeVersion"] == "1.0.0")
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
    Kubectl::user("bob").ok(&[
        "patch",
        "md",
        "fraud",
        "-n",
        n,
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/spec/monitoring"}]"#,
    ]);
    sign_off_again(n);
    std::thread::sleep(Duration::from_secs(5));
    let md = get_md(n, "fraud");
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    assert_eq!(ready_reason(&md), "IncidentOpen", "{}", md["status"]);
}

/// Fresh sign-off of the rolled-back 2.0.0 (new Attestation names).
fn sign_off_again(n: &str) {
    for (user, item) in [("alice", "drift"), ("bob", "latency"), ("carol", "kpis")] {
        attest_as_named(
            user,
            n,
            "fraud",
            item,
            "2.0.0",
            &format!("fraud-again-{item}"),
        );
    }
}
