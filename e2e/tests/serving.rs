//! Real serving on the real control plane: a full pod template (readiness probe, GPU,
//! toleration for the tainted KWOK GPU node, a volume, a ServiceAccount) is scheduled
//! and promoted; the simple form is admitted under Pod Security `restricted`; pods that
//! stop being Ready fail the version and the plan rolls it back; only the platform team
//! changes what the pods may do.

mod support;

use std::time::Duration;

use accord_e2e::{Kubectl, TestNamespace, poll};
use serde_json::{Value, json};
use support::{
    attest_all, condition, create, deployment, get_md, last_history, model_deployment, serving,
    wait_phase,
};

const WAIT: Duration = Duration::from_secs(60);

fn operator() {
    accord_e2e::shared_operator("serving");
}

/// fraud served by a full template, in the template form.
fn templated(namespace: &str, name: &str, version: &str) -> Value {
    let mut md = model_deployment(namespace, name, version);
    md["spec"]["serving"] = json!({
        "replicas": 2,
        "port": 8080,
        "container": "server",
        "template": {
            "metadata": {"labels": {"team": "fraud"}},
            "spec": {
                "serviceAccountName": "fraud-scorer",
                "nodeSelector": {"accelerator": "nvidia-a100"},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "volumes": [{"name": "weights", "emptyDir": {}}],
                "containers": [{
                    "name": "server",
                    "image": format!("registry.example.com/{name}:{version}"),
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                    "volumeMounts": [{"name": "weights", "mountPath": "/weights"}]
                }]
            }
        }
    });
    md
}

