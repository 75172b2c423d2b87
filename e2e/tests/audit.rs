//! Audit records on the real control plane: every promotion, auto-approval and rollback
//! leaves exactly one signed PromotionRecord whose predicate matches the history and
//! the Attestations; records outlive the 20-entry history, the operator's restart and
//! a key rotation; nobody but the operator writes them; an admin deleting one shows as
//! a gap in `audit verify`; the envelopes verify with Python's securesystemslib (not
//! Accord's code); and conformance reports (plugin and metric) follow policy, expiry,
//! keys and membership, and vanish when fixed.

mod support;

use std::{path::Path, process::Command, time::Duration};

use accord_e2e::{Kubectl, Operator, TestNamespace, poll, repo_root};
use base64::Engine as _;
use serde_json::{Value, json};
use support::{attest_as_named, create, get_md, patch_md, serving};

const WAIT: Duration = Duration::from_secs(90);

fn accord(user: &str, args: &[&str]) -> (bool, String, String) {
    accord_e2e::plugin_as(user, args)
}

/// The namespace's PromotionRecords, by sequence.
fn records(namespace: &str) -> Vec<Value> {
    let list = Kubectl::admin()
        .get_json(&["promotionrecords", "-n", namespace])
        .expect("PromotionRecords list");
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(|r| r["spec"]["sequence"].as_i64());
    items
}

fn wait_records(namespace: &str, n: usize) -> Vec<Value> {
    poll(&format!("{n} PromotionRecords"), WAIT, || {
        let found = records(namespace);
        (found.len() >= n)
            .then(|| found.clone())
            .ok_or_else(|| format!("{} records", found.len()))
    })
}

/// A record's signed Statement (decoded, not verified: `audit verify` does that).
fn statement(record: &Value) -> Value {
    let payload = base64::engine::general_purpose::STANDARD
        .decode(record["spec"]["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Exports `namespace`'s records and the published keys into `dir`: (records, keys).
fn export(dir: &Path, namespace: &str) -> (String, String) {
    let (ok, keys, err) = accord("alice", &["audit", "key"]);
    assert!(ok, "audit key: {err}");
    let (ok, lines, err) = accord("alice", &["audit", "export", "-n", namespace]);
    assert!(ok, "audit export: {err}");
    (
        write(dir, "records.jsonl", &lines),
        write(dir, "accord.pub", &keys),
    )
}

/// The independent check: Python's securesystemslib and jsonschema, no Accord code.
fn verify_independently(records: &str, keys: &[&str]) -> (bool, String) {
    let python = Command::new(repo_root().join("hack/python-tools.sh"))
        .output()
        .expect("hack/python-tools.sh runs");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let python = String::from_utf8_lossy(&python.stdout).trim().to_string();
    let out = Command::new(python)
        .arg(repo_root().join("e2e/audit/verify_independent.py"))
        .arg(records)
        .args(keys)
        .output()
        .expect("the independent verifier runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn request_rollback(namespace: &str, name: &str) {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    Kubectl::user("bob").ok(&[
        "annotate",
        "md",
        name,
        "-n",
        namespace,
        &format!("accord.dev/rollback-requested-at={now}"),
        "--overwrite",
    ]);
}

fn set_release(namespace: &str, name: &str, version: &str, data: &str) {
    patch_md(
        namespace,
        name,
        json!({"spec": {
            "model": {"version": version, "trainingData": {"digest": data}},
            "serving": {"image": format!("registry.example.com/{name}:{version}")}
        }}),
    );
}

fn wait_active(namespace: &str, name: &str, version: &str) -> Value {
    poll(&format!("{version} to serve"), WAIT, || {
        let md = get_md(namespace, name);
        (md["status"]["activeVersion"] == version && md["status"]["phase"] == "Serving")
            .then(|| md.clone())
            .ok_or_else(|| md["status"]["phase"].to_string())
    })
}

/// A policy auto-approving patch releases on the same training data, for models
/// labelled `selector`.
fn auto_approve_policy(name: &str, selector: &str) {
    create(&json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {selector: "yes"}},
            "autoApprove": [{"name": "patch-releases", "items": ["drift", "latency", "kpis"],
                "description": "a patch release on the same training data changes no evidence"}]
        }
    }));
}

