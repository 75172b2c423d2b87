//! The operator's image and chart, shipped as a user installs them: `make image` builds
//! the same digest twice without a container runtime; the image (non-root, with its
//! SBOM) and the packaged chart are pushed to a registry on loopback (`crane registry
//! serve`, `helm push`); `helm install oci://…` deploys the image by digest, taking over
//! the CRDs kubectl installed; `helm test` passes while the webhook answers (its pod run
//! by the image's own binary on a stand-in node) and fails when it does not; `helm
//! upgrade` to a chart whose CRD gained a field makes the field accepted; uninstall keeps
//! the CRDs.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use accord_e2e::{
    Kubectl, Operator, StandInNode, TestNamespace, poll, repo_root, run_tool, token_kubeconfig,
};

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

    let binary = binary_from_image(&crane, &format!("{image}@{first}"));
    let repo = push_charts(&registry);
    install_upgrade_and_test(&repo, &image, &first, binary);
}

/// The operator binary exactly as the image holds it (what its pods run).
fn binary_from_image(crane: &str, reference: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("accord-image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ok, out) = run_tool(
        "bash",
        &[
            "-c",
            &format!("{crane} export {reference} - | tar -x -C {}", dir.display()),
        ],
        None,
        &[],
    );
    assert!(ok, "{out}");
    dir.join("accord")
}

/// Packages the chart as 0.1.0 and, as the next release, 0.1.1 whose ModelDeployment CRD
/// gained `spec.costCentre`; pushes both to the registry. Returns the charts' OCI base.
fn push_charts(registry: &Registry) -> String {
    let dir = std::env::temp_dir().join(format!("accord-chart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let next = dir.join("next");
    let (ok, out) = run_tool(
        "cp",
        &[
            "-r",
            repo_root().join("charts/accord").to_str().unwrap(),
            next.to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert!(ok, "{out}");
    let crd = next.join("files/crds/modeldeployments.accord.dev.yaml");
    let anchor = "\n              owners:\n                description: The three Teams";
    let text = std::fs::read_to_string(&crd).unwrap();
    assert_eq!(
        text.matches(anchor).count(),
        1,
        "the CRD's spec.owners moved"
    );
    let field = "\n              costCentre:\n                description: Who pays for serving this model.\n                type: string";
    std::fs::write(&crd, text.replace(anchor, &format!("{field}{anchor}"))).unwrap();
    let chart_yaml = next.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).unwrap();
    std::fs::write(
        &chart_yaml,
        text.replacen("\nversion: 0.1.0\n", "\nversion: 0.1.1\n", 1),
    )
    .unwrap();
    let repo = format!("oci://{}/charts", registry.address);
    for (chart, version) in [
        (repo_root().join("charts/accord"), "0.1.0"),
        (next, "0.1.1"),
    ] {
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
        let package = dir.join(format!("accord-{version}.tgz"));
        let (ok, out) = run_tool(
            "helm",
            &["push", package.to_str().unwrap(), &repo, "--plain-http"],
            None,
            &[],
        );
        assert!(ok && out.contains("Digest:"), "{out}");
    }
    repo
}

fn helm(args: &[&str]) -> (bool, String) {
    run_tool("helm", args, None, &[])
}

fn cost_centre_model(namespace: &str) -> String {
    serde_json::json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "billed", "namespace": namespace},
        "spec": {
            "costCentre": "ml-42",
            "owners": {"data": "data-platform", "platform": "ml-platform", "application": "payments-app"},
            "model": {"name": "billed", "version": "1.0.0"},
            "serving": {"image": "registry.example.com/billed:1.0.0"},
            "handoff": {"checklist": [{"id": "drift", "owner": "data"}]},
            "rollback": {"mode": "Manual"}
        }
    })
    .to_string()
}

fn crd_has_cost_centre() -> bool {
    Kubectl::admin()
        .get_json(&["crd", "modeldeployments.accord.dev"])
        .unwrap()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]
        .get("costCentre")
        .is_some()
}

/// `helm test`, run on the stand-in node: whether it passed, its output, and what the
/// test pod printed.
fn helm_test(node: &StandInNode) -> (bool, String, Option<(i32, String)>) {
    node.forget();
    let (ok, out) = helm(&["test", "accord", "-n", "accord-system", "--timeout", "90s"]);
    (ok, out, node.output("accord-system", "accord-test-webhook"))
}

