//! `make bench-scale`: Accord at N ModelDeployments on the local control plane, each
//! figure against a baseline measured in the same run. The release operator runs as the
//! Helm chart's ServiceAccount; people write as the static users with one `kubectl`
//! each. Figures come from the API server's audit log and metrics and the operator's
//! `/proc` status and metrics. Prints a table and writes `target/bench-scale.json`.
//!
//! `main` runs the phases in order: set-up (namespaces, the chart's RBAC, the operator,
//! `POLICIES` HandoffPolicies), N creates against plain Deployments and ConfigMaps,
//! the sign-offs and the promotions they cause, 100 more models and attestations (the
//! reconcile storm), an idle minute, and the operator's memory.
//!
//! Usage: bench_scale [N] (default 1000). Expects the cluster up and
//! `ACCORD_BIN` naming a release build (hack/bench-scale.sh does both).

// Long functions are split into named steps.
#![warn(clippy::too_many_lines)]

use std::{
    collections::BTreeMap,
    process::Command,
    time::{Duration, Instant},
};

use accord_e2e::{
    AuditLog, Kubectl, Operator, audit::AuditMark, cluster_dir, poll, repo_root, token_kubeconfig,
};
use serde_json::{Value, json};

const NS: &str = "bench-scale";
const BASELINE_NS: &str = "bench-baseline";
const OPERATOR: &str = "system:serviceaccount:accord-system:accord";

fn say(text: &str) {
    eprintln!("[bench-scale] {text}");
}

fn kubectl_stdin(user: &str, args: &[&str], body: &Value) -> Duration {
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

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

fn model(name: &str) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
    "metadata": {"name": name, "namespace": NS},
    "spec": {
        "owners": {"data": "data-platform", "platform": "ml-platform", "application": "payments-app"},
        "model": {"name": name, "version": "1.0.0"},
        "serving": {"image": format!("registry.example.com/{name}:1.0.0"), "replicas": 0},
        "handoff": {"checklist": [{"id": "drift", "owner": "data"}, {"id": "latency", "owner": "platform"}]},
        "rollback": {"mode": "Automatic"}
    }})
}

/// Policy `k` of the benchmark: it selects every benchmark ModelDeployment and asks for
/// nothing they do not already need (the items they have, a 30-day maxAge, an
/// auto-approve rule that never applies to a first version, a RACI row), so it costs
/// the operator its matching, merging and rule judging on every decision but no extra
/// sign-off.
fn policy(k: usize) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": format!("bench-scale-{k:02}")},
        "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NS}},
                 "requiredItems": [{"id": if k.is_multiple_of(2) { "drift" } else { "latency" },
                                    "owner": if k.is_multiple_of(2) { "data" } else { "platform" }}],
                 "attestations": {"maxAge": "720h"},
                 "autoApprove": [{"name": "patch", "items": ["drift", "latency"]}],
                 "responsibilities": [{"stage": "Deployment", "responsible": ["platform"], "accountable": "platform"}]}})
}

fn attestation(md: &str, item: &str) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
        "metadata": {"name": format!("{md}-{item}"), "namespace": NS},
        "spec": {"modelDeployment": md, "item": item, "version": "1.0.0"}})
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": BASELINE_NS},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "model", "image": format!("registry.example.com/{name}:1.0.0")}]}}}})
}

fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": BASELINE_NS}, "data": {"version": "1.0.0"}})
}

/// A Prometheus text exposition, as (series with labels → value).
fn scrape(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn apiserver_metrics() -> BTreeMap<String, f64> {
    scrape(&Kubectl::admin().ok(&["get", "--raw", "/metrics"]).stdout)
}

/// A histogram's buckets (upper bound → cumulative count) for series matching all of
/// `labels`, as the difference between two scrapes.
fn histogram(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    name: &str,
    labels: &[&str],
) -> Vec<(f64, f64)> {
    let mut buckets: BTreeMap<String, f64> = BTreeMap::new();
    for (series, value) in after {
        if !series.starts_with(&format!("{name}_bucket{{"))
            || !labels.iter().all(|l| series.contains(l))
        {
            continue;
        }
        let le = series
            .split("le=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("+Inf")
            .to_string();
        *buckets.entry(le).or_default() += value - before.get(series).copied().unwrap_or(0.0);
    }
    let mut sorted: Vec<(f64, f64)> = buckets
        .into_iter()
        .map(|(le, count)| (le.parse().unwrap_or(f64::INFINITY), count))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted
}

/// `histogram_quantile` as Prometheus computes it (linear within a bucket).
fn quantile(buckets: &[(f64, f64)], q: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.1);
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            let within = (rank - lower.1) / (count - lower.1).max(f64::EPSILON);
            return lower.0 + (le - lower.0) * within;
        }
        lower = (le, count);
    }
    lower.0
}