#[test]
fn promotion_auto_approval_and_rollback_each_leave_one_signed_record() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("audit", "accord-operator", &["--cluster-name", "e2e-local"]);
    let ns = TestNamespace::create("audit-records");
    let n = ns.name.as_str();
    let selector = format!("accord-e2e-audit-{n}");
    let policy = format!("{n}-patches");
    auto_approve_policy(&policy, &selector);
    let data = format!("sha256:{}", "d".repeat(64));
    let digest = format!("sha256:{}", "e".repeat(64));

    // 1.0.0, with its artifact digest, signed off by alice, bob and carol.
    let mut manifest = support::model_deployment(n, "fraud", "1.0.0");
    manifest["metadata"]["labels"] = json!({selector.clone(): "yes"});
    manifest["spec"]["model"]["trainingData"] = json!({"digest": data});
    manifest["spec"]["model"]["digest"] = json!(digest);
    create(&manifest);
    for (user, item) in [("alice", "drift"), ("bob", "latency"), ("carol", "kpis")] {
        support::create_as(
            user,
            &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
                "metadata": {"name": format!("fraud-1.0.0-{item}"), "namespace": n},
                "spec": {"modelDeployment": "fraud", "item": item, "version": "1.0.0",
                         "digest": digest}}),
        );
    }
    let md = support::wait_phase(n, "fraud", "Serving", WAIT);
    let found = wait_records(n, 1);
    assert_eq!(found.len(), 1, "exactly one record of the promotion");
    let first = &found[0];
    let entry = support::last_history(&md);
    assert_eq!(
        entry["record"], first["metadata"]["name"],
        "the history names its record"
    );
    assert_eq!(first["spec"]["sequence"], 1);
    assert_eq!(first["spec"]["action"], "Promoted");
    let s = statement(first);
    assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(s["predicateType"], "https://accord.dev/promotion/v1");
    assert_eq!(s["subject"][0]["name"], "fraud");
    assert_eq!(s["subject"][0]["digest"]["sha256"], "e".repeat(64));
    let p = &s["predicate"];
    assert_eq!(p["cluster"], "e2e-local");
    assert_eq!(p["model"]["uid"], md["metadata"]["uid"]);
    assert_eq!(p["version"], "1.0.0");
    assert_eq!(p["fingerprint"], entry["fingerprint"]);
    assert!(p["previous"].is_null());
    // Each approver matches the history's approvals and the Attestation itself.
    let approvals = entry["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 3);
    for approval in approvals {
        let item = p["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == approval["item"])
            .unwrap_or_else(|| panic!("{approval} in {p}"));
        let approver = &item["approvers"][0];
        assert_eq!(approver["user"], approval["attestedBy"]);
        assert_eq!(approver["how"], "InCluster");
        let name = approver["attestation"].as_str().unwrap();
        let att = Kubectl::admin()
            .get_json(&["attestation", name, "-n", n])
            .expect("the Attestation");
        assert_eq!(approver["uid"], att["metadata"]["uid"]);
        assert_eq!(approver["givenAt"], att["metadata"]["creationTimestamp"]);
        assert_eq!(item["team"], att["spec"]["team"]);
    }

    // 1.0.1 on the same data is auto-approved: one record, with the rule.
    set_release(n, "fraud", "1.0.1", &data);
    wait_active(n, "fraud", "1.0.1");
    let found = wait_records(n, 2);
    assert_eq!(found.len(), 2);
    let auto = statement(&found[1]);
    assert_eq!(auto["predicate"]["action"], "AutoApproved");
    assert_eq!(auto["predicate"]["previousVersion"], "1.0.0");
    let approver = &auto["predicate"]["items"][0]["approvers"][0];
    assert_eq!(approver["how"], "AutoApproved");
    assert_eq!(
        approver["rule"],
        format!("HandoffPolicy/{policy} rule patch-releases")
    );
    assert_eq!(
        auto["predicate"]["previous"]["name"],
        found[0]["metadata"]["name"]
    );
    assert_eq!(
        auto["predicate"]["previous"]["digest"],
        found[0]["spec"]["digest"]
    );

    // bob rolls 1.0.1 back: one record of the rollback.
    request_rollback(n, "fraud");
    poll("the rollback", WAIT, || {
        let md = get_md(n, "fraud");
        (md["status"]["activeVersion"] == "1.0.0")
            .then_some(())
            .ok_or_else(|| md["status"]["phase"].to_string())
    });
    let found = wait_records(n, 3);
    std::thread::sleep(Duration::from_secs(3));
    let found_later = records(n);
    assert_eq!(found_later.len(), 3, "exactly one record each: {found:#?}");
    let back = statement(&found[2]);
    assert_eq!(back["predicate"]["action"], "RolledBack");
    assert_eq!(back["predicate"]["version"], "1.0.0");
    assert_eq!(back["predicate"]["previousVersion"], "1.0.1");
    let md = get_md(n, "fraud");
    let names: Vec<&Value> = md["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["record"])
        .collect();
    let expected: Vec<&Value> = found.iter().map(|r| &r["metadata"]["name"]).collect();
    assert_eq!(names, expected, "each history entry names its record");

    // Exported, the chain verifies with the plugin and with securesystemslib.
    let dir = tempdir("audit-records");
    let (jsonl, keys) = export(&dir, n);
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), 3);
    let (ok, out, err) = accord("alice", &["audit", "verify", &jsonl, "--key", &keys]);
    assert!(ok, "audit verify failed: {out}{err}");
    assert_eq!(out.matches(" ok").count(), 3, "{out}");
    let (ok, out) = verify_independently(&jsonl, &[&keys]);
    assert!(ok, "securesystemslib did not verify: {out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        3,
        "{out}"
    );

    // `kubectl accord history` names the records.
    let (ok, out, err) = accord("alice", &["history", "fraud", "-n", n]);
    assert!(ok, "{err}");
    for name in &expected {
        assert!(out.contains(name.as_str().unwrap()), "{out}");
    }

    // An admin deletes the middle record: a fresh export no longer verifies, and says
    // which record is missing.
    let middle = found[1]["metadata"]["name"].as_str().unwrap();
    Kubectl::admin().ok(&["delete", "promotionrecord", middle, "-n", n]);
    let (jsonl, keys) = export(&dir, n);
    let (ok, out, err) = accord("alice", &["audit", "verify", &jsonl, "--key", &keys]);
    assert!(!ok, "a chain with a gap verified: {out}");
    assert!(out.contains("gap") && out.contains(middle), "{out}{err}");
    Kubectl::admin().ok(&["delete", "handoffpolicy", &policy]);
}

