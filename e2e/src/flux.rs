//! A real GitOps engine for the tests: Flux's source-controller and
//! kustomize-controller, built from their Go modules (`e2e/flux/build.sh`), run as
//! local processes against the local API server under their own ServiceAccounts, and
//! a Git repository served on loopback by Flux's gitkit (`e2e/flux/gitserver`).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::{Kubectl, cluster_dir, operator::free_port, poll, repo_root, token_kubeconfig};

/// The namespace Flux's controllers and sources live in.
pub const FLUX_NAMESPACE: &str = "flux-system";
/// The user kustomize-controller applies Git as (when a Kustomization names no
/// ServiceAccount to impersonate).
pub const KUSTOMIZE_CONTROLLER: &str = "system:serviceaccount:flux-system:kustomize-controller";

/// Where `e2e/flux/build.sh` put the binaries and CRDs: it builds what is missing.
fn flux_dir() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("e2e/flux/build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run e2e/flux/build.sh");
    assert!(
        out.status.success(),
        "e2e/flux/build.sh failed: Flux could not be built"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A running Flux (two controllers) and Git server; stopped when dropped.
pub struct Flux {
    children: Vec<(String, Child)>,
    /// Base URL of the Git server, e.g. `http://127.0.0.1:34567`.
    pub git_url: String,
    /// Where the Git server keeps its bare repositories.
    git_root: PathBuf,
}

impl Flux {
    /// Installs Flux's CRDs and RBAC, and starts the Git server and both controllers.
    pub fn start() -> Self {
        let dir = flux_dir();
        crate::setup::install_crds(&dir.join("crds"));
        Kubectl::admin().ok(&[
            "apply",
            "-f",
            repo_root()
                .join("e2e/manifests/flux-rbac.yaml")
                .to_str()
                .unwrap(),
        ]);
        let mut flux = Self {
            children: vec![],
            git_url: String::new(),
            git_root: cluster_dir().join("gitops").join("repositories"),
        };
        let _ = std::fs::remove_dir_all(&flux.git_root);
        std::fs::create_dir_all(&flux.git_root).unwrap();
        flux.start_git_server(&dir);
        let storage_port = free_port();
        let storage = cluster_dir().join("gitops").join("storage");
        let _ = std::fs::remove_dir_all(&storage);
        std::fs::create_dir_all(&storage).unwrap();
        let source_health = free_port();
        flux.spawn(
            &dir,
            "source-controller",
            &[
                format!("--storage-path={}", storage.display()),
                format!("--storage-addr=127.0.0.1:{storage_port}"),
                format!("--storage-adv-addr=127.0.0.1:{storage_port}"),
            ],
            source_health,
        );
        let kustomize_health = free_port();
        flux.spawn(&dir, "kustomize-controller", &[], kustomize_health);
        for (name, port) in [
            ("source-controller", source_health),
            ("kustomize-controller", kustomize_health),
        ] {
            poll(
                &format!("{name} to be ready"),
                Duration::from_secs(60),
                || {
                    let ok = Command::new("curl")
                        .args(["-fsS", &format!("http://127.0.0.1:{port}/readyz")])
                        .output()
                        .is_ok_and(|o| o.status.success());
                    ok.then_some(()).ok_or_else(|| log_tail(name))
                },
            );
        }
        flux
    }

    fn start_git_server(&mut self, dir: &Path) {
        let mut child = Command::new(dir.join("gitserver"))
            .arg("--root")
            .arg(&self.git_root)
            .stdout(Stdio::piped())
            .stderr(log_file("gitserver"))
            .spawn()
            .expect("start the Git server");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .expect("the Git server prints its URL");
        self.git_url = first.trim().to_string();
        assert!(self.git_url.starts_with("http://127.0.0.1:"), "{first:?}");
        record_pid("gitserver", &child);
        self.children.push(("gitserver".into(), child));
    }

    fn spawn(&mut self, dir: &Path, name: &str, args: &[String], health_port: u16) {
        let kubeconfig = token_kubeconfig(name, FLUX_NAMESPACE);
        let child = Command::new(dir.join(name))
            .args(args)
            .args([
                "--enable-leader-election=false",
                "--watch-all-namespaces=true",
                "--events-addr=",
                "--log-level=info",
                &format!("--metrics-addr=127.0.0.1:{}", free_port()),
                &format!("--health-addr=127.0.0.1:{health_port}"),
            ])
            .env("KUBECONFIG", kubeconfig)
            .env("RUNTIME_NAMESPACE", FLUX_NAMESPACE)
            .stdin(Stdio::null())
            .stdout(log_file(name))
            .stderr(log_file(name))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        record_pid(name, &child);
        self.children.push((name.to_string(), child));
    }

    /// A fresh Git repository `name` on the server, with a local working copy.
    pub fn repository(&self, name: &str) -> GitRepo {
        let work = cluster_dir().join("gitops").join("work").join(name);
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        let repo = GitRepo {
            work,
            url: format!("{}/{name}.git", self.git_url),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Accord e2e"]);
        repo.git(&["config", "user.email", "e2e@accord.dev"]);
        repo.git(&["remote", "add", "origin", &repo.url]);
        repo
    }
}

impl Drop for Flux {
    fn drop(&mut self) {
        for (name, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(pid_file(name));
        }
    }
}

fn log_path(name: &str) -> PathBuf {
    cluster_dir().join("logs").join(format!("flux-{name}.log"))
}

fn log_file(name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(name))
        .expect("log file")
}

/// The last lines of a Flux process's log, for failure messages.
pub fn log_tail(name: &str) -> String {
    let text = std::fs::read_to_string(log_path(name)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn pid_file(name: &str) -> PathBuf {
    cluster_dir().join("pids").join(format!("flux-{name}.pid"))
}

/// So `e2e/cluster/stop-operators.sh` can stop what a killed test binary left running.
fn record_pid(name: &str, child: &Child) {
    std::fs::create_dir_all(cluster_dir().join("pids")).unwrap();
    std::fs::write(pid_file(name), child.id().to_string()).unwrap();
}

/// A local working copy pushing to the loopback Git server.
pub struct GitRepo {
    pub work: PathBuf,
    /// The URL Flux clones.
    pub url: String,
}

impl GitRepo {
    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.work)
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes `path` (relative to the repository root).
    pub fn write(&self, path: &str, content: &str) {
        let file = self.work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.work.join(path)).unwrap();
    }

    /// The absolute path of a file in the working copy.
    pub fn path(&self, path: &str) -> PathBuf {
        self.work.join(path)
    }

    /// Commits everything and pushes; returns the new revision (`main@sha1:…`).
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["push", "-q", "origin", "main"]);
        format!("main@sha1:{}", self.git(&["rev-parse", "HEAD"]).trim())
    }
}

