//! `UPSTREAMS=1`: every benchmark model comes through a staging twin of the same name
//! and artifact (docs/environments.md). The twins are signed off and served first; the
//! row measures what an upstream change costs: it must reconcile the upstream and its
//! one downstream, and nothing else.

use std::time::Duration;

use accord_e2e::{Kubectl, Operator};

use crate::{
    STAGING_NS,
    kubectl::{kubectl_stdin, wait_serving_in},
    metrics::{modeldeployment_reconciles, modeldeployment_requeues, wait_quiet},
    objects::{attestation_in, list, model_in},
    report::Row,
    say,
};

/// Whether the benchmark runs with staging upstreams (`UPSTREAMS=1`).
pub(super) fn enabled() -> bool {
    std::env::var("UPSTREAMS").is_ok_and(|v| v == "1")
}

/// Creates N staging models, has alice and bob sign them off and waits (up to 1800 s)
/// until all are Serving.
pub(super) fn staging_serving(n: usize) {
    say(&format!(
        "UPSTREAMS=1: {n} staging models, signed off and served first"
    ));
    let names: Vec<String> = (0..n).map(|i| format!("m{i:05}")).collect();
    kubectl_stdin(
        "admin",
        &["create", "-f", "-"],
        &list(names.iter().map(|m| model_in(STAGING_NS, m)).collect()),
    );
    for (user, item) in [("alice", "drift"), ("bob", "latency")] {
        kubectl_stdin(
            user,
            &["create", "-f", "-"],
            &list(
                names
                    .iter()
                    .map(|m| attestation_in(STAGING_NS, m, item))
                    .collect(),
            ),
        );
    }
    wait_serving_in(STAGING_NS, n, Duration::from_secs(1800));
}

/// 100 edits of staging models (an annotation, once the reconciles have settled):
/// the reconciles they ask for, per edit. Each staging model has one downstream, so
/// the bound is 2: the upstream itself and the model citing it.
pub(super) fn measure_upstream_changes(operator: &Operator) -> Row {
    wait_quiet(operator);
    say("100 edits of staging models, each cited by one model");
    let before = modeldeployment_reconciles(operator) - modeldeployment_requeues(operator);
    let names: Vec<String> = (0..100).map(|i| format!("m{i:05}")).collect();
    // kubectl wants every object named before the annotation.
    let mut args = vec!["annotate", "md", "-n", STAGING_NS];
    args.extend(names.iter().map(String::as_str));
    args.push("bench.accord.dev/touched=1");
    Kubectl::admin().ok(&args);
    std::thread::sleep(Duration::from_secs(5));
    wait_quiet(operator);
    let asked = modeldeployment_reconciles(operator) - modeldeployment_requeues(operator) - before;
    Row {
        what: "ModelDeployment reconciles for 100 edits of upstream (staging) models",
        measured: format!("{asked:.0} ({:.2} per edit)", asked / 100.0),
        baseline: "2 per edit: the upstream and its one downstream".into(),
        target: "≤ 2 per edit",
        value: asked / 100.0,
    }
}