#[test]
fn an_editor_cannot_create_change_or_delete_a_record() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("audit-attacks", "accord-operator", &[]);
    let ns = TestNamespace::create("audit-attacks");
    let n = ns.name.as_str();
    serving(n, "fraud", "1.0.0", |_| {});
    let record = wait_records(n, 1).remove(0);
    let name = record["metadata"]["name"].as_str().unwrap().to_string();
    let stored = || {
        Kubectl::admin()
            .get_json(&["promotionrecord", &name, "-n", n])
            .expect("the record is still there")
    };
    let before = stored();

    // alice may edit ModelDeployments and create Attestations, not records.
    let mut forged = record.clone();
    forged["metadata"] = json!({"name": "fraud-forged", "namespace": n});
    forged["spec"]["version"] = json!("9.9.9");
    let out =
        Kubectl::user("alice").run_with_stdin(&["create", "-f", "-"], Some(&forged.to_string()));
    assert!(!out.success, "alice created a record");
    assert!(
        out.stderr.contains("forbidden") || out.stderr.contains("denied"),
        "{}",
        out.stderr
    );
    assert!(
        Kubectl::admin()
            .get_json(&["promotionrecord", "fraud-forged", "-n", n])
            .is_none()
    );
    for (who, patch) in [
        ("alice", json!({"spec": {"version": "9.9.9"}})),
        ("admin", json!({"spec": {"version": "9.9.9"}})),
    ] {
        let kubectl = if who == "admin" {
            Kubectl::admin()
        } else {
            Kubectl::user(who)
        };
        let out = kubectl.run(&[
            "patch",
            "promotionrecord",
            &name,
            "-n",
            n,
            "--type",
            "merge",
            "-p",
            &patch.to_string(),
        ]);
        assert!(!out.success, "{who} changed a record's spec");
    }
    let out = Kubectl::user("alice").run(&[
        "patch",
        "promotionrecord",
        &name,
        "-n",
        n,
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        r#"{"status": {"x": 1}}"#,
    ]);
    assert!(!out.success, "alice wrote a record's status");
    let out = Kubectl::user("alice").run(&["delete", "promotionrecord", &name, "-n", n]);
    assert!(!out.success, "alice deleted a record");
    // mallory, who owns nothing, fares no better.
    let out = Kubectl::user("mallory").run(&["delete", "promotionrecord", &name, "-n", n]);
    assert!(!out.success, "mallory deleted a record");
    assert_eq!(stored()["spec"], before["spec"]);
    assert_eq!(
        stored()["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"],
        "nothing about the record changed"
    );

    // Deleting and re-creating the ModelDeployment under the same name starts another
    // chain; the old one's record stays.
    Kubectl::admin().ok(&["delete", "md", "fraud", "-n", n, "--wait=true"]);
    serving(n, "fraud", "1.0.1", |_| {});
    let found = wait_records(n, 2);
    assert_eq!(found.len(), 2);
    let uids: Vec<&Value> = found.iter().map(|r| &r["spec"]["modelUid"]).collect();
    assert_ne!(uids[0], uids[1]);
    assert!(
        found.iter().all(|r| r["spec"]["sequence"] == 1),
        "{found:#?}"
    );
    assert_eq!(stored()["spec"], before["spec"]);
}

