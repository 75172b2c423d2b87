//! Accord's seals: HMAC-SHA256 over what Accord itself admitted or wrote, checked
//! before anything counts. The webhook seals each admitted Attestation and the record
//! of who introduced a ModelDeployment's candidate; the controller seals its history
//! entries. A cluster whose webhook was bypassed or removed, or whose status was
//! written by someone else, still cannot be tricked into promoting: an unsealed or
//! altered record does not count.
//!
//! Keys live in a Secret in the operator's namespace (`accord-seal-keys`): one data
//! entry per key id, and `active` naming the id new seals use. Rotation adds a key and
//! moves `active`; old keys stay so old seals keep verifying (see docs/security.md).
//!
//! A seal reads `<version>:<key id>:<hex HMAC>`. Attestation seals `v1` (before
//! candidate fingerprints) still verify; new ones are `v2`, which also cover the
//! candidate fingerprint and the UID of the ModelDeployment they were admitted for.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use sha2::Sha256;

use crate::{
    api::{Attestation, HistoryEntry, ModelDeployment, fingerprint, labels},
    keyring,
    trust::{Author, Verifier},
};

/// Name of the Secret holding the seal keys.
pub const KEYS_SECRET: &str = "accord-seal-keys";

/// Length-prefixed lines: no two different field lists encode alike.
fn encode(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|field| format!("{}:{field}", field.len()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn annotation<'a>(attestation: &'a Attestation, key: &str) -> &'a str {
    attestation
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
        .unwrap_or_default()
}

/// What a `v1` attestation seal covers (seals made before candidate fingerprints).
fn attestation_fields_v1(attestation: &Attestation) -> Vec<&str> {
    let spec = &attestation.spec;
    vec![
        attestation
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_default(),
        attestation.metadata.name.as_deref().unwrap_or_default(),
        &spec.model_deployment,
        &spec.item,
        &spec.version,
        spec.digest.as_deref().unwrap_or_default(),
        spec.attested_by.as_deref().unwrap_or_default(),
        spec.team.as_deref().unwrap_or_default(),
        annotation(attestation, labels::ATTESTER_GROUPS),
    ]
}

/// What a `v2` attestation seal covers: `v1`'s fields, the candidate fingerprint and
/// the UID of the ModelDeployment it was admitted for. Any change breaks the seal.
fn attestation_fields_v2(attestation: &Attestation) -> Vec<&str> {
    let mut fields = attestation_fields_v1(attestation);
    fields.push(attestation.spec.candidate.as_deref().unwrap_or_default());
    fields.push(annotation(attestation, labels::MODEL_DEPLOYMENT_UID));
    // A root-cause analysis also binds its Incident and follow-ups (only when set, so
    // every seal made before them still verifies).
    if let Some(incident) = &attestation.spec.incident {
        fields.push(incident);
        fields.extend(attestation.spec.follow_ups.iter().map(String::as_str));
    }
    // A drill review binds the run it acknowledges (only when set, as above), so it is
    // never counted for another run.
    if let Some(drill) = &attestation.spec.drill {
        fields.push("drill");
        fields.push(drill);
    }
    fields
}

/// What an attestation's seal covers, as one string (for tests and tools).
pub fn sealed_fields(attestation: &Attestation) -> String {
    encode(&attestation_fields_v2(attestation))
}

const DOMAIN_HISTORY: &str = "accord.dev/history";
const DOMAIN_CANDIDATE_AUTHOR: &str = "accord.dev/candidate-author";

/// Why a seal does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("it has no seal: it was not admitted by Accord's webhook")]
    Missing,
    #[error("its seal is malformed")]
    Malformed,
    #[error("its seal names an unknown key {0:?}")]
    UnknownKey(String),
    #[error("its seal does not match its fields: it was altered after admission")]
    Altered,
    #[error("the seal keys are not loaded yet")]
    KeysNotLoaded,
}

/// The seal keys, by id, and the active one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealKeys {
    pub active: String,
    pub keys: BTreeMap<String, Vec<u8>>,
}

