//! `kubectl accord`, run through kubectl's plugin mechanism as the static users.

mod support;

use std::{path::Path, process::Command, time::Duration};

use accord_e2e::{Kubectl, Operator, TestNamespace, cluster_dir, repo_root};
use serde_json::Value;
use support::*;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `kubectl accord <args>` as `user` (a static user, or "admin").
fn accord(user: &str, args: &[&str]) -> Run {
    let kubeconfig = if user == "admin" {
        cluster_dir().join("kubeconfig")
    } else {
        cluster_dir()
            .join("users")
            .join(format!("{user}.kubeconfig"))
    };
    accord_with(&kubeconfig, args)
}

/// `kubectl accord <TAB>` through kubectl's own plugin completion (1.26+): kubectl runs
/// `kubectl_complete-accord` (here a link to the plugin, as docs/plugin.md says) with the
/// words after `accord`, as alice (KUBECONFIG: kubectl drops its own flags for plugins).
fn kubectl_completes_the_plugin(namespace: &str) {
    let links = std::env::temp_dir().join(format!("accord-completion-{}", std::process::id()));
    std::fs::create_dir_all(&links).unwrap();
    let link = links.join("kubectl_complete-accord");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(repo_root().join("target/debug/kubectl-accord"), &link).unwrap();
    let path = format!(
        "{}:{}:{}",
        links.display(),
        repo_root().join("target/debug").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let alice = cluster_dir().join("users").join("alice.kubeconfig");
    let complete = |words: &[&str]| {
        let out = Command::new("kubectl")
            .arg("__complete")
            .arg("accord")
            .args(words)
            .env("PATH", &path)
            .env("KUBECONFIG", &alice)
            .output()
            .expect("kubectl runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = complete(&["st"]);
    assert_eq!(
        out, "status\tCandidate and active version, phase, conditions, and who attested what\n:4\n",
        "subcommands"
    );
    let out = complete(&["status", "-n", namespace, "fl"]);
    assert_eq!(
        out, "flags\n:4\n",
        "the namespace's ModelDeployments, as alice"
    );
    let out = complete(&["team", "add-key", ""]);
    assert!(out.lines().any(|l| l == "data-platform"), "{out}");
    let out = complete(&["attest", "flags", "-n", namespace, "--it"]);
    assert!(out.starts_with("--item\t"), "{out}");
    let _ = std::fs::remove_dir_all(&links);
}

fn accord_with(kubeconfig: &Path, args: &[&str]) -> Run {
    let bin_dir = repo_root().join("target/debug");
    assert!(
        bin_dir.join("kubectl-accord").exists(),
        "build it: cargo build --bin kubectl-accord"
    );
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("kubectl")
        .arg("accord")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("PATH", path)
        .output()
        .expect("kubectl runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_of(run: &Run) -> Value {
    assert!(run.ok, "failed: {}", run.stderr);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("-o json is not JSON ({e}): {}", run.stdout))
}

#[test]
fn teams_sign_off_and_review_through_the_plugin() {
    let _serial = accord_e2e::exclusive();
    let _operator = Operator::start("plugin", "accord-operator", &[]);
    let ns = TestNamespace::create("plugin");
    let n = ns.name.as_str();
    create(&model_deployment(n, "plug", "1.0.0"));
    wait_phase(n, "plug", "AwaitingAttestations", Duration::from_secs(30));

    // Status before anyone signed: every team owes its item.
    let run = accord("alice", &["status", "plug", "-n", n]);
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout.contains("Candidate: 1.0.0")
            && run.stdout.contains("Phase: AwaitingAttestations"),
        "{}",
        run.stdout
    );
    for owed in [
        "data-platform: drift",
        "ml-platform: latency",
        "payments-app: kpis",
    ] {
        assert!(
            run.stdout.contains(owed),
            "status lacks {owed:?}:\n{}",
            run.stdout
        );
    }

    // mallory's attempt prints the webhook's denial verbatim.
    let run = accord("mallory", &["attest", "plug", "--item", "drift", "-n", n]);
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("mallory is not a member of team data-platform, which owns item drift"),
        "{}",
        run.stderr
    );
    // Clear errors for an unknown item and an unknown ModelDeployment.
    let run = accord("alice", &["attest", "plug", "--item", "vibes", "-n", n]);
    assert!(
        !run.ok
            && run.stderr.contains("\"vibes\" is not on the checklist")
            && run.stderr.contains("drift, latency, kpis"),
        "{}",
        run.stderr
    );
    let run = accord("alice", &["status", "nope", "-n", n]);
    assert!(
        !run.ok
            && run
                .stderr
                .contains(&format!("ModelDeployment {n}/nope not found")),
        "{}",
        run.stderr
    );

    // alice, bob and carol sign off through the plugin.
    let run = accord(
        "alice",
        &[
            "attest",
            "plug",
            "--item",
            "drift",
            "--evidence",
            "https://ci.example.com/runs/7",
            "-n",
            n,
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("alice attests drift of plug 1.0.0 for team data-platform"),
        "{}",
        run.stdout
    );
    assert!(accord("bob", &["attest", "plug", "--item", "latency", "-n", n]).ok);
    let run = accord(
        "carol",
        &[
            "attest",
            "plug",
            "--item",
            "kpis",
            "--comment",
            "FPR fine",
            "-n",
            n,
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let att = Kubectl::admin()
        .get_json(&["attestation", "plug-1.0.0-kpis", "-n", n])
        .expect("named predictably");
    assert_eq!(att["spec"]["attestedBy"], "carol");
    wait_phase(n, "plug", "Serving", Duration::from_secs(60));

    let status = json_of(&accord("alice", &["status", "plug", "-n", n, "-o", "json"]));
    assert_eq!(status["phase"], "Serving");
    assert_eq!(status["checklist"][0]["attestedBy"], "alice");
    assert_eq!(
        status["checklist"][0]["evidence"],
        "https://ci.example.com/runs/7"
    );
    assert_eq!(status["owed"], serde_json::json!({}));

    let run = accord("bob", &["history", "plug", "-n", n]);
    assert!(
        run.ok
            && run.stdout.contains("Promoted")
            && run
                .stdout
                .contains("alice (drift), bob (latency), carol (kpis)"),
        "{}",
        run.stdout
    );
    let history = json_of(&accord("bob", &["history", "plug", "-n", n, "-o", "json"]));
    assert_eq!(history[0]["outcome"], "Promoted");

    // The responsibility matrix and the teams.
    create(&model_deployment(n, "waits", "3.0.0"));
    wait_phase(n, "waits", "AwaitingAttestations", Duration::from_secs(30));
    let run = accord("carol", &["matrix", "-n", n]);
    assert!(run.ok, "{}", run.stderr);
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{n}/waits")))
        .unwrap_or_else(|| panic!("no row:\n{}", run.stdout));
    assert!(
        row.contains("data-platform (owes drift)")
            && row.contains("ml-platform (owes latency)")
            && row.contains("payments-app (owes kpis)"),
        "{row}"
    );
    let served = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{n}/plug")))
        .unwrap();
    assert!(served.contains("data-platform ✓"), "{served}");
    let matrix = json_of(&accord("carol", &["matrix", "-A", "-o", "json"]));
    assert!(
        matrix
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["modelDeployment"] == format!("{n}/waits"))
    );
    let run = accord("alice", &["teams"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("data-platform"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        line.contains("group:data-platform-eng") && line.contains(&format!("{n}/waits")),
        "{line}"
    );
    let yaml = accord("alice", &["teams", "-o", "yaml"]);
    assert!(
        yaml.ok && yaml.stdout.contains("name: data-platform"),
        "{}",
        yaml.stdout
    );

    // Rollback: mallory is refused verbatim; bob's request is recorded.
    let run = accord("mallory", &["rollback", "plug", "-n", n]);
    assert!(
        !run.ok && run.stderr.contains("mallory may not request a rollback"),
        "{}",
        run.stderr
    );
    let run = accord("bob", &["rollback", "plug", "-n", n]);
    assert!(run.ok, "{}", run.stderr);
    let md = get_md(n, "plug");
    assert!(
        md["metadata"]["annotations"]["accord.dev/rollback-requested-at"]
            .as_str()
            .is_some_and(|v| v.ends_with('Z'))
    );

    // No cluster: a clear error.
    let broken = cluster_dir().join("unreachable.kubeconfig");
    let config = std::fs::read_to_string(cluster_dir().join("users/alice.kubeconfig")).unwrap();
    let server = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    std::fs::write(&broken, config.replace(&server, "https://127.0.0.1:1")).unwrap();
    let run = accord_with(&broken, &["status", "plug", "-n", n]);
    assert!(
        !run.ok
            && run
                .stderr
                .contains("cannot reach the cluster at https://127.0.0.1:1"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_plugin_impersonates_watches_and_completes_and_events_say_what_was_done() {
    let _serial = accord_e2e::exclusive();
    let _operator = Operator::start("plugin-flags", "accord-operator", &[]);
    let ns = TestNamespace::create("plugin-flags");
    let n = ns.name.as_str();

    let run = accord("alice", &["completion", "bash"]);
    assert!(
        run.ok && run.stdout.contains("kubectl-accord"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("complete -F"), "{}", run.stdout);

    create(&model_deployment(n, "flags", "1.0.0"));
    wait_phase(n, "flags", "AwaitingAttestations", Duration::from_secs(30));
    kubectl_completes_the_plugin(n);

    // --as: the admin sees what mallory is told, and attests as alice (impersonated,
    // with her group); carol may not impersonate anyone.
    let run = accord(
        "admin",
        &[
            "--as", "mallory", "attest", "flags", "--item", "drift", "-n", n,
        ],
    );
    assert!(!run.ok && run.stderr.contains("mallory"), "{}", run.stderr);
    let run = accord(
        "carol",
        &[
            "--as", "alice", "attest", "flags", "--item", "drift", "-n", n,
        ],
    );
    assert!(
        !run.ok && run.stderr.contains("impersonate"),
        "{}",
        run.stderr
    );
    let listed = Kubectl::admin()
        .get_json(&["attestations", "-n", n])
        .unwrap();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "nothing was admitted"
    );

    // --watch prints the status again when it changes.
    let bin_dir = repo_root().join("target/debug");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let log = cluster_dir().join("logs/plugin-watch.log");
    let mut watch = Command::new("kubectl")
        .args(["accord", "--kubeconfig"])
        .arg(cluster_dir().join("users/carol.kubeconfig"))
        .args(["status", "flags", "-n", n, "--watch"])
        .env("PATH", path)
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("kubectl accord status --watch");
    accord_e2e::poll("the first status", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("Phase: AwaitingAttestations")
            .then_some(())
            .ok_or(text)
    });
    let run = accord(
        "admin",
        &[
            "--as",
            "alice",
            "--as-group",
            "data-platform-eng",
            "attest",
            "flags",
            "--item",
            "drift",
            "-n",
            n,
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let att = Kubectl::admin()
        .get_json(&["attestation", "flags-1.0.0-drift", "-n", n])
        .expect("alice's attestation");
    assert_eq!(att["spec"]["attestedBy"], "alice", "the webhook saw alice");
    attest("bob", n, "flags", "latency", "1.0.0");
    attest("carol", n, "flags", "kpis", "1.0.0");
    let text = accord_e2e::poll(
        "the watch to print the promotion",
        Duration::from_secs(60),
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            (text.contains("Phase: Serving") && text.contains("\n--- "))
                .then_some(text.clone())
                .ok_or(text)
        },
    );
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(text.matches("ModelDeployment ").count() >= 2, "{text}");

    // Events name what was done.
    let events = Kubectl::admin()
        .get_json(&["events.events.k8s.io", "-n", n])
        .unwrap();
    let promoted = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "Promoted")
        .cloned()
        .expect("a Promoted Event");
    assert_eq!(promoted["action"], "Promote");
    let blocked = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "PromotionBlocked")
        .cloned()
        .expect("a PromotionBlocked Event");
    assert_eq!(blocked["action"], "BlockPromotion");
}