fn tempdir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("accord-e2e-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn twenty_five_promotions_keep_twenty_five_records_through_restart_and_rotation() {
    let _guard = accord_e2e::exclusive();
    let mut operator = Operator::start("audit-chain", "accord-operator", &[]);
    let ns = TestNamespace::create("audit-chain");
    let n = ns.name.as_str();
    let selector = format!("accord-e2e-audit-{n}");
    let policy = format!("{n}-patches");
    auto_approve_policy(&policy, &selector);
    let data = format!("sha256:{}", "c".repeat(64));
    serving(n, "fraud", "1.0.0", |md| {
        md["metadata"]["labels"] = json!({selector.clone(): "yes"});
        md["spec"]["model"]["trainingData"] = json!({"digest": data});
    });
    for patch in 1..=12 {
        let version = format!("1.0.{patch}");
        set_release(n, "fraud", &version, &data);
        wait_active(n, "fraud", &version);
    }
    wait_records(n, 13);

    // The operator stops; its record key is rotated; it starts again.
    let dir = tempdir("audit-chain");
    let (_, old_keys) = export(&dir, n);
    let old_keys = std::fs::read_to_string(old_keys).unwrap();
    operator.terminate();
    // A key id and seed of this run only (a reused cluster keeps earlier rotations).
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = format!("e2e-{stamp}");
    let seed: [u8; 32] = std::array::from_fn(|i| (stamp >> (i % 16 * 8)) as u8 ^ i as u8);
    let seed = base64::engine::general_purpose::STANDARD.encode(seed);
    let previous_active = Kubectl::admin()
        .get_json(&["secret", "accord-record-keys", "-n", "accord-system"])
        .expect("the record key Secret")["data"]["active"]
        .clone();
    let active = base64::engine::general_purpose::STANDARD.encode(&id);
    patch_record_keys(&json!({"data": {id: seed, "active": active}}));
    let _operator = Operator::start("audit-chain-2", "accord-operator", &[]);
    for patch in 13..=24 {
        let version = format!("1.0.{patch}");
        set_release(n, "fraud", &version, &data);
        wait_active(n, "fraud", &version);
    }
    let found = wait_records(n, 25);
    assert_eq!(found.len(), 25, "every promotion keeps its record");
    let md = get_md(n, "fraud");
    assert_eq!(
        md["status"]["history"].as_array().unwrap().len(),
        20,
        "the history keeps 20"
    );
    assert_eq!(md["status"]["recordSequence"], 25);

    // Everything verifies with the published keys, old and new; the old records with
    // the old key alone, and no new record does.
    let (jsonl, keys) = export(&dir, n);
    let published = std::fs::read_to_string(&keys).unwrap();
    assert!(
        published.matches("BEGIN PUBLIC KEY").count() >= 2,
        "{published}"
    );
    let (ok, out, err) = accord("alice", &["audit", "verify", &jsonl, "--key", &keys]);
    assert!(ok, "{out}{err}");
    assert_eq!(out.matches(" ok").count(), 25, "{out}");
    let old_only = write(&dir, "old.pub", &old_keys);
    let (ok, out, _) = accord("alice", &["audit", "verify", &jsonl, "--key", &old_only]);
    assert!(
        !ok,
        "records signed after the rotation verified with the old key"
    );
    assert_eq!(out.matches(" ok").count(), 13, "{out}");
    let (ok, out) = verify_independently(&jsonl, &[&keys]);
    assert!(ok, "{out}");

    // Put the original key back in charge for the other suites.
    patch_record_keys(&json!({"data": {"active": previous_active}}));
    Kubectl::admin().ok(&["delete", "handoffpolicy", &policy]);
}

