//! Harness for Accord's end-to-end tests. The tests act as the local control plane's
//! static users through `kubectl`, so they see exactly what a person would. Start the
//! cluster with `make cluster-up` (or run `make e2e`, which does it for you).

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::Value;

/// The repository root (the parent of `e2e/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// The local cluster's state directory (`.cluster/`, or `ACCORD_CLUSTER_DIR`).
pub fn cluster_dir() -> PathBuf {
    std::env::var_os("ACCORD_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cluster"))
}

/// What a finished kubectl invocation printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Parses stdout as JSON, panicking with the output when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "kubectl output is not JSON ({err}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// kubectl acting as one identity on the local cluster.
#[derive(Debug, Clone)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    identity: String,
}

impl Kubectl {
    /// The cluster admin (group `system:masters`).
    pub fn admin() -> Self {
        Self::with_kubeconfig("admin", cluster_dir().join("kubeconfig"))
    }

    /// One of the static-token users: alice, bob, carol, dave or mallory.
    pub fn user(name: &str) -> Self {
        Self::with_kubeconfig(
            name,
            cluster_dir()
                .join("users")
                .join(format!("{name}.kubeconfig")),
        )
    }

    /// Any identity given by a kubeconfig file.
    pub fn with_kubeconfig(identity: &str, kubeconfig: PathBuf) -> Self {
        assert!(
            kubeconfig.exists(),
            "{} does not exist: the local cluster is not running. Start it with `make cluster-up` \
             (or run the suite with `make e2e`).",
            kubeconfig.display()
        );
        Self {
            kubeconfig,
            identity: identity.to_string(),
        }
    }

