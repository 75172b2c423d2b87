//! `GUARDS=1`: what monitoring guards cost once every model serves. A real Prometheus
//! on loopback scrapes a gauge the benchmark serves (`model_error_ratio`, one healthy
//! series per model); a quiet window is measured with no guards, then bob gives every
//! benchmark ModelDeployment one guard at the default interval (30 s) and the same
//! window is measured again: guard queries per second as the operator and Prometheus
//! counted them, the operator's CPU, the reconciles asked for and requeued, the
//! operator's writes (healthy guards write nothing) and its memory.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use accord_e2e::{
    AuditLog, Kubectl, MetricsSource, Operator, Prometheus, cluster_dir, metrics::scrape, poll,
};
use serde_json::{Value, json};

use crate::{
    Bench, NS, OPERATOR,
    audit::is_write,
    metrics::{guard_readings, wait_quiet},
    objects::monitoring,
    process::{cpu_seconds, proc_status},
    report::Row,
    say,
};

/// The quiet window measured with and without guards: three guard intervals.
const WINDOW: Duration = Duration::from_secs(90);
/// The default guard interval, seconds.
const INTERVAL: f64 = 30.0;
/// What the operator logs for a reading out of bounds or not taken.
const UNHEALTHY_READING: &str = "guard out of bounds or unreadable";

/// Whether the benchmark measures monitoring guards (`GUARDS=1`).
pub(super) fn enabled() -> bool {
    std::env::var("GUARDS").is_ok_and(|v| v == "1")
}

/// The names of the benchmark's models: the N signed off (all serving) and the 100 of
/// the reconcile storm (signed off by alice only, so not serving: never read).
fn model_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("m{i:05}"))
        .chain((0..100).map(|i| format!("x{i:03}")))
        .collect()
}

/// One healthy error ratio per model and version 1.0.0.
fn exposition(names: &[String]) -> String {
    let mut text = String::from("# TYPE model_error_ratio gauge\n");
    for name in names {
        text.push_str(&format!(
            "model_error_ratio{{namespace=\"{NS}\",model=\"{name}\",version=\"1.0.0\"}} 0.01\n"
        ));
    }
    text
}

/// The counters a window is the difference of.
struct Counters {
    at: Instant,
    reconciles: f64,
    requeues: f64,
    readings: f64,
    /// Instant queries Prometheus answered (its own `/metrics`).
    queries: f64,
    cpu: f64,
    /// The operator's log length, to count its unhealthy readings since.
    log_len: usize,
}

fn operator_log() -> String {
    std::fs::read_to_string(cluster_dir().join("logs/operator-bench-scale.log")).unwrap_or_default()
}

/// Prometheus' count of `/api/v1/query` requests, from its own `/metrics`.
fn prometheus_queries(prometheus: &Prometheus) -> f64 {
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "--max-time",
            "5",
            &format!("{}/metrics", prometheus.address),
        ])
        .output()
        .expect("curl runs");
    scrape(&String::from_utf8_lossy(&out.stdout))
        .iter()
        .filter(|(s, _)| {
            s.starts_with("prometheus_http_requests_total{")
                && s.contains("handler=\"/api/v1/query\"")
        })
        .map(|(_, v)| v)
        .sum()
}

/// The operator's counters from one scrape: the reconciles and the requeues among them
/// are counted at the same point, so read together their difference is exact.
fn counters(operator: &Operator, pid: &str, prometheus: &Prometheus) -> Counters {
    let metrics = scrape(&operator.http_get("/metrics").unwrap_or_default());
    let sum = |series: &str| -> f64 {
        metrics
            .iter()
            .filter(|(s, _)| s.starts_with(series))
            .map(|(_, v)| v)
            .sum()
    };
    Counters {
        at: Instant::now(),
        reconciles: sum("accord_reconciles_total{controller=\"modeldeployment\"}"),
        requeues: sum("accord_reconciles_requeued_total{controller=\"modeldeployment\"}"),
        readings: sum("accord_guard_readings_total"),
        queries: prometheus_queries(prometheus),
        cpu: cpu_seconds(pid),
        log_len: operator_log().len(),
    }
}

/// What happened between two [`Counters`] and in the audit log meanwhile.
struct Window {
    seconds: f64,
    asked: f64,
    requeued: f64,
    readings: f64,
    queries: f64,
    /// Percent of one core.
    cpu: f64,
    /// The operator's writes, leases aside, by `resource[/subresource]`.
    writes: BTreeMap<String, usize>,
    /// Readings the operator logged as out of bounds or not taken.
    unhealthy: usize,
}