/// Asks Flux to reconcile an object now (what `flux reconcile` does).
pub fn request_reconcile(kind: &str, namespace: &str, name: &str) -> String {
    let at = jiff::Timestamp::now().to_string();
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": at}}});
    Kubectl::admin().ok(&[
        "patch",
        kind,
        name,
        "-n",
        namespace,
        "--type",
        "merge",
        "-p",
        &patch.to_string(),
    ]);
    at
}

/// A Flux object's `Ready` condition: (status, reason, message).
pub fn ready(kind: &str, namespace: &str, name: &str) -> Option<(String, String, String)> {
    let object = Kubectl::admin().get_json(&[kind, name, "-n", namespace])?;
    condition(&object, "Ready")
}

fn condition(object: &Value, kind: &str) -> Option<(String, String, String)> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (text("status"), text("reason"), text("message"))
        })
}

/// Waits until the Kustomization has handled the reconcile requested at `requested`
/// and its source is at `revision`, and returns its Ready condition and its object.
pub fn reconciled(
    namespace: &str,
    name: &str,
    requested: &str,
    revision: &str,
) -> ((String, String, String), Value) {
    poll(
        &format!("Kustomization {namespace}/{name} to reconcile {revision}"),
        Duration::from_secs(90),
        || {
            let k = Kubectl::admin()
                .get_json(&["kustomization", name, "-n", namespace])
                .ok_or("no Kustomization")?;
            let status = &k["status"];
            let handled = status["lastHandledReconcileAt"].as_str() == Some(requested);
            let attempted = status["lastAttemptedRevision"].as_str() == Some(revision);
            let ready = condition(&k, "Ready").ok_or("no Ready condition")?;
            if handled && attempted && ready.1 != "Progressing" && ready.0 != "Unknown" {
                Ok((ready, k.clone()))
            } else {
                Err(format!(
                    "{}\nkustomize-controller:\n{}",
                    serde_json::to_string_pretty(status).unwrap(),
                    log_tail("kustomize-controller")
                ))
            }
        },
    )
}

/// Makes Flux fetch `revision` of GitRepository `flux-system/<source>` and reconcile
/// each Kustomization (`namespace/name`) at it; returns their Ready conditions and
/// objects, in order.
pub fn sync(
    source: &str,
    revision: &str,
    kustomizations: &[(&str, &str)],
) -> Vec<((String, String, String), Value)> {
    request_reconcile("gitrepository", FLUX_NAMESPACE, source);
    poll(
        &format!("GitRepository {source} to fetch {revision}"),
        Duration::from_secs(60),
        || {
            let repo = Kubectl::admin()
                .get_json(&["gitrepository", source, "-n", FLUX_NAMESPACE])
                .ok_or("no GitRepository")?;
            (repo["status"]["artifact"]["revision"].as_str() == Some(revision))
                .then_some(())
                .ok_or_else(|| {
                    format!(
                        "{}\nsource-controller:\n{}",
                        serde_json::to_string_pretty(&repo["status"]).unwrap(),
                        log_tail("source-controller")
                    )
                })
        },
    );
    kustomizations
        .iter()
        .map(|(namespace, name)| {
            let requested = request_reconcile("kustomization", namespace, name);
            reconciled(namespace, name, &requested, revision)
        })
        .collect()
}
