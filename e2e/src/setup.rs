//! The one way an end-to-end test prepares the cluster and gets an operator.
//!
//! - [`prepare`]: CRDs Established, the example Teams and ModelDeployment, the
//!   people's RBAC, and no operator left over from another test binary. Once per
//!   binary; every test calls it (the two functions below do).
//! - [`exclusive`]: for tests that start, stop or kill operators themselves: they run
//!   one at a time within their binary (operators share the leader Lease and the
//!   webhook configurations), each starting from no running operator.
//! - [`shared_operator`]: for tests that only need an operator running: one for the
//!   whole binary, started on first use.

use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::{Kubectl, Operator, repo_root, stop_stray_operators};

/// Applies a manifest file from the repository as admin.
pub fn apply_file(path: &str) {
    let file = repo_root().join(path);
    let args = ["apply", "-f", file.to_str().unwrap()];
    // Tests running at once may apply the same file: client-side apply reads, then
    // creates, so one of them can meet the other's object (AlreadyExists). Once more
    // then finds it and applies over it.
    let first = Kubectl::admin().run(&args);
    if !first.success {
        assert!(
            first.stderr.contains("AlreadyExists"),
            "`kubectl apply -f {path}` failed: {}",
            first.stderr
        );
        Kubectl::admin().ok(&args);
    }
}

/// Installs every CRD in `dir` (server-side: some are larger than client-side apply's
/// annotation allows) and waits until the API server serves them.
pub fn install_crds(dir: &std::path::Path) {
    let crds = dir.to_str().unwrap();
    let admin = Kubectl::admin();
    admin.ok(&["apply", "--server-side", "--force-conflicts", "-f", crds]);
    admin.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "-f",
        crds,
    ]);
}

/// Puts the CRDs back exactly as `crds/` has them, after a test handed them to a Helm
/// release: `replace` drops the release's labels, annotations and any field a test chart
/// added, which `apply` would keep (they have another field manager).
pub fn restore_crds() {
    let crds = repo_root().join("crds");
    let crds = crds.to_str().unwrap();
    Kubectl::admin().ok(&["replace", "-f", crds]);
    install_crds(&repo_root().join("crds"));
}

/// Prepares the cluster for this test binary (once).
pub fn prepare() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        stop_stray_operators();
        install_crds(&repo_root().join("crds"));
        apply_file("examples/teams.yaml");
        apply_file("examples/fraud-scorer.yaml");
        apply_file("deploy/user-rbac.yaml");
    });
}

/// Serialises the calling test against the other exclusive tests of its binary; the
/// guard releases the next one. Starts from a prepared cluster with no operator.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    prepare();
    stop_stray_operators();
    guard
}

/// Makes sure the binary's shared operator (`label`, as ServiceAccount
/// `accord-operator`) runs; it is stopped when the binary exits.
pub fn shared_operator(label: &str) {
    static OPERATOR: OnceLock<Mutex<Operator>> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        prepare();
        Mutex::new(Operator::start(label, "accord-operator", &[]))
    });
}
