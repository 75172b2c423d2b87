//! Team notifications on the real control plane: an escalation and a rollback each reach
//! a local HTTP receiver once, with the model's namespace and name, the late teams and
//! their owed items; a receiver that fails twice then succeeds gets exactly one
//! delivery; the escalation Event says whom it notified. A rollback drill's report
//! that a role did not review within `tabletop.within` reaches that role's Team on
//! time, and not the Team that reviewed it.

mod support;

use std::{
    io::{Read, Write},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use accord_e2e::{Kubectl, TestNamespace, events_for, poll};
use serde_json::{Value, json};
use support::{
    attest_as_named, condition, create, get_md, hook_secret, model_deployment, patch_md, wait_phase,
};

const WAIT: Duration = Duration::from_secs(90);

/// What a receiver saw: (path, status answered, body).
type Seen = Arc<Mutex<Vec<(String, u16, String)>>>;

/// An HTTP receiver on loopback: `/flaky` fails its first two requests with 500.
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
            // Read the head, then as much body as Content-Length says.
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data);
                if let Some(head_end) = text.find("\r\n\r\n") {
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
            }
            let text = String::from_utf8_lossy(&data).to_string();
            let path = text
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let body = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default();
            let mut seen = record.lock().unwrap();
            let earlier = seen.iter().filter(|(p, ..)| *p == path).count();
            let status = if path == "/flaky" && earlier < 2 {
                500
            } else {
                200
            };
            seen.push((path, status, body));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, seen)
}

fn bodies(seen: &Seen, path: &str, status: u16) -> Vec<Value> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(p, s, _)| p == path && *s == status)
        .filter_map(|(.., b)| serde_json::from_str(b).ok())
        .collect()
}

fn team(name: &str, user: &str, notify: Value) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": name},
           "spec": {"members": {"users": [user]}, "notify": notify}})
}

/// Deletes a test's hook Secret and its cluster-scoped Teams.
fn remove(secret: &str, teams: &[&str]) {
    let _ = Kubectl::admin().run(&["delete", "secret", secret, "-n", "accord-system"]);
    for t in teams {
        let _ = Kubectl::admin().run(&["delete", "team", t]);
    }
}

