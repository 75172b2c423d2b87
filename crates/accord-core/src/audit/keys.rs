//! The operator's record signing keys (ed25519), how they are kept and how their public
//! halves are published.
//!
//! - The Secret `accord-record-keys` (operator namespace, beside the seal keys) holds one
//!   32-byte seed per key id plus `active`, the id new records are signed with. Rotation
//!   adds a key and moves `active`.
//! - The ConfigMap `accord-record-keys` publishes every public key ever active, as PEM
//!   (SubjectPublicKeyInfo, `-----BEGIN PUBLIC KEY-----`), under `<keyid>.pem`, plus
//!   `active`. Publishing only adds: a key removed from the Secret stays listed, so
//!   records it signed keep verifying.
//! - A key's id (the DSSE `keyid`) is the hex `sha256` of its SubjectPublicKeyInfo DER.

use std::collections::BTreeMap;

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use sha2::{Digest as _, Sha256};

use crate::{api::EnvelopeSignature, keyring};

/// The Secret holding the record signing keys.
pub const KEYS_SECRET: &str = "accord-record-keys";
/// The ConfigMap publishing their public keys.
pub const PUBLIC_KEYS_CONFIGMAP: &str = "accord-record-keys";
use keyring::ACTIVE;
const PEM_SUFFIX: &str = ".pem";
/// SubjectPublicKeyInfo DER of an ed25519 key, before its 32 bytes (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The record signing keys, by id, and the active one.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordKeys {
    pub active: String,
    keys: BTreeMap<String, [u8; 32]>,
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKeys")
            .field("active", &self.active)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl RecordKeys {
    /// A fresh key under `id`, active.
    pub fn generate(id: &str) -> Self {
        Self::from_seed(id, rand::random())
    }

    /// One key from a seed (tests, and the first key of a Secret).
    pub fn from_seed(id: &str, seed: [u8; 32]) -> Self {
        Self {
            active: id.to_string(),
            keys: BTreeMap::from([(id.to_string(), seed)]),
        }
    }

    /// Adds `id` with `seed` and makes it active (a rotation).
    pub fn rotate(&mut self, id: &str, seed: [u8; 32]) {
        self.keys.insert(id.to_string(), seed);
        self.active = id.to_string();
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.keys[&self.active])
    }

    /// The active public key.
    pub fn active_public(&self) -> PublicKey {
        PublicKey::new(self.signing_key().verifying_key())
    }

    /// Every public key the Secret holds.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.keys
            .values()
            .map(|seed| PublicKey::new(SigningKey::from_bytes(seed).verifying_key()))
            .collect()
    }

    /// Signs `message` (a DSSE pre-authentication encoding) with the active key.
    pub fn sign(&self, message: &[u8]) -> EnvelopeSignature {
        let key = self.signing_key();
        EnvelopeSignature {
            keyid: PublicKey::new(key.verifying_key()).keyid,
            sig: base64::engine::general_purpose::STANDARD.encode(key.sign(message).to_bytes()),
        }
    }

    /// The keys a Secret holds, when it has a usable active key (32-byte seeds).
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        let (active, keys) = keyring::read(secret)?;
        let keys: BTreeMap<String, [u8; 32]> = keys
            .into_iter()
            .filter_map(|(k, v)| Some((k, <[u8; 32]>::try_from(v.as_slice()).ok()?)))
            .collect();
        keys.contains_key(&active).then_some(Self { active, keys })
    }

    /// The Secret that holds these keys.
    pub fn to_secret(&self, namespace: &str) -> Secret {
        keyring::secret(
            KEYS_SECRET,
            namespace,
            &self.active,
            self.keys.iter().map(|(k, v)| (k, v.as_slice())),
        )
    }

    /// The ConfigMap data that publishes these keys on top of what `existing` already
    /// lists (never removing one); `None` when `existing` needs no change.
    pub fn published(&self, existing: Option<&ConfigMap>) -> Option<BTreeMap<String, String>> {
        let before = existing.and_then(|c| c.data.clone()).unwrap_or_default();
        let mut data = before.clone();
        for key in self.public_keys() {
            data.insert(format!("{}{PEM_SUFFIX}", key.keyid), key.to_pem());
        }
        data.insert(ACTIVE.into(), self.active_public().keyid);
        (data != before).then_some(data)
    }
}

/// A published ConfigMap's public keys, the active one first.
pub fn published_keys(data: &BTreeMap<String, String>) -> Vec<PublicKey> {
    let active = data.get(ACTIVE);
    let mut keys: Vec<PublicKey> = data
        .iter()
        .filter(|(k, _)| k.ends_with(PEM_SUFFIX))
        .flat_map(|(_, pem)| parse_pems(pem).unwrap_or_default())
        .collect();
    keys.sort_by_key(|k| Some(&k.keyid) != active);
    keys
}

/// An ed25519 public key and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub keyid: String,
    pub key: VerifyingKey,
}

impl PublicKey {
    pub fn new(key: VerifyingKey) -> Self {
        Self {
            keyid: hex::encode(Sha256::digest(spki_der(&key))),
            key,
        }
    }

    /// PEM SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it.
    pub fn to_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(spki_der(&self.key));
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }
}

fn spki_der(key: &VerifyingKey) -> Vec<u8> {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    der
}

/// Why a key file cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("no `-----BEGIN PUBLIC KEY-----` block found")]
    NoKey,
    #[error("public key block {0} is not valid base64")]
    Base64(usize),
    #[error("public key block {0} is not an ed25519 SubjectPublicKeyInfo")]
    NotEd25519(usize),
}

/// Every `PUBLIC KEY` PEM block in `text` (other text between blocks is ignored).
pub fn parse_pems(text: &str) -> Result<Vec<PublicKey>, KeyError> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN PUBLIC KEY-----") {
        let body = &rest[start + "-----BEGIN PUBLIC KEY-----".len()..];
        let end = body
            .find("-----END PUBLIC KEY-----")
            .ok_or(KeyError::NoKey)?;
        let n = keys.len() + 1;
        let b64: String = body[..end].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| KeyError::Base64(n))?;
        let raw = der
            .strip_prefix(&SPKI_PREFIX[..])
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or(KeyError::NotEd25519(n))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::NotEd25519(n))?;
        keys.push(PublicKey::new(key));
        rest = &body[end..];
    }
    if keys.is_empty() {
        return Err(KeyError::NoKey);
    }
    Ok(keys)
}
