//! `make bench-scale`: Accord at N ModelDeployments on the local control plane, each
//! figure against a baseline measured in the same run. The release operator runs as the
//! Helm chart's ServiceAccount; people write as the static users with one `kubectl`
//! each. Figures come from the API server's audit log and metrics and the operator's
//! `/proc` status and metrics. Prints a table and writes `target/bench-scale.json`.
//!
//! `main` runs the phases in order: set-up (namespaces, Accord's kinds written with no
//! webhook, the chart's RBAC, the operator, `POLICIES` HandoffPolicies), N creates
//! against plain Deployments and ConfigMaps and through the no-op webhook ([`floor`]),
//! the sign-offs and the promotions they cause, 100 more models and attestations (the
//! reconcile storm, once the reconciles have settled), an idle minute, and the
//! operator's memory.
//!
//! With `UPSTREAMS=1`, each model comes through a staging twin (`spec.promotion`),
//! served before the operator's measurements start, and a row counts what 100 edits
//! of staging models reconcile.
//!
//! With `GUARDS=1`, once the idle minute is over, a real Prometheus on loopback serves
//! every model a healthy error ratio; a quiet 90 s is measured, bob gives every model
//! one monitoring guard at the default interval (30 s), and the same 90 s is measured
//! again ([`guards`]): guard queries per second (the operator's count and
//! Prometheus'), the operator's CPU, reconciles asked for and requeued, and the
//! operator's writes, which must stay within N / 100.
//!
//! With `RECORDS=1` ([`records`]), the operator starts with `--write-records=false`;
//! alice signs off all N, bob the first N/2, then the operator is restarted with
//! records on and, once it has settled, bob signs off the other N/2. Rows compare the
//! halves from the audit log (last attestation → Deployment write p50/p99, the
//! operator's writes per promoted model, PromotionRecord creates), read what a record
//! holds in etcd, and, at the end, time `kubectl accord audit export -A` (release build)
//! over 10,000 signed records created as the operator, and `audit verify` of the file.
//!
//! Last, unless `BOARD=0` ([`board`]), alice runs the release `kubectl accord board`
//! over what the run left: `/`, `/models` and `/api/models` are timed 200 times each on
//! one keep-alive connection against `kubectl accord matrix -A` as alice, as the models
//! were left and again once each of the N has a new version her Team owes a sign-off
//! for; and the board's memory.
//!
//! Usage: bench_scale [N] (default 1000). Expects the cluster up and
//! `ACCORD_BIN` naming a release build (hack/bench-scale.sh does both).

// Long functions are split into named steps.
#![warn(clippy::too_many_lines)]

// Layers, bottom first: the helpers (the objects written, kubectl, metrics, the audit
// log, /proc, the report), then the set-up steps that write with them.
mod audit;
mod floor;
mod http;
mod kubectl;
mod metrics;
mod objects;
mod process;
mod report;

mod board;
mod guards;
mod records;
mod setup;
mod upstream;

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use accord_e2e::{AuditLog, Kubectl, Operator, audit::AuditMark, cluster_dir, token_kubeconfig};

use accord_e2e::metrics::{apiserver_metrics, histogram, mean, quantile, scrape, share_within};
use audit::{Promotions, is_write, pick, promotions_from_audit_log};
use floor::{Floor, Unhooked};
use kubectl::{
    kubectl_stdin, wait_all_awaiting_attestations, wait_new_models_attested, wait_serving,
};
use metrics::{QueueWatch, modeldeployment_reconciles, modeldeployment_requeues, wait_quiet};
use objects::{attestation, config_map, deployment, list, model};
use process::proc_status;
use report::{Row, print_table, write_json};
use setup::{create_policies, install_chart_rbac, recreate_namespaces};

