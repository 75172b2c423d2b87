//! `make run` on a cluster where an operator that no longer runs left its webhook
//! configurations behind: it removes them and gets through to the running demo, instead
//! of failing at the first write with "connection refused".

use std::{
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    time::Duration,
};

use accord_e2e::{Kubectl, Operator, cluster_dir, poll, remove_webhook_configurations, repo_root};

fn webhook_url() -> String {
    Kubectl::admin()
        .get_json(&["mutatingwebhookconfiguration", "accord"])
        .and_then(|c| {
            c["webhooks"][0]["clientConfig"]["url"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or_default()
}

#[test]
fn make_run_repairs_webhook_configurations_an_earlier_operator_left_behind() {
    let _guard = accord_e2e::exclusive();
    // An operator on a port of its own writes its configurations, then goes away.
    let mut stale = Operator::start("left-behind", "accord-operator", &[]);
    poll(
        "the stale operator's webhook configuration",
        Duration::from_secs(60),
        || {
            let url = webhook_url();
            (!url.is_empty()).then_some(url.clone()).ok_or(url)
        },
    );
    stale.kill();
    let left = webhook_url();
    assert!(!left.contains(":9443/"), "{left}");
    // The control: with it in place, writing an Accord object fails.
    let out = Kubectl::admin().apply(
        r#"{"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": "probe-team"},
            "spec": {"members": {"users": ["alice"]}}}"#,
    );
    assert!(
        !out.success && out.stderr.contains("failed calling webhook"),
        "the stale configuration must break writes: {}",
        out.stderr
    );

    let log = cluster_dir().join("logs/make-run-e2e.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut run = Command::new("bash")
        .arg(repo_root().join("hack/run.sh"))
        .current_dir(repo_root())
        .env_remove("KUBECONFIG")
        // One open file for both streams, so neither overwrites the other.
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .process_group(0)
        .spawn()
        .expect("hack/run.sh starts");
    let group = run.id() as i32;
    let outcome = poll(
        "make run to reach the running demo",
        Duration::from_secs(300),
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Ok(Some(status)) = run.try_wait() {
                return Ok(Err(format!("make run exited with {status}:\n{text}")));
            }
            if text.contains("is blocked until its three teams sign off") {
                Ok(Ok(text))
            } else {
                Err(text)
            }
        },
    );
    let new_url = webhook_url();
    // Stop the demo (its trap stops the operator) before asserting anything.
    // `--`: util-linux kill would read "-<pgid>" as a signal.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{group}")])
        .status();
    let _ = run.wait();
    remove_webhook_configurations();
    for policy in ["fraud-raci", "fraud-patch-releases"] {
        let _ = Kubectl::admin().run(&["delete", "handoffpolicy", policy, "--ignore-not-found"]);
    }
    let text = outcome.unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        text.contains("removing webhook configurations left by an operator that no longer runs"),
        "{text}"
    );
    assert!(!text.contains("connection refused"), "{text}");
    assert!(
        new_url.contains("127.0.0.1:9443"),
        "the demo's operator wrote its own: {new_url}"
    );
    let md = Kubectl::admin()
        .get_json(&["md", "fraud-scorer", "-n", "payments"])
        .expect("the example ModelDeployment");
    assert_eq!(md["metadata"]["labels"]["domain"], "fraud");
}
