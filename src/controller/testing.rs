//! Fixtures for the pure modules' unit tests.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use k8s_openapi::api::{
    apps::v1::{Deployment, DeploymentStatus},
    core::v1::Service,
};
use kube::{
    core::DeserializeGuard,
    runtime::{
        reflector::{Store, store::Writer},
        watcher,
    },
};

use super::{
    decide::{Decision, ObjectWrite, decide},
    observe::{Observed, observe},
    trust::{Author, Verifier},
};
use crate::api::{
    Attestation, AttestationSpec, ChecklistItem, Handoff, HistoryEntry, ModelDeployment,
    ModelDeploymentSpec, ModelRef, Owners, Role, RollbackMode, RollbackPlan, Serving, Team,
    TeamMembers, TeamSpec, labels::ATTESTER_GROUPS,
};
use crate::watch::Stores;

/// A verifier whose answers a test sets: by default every seal verifies, authorship is
/// not checked, and history entries are sealed with a marker naming their version.
#[derive(Default)]
pub struct Verify {
    /// What `reject` answers for every attestation.
    pub reject: Option<String>,
    /// Who introduced every candidate (`None`: unchecked).
    pub author: Author,
}

impl Verifier for Verify {
    fn reject(&self, _: &Attestation) -> Option<String> {
        self.reject.clone()
    }
    fn candidate_author(&self, _: &ModelDeployment, _: &str) -> Author {
        self.author.clone()
    }
    fn seal_history(&self, _: &ModelDeployment, entry: &HistoryEntry) -> Option<String> {
        Some(test_seal(entry))
    }
    fn history_verifies(&self, _: &ModelDeployment, entry: &HistoryEntry) -> bool {
        entry.seal.as_deref() == Some(test_seal(entry).as_str())
    }
}

/// A stand-in seal for tests: a hash of the entry without its seal.
pub fn test_seal(entry: &HistoryEntry) -> String {
    let unsealed = HistoryEntry {
        seal: None,
        ..entry.clone()
    };
    format!("test:{}", super::desired::content_hash(&unsealed))
}

/// A timestamp `secs` seconds after an arbitrary fixed instant.
pub fn time(secs: i64) -> Time {
    Time(jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap())
}

/// A throw-away SSH key made by the machine's `ssh-keygen`.
pub struct TestKey {
    /// The private key file (in a temporary directory).
    pub path: std::path::PathBuf,
    /// The public key line.
    pub public: String,
}

/// Makes a fresh ed25519 key.
pub fn ssh_key(label: &str) -> TestKey {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "accord-test-keys-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(label);
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", label, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(dir.join(format!("{label}.pub"))).unwrap();
    TestKey {
        path,
        public: public.trim().to_string(),
    }
}

/// `team` with `key` listed for `user`.
pub fn with_key(mut team: Team, user: &str, key: &TestKey) -> Team {
    team.spec.signing_keys.push(crate::api::SigningKey {
        user: user.into(),
        key: key.public.clone(),
        valid_before: None,
    });
    team
}

/// A signed Attestation of `item` for `md`'s current candidate, made as `kubectl
/// accord attest --sign` makes it: `signer` signs with `key` through `ssh-keygen`.
pub fn signed(
    md: &ModelDeployment,
    item: &str,
    signer: &str,
    key: &TestKey,
    at: i64,
) -> Attestation {
    use crate::plugin::gitops;
    let signed_at = time(at).0.to_string();
    let sign_off = gitops::SignOff {
        namespace: "payments".into(),
        item: item.into(),
        evidence: Some("https://ci.example.com/runs/1".into()),
        comment: None,
        signer: signer.into(),
        signed_at,
    };
    let mut att = gitops::unsigned(md, &sign_off).unwrap();
    let sshsig = gitops::ssh_keygen_sign(&key.path, &gitops::statement(&att).unwrap()).unwrap();
    att.spec.signature.as_mut().unwrap().sshsig = sshsig;
    att.metadata.creation_timestamp = Some(time(at));
    att
}

pub fn team(name: &str, users: &[&str], groups: &[&str]) -> Team {
    let mut team = Team::new(
        name,
        TeamSpec {
            description: None,
            members: TeamMembers {
                users: users.iter().map(|s| s.to_string()).collect(),
                groups: groups.iter().map(|s| s.to_string()).collect(),
            },
            contacts: vec![format!("slack:#{name}")],
            ..Default::default()
        },
    );
    team.metadata.uid = Some(format!("uid-{name}"));
    team
}

/// `fraud-scorer` in `payments` with one required item per role: drift, latency, kpis.
pub fn md(version: &str) -> ModelDeployment {
    let mut md = ModelDeployment::new(
        "fraud-scorer",
        ModelDeploymentSpec {
            owners: Owners {
                data: "data-platform".into(),
                platform: "ml-platform".into(),
                application: "payments-app".into(),
            },
            model: ModelRef {
                name: "fraud-scorer".into(),
                version: version.into(),
                artifact: None,
                digest: None,
                training_data: None,
            },
            serving: Serving {
                image: Some(format!("registry.example.com/fraud-scorer:{version}")),
                replicas: 2,
                port: Some(8080),
                ..Default::default()
            },
            handoff: Handoff {
                checklist: [
                    ("drift", Role::Data),
                    ("latency", Role::Platform),
                    ("kpis", Role::Application),
                ]
                .into_iter()
                .map(|(id, owner)| ChecklistItem {
                    id: id.into(),
                    owner,
                    description: None,
                    required: true,
                    after: None,
                })
                .collect(),
                escalate_after: None,
            },
            rollout: None,
            rollback: RollbackPlan {
                mode: RollbackMode::Automatic,
                progress_deadline_seconds: 60,
            },
        },
    );
    md.metadata.namespace = Some("payments".into());
    md.metadata.uid = Some("uid-md".into());
    md.metadata.generation = Some(1);
    md
}

