//! `kubectl` acting as one identity on the local cluster.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde_json::Value;

use crate::cluster_dir;

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
