//! The red team: attempts by ordinary users to get a model promoted around its owners,
//! on the real local cluster, with RBAC granted so that only Accord can say no
//! (`e2e/manifests/red-team-rbac.yaml`). Every attempt is named in one comment
//! ("Attempt N: what it tries → the secure outcome") and asserts both the answer and
//! the stored state afterwards. docs/security.md maps each class to its control.

mod support;

use std::time::Duration;

use accord_e2e::{
    Kubectl, Output, TestNamespace, Unchanged, apply_file, assert_denied_by_accord,
    assert_not_stored, assert_refused_by_rbac, events_for, poll,
};
use serde_json::{Value, json};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// The binary's operator, and the red-team ClusterRoles.
fn setup() {
    accord_e2e::shared_operator("red-team");
    apply_file("e2e/manifests/red-team-rbac.yaml");
}

/// A namespace where every authenticated user has the red-team rights.
fn arena(prefix: &str) -> TestNamespace {
    setup();
    let ns = TestNamespace::create(prefix);
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "red-team", "namespace": ns.name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]
    });
    let out = Kubectl::admin().apply(&binding.to_string());
    assert!(out.success, "{}", out.stderr);
    ns
}

fn kubectl(user: &str) -> Kubectl {
    if user == "admin" {
        Kubectl::admin()
    } else {
        Kubectl::user(user)
    }
}

fn run(user: &str, args: &[&str]) -> Output {
    kubectl(user).run(args)
}

fn run_with(user: &str, args: &[&str], stdin: &Value) -> Output {
    kubectl(user).run_with_stdin(args, Some(&stdin.to_string()))
}

/// The request was refused by the API server's own validation (the schema and its
/// rules, or a conflict), with `expect` in the answer. Accord's denials are checked with
/// `assert_denied_by_accord`, RBAC's with `assert_refused_by_rbac`.
#[track_caller]
fn refused(what: &str, out: &Output, expect: &str) {
    assert!(!out.success, "{what}: was allowed: {}", out.stdout);
    assert!(
        out.stderr.contains(expect),
        "{what}: answer lacks {expect:?}: {}",
        out.stderr
    );
}

#[track_caller]
fn allowed(what: &str, out: &Output) {
    assert!(out.success, "{what}: refused: {}", out.stderr);
}

fn attestation(n: &str, name: &str, md: &str, item: &str, version: &str) -> Value {
    json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
           "metadata": {"name": name, "namespace": n},
           "spec": {"modelDeployment": md, "item": item, "version": version}})
}

fn attest_as(user: &str, n: &str, name: &str, md: &str, item: &str, version: &str) -> Output {
    run_with(
        user,
        &["create", "-f", "-"],
        &attestation(n, name, md, item, version),
    )
}

/// The attempt: `user` creates `attestation` with `kubectl create FLAGS -f -`. The
/// secure outcome: Accord denies it with every fragment of `expect`, and nothing of its
/// name is stored.
#[track_caller]
fn attestation_denied(
    case: &str,
    user: &str,
    flags: &[&str],
    attestation: &Value,
    expect: &[&str],
) {
    let mut args = vec!["create"];
    args.extend_from_slice(flags);
    args.extend(["-f", "-"]);
    assert_denied_by_accord(case, &run_with(user, &args, attestation), expect);
    let metadata = &attestation["metadata"];
    if let (Some(n), Some(name)) = (metadata["namespace"].as_str(), metadata["name"].as_str()) {
        assert_not_stored(case, "attestation", Some(n), name);
    }
}

fn stored_attestation(n: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&["attestation", name, "-n", n])
}

/// Waits until the operator has decided on the ModelDeployment's current spec.
fn settled(n: &str, name: &str) -> Value {
    poll(&format!("{n}/{name} to be reconciled"), WAIT, || {
        let md = get_md(n, name);
        let seen = md["status"]["observedGeneration"] == md["metadata"]["generation"];
        seen.then(|| md.clone())
            .ok_or_else(|| md["status"].to_string())
    })
}