const NS: &str = "bench-scale";
const BASELINE_NS: &str = "bench-baseline";
/// ConfigMaps through the no-op webhook.
const NOOP_NS: &str = "bench-noop";
/// Accord's kinds written before any Accord webhook is configured.
const NOWEBHOOK_NS: &str = "bench-nowebhook";
/// The staging twins of the models (`UPSTREAMS=1`).
const STAGING_NS: &str = "bench-staging";
const NAMESPACES: [&str; 5] = [NS, BASELINE_NS, NOOP_NS, NOWEBHOOK_NS, STAGING_NS];
const OPERATOR: &str = "system:serviceaccount:accord-system:accord";

fn say(text: &str) {
    eprintln!("[bench-scale] {text}");
}

/// The set-up the phases share: N, the release operator under test, its memory just
/// after it started (the memory row's baseline), and Accord's kinds' create times with
/// no webhook (the overhead rows' baseline).
struct Bench {
    n: usize,
    unhooked: Unhooked,
    admin: Kubectl,
    operator: Operator,
    /// The chart's ServiceAccount's kubeconfig the operator runs with.
    kubeconfig: PathBuf,
    /// The operator's process id, for `/proc/<pid>/status`.
    pid: String,
    /// VmRSS just after start, MiB.
    idle_rss: f64,
    /// RssAnon just after start, MiB.
    idle_anon: f64,
}

/// What phase 1 leaves for later rows besides its own: the API server's ConfigMap
/// create latency, the baseline of the webhook and promotion rows.
struct Creates {
    rows: Vec<Row>,
    configmap_create: Vec<(f64, f64)>,
    floor: Floor,
}

/// The scrapes and the audit-log mark taken around phase 2 (sign-offs and promotions).
struct SignOffs {
    /// alice's N sign-offs (the first batch, before anything is promoted).
    t_alice: Duration,
    /// The ModelDeployment reconcile queue's peak depth, sampled each second.
    queue_peak: f64,
    reconciles_before: f64,
    api_before: BTreeMap<String, f64>,
    api_after: BTreeMap<String, f64>,
    operator_before: BTreeMap<String, f64>,
    operator_after: BTreeMap<String, f64>,
    mark: AuditMark,
    /// `RECORDS=1`: bob's sign-offs in two halves, records off and on.
    records: Option<records::Split>,
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut bench = set_up(n);

    // 1. One client writes N plain Deployments, N ConfigMaps, then N ModelDeployments.
    let creates = measure_creates(&bench);
    let mut rows = creates.rows;
    wait_all_awaiting_attestations(n);

    // 2. alice and bob sign every model off; measure the webhook and the promotions.
    let sign_offs = sign_off_every_model(&mut bench);
    rows.push(floor::same_requests_row(
        &floor::Creates {
            what: "Accord's webhooks per Attestation create (alice's N, before any promotion)",
            n,
            with: sign_offs.t_alice,
            without: bench.unhooked.attestations,
            before: &sign_offs.api_before,
            after: &sign_offs.api_after,
            webhooks: &[
                ("mutate.attestations.accord.dev", "admit"),
                ("validate.attestations.accord.dev", "validating"),
            ],
        },
        &creates.floor,
    ));
    drop(creates.floor);
    rows.push(webhook_latency_row(&sign_offs, &creates.configmap_create));
    rows.push(webhook_decision_row(&sign_offs));
    // The promotion path, from the audit log.
    let promotions = promotions_from_audit_log(sign_offs.mark);
    rows.push(promotion_latency_row(
        &promotions,
        &creates.configmap_create,
        sign_offs.queue_peak,
    ));
    rows.push(operator_writes_row(&promotions, n));
    let promotion_reconciles = modeldeployment_reconciles(&bench.operator)
        - modeldeployment_requeues(&bench.operator)
        - sign_offs.reconciles_before;
    if let Some(split) = &sign_offs.records {
        rows.extend(records::gate_rows(&bench, split, sign_offs.mark));
    }

    // 3. 100 new ModelDeployments and 100 attestations among N + 100.
    rows.push(measure_reconcile_storm(&bench, promotion_reconciles));

