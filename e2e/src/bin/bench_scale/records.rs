//! `RECORDS=1`: what the signed PromotionRecords cost (docs/audit.md), each figure
//! against a baseline of the same run.
//!
//! - The gate's latency with and without records: the operator starts with
//!   `--write-records=false`, bob signs off the first N/2 models, the operator is
//!   restarted with records on (as the benchmark starts it) and left to settle, and bob
//!   signs off the other N/2. Last attestation → Deployment write is read for each half
//!   from the audit log ([`promotions_from_audit_log`] from a mark at the start of each).
//! - The operator's writes per promoted model in each half, by kind, from the audit log
//!   (the objects named after the model: its status, its Attestations' verdicts, its
//!   Deployment, Events and PromotionRecords): records may add one create each.
//! - The bytes a record takes in etcd: the stored values under
//!   `/registry/accord.dev/promotionrecords/<namespace>/`, read from etcd itself.
//! - `kubectl accord audit export -A` (release build) over 10,000 validly signed
//!   records (1,000 chains of 10, signed by accord-core as the operator signs them,
//!   with a key of the benchmark's) created as the operator's ServiceAccount through
//!   Accord's webhook, against `kubectl get -A -o json` of the same; and, for
//!   information, `audit verify` of that export.

use std::{
    collections::BTreeMap,
    ops::Range,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use accord_core::{
    api::PreviousRecord,
    audit::{self, RecordPlan, keys::RecordKeys},
    testing::World,
};
use accord_e2e::{AuditLog, Kubectl, Operator, audit::AuditMark, cluster_dir, metrics::scrape};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::{
    Bench, NS, OPERATOR,
    audit::{Promotions, is_write, pick, promotions_from_audit_log},
    kubectl::{kubectl_stdin, wait_serving},
    metrics::{QueueWatch, modeldeployment_reconciles, modeldeployment_requeues, wait_quiet},
    objects::{attestation, list},
    report::Row,
    say,
};

/// Where the 10,000 records for `audit export` are created.
pub(super) const RECORDS_NS: &str = "bench-records";
/// The exported records: this many models, with a chain of [`CHAIN`] records each.
const EXPORT_MODELS: usize = 1_000;
const CHAIN: i64 = 10;
/// Records per `kubectl create`, and the `kubectl`s running at once.
const BATCH: usize = 1_000;
const LANES: usize = 4;

/// Whether the benchmark measures PromotionRecords (`RECORDS=1`).
pub(super) fn enabled() -> bool {
    std::env::var("RECORDS").is_ok_and(|v| v == "1")
}

/// The operator's extra flags; `--write-records=false` unless `write_records`.
pub(super) fn operator_args(write_records: bool) -> Vec<&'static str> {
    let mut args = vec!["--log-format", "json"];
    if !write_records {
        args.push("--write-records=false");
    }
    args
}

/// bob's sign-offs in two halves, and what the first half left.
pub(super) struct Split {
    /// bob's two `kubectl create`s together.
    pub(super) t_bob: Duration,
    /// The first half's promotions (records off), read before the restart.
    without: Promotions,
    /// The reconcile queue's peak during alice's sign-offs and the first half.
    pub(super) without_queue_peak: f64,
    /// Where the second half (records on) starts in the audit log.
    with_mark: AuditMark,
    /// The reconcile queue's peak during the second half (set by the caller).
    pub(super) with_queue_peak: f64,
}

fn bob_signs(models: Range<usize>) -> Duration {
    kubectl_stdin(
        "bob",
        &["create", "-f", "-"],
        &list(
            models
                .map(|i| attestation(&format!("m{i:05}"), "latency"))
                .collect(),
        ),
    )
}

/// The ModelDeployment reconciles a change asked for, so far.
fn asked(operator: &Operator) -> f64 {
    modeldeployment_reconciles(operator) - modeldeployment_requeues(operator)
}

