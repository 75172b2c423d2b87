//! Accord's admission webhooks against the floor: a no-op webhook registered for the
//! very same requests (Accord's kinds in one namespace), so the API server times both
//! on every create, under the same load, in this run. A ratio of the two is what is
//! guarded: it does not move when the machine is slower or busier.

mod support;

use std::collections::BTreeMap;

use accord_e2e::{
    Kubectl, NoopWebhook, Operator, TestNamespace,
    metrics::{WebhookCalls, apiserver_metrics, webhook_calls},
    noop_webhook,
};
use serde_json::{Value, json};
use support::*;

/// Models written and signed off in the timed part.
const N: usize = 100;

/// `kubectl create` of `items` as one List, as `kubectl`'s user; it must succeed.
fn create_all(kubectl: Kubectl, items: Vec<Value>) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    let out = kubectl.run_with_stdin(&["create", "-f", "-"], Some(&list));
    assert!(out.success, "kubectl create: {}", out.stderr);
}

/// One webhook's calls between two scrapes, every operation.
fn calls(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    name: &str,
    type_: &str,
) -> WebhookCalls {
    webhook_calls(before, after, name, type_, None)
}

#[test]
fn accords_webhooks_stay_within_three_times_the_no_op_floor() {
    let _serial = accord_e2e::exclusive();
    let _operator = Operator::start("admission-floor", "accord-operator", &[]);
    let ns = TestNamespace::create("floor");
    let n = ns.name.as_str();
    let _noop = NoopWebhook::start(
        &[n],
        vec![noop_webhook::config_maps(), noop_webhook::accord_kinds()],
    );
    // Warm both connections up (the first call pays the TLS handshake).
    create(&model_deployment(n, "warm-up", "1.0.0"));

    let before = apiserver_metrics();
    let calls_before = NoopWebhook::calls();
    let models: Vec<Value> = (0..N)
        .map(|i| model_deployment(n, &format!("m{i:03}"), "1.0.0"))
        .collect();
    create_all(Kubectl::admin(), models);
    let attestations: Vec<Value> = (0..N)
        .map(|i| {
            json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
                   "metadata": {"name": format!("m{i:03}-drift"), "namespace": n},
                   "spec": {"modelDeployment": format!("m{i:03}"), "item": "drift", "version": "1.0.0"}})
        })
        .collect();
    create_all(Kubectl::user("alice"), attestations);
    let after = apiserver_metrics();

    // The floor was really in the path: once mutating and once validating per
    // Attestation, once mutating per ModelDeployment (its validating hook is for UPDATE).
    let noop_calls = NoopWebhook::calls() - calls_before;
    assert!(
        noop_calls >= (4 * N) as u64,
        "the no-op webhook answered {noop_calls} calls for {N} ModelDeployments and {N} Attestations"
    );

    let floor_mutating = calls(&before, &after, noop_webhook::NAME, "admit");
    let floor_validating = calls(&before, &after, noop_webhook::NAME, "validating");
    let accord = [
        (
            "mutate.modeldeployments.accord.dev",
            "admit",
            floor_mutating,
        ),
        ("mutate.attestations.accord.dev", "admit", floor_mutating),
        (
            "validate.attestations.accord.dev",
            "validating",
            floor_validating,
        ),
    ];
    let mut report = vec![format!(
        "no-op: mutating {:.2} ms mean ({:.0}% ≤ 5 ms, {} calls), validating {:.2} ms mean ({:.0}% ≤ 5 ms)",
        floor_mutating.mean * 1e3,
        floor_mutating.within_5ms * 100.0,
        floor_mutating.count,
        floor_validating.mean * 1e3,
        floor_validating.within_5ms * 100.0
    )];
    let mut over = Vec::new();
    for (name, type_, floor) in accord {
        let WebhookCalls {
            mean,
            within_5ms: within,
            count,
        } = calls(&before, &after, name, type_);
        assert!(count >= N as f64, "{name} was called {count} times");
        let ratio = mean / floor.mean;
        report.push(format!(
            "{name}: {:.2} ms mean ({:.0}% ≤ 5 ms, {count} calls) = {ratio:.2}× the no-op's",
            mean * 1e3,
            within * 100.0
        ));
        if ratio >= 3.0 {
            over.push(name);
        }
    }
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(
        over.is_empty(),
        "over 3× the no-op webhook's time per call: {over:?}\n{report}"
    );
}