impl SealKeys {
    /// A fresh key set with one random 32-byte key.
    pub fn generate(id: &str) -> Self {
        let key: [u8; 32] = rand::random();
        Self {
            active: id.to_string(),
            keys: BTreeMap::from([(id.to_string(), key.to_vec())]),
        }
    }

    fn mac(key: &[u8], message: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        mac
    }

    /// `<version>:<active key>:<hex HMAC of parts>`.
    fn seal_parts(&self, version: &str, parts: &[&str]) -> String {
        let key = &self.keys[&self.active];
        let mac = Self::mac(key, &encode(parts)).finalize().into_bytes();
        format!("{version}:{}:{}", self.active, hex::encode(mac))
    }

    /// Checks `seal` over `parts` (in constant time), for a seal of `version`.
    fn verify_parts(&self, seal: &str, version: &str, parts: &[&str]) -> Result<(), SealError> {
        let mut pieces = seal.splitn(3, ':');
        let (Some(found), Some(id), Some(given)) = (pieces.next(), pieces.next(), pieces.next())
        else {
            return Err(SealError::Malformed);
        };
        if found != version {
            return Err(SealError::Malformed);
        }
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| SealError::UnknownKey(id.to_string()))?;
        let given = hex::decode(given).map_err(|_| SealError::Malformed)?;
        Self::mac(key, &encode(parts))
            .verify_slice(&given)
            .map_err(|_| SealError::Altered)
    }

    /// The seal for `attestation` under the active key.
    pub fn seal(&self, attestation: &Attestation) -> String {
        self.seal_parts("v2", &attestation_fields_v2(attestation))
    }

    /// `Ok` when `attestation` carries a seal that verifies, else why not.
    pub fn verify(&self, attestation: &Attestation) -> Result<(), SealError> {
        let seal = attestation
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::SEAL))
            .ok_or(SealError::Missing)?;
        match seal.split(':').next() {
            Some("v1") => self.verify_parts(seal, "v1", &attestation_fields_v1(attestation)),
            _ => self.verify_parts(seal, "v2", &attestation_fields_v2(attestation)),
        }
    }

    /// The record that `user` introduced candidate `fingerprint` of the ModelDeployment
    /// `namespace/name`.
    pub fn seal_candidate_author(
        &self,
        namespace: &str,
        name: &str,
        fingerprint: &str,
        user: &str,
    ) -> String {
        let parts = [DOMAIN_CANDIDATE_AUTHOR, namespace, name, fingerprint, user];
        self.seal_parts("v1", &parts)
    }

    /// Checks a candidate-author record.
    pub fn verify_candidate_author(
        &self,
        seal: &str,
        namespace: &str,
        name: &str,
        fingerprint: &str,
        user: &str,
    ) -> Result<(), SealError> {
        let parts = [DOMAIN_CANDIDATE_AUTHOR, namespace, name, fingerprint, user];
        self.verify_parts(seal, "v1", &parts)
    }

    fn history_parts(md: &ModelDeployment, entry: &HistoryEntry) -> [String; 5] {
        let unsealed = HistoryEntry {
            seal: None,
            ..entry.clone()
        };
        let body = serde_json::to_value(&unsealed).expect("history entries serialize");
        [
            DOMAIN_HISTORY.to_string(),
            md.metadata.namespace.clone().unwrap_or_default(),
            md.metadata.name.clone().unwrap_or_default(),
            md.metadata.uid.clone().unwrap_or_default(),
            fingerprint::canonical_json(&body),
        ]
    }

    /// The seal of a history entry of `md` (bound to that very object by its UID).
    pub fn seal_history(&self, md: &ModelDeployment, entry: &HistoryEntry) -> String {
        let parts = Self::history_parts(md, entry);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.seal_parts("v1", &parts)
    }

    /// Checks a history entry's seal.
    pub fn verify_history(
        &self,
        md: &ModelDeployment,
        entry: &HistoryEntry,
    ) -> Result<(), SealError> {
        let seal = entry.seal.as_deref().ok_or(SealError::Missing)?;
        let parts = Self::history_parts(md, entry);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.verify_parts(seal, "v1", &parts)
    }

    /// The keys a Secret holds, when it has a usable active key.
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        let (active, keys) = keyring::read(secret)?;
        Some(Self { active, keys })
    }

    /// The Secret that stores these keys.
    pub fn to_secret(&self, namespace: &str) -> Secret {
        keyring::secret(
            KEYS_SECRET,
            namespace,
            &self.active,
            self.keys.iter().map(|(k, v)| (k, v.as_slice())),
        )
    }
}