fn history(md: &Value) -> Vec<Value> {
    md["status"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn patch(user: &str, n: &str, kind: &str, name: &str, patch_type: &str, body: &str) -> Output {
    run(
        user,
        &[
            "patch", kind, name, "-n", n, "--type", patch_type, "-p", body,
        ],
    )
}

fn patch_status(user: &str, n: &str, kind: &str, name: &str, body: &str) -> Output {
    run(
        user,
        &[
            "patch",
            kind,
            name,
            "-n",
            n,
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            body,
        ],
    )
}

fn count_events(n: &str, kind: &str, name: &str, reason: &str) -> u64 {
    events_for(n, kind, name)
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| e.count)
        .sum()
}

/// Serves `name` 1.0.0 signed off by alice, bob and carol (the candidate's author is
/// the admin who created it).
fn serving_model(n: &str, name: &str) -> Value {
    serving(n, name, "1.0.0", |_| {})
}

#[test]
fn sign_off_binds_to_exactly_what_runs() {
    let ns = arena("rt-candidate");
    let n = ns.name.as_str();
    serving_model(n, "fraud");
    let signed = get_md(n, "fraud");
    let fingerprint = signed["status"]["candidate"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        fingerprint.starts_with("sha256:"),
        "status shows the fingerprint"
    );

    // Attempt 1: keep version and digest, swap the image → a new candidate; the old
    // sign-off does not count; the Deployment keeps running the signed image.
    allowed(
        "image swap",
        &patch(
            "bob",
            n,
            "md",
            "fraud",
            "merge",
            r#"{"spec":{"serving":{"image":"registry.example.com/evil:1.0.0"}}}"#,
        ),
    );
    let md = settled(n, "fraud");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert_ne!(
        md["status"]["candidate"]["fingerprint"],
        fingerprint.as_str()
    );
    assert_eq!(history(&md).len(), 1);
    assert_eq!(
        deployment_image(n, "fraud").as_deref(),
        Some("registry.example.com/fraud:1.0.0")
    );

    // Attempt 2: change only the artifact location → a new candidate, not promoted.
    allowed(
        "artifact",
        &patch(
            "bob",
            n,
            "md",
            "fraud",
            "merge",
            r#"{"spec":{"serving":{"image":"registry.example.com/fraud:1.0.0"},"model":{"artifact":"s3://evil/model"}}}"#,
        ),
    );
    let md = settled(n, "fraud");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert_eq!(history(&md).len(), 1);

    // Attempt 3: add an environment variable (what runs) → a new candidate.
    allowed(
        "env",
        &patch(
            "bob",
            n,
            "md",
            "fraud",
            "json",
            r#"[{"op":"remove","path":"/spec/model/artifact"},{"op":"add","path":"/spec/serving/env","value":[{"name":"MODE","value":"exfiltrate"}]}]"#,
        ),
    );
    let md = settled(n, "fraud");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    let d = deployment(n, "fraud").unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["env"].is_null(),
        "{}",
        d["spec"]
    );

    // Attempt 4: add arguments → a new candidate.
    allowed(
        "args",
        &patch(
            "bob",
            n,
            "md",
            "fraud",
            "json",
            r#"[{"op":"remove","path":"/spec/serving/env"},{"op":"add","path":"/spec/serving/args","value":["--debug-shell"]}]"#,
        ),
    );
    let md = settled(n, "fraud");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert!(
        deployment(n, "fraud").unwrap()["spec"]["template"]["spec"]["containers"][0]["args"]
            .is_null()
    );

    // Attempt 5: attest, naming a candidate fingerprint other than the current one →
    // refused, nothing stored.
    let mut other = attestation(n, "stale-fp", "fraud", "drift", "1.0.0");
    other["spec"]["candidate"] = json!(fingerprint);
    attestation_denied(
        "stale fingerprint",
        "alice",
        &[],
        &other,
        &["is not the current candidate"],
    );

    // Attempt 6: back to exactly the signed spec → it is the signed candidate again,
    // still serving; nothing new is promoted (one history entry).
    allowed(
        "back",
        &patch(
            "bob",
            n,
            "md",
            "fraud",
            "json",
            r#"[{"op":"remove","path":"/spec/serving/args"}]"#,
        ),
    );
    let md = wait_phase(n, "fraud", "Serving", WAIT);
    assert_eq!(
        md["status"]["candidate"]["fingerprint"],
        fingerprint.as_str()
    );
    assert_eq!(history(&md).len(), 1);

    // Attempt 7: delete the ModelDeployment and re-create it under the same name with
    // another image → old sign-off never counts for the new object; nothing runs.
    allowed(
        "delete",
        &run("admin", &["delete", "md", "fraud", "-n", n, "--wait=true"]),
    );
    let mut twin = model_deployment(n, "fraud", "1.0.0");
    twin["spec"]["serving"]["image"] = json!("registry.example.com/evil:1.0.0");
    poll("the old Deployment to be garbage-collected", WAIT, || {
        deployment(n, "fraud").map_or(Ok(()), |d| Err(d["metadata"]["uid"].to_string()))
    });
    allowed("recreate", &run_with("bob", &["create", "-f", "-"], &twin));
    let md = wait_phase(n, "fraud", "AwaitingAttestations", WAIT);
    assert_eq!(md["status"]["pendingItems"], 3);
    assert!(deployment(n, "fraud").is_none());

    // Attempt 8: same name re-created with the very same spec → old attestations were
    // admitted for the deleted object (its UID is sealed) and do not count.
    allowed(
        "delete again",
        &run("admin", &["delete", "md", "fraud", "-n", n, "--wait=true"]),
    );
    allowed(
        "recreate same",
        &run_with(
            "bob",
            &["create", "-f", "-"],
            &model_deployment(n, "fraud", "1.0.0"),
        ),
    );
    let md = poll("the old sign-off to be judged", WAIT, || {
        let md = settled(n, "fraud");
        let judged = md["status"]["checklist"]
            .as_array()
            .is_some_and(|items| items.iter().all(|i| i["reason"].is_string()));
        judged
            .then(|| md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    let reasons: Vec<String> = md["status"]["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("earlier ModelDeployment of this name")),
        "{reasons:?}"
    );
    assert!(deployment(n, "fraud").is_none());
}

#[test]
fn a_failed_candidate_is_never_promoted_again_on_old_sign_off() {
    let ns = arena("rt-aba");
    let n = ns.name.as_str();
    serving_model(n, "aba");
    // 2.0.0 cannot be scheduled (more CPU than any node has): it fails and rolls back.
    patch_md(
        n,
        "aba",
        json!({"spec": {"model": {"version": "2.0.0"}, "serving": {
        "image": "registry.example.com/aba:2.0.0", "resources": {"requests": {"cpu": "1000"}}}}}),
    );
    attest_all(n, "aba", "2.0.0");
    wait_phase(n, "aba", "RolledBack", WAIT);

    // Attempt 9: A-B-A — move the spec to 2.0.1 and back to the failed 2.0.0 → its old
    // sign-off never promotes it again; 1.0.0 keeps running.
    set_version(n, "aba", "2.0.1");
    settled(n, "aba");
    patch_md(
        n,
        "aba",
        json!({"spec": {"model": {"version": "2.0.0"}, "serving": {
        "image": "registry.example.com/aba:2.0.0"}}}),
    );
    let md = settled(n, "aba");
    assert_eq!(md["status"]["phase"], "RolledBack", "{}", md["status"]);
    assert_eq!(
        deployment_image(n, "aba").as_deref(),
        Some("registry.example.com/aba:1.0.0")
    );
    assert_eq!(
        history(&md).len(),
        3,
        "promoted 1.0.0, promoted 2.0.0, restored 1.0.0"
    );
    assert_eq!(md["status"]["failedCandidates"][0]["version"], "2.0.0");
}

#[test]
fn whoever_introduces_a_candidate_cannot_sign_it_off() {
    let ns = arena("rt-sod");
    let n = ns.name.as_str();
    create(&model_deployment(n, "sod", "1.0.0"));

    // Attempt 10: dave (data and platform) changes the candidate and attests it himself
    // → refused; nothing stored.
    allowed(
        "dave bumps",
        &patch(
            "dave",
            n,
            "md",
            "sod",
            "merge",
            r#"{"spec":{"model":{"version":"2.0.0"},"serving":{"image":"registry.example.com/sod:2.0.0"}}}"#,
        ),
    );
    attestation_denied(
        "own candidate",
        "dave",
        &[],
        &attestation(n, "dave-drift", "sod", "drift", "2.0.0"),
        &["dave last changed the spec", "separation of duties"],
    );
    assert_eq!(
        get_md(n, "sod")["metadata"]["annotations"]["accord.dev/candidate-author"],
        "dave"
    );

    // Attempt 11: alice makes a trivial (operational) edit to launder authorship → dave
    // is still the candidate's author and still refused.
    allowed(
        "alice scales",
        &patch(
            "alice",
            n,
            "md",
            "sod",
            "merge",
            r#"{"spec":{"serving":{"replicas":3}}}"#,
        ),
    );
    let md = get_md(n, "sod");
    assert_eq!(
        md["metadata"]["annotations"]["accord.dev/candidate-author"],
        "dave"
    );
    assert_eq!(
        md["metadata"]["annotations"]["accord.dev/spec-author"],
        "alice"
    );
    attestation_denied(
        "laundered",
        "dave",
        &[],
        &attestation(n, "dave-latency", "sod", "latency", "2.0.0"),
        &["separation of duties"],
    );

    // Attempt 12: dave forges the author record with an annotation → restored.
    allowed(
        "annotate",
        &run(
            "dave",
            &[
                "annotate",
                "--overwrite",
                "md",
                "sod",
                "-n",
                n,
                "accord.dev/candidate-author=alice",
            ],
        ),
    );
    assert_eq!(
        get_md(n, "sod")["metadata"]["annotations"]["accord.dev/candidate-author"],
        "dave"
    );

    // Attempt 13: dave overwrites the record's seal too → restored to the webhook's.
    let seal =
        get_md(n, "sod")["metadata"]["annotations"]["accord.dev/candidate-author-seal"].clone();
    allowed(
        "annotate seal",
        &run(
            "dave",
            &[
                "annotate",
                "--overwrite",
                "md",
                "sod",
                "-n",
                n,
                "accord.dev/candidate-author=alice",
                "accord.dev/candidate-author-seal=v1:k1:00",
            ],
        ),
    );
    let md = get_md(n, "sod");
    assert_eq!(
        md["metadata"]["annotations"]["accord.dev/candidate-author"],
        "dave"
    );
    assert_eq!(
        md["metadata"]["annotations"]["accord.dev/candidate-author-seal"],
        seal
    );

    // Attempt 14: alice signs 2.0.0 legitimately, then dave swaps the image himself → a
    // new candidate: alice's sign-off no longer counts and dave may not sign it.
    allowed(
        "alice signs",
        &attest_as("alice", n, "alice-drift", "sod", "drift", "2.0.0"),
    );
    allowed(
        "dave swaps",
        &patch(
            "dave",
            n,
            "md",
            "sod",
            "merge",
            r#"{"spec":{"serving":{"image":"registry.example.com/evil:2.0.0"}}}"#,
        ),
    );
    let md = settled(n, "sod");
    let drift = md["status"]["checklist"][0].clone();
    assert_eq!(drift["attested"], false, "{drift}");
    attestation_denied(
        "own swap",
        "dave",
        &[],
        &attestation(n, "dave-drift-2", "sod", "drift", "2.0.0"),
        &["separation of duties"],
    );
    assert!(deployment(n, "sod").is_none(), "nothing was ever promoted");
}

/// An attempt to loosen the ModelDeployment `rights` with a patch, and the secure outcome.
struct Loosening<'a> {
    case: &'a str,
    user: &'a str,
    /// The patch type (`merge` or `json`) and the patch.
    patch: (&'a str, &'a str),
    /// What Accord's denial must say.
    denial: &'a [&'a str],
    /// A stored field (a JSON pointer) and the value it must still hold afterwards.
    still: (&'a str, Value),
}

#[test]
fn loosening_the_checklist_or_the_plan_needs_the_owning_team() {
    let ns = arena("rt-rights");
    let n = ns.name.as_str();
    create(&model_deployment(n, "rights", "1.0.0"));
    let rights = Unchanged::read("md", Some(n), "rights");
    let checklist = "/spec/handoff/checklist";
    let before = rights.before()["spec"]["handoff"]["checklist"].clone();

    let attempts = [
        // Attempt 15: mallory sets required: false on every item → refused; unchanged.
        Loosening {
            case: "all optional",
            user: "mallory",
            patch: (
                "merge",
                r#"{"spec":{"handoff":{"checklist":[{"id":"drift","owner":"data","required":false},{"id":"latency","owner":"platform","required":false},{"id":"kpis","owner":"application","required":false}]}}}"#,
            ),
            denial: &["mallory may not make checklist item drift optional"],
            still: (checklist, before.clone()),
        },
        // Attempt 16: alice (data) makes the platform team's item optional → refused.
        Loosening {
            case: "other team's item",
            user: "alice",
            patch: (
                "json",
                r#"[{"op":"replace","path":"/spec/handoff/checklist/1/required","value":false}]"#,
            ),
            denial: &["make checklist item latency optional", "ml-platform"],
            still: (checklist, before.clone()),
        },
        // Attempt 17: carol removes the data team's item (JSON patch) → refused.
        Loosening {
            case: "remove item",
            user: "carol",
            patch: (
                "json",
                r#"[{"op":"remove","path":"/spec/handoff/checklist/0"}]"#,
            ),
            denial: &["remove checklist item drift", "data-platform"],
            still: (checklist, before.clone()),
        },
        // Attempt 18: alice moves the platform item to the data role (so she could sign
        // it) → refused: moving needs both teams.
        Loosening {
            case: "move item",
            user: "alice",
            patch: (
                "json",
                r#"[{"op":"replace","path":"/spec/handoff/checklist/1/owner","value":"data"}]"#,
            ),
            denial: &["move checklist item latency", "both team"],
            still: (checklist, before),
        },
        // Attempt 19: carol (application) switches the rollback plan to Manual → refused.
        Loosening {
            case: "rollback plan",
            user: "carol",
            patch: ("merge", r#"{"spec":{"rollback":{"mode":"Manual"}}}"#),
            denial: &["carol may not change spec.rollback"],
            still: ("/spec/rollback/mode", json!("Automatic")),
        },
        // Attempt 20: alice (data) hands the model to other owners → refused.
        Loosening {
            case: "owners",
            user: "alice",
            patch: (
                "merge",
                r#"{"spec":{"owners":{"platform":"data-platform"}}}"#,
            ),
            denial: &["alice may not change spec.owners"],
            still: ("/spec/owners/platform", json!("ml-platform")),
        },
    ];
    for attempt in attempts {
        let (case, (patch_type, body)) = (attempt.case, attempt.patch);
        let out = patch(attempt.user, n, "md", "rights", patch_type, body);
        assert_denied_by_accord(case, &out, attempt.denial);
        rights.assert_still(case, attempt.still.0, attempt.still.1);
    }

    // Attempt 21: mallory requests a rollback → refused; no annotation stored.
    let out = run(
        "mallory",
        &[
            "annotate",
            "md",
            "rights",
            "-n",
            n,
            "accord.dev/rollback-requested-at=2026-11-28T00:00:00Z",
        ],
    );
    assert_denied_by_accord(
        "rollback request",
        &out,
        &["mallory may not request a rollback"],
    );
    rights.assert_still(
        "rollback request",
        "/metadata/annotations/accord.dev~1rollback-requested-at",
        Value::Null,
    );

    // Attempt 22: tightening is open to anyone who may edit: mallory adds a required
    // item → allowed, and it blocks promotion until its team signs.
    allowed(
        "add item",
        &patch(
            "mallory",
            n,
            "md",
            "rights",
            "json",
            r#"[{"op":"add","path":"/spec/handoff/checklist/-","value":{"id":"bias","owner":"application"}}]"#,
        ),
    );
    attest_all(n, "rights", "1.0.0");
    let md = settled(n, "rights");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert!(deployment(n, "rights").is_none());

    // Attempt 23: bob (platform) makes his own team's item optional → allowed (it is his
    // team's decision), recorded in the spec.
    allowed(
        "own item",
        &patch(
            "bob",
            n,
            "md",
            "rights",
            "json",
            r#"[{"op":"replace","path":"/spec/handoff/checklist/1/required","value":false}]"#,
        ),
    );
    assert_eq!(
        get_md(n, "rights")["spec"]["handoff"]["checklist"][1]["required"],
        false
    );
}

#[test]
fn status_is_written_only_by_the_operator() {
    let ns = arena("rt-status");
    let n = ns.name.as_str();
    serving_model(n, "st");
    let st = Unchanged::read("md", Some(n), "st");
    let entry = history(st.before())[0].clone();
    let att_name = "st-1.0.0-drift";

    // Attempt 24: forge a Promoted history entry naming an image of one's own → refused;
    // history and Deployment unchanged.
    let mut forged = entry.clone();
    forged["image"] = json!("registry.example.com/evil:6.6.6");
    forged["version"] = json!("6.6.6");
    let body = json!({"status": {"history": [entry.clone(), forged]}}).to_string();
    assert_denied_by_accord(
        "forged history",
        &patch_status("mallory", n, "md", "st", &body),
        &["status is written only by the Accord operator"],
    );
    let history_now = history(&get_md(n, "st"));
    assert_eq!(history_now.len(), 1, "forged history: {history_now:?}");
    assert_eq!(
        deployment_image(n, "st").as_deref(),
        Some("registry.example.com/st:1.0.0")
    );
    st.assert_still("forged history", "/status/activeVersion", "1.0.0");

    // Each attempt: the case, who patches the status of which object, and the patch;
    // the active version stays 1.0.0 after each.
    let attempts = [
        // Attempt 25: a team member forges activeVersion → refused.
        (
            "activeVersion",
            "bob",
            "md",
            "st",
            r#"{"status":{"activeVersion":"9.9.9"}}"#,
        ),
        // Attempt 26: clear the memory of failed candidates → refused.
        (
            "failedCandidates",
            "carol",
            "md",
            "st",
            r#"{"status":{"failedCandidates":null}}"#,
        ),
        // Attempt 27: clear lastRollbackRequest to replay a rollback → refused.
        (
            "lastRollbackRequest",
            "bob",
            "md",
            "st",
            r#"{"status":{"lastRollbackRequest":null}}"#,
        ),
        // Attempt 28: mark one's own attestation Counted through its status → refused.
        (
            "attestation status",
            "alice",
            "attestation",
            att_name,
            r#"{"status":{"conditions":[{"type":"Counted","status":"True","reason":"Counted","message":"x","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#,
        ),
    ];
    for (case, user, kind, name, body) in attempts {
        assert_denied_by_accord(case, &patch_status(user, n, kind, name, body), &[]);
        st.assert_still(case, "/status/activeVersion", "1.0.0");
    }

    // Attempt 29: the same through server-side apply under Accord's own field manager,
    // forced → refused.
    let apply = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "st", "namespace": n}, "status": {"activeVersion": "9.9.9"}});
    let out = run_with(
        "bob",
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=accord",
            "--subresource=status",
            "-f",
            "-",
        ],
        &apply,
    );
    assert_denied_by_accord("status via borrowed manager", &out, &[]);
    st.assert_still(
        "status via borrowed manager",
        "/status/activeVersion",
        "1.0.0",
    );

    // Attempt 30: replace the whole status (PUT) → refused.
    let mut whole = get_md(n, "st");
    whole["status"]["phase"] = json!("Serving");
    whole["status"]["activeVersion"] = json!("9.9.9");
    let out = run_with(
        "bob",
        &["replace", "--subresource=status", "-f", "-"],
        &whole,
    );
    assert_denied_by_accord("status PUT", &out, &[]);
    st.assert_still("status PUT", "/status/activeVersion", "1.0.0");
}

