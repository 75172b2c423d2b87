//! The sign-off board (`kubectl accord board`, release build) at N models, against
//! `kubectl accord matrix -A` (the same models listed and printed by the CLI) as the
//! same person in the same run. Skipped with `BOARD=0`.
//!
//! Once every other phase is over, alice (a member of `data-platform`, which owns the
//! `drift` item of every benchmark model) starts the board; it watches the models,
//! Attestations, Teams, HandoffPolicies and Incidents she may read into memory. When
//! its `/api/models` agrees with the API server on every benchmark model (phase,
//! candidate, pending items), `/`, `/models` and `/api/models` are each requested
//! [`REQUESTS`] times in a row on one keep-alive HTTP/1.1 connection, and
//! `matrix -A` is run [`MATRIX_RUNS`] times. That is done twice: with the models as
//! the run left them (N serving with their history, 100 awaiting `latency`: alice's
//! Team owes nothing), and after the admin gives each of the N a new version (1.1.0),
//! so that alice's Team owes N items, each a row with its sign-off form on `/`. The
//! board's memory is read from `/proc` after each.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use accord_e2e::{Kubectl, cluster_dir, repo_root};
use serde_json::{Value, json};

use crate::{
    Bench, NS,
    audit::pick,
    http::Connection,
    metrics::wait_quiet,
    objects::{list, model},
    process::proc_status,
    report::Row,
    say,
};

/// Who runs the board (and `matrix -A`): a static user in a Team owning items.
const USER: &str = "alice";
/// Requests per page and stage.
const REQUESTS: usize = 200;
/// `kubectl accord matrix -A` runs per stage.
const MATRIX_RUNS: usize = 10;
/// What `/` and `/models` must render within, p99.
const TARGET_MS: f64 = 50.0;
/// The version every benchmark model gets for the second stage.
const NEXT_VERSION: &str = "1.1.0";
/// The pages timed, and what marks one row of each.
const PAGES: [(&str, &str); 3] = [
    ("/", "data-item="),
    ("/models", "data-model="),
    ("/api/models", "\"namespace\":"),
];

/// Whether the benchmark measures the board (unless `BOARD=0`).
pub(super) fn enabled() -> bool {
    std::env::var("BOARD").map_or(true, |v| v != "0")
}

fn plugin_binary() -> PathBuf {
    repo_root().join("target/release/kubectl-accord")
}

fn user_kubeconfig() -> PathBuf {
    Kubectl::user(USER).kubeconfig().to_path_buf()
}

/// The board's process, killed when dropped.
struct BoardProcess {
    child: Child,
    /// `127.0.0.1:PORT`, from the first line it prints.
    addr: String,
    /// Its login link's path (`/login/SECRET`), which gives the session cookie.
    login: String,
    /// From its start to that line: it prints it once its stores have listed.
    listed_in: Duration,
}

impl BoardProcess {
    /// Starts `kubectl-accord board --address 127.0.0.1:0` as [`USER`], its stderr to
    /// the cluster's logs, and waits for the address it serves on.
    fn start() -> Result<BoardProcess, String> {
        let log = cluster_dir().join("logs/board-bench-scale.log");
        let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let started = Instant::now();
        let mut child = Command::new(plugin_binary())
            .arg("--kubeconfig")
            .arg(user_kubeconfig())
            .args(["board", "--address", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start kubectl-accord board: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            lines.for_each(drop);
        });
        let mut board = BoardProcess {
            child,
            addr: String::new(),
            login: String::new(),
            listed_in: Duration::ZERO,
        };
        let first = rx.recv_timeout(Duration::from_secs(300)).map_err(|_| {
            format!(
                "the board printed no address (see {}): {}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default().trim()
            )
        })?;
        board.listed_in = started.elapsed();
        board.addr = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .filter(|addr| addr.starts_with("127.0.0.1:"))
            .ok_or_else(|| format!("no http://127.0.0.1:PORT/ in the board's line {first:?}"))?
            .to_string();
        board.login = first
            .split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("http://{}", board.addr)))
            .filter(|path| path.starts_with("/login/"))
            .ok_or_else(|| format!("no login link in the board's line {first:?}"))?
            .to_string();
        Ok(board)
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for BoardProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latencies in milliseconds, sorted.
struct Timings(Vec<f64>);

