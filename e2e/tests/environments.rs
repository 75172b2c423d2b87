//! Environments on the real control plane: a model earns production in staging. Prod
//! cites staging (`spec.promotion.from`), waits out the soak measured from staging's
//! sealed history, and counts the sign-offs it carries (`carry`) only for the same
//! artifact and only while their attesters belong to prod's Teams. Then the attacks an
//! ordinary user with edit rights can try, each checked against the stored state.

mod support;

use std::time::{Duration, Instant};

use accord_e2e::{
    Kubectl, Operator, TestNamespace, Unchanged, apply_file, assert_denied_by_accord, poll,
};
use serde_json::{Value, json};
use support::{
    attest, attest_all, condition, create, get_md, last_history, model_deployment, set_version,
    wait_phase,
};

const WAIT: Duration = Duration::from_secs(60);
const SOAK_SECONDS: i64 = 12;

fn item(md: &Value, id: &str) -> Value {
    md["status"]["checklist"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id).cloned())
        .unwrap_or(Value::Null)
}

/// A ModelDeployment in `namespace` citing `upstream` (namespace, name).
fn downstream(
    namespace: &str,
    name: &str,
    version: &str,
    upstream: (&str, &str),
    soak: &str,
    carry: &[&str],
) -> Value {
    let mut md = model_deployment(namespace, name, version);
    md["spec"]["promotion"] = json!({
        "from": {"namespace": upstream.0, "name": upstream.1},
        "soak": soak,
        "carry": carry,
    });
    md
}

/// `md` (named otherwise) running the artifact of `scorer` with image tag `tag`.
fn running_scorer(mut md: Value, tag: &str) -> Value {
    md["spec"]["model"]["name"] = json!("scorer");
    md["spec"]["serving"]["image"] = json!(format!("registry.example.com/scorer:{tag}"));
    md
}

fn shared_with(mut md: Value, namespaces: &[&str]) -> Value {
    md["spec"]["promotion"]["downstream"] = json!(namespaces);
    md
}

/// Waits until the Ready condition has `reason`, returning the ModelDeployment.
fn wait_reason(namespace: &str, name: &str, reason: &str) -> Value {
    poll(
        &format!("{namespace}/{name} Ready reason {reason}"),
        WAIT,
        || {
            let md = get_md(namespace, name);
            let ready = condition(&md, "Ready");
            (ready["reason"] == reason)
                .then(|| md.clone())
                .ok_or_else(|| ready.to_string())
        },
    )
}

fn timestamp(value: &Value) -> jiff::Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .expect("an RFC 3339 time")
}

fn promoted_entries(md: &Value) -> usize {
    md["status"]["history"]
        .as_array()
        .map(|h| h.iter().filter(|e| e["outcome"] == "Promoted").count())
        .unwrap_or(0)
}

