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
//!
//! In **serve** mode ([`StandInNode::serve`]) a pod is a long-running server instead: its
//! process is started, the pod is reported Running and Ready (with the host's address
//! as its IP, once the container's port accepts connections), and the process is
//! killed when the pod is deleted. The API server's service proxy then reaches it as
//! it would reach any pod.

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

/// How the node runs its pods.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// To completion, reporting the exit code.
    Complete,
    /// As a server, Ready while it runs.
    Serve,
}

pub struct StandInNode {
    pub name: String,
    stop: Arc<AtomicBool>,
    outputs: Arc<Mutex<BTreeMap<String, (i32, String)>>>,
    thread: Option<JoinHandle<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

/// How often the node's status is posted, as a kubelet's heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Posts the node Ready with a fresh heartbeat, as a kubelet does: without one the node
/// lifecycle controller marks it unreachable and taints it.
fn post_ready(admin: &Kubectl, name: &str) {
    let now = jiff::Timestamp::now().to_string();
    let status = json!({"status": {
        "capacity": {"cpu": "2", "memory": "4Gi", "pods": "10"},
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "StandIn",
                        "message": "e2e stand-in kubelet",
                        "lastHeartbeatTime": now, "lastTransitionTime": now}]
    }});
    let _ = admin.run(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
}

impl StandInNode {
    /// Registers the Node and starts running the pods bound to it with `binary`.
    pub fn start(name: &str, binary: PathBuf) -> Self {
        Self::register(name, binary, Mode::Complete)
    }

    /// Registers the Node and serves each pod bound to it with `program` and the
    /// container's args, until the pod is deleted.
    pub fn serve(name: &str, program: PathBuf) -> Self {
        Self::register(name, program, Mode::Serve)
    }

    fn register(name: &str, binary: PathBuf, mode: Mode) -> Self {
        let admin = Kubectl::admin();
        // A Node of this name left by an earlier run (a static StandInNode is never
        // dropped) carries the node controller's unreachable taints: start afresh.
        admin.ok(&["delete", "node", name, "--ignore-not-found", "--wait=true"]);
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {LABEL: name, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
            "spec": {"taints": [{"key": LABEL, "value": name, "effect": "NoSchedule"}]}
        });
        let out = admin.apply(&node.to_string());
        assert!(out.success, "register node {name}: {}", out.stderr);
        post_ready(&admin, name);
        let stop = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (name, stop) = (name.to_string(), stop.clone());
            std::thread::spawn(move || {
                let admin = Kubectl::admin();
                let mut last = std::time::Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(250));
                    if last.elapsed() >= HEARTBEAT {
                        post_ready(&admin, &name);
                        last = std::time::Instant::now();
                    }
                }
            })
        };
        let outputs = Arc::new(Mutex::new(BTreeMap::new()));
        let thread = {
            let (name, stop, outputs) = (name.to_string(), stop.clone(), outputs.clone());
            std::thread::spawn(move || match mode {
                Mode::Complete => run_pods(&name, &binary, &stop, &outputs),
                Mode::Serve => serve_pods(&name, &binary, &stop),
            })
        };
        Self {
            name: name.to_string(),
            stop,
            outputs,
            thread: Some(thread),
            heartbeat: Some(heartbeat),
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
        for thread in [self.thread.take(), self.heartbeat.take()]
            .into_iter()
            .flatten()
        {
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
    patch_status(admin, pod, &status);
}

/// The host's first non-loopback IPv4 address: what a served pod reports as its IP
/// (the API server refuses to proxy to loopback).
pub fn host_ip() -> String {
    static IP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IP.get_or_init(|| {
        let out = std::process::Command::new("hostname")
            .arg("-I")
            .output()
            .expect("hostname -I runs");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find(|a| {
                a.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| !ip.is_loopback())
            })
            .expect("a non-loopback IPv4 address")
            .to_string()
    })
    .clone()
}

/// The pods bound to `node`, as JSON.
fn bound_pods(admin: &Kubectl, node: &str) -> Vec<Value> {
    admin
        .get_json(&[
            "pods",
            "-A",
            "--field-selector",
            &format!("spec.nodeName={node}"),
        ])
        .map(|list| list["items"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

/// Serve mode: starts each new pod's process, reports it Ready once it listens, and
/// kills it when the pod is deleted (or on stop).
fn serve_pods(node: &str, program: &std::path::Path, stop: &AtomicBool) {
    let admin = Kubectl::admin();
    let mut running: BTreeMap<String, std::process::Child> = BTreeMap::new();
    while !stop.load(Ordering::SeqCst) {
        let pods = bound_pods(&admin, node);
        let mut live = BTreeSet::new();
        for pod in &pods {
            let uid = pod["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if pod["metadata"]["deletionTimestamp"].is_string() {
                if let Some(mut child) = running.remove(&uid) {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                force_delete(&admin, pod);
                continue;
            }
            live.insert(uid.clone());
            if running.contains_key(&uid) {
                continue;
            }
            match start_server(pod, program) {
                Ok(child) => {
                    running.insert(uid, child);
                    report_serving(&admin, pod);
                }
                Err(code) => report(&admin, pod, code),
            }
        }
        // Pods gone from the list (deleted outright): stop their processes.
        running.retain(|uid, child| {
            let keep = live.contains(uid);
            if !keep {
                let _ = child.kill();
                let _ = child.wait();
            }
            keep
        });
        std::thread::sleep(Duration::from_millis(300));
    }
    for child in running.values_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn force_delete(admin: &Kubectl, pod: &Value) {
    let _ = admin.run(&[
        "delete",
        "pod",
        pod["metadata"]["name"].as_str().unwrap_or_default(),
        "-n",
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        "--grace-period=0",
        "--force",
        "--wait=false",
    ]);
}

/// Starts the pod's server and waits (up to 5 s) until its first container port
/// accepts connections; an early exit is the exit code.
fn start_server(pod: &Value, program: &std::path::Path) -> Result<std::process::Child, i32> {
    let container = &pod["spec"]["containers"][0];
    let mut command = std::process::Command::new(program);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for arg in container["args"].as_array().into_iter().flatten() {
        command.arg(arg.as_str().unwrap_or_default());
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let Some(port) = container["ports"][0]["containerPort"].as_u64() else {
        return Ok(child);
    };
    let address = format!("{}:{port}", host_ip());
    for _ in 0..50 {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(status.code().unwrap_or(-1));
        }
        if std::net::TcpStream::connect(&address).is_ok() {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(child)
}

/// Reports a served pod Running and Ready at the host's address.
fn report_serving(admin: &Kubectl, pod: &Value) {
    let now = jiff::Timestamp::now().to_string();
    let ip = host_ip();
    let container = &pod["spec"]["containers"][0];
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now});
    let status = json!({"status": {
        "phase": "Running",
        "hostIP": ip, "hostIPs": [{"ip": ip}], "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [condition("PodScheduled"), condition("Initialized"), condition("ContainersReady"), condition("Ready")],
        "containerStatuses": [{
            "name": container["name"], "image": container["image"], "imageID": container["image"],
            "ready": true, "restartCount": 0, "started": true,
            "state": {"running": {"startedAt": now}}
        }]
    }});
    patch_status(admin, pod, &status);
}

/// Merge-patches a pod's status, as its kubelet does.
fn patch_status(admin: &Kubectl, pod: &Value, status: &Value) {
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