impl Window {
    fn between(before: &Counters, after: &Counters, events: &[Value]) -> Self {
        let seconds = after.at.duration_since(before.at).as_secs_f64();
        let requeued = after.requeues - before.requeues;
        let mut writes: BTreeMap<String, usize> = BTreeMap::new();
        for e in events {
            let o = &e["objectRef"];
            if e["user"]["username"] == OPERATOR && is_write(e) && o["resource"] != "leases" {
                let kind = format!(
                    "{}{}",
                    o["resource"].as_str().unwrap_or_default(),
                    o["subresource"]
                        .as_str()
                        .map(|s| format!("/{s}"))
                        .unwrap_or_default()
                );
                *writes.entry(kind).or_default() += 1;
            }
        }
        let log = operator_log();
        let unhealthy = log
            .get(before.log_len.min(log.len())..)
            .unwrap_or_default()
            .matches(UNHEALTHY_READING)
            .count();
        Self {
            seconds,
            asked: after.reconciles - before.reconciles - requeued,
            requeued,
            readings: after.readings - before.readings,
            queries: after.queries - before.queries,
            cpu: (after.cpu - before.cpu) / seconds * 100.0,
            writes,
            unhealthy,
        }
    }

    fn status_writes(&self) -> usize {
        self.writes
            .get("modeldeployments/status")
            .copied()
            .unwrap_or(0)
    }

    fn total_writes(&self) -> usize {
        self.writes.values().sum()
    }

    fn per_second(&self, count: f64) -> f64 {
        count / self.seconds
    }
}

/// Measures [`WINDOW`] from now: the operator's counters, Prometheus' and the audit log.
fn measure(bench: &Bench, prometheus: &Prometheus, what: &str) -> Window {
    say(&format!("quiet for {} s, {what}", WINDOW.as_secs()));
    let mark = AuditLog::mark();
    let before = counters(&bench.operator, &bench.pid, prometheus);
    std::thread::sleep(WINDOW);
    let after = counters(&bench.operator, &bench.pid, prometheus);
    let window = Window::between(&before, &after, &AuditLog::events_since(mark));
    say(&format!(
        "  {:.0} s: {:.0} guard readings ({:.0} Prometheus queries), {:.0} reconciles asked, {:.0} requeued, CPU {:.1} % of a core, {} operator writes ({} status)",
        window.seconds,
        window.readings,
        window.queries,
        window.asked,
        window.requeued,
        window.cpu,
        window.total_writes(),
        window.status_writes()
    ));
    window
}

/// The memory figures before and after the guards were switched on, MiB.
struct Memory {
    rss: f64,
    anon: f64,
}

fn memory(pid: &str) -> Memory {
    Memory {
        rss: proc_status(pid, "VmRSS:"),
        anon: proc_status(pid, "RssAnon:"),
    }
}

/// The rows of `GUARDS=1`, and whether the bound held (`Err` says how it did not).
pub(super) fn measure_guards(bench: &Bench) -> (Vec<Row>, Result<(), String>) {
    let n = bench.n;
    let names = model_names(n);
    let source = MetricsSource::start();
    source.set(&exposition(&names));
    let prometheus = Prometheus::start(source.port);
    prometheus.wait_for(
        &format!("model_error_ratio{{namespace=\"{NS}\",model=\"m00000\",version=\"1.0.0\"}}"),
        "0.01",
    );
    prometheus.wait_for(
        &format!("count(model_error_ratio{{namespace=\"{NS}\"}})"),
        &names.len().to_string(),
    );
    say(&format!(
        "GUARDS=1: Prometheus at {} serves a healthy error ratio for {} models",
        prometheus.address,
        names.len()
    ));
    wait_quiet(&bench.operator);
    let off = measure(bench, &prometheus, "no guards");
    let memory_off = memory(&bench.pid);

    let switch_on = switch_on(bench, &prometheus, &names);
    let on = measure(bench, &prometheus, "one guard per model at 30 s");
    let memory_on = memory(&bench.pid);

    let bound = n as f64 / 100.0;
    let mut failures = Vec::new();
    if on.asked > bound {
        failures.push(format!(
            "{:.0} reconciles asked for in the quiet window with guards on, over N / 100 = {bound}",
            on.asked
        ));
    }
    if on.status_writes() as f64 > bound {
        failures.push(format!(
            "{} ModelDeployment status writes in the quiet window with guards on, over N / 100 = {bound}",
            on.status_writes()
        ));
    }
    if on.unhealthy > 0 {
        failures.push(format!(
            "{} guard readings out of bounds or not taken (the operator's log)",
            on.unhealthy
        ));
    }
    let rows = vec![
        switch_on,
        queries_row(n, &on, &off),
        cpu_row(&on, &off),
        reconciles_row(&on, &off),
        writes_row(&on, &off),
        memory_row(&memory_on, &memory_off),
    ];
    let check = if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    };
    (rows, check)
}