/// bob signs off the first N/2 models with records off; once they serve and the
/// operator is quiet, the operator is restarted with records on and bob signs off the
/// other N/2 (not waited for). Phase 2's counters stay meaningful across the restart:
/// `reconciles_before` and `operator_before` are moved so that what phase 2 subtracts
/// from the new operator's counters is the first operator's share plus the new one's
/// count once settled. Returns the queue watch of the new operator.
pub(super) fn sign_off_in_halves(
    bench: &mut Bench,
    mark: AuditMark,
    queue: QueueWatch,
    reconciles_before: &mut f64,
    operator_before: &mut BTreeMap<String, f64>,
) -> (Split, QueueWatch) {
    let (n, half) = (bench.n, bench.n / 2);
    say(&format!(
        "RECORDS=1: bob signs off the first {half} models, the operator writing no records"
    ));
    let t_without = bob_signs(0..half);
    wait_serving(half, Duration::from_secs(1800));
    wait_quiet(&bench.operator);
    let without = promotions_from_audit_log(mark);
    let without_queue_peak = queue.peak();
    let reconciles_stopped = asked(&bench.operator);
    let metrics_stopped = scrape(&bench.operator.http_get("/metrics").unwrap_or_default());
    restart_with_records(bench);
    let reconciles_started = asked(&bench.operator);
    let metrics_started = scrape(&bench.operator.http_get("/metrics").unwrap_or_default());
    *reconciles_before += reconciles_started - reconciles_stopped;
    *operator_before = shifted(operator_before, &metrics_stopped, &metrics_started);
    let queue = QueueWatch::start(bench.operator.metrics_port);
    let with_mark = AuditLog::mark();
    say(&format!(
        "RECORDS=1: bob signs off the other {} models, records on",
        n - half
    ));
    let t_with = bob_signs(half..n);
    let split = Split {
        t_bob: t_without + t_with,
        without,
        without_queue_peak,
        with_mark,
        with_queue_peak: f64::NAN,
    };
    (split, queue)
}

/// `before` moved by what one process counted until it stopped and the next one had
/// counted when it was taken over: `after - shifted` is then both processes' share.
fn shifted(
    before: &BTreeMap<String, f64>,
    stopped: &BTreeMap<String, f64>,
    started: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    let value = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    before
        .keys()
        .chain(stopped.keys())
        .chain(started.keys())
        .map(|k| {
            (
                k.clone(),
                value(before, k) - value(stopped, k) + value(started, k),
            )
        })
        .collect()
}