#[test]
fn only_the_attester_their_team_or_an_admin_withdraws() {
    let ns = arena("rt-withdraw");
    let n = ns.name.as_str();
    create(&model_deployment(n, "wd", "1.0.0"));
    attest("alice", n, "wd", "drift", "1.0.0");
    attest("bob", n, "wd", "latency", "1.0.0");
    let name = "wd-1.0.0-drift";

    let alices = Unchanged::read("attestation", Some(n), name);
    let bobs = Unchanged::read("attestation", Some(n), "wd-1.0.0-latency");

    // Each attempt: the case, who runs which delete, and what Accord's denial must say;
    // both sign-offs are still stored after each.
    let attempts: [(&str, &str, &[&str], &[&str]); 4] = [
        // Attempt 31: mallory deletes alice's sign-off → refused; it still exists.
        (
            "mallory withdraws",
            "mallory",
            &["delete", "attestation", name, "-n", n],
            &["mallory may not withdraw", "by alice"],
        ),
        // Attempt 32: bob (another team) deletes it → refused.
        (
            "bob withdraws",
            "bob",
            &["delete", "attestation", name, "-n", n],
            &["bob may not withdraw"],
        ),
        // Attempt 33: mallory deletes every Attestation in the namespace → each refused.
        (
            "delete --all",
            "mallory",
            &["delete", "attestations", "--all", "-n", n],
            &["may not withdraw"],
        ),
        // Attempt 34: a dry-run delete by mallory is judged the same → refused.
        (
            "dry-run delete",
            "mallory",
            &["delete", "attestation", name, "-n", n, "--dry-run=server"],
            &[],
        ),
    ];
    for (case, user, args, expect) in attempts {
        assert_denied_by_accord(case, &run(user, args), expect);
        alices.assert_kept(case);
        bobs.assert_kept(case);
    }

    // Attempt 35: dave (in the data team's group) withdraws alice's → allowed: his team's
    // sign-off is his team's to withdraw; a withdrawal is an Event.
    poll("alice's sign-off to count", WAIT, || {
        let md = get_md(n, "wd");
        (md["status"]["checklist"][0]["attested"] == true)
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
    allowed(
        "teammate withdraws",
        &run("dave", &["delete", "attestation", name, "-n", n]),
    );
    assert_not_stored("teammate withdraws", "attestation", Some(n), name);
    poll("an AttestationWithdrawn Event", WAIT, || {
        let count = count_events(n, "ModelDeployment", "wd", "AttestationWithdrawn");
        (count == 1).then_some(()).ok_or_else(|| format!("{count}"))
    });

    // Attempt 36: bob withdraws his own → allowed.
    allowed(
        "own withdrawal",
        &run(
            "bob",
            &["delete", "attestation", "wd-1.0.0-latency", "-n", n],
        ),
    );
    let md = settled(n, "wd");
    assert_eq!(md["status"]["pendingItems"], 3);
}

#[test]
fn teams_cannot_be_opened_to_everyone_or_joined_by_outsiders() {
    setup();
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "accord-red-team-teams"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team-teams"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]
    });
    assert!(Kubectl::admin().apply(&binding.to_string()).success);
    let team = |name: &str, groups: Value| {
        json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team",
        "metadata": {"name": name}, "spec": {"members": {"groups": groups}}})
    };

    // Attempts 37-39: a Team of every authenticated user, every unauthenticated request,
    // or every ServiceAccount → refused naming the group; nothing stored.
    for (i, group) in [
        "system:authenticated",
        "system:unauthenticated",
        "system:serviceaccounts",
    ]
    .iter()
    .enumerate()
    {
        let (case, name) = (format!("open team of {group}"), format!("open-team-{i}"));
        let out = run_with(
            "mallory",
            &["create", "-f", "-"],
            &team(&name, json!([group])),
        );
        assert_denied_by_accord(&case, &out, &[group, "spec.members.groups"]);
        assert_not_stored(&case, "team", None, &name);
    }
    let ml_platform = Unchanged::read("team", None, "ml-platform");
    let payments_app = Unchanged::read("team", None, "payments-app");

    // Attempt 40: mallory adds herself to ml-platform → refused; membership unchanged.
    let out = run(
        "mallory",
        &[
            "patch",
            "team",
            "ml-platform",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/spec/members/users","value":["mallory"]}]"#,
        ],
    );
    assert_denied_by_accord("join", &out, &["mallory may not change Team ml-platform"]);
    ml_platform.assert_still("join", "/spec/members/users", Value::Null);

    // Attempt 41: mallory adds system:authenticated to an existing Team → refused.
    let out = run(
        "mallory",
        &[
            "patch",
            "team",
            "payments-app",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/spec/members/groups/-","value":"system:authenticated"}]"#,
        ],
    );
    assert_denied_by_accord("open existing", &out, &["system:authenticated"]);
    payments_app.assert_same("open existing", &["/spec/members"]);

    // Attempt 42: a Team's status (its counts) → refused: status is the operator's.
    let out = run(
        "mallory",
        &[
            "patch",
            "team",
            "ml-platform",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"pendingItems":0}}"#,
        ],
    );
    assert_denied_by_accord(
        "team status",
        &out,
        &["status is written only by the Accord operator"],
    );

    // Attempt 43: mallory deletes a Team (blocking every model it owns) → refused.
    assert_denied_by_accord(
        "delete team",
        &run("mallory", &["delete", "team", "ml-platform"]),
        &["may not delete Team ml-platform"],
    );
    ml_platform.assert_kept("delete team");

    assert!(
        Kubectl::admin()
            .run(&["delete", "clusterrolebinding", "accord-red-team-teams"])
            .success
    );
}