/// Seal keys shared by the webhook and the controller, refreshed from the Secret.
#[derive(Default)]
pub struct SharedKeys(RwLock<Option<Arc<SealKeys>>>);

impl SharedKeys {
    pub fn set(&self, keys: SealKeys) {
        *self.0.write().expect("not poisoned") = Some(Arc::new(keys));
    }

    pub fn get(&self) -> Option<Arc<SealKeys>> {
        self.0.read().expect("not poisoned").clone()
    }
}

/// The controller's view: only what carries a valid seal counts.
pub struct SealVerifier(pub Arc<SharedKeys>);

impl SealVerifier {
    fn keys(&self) -> Result<Arc<SealKeys>, SealError> {
        self.0.get().ok_or(SealError::KeysNotLoaded)
    }
}

/// The sealed record of who introduced a ModelDeployment's candidate: the user, and
/// the seal over (namespace, name, fingerprint, user).
pub fn candidate_author_record(md: &ModelDeployment) -> Option<(&str, &str)> {
    let annotations = md.metadata.annotations.as_ref()?;
    Some((
        annotations.get(labels::CANDIDATE_AUTHOR)?,
        annotations.get(labels::CANDIDATE_AUTHOR_SEAL)?,
    ))
}

/// Who introduced `fingerprint`, the candidate `md` names, by its sealed record.
pub fn candidate_author(md: &ModelDeployment, fingerprint: &str, keys: &SealKeys) -> Author {
    let Some((user, seal)) = candidate_author_record(md) else {
        return Author::Unknown(
            "there is no record of who introduced it: it was changed while Accord's webhook was not running"
                .into(),
        );
    };
    let namespace = md.metadata.namespace.as_deref().unwrap_or_default();
    let name = md.metadata.name.as_deref().unwrap_or_default();
    match keys.verify_candidate_author(seal, namespace, name, fingerprint, user) {
        Ok(()) => Author::Known(user.to_string()),
        Err(err) => Author::Unknown(format!(
            "the record of who introduced it does not verify ({err}): the spec was changed without Accord's webhook"
        )),
    }
}

impl Verifier for SealVerifier {
    fn reject(&self, attestation: &Attestation) -> Option<String> {
        let verified = self.keys().and_then(|keys| keys.verify(attestation));
        verified.err().map(|err| err.to_string())
    }

    fn candidate_author(&self, md: &ModelDeployment, fingerprint: &str) -> Author {
        match self.keys() {
            Ok(keys) => candidate_author(md, fingerprint, &keys),
            Err(err) => Author::Unknown(err.to_string()),
        }
    }

    fn seal_history(&self, md: &ModelDeployment, entry: &HistoryEntry) -> Option<String> {
        self.keys().ok().map(|keys| keys.seal_history(md, entry))
    }

