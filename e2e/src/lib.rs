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