/// Stops the operator (SIGTERM: it releases its lease), starts it again as the
/// benchmark does with records on, and waits until it has reconciled every model once
/// (it does when it starts) and gone quiet.
fn restart_with_records(bench: &mut Bench) {
    say("RECORDS=1: restarting the operator with records on");
    let started = Instant::now();
    if !bench.operator.terminate() {
        say("  it did not exit within 15 s of SIGTERM: killed");
    }
    let next = Operator::start_as("bench-scale", &bench.kubeconfig, &operator_args(true));
    let pid_file = cluster_dir().join("pids/operator-bench-scale.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .expect("the restarted operator's pid file")
        .trim()
        .to_string();
    // The stopped operator removes the pid file both share when dropped: write it back,
    // so the clean-up (e2e/cluster/stop-operators.sh) finds the running one.
    drop(std::mem::replace(&mut bench.operator, next));
    std::fs::write(&pid_file, &pid).expect("write the pid file");
    bench.pid = pid;
    let deadline = Instant::now() + Duration::from_secs(300);
    while modeldeployment_reconciles(&bench.operator) < bench.n as f64 {
        if Instant::now() > deadline {
            say("  it did not reconcile every model within 5 minutes; going on");
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    wait_quiet(&bench.operator);
    say(&format!(
        "  restarted and settled in {:.0}s",
        started.elapsed().as_secs_f64()
    ));
}

/// The rows comparing the halves, once the second half's tail is over: the gate's
/// latency, the operator's writes per promoted model, and a record's bytes in etcd.
pub(super) fn gate_rows(bench: &Bench, split: &Split, phase: AuditMark) -> Vec<Row> {
    wait_quiet(&bench.operator);
    let with = promotions_from_audit_log(split.with_mark);
    let halves = writes_per_half(phase, bench.n);
    vec![
        latency_row(split, &with),
        writes_row(bench, &split.without, &with, &halves),
        etcd_row(),
    ]
}

fn latency_row(split: &Split, with: &Promotions) -> Row {
    let ms = |latencies: &[f64], q: f64| pick(latencies, q) * 1e3;
    let (without, with) = (&split.without.latencies, &with.latencies);
    let bound = (ms(without, 0.99) * 1.1).max(ms(without, 0.99) + 20.0);
    // Rounded (and -0 made 0) as printed.
    let delta = (ms(with, 0.99) - ms(without, 0.99)).round() + 0.0;
    let percent = ((ms(with, 0.99) / ms(without, 0.99) - 1.0) * 100.0).round() + 0.0;
    Row {
        what: "RECORDS=1: last attestation → the operator's Deployment write, with records",
        measured: format!(
            "p50 {:.0} ms, p99 {:.0} ms ({} models, queue peak {:.0}); p99 {delta:+.0} ms ({percent:+.0}%), {} the bound of {bound:.0} ms",
            ms(with, 0.5),
            ms(with, 0.99),
            with.len(),
            split.with_queue_peak,
            if ms(with, 0.99) <= bound {
                "within"
            } else {
                "over"
            }
        ),
        baseline: format!(
            "without records (--write-records=false), same run: p50 {:.0} ms, p99 {:.0} ms ({} models, queue peak {:.0})",
            ms(without, 0.5),
            ms(without, 0.99),
            without.len(),
            split.without_queue_peak
        ),
        target: "p99 within 10% (or 20 ms) of without",
        value: ms(with, 0.99),
    }
}

/// The operator's writes in phase 2 on the objects of one half's models, by kind.
#[derive(Default)]
struct HalfWrites {
    models: usize,
    by_kind: BTreeMap<String, usize>,
}

impl HalfWrites {
    fn total(&self) -> usize {
        self.by_kind.values().sum()
    }

    fn per_model(&self, kind: &str) -> f64 {
        self.by_kind.get(kind).copied().unwrap_or(0) as f64 / self.models as f64
    }

    fn describe(&self) -> String {
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, v)| format!("{k} {:.2}", *v as f64 / self.models as f64))
            .collect();
        format!(
            "{:.2} per model ({})",
            self.total() as f64 / self.models as f64,
            kinds.join(", ")
        )
    }
}

/// The benchmark model an object of the operator's belongs to, by its name: `m00042`
/// itself, its Attestations `m00042-<item>`, Events `m00042.<suffix>`, records
/// `m00042-<uid>-<sequence>`.
fn model_index(name: &str) -> Option<usize> {
    let model = name.split(['-', '.']).next()?;
    let digits = model.strip_prefix('m')?;
    (digits.len() == 5).then(|| digits.parse().ok()).flatten()
}

/// The operator's writes since `phase` in the benchmark namespace, split by the half
/// their model belongs to: `[without records, with records]`.
fn writes_per_half(phase: AuditMark, n: usize) -> [HalfWrites; 2] {
    let half = n / 2;
    let mut halves = [
        HalfWrites {
            models: half,
            ..HalfWrites::default()
        },
        HalfWrites {
            models: n - half,
            ..HalfWrites::default()
        },
    ];
    for e in AuditLog::events_since(phase) {
        let o = &e["objectRef"];
        if e["user"]["username"] != OPERATOR || !is_write(&e) || o["namespace"] != NS {
            continue;
        }
        let Some(i) = o["name"].as_str().and_then(model_index).filter(|i| *i < n) else {
            continue;
        };
        let kind = format!(
            "{}{}",
            o["resource"].as_str().unwrap_or_default(),
            o["subresource"]
                .as_str()
                .map(|s| format!("/{s}"))
                .unwrap_or_default()
        );
        *halves[usize::from(i >= half)]
            .by_kind
            .entry(kind)
            .or_default() += 1;
    }
    halves
}

fn writes_row(
    bench: &Bench,
    without: &Promotions,
    with: &Promotions,
    halves: &[HalfWrites; 2],
) -> Row {
    let metrics = scrape(&bench.operator.http_get("/metrics").unwrap_or_default());
    let counter = |name: &str| -> f64 {
        metrics
            .iter()
            .filter(|(s, _)| s.starts_with(name))
            .map(|(_, v)| v)
            .sum()
    };
    let records = |h: &HalfWrites| h.by_kind.get("promotionrecords").copied().unwrap_or(0);
    let per_promotion = records(&halves[1]) as f64 / with.latencies.len().max(1) as f64;
    Row {
        what: "RECORDS=1: operator writes per promoted model, with records (PromotionRecord creates per promotion)",
        measured: format!(
            "{}; PromotionRecord creates {} for {} promotions ({per_promotion:.2} each; accord_records_written_total {:.0}, failures {:.0}); {:+.2} writes per model",
            halves[1].describe(),
            records(&halves[1]),
            with.latencies.len(),
            counter("accord_records_written_total"),
            counter("accord_record_write_failures_total"),
            (halves[1].total() as f64 / halves[1].models as f64)
                - (halves[0].total() as f64 / halves[0].models as f64)
        ),
        baseline: format!(
            "without records: {}; PromotionRecord creates {} for {} promotions ({:.2} each)",
            halves[0].describe(),
            records(&halves[0]),
            without.latencies.len(),
            halves[0].per_model("promotionrecords")
        ),
        target: "≤ 1 PromotionRecord create (one more write) per promotion",
        value: per_promotion,
    }
}

/// etcd's client URL on loopback (e2e/cluster/cluster.env).
fn etcd_url() -> String {
    let port = std::env::var("ETCD_CLIENT_PORT").unwrap_or_else(|_| "12379".into());
    format!("http://127.0.0.1:{port}")
}

/// The key and value sizes in bytes of up to `limit` keys under `prefix`, read from
/// etcd's v3 range API (its JSON gateway, what `etcdctl get` asks for).
fn etcd_sizes(prefix: &str, limit: usize) -> Result<Vec<(usize, usize)>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut end = prefix.as_bytes().to_vec();
    *end.last_mut().expect("a prefix") += 1;
    let body = json!({"key": b64.encode(prefix), "range_end": b64.encode(&end), "limit": limit});
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "60", "-X", "POST"])
        .arg(format!("{}/v3/kv/range", etcd_url()))
        .args(["-d", &body.to_string()])
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    if !out.status.success() {
        return Err(format!("etcd at {} did not answer", etcd_url()));
    }
    let answer: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let size = |field: &Value| {
        field
            .as_str()
            .and_then(|s| b64.decode(s).ok())
            .map_or(0, |v| v.len())
    };
    let sizes: Vec<(usize, usize)> = answer["kvs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|kv| (size(&kv["key"]), size(&kv["value"])))
        .collect();
    if sizes.is_empty() {
        return Err(format!("nothing under {prefix} in etcd"));
    }
    Ok(sizes)
}

