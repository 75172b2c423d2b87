//! The operator as a real process, started and stopped by the tests.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::{Kubectl, cluster_dir, identity::operator_kubeconfig, poll, repo_root};

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

/// The ServiceAccounts the e2e operators run as.
pub const E2E_OPERATOR_IDENTITIES: [&str; 2] = [
    "system:serviceaccount:accord-system:accord-operator",
    "system:serviceaccount:accord-system:accord-operator-b",
];

/// A running operator process, killed when dropped.
pub struct Operator {
    pub label: String,
    child: Option<std::process::Child>,
    pub metrics_port: u16,
    pub webhook_port: u16,
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
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

/// Stops operators left running by an earlier test (they share the leader Lease) and
/// removes the webhook configurations they served. The stopping is done by
/// `e2e/cluster/stop-operators.sh`, the one implementation shared with `make e2e` and
/// `make cluster-down`: it signals a PID only while it still runs the accord binary.
pub fn stop_stray_operators() {
    remove_webhook_configurations();
    let script = repo_root().join("e2e/cluster/stop-operators.sh");
    let status = Command::new("bash")
        .arg(&script)
        .env("ACCORD_CLUSTER_DIR", cluster_dir())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(status.success(), "{} failed", script.display());
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
            // The e2e runs replicas under two ServiceAccounts; each replica's webhook
            // must let either write status. (ACCORD_E2E_LEGACY_OPERATOR=1 leaves the flag
            // out, to measure an operator from before it existed.)
            .args(
                std::env::var_os("ACCORD_E2E_LEGACY_OPERATOR")
                    .is_none()
                    .then(|| {
                        [
                            "--operator-identity".to_string(),
                            E2E_OPERATOR_IDENTITIES.join(","),
                        ]
                    })
                    .into_iter()
                    .flatten(),
            )
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