#[test]
fn escalations_and_rollbacks_reach_the_teams_that_asked_once_each() {
    accord_e2e::shared_operator("notify");
    let ns = TestNamespace::create("notify");
    let n = ns.name.as_str();
    let (port, seen) = receiver();
    let secret = hook_secret(n, port, &[("data", "data"), ("platform", "flaky")]);
    let (data, platform, app) = (
        format!("{n}-data"),
        format!("{n}-platform"),
        format!("{n}-app"),
    );
    create(&team(
        &data,
        "alice",
        json!([{"name": "data-hook", "urlSecretRef": {"name": secret, "key": "data"},
        "events": ["Escalated", "RolledBack"]}]),
    ));
    create(&team(
        &platform,
        "bob",
        json!([{"name": "platform-pager", "urlSecretRef": {"name": secret, "key": "platform"},
        "events": ["Escalated"]}]),
    ));
    create(&team(&app, "carol", json!([])));
    let mut md = model_deployment(n, "fraud", "1.0.0");
    md["spec"]["owners"] = json!({"data": data, "platform": platform, "application": app});
    md["spec"]["handoff"]["escalateAfter"] = json!("2s");
    create(&md);

    // Escalated: the data hook once; the flaky pager fails twice, then gets it once.
    let md = poll("the escalation", WAIT, || {
        let md = get_md(n, "fraud");
        (condition(&md, "Escalated")["status"] == "True")
            .then_some(md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    poll("both escalation notifications", WAIT, || {
        let (d, p) = (
            bodies(&seen, "/data", 200).len(),
            bodies(&seen, "/flaky", 200).len(),
        );
        (d == 1 && p == 1)
            .then_some(())
            .ok_or_else(|| format!("{:?}", seen.lock().unwrap()))
    });
    let escalated = &bodies(&seen, "/data", 200)[0];
    assert_eq!(escalated["accord"]["event"], "Escalated");
    assert_eq!(escalated["accord"]["namespace"], n);
    assert_eq!(escalated["accord"]["modelDeployment"], "fraud");
    assert_eq!(escalated["accord"]["owed"][&data], json!(["drift"]));
    assert_eq!(escalated["accord"]["owed"][&platform], json!(["latency"]));
    assert_eq!(escalated["accord"]["owed"][&app], json!(["kpis"]));
    assert!(
        escalated["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{n}/fraud")),
        "{escalated}"
    );
    assert_eq!(
        bodies(&seen, "/flaky", 500).len(),
        2,
        "two failed attempts before the delivery"
    );
    let note = condition(&md, "Escalated")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        note.contains("notified:data-hook") && note.contains("notified:platform-pager"),
        "{note}"
    );
    let event = events_for(n, "ModelDeployment", "fraud")
        .into_iter()
        .find(|e| e.reason == "Escalated")
        .expect("an Escalated Event");
    assert!(event.note.contains("notified:data-hook"), "{}", event.note);

    // Promoted, then 2.0.0 fits nowhere and is rolled back: the data team hears once.
    for (user, item) in [("alice", "drift"), ("bob", "latency"), ("carol", "kpis")] {
        attest_as_named(user, n, "fraud", item, "1.0.0", &format!("fraud-1-{item}"));
    }
    wait_phase(n, "fraud", "Serving", WAIT);
    patch_md(
        n,
        "fraud",
        json!({"spec": {"model": {"version": "2.0.0"}, "serving": {
        "image": "registry.example.com/fraud:2.0.0", "resources": {"requests": {"cpu": "1000"}}}}}),
    );
    for (user, item) in [("alice", "drift"), ("bob", "latency"), ("carol", "kpis")] {
        attest_as_named(user, n, "fraud", item, "2.0.0", &format!("fraud-2-{item}"));
    }
    wait_phase(n, "fraud", "RolledBack", WAIT);
    poll("the rollback notification", WAIT, || {
        let rolled: Vec<Value> = bodies(&seen, "/data", 200)
            .into_iter()
            .filter(|b| b["accord"]["event"] == "RolledBack")
            .collect();
        (rolled.len() == 1)
            .then_some(())
            .ok_or_else(|| format!("{:?}", seen.lock().unwrap()))
    });
    // Nothing more arrives: each was delivered exactly once.
    std::thread::sleep(Duration::from_secs(5));
    let data_bodies = bodies(&seen, "/data", 200);
    let events: Vec<&str> = data_bodies
        .iter()
        .filter_map(|b| b["accord"]["event"].as_str())
        .collect();
    assert_eq!(events, ["Escalated", "RolledBack"]);
    assert_eq!(bodies(&seen, "/flaky", 200).len(), 1);
    let rolled = &data_bodies[1];
    assert_eq!(rolled["accord"]["namespace"], n);
    assert!(
        rolled["accord"]["message"]
            .as_str()
            .unwrap()
            .contains("1.0.0"),
        "{rolled}"
    );

    remove(&secret, &[&data, &platform, &app]);
}

#[test]
fn a_drill_report_not_reviewed_in_time_reaches_only_the_team_that_owes_the_review() {
    accord_e2e::shared_operator("notify");
    let ns = TestNamespace::create("notify-drill");
    let n = ns.name.as_str();
    let (port, seen) = receiver();
    let secret = hook_secret(n, port, &[("platform", "platform"), ("app", "app")]);
    let (data, platform, app) = (
        format!("{n}-data"),
        format!("{n}-platform"),
        format!("{n}-app"),
    );
    let hook = |key: &str| {
        json!([{"name": format!("{key}-hook"), "urlSecretRef": {"name": secret, "key": key},
                "events": ["Escalated"]}])
    };
    create(&team(&data, "alice", json!([])));
    create(&team(&platform, "bob", hook("platform")));
    create(&team(&app, "carol", hook("app")));
    let mut md = model_deployment(n, "fraud", "1.0.0");
    md["spec"]["owners"] = json!({"data": data, "platform": platform, "application": app});
    create(&md);
    for (user, item) in [("alice", "drift"), ("bob", "latency"), ("carol", "kpis")] {
        attest_as_named(user, n, "fraud", item, "1.0.0", &format!("fraud-1-{item}"));
    }
    wait_phase(n, "fraud", "Serving", WAIT);

    let within = 20;
    let drill = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
        "metadata": {"name": "tabletop", "namespace": n},
        "spec": {"modelDeployment": "fraud", "target": {"version": "1.0.0"}, "deadline": "60s",
                 "tabletop": {"acknowledge": ["platform", "application"], "within": format!("{within}s")}}});
    let out = Kubectl::user("bob").run_with_stdin(&["create", "-f", "-"], Some(&drill.to_string()));
    assert!(out.success, "bob creates the drill: {}", out.stderr);
    let run = poll("the drill run to finish", WAIT, || {
        let d = Kubectl::admin()
            .get_json(&["rollbackdrill", "tabletop", "-n", n])
            .unwrap_or_default();
        let run = d["status"]["runs"][0].clone();
        (run["finishedAt"].is_string())
            .then_some(run)
            .ok_or_else(|| d["status"].to_string())
    });
    assert_eq!(run["result"], "Passed", "{run:#}");
    let id = run["id"].as_str().unwrap().to_string();
    // bob (platform) reviews the report in time; carol (application) does not.
    let review = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
        "metadata": {"name": "review-by-bob", "namespace": n},
        "spec": {"modelDeployment": "fraud", "item": "drill-review", "version": "1.0.0",
                 "drill": format!("tabletop/{id}"), "evidence": "https://wiki.example.com/drills"}});
    let out =
        Kubectl::user("bob").run_with_stdin(&["create", "-f", "-"], Some(&review.to_string()));
    assert!(out.success, "bob reviews: {}", out.stderr);

    let escalated = poll("the overdue review to be escalated", WAIT, || {
        let d = Kubectl::admin()
            .get_json(&["rollbackdrill", "tabletop", "-n", n])
            .unwrap_or_default();
        let run = d["status"]["runs"][0].clone();
        (run["escalatedAt"].is_string() && !bodies(&seen, "/app", 200).is_empty())
            .then_some(run)
            .ok_or_else(|| d["status"].to_string())
    });
    assert_eq!(
        escalated["acknowledgedBy"][0]["user"], "bob",
        "{escalated:#}"
    );
    // On time: at `within` after the run finished, not at the next idle requeue.
    let at = |field: &str| {
        escalated[field]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    let late = at("escalatedAt").duration_since(at("finishedAt")).as_secs();
    assert!(
        (within..within + 15).contains(&late),
        "escalated {late}s after the run finished (within: {within}s)"
    );
    let told = bodies(&seen, "/app", 200);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["accord"]["event"], "Escalated");
    let text = told[0]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("rollback drill tabletop run {id}")) && text.contains("application"),
        "{text}"
    );
    assert!(
        !text.contains("platform,") && !text.contains(", platform"),
        "only the missing role: {text}"
    );
    assert!(
        bodies(&seen, "/platform", 200).is_empty(),
        "the Team that reviewed is not told: {:?}",
        seen.lock().unwrap()
    );
    let event = events_for(n, "RollbackDrill", "tabletop")
        .into_iter()
        .find(|e| e.reason == "DrillReviewOverdue")
        .expect("a DrillReviewOverdue Event");
    assert!(event.note.contains(&id), "{}", event.note);
    remove(&secret, &[&data, &platform, &app]);
}