#[test]
fn accord_never_adopts_or_leaves_tampered_what_it_manages() {
    let ns = arena("rt-managed");
    let n = ns.name.as_str();

    // Attempt 44: alice creates a Deployment named like a ModelDeployment (with a sidecar
    // of hers) before it is promoted → Accord reports NameConflict and never adopts or
    // changes it; nothing is promoted.
    let theirs = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "taken", "namespace": n},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "theirs"}},
                 "template": {"metadata": {"labels": {"app": "theirs"}},
                              "spec": {"containers": [{"name": "sidecar", "image": "registry.example.com/miner:1"}]}}}});
    allowed(
        "foreign Deployment",
        &run_with("alice", &["create", "-f", "-"], &theirs),
    );
    create(&model_deployment(n, "taken", "1.0.0"));
    attest_all(n, "taken", "1.0.0");
    let md = wait_phase(n, "taken", "Invalid", WAIT);
    assert_eq!(condition(&md, "Ready")["reason"], "NameConflict");
    assert!(history(&md).is_empty(), "no promotion recorded");
    let d = deployment(n, "taken").unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/miner:1"
    );
    assert!(
        d["metadata"]["ownerReferences"].is_null(),
        "not adopted: {}",
        d["metadata"]
    );
    assert_eq!(
        count_events(n, "ModelDeployment", "taken", "NameConflict"),
        1
    );

    // Attempt 45: a same-named Service → NameConflict; its selector and owners untouched.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-taken", "namespace": n},
        "spec": {"selector": {"app": "theirs"}, "ports": [{"port": 80}]}});
    allowed(
        "foreign Service",
        &run_with("alice", &["create", "-f", "-"], &svc),
    );
    create(&model_deployment(n, "svc-taken", "1.0.0"));
    attest_all(n, "svc-taken", "1.0.0");
    let md = wait_phase(n, "svc-taken", "Invalid", WAIT);
    assert!(
        condition(&md, "Ready")["message"]
            .as_str()
            .unwrap()
            .contains("Service")
    );
    let s = Kubectl::admin()
        .get_json(&["service", "svc-taken", "-n", n])
        .unwrap();
    assert_eq!(s["spec"]["selector"], json!({"app": "theirs"}));
    assert!(s["metadata"]["ownerReferences"].is_null());
    assert!(deployment(n, "svc-taken").is_none());

    // Attempt 46: `kubectl set image` on a managed Deployment → reverted within seconds,
    // with one DriftReverted Event naming the field manager.
    serving_model(n, "drifty");
    allowed(
        "set image",
        &run(
            "alice",
            &[
                "set",
                "image",
                "deployment/drifty",
                "model=registry.example.com/evil:1",
                "-n",
                n,
            ],
        ),
    );
    poll("the image to be restored", WAIT, || {
        let image = deployment_image(n, "drifty");
        (image.as_deref() == Some("registry.example.com/drifty:1.0.0"))
            .then_some(())
            .ok_or(format!("{image:?}"))
    });
    let drift: Vec<_> = events_for(n, "ModelDeployment", "drifty")
        .into_iter()
        .filter(|e| e.reason == "DriftReverted")
        .collect();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert!(
        drift[0].note.contains("kubectl-set") && drift[0].note.contains("image"),
        "{}",
        drift[0].note
    );

    // Attempt 47: add a sidecar container to the managed Deployment → removed.
    allowed(
        "sidecar",
        &patch(
            "alice",
            n,
            "deployment",
            "drifty",
            "json",
            r#"[{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"miner","image":"registry.example.com/miner:1"}}]"#,
        ),
    );
    poll("the sidecar to be removed", WAIT, || {
        let count = deployment(n, "drifty").unwrap()["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len();
        (count == 1)
            .then_some(())
            .ok_or(format!("{count} containers"))
    });

    // Attempt 48: scale the managed Deployment to zero → restored to the spec's replicas.
    allowed(
        "scale",
        &run(
            "alice",
            &["scale", "deployment/drifty", "--replicas=0", "-n", n],
        ),
    );
    poll("the replicas to be restored", WAIT, || {
        let r = deployment(n, "drifty").unwrap()["spec"]["replicas"].clone();
        (r == 2).then_some(()).ok_or(r.to_string())
    });

    // Attempt 49: point the managed Service at other pods → selector restored.
    allowed(
        "selector",
        &patch(
            "alice",
            n,
            "service",
            "drifty",
            "merge",
            r#"{"spec":{"selector":{"app":"theirs"}}}"#,
        ),
    );
    poll("the selector to be restored", WAIT, || {
        let s = Kubectl::admin()
            .get_json(&["service", "drifty", "-n", n])
            .unwrap();
        (s["spec"]["selector"] == json!({"accord.dev/instance": "drifty"}))
            .then_some(())
            .ok_or(s["spec"]["selector"].to_string())
    });

    // Attempt 50: relabel the managed Deployment with another owner → restored.
    allowed(
        "relabel",
        &run(
            "alice",
            &[
                "label",
                "--overwrite",
                "deployment/drifty",
                "-n",
                n,
                "accord.dev/platform-owner=evil",
            ],
        ),
    );
    poll("the owner label to be restored", WAIT, || {
        let l = deployment(n, "drifty").unwrap()["metadata"]["labels"]["accord.dev/platform-owner"]
            .clone();
        (l == "ml-platform").then_some(()).ok_or(l.to_string())
    });
    assert_eq!(
        history(&get_md(n, "drifty")).len(),
        1,
        "drift is no promotion"
    );

    // Attempt 51: a ModelDeployment named with a dot (it would name a Service) → refused
    // at apply by the schema, naming the rule; nothing stored.
    let out = run_with(
        "alice",
        &["create", "-f", "-"],
        &model_deployment(n, "rt.dotted", "1.0.0"),
    );
    refused("dotted name", &out, "DNS-1035");
    assert_not_stored("dotted name", "md", Some(n), "rt.dotted");
}

