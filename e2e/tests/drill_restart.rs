//! A rollback drill whose operator is SIGKILLed mid-run: the Deployment and Service
//! it created are found and deleted by the next operator process, and the run is
//! finished as Failed saying it was interrupted — nothing is left running beside
//! production.

mod support;

use std::time::Duration;

use accord_e2e::{Kubectl, Operator, TestNamespace, poll};
use serde_json::json;
use support::create;

const WAIT: Duration = Duration::from_secs(90);

fn get(kind: &str, n: &str, name: &str) -> Option<serde_json::Value> {
    Kubectl::admin().get_json(&[kind, name, "-n", n])
}

#[test]
fn a_drill_interrupted_by_sigkill_is_cleaned_up_by_the_next_operator() {
    accord_e2e::prepare();
    let mut operator = Operator::start("drill-restart", "accord-operator", &[]);
    let ns = TestNamespace::create("drill-restart");
    let n = ns.name.as_str();
    // A target the scheduler refuses keeps the run waiting for Ready until its long
    // deadline: the operator is killed while it waits.
    let node = support::serving_with_unschedulable_previous(n, "scorer", n);
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
        "metadata": {"name": "long", "namespace": n},
        "spec": {"modelDeployment": "scorer", "target": "PreviousKnownGood", "deadline": "10m"}}),
    );
    let workload = poll("the drill's Deployment", WAIT, || {
        let drill = get("rollbackdrill", n, "long").unwrap_or_default();
        let run = &drill["status"]["runs"][0];
        match run["workload"].as_str() {
            Some(w) if run["result"] == "Running" && get("deployment", n, w).is_some() => {
                Ok(w.to_string())
            }
            _ => Err(drill["status"].to_string()),
        }
    });
    operator.kill();
    assert!(
        get("deployment", n, &workload).is_some(),
        "left behind by the killed operator"
    );

    let _operator = Operator::start("drill-restart-2", "accord-operator", &[]);
    let run = poll(
        "the next operator to finish the interrupted run",
        Duration::from_secs(120),
        || {
            let run = get("rollbackdrill", n, "long").unwrap()["status"]["runs"][0].clone();
            (run["result"] == "Failed")
                .then_some(run.clone())
                .ok_or_else(|| run.to_string())
        },
    );
    assert!(
        run["message"].as_str().unwrap().contains("interrupted"),
        "{run:#}"
    );
    let cleaned = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "CleanedUp")
        .cloned()
        .unwrap();
    assert_eq!(cleaned["result"], "Passed", "{run:#}");
    assert!(
        get("deployment", n, &workload).is_none(),
        "the leftover Deployment is gone"
    );
    let pods = Kubectl::admin()
        .get_json(&["pods", "-n", n, "-l", "accord.dev/drill=long"])
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default();
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["deletionTimestamp"].is_string()),
        "{} drill pods still running",
        pods.len()
    );
    let _ = Kubectl::admin().run(&["delete", "node", &node, "--wait=false"]);
}