    fn history_verifies(&self, md: &ModelDeployment, entry: &HistoryEntry) -> bool {
        self.keys()
            .and_then(|keys| keys.verify_history(md, entry))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::attestation;

    fn sealed(keys: &SealKeys) -> Attestation {
        let mut att = attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]);
        let seal = keys.seal(&att);
        att.metadata
            .annotations
            .get_or_insert_default()
            .insert(labels::SEAL.into(), seal);
        att
    }

    #[test]
    fn a_sealed_attestation_verifies() {
        let keys = SealKeys::generate("k1");
        assert_eq!(keys.verify(&sealed(&keys)), Ok(()));
    }

    #[test]
    fn a_root_cause_analysis_is_sealed_to_its_incident_and_follow_ups() {
        let keys = SealKeys::generate("k1");
        let mut rca = sealed(&keys);
        rca.spec.item = "root-cause-analysis".into();
        rca.spec.incident = Some("fraud-scorer-1".into());
        rca.spec.follow_ups = vec!["load-test".into(), "alert-runbook".into()];
        let seal = keys.seal(&rca);
        rca.metadata
            .annotations
            .get_or_insert_default()
            .insert(labels::SEAL.into(), seal);
        keys.verify(&rca).expect("sealed as admitted");
        let mut replayed = rca.clone();
        replayed.spec.incident = Some("fraud-scorer-2".into());
        assert_eq!(keys.verify(&replayed), Err(SealError::Altered));
        let mut fewer = rca.clone();
        fewer.spec.follow_ups.pop();
        assert_eq!(keys.verify(&fewer), Err(SealError::Altered));
    }

    #[test]
    fn any_identity_field_change_breaks_the_seal() {
        let keys = SealKeys::generate("k1");
        let base = sealed(&keys);
        type Tamper = Box<dyn Fn(&mut Attestation)>;
        let tampered: Vec<Tamper> = vec![
            Box::new(|a| a.spec.attested_by = Some("mallory".into())),
            Box::new(|a| a.spec.version = "9.9.9".into()),
            Box::new(|a| a.spec.item = "latency".into()),
            Box::new(|a| a.spec.team = Some("other".into())),
            Box::new(|a| a.spec.digest = Some("sha256:00".into())),
            Box::new(|a| a.spec.model_deployment = "other".into()),
            Box::new(|a| a.metadata.name = Some("renamed".into())),
            Box::new(|a| a.metadata.namespace = Some("elsewhere".into())),
            Box::new(|a| a.spec.incident = Some("fraud-scorer-incident".into())),
            Box::new(|a| {
                a.metadata
                    .annotations
                    .as_mut()
                    .unwrap()
                    .insert(labels::ATTESTER_GROUPS.into(), "ml-platform-eng".into());
            }),
        ];
        for (i, tamper) in tampered.iter().enumerate() {
            let mut att = base.clone();
            tamper(&mut att);
            let err = keys.verify(&att).unwrap_err();
            assert_eq!(err, SealError::Altered, "case {i}: {err}");
        }
        // Evidence and comment are not identity: changing them (impossible anyway, spec is
        // immutable) would not matter to who attested what.
        let mut att = base.clone();
        att.spec.comment = Some("edited".into());
        assert_eq!(keys.verify(&att), Ok(()));
    }

    #[test]
    fn missing_malformed_and_foreign_seals_are_rejected() {
        let keys = SealKeys::generate("k1");
        let unsealed = attestation("a1", "drift", "2.4.0", "alice", &[]);
        assert!(
            keys.verify(&unsealed)
                .unwrap_err()
                .to_string()
                .contains("no seal")
        );
        let mut att = sealed(&keys);
        att.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(labels::SEAL.into(), "garbage".into());
        assert!(
            keys.verify(&att)
                .unwrap_err()
                .to_string()
                .contains("malformed")
        );
        let other = SealKeys::generate("k1");
        assert!(
            keys.verify(&sealed(&other))
                .unwrap_err()
                .to_string()
                .contains("altered"),
            "a key from another cluster"
        );
    }

    #[test]
    fn rotation_keeps_old_seals_verifiable() {
        let old = SealKeys::generate("k1");
        let att = sealed(&old);
        let mut rotated = old.clone();
        rotated.keys.insert("k2".into(), vec![7; 32]);
        rotated.active = "k2".into();
        assert_eq!(rotated.verify(&att), Ok(()), "seals under k1 still verify");
        let fresh = sealed(&rotated);
        assert!(fresh.metadata.annotations.as_ref().unwrap()[labels::SEAL].starts_with("v2:k2:"));
        assert!(
            old.verify(&fresh).is_err(),
            "a replica without k2 cannot verify it"
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = attestation("a1", "drift", "2.4.0", "alice", &[]);
        let mut b = a.clone();
        a.spec.attested_by = Some("al".into());
        a.spec.team = Some("ice-team".into());
        b.spec.attested_by = Some("alice".into());
        b.spec.team = Some("-team".into());
        assert_ne!(sealed_fields(&a), sealed_fields(&b));
    }

    #[test]
    fn keys_round_trip_through_their_secret() {
        let keys = SealKeys::generate("k1");
        assert_eq!(
            SealKeys::from_secret(&keys.to_secret("accord-system")),
            Some(keys)
        );
    }
}
