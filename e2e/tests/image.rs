//! The operator's image and chart, shipped as a user installs them: `make image` builds
//! the same digest twice without a container runtime; the image (non-root, with its
//! SBOM) and the packaged chart are pushed to a registry on loopback (`crane registry
//! serve`, `helm push`); `helm install oci://…` deploys the image by digest.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use accord_e2e::{Kubectl, poll, repo_root, run_tool};

struct Registry {
    child: Child,
    address: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn crane() -> String {
    let (ok, out) = run_tool("bash", &["hack/crane.sh"], Some(&repo_root()), &[]);
    assert!(ok, "{out}");
    out.lines().last().unwrap().trim().to_string()
}

fn registry(crane: &str) -> Registry {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(crane)
        .args([
            "registry",
            "serve",
            "--address",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("crane registry serve");
    let address = format!("127.0.0.1:{port}");
    poll("the registry", Duration::from_secs(30), || {
        std::net::TcpStream::connect(&address)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    Registry { child, address }
}

fn make_image() -> String {
    let (ok, out) = run_tool("bash", &["hack/image.sh"], Some(&repo_root()), &[]);
    assert!(ok, "make image failed:\n{out}");
    let digest = std::fs::read_to_string(repo_root().join("target/image/digest")).unwrap();
    digest.trim().to_string()
}

#[test]
fn the_image_is_reproducible_and_the_chart_installs_it_from_a_registry_by_digest() {
    let _serial = accord_e2e::exclusive();
    let first = make_image();
    let second = make_image();
    assert!(first.starts_with("sha256:"), "{first}");
    assert_eq!(first, second, "the same commit builds the same image");

    let crane = crane();
    let registry = registry(&crane);
    let image = format!("{}/accord", registry.address);
    let layout = repo_root().join("target/image/oci");
    let (ok, out) = run_tool(
        &crane,
        &["push", layout.to_str().unwrap(), &format!("{image}:0.1.0")],
        None,
        &[],
    );
    assert!(ok, "{out}");
    let (ok, digest) = run_tool(&crane, &["digest", &format!("{image}:0.1.0")], None, &[]);
    assert!(ok, "{digest}");
    assert_eq!(
        digest.trim(),
        first,
        "the registry holds exactly what was built"
    );
    let (ok, config) = run_tool(&crane, &["config", &format!("{image}@{first}")], None, &[]);
    assert!(ok, "{config}");
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["config"]["User"], "65532:65532", "non-root");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/accord"])
    );
    let (ok, files) = run_tool(
        "bash",
        &["-c", &format!("{crane} export {image}@{first} - | tar -t")],
        None,
        &[],
    );
    assert!(ok, "{files}");
    assert!(
        files.contains("usr/share/doc/accord/sbom.spdx.json"),
        "{files}"
    );
    let sbom: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("target/image/sbom.spdx.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    assert!(
        sbom["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "kube"
                && p["versionInfo"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("5."))),
        "the SBOM lists the crates"
    );

    // The chart, packaged and pushed next to the image, installed from there.
    let dir = std::env::temp_dir().join(format!("accord-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let chart: PathBuf = repo_root().join("charts/accord");
    let (ok, out) = run_tool(
        "helm",
        &[
            "package",
            chart.to_str().unwrap(),
            "-d",
            dir.to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert!(ok, "{out}");
    let package = dir.join("accord-0.1.0.tgz");
    let repo = format!("oci://{}/charts", registry.address);
    let (ok, out) = run_tool(
        "helm",
        &["push", package.to_str().unwrap(), &repo, "--plain-http"],
        None,
        &[],
    );
    assert!(ok && out.contains("Digest:"), "{out}");
    let _ = run_tool(
        "helm",
        &[
            "uninstall",
            "shipped",
            "-n",
            "accord-shipped",
            "--ignore-not-found",
        ],
        None,
        &[],
    );
    let (ok, out) = run_tool(
        "helm",
        &[
            "install",
            "shipped",
            &format!("{repo}/accord"),
            "--version",
            "0.1.0",
            "--plain-http",
            "-n",
            "accord-shipped",
            "--create-namespace",
            "--set",
            &format!("image.repository={image}"),
            "--set",
            &format!("image.digest={first}"),
            "--set",
            "webhook.createConfigurations=false",
            "--set",
            "replicaCount=1",
            "--set",
            "podDisruptionBudget.enabled=false",
        ],
        None,
        &[],
    );
    assert!(ok, "helm install oci:// failed:\n{out}");
    let deployment = Kubectl::admin()
        .get_json(&[
            "deployment",
            "-n",
            "accord-shipped",
            "-l",
            "app.kubernetes.io/instance=shipped",
        ])
        .unwrap();
    let reference = deployment["items"][0]["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (ok, out) = run_tool(
        "helm",
        &["uninstall", "shipped", "-n", "accord-shipped"],
        None,
        &[],
    );
    assert!(ok, "{out}");
    let _ = Kubectl::admin().run(&["delete", "namespace", "accord-shipped", "--wait=false"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        reference,
        format!("{image}@{first}"),
        "the Deployment pulls the image by digest"
    );
}
