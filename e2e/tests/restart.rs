//! Back within seconds after the API server restarts, as it does in every control-plane
//! upgrade: the local kube-apiserver is killed (SIGKILL), kept down ten seconds and
//! started again with the same flags (`e2e/cluster/restart-apiserver.sh`), under an
//! operator whose model waits for its sign-offs. The sign-offs arrive as soon as
//! `/readyz` answers; the promotion must follow within five seconds of it.

mod support;

use std::{process::Command, time::Duration};

use accord_e2e::{AuditLog, Operator, TestNamespace, poll, repo_root};
use support::*;

/// How long the API server stays down, and the bound on `/readyz` → the promotion.
const DOWN_SECONDS: u32 = 10;
const RECOVERY_BOUND: f64 = 5.0;

/// Restarts the API server; returns when `/readyz` answered (seconds since the epoch).
fn restart_api_server() -> f64 {
    let out = Command::new(repo_root().join("e2e/cluster/restart-apiserver.sh"))
        .arg(DOWN_SECONDS.to_string())
        .output()
        .expect("restart-apiserver.sh runs");
    assert!(
        out.status.success(),
        "restarting the API server failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("restart-apiserver.sh prints when /readyz answered")
}

/// When an audit event's request arrived, in seconds since the epoch.
fn received_at(event: &serde_json::Value) -> f64 {
    let at: jiff::Timestamp = event["requestReceivedTimestamp"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("an audit timestamp");
    at.as_nanosecond() as f64 / 1e9
}

#[test]
fn a_waiting_model_is_promoted_within_seconds_of_an_api_server_restart() {
    let _serial = accord_e2e::exclusive();
    let operator = Operator::start("restart", "accord-operator", &[]);
    let ns = TestNamespace::create("restart");
    let n = ns.name.as_str();
    create(&model_deployment(n, "fraud", "1.0.0"));
    wait_phase(n, "fraud", "AwaitingAttestations", Duration::from_secs(30));

    let ready_at = restart_api_server();
    let mark = AuditLog::mark();
    // The webhook answers at once: it runs in the operator, which never stopped.
    attest_all(n, "fraud", "1.0.0");

    poll(
        "the operator to write the Deployment after the restart",
        Duration::from_secs(90),
        || {
            deployment(n, "fraud")
                .map(|_| ())
                .ok_or_else(|| operator.log_tail())
        },
    );
    let events = AuditLog::events_since(mark);
    let written = events
        .iter()
        .find(|e| {
            e["verb"] == "create"
                && e["objectRef"]["resource"] == "deployments"
                && e["objectRef"]["namespace"] == n
                && e["objectRef"]["name"] == "fraud"
                && e["responseStatus"]["code"] == 201
        })
        .expect("the Deployment's create is in the audit log");
    let signed = events
        .iter()
        .filter(|e| {
            e["verb"] == "create"
                && e["objectRef"]["resource"] == "attestations"
                && e["objectRef"]["namespace"] == n
        })
        .map(received_at)
        .fold(f64::MIN, f64::max);
    let recovery = received_at(written) - ready_at;
    eprintln!(
        "/readyz → Deployment written: {recovery:.2} s (last sign-off {:.2} s after /readyz)",
        signed - ready_at
    );
    // The outage was real: the operator's watches saw it.
    let log = std::fs::read_to_string(accord_e2e::cluster_dir().join("logs/operator-restart.log"))
        .expect("the operator's log");
    assert!(
        log.contains("watch failed"),
        "the operator's watches never failed: was the API server down?"
    );
    assert!(
        recovery <= RECOVERY_BOUND,
        "the promotion came {recovery:.2} s after /readyz (bound {RECOVERY_BOUND} s)\n{}",
        operator.log_tail()
    );
    // Nothing was lost: the promotion is recorded and the model is on its way to Serving.
    let md = get_md(n, "fraud");
    assert_eq!(md["status"]["activeVersion"], "1.0.0", "{md}");
}