/// Merge-patches the record key Secret as the cluster admin (a rotation).
fn patch_record_keys(patch: &Value) {
    Kubectl::admin().ok(&[
        "patch",
        "secret",
        "accord-record-keys",
        "-n",
        "accord-system",
        "--type",
        "merge",
        "-p",
        &patch.to_string(),
    ]);
}

/// The `accord_conformance_violations` series of `namespace`, as "team kind value".
fn violations_metric(operator: &Operator, namespace: &str) -> Vec<String> {
    let text = operator.http_get("/metrics").unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("accord_conformance_violations{"))
        .filter(|l| l.contains(&format!("namespace=\"{namespace}\"")))
        .map(String::from)
        .collect()
}

/// `audit report -o json` rows of `namespace`: (model, team, kind, item).
fn report(namespace: &str) -> Vec<(String, String, String, String)> {
    let (ok, out, err) = accord("admin", &["audit", "report", "-A", "-o", "json"]);
    assert!(ok, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    rows.iter()
        .filter(|r| r["namespace"] == namespace)
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("modelDeployment"), s("team"), s("kind"), s("item"))
        })
        .collect()
}

fn wait_conformance(
    operator: &Operator,
    namespace: &str,
    what: &str,
    expected: &[(&str, &str, &str, &str)],
) {
    poll(what, WAIT, || {
        let rows = report(namespace);
        let want: Vec<(String, String, String, String)> = expected
            .iter()
            .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
            .collect();
        let metric = violations_metric(operator, namespace);
        let metric_ok = expected.iter().all(|(_, team, kind, _)| {
            metric.iter().any(|l| {
                l.contains(&format!("team=\"{team}\"")) && l.contains(&format!("kind=\"{kind}\""))
            })
        }) && (!expected.is_empty() || metric.is_empty());
        (rows == want && metric_ok)
            .then_some(())
            .ok_or_else(|| format!("report {rows:?}, metric {metric:?}"))
    });
}

#[test]
fn conformance_follows_policies_expiry_keys_and_membership_and_clears_when_fixed() {
    let _guard = accord_e2e::exclusive();
    let operator = Operator::start("audit-conformance", "accord-operator", &[]);
    let ns = TestNamespace::create("audit-conf");
    let n = ns.name.as_str();
    let (data, platform, app) = (
        format!("{n}-data"),
        format!("{n}-platform"),
        format!("{n}-app"),
    );
    for (team, user) in [(&data, "alice"), (&platform, "bob"), (&app, "carol")] {
        create(
            &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": team},
            "spec": {"members": {"users": [user]}}}),
        );
    }
    let selector = format!("accord-e2e-conf-{n}");
    serving(n, "scorer", "1.0.0", |md| {
        md["metadata"]["labels"] = json!({selector.clone(): "yes"});
        md["spec"]["owners"] = json!({"data": data, "platform": platform, "application": app});
    });
    wait_conformance(&operator, n, "a conforming model", &[]);

    // A policy added since requires an item nobody signed: reported, not enforced.
    let privacy = format!("{n}-privacy");
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": privacy},
        "spec": {"selector": {"matchLabels": {selector.clone(): "yes"}},
                 "requiredItems": [{"id": "privacy-review", "owner": "data"}]}}),
    );
    wait_conformance(
        &operator,
        n,
        "the new item",
        &[("scorer", &data, "NewPolicyItem", "privacy-review")],
    );
    assert_eq!(
        get_md(n, "scorer")["status"]["activeVersion"],
        "1.0.0",
        "nothing is taken down"
    );
    attest_as_named(
        "alice",
        n,
        "scorer",
        "privacy-review",
        "1.0.0",
        "scorer-privacy",
    );
    wait_conformance(&operator, n, "the item signed", &[]);

    // bob leaves the platform Team: his sign-off no longer counts.
    patch_team(&platform, json!({"spec": {"members": {"users": ["dave"]}}}));
    wait_conformance(
        &operator,
        n,
        "bob gone",
        &[("scorer", &platform, "NotInTeam", "latency")],
    );
    patch_team(&platform, json!({"spec": {"members": {"users": ["bob"]}}}));
    wait_conformance(&operator, n, "bob back", &[]);

    // A maxAge policy: the sign-offs expire while the version serves.
    let fresh = format!("{n}-fresh");
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": fresh},
        "spec": {"selector": {"matchLabels": {selector.clone(): "yes"}},
                 "attestations": {"maxAge": "30s"}}}),
    );
    poll("the sign-offs to expire", WAIT, || {
        let rows = report(n);
        (rows.len() == 4 && rows.iter().all(|r| r.2 == "ExpiredSignOff"))
            .then_some(())
            .ok_or_else(|| format!("{rows:?}"))
    });
    assert!(
        violations_metric(&operator, n)
            .iter()
            .any(|l| l.contains("kind=\"ExpiredSignOff\""))
    );
    Kubectl::admin().ok(&["delete", "handoffpolicy", &fresh]);
    wait_conformance(&operator, n, "the maxAge policy gone", &[]);

    // A signed sign-off whose Team key is revoked.
    signed_sign_off_then_revoked(&operator, n, &app);

    Kubectl::admin().ok(&["delete", "handoffpolicy", &privacy]);
}