    // 3b. Upstream changes reconcile only their downstreams.
    if upstream::enabled() {
        rows.push(upstream::measure_upstream_changes(&bench.operator));
    }

    // 4. Idle, and memory.
    rows.push(measure_idle_writes());
    rows.push(memory_row(&bench));

    // 5. Monitoring guards on every serving model, against the same quiet window without.
    let guard_bound = guards::enabled().then(|| {
        let (guard_rows, bound) = guards::measure_guards(&bench);
        rows.extend(guard_rows);
        bound
    });

    // 6. 10,000 signed PromotionRecords: `audit export -A` and `audit verify`.
    if records::enabled() {
        rows.extend(records::export_rows(&bench));
    }

    // 7. The sign-off board at N models, against `matrix -A` as the same person.
    if board::enabled() {
        rows.extend(board::measure_board(&bench));
    }

    print_table(n, &rows);
    write_json(n, &rows);
    tear_down(bench);
    if let Some(Err(failed)) = guard_bound {
        panic!("GUARDS=1: the reconcile bound did not hold: {failed}");
    }
}

/// Set-up: empties the two namespaces, installs the chart's RBAC, starts the release
/// operator as the chart's ServiceAccount, creates the `POLICIES` HandoffPolicies and
/// reads the operator's memory just started.
fn set_up(n: usize) -> Bench {
    say(&format!(
        "N = {n}; the operator is {}",
        accord_e2e::operator::accord_binary().display()
    ));
    accord_e2e::prepare();
    accord_e2e::stop_stray_operators();
    let admin = Kubectl::admin();
    recreate_namespaces(&admin);
    let unhooked = floor::accord_kinds_without_webhooks(&admin, n);
    install_chart_rbac();
    let kubeconfig = token_kubeconfig("accord", "accord-system");
    let operator = Operator::start_as(
        "bench-scale",
        &kubeconfig,
        &records::operator_args(!records::enabled()),
    );
    create_policies(&admin);
    if upstream::enabled() {
        upstream::staging_serving(n);
    }
    let pid = std::fs::read_to_string(cluster_dir().join("pids/operator-bench-scale.pid")).unwrap();
    let pid = pid.trim().to_string();
    let idle_rss = proc_status(&pid, "VmRSS:");
    let idle_anon = proc_status(&pid, "RssAnon:");
    Bench {
        n,
        unhooked,
        admin,
        operator,
        kubeconfig,
        pid,
        idle_rss,
        idle_anon,
    }
}

/// Phase 1: one client writes N plain Deployments, N ConfigMaps, then N
/// ModelDeployments, one kubectl each; measures the ModelDeployments' time against the
/// Deployments' and keeps the API server's ConfigMap create latency for later rows.
fn measure_creates(bench: &Bench) -> Creates {
    let n = bench.n;
    say(&format!(
        "writing {n} Deployments, {n} ConfigMaps and {n} ModelDeployments, one kubectl each"
    ));
    let api_before = apiserver_metrics();
    let t_deployments = kubectl_stdin(
        "admin",
        &["create", "-f", "-"],
        &list((0..n).map(|i| deployment(&format!("m{i:05}"))).collect()),
    );
    let t_config_maps = kubectl_stdin(
        "admin",
        &["create", "-f", "-"],
        &list((0..n).map(|i| config_map(&format!("m{i:05}"))).collect()),
    );
    let (floor, floor_row) = floor::no_op_floor(n, t_config_maps);
    let api_before_models = apiserver_metrics();
    let t_models = kubectl_stdin(
        "admin",
        &["create", "-f", "-"],
        &list((0..n).map(|i| model(&format!("m{i:05}"))).collect()),
    );
    let api_after_models = apiserver_metrics();
    say(&format!(
        "  Deployments {:.1}s, ConfigMaps {:.1}s, ModelDeployments {:.1}s",
        t_deployments.as_secs_f64(),
        t_config_maps.as_secs_f64(),
        t_models.as_secs_f64()
    ));
    let row = Row {
        what: "one client writes N ModelDeployments vs N Deployments",
        measured: format!("{:.1} s", t_models.as_secs_f64()),
        baseline: format!(
            "{:.1} s Deployments ({:.1} s ConfigMaps)",
            t_deployments.as_secs_f64(),
            t_config_maps.as_secs_f64()
        ),
        target: "≤ 1.5×",
        value: t_models.as_secs_f64() / t_deployments.as_secs_f64(),
    };
    let configmap_create = histogram(
        &api_before,
        &api_after_models,
        "apiserver_request_duration_seconds",
        &["resource=\"configmaps\"", "verb=\"POST\""],
    );
    let overhead = floor::same_requests_row(
        &floor::Creates {
            what: "Accord's webhook per ModelDeployment create",
            n,
            with: t_models,
            without: bench.unhooked.models,
            before: &api_before_models,
            after: &api_after_models,
            webhooks: &[("mutate.modeldeployments.accord.dev", "admit")],
        },
        &floor,
    );
    Creates {
        rows: vec![row, floor_row, overhead],
        configmap_create,
        floor,
    }
}

