//! Delivery: the Helm chart installs, its RBAC is enough and no more, and GitOps tools
//! read Accord's health correctly — checked with the real Argo CD Lua interpreter
//! (gopher-lua) and Flux's kstatus library over live objects.

mod support;

use std::{path::PathBuf, process::Command, time::Duration};

use accord_e2e::{
    Kubectl, Operator, TestNamespace, cluster_dir, poll, repo_root, token_kubeconfig,
};
use serde_json::json;
use support::*;

fn run(
    program: &str,
    args: &[&str],
    dir: Option<&std::path::Path>,
    env: &[(&str, &str)],
) -> (bool, String) {
    accord_e2e::run_tool(program, args, dir, env)
}

fn record(
    dir: &std::path::Path,
    name: &str,
    namespace: &str,
    md: &str,
    argocd: &str,
    kstatus: &str,
) {
    let object = get_md(namespace, md);
    let fixture = json!({"expect": {"argocd": argocd, "kstatus": kstatus}, "object": object});
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(&fixture).unwrap(),
    )
    .unwrap();
}

#[test]
fn gitops_tools_read_health_from_live_objects() {
    let _serial = accord_e2e::exclusive();
    let _operator = Operator::start("gitops", "accord-operator", &[]);
    let ns = TestNamespace::create("gitops");
    let n = ns.name.as_str();
    let fixtures = cluster_dir().join("gitops-fixtures");
    let _ = std::fs::remove_dir_all(&fixtures);
    std::fs::create_dir_all(&fixtures).unwrap();

    create(&model_deployment(n, "waiting", "1.0.0"));
    wait_phase(
        n,
        "waiting",
        "AwaitingAttestations",
        Duration::from_secs(30),
    );
    record(
        &fixtures,
        "awaiting",
        n,
        "waiting",
        "Suspended",
        "InProgress",
    );

    serving(n, "healthy", "1.0.0", |_| {});
    record(&fixtures, "serving", n, "healthy", "Healthy", "Current");

    // A version that cannot be scheduled: Promoting until its deadline, then (Manual) Degraded.
    serving(n, "stuck", "1.0.0", |md| {
        md["spec"]["rollback"] = json!({"mode": "Manual", "progressDeadlineSeconds": 15})
    });
    patch_md(
        n,
        "stuck",
        json!({"spec": {"model": {"version": "2.0.0"}, "serving": {"image": "registry.example.com/stuck:2.0.0", "resources": {"requests": {"cpu": "1000"}}}}}),
    );
    attest_all(n, "stuck", "2.0.0");
    wait_phase(n, "stuck", "Promoting", Duration::from_secs(20));
    record(
        &fixtures,
        "promoting",
        n,
        "stuck",
        "Progressing",
        "InProgress",
    );
    wait_phase(n, "stuck", "Degraded", Duration::from_secs(60));
    record(&fixtures, "degraded", n, "stuck", "Degraded", "Failed");

    serving(n, "fails", "1.0.0", |_| {});
    patch_md(
        n,
        "fails",
        json!({"spec": {"model": {"version": "2.0.0"}, "serving": {"image": "registry.example.com/fails:2.0.0", "resources": {"requests": {"cpu": "1000"}}}}}),
    );
    attest_all(n, "fails", "2.0.0");
    wait_phase(n, "fails", "RolledBack", Duration::from_secs(60));
    record(&fixtures, "rolledback", n, "fails", "Degraded", "Failed");

    let mut invalid = model_deployment(n, "orphan", "1.0.0");
    invalid["spec"]["owners"]["data"] = json!("no-such-team");
    create(&invalid);
    wait_phase(n, "orphan", "Invalid", Duration::from_secs(30));
    record(&fixtures, "invalid", n, "orphan", "Degraded", "Failed");

    let gitops = repo_root().join("e2e/gitops");
    let live = fixtures.to_string_lossy().into_owned();
    let (ok, output) = run(
        "go",
        &["test", "-count=1", "-v", "./..."],
        Some(&gitops),
        &[("ACCORD_LIVE_FIXTURES", &live)],
    );
    assert!(ok, "gopher-lua / kstatus checks failed:\n{output}");
    assert!(
        output.contains("--- PASS: TestArgoCDHealth")
            && output.contains("--- PASS: TestFluxKstatus"),
        "{output}"
    );
}

fn can_i(verb_resource: &[&str], namespace: &str) -> String {
    let mut args = vec!["auth", "can-i"];
    args.extend_from_slice(verb_resource);
    args.extend_from_slice(&[
        "-n",
        namespace,
        "--as",
        "system:serviceaccount:accord-system:accord",
    ]);
    Kubectl::admin().run(&args).stdout.trim().to_string()
}