#[test]
fn accords_field_manager_and_owner_labels_cannot_be_borrowed() {
    let ns = arena("rt-manager");
    let n = ns.name.as_str();
    create(&model_deployment(n, "fm", "1.0.0"));
    settled(n, "fm");
    let fm = Unchanged::read("md", Some(n), "fm");

    // Attempt 52: server-side apply the spec under field manager `accord` (so the
    // operator's next label apply would drop it) → refused (here already by the API
    // server's conflict check); spec unchanged.
    let mut mine = model_deployment(n, "fm", "1.0.0");
    mine["spec"]["serving"]["replicas"] = json!(5);
    let out = run_with(
        "bob",
        &[
            "apply",
            "--server-side",
            "--field-manager=accord",
            "-f",
            "-",
        ],
        &mine,
    );
    assert!(!out.success, "borrowed manager: {}", out.stdout);
    fm.assert_still("borrowed manager", "/spec/serving/replicas", 2);

    // Attempt 53: the same, forced (taking every conflicting field) → refused.
    let out = run_with(
        "bob",
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=accord",
            "-f",
            "-",
        ],
        &mine,
    );
    assert_denied_by_accord("forced borrowed manager", &out, &["field manager"]);
    fm.assert_still("forced borrowed manager", "/spec/serving/replicas", 2);

    // Attempt 54: fake owner labels on the ModelDeployment → restored within seconds.
    allowed(
        "fake label",
        &run(
            "mallory",
            &[
                "label",
                "--overwrite",
                "md",
                "fm",
                "-n",
                n,
                "accord.dev/data-owner=evil",
            ],
        ),
    );
    poll("owner labels to equal the owners", WAIT, || {
        let l = get_md(n, "fm")["metadata"]["labels"]["accord.dev/data-owner"].clone();
        (l == "data-platform").then_some(()).ok_or(l.to_string())
    });

    // Attempt 55: an Attestation created under field manager `accord` → refused.
    attestation_denied(
        "attestation manager",
        "alice",
        &["--field-manager=accord"],
        &attestation(n, "fm-att", "fm", "drift", "1.0.0"),
        &["field manager"],
    );
}