/// Phase 2: alice and bob each sign off all N models (one kubectl each) and it waits
/// (up to 1800 s) until all N are Serving; returns the operator's and the API server's
/// metrics and the audit-log mark taken around it. With `RECORDS=1` bob signs off in
/// two halves around a restart of the operator ([`records::sign_off_in_halves`]).
fn sign_off_every_model(bench: &mut Bench) -> SignOffs {
    let n = bench.n;
    say(&format!("alice and bob sign off {n} models each"));
    let mut reconciles_before =
        modeldeployment_reconciles(&bench.operator) - modeldeployment_requeues(&bench.operator);
    let mut operator_before = scrape(&bench.operator.http_get("/metrics").unwrap_or_default());
    let api_before = apiserver_metrics();
    let mark = AuditLog::mark();
    let queue = QueueWatch::start(bench.operator.metrics_port);
    let t_alice = kubectl_stdin(
        "alice",
        &["create", "-f", "-"],
        &list(
            (0..n)
                .map(|i| attestation(&format!("m{i:05}"), "drift"))
                .collect(),
        ),
    );
    let (t_bob, queue, mut records) = if records::enabled() {
        let (split, queue) = records::sign_off_in_halves(
            bench,
            mark,
            queue,
            &mut reconciles_before,
            &mut operator_before,
        );
        (split.t_bob, queue, Some(split))
    } else {
        let t_bob = kubectl_stdin(
            "bob",
            &["create", "-f", "-"],
            &list(
                (0..n)
                    .map(|i| attestation(&format!("m{i:05}"), "latency"))
                    .collect(),
            ),
        );
        (t_bob, queue, None)
    };
    say(&format!(
        "  attestations written in {:.1}s and {:.1}s",
        t_alice.as_secs_f64(),
        t_bob.as_secs_f64()
    ));
    wait_serving(n, Duration::from_secs(1800));
    let mut queue_peak = queue.peak();
    if let Some(split) = &mut records {
        split.with_queue_peak = queue_peak;
        queue_peak = queue_peak.max(split.without_queue_peak);
    }
    let api_after = apiserver_metrics();
    let operator_after = scrape(&bench.operator.http_get("/metrics").unwrap_or_default());
    SignOffs {
        t_alice,
        queue_peak,
        reconciles_before,
        api_before,
        api_after,
        operator_before,
        operator_after,
        mark,
        records,
    }
}