#[test]
fn prod_waits_out_the_soak_and_counts_only_what_carries() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("environments", "accord-operator", &[]);
    let staging = TestNamespace::create("env-staging");
    let prod = TestNamespace::create("env-prod");
    let (s, p) = (staging.name.as_str(), prod.name.as_str());

    // Staging serves 2.0.0, signed off there by all three teams, shared with prod.
    create(&shared_with(model_deployment(s, "scorer", "2.0.0"), &[p]));
    attest_all(s, "scorer", "2.0.0");
    let served = wait_phase(s, "scorer", "Serving", WAIT);
    let artifact = served["status"]["candidate"]["artifactFingerprint"].clone();
    assert!(
        artifact.as_str().is_some_and(|a| a.starts_with("sha256:")),
        "{artifact}"
    );

    // Prod runs the same artifact with its own configuration (replicas, env), carries
    // the data and application sign-offs, and signs latency off itself.
    let mut md = downstream(
        p,
        "scorer",
        "2.0.0",
        (s, "scorer"),
        &format!("{SOAK_SECONDS}s"),
        &["drift", "kpis"],
    );
    md["spec"]["serving"]["replicas"] = json!(1);
    md["spec"]["serving"]["env"] = json!([{"name": "REGION", "value": "eu"}]);
    create(&md);
    let waiting = wait_reason(p, "scorer", "AwaitingAttestations");
    assert_eq!(
        waiting["status"]["candidate"]["artifactFingerprint"], artifact,
        "config is not the artifact"
    );
    let drift = item(&waiting, "drift");
    assert_eq!(drift["attested"], true, "{drift}");
    assert_eq!(
        drift["carriedFrom"]["modelDeployment"],
        format!("{s}/scorer")
    );
    assert_eq!(drift["carriedFrom"]["attestation"], "scorer-2.0.0-drift");
    assert_eq!(item(&waiting, "kpis")["attested"], true);
    let latency = item(&waiting, "latency");
    assert_eq!(
        latency["attested"], false,
        "not in carry: signed off again in prod"
    );

    attest("bob", p, "scorer", "latency", "2.0.0");
    let available_since = timestamp(&last_history(&get_md(s, "scorer"))["availableSince"]);
    let soaked_at = available_since + jiff::SignedDuration::from_secs(SOAK_SECONDS);
    if jiff::Timestamp::now() < soaked_at - jiff::SignedDuration::from_secs(2) {
        let soaking = wait_reason(p, "scorer", "Soaking");
        let message = condition(&soaking, "Ready")["message"].to_string();
        assert!(
            message.contains(&format!("of the {SOAK_SECONDS}s soak")) && message.contains("left"),
            "{message}"
        );
        assert_eq!(promoted_entries(&soaking), 0);
    }
    let promoted = wait_phase(p, "scorer", "Serving", WAIT);
    let entry = last_history(&promoted);
    let at = timestamp(&entry["at"]);
    let late = at.duration_since(soaked_at);
    assert!(
        late >= jiff::SignedDuration::ZERO && late <= jiff::SignedDuration::from_secs(2),
        "promoted at {at}, the soak was met at {soaked_at}: {late:#} off"
    );
    let upstream = &entry["upstream"];
    assert_eq!(upstream["modelDeployment"], format!("{s}/scorer"));
    assert_eq!(upstream["soak"], format!("{SOAK_SECONDS}s"));
    assert_eq!(upstream["artifactFingerprint"], artifact);
    let carried: Vec<&str> = upstream["carried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["item"].as_str().unwrap())
        .collect();
    assert_eq!(carried, ["drift", "kpis"]);
    assert!(
        entry["seal"].is_string(),
        "sealed with the rest of the entry"
    );

    // Another prod model running a different image of the "same" version: nothing
    // served upstream, nothing carries.
    let mut patched = downstream(
        p,
        "patched",
        "2.0.0",
        (s, "scorer"),
        "1s",
        &["drift", "kpis"],
    );
    patched = running_scorer(patched, "2.0.0-hotfix");
    create(&patched);
    let refused = wait_reason(p, "patched", "NotServedUpstream");
    assert!(
        condition(&refused, "Ready")["message"]
            .to_string()
            .contains("never served in the upstream")
    );
    assert_eq!(promoted_entries(&refused), 0);

    // A carried sign-off needs a member of *this* environment's Team now.
    let prod_data = format!("{p}-data");
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": prod_data},
        "spec": {"members": {"users": ["alice"]}}}),
    );
    let mut owned = downstream(p, "owned", "2.0.0", (s, "scorer"), "1h", &["drift"]);
    owned = running_scorer(owned, "2.0.0");
    owned["spec"]["owners"]["data"] = json!(prod_data);
    create(&owned);
    poll(
        "alice's staging sign-off to carry into the prod Team",
        WAIT,
        || {
            let md = get_md(p, "owned");
            (item(&md, "drift")["attested"] == true)
                .then_some(())
                .ok_or_else(|| item(&md, "drift").to_string())
        },
    );
    Kubectl::admin().ok(&[
        "patch",
        "team",
        &prod_data,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"members":{"users":["dana"]}}}"#,
    ]);
    let uncounted = poll("alice's carried sign-off to stop counting", WAIT, || {
        let md = get_md(p, "owned");
        let drift = item(&md, "drift");
        (drift["attested"] == false)
            .then_some(drift.clone())
            .ok_or_else(|| drift.to_string())
    });
    assert!(
        uncounted["reason"]
            .to_string()
            .contains(&format!("alice is not a member of team {prod_data}")),
        "{uncounted}"
    );
    Kubectl::admin().ok(&["delete", "team", &prod_data, "--wait=false"]);
}