/// Mean, min and max of the values' sizes, and the mean key size.
fn summary(sizes: &[(usize, usize)]) -> (f64, usize, usize, f64) {
    let values = sizes.iter().map(|(_, v)| *v);
    let count = sizes.len() as f64;
    (
        values.clone().sum::<usize>() as f64 / count,
        values.clone().min().unwrap_or(0),
        values.max().unwrap_or(0),
        sizes.iter().map(|(k, _)| *k).sum::<usize>() as f64 / count,
    )
}

/// The sizes of the records in the benchmark namespace as `kubectl get -o json` prints
/// each (managed fields left out): the fallback when etcd cannot be read.
fn kubectl_sizes() -> Vec<(usize, usize)> {
    let out = Kubectl::admin().ok(&["get", "promotionrecords", "-n", NS, "-o", "json"]);
    out.json()["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| (0, item.to_string().len()))
        .collect()
}

/// What one PromotionRecord written by the operator takes in etcd, against a served
/// ModelDeployment of the benchmark.
fn etcd_row() -> Row {
    let records = format!("/registry/accord.dev/promotionrecords/{NS}/");
    let models = format!("/registry/accord.dev/modeldeployments/{NS}/");
    let (how, sizes) = match etcd_sizes(&records, 10_000) {
        Ok(sizes) => (
            "the stored values, read from etcd (v3 range API: what `etcdctl get --print-value-only | wc -c` counts)",
            sizes,
        ),
        Err(why) => {
            say(&format!(
                "  cannot read etcd ({why}): sizing records with kubectl"
            ));
            (
                "FALLBACK, etcd unreadable: each item of `kubectl get prec -o json`, managed fields left out",
                kubectl_sizes(),
            )
        }
    };
    let (mean, min, max, key) = summary(&sizes);
    let baseline = match etcd_sizes(&models, 100) {
        Ok(models) => {
            let (mean, _, _, _) = summary(&models);
            format!(
                "a served ModelDeployment of the benchmark: {mean:.0} B ({:.1} KiB; mean of {})",
                mean / 1024.0,
                models.len()
            )
        }
        Err(why) => format!("—: {why}"),
    };
    Row {
        what: "RECORDS=1: bytes each PromotionRecord adds in etcd",
        measured: format!(
            "{mean:.0} B ({:.1} KiB) a record, {min}–{max} B, over the {} the operator wrote; key {key:.0} B; {how}",
            mean / 1024.0,
            sizes.len()
        ),
        baseline,
        target: "shown (docs/audit.md)",
        value: mean,
    }
}

/// [`EXPORT_MODELS`] chains of [`CHAIN`] records in [`RECORDS_NS`], each signed with
/// `keys` and naming the one before by its digest, as PromotionRecord objects: the
/// promotion of accord-core's fixtures, renamed and re-versioned.
fn signed_records(keys: &RecordKeys) -> Vec<Value> {
    let (mut world, first) = World::promoted_with_record();
    let mut records = Vec::with_capacity(EXPORT_MODELS * CHAIN as usize);
    for m in 0..EXPORT_MODELS {
        let md = world.model_deployment.as_mut().expect("a ModelDeployment");
        md.metadata.name = Some(format!("m{m:05}"));
        md.metadata.namespace = Some(RECORDS_NS.into());
        md.metadata.uid = Some(format!("{m:08}-0000-4000-8000-{m:012}"));
        let mut previous: Option<PreviousRecord> = None;
        for sequence in 1..=CHAIN {
            let mut plan = RecordPlan {
                name: audit::record_name(world.md(), sequence),
                sequence,
                previous_version: (sequence > 1).then(|| format!("1.0.{}", sequence - 2)),
                ..first.clone()
            };
            plan.entry.version = format!("1.0.{}", sequence - 1);
            let (statement, envelope, digest) =
                world.sign_record(&plan, previous.take(), "bench-scale", keys);
            previous = Some(PreviousRecord {
                name: plan.name.clone(),
                digest: Some(digest.clone()),
            });
            let record = audit::record(&plan, &statement, envelope, digest);
            records.push(serde_json::to_value(&record).expect("records serialize"));
        }
    }
    records
}

/// Creates `records` as the operator's ServiceAccount (only the operator may: Accord's
/// webhook refuses anyone else), [`BATCH`] a `kubectl`, [`LANES`] at once; how long.
fn create_as_operator(bench: &Bench, records: &[Value]) -> Duration {
    let kubectl = Kubectl::with_kubeconfig("accord", bench.kubeconfig.clone());
    let batches: Vec<String> = records
        .chunks(BATCH)
        .map(|batch| list(batch.to_vec()).to_string())
        .collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for lane in 0..LANES {
            let (kubectl, batches) = (&kubectl, &batches);
            scope.spawn(move || {
                for batch in batches.iter().skip(lane).step_by(LANES) {
                    let out =
                        kubectl.run_with_stdin(&["create", "-f", "-", "-o", "name"], Some(batch));
                    assert!(
                        out.success,
                        "creating PromotionRecords as the operator: {}",
                        out.stderr.lines().take(5).collect::<Vec<_>>().join("\n")
                    );
                }
            });
        }
    });
    started.elapsed()
}

