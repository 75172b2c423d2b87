//! Harness for Accord's end-to-end tests against the real local control plane. The
//! tests act as the cluster's static users through `kubectl`, so they see exactly what
//! a person would. Start the cluster with `make cluster-up` (or run `make e2e`, which
//! does it for you).
//!
//! - [`setup`]: the one way a test prepares the cluster and gets an operator;
//! - [`kubectl`]: acting as a user; [`identity`]: ServiceAccount kubeconfigs;
//! - [`operator`]: the operator as a real process; [`flux`]: Flux and a Git server;
//!   [`prometheus`]: a real Prometheus scraping a test-controlled endpoint; [`audit`]: the API server's audit
//!   log; [`registry`]: a container registry on loopback, and cosign to verify what is
//!   attached to its images; [`events`]: Kubernetes Events as a user sees them;
//!   [`poll`]: waiting with a deadline that reports the last observed state;
//!   [`stand_in_node`]: a Node whose pods really run (the chart's `helm test` pod);
//!   [`browser`]: headless Chromium over WebDriver, for `kubectl accord board`;
//!   [`http1`]: hand-made HTTP requests (a foreign `Host`, a forged form POST);
//! - [`verdict`]: what every suite asserts after an attempt: denied by Accord, refused
//!   by RBAC, the stored state unchanged or nothing stored.

// Long functions are split into named steps.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod audit;
pub mod browser;
pub mod events;
pub mod flux;
pub mod http1;
pub mod identity;
pub mod kubectl;
pub mod metrics;
pub mod namespace;
pub mod noop_webhook;
pub mod operator;
pub mod poll;
pub mod prometheus;
pub mod registry;
pub mod setup;
pub mod stand_in_node;
pub mod tenant;
pub mod verdict;

use std::path::{Path, PathBuf};

pub use audit::AuditLog;
pub use browser::{Browser, Element};
pub use events::{ObservedEvent, events_for};
pub use identity::{operator_kubeconfig, service_account_user, token_kubeconfig};
pub use kubectl::{Kubectl, Output};
pub use namespace::TestNamespace;
pub use noop_webhook::NoopWebhook;
pub use operator::{Operator, remove_webhook_configurations, stop_stray_operators};
pub use poll::poll;
pub use prometheus::{MetricsSource, Prometheus};
pub use registry::{Cosign, Registry};
pub use setup::{apply_file, exclusive, prepare, restore_crds, shared_operator};
pub use stand_in_node::StandInNode;
pub use tenant::{ChartRoles, tenant, tenant_user};
pub use verdict::{
    Unchanged, assert_denial_in, assert_denied_by_accord, assert_not_stored, assert_refused_by_rbac,
};

/// The repository root (the parent of `e2e/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// The first line `child` prints on its piped stdout, within `timeout` (`None` when it
/// printed none). The rest is read on in the background, so that the child never
/// writes into a closed pipe (a long-running server such as `kubectl accord board`).
pub fn first_stdout_line(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
) -> Option<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        lines.for_each(drop);
    });
    match rx.recv_timeout(timeout) {
        Ok(Some(Ok(line))) => Some(line),
        _ => None,
    }
}

/// The `kubectl-accord` binary `e2e/run.sh` built, to run directly.
pub fn plugin_command() -> std::process::Command {
    let bin = repo_root().join("target/debug/kubectl-accord");
    assert!(bin.exists(), "build it: cargo build --bin kubectl-accord");
    std::process::Command::new(bin)
}

/// `kubectl accord <args>` as `user` (a static user, or `admin` for the cluster admin):
/// (success, stdout, stderr).
pub fn plugin_as(user: &str, args: &[&str]) -> (bool, String, String) {
    let kubeconfig = if user == "admin" {
        cluster_dir().join("kubeconfig")
    } else {
        cluster_dir()
            .join("users")
            .join(format!("{user}.kubeconfig"))
    };
    let out = plugin_command()
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("the plugin runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The local cluster's state directory (`.cluster/`, or `ACCORD_CLUSTER_DIR`).
pub fn cluster_dir() -> PathBuf {
    std::env::var_os("ACCORD_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cluster"))
}

/// Runs a tool (helm, go, crane, …) against the local cluster's admin kubeconfig, in
/// `dir` when given, with extra `env`; returns whether it succeeded and its output.
pub fn run_tool(
    program: &str,
    args: &[&str],
    dir: Option<&Path>,
    env: &[(&str, &str)],
) -> (bool, String) {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env("KUBECONFIG", cluster_dir().join("kubeconfig"));
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A fresh ed25519 key pair `dir/name` made by the machine's `ssh-keygen`, with no
/// passphrase: its private key's path and its public key line.
pub fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(dir.join(format!("{name}.pub")));
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs")
        .success();
    assert!(ok, "ssh-keygen made no key {name}");
    let public = std::fs::read_to_string(dir.join(format!("{name}.pub"))).expect("the public key");
    (path, public.trim().to_string())
}