#[test]
fn a_failure_upstream_blocks_prod_and_a_new_stretch_restarts_the_soak() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("environments-fail", "accord-operator", &[]);
    let staging = TestNamespace::create("env-fail-staging");
    let prod = TestNamespace::create("env-fail-prod");
    let (s, p) = (staging.name.as_str(), prod.name.as_str());
    create(&shared_with(model_deployment(s, "scorer", "1.0.0"), &[p]));
    attest_all(s, "scorer", "1.0.0");
    wait_phase(s, "scorer", "Serving", WAIT);
    set_version(s, "scorer", "2.0.0");
    attest_all(s, "scorer", "2.0.0");
    poll("staging to serve 2.0.0", WAIT, || {
        let md = get_md(s, "scorer");
        (md["status"]["phase"] == "Serving" && md["status"]["activeVersion"] == "2.0.0")
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
    create(&downstream(
        p,
        "scorer",
        "2.0.0",
        (s, "scorer"),
        "1h",
        &["drift", "kpis", "latency"],
    ));
    let soaking = wait_reason(p, "scorer", "Soaking");
    assert!(
        condition(&soaking, "Ready")["message"]
            .to_string()
            .contains("of the 1h soak")
    );

    // Staging's platform team rolls 2.0.0 back before prod promotes it.
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let annotate = format!("accord.dev/rollback-requested-at={now}");
    Kubectl::user("bob").ok(&[
        "annotate",
        "md",
        "scorer",
        "-n",
        s,
        &annotate,
        "--overwrite",
    ]);
    let blocked = wait_reason(p, "scorer", "FailedUpstream");
    let message = condition(&blocked, "Ready")["message"].to_string();
    assert!(
        message.contains("failed in the upstream") && message.contains("2.0.0"),
        "{message}"
    );
    assert_eq!(promoted_entries(&blocked), 0);
    assert!(
        support::deployment(p, "scorer").is_none(),
        "nothing runs in prod"
    );
}

/// Static users may write ModelDeployments and their status in these namespaces
/// (red-team rights), so every refusal below is Accord's, not RBAC's.
fn grant_red_team(namespace: &str) {
    apply_file("e2e/manifests/red-team-rbac.yaml");
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "red-team", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "accord-red-team"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]
    });
    create(&binding);
}

