//! Signed sign-offs under a real Flux: a Git repository holds the Teams (with their
//! members' SSH keys) and a ModelDeployment; Flux's own controllers apply them; people
//! sign off with real `ssh-keygen` through `kubectl accord attest --sign`, commit, and
//! Flux applies the Attestations as a tenant (`serviceAccountName`: a ServiceAccount
//! with only the built-in `admin` role in the model's namespace, the chart's roles
//! aggregated into it), as multi-tenant Flux runs. Accord must count exactly
//! the sign-offs whose signatures verify now, refuse the rest with a message Flux
//! shows, and never change what Git holds.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use accord_e2e::{
    ChartRoles, Kubectl, Operator, TestNamespace, Unchanged, assert_denial_in, assert_not_stored,
    flux::{FLUX_NAMESPACE, Flux, GitRepo, sync},
    plugin_command, poll, tenant,
    tenant::TENANT,
    tenant_user,
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
/// Flux health for a ModelDeployment, as docs/gitops.md gives it.
const MODEL_DEPLOYMENT_CURRENT: &str = "status.?phase.orValue('') == 'Serving' && \
     status.?observedGeneration.orValue(0) == metadata.generation";
const MODEL_DEPLOYMENT_FAILED: &str =
    "status.?phase.orValue('') in ['RolledBack', 'Degraded', 'Invalid']";
/// The namespace whose only ServiceAccount applies Team files (an Accord admin group).
const TEAM_KEEPERS: &str = "accord-team-keepers";

/// Throw-away SSH keys, made by the machine's OpenSSH.
struct Keys {
    dir: PathBuf,
}

impl Keys {
    fn new(label: &str) -> Self {
        let dir = accord_e2e::cluster_dir()
            .join("gitops")
            .join("keys")
            .join(label);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    /// Generates key `name` (ed25519, or ecdsa when the name says so); returns the
    /// private key's path.
    fn generate(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let kind = if name.contains("ecdsa") {
            "ecdsa"
        } else {
            "ed25519"
        };
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
            .arg(&path)
            .output()
            .expect("ssh-keygen runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    fn public(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.pub")))
            .unwrap()
            .trim()
            .to_string()
    }

    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    fn fingerprint(&self, name: &str) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.dir.join(format!("{name}.pub")))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    }
}

/// Runs `kubectl-accord` offline (no kubeconfig), as a signer at their desk would.
fn plugin(args: &[&str]) -> String {
    let out = plugin_command()
        .args(args)
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl accord {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `signer` signs `item` of the ModelDeployment in the repository with `key`.
fn sign(repo: &GitRepo, key: &Path, signer: &str, item: &str) -> String {
    let md = repo.path("models/fraud-scorer.yaml");
    plugin(&[
        "attest",
        "fraud-scorer",
        "--item",
        item,
        "--sign",
        "--key",
        key.to_str().unwrap(),
        "--signer",
        signer,
        "--from-file",
        md.to_str().unwrap(),
        "--evidence",
        "https://ci.example.com/runs/1",
    ])
}

fn name_of(manifest: &str) -> String {
    manifest
        .lines()
        .skip_while(|l| !l.starts_with("metadata:"))
        .find_map(|l| l.trim().strip_prefix("name: "))
        .expect("the manifest has a name")
        .to_string()
}

fn team(name: &str, users: &[&str], keys: Value) -> String {
    serde_json::to_string_pretty(&json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "Team",
        "metadata": {"name": name},
        "spec": {"members": {"users": users}, "signingKeys": keys}
    }))
    .unwrap()
}

fn model_deployment(namespace: &str, teams: &Teams) -> String {
    serde_json::to_string_pretty(&json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "fraud-scorer", "namespace": namespace},
        "spec": {
            "owners": {"data": teams.data, "platform": teams.platform, "application": teams.app},
            "model": {"name": "fraud-scorer", "version": "2.4.0"},
            "serving": {"image": "registry.example.com/fraud-scorer:2.4.0", "replicas": 1, "port": 8080},
            "handoff": {"checklist": [
                {"id": "drift", "owner": "data"},
                {"id": "latency", "owner": "platform"}
            ]},
            "rollback": {"mode": "Automatic", "progressDeadlineSeconds": 30}
        }
    }))
    .unwrap()
}

struct Teams {
    data: String,
    platform: String,
    app: String,
}