/// The webhook's time per Attestation CREATE as the API server measured it during
/// phase 2 (mean, p99, share within 5 ms), against the ConfigMap create p99.
fn webhook_latency_row(sign_offs: &SignOffs, configmap_create: &[(f64, f64)]) -> Row {
    let webhook = histogram(
        &sign_offs.api_before,
        &sign_offs.api_after,
        "apiserver_admission_webhook_admission_duration_seconds",
        &[
            "name=\"mutate.attestations.accord.dev\"",
            "operation=\"CREATE\"",
        ],
    );
    let webhook_mean = mean(
        &sign_offs.api_before,
        &sign_offs.api_after,
        "apiserver_admission_webhook_admission_duration_seconds",
        &[
            "name=\"mutate.attestations.accord.dev\"",
            "operation=\"CREATE\"",
        ],
    );
    Row {
        what: "webhook time per Attestation CREATE, as the API server sees it",
        measured: format!(
            "mean {:.1} ms, p99 ≤ {:.1} ms, {:.1}% ≤ 5 ms",
            webhook_mean * 1e3,
            quantile(&webhook, 0.99) * 1e3,
            share_within(&webhook, 0.005) * 100.0
        ),
        baseline: format!(
            "ConfigMap create p99 {:.1} ms",
            quantile(configmap_create, 0.99) * 1e3
        ),
        target: "p99 ≤ 5 ms",
        value: quantile(&webhook, 0.99) * 1e3,
    }
}

/// The webhook's own decision time for Attestations during phase 2, from the
/// operator's `accord_admission_duration_seconds` (mean, p99).
fn webhook_decision_row(sign_offs: &SignOffs) -> Row {
    let decision = histogram(
        &sign_offs.operator_before,
        &sign_offs.operator_after,
        "accord_admission_duration_seconds",
        &["kind=\"Attestation\""],
    );
    let decision_mean = mean(
        &sign_offs.operator_before,
        &sign_offs.operator_after,
        "accord_admission_duration_seconds",
        &["kind=\"Attestation\""],
    );
    Row {
        what: "the webhook's own decision time (accord_admission_duration_seconds)",
        measured: format!(
            "mean {:.2} ms, p99 ≤ {:.2} ms",
            decision_mean * 1e3,
            quantile(&decision, 0.99) * 1e3
        ),
        baseline: "—".into(),
        target: "keep (0.3 ms)",
        value: decision_mean * 1e3,
    }
}

/// Last attestation → the operator's Deployment write (p50, p99), against the
/// ConfigMap create p99, with the reconcile queue's peak depth meanwhile (a long tail
/// with a deep queue is the operator falling behind; with a shallow one, the API server).
fn promotion_latency_row(
    promotions: &Promotions,
    configmap_create: &[(f64, f64)],
    queue_peak: f64,
) -> Row {
    let latencies = &promotions.latencies;
    let pick = |q: f64| pick(latencies, q);
    Row {
        what: "last attestation → the operator's Deployment write",
        measured: format!(
            "p50 {:.0} ms, p99 {:.0} ms ({} models); reconcile queue peak {queue_peak:.0}",
            pick(0.5) * 1e3,
            pick(0.99) * 1e3,
            latencies.len()
        ),
        baseline: format!(
            "ConfigMap create p99 {:.1} ms",
            quantile(configmap_create, 0.99) * 1e3
        ),
        target: "p99 ≤ 250 ms",
        value: pick(0.99) * 1e3,
    }
}

/// The operator's writes per promoted ModelDeployment in phase 2, in all and by kind.
fn operator_writes_row(promotions: &Promotions, n: usize) -> Row {
    let total_writes: usize = promotions.writes_by_kind.values().sum();
    let breakdown: Vec<String> = promotions
        .writes_by_kind
        .iter()
        .map(|(k, v)| format!("{k} {:.1}", *v as f64 / n as f64))
        .collect();
    Row {
        what: "operator writes per promoted ModelDeployment (sign-off to Serving)",
        measured: format!(
            "{:.1} ({})",
            total_writes as f64 / n as f64,
            breakdown.join(", ")
        ),
        baseline: "4 (status, Deployment, Event, status once available)".into(),
        target: "≤ 4",
        value: total_writes as f64 / n as f64,
    }
}