/// Runs the release `kubectl-accord` with `args` as the cluster admin, stdout to
/// `stdout` (a file) or captured; returns its time and output.
fn plugin(args: &[&str], stdout: Option<&Path>) -> (Duration, std::process::Output) {
    let bin = accord_e2e::repo_root().join("target/release/kubectl-accord");
    assert!(
        bin.exists(),
        "{} not found: hack/bench-scale.sh builds it with RECORDS=1",
        bin.display()
    );
    let mut command = Command::new(&bin);
    command
        .args(args)
        .arg("--kubeconfig")
        .arg(Kubectl::admin().kubeconfig());
    if let Some(path) = stdout {
        command.stdout(std::fs::File::create(path).expect("create the export file"));
    }
    let started = Instant::now();
    let out = command.output().expect("kubectl-accord runs");
    (started.elapsed(), out)
}

/// The namespace each exported envelope's Statement names.
fn exported_namespaces(export: &str) -> BTreeMap<String, usize> {
    let mut namespaces = BTreeMap::new();
    for line in export.lines().filter(|l| !l.trim().is_empty()) {
        let namespace = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|e| {
                base64::engine::general_purpose::STANDARD
                    .decode(e["payload"].as_str()?)
                    .ok()
            })
            .and_then(|payload| serde_json::from_slice::<Value>(&payload).ok())
            .and_then(|s| {
                s["predicate"]["model"]["namespace"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_else(|| "?".into());
        *namespaces.entry(namespace).or_default() += 1;
    }
    namespaces
}

/// Phase 6: 10,000 signed records created as the operator, then `audit export -A`
/// timed (the target) against `kubectl get -A -o json`, and `audit verify` of the file.
pub(super) fn export_rows(bench: &Bench) -> Vec<Row> {
    let admin = Kubectl::admin();
    let _ = admin.run(&[
        "delete",
        "namespace",
        RECORDS_NS,
        "--wait=true",
        "--timeout=600s",
    ]);
    admin.ok(&["create", "namespace", RECORDS_NS]);
    let keys = RecordKeys::from_seed("bench-scale", [42; 32]);
    let records = signed_records(&keys);
    say(&format!(
        "RECORDS=1: creating {} signed PromotionRecords in {RECORDS_NS} as the operator",
        records.len()
    ));
    let t_create = create_as_operator(bench, &records);
    say(&format!("  created in {:.0}s", t_create.as_secs_f64()));
    let file = accord_e2e::repo_root().join("target/bench-scale-records.jsonl");
    let (t_export, out) = plugin(&["audit", "export", "-A"], Some(&file));
    assert!(
        out.status.success(),
        "audit export -A: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export = std::fs::read_to_string(&file).expect("read the export");
    let t_kubectl = kubectl_list_time();
    let rows = vec![
        export_row(&export, t_export, t_kubectl, t_create, records.len()),
        verify_row(&keys, &file),
    ];
    let _ = std::fs::remove_file(&file);
    rows
}

/// `kubectl get promotionrecords -A -o json` to /dev/null, as the admin: how long.
fn kubectl_list_time() -> Duration {
    let started = Instant::now();
    let status = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(Kubectl::admin().kubeconfig())
        .args(["get", "promotionrecords", "-A", "-o", "json"])
        .stdout(Stdio::null())
        .status()
        .expect("kubectl runs");
    assert!(status.success(), "kubectl get promotionrecords -A");
    started.elapsed()
}

fn export_row(
    export: &str,
    t_export: Duration,
    t_kubectl: Duration,
    t_create: Duration,
    created: usize,
) -> Row {
    let namespaces = exported_namespaces(export);
    let lines: usize = namespaces.values().sum();
    let ours = namespaces.get(RECORDS_NS).copied().unwrap_or(0);
    assert_eq!(
        ours, created,
        "the export holds {ours} records of {RECORDS_NS}, not {created}"
    );
    let others: Vec<String> = namespaces
        .iter()
        .filter(|(ns, _)| ns.as_str() != RECORDS_NS)
        .map(|(ns, count)| format!("{count} of {ns}"))
        .collect();
    Row {
        what: "RECORDS=1: kubectl accord audit export -A (release), 10,000 signed records",
        measured: format!(
            "{:.1} s for {lines} lines ({ours} of {RECORDS_NS}; {}), {:.1} MB",
            t_export.as_secs_f64(),
            others.join(", "),
            export.len() as f64 / 1e6
        ),
        baseline: format!(
            "kubectl get promotionrecords -A -o json: {:.1} s; the {created} created as the operator through Accord's webhook in {:.0} s ({LANES} kubectl at once)",
            t_kubectl.as_secs_f64(),
            t_create.as_secs_f64()
        ),
        target: "≤ 10 s",
        value: t_export.as_secs_f64(),
    }
}

/// `audit verify` of the export with the benchmark's key and the operator's published
/// keys: its time and its last line, with the failed rows counted by namespace.
fn verify_row(keys: &RecordKeys, export: &Path) -> Row {
    let key_file = accord_e2e::repo_root().join("target/bench-scale-records.pub");
    let (_, published) = plugin(&["audit", "key"], None);
    let mut pems: String = keys.public_keys().iter().map(|k| k.to_pem()).collect();
    pems.push_str(&String::from_utf8_lossy(&published.stdout));
    std::fs::write(&key_file, pems).expect("write the keys");
    let export = export.to_string_lossy().into_owned();
    let key = key_file.to_string_lossy().into_owned();
    let (t_verify, out) = plugin(&["audit", "verify", &export, "--key", &key], None);
    let _ = std::fs::remove_file(&key_file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .to_string();
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.contains("FAILED")) {
        let namespace = line.split('/').next().unwrap_or("?").trim().to_string();
        *failed.entry(namespace).or_default() += 1;
    }
    let failed: Vec<String> = failed
        .iter()
        .map(|(ns, count)| format!("{count} in {ns}"))
        .collect();
    Row {
        what: "RECORDS=1: kubectl accord audit verify of that export (release, offline)",
        measured: format!(
            "{:.1} s: {summary}{}",
            t_verify.as_secs_f64(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" (failed: {})", failed.join(", "))
            }
        ),
        baseline: "—".into(),
        target: "information",
        value: t_verify.as_secs_f64(),
    }
}