#[test]
fn identity_seals_and_immutability_hold_under_every_kind_of_write() {
    let ns = arena("rt-seal");
    let n = ns.name.as_str();
    create(&model_deployment(n, "seal", "1.0.0"));
    let real = "seal-real";

    // Attempt 56: spoof attestedBy and team → overwritten from the request (alice).
    let mut spoofed = attestation(n, real, "seal", "drift", "1.0.0");
    spoofed["spec"]["attestedBy"] = json!("bob");
    spoofed["spec"]["team"] = json!("ml-platform");
    allowed(
        "spoofed",
        &run_with("alice", &["create", "-f", "-"], &spoofed),
    );
    let sealed = Unchanged::read("attestation", Some(n), real);
    let att = sealed.before();
    assert_eq!(att["spec"]["attestedBy"], "alice");
    assert_eq!(att["spec"]["team"], "data-platform");
    let seal = att["metadata"]["annotations"]["accord.dev/seal"].clone();

    // Attempt 57: carol replays alice's seal (and identity) on another item → the
    // webhook judges carol, re-seals for her; alice's seal is not stored.
    let mut replay = attestation(n, "seal-replay", "seal", "kpis", "1.0.0");
    replay["metadata"]["annotations"] = att["metadata"]["annotations"].clone();
    replay["spec"]["attestedBy"] = json!("alice");
    allowed(
        "replay",
        &run_with("carol", &["create", "-f", "-"], &replay),
    );
    let stored = stored_attestation(n, "seal-replay").unwrap();
    assert_eq!(stored["spec"]["attestedBy"], "carol");
    assert_ne!(stored["metadata"]["annotations"]["accord.dev/seal"], seal);

    // Attempt 58: mallory replays alice's seal on a new item → refused (not a member);
    // nothing stored.
    let mut replay = attestation(n, "seal-mallory", "seal", "latency", "1.0.0");
    replay["metadata"]["annotations"] = att["metadata"]["annotations"].clone();
    attestation_denied(
        "mallory replay",
        "mallory",
        &[],
        &replay,
        &["mallory is not a member"],
    );

    // Attempt 59: JSON-patch the item of a sealed Attestation → refused; unchanged.
    let out = patch(
        "alice",
        n,
        "attestation",
        real,
        "json",
        r#"[{"op":"replace","path":"/spec/item","value":"latency"}]"#,
    );
    refused("json patch", &out, "immutable");
    sealed.assert_still("json patch", "/spec/item", "drift");

    // Attempt 60: merge-patch its version → refused.
    refused(
        "merge patch",
        &patch(
            "alice",
            n,
            "attestation",
            real,
            "merge",
            r#"{"spec":{"version":"9.9.9"}}"#,
        ),
        "immutable",
    );
    sealed.assert_still("merge patch", "/spec/version", "1.0.0");

    // Attempt 61: strategic-merge-patch it → refused (and CRDs do not take them).
    let out = patch(
        "alice",
        n,
        "attestation",
        real,
        "strategic",
        r#"{"spec":{"attestedBy":"bob"}}"#,
    );
    assert!(!out.success, "strategic merge patch: {}", out.stdout);
    sealed.assert_still("strategic merge patch", "/spec/attestedBy", "alice");

    // Attempt 62: server-side apply a changed spec, forcing every conflict → refused.
    let mut changed = stored_attestation(n, real).unwrap();
    changed["spec"]["item"] = json!("kpis");
    changed["metadata"] = json!({"name": real, "namespace": n});
    refused(
        "apply",
        &run_with(
            "alice",
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            &changed,
        ),
        "immutable",
    );
    sealed.assert_still("apply", "/spec/item", "drift");

    // Attempt 63: overwrite the seal annotation with another valid-looking seal → refused.
    let out = run(
        "alice",
        &[
            "annotate",
            "--overwrite",
            "attestation",
            real,
            "-n",
            n,
            "accord.dev/seal=v2:k1:00",
        ],
    );
    assert_denied_by_accord("reseal", &out, &["accord.dev/seal"]);
    sealed.assert_same("reseal", &["/metadata/annotations/accord.dev~1seal"]);

    // Attempt 64: dry-run as mallory → refused like a real create; dry-run as bob →
    // answered with the mutation, nothing stored.
    attestation_denied(
        "dry mallory",
        "mallory",
        &["--dry-run=server"],
        &attestation(n, "dry-m", "seal", "drift", "1.0.0"),
        &["not a member"],
    );
    let out = run_with(
        "bob",
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        &attestation(n, "dry-b", "seal", "latency", "1.0.0"),
    );
    allowed("dry bob", &out);
    assert_eq!(out.json()["spec"]["attestedBy"], "bob");
    assert_not_stored("dry bob", "attestation", Some(n), "dry-b");

    // Attempt 65: mallory impersonates alice without the right to → refused by RBAC.
    assert_refused_by_rbac(
        "impersonation",
        &run_with(
            "mallory",
            &["--as=alice", "create", "--validate=false", "-f", "-"],
            &attestation(n, "as-alice", "seal", "drift", "1.0.0"),
        ),
    );
    assert_not_stored("impersonation", "attestation", Some(n), "as-alice");

    // Attempt 66: generateName, so the name (which the seal covers) is unknown → refused.
    let mut generated = attestation(n, "x", "seal", "latency", "1.0.0");
    generated["metadata"] = json!({"generateName": "seal-", "namespace": n});
    attestation_denied("generateName", "bob", &[], &generated, &["generateName"]);

    // Attempt 67: a lookalike item id (Cyrillic і) → refused: it is no item on the
    // checklist (and the schema would refuse it as no DNS label).
    attestation_denied(
        "lookalike item",
        "alice",
        &[],
        &attestation(n, "lookalike", "seal", "dr\u{0456}ft", "1.0.0"),
        &["is not on the checklist"],
    );

    // Attempt 68: a lookalike user name in a Team: "аlice" (Cyrillic а) is not alice →
    // alice's sign-off for a Team listing only the lookalike is refused.
    let lookalike = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": format!("{n}-look")},
        "spec": {"members": {"users": ["\u{0430}lice"]}}});
    assert!(Kubectl::admin().apply(&lookalike.to_string()).success);
    let mut md = model_deployment(n, "look", "1.0.0");
    md["spec"]["owners"]["data"] = json!(format!("{n}-look"));
    create(&md);
    attestation_denied(
        "lookalike member",
        "alice",
        &[],
        &attestation(n, "look-drift", "look", "drift", "1.0.0"),
        &["alice is not a member"],
    );
    assert!(
        Kubectl::admin()
            .run(&["delete", "team", &format!("{n}-look")])
            .success
    );

    // Attempt 69: an oversized comment (5000 characters) → refused by the schema naming
    // the field; nothing stored.
    let mut big = attestation(n, "big", "seal", "latency", "1.0.0");
    big["spec"]["comment"] = json!("x".repeat(5000));
    refused(
        "oversized",
        &run_with("bob", &["create", "-f", "-"], &big),
        "spec.comment",
    );
    assert_not_stored("oversized", "attestation", Some(n), "big");
}