#[test]
fn helm_chart_installs_and_its_rbac_is_enough_and_no_more() {
    let _serial = accord_e2e::exclusive();
    let chart: PathBuf = repo_root().join("charts/accord");
    let chart = chart.to_str().unwrap();
    // A release left by an interrupted run would block the install.
    let _ = run(
        "helm",
        &[
            "uninstall",
            "accord",
            "-n",
            "accord-system",
            "--ignore-not-found",
        ],
        None,
        &[],
    );
    let (ok, out) = run(
        "helm",
        &[
            "install",
            "accord",
            chart,
            "-n",
            "accord-system",
            "--create-namespace",
            // The CRDs were installed with kubectl: the chart takes them over.
            "--take-ownership",
            "--set",
            "webhook.createConfigurations=false",
            "--set",
            "replicaCount=1",
        ],
        None,
        &[],
    );
    assert!(ok, "helm install failed:\n{out}");
    assert!(
        out.contains("Next steps"),
        "NOTES.txt tells the next step:\n{out}"
    );

    // The chart's ServiceAccount runs the operator (as a local process, webhook by URL).
    let kubeconfig = token_kubeconfig("accord", "accord-system");
    let operator = Operator::start_as("helm", &kubeconfig, &[]);
    let ns = TestNamespace::create("helm");
    let n = ns.name.as_str();
    let md = serving(n, "charted", "1.0.0", |_| {});
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    assert!(deployment(n, "charted").is_some());
    let escalate = json!({"spec": {"handoff": {"escalateAfter": "1s"}}});
    patch_md(
        n,
        "charted",
        json!({"spec": {"model": {"version": "2.0.0"}, "serving": {"image": "registry.example.com/charted:2.0.0"}}}),
    );
    patch_md(n, "charted", escalate);
    poll(
        "escalation through the chart's RBAC (events, status)",
        Duration::from_secs(30),
        || {
            let md = get_md(n, "charted");
            (condition(&md, "Escalated")["status"] == "True")
                .then_some(())
                .ok_or_else(|| md["status"].to_string())
        },
    );

    // Enough, and no more.
    assert_eq!(
        can_i(&["get", "secrets/accord-seal-keys"], "accord-system"),
        "yes"
    );
    assert_eq!(
        can_i(&["get", "secrets/team-hooks"], "accord-system"),
        "yes",
        "reads Teams' notification URLs by name"
    );
    assert_eq!(
        can_i(&["get", "secrets"], "default"),
        "no",
        "reads Secrets in other namespaces"
    );
    assert_eq!(
        can_i(&["list", "secrets"], "accord-system"),
        "no",
        "lists Secrets it does not own"
    );
    assert_eq!(
        can_i(
            &["create", "clusterroles.rbac.authorization.k8s.io"],
            "default"
        ),
        "no",
        "changes RBAC"
    );
    assert_eq!(
        can_i(
            &["create", "rolebindings.rbac.authorization.k8s.io"],
            "accord-system"
        ),
        "no",
        "changes RBAC"
    );
    assert_eq!(
        can_i(&["delete", "modeldeployments.accord.dev"], "default"),
        "no"
    );
    // RBAC lets it delete Deployments (a rollback drill's own, after its run), but the
    // chart's ValidatingAdmissionPolicy refuses it any other: production's stays.
    assert_eq!(can_i(&["delete", "deployments.apps"], "default"), "yes");
    let uid = deployment(n, "charted").unwrap()["metadata"]["uid"].clone();
    let refused = Kubectl::with_kubeconfig("accord", kubeconfig.clone()).run(&[
        "delete",
        "deployment",
        "charted",
        "-n",
        n,
        "--wait=false",
    ]);
    assert!(
        !refused.success
            && refused
                .stderr
                .contains("deletes only the Deployments of rollback drills"),
        "the operator's identity deleted a production Deployment: {}{}",
        refused.stdout,
        refused.stderr
    );
    assert_eq!(deployment(n, "charted").unwrap()["metadata"]["uid"], uid);
    assert_eq!(can_i(&["get", "secrets"], "kube-system"), "no");

    // A scrape of /metrics is valid exposition.
    let metrics = operator.http_get("/metrics").expect("metrics");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package prometheus)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let problems = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        checked.status.success(),
        "promtool check metrics:\n{problems}"
    );

    // Upgrade and uninstall leave user objects alone.
    let (ok, out) = run(
        "helm",
        &[
            "upgrade",
            "accord",
            chart,
            "-n",
            "accord-system",
            "--set",
            "webhook.createConfigurations=false",
            "--set",
            "replicaCount=1",
            "--set",
            "logFormat=text",
        ],
        None,
        &[],
    );
    assert!(ok, "helm upgrade failed:\n{out}");
    let d = Kubectl::admin()
        .get_json(&["deployment", "accord", "-n", "accord-system"])
        .unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["args"]
            .to_string()
            .contains("--log-format=text")
    );
    drop(operator);
    let (ok, out) = run(
        "helm",
        &["uninstall", "accord", "-n", "accord-system"],
        None,
        &[],
    );
    assert!(ok, "helm uninstall failed:\n{out}");
    assert!(
        Kubectl::admin()
            .get_json(&["serviceaccount", "accord", "-n", "accord-system"])
            .is_none()
    );
    assert!(
        Kubectl::admin()
            .get_json(&["md", "charted", "-n", n])
            .is_some(),
        "uninstall removed a ModelDeployment"
    );
    let atts = Kubectl::admin()
        .ok(&["get", "attestations", "-n", n, "-o", "name"])
        .stdout;
    assert_eq!(atts.lines().count(), 3, "{atts}");
    assert!(
        Kubectl::admin()
            .get_json(&["team", "data-platform"])
            .is_some()
    );
    let crd = Kubectl::admin()
        .get_json(&["crd", "modeldeployments.accord.dev"])
        .expect("CRDs stay");
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
        "the chart's CRDs are kept on uninstall"
    );
    accord_e2e::restore_crds();
    accord_e2e::stop_stray_operators();
}
