//! A stand-in kubelet for pods that must really run. KWOK's nodes run no containers (they
//! only report pods Running), and this machine has no container runtime, so a pod whose
//! outcome matters — the chart's `helm test` pod — is scheduled by the real scheduler onto
//! this Node, which KWOK does not manage, and run here as a kubelet would run it:
//!
//! - the container's entrypoint is the given binary (taken from the image under test) with
//!   the container's `args`; its `env` (values and `metadata.namespace` references);
//! - the API server reached as the pod's ServiceAccount (a token for it, as the kubelet
//!   mounts one), not as an administrator;
//! - the exit status written to the pod's status (`Succeeded` / `Failed`, the container
//!   terminated with its exit code); a pod being deleted is removed once (as a kubelet
//!   confirms a deletion after stopping the containers).
//!
//! Its output is kept per pod for the test to read (the kubelet would serve it as logs).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use serde_json::{Value, json};

use crate::{Kubectl, token_kubeconfig};

/// The label that selects this node (`nodeSelector: {LABEL: NAME}`); pods also need to
/// tolerate its taint of the same key.
pub const LABEL: &str = "e2e-stand-in-node";

pub struct StandInNode {
    pub name: String,
    stop: Arc<AtomicBool>,
    outputs: Arc<Mutex<BTreeMap<String, (i32, String)>>>,
    thread: Option<JoinHandle<()>>,
}

impl StandInNode {
    /// Registers the Node and starts running the pods bound to it with `binary`.
    pub fn start(name: &str, binary: PathBuf) -> Self {
        let admin = Kubectl::admin();
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {LABEL: name, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
            "spec": {"taints": [{"key": LABEL, "value": name, "effect": "NoSchedule"}]}
        });
        let out = admin.apply(&node.to_string());
        assert!(out.success, "register node {name}: {}", out.stderr);
        let status = json!({"status": {
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "10"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "StandIn", "message": "e2e stand-in kubelet"}]
        }});
        admin.ok(&[
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ]);
        let stop = Arc::new(AtomicBool::new(false));
        let outputs = Arc::new(Mutex::new(BTreeMap::new()));
        let thread = {
            let (name, stop, outputs) = (name.to_string(), stop.clone(), outputs.clone());
            std::thread::spawn(move || run_pods(&name, &binary, &stop, &outputs))
        };
        Self {
            name: name.to_string(),
            stop,
            outputs,
            thread: Some(thread),
        }
    }

    /// The exit code and output of the pod `namespace/name`'s container, once it ran.
    pub fn output(&self, namespace: &str, name: &str) -> Option<(i32, String)> {
        self.outputs
            .lock()
            .unwrap()
            .get(&format!("{namespace}/{name}"))
            .cloned()
    }

    /// Forgets what ran, so that a pod re-created under the same name runs again.
    pub fn forget(&self) {
        self.outputs.lock().unwrap().clear();
    }
}

impl Drop for StandInNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Pods still bound here are garbage-collected with the Node (PodGC).
        let _ = Kubectl::admin().run(&["delete", "node", &self.name, "--wait=false"]);
    }
}

fn run_pods(
    node: &str,
    binary: &std::path::Path,
    stop: &AtomicBool,
    outputs: &Mutex<BTreeMap<String, (i32, String)>>,
) {
    let admin = Kubectl::admin();
    let selector = format!("spec.nodeName={node}");
    let mut started = BTreeSet::new();
    while !stop.load(Ordering::SeqCst) {
        let pods = admin
            .get_json(&["pods", "-A", "--field-selector", &selector])
            .map(|list| list["items"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default();
        for pod in pods {
            let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let uid = pod["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if pod["metadata"]["deletionTimestamp"].is_string() {
                let _ = admin.run(&[
                    "delete",
                    "pod",
                    name,
                    "-n",
                    namespace,
                    "--grace-period=0",
                    "--force",
                    "--wait=false",
                ]);
                continue;
            }
            if pod["status"]["phase"] != "Pending" || !started.insert(uid) {
                continue;
            }
            let (code, output) = run_pod(&pod, binary);
            report(&admin, &pod, code);
            outputs
                .lock()
                .unwrap()
                .insert(format!("{namespace}/{name}"), (code, output));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Runs the pod's (single) container to completion: its exit code and output.
fn run_pod(pod: &Value, binary: &std::path::Path) -> (i32, String) {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let container = &pod["spec"]["containers"][0];
    let account = pod["spec"]["serviceAccountName"]
        .as_str()
        .unwrap_or("default");
    let kubeconfig = token_kubeconfig(account, namespace);
    let mut command = std::process::Command::new(binary);
    command.env_clear().env("KUBECONFIG", &kubeconfig);
    for arg in container["args"].as_array().into_iter().flatten() {
        command.arg(arg.as_str().unwrap_or_default());
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let value = match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("metadata.namespace") => namespace.to_string(),
            Some("metadata.name") => pod["metadata"]["name"].as_str().unwrap_or_default().into(),
            _ => var["value"].as_str().unwrap_or_default().to_string(),
        };
        command.env(var["name"].as_str().unwrap_or_default(), value);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn report(admin: &Kubectl, pod: &Value, code: i32) {
    let now = jiff::Timestamp::now().to_string();
    let container = &pod["spec"]["containers"][0];
    let (phase, reason) = if code == 0 {
        ("Succeeded", "Completed")
    } else {
        ("Failed", "Error")
    };
    let status = json!({"status": {
        "phase": phase,
        "startTime": now,
        "containerStatuses": [{
            "name": container["name"], "image": container["image"], "imageID": container["image"],
            "ready": false, "restartCount": 0, "started": false,
            "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now}}
        }]
    }});
    admin.ok(&[
        "patch",
        "pod",
        pod["metadata"]["name"].as_str().unwrap_or_default(),
        "-n",
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
}
