//! `make bench-scale`: Accord at N ModelDeployments on the local control plane, each
//! figure against a baseline measured in the same run. The release operator runs as the
//! Helm chart's ServiceAccount; people write as the static users with one `kubectl`
//! each. Figures come from the API server's audit log and metrics and the operator's
//! `/proc` status and metrics. Prints a table and writes `target/bench-scale.json`.
//!
//! Usage: bench_scale [N] (default 1000). Expects the cluster up and
//! `ACCORD_BIN` naming a release build (hack/bench-scale.sh does both).

use std::{
    collections::BTreeMap,
    process::Command,
    time::{Duration, Instant},
};

use accord_e2e::{AuditLog, Kubectl, Operator, cluster_dir, poll, repo_root, token_kubeconfig};
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

struct Row {
    what: &'static str,
    measured: String,
    baseline: String,
    target: &'static str,
    value: f64,
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    say(&format!(
        "N = {n}; the operator is {}",
        accord_e2e::operator::accord_binary().display()
    ));
    accord_e2e::prepare();
    accord_e2e::stop_stray_operators();
    let admin = Kubectl::admin();
    for ns in [NS, BASELINE_NS] {
        let _ = admin.run(&["delete", "namespace", ns, "--wait=true", "--timeout=600s"]);
        admin.ok(&["create", "namespace", ns]);
    }
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
    let kubeconfig = token_kubeconfig("accord", "accord-system");
    let operator = Operator::start_as("bench-scale", &kubeconfig, &["--log-format", "json"]);
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
    let pid = std::fs::read_to_string(cluster_dir().join("pids/operator-bench-scale.pid")).unwrap();
    let pid = pid.trim();
    let idle_rss = proc_status(pid, "VmRSS:");
    let idle_anon = proc_status(pid, "RssAnon:");
    let mut rows = Vec::new();

    // 1. One client writes N plain Deployments, N ConfigMaps, then N ModelDeployments.
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
    rows.push(Row {
        what: "one client writes N ModelDeployments vs N Deployments",
        measured: format!("{:.1} s", t_models.as_secs_f64()),
        baseline: format!(
            "{:.1} s Deployments ({:.1} s ConfigMaps)",
            t_deployments.as_secs_f64(),
            t_config_maps.as_secs_f64()
        ),
        target: "≤ 1.5×",
        value: t_models.as_secs_f64() / t_deployments.as_secs_f64(),
    });
    let configmap_create = histogram(
        &api_before,
        &api_after_models,
        "apiserver_request_duration_seconds",
        &["resource=\"configmaps\"", "verb=\"POST\""],
    );
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

    // 2. alice and bob sign every model off; measure the webhook and the promotions.
    say(&format!("alice and bob sign off {n} models each"));
    let reconciles_before = operator_metric(
        &operator,
        "accord_reconciles_total{controller=\"modeldeployment\"}",
    );
    let operator_before = scrape(&operator.http_get("/metrics").unwrap_or_default());
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
    let operator_after = scrape(&operator.http_get("/metrics").unwrap_or_default());
    let webhook = histogram(
        &api_before,
        &api_after,
        "apiserver_admission_webhook_admission_duration_seconds",
        &[
            "name=\"mutate.attestations.accord.dev\"",
            "operation=\"CREATE\"",
        ],
    );
    let webhook_mean = mean(
        &api_before,
        &api_after,
        "apiserver_admission_webhook_admission_duration_seconds",
        &[
            "name=\"mutate.attestations.accord.dev\"",
            "operation=\"CREATE\"",
        ],
    );
    rows.push(Row {
        what: "webhook time per Attestation CREATE, as the API server sees it",
        measured: format!(
            "mean {:.1} ms, p99 ≤ {:.1} ms, {:.1}% ≤ 5 ms",
            webhook_mean * 1e3,
            quantile(&webhook, 0.99) * 1e3,
            share_within(&webhook, 0.005) * 100.0
        ),
        baseline: format!(
            "ConfigMap create p99 {:.1} ms",
            quantile(&configmap_create, 0.99) * 1e3
        ),
        target: "p99 ≤ 5 ms",
        value: quantile(&webhook, 0.99) * 1e3,
    });
    let decision = histogram(
        &operator_before,
        &operator_after,
        "accord_admission_duration_seconds",
        &["kind=\"Attestation\""],
    );
    let decision_mean = mean(
        &operator_before,
        &operator_after,
        "accord_admission_duration_seconds",
        &["kind=\"Attestation\""],
    );
    rows.push(Row {
        what: "the webhook's own decision time (accord_admission_duration_seconds)",
        measured: format!(
            "mean {:.2} ms, p99 ≤ {:.2} ms",
            decision_mean * 1e3,
            quantile(&decision, 0.99) * 1e3
        ),
        baseline: "—".into(),
        target: "keep (0.3 ms)",
        value: decision_mean * 1e3,
    });