fn share_within(buckets: &[(f64, f64)], bound: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.1);
    let within = buckets.iter().find(|b| b.0 >= bound).map_or(total, |b| b.1);
    if total == 0.0 {
        f64::NAN
    } else {
        within / total
    }
}

fn mean(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    name: &str,
    labels: &[&str],
) -> f64 {
    let sum_of = |m: &BTreeMap<String, f64>, suffix: &str| -> f64 {
        m.iter()
            .filter(|(s, _)| {
                s.starts_with(&format!("{name}_{suffix}{{")) && labels.iter().all(|l| s.contains(l))
            })
            .map(|(_, v)| v)
            .sum()
    };
    let count = sum_of(after, "count") - sum_of(before, "count");
    (sum_of(after, "sum") - sum_of(before, "sum")) / count.max(1.0)
}

fn is_write(event: &Value) -> bool {
    matches!(
        event["verb"].as_str(),
        Some("create" | "update" | "patch" | "delete")
    )
}

fn timestamp(event: &Value) -> f64 {
    event["stageTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(0.0, |t| t.as_microsecond() as f64 / 1e6)
}

fn proc_status(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn operator_metric(operator: &Operator, series: &str) -> f64 {
    scrape(&operator.http_get("/metrics").unwrap_or_default())
        .iter()
        .filter(|(s, _)| s.starts_with(series))
        .map(|(_, v)| v)
        .sum()
}

fn serving_count() -> usize {
    let out = Kubectl::admin().ok(&[
        "get",
        "md",
        "-n",
        NS,
        "-o",
        "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}",
    ]);
    out.stdout.lines().filter(|l| *l == "Serving").count()
}

fn wait_serving(count: usize, timeout: Duration) {
    let started = Instant::now();
    let mut last_report = Instant::now();
    poll(
        &format!("{count} ModelDeployments Serving"),
        timeout,
        || {
            let serving = serving_count();
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

/// One line of the table, and one entry of the JSON's `rows`.
struct Row {
    what: &'static str,
    measured: String,
    baseline: String,
    target: &'static str,
    value: f64,
}

/// The set-up the phases share: N, the release operator under test, and its memory
/// just after it started (the memory row's baseline).
struct Bench {
    n: usize,
    admin: Kubectl,
    operator: Operator,
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
    row: Row,
    configmap_create: Vec<(f64, f64)>,
}

/// The scrapes and the audit-log mark taken around phase 2 (sign-offs and promotions).
struct SignOffs {
    reconciles_before: f64,
    api_before: BTreeMap<String, f64>,
    api_after: BTreeMap<String, f64>,
    operator_before: BTreeMap<String, f64>,
    operator_after: BTreeMap<String, f64>,
    mark: AuditMark,
}

/// The promotion path of phase 2 as the audit log recorded it.
struct Promotions {
    /// Per promoted model, seconds from its last attestation to the operator's first
    /// Deployment write, sorted.
    latencies: Vec<f64>,
    /// The operator's writes (leases aside) by `resource[/subresource]`.
    writes_by_kind: BTreeMap<String, usize>,
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let bench = set_up(n);

    // 1. One client writes N plain Deployments, N ConfigMaps, then N ModelDeployments.
    let creates = measure_creates(n);
    let mut rows = vec![creates.row];
    wait_all_awaiting_attestations(n);

    // 2. alice and bob sign every model off; measure the webhook and the promotions.
    let sign_offs = sign_off_every_model(&bench);
    rows.push(webhook_latency_row(&sign_offs, &creates.configmap_create));
    rows.push(webhook_decision_row(&sign_offs));
    // The promotion path, from the audit log.
    let promotions = promotions_from_audit_log(sign_offs.mark);
    rows.push(promotion_latency_row(
        &promotions,
        &creates.configmap_create,
    ));
    rows.push(operator_writes_row(&promotions, n));
    let promotion_reconciles =
        modeldeployment_reconciles(&bench.operator) - sign_offs.reconciles_before;

    // 3. 100 new ModelDeployments and 100 attestations among N + 100.
    rows.push(measure_reconcile_storm(&bench, promotion_reconciles));

    // 4. Idle, and memory.
    rows.push(measure_idle_writes());
    rows.push(memory_row(&bench));

    print_table(n, &rows);
    write_json(n, &rows);
    tear_down(bench);
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
    install_chart_rbac();
    let kubeconfig = token_kubeconfig("accord", "accord-system");
    let operator = Operator::start_as("bench-scale", &kubeconfig, &["--log-format", "json"]);
    create_policies(&admin);
    let pid = std::fs::read_to_string(cluster_dir().join("pids/operator-bench-scale.pid")).unwrap();
    let pid = pid.trim().to_string();
    let idle_rss = proc_status(&pid, "VmRSS:");
    let idle_anon = proc_status(&pid, "RssAnon:");
    Bench {
        n,
        admin,
        operator,
        pid,
        idle_rss,
        idle_anon,
    }
}

/// Deletes the benchmark and baseline namespaces left by an earlier run and creates
/// them empty.
fn recreate_namespaces(admin: &Kubectl) {
    for ns in [NS, BASELINE_NS] {
        let _ = admin.run(&["delete", "namespace", ns, "--wait=true", "--timeout=600s"]);
        admin.ok(&["create", "namespace", ns]);
    }
}

/// `helm upgrade --install` of the chart with no pods, no webhook configurations and no
/// CRDs: the operator's ServiceAccount and RBAC only.
fn install_chart_rbac() {
    say(
        "installing the chart's ServiceAccount and RBAC (helm install, no pods, no webhook configurations)",
    );
    let helm = Command::new("helm")
        .args(["upgrade", "--install", "accord"])
        .arg(repo_root().join("charts/accord"))
        .args([
            "-n",
            "accord-system",
            "--create-namespace",
            "--set",
            "replicaCount=0",
            "--set",
            "webhook.createConfigurations=false",
            // The cluster's CRDs stay kubectl's (e2e/cluster and make run install them).
            "--set",
            "crds.enabled=false",
        ])
        .env("KUBECONFIG", cluster_dir().join("kubeconfig"))
        .output()
        .expect("helm runs");
    assert!(
        helm.status.success(),
        "helm: {}",
        String::from_utf8_lossy(&helm.stderr)
    );
}

/// Replaces the benchmark's HandoffPolicies (label `accord-bench=scale`) with `POLICIES`
/// (default 0) copies of [`policy`].
fn create_policies(admin: &Kubectl) {
    let policies: usize = std::env::var("POLICIES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let _ = admin.run(&["delete", "handoffpolicies", "-l", "accord-bench=scale"]);
    if policies > 0 {
        say(&format!(
            "{policies} HandoffPolicies select every benchmark ModelDeployment"
        ));
        let mut objects: Vec<Value> = (0..policies).map(policy).collect();
        for object in &mut objects {
            object["metadata"]["labels"] = json!({"accord-bench": "scale"});
        }
        kubectl_stdin("admin", &["create", "-f", "-"], &list(objects));
    }
}

/// The operator's ModelDeployment reconciles so far.
fn modeldeployment_reconciles(operator: &Operator) -> f64 {
    operator_metric(
        operator,
        "accord_reconciles_total{controller=\"modeldeployment\"}",
    )
}

/// Phase 1: one client writes N plain Deployments, N ConfigMaps, then N
/// ModelDeployments, one kubectl each; measures the ModelDeployments' time against the
/// Deployments' and keeps the API server's ConfigMap create latency for later rows.
fn measure_creates(n: usize) -> Creates {
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
    Creates {
        row,
        configmap_create,
    }
}

/// Waits (up to 600 s) until the operator has decided all N ModelDeployments: every
/// one AwaitingAttestations.
fn wait_all_awaiting_attestations(n: usize) {
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

/// Phase 2: alice and bob each sign off all N models (one kubectl each) and it waits
/// (up to 1800 s) until all N are Serving; returns the operator's and the API server's
/// metrics and the audit-log mark taken around it.
fn sign_off_every_model(bench: &Bench) -> SignOffs {
    let n = bench.n;
    say(&format!("alice and bob sign off {n} models each"));
    let reconciles_before = modeldeployment_reconciles(&bench.operator);
    let operator_before = scrape(&bench.operator.http_get("/metrics").unwrap_or_default());
    let api_before = apiserver_metrics();
    let mark = AuditLog::mark();
    let t_alice = kubectl_stdin(
        "alice",
        &["create", "-f", "-"],
        &list(
            (0..n)
                .map(|i| attestation(&format!("m{i:05}"), "drift"))
                .collect(),
        ),
    );
    let t_bob = kubectl_stdin(
        "bob",
        &["create", "-f", "-"],
        &list(
            (0..n)
                .map(|i| attestation(&format!("m{i:05}"), "latency"))
                .collect(),
        ),
    );
    say(&format!(
        "  attestations written in {:.1}s and {:.1}s",
        t_alice.as_secs_f64(),
        t_bob.as_secs_f64()
    ));
    wait_serving(n, Duration::from_secs(1800));
    let api_after = apiserver_metrics();
    let operator_after = scrape(&bench.operator.http_get("/metrics").unwrap_or_default());
    SignOffs {
        reconciles_before,
        api_before,
        api_after,
        operator_before,
        operator_after,
        mark,
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

/// Reads the audit log since `mark`: per model, the last attestation's create and the
/// operator's first Deployment write, and the operator's writes by kind.
fn promotions_from_audit_log(mark: AuditMark) -> Promotions {
    let events = AuditLog::events_since(mark);
    let mut last_attestation: BTreeMap<String, f64> = BTreeMap::new();
    let mut deployment_write: BTreeMap<String, f64> = BTreeMap::new();
    let mut writes_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        let o = &e["objectRef"];
        let user = e["user"]["username"].as_str().unwrap_or_default();
        if o["resource"] == "attestations"
            && e["verb"] == "create"
            && o["subresource"].is_null()
            && e["responseStatus"]["code"] == 201
        {
            let md = o["name"]
                .as_str()
                .unwrap_or_default()
                .rsplit_once('-')
                .map(|(md, _)| md.to_string())
                .unwrap_or_default();
            let at = timestamp(e);
            let entry = last_attestation.entry(md).or_insert(at);
            *entry = entry.max(at);
        }
        if user == OPERATOR && is_write(e) && o["resource"] != "leases" {
            let kind = format!(
                "{}{}",
                o["resource"].as_str().unwrap_or_default(),
                o["subresource"]
                    .as_str()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            );
            *writes_by_kind.entry(kind).or_default() += 1;
            if o["resource"] == "deployments" {
                // The first write: a create (or, by an operator that applies, a patch).
                deployment_write
                    .entry(o["name"].as_str().unwrap_or_default().to_string())
                    .or_insert(timestamp(e));
            }
        }
    }
    let mut latencies: Vec<f64> = deployment_write
        .iter()
        .filter_map(|(md, at)| Some(at - last_attestation.get(md)?))
        .collect();
    latencies.sort_by(f64::total_cmp);
    Promotions {
        latencies,
        writes_by_kind,
    }
}

/// Last attestation → the operator's Deployment write (p50, p99), against the
/// ConfigMap create p99.
fn promotion_latency_row(promotions: &Promotions, configmap_create: &[(f64, f64)]) -> Row {
    let latencies = &promotions.latencies;
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Row {
        what: "last attestation → the operator's Deployment write",
        measured: format!(
            "p50 {:.0} ms, p99 {:.0} ms ({} models)",
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

/// Phase 3: 100 new ModelDeployments and 100 attestations among N + 100; counts the
/// ModelDeployment reconciles they cause (5 s after the last is decided), shown with
/// phase 2's reconciles per attestation.
fn measure_reconcile_storm(bench: &Bench, promotion_reconciles: f64) -> Row {
    say("100 new ModelDeployments and 100 attestations among them all");
    let reconciles_before = modeldeployment_reconciles(&bench.operator);
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
    Row {
        what: "ModelDeployment reconciles for 100 new MDs + 100 attestations",
        measured: format!(
            "{storm:.0} ({:.2} per event); during the N promotions {:.2} per attestation",
            storm / 200.0,
            promotion_reconciles / (2.0 * bench.n as f64)
        ),
        baseline: "1 per event".into(),
        target: "≤ 3 per event",
        value: storm / 200.0,
    }
}

/// Waits (up to 300 s) until all 100 new models show their first item attested.
fn wait_new_models_attested() {
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

/// Prints the Markdown table of `rows` to stdout.
fn print_table(n: usize, rows: &[Row]) {
    println!(
        "\nAccord at N = {n} (release operator as the chart's ServiceAccount, local control plane)\n"
    );
    println!("| what | measured | in-run baseline | target |\n| --- | --- | --- | --- |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} |",
            row.what, row.measured, row.baseline, row.target
        );
    }
}

/// Writes N and `rows` to `target/bench-scale.json`.
fn write_json(n: usize, rows: &[Row]) {
    let json = json!({
        "n": n,
        "rows": rows.iter().map(|r| json!({"what": r.what, "measured": r.measured, "baseline": r.baseline, "target": r.target, "value": r.value})).collect::<Vec<_>>(),
    });
    let out = repo_root().join("target/bench-scale.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).expect("write the JSON");
    say(&format!("wrote {}", out.display()));
}

/// Stops the operator and deletes the two namespaces (without waiting).
fn tear_down(bench: Bench) {
    drop(bench.operator);
    for ns in [NS, BASELINE_NS] {
        let _ = bench
            .admin
            .run(&["delete", "namespace", ns, "--wait=false"]);
    }
}