impl Timings {
    fn new(mut ms: Vec<f64>) -> Timings {
        ms.sort_by(f64::total_cmp);
        Timings(ms)
    }

    fn p50(&self) -> f64 {
        pick(&self.0, 0.5)
    }

    fn p99(&self) -> f64 {
        pick(&self.0, 0.99)
    }

    fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(f64::NAN)
    }
}

/// One page requested [`REQUESTS`] times: the latencies, and the last answer's size
/// and rows.
struct PageRun {
    path: &'static str,
    times: Timings,
    bytes: usize,
    rows: usize,
}

fn run_page(conn: &mut Connection, path: &'static str, marker: &str) -> Result<PageRun, String> {
    let mut ms = Vec::with_capacity(REQUESTS);
    let (mut bytes, mut rows) = (0, 0);
    for _ in 0..REQUESTS {
        let answer = conn.get(path)?;
        if answer.status != 200 {
            return Err(format!("GET {path} answered {}", answer.status));
        }
        ms.push(answer.took.as_secs_f64() * 1e3);
        bytes = answer.body.len();
        rows = answer.text().matches(marker).count();
    }
    Ok(PageRun {
        path,
        times: Timings::new(ms),
        bytes,
        rows,
    })
}

/// `kubectl accord matrix -A` as [`USER`], [`MATRIX_RUNS`] times: the latencies and
/// the lines printed.
struct MatrixRuns {
    times: Timings,
    lines: usize,
}