    // The promotion path, from the audit log.
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
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    rows.push(Row {
        what: "last attestation → the operator's Deployment write",
        measured: format!(
            "p50 {:.0} ms, p99 {:.0} ms ({} models)",
            pick(0.5) * 1e3,
            pick(0.99) * 1e3,
            latencies.len()
        ),
        baseline: format!(
            "ConfigMap create p99 {:.1} ms",
            quantile(&configmap_create, 0.99) * 1e3
        ),
        target: "p99 ≤ 250 ms",
        value: pick(0.99) * 1e3,
    });
    let total_writes: usize = writes_by_kind.values().sum();
    let breakdown: Vec<String> = writes_by_kind
        .iter()
        .map(|(k, v)| format!("{k} {:.1}", *v as f64 / n as f64))
        .collect();
    rows.push(Row {
        what: "operator writes per promoted ModelDeployment (sign-off to Serving)",
        measured: format!(
            "{:.1} ({})",
            total_writes as f64 / n as f64,
            breakdown.join(", ")
        ),
        baseline: "4 (status, Deployment, Event, status once available)".into(),
        target: "≤ 4",
        value: total_writes as f64 / n as f64,
    });
    let promotion_reconciles = operator_metric(
        &operator,
        "accord_reconciles_total{controller=\"modeldeployment\"}",
    ) - reconciles_before;

    // 3. 100 new ModelDeployments and 100 attestations among N + 100.
    say("100 new ModelDeployments and 100 attestations among them all");
    let reconciles_before = operator_metric(
        &operator,
        "accord_reconciles_total{controller=\"modeldeployment\"}",
    );
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
    std::thread::sleep(Duration::from_secs(5));
    let storm = operator_metric(
        &operator,
        "accord_reconciles_total{controller=\"modeldeployment\"}",
    ) - reconciles_before;
    rows.push(Row {
        what: "ModelDeployment reconciles for 100 new MDs + 100 attestations",
        measured: format!(
            "{storm:.0} ({:.2} per event); during the N promotions {:.2} per attestation",
            storm / 200.0,
            promotion_reconciles / (2.0 * n as f64)
        ),
        baseline: "1 per event".into(),
        target: "≤ 3 per event",
        value: storm / 200.0,
    });

    // 4. Idle, and memory.
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
    rows.push(Row {
        what: "writes while idle for 60 s",
        measured: idle_writes.to_string(),
        baseline: "0".into(),
        target: "0",
        value: idle_writes as f64,
    });
    let peak = proc_status(pid, "VmHWM:");
    rows.push(Row {
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
        baseline: format!("{idle_rss:.0} MiB just started ({idle_anon:.0} MiB anonymous)"),
        target: "≤ 64 MiB at 1,000; ≤ 256 MiB at 10,000",
        value: peak,
    });

    println!(
        "\nAccord at N = {n} (release operator as the chart's ServiceAccount, local control plane)\n"
    );
    println!("| what | measured | in-run baseline | target |\n| --- | --- | --- | --- |");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} |",
            row.what, row.measured, row.baseline, row.target
        );
    }
    let json = json!({
        "n": n,
        "rows": rows.iter().map(|r| json!({"what": r.what, "measured": r.measured, "baseline": r.baseline, "target": r.target, "value": r.value})).collect::<Vec<_>>(),
    });
    let out = repo_root().join("target/bench-scale.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).expect("write the JSON");
    say(&format!("wrote {}", out.display()));
    drop(operator);
    for ns in [NS, BASELINE_NS] {
        let _ = admin.run(&["delete", "namespace", ns, "--wait=false"]);
    }
}
