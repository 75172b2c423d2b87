//! A container registry on loopback and the tools that speak to it, for the registry
//! audit records (`--record-registry`): go-containerregistry's `crane` serves the
//! registry and pushes images; sigstore's `cosign` verifies what is attached to them.
//! Both are built once from their Go modules and cached in `~/.cache/accord`
//! (`hack/crane.sh`, `hack/cosign.sh`; `.ci/run` and `e2e/run.sh` build them before
//! the tests, so a test only looks them up).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use crate::{operator::free_port, poll, repo_root, run_tool};

/// The path a `hack/*.sh` tool script prints last (building the tool the first time).
fn hack_tool(script: &str) -> String {
    let (ok, out) = run_tool("bash", &[script], Some(&repo_root()), &[]);
    assert!(ok, "{script}: {out}");
    out.lines()
        .last()
        .unwrap_or_else(|| panic!("{script} printed no path"))
        .trim()
        .to_string()
}

/// go-containerregistry's `crane` (`hack/crane.sh`).
pub fn crane() -> String {
    hack_tool("hack/crane.sh")
}

/// A fresh scratch directory under the system's temporary directory.
fn scratch(prefix: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "accord-e2e-{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// `crane registry serve` on a loopback port (plain http, no authentication, kept in
/// memory), stopped when dropped.
pub struct Registry {
    child: Child,
    crane: String,
    scratch: PathBuf,
    /// `127.0.0.1:<port>`, as image references name the registry.
    pub address: String,
}

impl Registry {
    /// Starts a registry and waits until it accepts connections.
    pub fn start() -> Self {
        let crane = crane();
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new(&crane)
            .args(["registry", "serve", "--address", &address])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("crane registry serve");
        let registry = Self {
            child,
            crane,
            scratch: scratch("registry"),
            address,
        };
        poll("the registry", Duration::from_secs(30), || {
            std::net::TcpStream::connect(&registry.address)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        registry
    }

    /// Pushes a one-layer image holding `content` (one file) as `<address>/<name_tag>`
    /// (e.g. `fraud-scorer:2.4.0`); returns it by digest, `<address>/<name>@sha256:…`.
    pub fn push_image(&self, name_tag: &str, content: &str) -> String {
        let (name, _tag) = name_tag
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{name_tag} has no tag"));
        let reference = format!("{}/{name_tag}", self.address);
        let dir = self.scratch.join(name_tag.replace(['/', ':'], "_"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.txt"), content).unwrap();
        let layer = dir.join("layer.tar");
        let (ok, out) = run_tool(
            "tar",
            &[
                "-cf",
                layer.to_str().unwrap(),
                "-C",
                dir.to_str().unwrap(),
                "model.txt",
            ],
            None,
            &[],
        );
        assert!(ok, "tar: {out}");
        let (ok, out) = run_tool(
            &self.crane,
            &["append", "-f", layer.to_str().unwrap(), "-t", &reference],
            None,
            &[],
        );
        assert!(ok, "crane append {reference}: {out}");
        let (ok, digest) = run_tool(&self.crane, &["digest", &reference], None, &[]);
        assert!(ok, "crane digest {reference}: {digest}");
        format!("{}/{name}@{}", self.address, digest.trim())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// sigstore's `cosign` (`hack/cosign.sh`), kept off the network where it verifies.
pub struct Cosign {
    /// The binary.
    pub path: String,
    /// Holds `tuf/`, cosign's TUF cache (never filled: the mirror does not answer).
    scratch: PathBuf,
}

impl Cosign {
    /// Finds cosign (building it the first time: minutes).
    pub fn find() -> Self {
        Self {
            path: hack_tool("hack/cosign.sh"),
            scratch: scratch("cosign"),
        }
    }

    /// Runs cosign with `args` and extra `env`: whether it succeeded, and its output.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
        run_tool(&self.path, args, None, env)
    }

    /// `cosign verify-attestation` of `image` (by digest) for attestations of
    /// `predicate_type` signed by `public_key` (one PEM block), with no transparency log
    /// and over plain http to a loopback registry. Its TUF look-up (not needed with a
    /// key and `--insecure-ignore-tlog`) goes to an empty root and a closed loopback
    /// port, so it never leaves the machine. Whether it passed, and its output (the
    /// verified envelopes, one JSON object a line, on success).
    pub fn verify_attestation(
        &self,
        public_key: &Path,
        predicate_type: &str,
        image: &str,
    ) -> (bool, String) {
        let tuf_root = self.scratch.join("tuf");
        self.run(
            &[
                "verify-attestation",
                "--key",
                public_key.to_str().unwrap(),
                "--type",
                predicate_type,
                "--insecure-ignore-tlog=true",
                "--allow-insecure-registry",
                image,
            ],
            &[
                ("TUF_ROOT", tuf_root.to_str().unwrap()),
                ("TUF_MIRROR", "http://127.0.0.1:9"),
            ],
        )
    }
}

impl Drop for Cosign {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
