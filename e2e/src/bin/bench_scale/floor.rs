//! The admission floor: what a create costs with no webhook, with the no-op webhook
//! ([`accord_e2e::NoopWebhook`], mutating and validating), and with Accord's webhooks,
//! all timed in the same run by the same kind of client.
//!
//! Accord's kinds are first written with no webhook configuration at all (before the
//! operator starts), so Accord's overhead per create is measured on the same objects,
//! schema, CEL rules and user, with and without its webhooks. The no-op webhook then
//! stays registered for ConfigMaps in its own namespace *and* for creates of Accord's
//! kinds in the benchmark's namespace until the sign-offs are done: the API server times
//! it and Accord's webhooks on the very same requests, under the same load.

use std::{collections::BTreeMap, time::Duration};

use accord_e2e::{
    Kubectl, NoopWebhook,
    metrics::{apiserver_metrics, webhook_calls},
    noop_webhook, poll,
};

use crate::{
    NOOP_NS, NOWEBHOOK_NS, NS,
    kubectl::kubectl_stdin,
    objects::{attestation_in, config_map_in, list, model_in},
    report::Row,
    say,
};

/// Create times with no webhook, for the rows that compare against Accord's.
pub(super) struct Unhooked {
    pub models: Duration,
    pub attestations: Duration,
}

/// Before the operator starts (no Accord webhook configuration exists): N
/// ModelDeployments and N Attestations (as alice) in a namespace of their own, timed,
/// then deleted so the operator never sees them.
pub(super) fn accord_kinds_without_webhooks(admin: &Kubectl, n: usize) -> Unhooked {
    say(&format!(
        "writing {n} ModelDeployments and {n} Attestations with no webhook configured"
    ));
    let names: Vec<String> = (0..n).map(|i| format!("m{i:05}")).collect();
    let models = kubectl_stdin(
        "admin",
        &["create", "-f", "-"],
        &list(names.iter().map(|m| model_in(NOWEBHOOK_NS, m)).collect()),
    );
    let attestations = kubectl_stdin(
        "alice",
        &["create", "-f", "-"],
        &list(
            names
                .iter()
                .map(|m| attestation_in(NOWEBHOOK_NS, m, "drift"))
                .collect(),
        ),
    );
    // kubectl's own --wait waits for one object after another: poll instead.
    admin.ok(&[
        "delete",
        "attestations,modeldeployments",
        "--all",
        "-n",
        NOWEBHOOK_NS,
        "--wait=false",
    ]);
    poll(
        "the unhooked ModelDeployments and Attestations deleted",
        Duration::from_secs(300),
        || {
            let left = admin.run(&[
                "get",
                "attestations,modeldeployments",
                "-n",
                NOWEBHOOK_NS,
                "-o",
                "name",
            ]);
            (left.success && left.stdout.trim().is_empty())
                .then_some(())
                .ok_or(format!("{} left", left.stdout.lines().count()))
        },
    );
    say(&format!(
        "  ModelDeployments {:.1}s, Attestations {:.1}s",
        models.as_secs_f64(),
        attestations.as_secs_f64()
    ));
    Unhooked {
        models,
        attestations,
    }
}

/// The no-op webhook, registered, and what it costs a ConfigMap create on a quiet
/// machine.
pub(super) struct Floor {
    /// Kept registered until dropped.
    pub _webhook: NoopWebhook,
    /// Seconds per create the no-op webhook adds to a ConfigMap.
    pub per_create: f64,
}

/// Registers the no-op webhook and writes N ConfigMaps through it, against `plain` (N in
/// the baseline namespace, no webhook).
pub(super) fn no_op_floor(n: usize, plain: Duration) -> (Floor, Row) {
    say(&format!(
        "writing {n} ConfigMaps through the no-op webhook (mutating and validating)"
    ));
    let webhook = NoopWebhook::start(
        &[NOOP_NS, NS],
        vec![noop_webhook::config_maps(), noop_webhook::accord_kinds()],
    );
    let before = apiserver_metrics();
    let through = kubectl_stdin(
        "admin",
        &["create", "-f", "-"],
        &list(
            (0..n)
                .map(|i| config_map_in(NOOP_NS, &format!("m{i:05}")))
                .collect(),
        ),
    );
    let after = apiserver_metrics();
    let per_create = (through.as_secs_f64() - plain.as_secs_f64()) / n as f64;
    say(&format!(
        "  {:.1}s through the no-op webhook, {:.1}s without",
        through.as_secs_f64(),
        plain.as_secs_f64()
    ));
    let (mutating, _) = calls(&before, &after, noop_webhook::NAME, "admit");
    let (validating, within) = calls(&before, &after, noop_webhook::NAME, "validating");
    let row = Row {
        what: "the no-op webhook (mutating + validating) per ConfigMap create",
        measured: format!(
            "+{:.2} ms per create; calls {:.2} ms (mutating), {:.2} ms (validating) mean, {:.0}% ≤ 5 ms",
            per_create * 1e3,
            mutating * 1e3,
            validating * 1e3,
            within * 100.0
        ),
        baseline: format!("{:.1} s for N ConfigMaps without it", plain.as_secs_f64()),
        target: "the floor",
        value: per_create * 1e3,
    };
    (
        Floor {
            _webhook: webhook,
            per_create,
        },
        row,
    )
}

/// A webhook's CREATE calls between two scrapes, in the API server's view: (mean
/// seconds, share within 5 ms).
fn calls(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    name: &str,
    type_: &str,
) -> (f64, f64) {
    let calls = webhook_calls(before, after, name, type_, Some("CREATE"));
    (calls.mean, calls.within_5ms)
}

/// What one create of a kind went through: its client's time for N with Accord's
/// webhooks and without any, and the API server's metrics around the first.
pub(super) struct Creates<'a> {
    pub what: &'static str,
    pub n: usize,
    pub with: Duration,
    pub without: Duration,
    pub before: &'a BTreeMap<String, f64>,
    pub after: &'a BTreeMap<String, f64>,
    /// Accord's webhooks on that create, with their type (`admit` or `validating`).
    pub webhooks: &'a [(&'a str, &'a str)],
}

/// Accord's webhook calls against the no-op webhook's on the same requests (the ratio
/// of means, the row's value), and the create's overhead over no webhook at all.
pub(super) fn same_requests_row(creates: &Creates, floor: &Floor) -> Row {
    let mut worst: f64 = 0.0;
    let described: Vec<String> = creates
        .webhooks
        .iter()
        .map(|(name, type_)| {
            let (accord, within) = calls(creates.before, creates.after, name, type_);
            let (noop, _) = calls(creates.before, creates.after, noop_webhook::NAME, type_);
            let ratio = accord / noop;
            worst = worst.max(ratio);
            format!(
                "{name} {:.2} ms vs no-op {:.2} ms ({ratio:.2}×), {:.0}% ≤ 5 ms",
                accord * 1e3,
                noop * 1e3,
                within * 100.0
            )
        })
        .collect();
    let per_create =
        (creates.with.as_secs_f64() - creates.without.as_secs_f64()) / creates.n as f64;
    Row {
        what: creates.what,
        measured: format!(
            "{}; per create +{:.2} ms over no webhook ({:.1} s vs {:.1} s)",
            described.join("; "),
            per_create * 1e3,
            creates.with.as_secs_f64(),
            creates.without.as_secs_f64()
        ),
        baseline: format!(
            "the no-op webhook on the same requests; alone on a quiet machine +{:.2} ms per create",
            floor.per_create * 1e3
        ),
        target: "≤ 2× the no-op per call",
        value: worst,
    }
}