fn matrix_baseline() -> Result<MatrixRuns, String> {
    let mut ms = Vec::with_capacity(MATRIX_RUNS);
    let mut lines = 0;
    for _ in 0..MATRIX_RUNS {
        let started = Instant::now();
        let out = Command::new(plugin_binary())
            .arg("--kubeconfig")
            .arg(user_kubeconfig())
            .args(["matrix", "-A"])
            .output()
            .map_err(|e| format!("kubectl-accord matrix -A: {e}"))?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        if !out.status.success() {
            return Err(format!(
                "kubectl-accord matrix -A as {USER}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        lines = out.stdout.iter().filter(|b| **b == b'\n').count();
    }
    Ok(MatrixRuns {
        times: Timings::new(ms),
        lines,
    })
}

/// What one stage measured.
struct Stage {
    name: &'static str,
    pages: Vec<PageRun>,
    matrix: MatrixRuns,
    /// VmRSS, RssAnon and VmHWM of the board after the stage, MiB.
    rss: (f64, f64, f64),
    /// Connections the [`REQUESTS`] × 3 requests took (1: keep-alive held).
    connections: usize,
}

impl Stage {
    fn within(&self) -> bool {
        self.pages
            .iter()
            .filter(|p| p.path != "/api/models")
            .all(|p| p.times.p99() <= TARGET_MS)
    }
}

fn measure_stage(
    board: &BoardProcess,
    conn: &mut Connection,
    name: &'static str,
) -> Result<Stage, String> {
    let opened = conn.opened;
    let mut pages = Vec::new();
    for (path, marker) in PAGES {
        let page = run_page(conn, path, marker)?;
        say(&format!(
            "  GET {path:<11} p50 {:6.1} ms, p99 {:6.1} ms, max {:6.1} ms; {:.0} KB, {} rows",
            page.times.p50(),
            page.times.p99(),
            page.times.max(),
            page.bytes as f64 / 1e3,
            page.rows
        ));
        pages.push(page);
    }
    let connections = conn.opened - opened + 1;
    let pid = board.pid();
    let rss = (
        proc_status(&pid, "VmRSS:"),
        proc_status(&pid, "RssAnon:"),
        proc_status(&pid, "VmHWM:"),
    );
    let matrix = matrix_baseline()?;
    let stage = Stage {
        name,
        pages,
        matrix,
        rss,
        connections,
    };
    say(&format!(
        "  board RSS {:.1} MiB ({:.1} MiB anonymous, peak {:.1} MiB); matrix -A as {USER}: p50 {:.0} ms, p99 {:.0} ms ({} lines)",
        rss.0,
        rss.1,
        rss.2,
        stage.matrix.times.p50(),
        stage.matrix.times.p99(),
        stage.matrix.lines
    ));
    say(&format!(
        "board verdict ({name}): GET / p99 {:.1} ms, GET /models p99 {:.1} ms: {} the {TARGET_MS:.0} ms target",
        stage.pages[0].times.p99(),
        stage.pages[1].times.p99(),
        if stage.within() { "within" } else { "OVER" }
    ));
    Ok(stage)
}

/// Per benchmark model: whether the operator has decided its generation, its phase, its
/// candidate and its pending items.
type View = BTreeMap<String, (Option<String>, String, i64)>;

/// The benchmark models as the API server has them, and how many the operator has not
/// decided yet (status.observedGeneration behind metadata.generation).
fn cluster_view() -> (View, usize) {
    let out = Kubectl::admin().ok(&["get", "md", "-n", NS, "-o", "json"]);
    let items = out.json()["items"].as_array().cloned().unwrap_or_default();
    let undecided = items
        .iter()
        .filter(|md| md["status"]["observedGeneration"] != md["metadata"]["generation"])
        .count();
    let view = items
        .iter()
        .map(|md| {
            let name = md["metadata"]["name"].as_str().unwrap_or_default();
            (
                name.to_string(),
                row_of(&md["status"], &md["spec"]["model"]),
            )
        })
        .collect();
    (view, undecided)
}

fn row_of(status: &Value, model: &Value) -> (Option<String>, String, i64) {
    (
        status["phase"].as_str().map(String::from),
        model["version"].as_str().unwrap_or_default().to_string(),
        status["pendingItems"].as_i64().unwrap_or(0),
    )
}

/// The benchmark models as the board shows them (`/api/models?ns=…`).
fn board_view(conn: &mut Connection) -> Result<View, String> {
    let answer = conn.get(&format!("/api/models?ns={NS}"))?;
    let rows: Vec<Value> = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("/api/models ({}): {e}", answer.status))?;
    Ok(rows
        .iter()
        .map(|r| {
            let name = r["name"].as_str().unwrap_or_default().to_string();
            let row = (
                r["phase"].as_str().map(String::from),
                r["candidate"].as_str().unwrap_or_default().to_string(),
                r["pendingItems"].as_i64().unwrap_or(0),
            );
            (name, row)
        })
        .collect())
}

/// Waits until the operator has decided every benchmark model and the board shows each
/// as the API server has it; how many models, and how long that took.
fn wait_agreement(conn: &mut Connection, timeout: Duration) -> Result<usize, String> {
    let started = Instant::now();
    loop {
        let (cluster, undecided) = cluster_view();
        let board = board_view(conn)?;
        let differing = cluster
            .iter()
            .filter(|(name, row)| board.get(*name) != Some(*row))
            .count()
            + board.keys().filter(|n| !cluster.contains_key(*n)).count();
        if undecided == 0 && differing == 0 {
            say(&format!(
                "  the board shows all {} models of {NS} as the API server has them ({:.1} s)",
                cluster.len(),
                started.elapsed().as_secs_f64()
            ));
            return Ok(cluster.len());
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "after {timeout:?}, {undecided} models undecided and the board differs from the API server on {differing} of {}",
                cluster.len()
            ));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The admin gives each of the N benchmark models [`NEXT_VERSION`] (one server-side
/// apply of them all, the whole spec as written with the new version and image); how
/// long that took.
fn new_candidates(n: usize) -> Result<Duration, String> {
    let objects = (0..n)
        .map(|i| {
            let name = format!("m{i:05}");
            let mut md = model(&name);
            md["spec"]["model"]["version"] = json!(NEXT_VERSION);
            md["spec"]["serving"]["image"] =
                json!(format!("registry.example.com/{name}:{NEXT_VERSION}"));
            md
        })
        .collect();
    let started = Instant::now();
    let out = Kubectl::admin().run_with_stdin(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=bench-scale-board",
            "-o",
            "name",
            "-f",
            "-",
        ],
        Some(&list(objects).to_string()),
    );
    if !out.success {
        return Err(format!("new versions: {}", out.stderr.trim()));
    }
    Ok(started.elapsed())
}

/// The board's rows, or one saying why it was not measured (the board is measured
/// last: a failure here costs the run none of its other rows).
pub(super) fn measure_board(bench: &Bench) -> Vec<Row> {
    match measure(bench) {
        Ok(rows) => rows,
        Err(why) => {
            say(&format!("board: not measured: {why}"));
            vec![Row {
                what: "the sign-off board (kubectl accord board)",
                measured: format!("not measured: {why}"),
                baseline: "—".into(),
                target: "p99 ≤ 50 ms",
                value: f64::NAN,
            }]
        }
    }
}

fn measure(bench: &Bench) -> Result<Vec<Row>, String> {
    if !plugin_binary().exists() {
        return Err(format!(
            "{} not found: hack/bench-scale.sh builds it",
            plugin_binary().display()
        ));
    }
    say(&format!(
        "board: `kubectl accord board` (release) as {USER}"
    ));
    let board = BoardProcess::start()?;
    say(&format!(
        "  serving on {} {:.1} s after its start, once its stores listed",
        board.addr,
        board.listed_in.as_secs_f64()
    ));
    let mut conn = Connection::new(&board.addr);
    let login = conn.get(&board.login)?;
    if login.status != 303 {
        return Err(format!("the board's login link answered {}", login.status));
    }
    let models = wait_agreement(&mut conn, Duration::from_secs(120))?;
    let settled = measure_stage(&board, &mut conn, "as the run left them")?;
    let mut rows = page_rows(&settled);
    let mut stages = vec![settled];
    match measure_owed(bench, &board, &mut conn) {
        Ok(owed) => {
            rows.extend(page_rows(&owed));
            stages.push(owed);
        }
        Err(why) => {
            say(&format!("board: the second stage failed: {why}"));
            rows.push(Row {
                what: "board: a new version of each",
                measured: format!("not measured: {why}"),
                baseline: "—".into(),
                target: "p99 ≤ 50 ms",
                value: f64::NAN,
            });
        }
    }
    rows.push(memory_row(&board, models, &stages));
    Ok(rows)
}

/// The second stage: every benchmark model gets a new version, which alice's Team owes
/// a sign-off for, and once the board shows it, the pages are timed again.
fn measure_owed(
    bench: &Bench,
    board: &BoardProcess,
    conn: &mut Connection,
) -> Result<Stage, String> {
    say(&format!(
        "board: the admin gives each of the {} models version {NEXT_VERSION}",
        bench.n
    ));
    let t_new = new_candidates(bench.n)?;
    say(&format!("  applied in {:.1} s", t_new.as_secs_f64()));
    wait_quiet(&bench.operator);
    wait_agreement(conn, Duration::from_secs(300))?;
    measure_stage(board, conn, "a new version of each")
}

fn page_rows(stage: &Stage) -> Vec<Row> {
    let matrix = &stage.matrix;
    stage
        .pages
        .iter()
        .map(|page| {
            let timed = page.path != "/api/models";
            Row {
                what: format!(
                    "board as {USER} ({}): GET {}, {REQUESTS} requests in a row, keep-alive",
                    stage.name, page.path
                )
                .leak(),
                measured: format!(
                    "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.0} KB, {} rows{}",
                    page.times.p50(),
                    page.times.p99(),
                    page.times.max(),
                    page.bytes as f64 / 1e3,
                    page.rows,
                    if stage.connections > 1 {
                        format!(" ({} connections)", stage.connections)
                    } else {
                        String::new()
                    }
                ),
                baseline: format!(
                    "kubectl accord matrix -A as {USER} (release), {MATRIX_RUNS} runs: p50 {:.0} ms, p99 {:.0} ms ({} lines)",
                    matrix.times.p50(),
                    matrix.times.p99(),
                    matrix.lines
                ),
                target: if timed {
                    "p99 ≤ 50 ms"
                } else {
                    "information"
                },
                value: page.times.p99(),
            }
        })
        .collect()
}

fn memory_row(board: &BoardProcess, models: usize, stages: &[Stage]) -> Row {
    let after: Vec<String> = stages
        .iter()
        .map(|s| {
            format!(
                "{:.1} MiB ({:.1} MiB anonymous) after \"{}\"",
                s.rss.0, s.rss.1, s.name
            )
        })
        .collect();
    let peak = stages.last().map_or(f64::NAN, |s| s.rss.2);
    Row {
        what: "board RSS (its watches of everything the user may read, in memory)",
        measured: format!("{}; peak {peak:.1} MiB", after.join(", ")),
        baseline: format!(
            "{models} models in {NS}; its stores listed {:.1} s after its start",
            board.listed_in.as_secs_f64()
        ),
        target: "shown",
        value: peak,
    }
}