/// Phase 3: once the promotions' tail is over, 100 new ModelDeployments and 100
/// attestations among N + 100; counts the ModelDeployment reconciles they cause (5 s
/// after the last is decided), shown with phase 2's reconciles per attestation. The
/// value is what the changes asked for: the requeues in the same window (each model's
/// idle look every 5 minutes, N / 300 per second) are counted apart.
fn measure_reconcile_storm(bench: &Bench, promotion_reconciles: f64) -> Row {
    wait_quiet(&bench.operator);
    say("100 new ModelDeployments and 100 attestations among them all");
    let reconciles_before = modeldeployment_reconciles(&bench.operator);
    let requeues_before = modeldeployment_requeues(&bench.operator);
    let started = std::time::Instant::now();
    kubectl_stdin(
        "admin",
        &["create", "-f", "-"],
        &list((0..100).map(|i| model(&format!("x{i:03}"))).collect()),
    );
    kubectl_stdin(
        "alice",
        &["create", "-f", "-"],
        &list(
            (0..100)
                .map(|i| attestation(&format!("x{i:03}"), "drift"))
                .collect(),
        ),
    );
    wait_new_models_attested();
    std::thread::sleep(Duration::from_secs(5));
    let storm = modeldeployment_reconciles(&bench.operator) - reconciles_before;
    let requeues = modeldeployment_requeues(&bench.operator) - requeues_before;
    let asked = storm - requeues;
    Row {
        what: "ModelDeployment reconciles for 100 new MDs + 100 attestations",
        measured: format!(
            "{asked:.0} asked for by the changes ({:.2} per event), besides {requeues:.0} requeues in those {:.0} s; during the N promotions {:.2} per attestation",
            asked / 200.0,
            started.elapsed().as_secs_f64(),
            promotion_reconciles / (2.0 * bench.n as f64)
        ),
        baseline: "1 per event".into(),
        target: "≤ 2 per event",
        value: asked / 200.0,
    }
}

/// Phase 4: the operator's writes (leases aside) in the audit log while idle for 60 s.
fn measure_idle_writes() -> Row {
    say("idle for 60 s");
    let mark = AuditLog::mark();
    std::thread::sleep(Duration::from_secs(60));
    let idle_writes = AuditLog::events_since(mark)
        .iter()
        .filter(|e| {
            e["user"]["username"] == OPERATOR
                && is_write(e)
                && e["objectRef"]["resource"] != "leases"
        })
        .count();
    Row {
        what: "writes while idle for 60 s",
        measured: idle_writes.to_string(),
        baseline: "0".into(),
        target: "0",
        value: idle_writes as f64,
    }
}

/// The operator's peak and current memory after all phases, against its memory just
/// started.
fn memory_row(bench: &Bench) -> Row {
    let pid = bench.pid.as_str();
    let peak = proc_status(pid, "VmHWM:");
    Row {
        what: "operator RSS (peak)",
        // RSS counts the binary's code pages the kernel mapped in (shared, clean,
        // reclaimable): RssFile, most of the start-up figure. What the models cost is
        // anonymous memory.
        measured: format!(
            "{peak:.0} MiB (now {:.0} MiB: {:.0} MiB anonymous, {:.0} MiB mapped from the binary and libraries)",
            proc_status(pid, "VmRSS:"),
            proc_status(pid, "RssAnon:"),
            proc_status(pid, "RssFile:")
        ),
        baseline: format!(
            "{:.0} MiB just started ({:.0} MiB anonymous)",
            bench.idle_rss, bench.idle_anon
        ),
        target: "≤ 64 MiB at 1,000; ≤ 256 MiB at 10,000",
        value: peak,
    }
}

/// Stops the operator and deletes the benchmark's namespaces (without waiting).
fn tear_down(bench: Bench) {
    drop(bench.operator);
    let records_ns = records::enabled().then_some(records::RECORDS_NS);
    for ns in NAMESPACES.into_iter().chain(records_ns) {
        let _ = bench
            .admin
            .run(&["delete", "namespace", ns, "--wait=false"]);
    }
}