#[test]
fn ordinary_users_cannot_walk_around_the_upstream() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("environments-attacks", "accord-operator", &[]);
    let staging = TestNamespace::create("env-atk-staging");
    let prod = TestNamespace::create("env-atk-prod");
    let rogue = TestNamespace::create("env-atk-rogue");
    let unshared = TestNamespace::create("env-atk-unshared");
    let (s, p, r, u) = (
        staging.name.as_str(),
        prod.name.as_str(),
        rogue.name.as_str(),
        unshared.name.as_str(),
    );
    for ns in [s, p, r, u] {
        grant_red_team(ns);
    }
    create(&shared_with(model_deployment(s, "scorer", "2.0.0"), &[p]));
    attest_all(s, "scorer", "2.0.0");
    wait_phase(s, "scorer", "Serving", WAIT);
    create(&downstream(
        p,
        "scorer",
        "2.0.0",
        (s, "scorer"),
        "1h",
        &["drift"],
    ));
    wait_reason(p, "scorer", "Soaking");

    // 1. mallory's own "staging": her own Team signs it off and it lists prod.
    let crew = format!("{r}-crew");
    create(
        &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team", "metadata": {"name": crew},
        "spec": {"members": {"users": ["mallory"]}}}),
    );
    let mut fake = shared_with(model_deployment(r, "scorer", "2.0.0"), &[p]);
    fake["spec"]["owners"] = json!({"data": crew, "platform": crew, "application": crew});
    let out = Kubectl::user("dave").apply(&fake.to_string());
    assert!(out.success, "{}", out.stderr);
    for item in ["drift", "latency", "kpis"] {
        support::attest_as_named("mallory", r, "scorer", item, "2.0.0", &format!("m-{item}"));
    }
    wait_phase(r, "scorer", "Serving", WAIT);
    // … and cites it from prod: only prod's platform team may change `from`.
    let case = "mallory points prod at her own staging";
    let before = Unchanged::read("md", Some(p), "scorer");
    let cite = json!({"spec": {"promotion": {"from": {"namespace": r, "name": "scorer"}, "soak": "1s", "carry": ["drift", "latency", "kpis"]}}});
    let out = Kubectl::user("mallory").run(&[
        "patch",
        "md",
        "scorer",
        "-n",
        p,
        "--type",
        "merge",
        "-p",
        &cite.to_string(),
    ]);
    assert_denied_by_accord(case, &out, &["mallory may not change spec.promotion.from"]);
    before.assert_same(case, &["/spec"]);
    // A new prod model of her own citing it: her sign-offs are not prod's Teams'.
    let mut own = downstream(
        p,
        "mine",
        "2.0.0",
        (r, "scorer"),
        "1s",
        &["drift", "latency", "kpis"],
    );
    own = running_scorer(own, "2.0.0");
    let out = Kubectl::user("mallory").apply(&own.to_string());
    assert!(out.success, "{}", out.stderr);
    let mine = poll("mallory's carried sign-offs to be judged", WAIT, || {
        let md = get_md(p, "mine");
        let drift = item(&md, "drift");
        drift["reason"]
            .is_string()
            .then(|| md.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    for id in ["drift", "latency", "kpis"] {
        assert_eq!(
            item(&mine, id)["attested"],
            false,
            "{id}: {}",
            item(&mine, id)
        );
    }
    assert!(
        item(&mine, "drift")["reason"]
            .to_string()
            .contains("mallory is not a member of team data-platform")
    );
    assert!(
        support::deployment(p, "mine").is_none(),
        "nothing of hers runs in prod"
    );

    // 2. An editor (carol, application team) adds an item to carry, shortens the soak.
    let carol_cases = [
        (
            "carol carries latency",
            json!({"spec": {"promotion": {"carry": ["drift", "latency"]}}}),
            "carol may not let checklist item latency count on its upstream sign-off",
        ),
        (
            "carol shortens the soak",
            json!({"spec": {"promotion": {"soak": "1s"}}}),
            "carol may not change spec.promotion.from or spec.promotion.soak",
        ),
        (
            "carol drops the upstream",
            json!({"spec": {"promotion": null}}),
            "carol may not change spec.promotion.from",
        ),
    ];
    for (case, patch, denial) in carol_cases {
        let before = Unchanged::read("md", Some(p), "scorer");
        let out = Kubectl::user("carol").run(&[
            "patch",
            "md",
            "scorer",
            "-n",
            p,
            "--type",
            "merge",
            "-p",
            &patch.to_string(),
        ]);
        assert_denied_by_accord(case, &out, &[denial]);
        before.assert_same(case, &["/spec"]);
    }
    // Sharing staging with another namespace is staging's platform team's decision.
    let case = "carol shares staging with her namespace";
    let before = Unchanged::read("md", Some(s), "scorer");
    let share = json!({"spec": {"promotion": {"downstream": [p, r]}}});
    let out = Kubectl::user("carol").run(&[
        "patch",
        "md",
        "scorer",
        "-n",
        s,
        "--type",
        "merge",
        "-p",
        &share.to_string(),
    ]);
    assert_denied_by_accord(
        case,
        &out,
        &["carol may not change spec.promotion.downstream"],
    );
    before.assert_same(case, &["/spec"]);

    // 3. The upstream's status is forged (availability backdated a year).
    let case = "mallory backdates staging's availability";
    let before = Unchanged::read("md", Some(s), "scorer");
    let forged = json!([{"op": "replace", "path": "/status/history/0/availableSince", "value": "2025-01-01T00:00:00Z"}]);
    let out = Kubectl::user("mallory").run(&[
        "patch",
        "md",
        "scorer",
        "-n",
        s,
        "--subresource",
        "status",
        "--type",
        "json",
        "-p",
        &forged.to_string(),
    ]);
    assert_denied_by_accord(
        case,
        &out,
        &["mallory may not write the status of ModelDeployment"],
    );
    before.assert_same(case, &["/status/history"]);

    // 4. The same artifact from a namespace that does not list prod.
    create(&model_deployment(u, "scorer", "2.0.0"));
    attest_all(u, "scorer", "2.0.0");
    wait_phase(u, "scorer", "Serving", WAIT);
    let elsewhere = downstream(p, "elsewhere", "2.0.0", (u, "scorer"), "1s", &["drift"]);
    create(&running_scorer(elsewhere, "2.0.0"));
    let refused = wait_reason(p, "elsewhere", "UpstreamNotShared");
    assert!(
        condition(&refused, "Ready")["message"]
            .to_string()
            .contains(&format!("does not list namespace {p}"))
    );
    assert_eq!(promoted_entries(&refused), 0);

    // 5. ABA: staging moves to 2.1.0 and back; the soak counts from the latest stretch.
    set_version(s, "scorer", "2.1.0");
    attest_all(s, "scorer", "2.1.0");
    poll("staging to serve 2.1.0", WAIT, || {
        let md = get_md(s, "scorer");
        (md["status"]["activeVersion"] == "2.1.0" && md["status"]["phase"] == "Serving")
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
    wait_reason(p, "scorer", "NotServedUpstream");
    set_version(s, "scorer", "2.0.0");
    let back = poll("staging to serve 2.0.0 again", WAIT, || {
        let md = get_md(s, "scorer");
        let entry = last_history(&md);
        (entry["version"] == "2.0.0" && entry["availableSince"].is_string())
            .then(|| entry.clone())
            .ok_or_else(|| md["status"].to_string())
    });
    let restarted = timestamp(&back["availableSince"]);
    let first = timestamp(&get_md(s, "scorer")["status"]["history"][0]["availableSince"]);
    assert!(
        restarted > first,
        "a new stretch: {restarted} after {first}"
    );
    let soaking = wait_reason(p, "scorer", "Soaking");
    let message = condition(&soaking, "Ready")["message"].to_string();
    assert!(message.contains("of the 1h soak"), "{message}");

    // 6. Delete and re-create staging: a new object has no history, so nothing soaked.
    let started = Instant::now();
    Kubectl::admin().ok(&["delete", "md", "scorer", "-n", s, "--wait=true"]);
    create(&shared_with(model_deployment(s, "scorer", "2.0.0"), &[p]));
    let md = wait_reason(p, "scorer", "NotServedUpstream");
    assert_eq!(promoted_entries(&md), 0, "after {:?}", started.elapsed());
    assert!(support::deployment(p, "scorer").is_none());
    Kubectl::admin().ok(&["delete", "team", &crew, "--wait=false"]);
}

/// `kubectl accord <args>` as a static user: (success, stdout, stderr).
fn accord(user: &str, args: &[&str]) -> (bool, String, String) {
    accord_e2e::plugin_as(user, args)
}

#[test]
fn bob_promotes_what_staging_runs_and_alice_follows_the_pipeline() {
    let _guard = accord_e2e::exclusive();
    let _operator = Operator::start("environments-plugin", "accord-operator", &[]);
    let staging = TestNamespace::create("env-plg-staging");
    let prod = TestNamespace::create("env-plg-prod");
    let (s, p) = (staging.name.as_str(), prod.name.as_str());
    create(&shared_with(model_deployment(s, "scorer", "2.0.0"), &[p]));
    attest_all(s, "scorer", "2.0.0");
    wait_phase(s, "scorer", "Serving", WAIT);
    // Prod runs 1.0.0 with its own configuration and cites staging.
    let mut md = downstream(
        p,
        "scorer",
        "1.0.0",
        (s, "scorer"),
        "1h",
        &["drift", "kpis"],
    );
    md["spec"]["serving"]["replicas"] = json!(1);
    md["spec"]["serving"]["env"] = json!([{"name": "REGION", "value": "eu"}]);
    create(&md);

    // --dry-run and -o yaml write nothing.
    let before = Unchanged::read("md", Some(p), "scorer");
    let (ok, out, err) = accord("bob", &["promote", "scorer", "-n", p, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("scorer in {p}: 1.0.0 → 2.0.0")),
        "{out}"
    );
    let (ok, yaml, err) = accord("bob", &["promote", "scorer", "-n", p, "-o", "yaml"]);
    assert!(ok, "{err}");
    assert!(
        yaml.contains("version: \"2.0.0\"") && yaml.contains("registry.example.com/scorer:2.0.0"),
        "{yaml}"
    );
    before.assert_same("promote --dry-run and -o yaml", &["/spec"]);

    // bob promotes: model and image from staging, prod's configuration kept, and bob is
    // the candidate's introducer.
    let (ok, out, err) = accord("bob", &["promote", "scorer", "-n", p]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!("scorer in {p}: 1.0.0 → 2.0.0 (artifact sha256:")),
        "{out}"
    );
    let promoted = get_md(p, "scorer");
    assert_eq!(promoted["spec"]["model"]["version"], "2.0.0");
    assert_eq!(
        promoted["spec"]["serving"]["image"],
        "registry.example.com/scorer:2.0.0"
    );
    assert_eq!(
        promoted["spec"]["serving"]["replicas"], 1,
        "configuration is prod's"
    );
    assert_eq!(promoted["spec"]["serving"]["env"][0]["value"], "eu");
    assert_eq!(
        promoted["metadata"]["annotations"]["accord.dev/candidate-author"], "bob",
        "the person who promotes introduces the candidate"
    );
    let (ok, again, _) = accord("bob", &["promote", "scorer", "-n", p]);
    assert!(ok && again.contains("already names"), "{again}");

    // alice follows it: soaking in prod, drift and kpis carried from staging.
    let soaking = wait_reason(p, "scorer", "Soaking");
    assert_eq!(
        soaking["status"]["candidate"]["artifactFingerprint"],
        get_md(s, "scorer")["status"]["candidate"]["artifactFingerprint"]
    );
    let (ok, out, err) = accord("alice", &["pipeline", "scorer", "-n", p, "-o", "json"]);
    assert!(ok, "{err}");
    let pipeline: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let environments = pipeline["environments"].as_array().expect("environments");
    assert_eq!(environments.len(), 2, "{pipeline}");
    assert_eq!(environments[0]["namespace"], s);
    let prod_env = &environments[1];
    assert_eq!(prod_env["namespace"], p);
    assert_eq!(prod_env["candidate"], "2.0.0");
    assert_eq!(prod_env["soak"]["state"], "soaking", "{prod_env}");
    assert!(
        prod_env["soak"]["leftSeconds"]
            .as_f64()
            .is_some_and(|left| left > 3000.0),
        "{prod_env}"
    );
    let carried: Vec<&str> = prod_env["carried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["item"].as_str().unwrap())
        .collect();
    assert_eq!(carried, ["drift", "kpis"], "{prod_env}");
    let owed: Vec<&str> = prod_env["owed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["item"].as_str().unwrap())
        .collect();
    assert_eq!(owed, ["latency"], "{prod_env}");
    let (ok, text, err) = accord("alice", &["pipeline", "scorer", "-n", p]);
    assert!(ok, "{err}");
    assert!(text.contains("soaking") && text.contains("left"), "{text}");

    // bob introduced it, so he may not sign latency off in prod; dave (platform) may.
    let out = Kubectl::user("bob").run_with_stdin(
        &["create", "-f", "-"],
        Some(
            &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
            "metadata": {"name": "bob-latency", "namespace": p},
            "spec": {"modelDeployment": "scorer", "item": "latency", "version": "2.0.0"}})
            .to_string(),
        ),
    );
    assert_denied_by_accord(
        "bob signs off the candidate he promoted",
        &out,
        &[
            "bob last changed the spec",
            "cannot attest their own change",
        ],
    );
    attest_as_named_dave(p);
    let signed = poll("dave's latency sign-off to count", WAIT, || {
        let md = get_md(p, "scorer");
        (item(&md, "latency")["attested"] == true)
            .then(|| md.clone())
            .ok_or_else(|| item(&md, "latency").to_string())
    });
    assert_eq!(signed["status"]["pendingItems"], 0);
    assert_eq!(
        condition(&signed, "Ready")["reason"],
        "Soaking",
        "only the soak is left"
    );
}

/// dave (a member of the platform team, who did not promote) signs latency off.
fn attest_as_named_dave(namespace: &str) {
    support::attest_as_named(
        "dave",
        namespace,
        "scorer",
        "latency",
        "2.0.0",
        "dave-latency",
    );
}
