//! `kubectl` as the benchmark drives it: the bulk writer (one `kubectl create -f -` per
//! batch, as one user, timed) and the polls on the ModelDeployments' phases.

use std::time::{Duration, Instant};

use accord_e2e::{Kubectl, poll};
use serde_json::Value;

use crate::{NS, say};

pub(super) fn kubectl_stdin(user: &str, args: &[&str], body: &Value) -> Duration {
    let kubectl = if user == "admin" {
        Kubectl::admin()
    } else {
        Kubectl::user(user)
    };
    let started = Instant::now();
    let out = kubectl.run_with_stdin(args, Some(&body.to_string()));
    assert!(out.success, "kubectl {args:?} as {user}: {}", out.stderr);
    started.elapsed()
}

fn serving_count(namespace: &str) -> usize {
    let out = Kubectl::admin().ok(&[
        "get",
        "md",
        "-n",
        namespace,
        "-o",
        "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}",
    ]);
    out.stdout.lines().filter(|l| *l == "Serving").count()
}

pub(super) fn wait_serving(count: usize, timeout: Duration) {
    wait_serving_in(NS, count, timeout);
}

/// Waits until `count` ModelDeployments in `namespace` are Serving, saying how many
/// are every 10 s.
pub(super) fn wait_serving_in(namespace: &str, count: usize, timeout: Duration) {
    let started = Instant::now();
    let mut last_report = Instant::now();
    poll(
        &format!("{count} ModelDeployments Serving in {namespace}"),
        timeout,
        || {
            let serving = serving_count(namespace);
            if last_report.elapsed() > Duration::from_secs(10) {
                say(&format!(
                    "  {serving}/{count} Serving after {:.0}s",
                    started.elapsed().as_secs_f64()
                ));
                last_report = Instant::now();
            }
            (serving >= count)
                .then_some(())
                .ok_or(format!("{serving} Serving"))
        },
    );
}

/// Waits (up to 600 s) until the operator has decided all N ModelDeployments: every
/// one AwaitingAttestations.
pub(super) fn wait_all_awaiting_attestations(n: usize) {
    poll(
        "every ModelDeployment to be decided",
        Duration::from_secs(600),
        || {
            let out = Kubectl::admin().ok(&[
                "get",
                "md",
                "-n",
                NS,
                "-o",
                "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}",
            ]);
            let waiting = out
                .stdout
                .lines()
                .filter(|l| *l == "AwaitingAttestations")
                .count();
            (waiting == n)
                .then_some(())
                .ok_or(format!("{waiting} awaiting"))
        },
    );
}

/// Waits (up to 300 s) until all 100 new models show their first item attested.
pub(super) fn wait_new_models_attested() {
    poll(
        "the new models to be decided",
        Duration::from_secs(300),
        || {
            let out = Kubectl::admin().ok(&["get", "md", "-n", NS, "-o", "json"]);
            let items = out.json()["items"].as_array().cloned().unwrap_or_default();
            let done = items
                .iter()
                .filter(|m| {
                    m["metadata"]["name"]
                        .as_str()
                        .is_some_and(|s| s.starts_with('x'))
                })
                .filter(|m| m["status"]["checklist"][0]["attested"] == true)
                .count();
            (done == 100).then_some(()).ok_or(format!("{done}/100"))
        },
    );
}