#[test]
fn cluster_guards_hold_for_ordinary_users() {
    let ns = arena("rt-guards");
    let n = ns.name.as_str();

    // Attempt 70: read the seal keys → refused by RBAC.
    assert_refused_by_rbac(
        "read seal key",
        &run(
            "alice",
            &["get", "secret", "accord-seal-keys", "-n", "accord-system"],
        ),
    );

    // Attempt 71: delete the webhook configurations → refused by RBAC; they remain.
    let validating = Unchanged::read("validatingwebhookconfiguration", None, "accord");
    assert_refused_by_rbac(
        "delete webhooks",
        &run(
            "mallory",
            &["delete", "validatingwebhookconfiguration", "accord"],
        ),
    );
    validating.assert_kept("delete webhooks");

    // Attempt 72: weaken them to fail open → refused by RBAC; still Fail.
    let mutating = Unchanged::read("mutatingwebhookconfiguration", None, "accord");
    let out = run(
        "mallory",
        &[
            "patch",
            "mutatingwebhookconfiguration",
            "accord",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]"#,
        ],
    );
    assert_refused_by_rbac("fail open", &out);
    mutating.assert_still("fail open", "/webhooks/0/failurePolicy", "Fail");

    // Attempt 73: a cross-namespace twin: the same ModelDeployment in another namespace
    // signed off there → counts only there.
    let twin = TestNamespace::create("rt-twin");
    create(&model_deployment(n, "twin", "1.0.0"));
    create(&model_deployment(&twin.name, "twin", "1.0.0"));
    attest_all(&twin.name, "twin", "1.0.0");
    wait_phase(&twin.name, "twin", "Serving", WAIT);
    let md = settled(n, "twin");
    assert_eq!(md["status"]["phase"], "AwaitingAttestations");
    assert!(deployment(n, "twin").is_none());

    // Attempt 74: an owner Team is deleted (by an admin) mid-flight after two sign-offs →
    // the model is Invalid and nothing is promoted; re-created, the sign-off counts.
    let team = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": format!("{n}-app")},
        "spec": {"members": {"users": ["carol"]}}});
    assert!(Kubectl::admin().apply(&team.to_string()).success);
    let mut md = model_deployment(n, "midflight", "1.0.0");
    md["spec"]["owners"]["application"] = json!(format!("{n}-app"));
    create(&md);
    attest("alice", n, "midflight", "drift", "1.0.0");
    attest("bob", n, "midflight", "latency", "1.0.0");
    assert!(
        Kubectl::admin()
            .run(&["delete", "team", &format!("{n}-app")])
            .success
    );
    attestation_denied(
        "team gone",
        "carol",
        &[],
        &attestation(n, "midflight-kpis", "midflight", "kpis", "1.0.0"),
        &["does not exist"],
    );
    let md = wait_phase(n, "midflight", "Invalid", WAIT);
    assert!(history(&md).is_empty());
    assert!(Kubectl::admin().apply(&team.to_string()).success);
    allowed(
        "team back",
        &attest_as("carol", n, "midflight-kpis", "midflight", "kpis", "1.0.0"),
    );
    wait_phase(n, "midflight", "Serving", WAIT);
    assert!(
        Kubectl::admin()
            .run(&["delete", "team", &format!("{n}-app")])
            .success
    );

    // Attempt 75: a member removed from the Team after signing → the sign-off stops
    // counting before promotion.
    let team = json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": format!("{n}-plat")},
        "spec": {"members": {"users": ["bob", "erin"]}}});
    assert!(Kubectl::admin().apply(&team.to_string()).success);
    let mut md = model_deployment(n, "leaver", "1.0.0");
    md["spec"]["owners"]["platform"] = json!(format!("{n}-plat"));
    create(&md);
    attest("bob", n, "leaver", "latency", "1.0.0");
    let mut without_bob = team.clone();
    without_bob["spec"]["members"]["users"] = json!(["erin"]);
    assert!(Kubectl::admin().apply(&without_bob.to_string()).success);
    attest("alice", n, "leaver", "drift", "1.0.0");
    attest("carol", n, "leaver", "kpis", "1.0.0");
    let md = poll("bob's sign-off to stop counting", WAIT, || {
        let md = settled(n, "leaver");
        let latency = md["status"]["checklist"][1].clone();
        (latency["attested"] == false && md["status"]["pendingItems"] == 1)
            .then(|| md.clone())
            .ok_or(latency.to_string())
    });
    assert!(
        md["status"]["checklist"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("bob is not a member")
    );
    assert!(deployment(n, "leaver").is_none());
    assert!(
        Kubectl::admin()
            .run(&["delete", "team", &format!("{n}-plat")])
            .success
    );
}
