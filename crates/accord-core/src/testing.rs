//! Fixtures for the pure modules' unit tests (and the layers above, with the `testing`
//! feature): the API objects of [`accord_api::testing`], a settable [`Verifier`], SSH
//! keys and signed sign-offs, and a [`World`] to drive whole decisions in.

pub use crate::api::testing::{attestation, md, team, time};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use k8s_openapi::api::{
    apps::v1::{Deployment, DeploymentStatus},
    core::v1::Service,
};

use super::{
    decide::{Decision, ObjectWrite, decide},
    observe::Observed,
    trust::{Author, Verifier},
};
use crate::api::{Attestation, HistoryEntry, ModelDeployment, Team};

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
    format!("test:{}", crate::api::fingerprint::content_hash(&unsealed))
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
    let version = &md.spec.model.version;
    let mut att = attestation("signed", item, version, signer, &[]);
    let name = md.metadata.name.clone().unwrap_or_default();
    att.metadata.name = Some(format!("{name}-{version}-{item}-{signer}-{at}"));
    att.spec.model_deployment = name;
    att.metadata.annotations = None;
    att.spec.team = None;
    att.spec.digest = md.spec.model.digest.clone();
    att.spec.candidate = Some(md.spec.fingerprint());
    att.spec.evidence = Some("https://ci.example.com/runs/1".into());
    att.spec.signature = Some(crate::api::AttestationSignature {
        signer: signer.into(),
        signed_at: time(at).0.to_string(),
        sshsig: String::new(),
    });
    let statement = crate::signing::signed_statement("payments", &att.spec).unwrap();
    att.spec.signature.as_mut().unwrap().sshsig = ssh_keygen_sign(&key.path, &statement);
    att.metadata.creation_timestamp = Some(time(at));
    att
}

/// Signs `statement` as `kubectl accord attest --sign` does: `ssh-keygen -Y sign`.
fn ssh_keygen_sign(key: &std::path::Path, statement: &str) -> String {
    use std::{
        io::Write,
        process::{Command, Stdio},
    };
    let mut child = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", crate::signing::NAMESPACE, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh-keygen runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(statement.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "ssh-keygen signed");
    String::from_utf8(output.stdout).unwrap()
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
    pub incidents: Vec<crate::api::Incident>,
    /// Guard readings taken for the decision.
    pub readings: Vec<crate::guards::Reading>,
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

    /// What the operator's caches would give a reconcile of this world's ModelDeployment.
    pub fn observed(&self) -> Observed {
        let md = self.md();
        let (name, namespace) = (md.metadata.name.clone(), md.metadata.namespace.clone());
        let named = |meta: &ObjectMeta, wanted: &str| {
            meta.name.as_deref() == Some(wanted) && meta.namespace == namespace
        };
        let name = name.unwrap_or_default();
        let canary = crate::desired::canary_name(md);
        Observed {
            teams: md
                .spec
                .owners
                .teams()
                .into_iter()
                .map(|t| {
                    let found = self
                        .teams
                        .iter()
                        .find(|team| team.metadata.name.as_deref() == Some(t));
                    (t.to_string(), found.cloned().map(std::sync::Arc::new))
                })
                .collect(),
            attestations: self
                .attestations
                .iter()
                .filter(|a| a.spec.model_deployment == name && a.metadata.namespace == namespace)
                .filter(|a| !a.is_root_cause())
                .cloned()
                .map(std::sync::Arc::new)
                .collect(),
            analyses: self
                .attestations
                .iter()
                .filter(|a| a.spec.model_deployment == name && a.metadata.namespace == namespace)
                .filter(|a| a.is_root_cause())
                .cloned()
                .map(std::sync::Arc::new)
                .collect(),
            incidents: self
                .incidents
                .iter()
                .filter(|i| i.is_for(namespace.as_deref(), &name))
                .cloned()
                .map(std::sync::Arc::new)
                .collect(),
            readings: self.readings.clone(),
            drills: vec![],
            deployment: self
                .deployment
                .clone()
                .filter(|d| named(&d.metadata, &name))
                .map(std::sync::Arc::new),
            service: self
                .service
                .clone()
                .filter(|s| named(&s.metadata, &name))
                .map(std::sync::Arc::new),
            canary: self
                .deployment
                .clone()
                .filter(|d| named(&d.metadata, &canary))
                .map(std::sync::Arc::new),
            measurement: None,
            foreign: vec![],
            policies: self
                .policies
                .iter()
                .cloned()
                .map(std::sync::Arc::new)
                .collect(),
            namespace_labels: self
                .namespaces
                .iter()
                .find(|n| n.metadata.name == namespace)
                .and_then(|n| n.metadata.labels.clone())
                .unwrap_or_default(),
            upstream: None,
        }
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
        for opened in &decision.writes.incidents {
            if !self
                .incidents
                .iter()
                .any(|i| i.metadata.name == opened.metadata.name)
            {
                self.incidents.push(opened.clone());
            }
        }
        for (name, status) in &decision.writes.incident_statuses {
            if let Some(incident) = self
                .incidents
                .iter_mut()
                .find(|i| i.metadata.name.as_deref() == Some(name))
            {
                incident.status = Some(status.clone());
            }
        }
    }
}

impl World {
    /// fraud-scorer signed off and promoted (four reconciles), and the record its
    /// promotion planned.
    pub fn promoted_with_record() -> (Self, crate::audit::RecordPlan) {
        let mut world = Self::signed_off();
        let mut plans = vec![];
        for t in 0..4 {
            let decision = world.decide(&Verify::default(), t);
            plans.extend(decision.records.clone());
            world.carry_out(&decision);
        }
        assert_eq!(plans.len(), 1, "one promotion, one record: {plans:?}");
        (world, plans.remove(0))
    }

    /// `plan`'s Statement in this world (cluster `cluster`, after `previous`), signed
    /// with `keys`: (Statement, envelope, digest).
    pub fn sign_record(
        &self,
        plan: &crate::audit::RecordPlan,
        previous: Option<crate::api::PreviousRecord>,
        cluster: &str,
        keys: &crate::audit::keys::RecordKeys,
    ) -> (crate::api::Statement, crate::api::Envelope, String) {
        let attestations: Vec<std::sync::Arc<Attestation>> = self
            .attestations
            .iter()
            .cloned()
            .map(std::sync::Arc::new)
            .collect();
        let ctx = crate::audit::Context {
            cluster,
            md: self.md(),
            attestations: &attestations,
            previous,
        };
        let statement = crate::audit::statement(plan, &ctx);
        let (envelope, digest) = crate::audit::envelope(&statement, keys);
        (statement, envelope, digest)
    }
}