pub fn attestation(
    name: &str,
    item: &str,
    version: &str,
    user: &str,
    groups: &[&str],
) -> Attestation {
    Attestation {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("payments".into()),
            creation_timestamp: Some(time(name.len() as i64)),
            annotations: Some(BTreeMap::from([(
                ATTESTER_GROUPS.to_string(),
                groups.join(","),
            )])),
            ..Default::default()
        },
        spec: AttestationSpec {
            model_deployment: "fraud-scorer".into(),
            item: item.into(),
            version: version.into(),
            candidate: Some(md(version).spec.fingerprint()),
            attested_by: Some(user.into()),
            ..Default::default()
        },
        status: None,
    }
}

/// A world of objects as the API server stores them, for driving decisions (and the
/// reconcile glue) in tests without a cluster.
#[derive(Clone, Default)]
pub struct World {
    pub model_deployment: Option<ModelDeployment>,
    pub teams: Vec<Team>,
    pub attestations: Vec<Attestation>,
    pub deployment: Option<Deployment>,
    pub service: Option<Service>,
    pub policies: Vec<crate::api::HandoffPolicy>,
    pub namespaces: Vec<k8s_openapi::api::core::v1::Namespace>,
}

fn cache<K>(objects: impl IntoIterator<Item = K>) -> Store<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let mut writer = Writer::default();
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    writer.as_reader()
}

impl World {
    /// fraud-scorer 2.4.0 with its three Teams and every item attested.
    pub fn signed_off() -> Self {
        Self {
            model_deployment: Some(md("2.4.0")),
            teams: vec![
                team("data-platform", &[], &["data-platform-eng"]),
                team("ml-platform", &["bob"], &[]),
                team("payments-app", &["carol"], &[]),
            ],
            attestations: vec![
                attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]),
                attestation("a2", "latency", "2.4.0", "bob", &[]),
                attestation("a3", "kpis", "2.4.0", "carol", &[]),
            ],
            ..Default::default()
        }
    }

    /// The same world once Accord has promoted 2.4.0 and the Deployment is available.
    pub fn converged() -> Self {
        let mut world = Self::signed_off();
        world.converge(&Verify::default());
        world
    }

    pub fn md(&self) -> &ModelDeployment {
        self.model_deployment.as_ref().expect("a ModelDeployment")
    }

    pub fn stores(&self) -> Stores {
        Stores {
            model_deployments: cache(
                self.model_deployment
                    .clone()
                    .map(|md| DeserializeGuard(Ok(md))),
            ),
            teams: cache(self.teams.clone()),
            attestations: cache(self.attestations.clone()),
            deployments: cache(self.deployment.clone()),
            services: cache(self.service.clone()),
            policies: cache(self.policies.clone()),
            namespaces: cache(self.namespaces.clone()),
        }
    }

    pub fn observed(&self) -> Observed {
        observe(&self.stores(), self.md())
    }

    /// One decision at `t`.
    pub fn decide(&self, verifier: &dyn Verifier, t: i64) -> Decision {
        decide(self.md(), &self.observed(), verifier, time(t))
    }

    /// Decides and carries out the writes a few times, as successive reconciles would;
    /// returns the last decision.
    pub fn converge(&mut self, verifier: &dyn Verifier) -> Decision {
        let mut last = None;
        for t in 0..4 {
            let decision = self.decide(verifier, t);
            self.carry_out(&decision);
            last = Some(decision);
        }
        last.expect("decided")
    }

    /// Stores a decision's writes the way the API server would (a written Deployment
    /// rolls out at once).
    pub fn carry_out(&mut self, decision: &Decision) {
        let md = self.model_deployment.as_mut().expect("set");
        if let Some(labels) = &decision.writes.labels {
            md.metadata.labels = Some(labels.clone());
        }
        if let Some(status) = &decision.writes.status {
            md.status = Some(status.clone());
        }
        match &decision.writes.deployment {
            Some(ObjectWrite::Create(d)) | Some(ObjectWrite::Replace { object: d, .. }) => {
                let mut deployment = (**d).clone();
                let replicas = deployment.spec.as_ref().and_then(|s| s.replicas);
                deployment.metadata.generation = Some(1);
                deployment
                    .metadata
                    .uid
                    .get_or_insert_with(|| "uid-deployment".into());
                deployment.status = Some(DeploymentStatus {
                    observed_generation: Some(1),
                    replicas,
                    updated_replicas: replicas,
                    available_replicas: replicas,
                    ..Default::default()
                });
                self.deployment = Some(deployment);
            }
            Some(ObjectWrite::Delete) => self.deployment = None,
            None => {}
        }
        match &decision.writes.service {
            Some(ObjectWrite::Create(s)) | Some(ObjectWrite::Replace { object: s, .. }) => {
                self.service = Some((**s).clone())
            }
            Some(ObjectWrite::Delete) => self.service = None,
            None => {}
        }
        for verdict in &decision.verdicts {
            let name = verdict.attestation.metadata.name.clone();
            if let Some(att) = self
                .attestations
                .iter_mut()
                .find(|a| a.metadata.name == name)
            {
                att.status = Some(verdict.status.clone());
            }
        }
    }
}