/// Installs 0.1.0 from the registry over the CRDs kubectl installed (taking them over),
/// runs `helm test` against the operator running under the chart's ServiceAccount,
/// upgrades to 0.1.1 (the new CRD field is refused before, accepted after), and shows
/// that `helm test` fails once the webhook stops answering.
fn install_upgrade_and_test(repo: &str, image: &str, digest: &str, binary: PathBuf) {
    let _ = helm(&[
        "uninstall",
        "accord",
        "-n",
        "accord-system",
        "--ignore-not-found",
    ]);
    let node = StandInNode::start("e2e-stand-in", binary);
    let chart = format!("{repo}/accord");
    let values = [
        format!("image.repository={image}"),
        format!("image.digest={digest}"),
        "webhook.createConfigurations=false".into(),
        "replicaCount=1".into(),
        "podDisruptionBudget.enabled=false".into(),
        "tests.timeout=5s".into(),
        format!(
            "tests.nodeSelector.{}={}",
            accord_e2e::stand_in_node::LABEL,
            node.name
        ),
        format!(
            "tests.tolerations[0].key={}",
            accord_e2e::stand_in_node::LABEL
        ),
        "tests.tolerations[0].operator=Exists".into(),
    ];
    let mut install = vec![
        "install",
        "accord",
        &chart,
        "--version",
        "0.1.0",
        "--plain-http",
        "-n",
        "accord-system",
        "--create-namespace",
        "--take-ownership",
    ];
    for value in &values {
        install.extend(["--set", value]);
    }
    let (ok, out) = helm(&install);
    assert!(ok, "helm install oci:// failed:\n{out}");
    let deployment = Kubectl::admin()
        .get_json(&["deployment", "accord", "-n", "accord-system"])
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{image}@{digest}"),
        "the Deployment pulls the image by digest"
    );
    let crd = Kubectl::admin()
        .get_json(&["crd", "modeldeployments.accord.dev"])
        .unwrap();
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    assert_eq!(
        crd["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "accord"
    );

    // helm test: the image's own binary, as the test ServiceAccount, gets Accord's answer.
    let kubeconfig = token_kubeconfig("accord", "accord-system");
    let operator = Operator::start_as("shipped", &kubeconfig, &[]);
    let (ok, out, ran) = helm_test(&node);
    let (code, printed) = ran.expect("the test pod ran on the stand-in node");
    assert!(ok && code == 0, "helm test failed:\n{out}\n{printed}");
    assert!(out.contains("Succeeded"), "{out}");
    assert!(
        printed.contains("mutate.modeldeployments.accord.dev answered: it recorded system:serviceaccount:accord-system:accord-test")
            && printed.contains("mutate.attestations.accord.dev answered")
            && printed.contains("Accord's admission webhook answers"),
        "{printed}"
    );
    let stored = Kubectl::admin()
        .ok(&[
            "get",
            "md,attestations",
            "-n",
            "accord-system",
            "-o",
            "name",
        ])
        .stdout;
    assert!(
        stored.trim().is_empty(),
        "the check's dry runs stored {stored}"
    );
    poll(
        "the passed test's objects removed",
        Duration::from_secs(30),
        || match Kubectl::admin().get_json(&["role", "accord-test", "-n", "accord-system"]) {
            None => Ok(()),
            Some(_) => Err("Role accord-test still there".to_string()),
        },
    );

    upgrade_to_the_changed_crd(&chart);
    let (ok, out, ran) = helm_test(&node);
    assert!(ok, "helm test after the upgrade failed:\n{out}\n{ran:?}");

    // With the webhook gone, the same test fails and says why.
    drop(operator);
    let (ok, out, ran) = helm_test(&node);
    let (code, printed) = ran.expect("the test pod ran");
    assert!(
        !ok && code == 1,
        "helm test passed without a webhook:\n{out}\n{printed}"
    );
    assert!(
        printed.contains("Accord's admission webhook does not answer: the API server cannot reach Accord's webhook"),
        "{printed}"
    );
    let pod = Kubectl::admin()
        .get_json(&["pod", "accord-test-webhook", "-n", "accord-system"])
        .expect("a failed test pod stays for its log");
    assert_eq!(pod["status"]["phase"], "Failed");

    accord_e2e::remove_webhook_configurations();
    let (ok, out) = helm(&["uninstall", "accord", "-n", "accord-system"]);
    assert!(ok, "{out}");
    assert!(
        crd_has_cost_centre(),
        "uninstall keeps the CRDs (helm.sh/resource-policy: keep)"
    );
    drop(node);
    accord_e2e::restore_crds();
    assert!(!crd_has_cost_centre());
}

/// 0.1.1's CRD gains spec.costCentre: refused before the upgrade, accepted after.
/// kubectl (which installed the CRDs server-side) still co-owns their fields, so the
/// first upgrade that changes them needs --force-conflicts, as docs/upgrading.md says.
fn upgrade_to_the_changed_crd(chart: &str) {
    let ns = TestNamespace::create("crd-upgrade");
    let before = Kubectl::admin().apply(&cost_centre_model(&ns.name));
    assert!(
        !before.success && before.stderr.contains("unknown field \"spec.costCentre\""),
        "{}",
        before.stderr
    );
    assert!(
        Kubectl::admin()
            .get_json(&["md", "billed", "-n", &ns.name])
            .is_none()
    );
    let upgrade = [
        "upgrade",
        "accord",
        chart,
        "--version",
        "0.1.1",
        "--plain-http",
        "-n",
        "accord-system",
        "--reuse-values",
    ];
    let (ok, out) = helm(&upgrade);
    assert!(!ok && out.contains("conflict with \"kubectl\""), "{out}");
    assert!(!crd_has_cost_centre(), "a failed upgrade changed the CRD");
    let (ok, out) = helm(&[&upgrade[..], &["--force-conflicts"]].concat());
    assert!(ok, "helm upgrade to 0.1.1 failed:\n{out}");
    assert!(crd_has_cost_centre());
    let after = Kubectl::admin().apply(&cost_centre_model(&ns.name));
    assert!(after.success, "{}", after.stderr);
    let stored = Kubectl::admin()
        .get_json(&["md", "billed", "-n", &ns.name])
        .unwrap();
    assert_eq!(stored["spec"]["costCentre"], "ml-42");
    Kubectl::admin().ok(&["delete", "md", "billed", "-n", &ns.name, "--wait=false"]);
}