fn patch_team(team: &str, patch: Value) {
    Kubectl::admin().ok(&[
        "patch",
        "team",
        team,
        "--type",
        "merge",
        "-p",
        &patch.to_string(),
    ]);
}

/// carol signs an extra required item with her SSH key; the app Team revokes the key.
fn signed_sign_off_then_revoked(operator: &Operator, n: &str, app: &str) {
    let dir = tempdir("audit-conf-keys");
    let (key, public) = accord_e2e::keygen(&dir, "carol");
    patch_team(
        app,
        json!({"spec": {"signingKeys": [{"user": "carol", "key": public}]}}),
    );
    let signed = format!("{n}-signed");
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "HandoffPolicy",
        "metadata": {"name": signed},
        "spec": {"selector": {"matchLabels": {format!("accord-e2e-conf-{n}"): "yes"}},
                 "requiredItems": [{"id": "bias-review", "owner": "application"}]}}),
    );
    wait_conformance(
        operator,
        n,
        "bias-review owed",
        &[("scorer", app, "NewPolicyItem", "bias-review")],
    );
    let (ok, manifest, err) = accord(
        "carol",
        &[
            "attest",
            "scorer",
            "-n",
            n,
            "--item",
            "bias-review",
            "--sign",
            "--key",
            &key.display().to_string(),
        ],
    );
    assert!(ok, "carol could not sign: {err}");
    let out = Kubectl::user("carol").run_with_stdin(&["create", "-f", "-"], Some(&manifest));
    assert!(out.success, "{}", out.stderr);
    wait_conformance(operator, n, "bias-review signed", &[]);
    patch_team(app, json!({"spec": {"signingKeys": []}}));
    wait_conformance(
        operator,
        n,
        "the key revoked",
        &[("scorer", app, "KeyRevoked", "bias-review")],
    );
    patch_team(
        app,
        json!({"spec": {"signingKeys": [{"user": "carol", "key": public}]}}),
    );
    wait_conformance(operator, n, "the key restored", &[]);
    Kubectl::admin().ok(&["delete", "handoffpolicy", &signed]);
}

#[test]
fn record_retention_deletes_only_records_older_than_it() {
    let _guard = accord_e2e::exclusive();
    let mut operator = Operator::start("audit-retention", "accord-operator", &[]);
    let ns = TestNamespace::create("audit-retention");
    let n = ns.name.as_str();
    serving(n, "fraud", "1.0.0", |_| {});
    let old = wait_records(n, 1).remove(0);
    operator.terminate();
    std::thread::sleep(Duration::from_secs(3));
    // Started with a 2 s retention, the operator deletes the 1.0.0 record at once, and
    // the record of the promotion it then makes stays (the next sweep is 5 minutes away).
    let _operator = Operator::start(
        "audit-retention-2",
        "accord-operator",
        &["--record-retention=2s"],
    );
    poll("the old record to be deleted", WAIT, || {
        let found = records(n);
        (!found
            .iter()
            .any(|r| r["metadata"]["name"] == old["metadata"]["name"]))
        .then_some(())
        .ok_or_else(|| format!("{} records", found.len()))
    });
    patch_md(
        n,
        "fraud",
        json!({"spec": {"model": {"version": "1.0.2"}, "serving": {"image": "registry.example.com/fraud:1.0.2"}}}),
    );
    support::attest_all(n, "fraud", "1.0.2");
    wait_active(n, "fraud", "1.0.2");
    let found = wait_records(n, 1);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0]["spec"]["sequence"], 2,
        "the chain goes on after the deleted record"
    );
    // An export now starts mid-chain: said, not failed.
    let dir = tempdir("audit-retention");
    let (jsonl, keys) = export(&dir, n);
    let (ok, out, err) = accord("alice", &["audit", "verify", &jsonl, "--key", &keys]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("chain starts here"), "{out}");
}