fn pods(namespace: &str, name: &str) -> Vec<Value> {
    Kubectl::admin()
        .get_json(&[
            "pods",
            "-n",
            namespace,
            "-l",
            &format!("accord.dev/instance={name}"),
        ])
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn a_full_template_runs_on_the_tainted_gpu_node_and_only_platform_changes_its_privileges() {
    operator();
    let ns = TestNamespace::create("template");
    let n = ns.name.as_str();
    Kubectl::admin().ok(&["create", "serviceaccount", "fraud-scorer", "-n", n]);
    create(&templated(n, "fraud", "1.0.0"));
    wait_phase(n, "fraud", "AwaitingAttestations", WAIT);
    attest_all(n, "fraud", "1.0.0");
    let md = wait_phase(n, "fraud", "Serving", WAIT);
    assert_eq!(md["status"]["activeVersion"], "1.0.0");

    let d = deployment(n, "fraud").expect("the managed Deployment");
    let pod = &d["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["team"], "fraud");
    assert_eq!(
        pod["metadata"]["labels"]["accord.dev/data-owner"],
        "data-platform"
    );
    assert_eq!(pod["spec"]["serviceAccountName"], "fraud-scorer");
    assert_eq!(
        pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"],
        "/ready"
    );
    assert_eq!(d["spec"]["replicas"], 2);
    let running = pods(n, "fraud");
    assert_eq!(running.len(), 2, "{running:?}");
    for p in &running {
        assert_eq!(
            p["spec"]["nodeName"], "kwok-gpu-0",
            "scheduled on the GPU node"
        );
        assert_eq!(
            condition(
                &json!({"status": {"conditions": p["status"]["conditions"]}}),
                "Ready"
            )["status"],
            "True"
        );
    }
    let svc = Kubectl::admin()
        .get_json(&["service", "fraud", "-n", n])
        .unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);

    // carol (application team) may edit the model but not what its pods may do.
    let escalate = json!({"spec": {"serving": {"template": {"spec": {"serviceAccountName": "default",
        "containers": [{"name": "server", "image": "registry.example.com/fraud:1.0.0",
                        "securityContext": {"privileged": true}}]}}}}});
    let out = Kubectl::user("carol").run(&[
        "patch",
        "md",
        "fraud",
        "-n",
        n,
        "--type",
        "merge",
        "-p",
        &escalate.to_string(),
    ]);
    assert!(!out.success, "allowed: {}", out.stdout);
    assert!(
        out.stderr
            .contains("carol may not change what the pods may do")
            && out.stderr.contains("ml-platform"),
        "{}",
        out.stderr
    );
    let stored = get_md(n, "fraud");
    assert_eq!(
        stored["spec"]["serving"]["template"]["spec"]["serviceAccountName"],
        "fraud-scorer"
    );
    assert!(
        stored["spec"]["serving"]["template"]["spec"]["containers"][0]["securityContext"].is_null()
    );
    assert_eq!(
        deployment(n, "fraud").unwrap()["spec"]["template"]["spec"]["serviceAccountName"],
        "fraud-scorer"
    );

    // An operational template change (a probe's path) applies to the running version
    // at once, without new sign-off; bob of the platform team may tighten privileges.
    let probe = json!([{"op": "replace",
        "path": "/spec/serving/template/spec/containers/0/readinessProbe/httpGet/path", "value": "/healthz"}]);
    support::json_patch_md_as("carol", n, "fraud", &probe);
    poll("the probe change to reach the Deployment", WAIT, || {
        let d = deployment(n, "fraud").unwrap_or_default();
        (d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
            == "/healthz")
            .then_some(())
            .ok_or_else(|| d["spec"]["template"].to_string())
    });
    let tighten = json!([{"op": "add", "path": "/spec/serving/template/spec/securityContext",
        "value": {"runAsNonRoot": true}}]);
    support::json_patch_md_as("bob", n, "fraud", &tighten);
    let md = wait_phase(n, "fraud", "Serving", WAIT);
    assert_eq!(md["status"]["activeVersion"], "1.0.0", "no new candidate");
    assert_eq!(md["status"]["history"].as_array().map(Vec::len), Some(1));
}

#[test]
fn the_simple_form_is_admitted_under_pod_security_restricted() {
    operator();
    let ns = TestNamespace::create("restricted");
    ns.wait_for_default_service_account();
    let n = ns.name.as_str();
    Kubectl::admin().ok(&[
        "label",
        "namespace",
        n,
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    // The control: a plain pod without a security context is refused here.
    let out = Kubectl::admin().run(&[
        "run",
        "plain",
        "-n",
        n,
        "--image",
        "registry.example.com/plain:1",
        "--restart",
        "Never",
    ]);
    assert!(
        !out.success && out.stderr.contains("violates PodSecurity \"restricted"),
        "the namespace must enforce restricted: {} {}",
        out.stdout,
        out.stderr
    );
    let md = serving(n, "fraud", "1.0.0", |_| {});
    assert_eq!(md["status"]["activeVersion"], "1.0.0");
    let running = pods(n, "fraud");
    assert_eq!(running.len(), 2, "both pods admitted: {running:?}");
    let context = &running[0]["spec"]["containers"][0]["securityContext"];
    assert_eq!(context["allowPrivilegeEscalation"], false);
    assert_eq!(context["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(running[0]["spec"]["securityContext"]["runAsNonRoot"], true);
}

/// Marks every pod of `name` running `version` not Ready, as the kubelet does when a
/// readiness probe fails or the container crash-loops (KWOK runs no probes).
fn fail_readiness(namespace: &str, name: &str, version: &str) -> usize {
    let mut marked = 0;
    for pod in pods(namespace, name) {
        if pod["metadata"]["labels"]["accord.dev/model-version"] != version
            || pod["metadata"]["deletionTimestamp"].is_string()
        {
            continue;
        }
        let now = jiff::Timestamp::now().to_string();
        let unready = json!({"status": {
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": now, "reason": "ContainersNotReady"},
                {"type": "ContainersReady", "status": "False", "lastTransitionTime": now, "reason": "ContainersNotReady"}
            ],
            "containerStatuses": [{"name": "model", "ready": false, "restartCount": 4,
                "image": pod["spec"]["containers"][0]["image"], "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}}}]
        }});
        let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let out = Kubectl::admin().run(&[
            "patch",
            "pod",
            pod_name,
            "-n",
            namespace,
            "--subresource",
            "status",
            "--type",
            "strategic",
            "-p",
            &unready.to_string(),
        ]);
        if out.success {
            marked += 1;
        }
    }
    marked
}

#[test]
fn pods_that_stop_being_ready_fail_the_version_and_the_plan_rolls_it_back() {
    operator();
    let ns = TestNamespace::create("unready");
    let n = ns.name.as_str();
    serving(n, "fraud", "1.0.0", |_| {});
    support::set_version(n, "fraud", "2.0.0");
    wait_phase(n, "fraud", "AwaitingAttestations", WAIT);
    attest_all(n, "fraud", "2.0.0");
    poll("2.0.0 to be available", WAIT, || {
        let md = get_md(n, "fraud");
        (md["status"]["activeVersion"] == "2.0.0"
            && md["status"]["phase"] == "Serving"
            && condition(&md, "Ready")["status"] == "True")
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });

    // 2.0.0's pods crash-loop: Accord says so at once, and keeps 2.0.0 for the
    // progress deadline (10 s in these tests) …
    let md = poll("Accord to see the pods not Ready", WAIT, || {
        fail_readiness(n, "fraud", "2.0.0");
        let md = get_md(n, "fraud");
        (condition(&md, "Ready")["reason"] == "NotReady")
            .then_some(md.clone())
            .ok_or_else(|| md["status"]["conditions"].to_string())
    });
    assert!(md["status"]["unreadySince"].is_string(), "{}", md["status"]);
    assert!(
        condition(&md, "Ready")["message"]
            .as_str()
            .unwrap_or_default()
            .contains("pods Ready since"),
        "{}",
        condition(&md, "Ready")
    );
    // … then rolls back to 1.0.0 by the plan, saying why.
    let md = poll("2.0.0 to be rolled back", WAIT, || {
        fail_readiness(n, "fraud", "2.0.0");
        let md = get_md(n, "fraud");
        (md["status"]["phase"] == "RolledBack")
            .then_some(md.clone())
            .ok_or_else(|| md["status"]["conditions"].to_string())
    });
    let last = last_history(&md);
    assert_eq!(
        (last["outcome"].as_str(), last["reason"].as_str()),
        (Some("RolledBack"), Some("NotReady"))
    );
    assert_eq!(last["version"], "1.0.0");
    assert_eq!(condition(&md, "RolledBack")["reason"], "NotReady");
    assert_eq!(md["status"]["failedCandidates"][0]["version"], "2.0.0");
    assert_eq!(
        support::deployment_image(n, "fraud").as_deref(),
        Some("registry.example.com/fraud:1.0.0")
    );
    let warning = accord_e2e::events_for(n, "ModelDeployment", "fraud")
        .into_iter()
        .find(|e| e.reason == "RolledBack")
        .expect("a RolledBack Event");
    assert!(
        warning.note.contains("pods Ready since"),
        "{}",
        warning.note
    );
}