    /// The kubeconfig file this identity uses.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Runs kubectl with `args`, feeding `stdin` when given.
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl is on PATH");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("piped stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("kubectl ran");
        Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl with `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs kubectl and panics, showing what it printed, unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.success,
            "`kubectl {}` as {} failed:\n{}{}",
            args.join(" "),
            self.identity,
            out.stdout,
            out.stderr
        );
        out
    }

    /// `kubectl apply -f -` of a manifest (YAML or JSON).
    pub fn apply(&self, manifest: &str) -> Output {
        self.run_with_stdin(&["apply", "-f", "-"], Some(manifest))
    }

    /// `kubectl get ... -o json`, parsed; `None` when the object does not exist.
    pub fn get_json(&self, args: &[&str]) -> Option<Value> {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "json"]);
        let out = self.run(&full);
        if out.success {
            Some(out.json())
        } else if out.stderr.contains("NotFound") || out.stderr.contains("not found") {
            None
        } else {
            panic!(
                "`kubectl {}` as {} failed:\n{}",
                full.join(" "),
                self.identity,
                out.stderr
            )
        }
    }
}

/// Polls `check` until it returns `Ok`, or panics after `timeout` with the last
/// observed state (the `Err` text), so a failure says what the test saw.
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match check() {
            Ok(value) => return value,
            Err(state) => last = state,
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last observed:\n{last}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A namespace unique to one test, deleted (without waiting) when dropped.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    /// Creates `e2e-<prefix>-<random suffix>`.
    pub fn create(prefix: &str) -> Self {
        let suffix = format!("{:x}", std::process::id() as u64 * 7919 + unique_counter());
        let name = format!("e2e-{prefix}-{suffix}");
        Kubectl::admin().ok(&["create", "namespace", &name]);
        Self { name }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = Kubectl::admin().run(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

fn unique_counter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    NEXT.fetch_add(1, Ordering::Relaxed) * 1_000_003 + u64::from(nanos)
}

/// Installs Accord's CRDs from `crds/`, waits until each is Established, and applies
/// the example Teams and ModelDeployment as admin. Runs once per test binary.
pub fn install_crds_and_examples() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        stop_stray_operators();
        let admin = Kubectl::admin();
        let root = repo_root();
        admin.ok(&["apply", "-f", root.join("crds").to_str().unwrap()]);
        admin.ok(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            root.join("crds").to_str().unwrap(),
        ]);
        admin.ok(&[
            "apply",
            "-f",
            root.join("examples/teams.yaml").to_str().unwrap(),
        ]);
        admin.ok(&[
            "apply",
            "-f",
            root.join("examples/fraud-scorer.yaml").to_str().unwrap(),
        ]);
    });
}

/// Applies a manifest file from the repository as admin.
pub fn apply_file(path: &str) {
    Kubectl::admin().ok(&["apply", "-f", repo_root().join(path).to_str().unwrap()]);
}

/// Sets up the operator's ServiceAccount `name` in `accord-system`, bound to the
/// operator ClusterRole and leader-election Role of `deploy/operator-rbac.yaml`, and
/// writes a kubeconfig holding one of its tokens. The operator runs as this identity,
/// never as admin, so RBAC applies and the audit log tells its requests apart.
pub fn operator_kubeconfig(name: &str) -> PathBuf {
    let admin = Kubectl::admin();
    apply_file("deploy/operator-rbac.yaml");
    if name != "accord-operator" {
        let extra = format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[
            {{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"{name}","namespace":"accord-system"}}}},
            {{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{{"name":"{name}"}},
              "roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"accord-operator"}},
              "subjects":[{{"kind":"ServiceAccount","name":"{name}","namespace":"accord-system"}}]}},
            {{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{{"name":"{name}","namespace":"accord-system"}},
              "roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"accord-operator-leader-election"}},
              "subjects":[{{"kind":"ServiceAccount","name":"{name}","namespace":"accord-system"}}]}}]}}"#
        );
        let out = admin.apply(&extra);
        assert!(out.success, "{}", out.stderr);
    }
    token_kubeconfig(name, "accord-system")
}

/// Writes a kubeconfig holding a fresh token of ServiceAccount `namespace/name`.
pub fn token_kubeconfig(name: &str, namespace: &str) -> PathBuf {
    let token = Kubectl::admin()
        .ok(&["create", "token", name, "-n", namespace, "--duration=3h"])
        .stdout;
    let admin_config =
        std::fs::read_to_string(cluster_dir().join("kubeconfig")).expect("admin kubeconfig");
    let server = admin_config
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server");
    let ca = admin_config
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
        .expect("ca");
    let path = cluster_dir().join(format!("{name}.kubeconfig"));
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
         users:\n- name: {name}\n  user:\n    token: {}\ncontexts:\n- name: {name}\n  context: {{cluster: local, user: {name}}}\ncurrent-context: {name}\n",
        token.trim()
    );
    std::fs::write(&path, kubeconfig).expect("write operator kubeconfig");
    path
}

/// The audit-log user name of a ServiceAccount in `accord-system`.
pub fn service_account_user(name: &str) -> String {
    format!("system:serviceaccount:accord-system:{name}")
}

/// The operator binary under test (`ACCORD_BIN`, else `target/debug/accord`).
pub fn accord_binary() -> PathBuf {
    let path = std::env::var_os("ACCORD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/accord"));
    assert!(
        path.exists(),
        "{} not found: build it with `cargo build --bin accord`",
        path.display()
    );
    path
}

/// A running operator process, killed when dropped.
pub struct Operator {
    pub label: String,
    child: Option<std::process::Child>,
    pub metrics_port: u16,
    pub webhook_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .unwrap()
        .port()
}

/// Removes Accord's webhook configurations (an operator that is gone cannot answer them).
pub fn remove_webhook_configurations() {
    Kubectl::admin().ok(&[
        "delete",
        "mutatingwebhookconfiguration,validatingwebhookconfiguration",
        "accord",
        "--ignore-not-found",
    ]);
}

/// Stops operators left running by an earlier test binary (they share the leader Lease)
/// and removes the webhook configurations they served.
pub fn stop_stray_operators() {
    remove_webhook_configurations();
    let pids = cluster_dir().join("pids");
    let Ok(entries) = std::fs::read_dir(&pids) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("operator-") {
            if let Ok(pid) = std::fs::read_to_string(entry.path()) {
                let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
            }
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Operator {
    /// Starts `accord` as ServiceAccount `service_account`, logging to
    /// `.cluster/logs/operator-<label>.log`.
    pub fn start(label: &str, service_account: &str, extra_args: &[&str]) -> Self {
        Self::start_as(label, &operator_kubeconfig(service_account), extra_args)
    }

    /// Starts `accord` with any identity's kubeconfig (e.g. the Helm chart's ServiceAccount).
    pub fn start_as(label: &str, kubeconfig: &Path, extra_args: &[&str]) -> Self {
        let metrics_port = free_port();
        let webhook_port = free_port();
        let log_path = cluster_dir()
            .join("logs")
            .join(format!("operator-{label}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("operator log");
        let child = Command::new(accord_binary())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(["--namespace", "accord-system", "--identity", label])
            .args(["--webhook-addr", &format!("127.0.0.1:{webhook_port}")])
            .args([
                "--webhook-url",
                &format!("https://127.0.0.1:{webhook_port}"),
            ])
            .args(extra_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the operator");
        std::fs::create_dir_all(cluster_dir().join("pids")).unwrap();
        std::fs::write(
            cluster_dir()
                .join("pids")
                .join(format!("operator-{label}.pid")),
            child.id().to_string(),
        )
        .unwrap();
        let operator = Self {
            label: label.to_string(),
            child: Some(child),
            metrics_port,
            webhook_port,
        };
        poll(
            &format!("operator {label} to be ready"),
            Duration::from_secs(60),
            || {
                operator
                    .http_get("/readyz")
                    .filter(|body| body == "ok")
                    .ok_or_else(|| operator.log_tail())
            },
        );
        // It is ready for tests once its webhook configurations point at it.
        poll(
            &format!("the webhook configurations to point at operator {label}"),
            Duration::from_secs(30),
            || {
                let config = Kubectl::admin().get_json(&["mutatingwebhookconfiguration", "accord"]);
                let url = config.as_ref().and_then(|c| {
                    c["webhooks"][0]["clientConfig"]["url"]
                        .as_str()
                        .map(String::from)
                });
                url.as_deref()
                    .is_some_and(|u| u.contains(&format!(":{webhook_port}/")))
                    .then_some(())
                    .ok_or_else(|| format!("url {url:?}\n{}", operator.log_tail()))
            },
        );
        operator
    }

    /// GET of one of the operator's HTTP endpoints, `None` when it does not answer 200.
    pub fn http_get(&self, path: &str) -> Option<String> {
        let out = Command::new("curl")
            .args([
                "-sf",
                "--max-time",
                "2",
                &format!("http://127.0.0.1:{}{path}", self.metrics_port),
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The last lines of the operator's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(
            cluster_dir()
                .join("logs")
                .join(format!("operator-{}.log", self.label)),
        )
        .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGKILL: no chance to release the lease or finish a write.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a graceful exit; returns whether it exited by itself in time.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(
            cluster_dir()
                .join("pids")
                .join(format!("operator-{}.pid", self.label)),
        );
    }
}

/// The API server's audit log (`.cluster/audit.log`, JSON lines, level Metadata).
pub struct AuditLog;

impl AuditLog {
    /// The current end of the log, to read what happens after it.
    pub fn mark() -> u64 {
        std::fs::metadata(cluster_dir().join("audit.log"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Write requests (create, update, patch, delete) by `user` since `mark`, as
    /// "verb resource namespace/name" lines.
    pub fn writes_since(mark: u64, user: &str) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(cluster_dir().join("audit.log")).expect("audit log");
        file.seek(SeekFrom::Start(mark)).expect("seek");
        let mut text = String::new();
        file.read_to_string(&mut text).expect("read audit log");
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|e| e["user"]["username"] == user && e["stage"] == "ResponseComplete")
            .filter(|e| {
                matches!(
                    e["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete" | "deletecollection")
                )
            })
            .map(|e| {
                let o = &e["objectRef"];
                format!(
                    "{} {}{} {}/{} ({})",
                    e["verb"].as_str().unwrap_or_default(),
                    o["resource"].as_str().unwrap_or_default(),
                    o["subresource"]
                        .as_str()
                        .map(|s| format!("/{s}"))
                        .unwrap_or_default(),
                    o["namespace"].as_str().unwrap_or_default(),
                    o["name"].as_str().unwrap_or_default(),
                    e["responseStatus"]["code"]
                )
            })
            .collect()
    }
}

/// One Kubernetes Event about an object.
#[derive(Debug, Clone)]
pub struct ObservedEvent {
    /// How many times it happened: repeats of the same Event are recorded as a series.
    pub count: u64,
    pub type_: String,
    pub reason: String,
    pub note: String,
}

/// Events recorded about `kind/name` in `namespace`, oldest first.
pub fn events_for(namespace: &str, kind: &str, name: &str) -> Vec<ObservedEvent> {
    let list = Kubectl::admin()
        .ok(&["get", "events.events.k8s.io", "-n", namespace, "-o", "json"])
        .json();
    let mut events: Vec<(String, ObservedEvent)> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["regarding"]["kind"] == kind && e["regarding"]["name"] == name)
        .map(|e| {
            (
                e["eventTime"].as_str().unwrap_or_default().to_string(),
                ObservedEvent {
                    count: e["series"]["count"].as_u64().unwrap_or(1),
                    type_: e["type"].as_str().unwrap_or_default().into(),
                    reason: e["reason"].as_str().unwrap_or_default().into(),
                    note: e["note"].as_str().unwrap_or_default().into(),
                },
            )
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    events.into_iter().map(|(_, e)| e).collect()
}