fn md_json(namespace: &str) -> Value {
    Kubectl::admin()
        .get_json(&["md", "fraud-scorer", "-n", namespace])
        .expect("the ModelDeployment exists")
}

fn item_attested(md: &Value, item: &str) -> Option<String> {
    md["status"]["checklist"]
        .as_array()?
        .iter()
        .find(|i| i["id"] == item && i["attested"] == true)
        .map(|i| i["attestedBy"].as_str().unwrap_or_default().to_string())
}

fn attestation(namespace: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&["attestation", name, "-n", namespace])
}

/// Denied admissions of Attestations, from the operator's metrics.
fn denied_attestations(operator: &Operator) -> f64 {
    operator
        .http_get("/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("kind=\"Attestation\"") && l.contains("verdict=\"denied\""))
        .filter(|l| l.starts_with("accord_admission_requests"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn flux_applies_signed_sign_offs_and_surfaces_every_refusal() {
    let _guard = accord_e2e::exclusive();
    // Flux applies the models path as a tenant: a ServiceAccount with only `admin` in
    // the model's namespace (kustomize-controller impersonates it), with the chart's
    // roles aggregated into `admin` — not as cluster-admin.
    let ns = TestNamespace::create("flux");
    let namespace = ns.name.as_str();
    let _roles = ChartRoles::install();
    tenant(namespace);
    let operator = Operator::start(
        "flux",
        "accord-operator",
        &[
            "--gitops-identities",
            &tenant_user(namespace),
            "--admin-group",
            "accord-admins",
            "--admin-group",
            &format!("system:serviceaccounts:{TEAM_KEEPERS}"),
        ],
    );
    let flux = Flux::start();
    let teams = Teams {
        data: format!("{namespace}-data"),
        platform: format!("{namespace}-platform"),
        app: format!("{namespace}-app"),
    };
    let keys = Keys::new(namespace);
    for key in [
        "alice",
        "alice-new",
        "bob-ecdsa",
        "bob-old",
        "bob-expiring",
        "bob-laptop",
        "carol",
    ] {
        keys.generate(key);
    }
    let key_entry = |user: &str, key: &str| json!({"user": user, "key": keys.public(key)});

    // --- The repository: Teams (with keys) and the ModelDeployment -------------------
    let repo = flux.repository(namespace);
    repo.write(
        "teams/data.yaml",
        &team(
            &teams.data,
            &["alice"],
            json!([key_entry("alice", "alice")]),
        ),
    );
    let mut expiring = key_entry("bob", "bob-expiring");
    expiring["validBefore"] = json!("2026-01-01T00:00:00Z");
    let platform_keys = json!([
        key_entry("bob", "bob-ecdsa"),
        key_entry("bob", "bob-old"),
        expiring
    ]);
    let mut platform =
        serde_json::from_str::<Value>(&team(&teams.platform, &["bob"], platform_keys)).unwrap();
    platform["spec"]["revokedKeys"] = json!([keys.fingerprint("bob-old")]);
    repo.write(
        "teams/platform.yaml",
        &serde_json::to_string_pretty(&platform).unwrap(),
    );
    repo.write(
        "teams/app.yaml",
        &team(&teams.app, &["carol"], json!([key_entry("carol", "carol")])),
    );
    repo.write(
        "models/fraud-scorer.yaml",
        &model_deployment(namespace, &teams),
    );
    let revision = repo.commit("Teams and the fraud-scorer ModelDeployment");

    let source = namespace;
    let flux_objects = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": source, "namespace": FLUX_NAMESPACE},
         "spec": {"url": repo.url, "interval": "10m", "ref": {"branch": "main"}}},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": source, "namespace": TEAM_KEEPERS},
         "spec": {"sourceRef": {"kind": "GitRepository", "name": source, "namespace": FLUX_NAMESPACE},
                  "serviceAccountName": "team-keeper",
                  "path": "./teams", "prune": true, "interval": "10m", "timeout": "20s"}},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": source, "namespace": namespace},
         "spec": {"sourceRef": {"kind": "GitRepository", "name": source, "namespace": FLUX_NAMESPACE},
                  "serviceAccountName": TENANT,
                  "path": "./models", "prune": true, "interval": "10m", "timeout": "10s",
                  "healthChecks": [{"apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
                                    "name": "fraud-scorer", "namespace": namespace}],
                  // As docs/gitops.md recommends: without it, kstatus calls a
                  // ModelDeployment the operator has not written status to yet Current.
                  "healthCheckExprs": [{"apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
                                        "current": MODEL_DEPLOYMENT_CURRENT, "failed": MODEL_DEPLOYMENT_FAILED}]}}
    ]});
    let out = Kubectl::admin().apply(&flux_objects.to_string());
    assert!(out.success, "{}", out.stderr);
    let both = [(TEAM_KEEPERS, source), (namespace, source)];
    let models = [(namespace, source)];

    // --- Flux applies them; the candidate waits, and the Kustomization says so --------
    let synced = sync(source, &revision, &both);
    assert_eq!(synced[0].0.0, "True", "Teams applied: {:?}", synced[0].0);
    let (status, reason, message) = &synced[1].0;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "HealthCheckFailed"),
        "{message}"
    );
    assert!(message.contains("fraud-scorer"), "{message}");
    let md = md_json(namespace);
    assert_eq!(md["status"]["phase"], "AwaitingAttestations", "{md}");
    assert!(
        Kubectl::admin()
            .get_json(&["deployment", "fraud-scorer", "-n", namespace])
            .is_none(),
        "nothing is deployed before sign-off"
    );

    // --- Every bad sign-off is refused with the webhook's message, shown by Flux ------
    let bob_valid = sign(&repo, &keys.dir.join("bob-ecdsa"), "bob", "latency");
    let tampered = bob_valid.replace(
        "https://ci.example.com/runs/1",
        "https://ci.example.com/runs/2",
    );
    assert_ne!(tampered, bob_valid);
    let unsigned = format!(
        "apiVersion: accord.dev/v1alpha1\nkind: Attestation\nmetadata:\n  name: latency-unsigned\n  \
         namespace: {namespace}\nspec:\n  modelDeployment: fraud-scorer\n  item: latency\n  \
         version: \"2.4.0\"\n"
    );
    let refusals = [
        (
            "a tampered statement field",
            tampered,
            "does not match the statement rebuilt from the spec".to_string(),
        ),
        (
            "a key the Team does not list",
            sign(&repo, &keys.dir.join("bob-laptop"), "bob", "latency"),
            format!(
                "which is not one of bob's signing keys in team {}",
                teams.platform
            ),
        ),
        (
            "a revoked key",
            sign(&repo, &keys.dir.join("bob-old"), "bob", "latency"),
            format!("of bob is revoked in team {}", teams.platform),
        ),
        (
            "an expired key",
            sign(&repo, &keys.dir.join("bob-expiring"), "bob", "latency"),
            "expired at 2026-01-01T00:00:00Z".to_string(),
        ),
        (
            "a signer outside the owning Team",
            sign(&repo, &keys.dir.join("carol"), "carol", "latency"),
            format!("carol has no signing key in team {}", teams.platform),
        ),
        (
            "an unsigned Attestation",
            unsigned,
            "is a GitOps identity".to_string(),
        ),
    ];
    for (what, manifest, expected) in refusals {
        repo.write("models/latency.yaml", &manifest);
        let revision = repo.commit(&format!("sign off latency with {what}"));
        let ((status, _, message), _) = sync(source, &revision, &models).remove(0);
        assert_eq!(status, "False", "{what}: {message}");
        // Flux shows Accord's reason.
        assert_denial_in(what, &message, &[&expected]);
        assert_not_stored(what, "attestation", Some(namespace), &name_of(&manifest));
        assert_eq!(
            item_attested(&md_json(namespace), "latency"),
            None,
            "{what}"
        );
        repo.remove("models/latency.yaml");
    }

    // --- alice signs off drift: counted, verified, and stored exactly as in Git -------
    let alice_signed = sign(&repo, &keys.dir.join("alice"), "alice", "drift");
    let alice_name = name_of(&alice_signed);
    repo.write("models/drift.yaml", &alice_signed);
    let revision = repo.commit("alice signs off drift");
    sync(source, &revision, &models);
    poll("alice's sign-off to count", WAIT, || {
        let md = md_json(namespace);
        (item_attested(&md, "drift").as_deref() == Some("alice"))
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
    let stored = attestation(namespace, &alice_name).unwrap();
    assert_eq!(
        stored["status"]["verifiedBy"],
        json!({"user": "alice", "team": teams.data, "keyFingerprint": keys.fingerprint("alice")})
    );
    assert!(
        stored["spec"].get("team").is_none(),
        "the webhook must not mutate it: {stored}"
    );
    assert!(
        stored["metadata"]["annotations"]
            .as_object()
            .is_none_or(|a| a.keys().all(|k| !k.starts_with("accord.dev/"))),
        "no seal or other Accord annotation on a signed Attestation: {stored}"
    );

    // --- Revoking alice's key in Git un-counts her sign-off at once -------------------
    let mut data_team: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path("teams/data.yaml")).unwrap())
            .unwrap();
    data_team["spec"]["revokedKeys"] = json!([keys.fingerprint("alice")]);
    repo.write(
        "teams/data.yaml",
        &serde_json::to_string_pretty(&data_team).unwrap(),
    );
    let revision = repo.commit("revoke alice's key");
    sync(source, &revision, &both);
    poll("alice's sign-off to stop counting", WAIT, || {
        let md = md_json(namespace);
        let att = attestation(namespace, &alice_name).ok_or("gone")?;
        let counted = att["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Counted").cloned())
            .unwrap_or_default();
        (item_attested(&md, "drift").is_none()
            && counted["status"] == "False"
            && counted["reason"] == "SignatureNotVerified"
            && att["status"].get("verifiedBy").is_none())
        .then_some(())
        .ok_or_else(|| format!("{}\n{}", md["status"]["checklist"], att["status"]))
    });

    // --- alice adds a new key (kubectl accord team add-key) and signs again -----------
    let data_file = repo.path("teams/data.yaml");
    plugin(&[
        "team",
        "add-key",
        &teams.data,
        "--user",
        "alice",
        "--key",
        keys.dir.join("alice-new.pub").to_str().unwrap(),
        "-f",
        data_file.to_str().unwrap(),
        "--in-place",
    ]);
    std::thread::sleep(Duration::from_secs(1)); // a new signedAt, so a new name
    let alice_again = sign(&repo, &keys.dir.join("alice-new"), "alice", "drift");
    assert_ne!(name_of(&alice_again), alice_name);
    repo.write("models/drift.yaml", &alice_again);
    let bob_signed = sign(&repo, &keys.dir.join("bob-ecdsa"), "bob", "latency");
    repo.write("models/latency.yaml", &bob_signed);
    let revision = repo.commit("alice's new key; alice and bob sign off");
    sync(source, &revision, &both);

    // --- Promoted, with both signers in the history; the revoked one pruned -----------
    poll("fraud-scorer to be promoted", WAIT, || {
        let md = md_json(namespace);
        let approvals = &md["status"]["history"][0]["approvals"];
        (md["status"]["activeVersion"] == "2.4.0"
            && approvals
                == &json!([{"item": "drift", "attestedBy": "alice"}, {"item": "latency", "attestedBy": "bob"}]))
        .then_some(())
        .ok_or_else(|| md["status"].to_string())
    });
    assert!(
        attestation(namespace, &alice_name).is_none(),
        "Flux pruned the sign-off made with the revoked key"
    );
    let ready = poll("the Kustomization to be healthy", WAIT, || {
        let ((status, reason, message), object) = sync(source, &revision, &models).remove(0);
        (status == "True")
            .then_some(object)
            .ok_or(format!("{reason}: {message}"))
    });
    let inventory = ready["status"]["inventory"].to_string();
    assert!(inventory.contains(&name_of(&bob_signed)), "{inventory}");

    // --- A second reconcile finds no drift and meets no denial ------------------------
    let signed_off = [name_of(&alice_again), name_of(&bob_signed)]
        .map(|name| Unchanged::read("attestation", Some(namespace), &name));
    let denied_before = denied_attestations(&operator);
    let ((status, _, message), _) = sync(source, &revision, &models).remove(0);
    assert_eq!(status, "True", "{message}");
    for attestation in &signed_off {
        attestation.assert_untouched("re-sync: Flux changed nothing, Git and the cluster agree");
    }
    assert_eq!(
        denied_attestations(&operator),
        denied_before,
        "no denial on re-sync"
    );

    let _ = Kubectl::admin().run(&["delete", "kustomization", source, "-n", namespace]);
    let _ = Kubectl::admin().run(&["delete", "kustomization", source, "-n", TEAM_KEEPERS]);
    let _ = Kubectl::admin().run(&["delete", "gitrepository", source, "-n", FLUX_NAMESPACE]);
}