/// bob (the platform Team) applies `spec.monitoring` to every benchmark model (one
/// `kubectl patch`); waits until every serving model has been read once
/// and the reconciles the edits asked for have settled, then 5 s more. The row is what
/// switching on cost.
fn switch_on(bench: &Bench, prometheus: &Prometheus, names: &[String]) -> Row {
    let n = bench.n;
    say(&format!(
        "bob gives {} ModelDeployments one guard each (the default 30 s interval)",
        names.len()
    ));
    let mark = AuditLog::mark();
    let before = counters(&bench.operator, &bench.pid, prometheus);
    // One kubectl patching every model by name, one PATCH request each.
    let patch = json!({"spec": {"monitoring": monitoring(&prometheus.address)}}).to_string();
    let mut args = vec!["patch", "md", "-n", NS, "--type", "merge", "-p", &patch];
    args.extend(names.iter().map(String::as_str));
    let started = Instant::now();
    let out = Kubectl::user("bob").run(&args);
    assert!(out.success, "kubectl patch as bob: {}", out.stderr);
    let took = started.elapsed();
    poll(
        "every serving model's guard to be read once",
        Duration::from_secs(600),
        || {
            let read = guard_readings(&bench.operator) - before.readings;
            (read >= n as f64)
                .then_some(())
                .ok_or(format!("{read:.0} of {n} read"))
        },
    );
    wait_quiet(&bench.operator);
    std::thread::sleep(Duration::from_secs(5));
    let after = counters(&bench.operator, &bench.pid, prometheus);
    let window = Window::between(&before, &after, &AuditLog::events_since(mark));
    let writes: Vec<String> = window
        .writes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    Row {
        what: "switching the guards on: bob applies spec.monitoring to every model (one kubectl)",
        measured: format!(
            "{:.1} s; {:.0} reconciles asked, {} operator writes ({}) until settled ({:.0} s)",
            took.as_secs_f64(),
            window.asked,
            window.total_writes(),
            if writes.is_empty() {
                "none".to_string()
            } else {
                writes.join(", ")
            },
            window.seconds
        ),
        baseline: format!("{} models ({n} serving)", names.len()),
        target: "—",
        value: window.total_writes() as f64,
    }
}

fn queries_row(n: usize, on: &Window, off: &Window) -> Row {
    Row {
        what: "guard queries per second, one guard per serving model at the default 30 s: the operator's count (accord_guard_readings_total); Prometheus' (/api/v1/query requests)",
        measured: format!(
            "{:.1} /s; {:.1} /s ({:.0} and {:.0} in {:.0} s)",
            on.per_second(on.readings),
            on.per_second(on.queries),
            on.readings,
            on.queries,
            on.seconds
        ),
        baseline: format!(
            "N / 30 = {:.1} /s expected; without guards {:.1} /s; {:.1} /s",
            n as f64 / INTERVAL,
            off.per_second(off.readings),
            off.per_second(off.queries)
        ),
        target: "≈ N / 30",
        value: on.per_second(on.readings),
    }
}

fn cpu_row(on: &Window, off: &Window) -> Row {
    Row {
        what: "operator CPU over the quiet window (utime + stime), guards on",
        measured: format!("{:.1} % of a core", on.cpu),
        baseline: format!(
            "{:.1} % of a core without guards (same run, same window)",
            off.cpu
        ),
        target: "—",
        value: on.cpu,
    }
}

fn reconciles_row(on: &Window, off: &Window) -> Row {
    Row {
        what: "ModelDeployment reconciles in the quiet window, guards on: asked for by a change; requeued",
        measured: format!(
            "{:.0} ({:.2} /s); {:.0} ({:.1} /s)",
            on.asked,
            on.per_second(on.asked),
            on.requeued,
            on.per_second(on.requeued)
        ),
        baseline: format!(
            "without guards {:.0} ({:.2} /s); {:.0} ({:.1} /s, the idle look)",
            off.asked,
            off.per_second(off.asked),
            off.requeued,
            off.per_second(off.requeued)
        ),
        target: "asked ≤ N / 100",
        value: on.asked,
    }
}

fn writes_row(on: &Window, off: &Window) -> Row {
    Row {
        what: "operator writes in the quiet window, guards on: ModelDeployment status; all (leases aside)",
        measured: format!("{}; {}", on.status_writes(), on.total_writes()),
        baseline: format!(
            "without guards {}; {}",
            off.status_writes(),
            off.total_writes()
        ),
        target: "status ≤ N / 100 (healthy guards write nothing)",
        value: on.status_writes() as f64,
    }
}

fn memory_row(on: &Memory, off: &Memory) -> Row {
    Row {
        what: "operator RSS after the guarded window",
        measured: format!("{:.0} MiB ({:.0} MiB anonymous)", on.rss, on.anon),
        baseline: format!(
            "{:.0} MiB ({:.0} MiB anonymous) before the guards were switched on",
            off.rss, off.anon
        ),
        target: "—",
        value: on.rss,
    }
}
