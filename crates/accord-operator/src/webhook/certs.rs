//! The webhook's TLS certificate. By default Accord runs its own small CA: a CA and a
//! serving certificate kept in a Secret in the operator's namespace, the serving
//! certificate re-issued before it expires (every replica picks the new one up without
//! a restart), and the CA written into the webhook configurations' `caBundle`.
//! Alternatively it serves certificate files (cert-manager), reloading them on change.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, RwLock},
    time::Duration,
};

use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::{
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

use crate::{api::labels, timing};

/// Secret holding the self-managed CA and serving certificate.
pub const TLS_SECRET: &str = "accord-webhook-tls";
use labels::{
    SERVING_CERT_HOSTS as HOSTS, SERVING_CERT_ISSUED_AT as ISSUED_AT,
    SERVING_CERT_NOT_AFTER as NOT_AFTER,
};

/// PEM material of one certificate generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    pub ca_pem: String,
    pub ca_key_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// The serving certificate's validity, as Unix seconds.
    pub issued_at: i64,
    pub not_after: i64,
    pub hosts: Vec<String>,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn to_offset(secs: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(secs).expect("valid time")
}

/// Why a certificate could not be issued, loaded or stored.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot issue the webhook certificate: {0}")]
    Issue(#[from] rcgen::Error),
    #[error("invalid certificate PEM: {0}")]
    CertificatePem(rustls::pki_types::pem::Error),
    #[error("no certificate in PEM")]
    NoCertificate,
    #[error("invalid private key PEM: {0}")]
    KeyPem(rustls::pki_types::pem::Error),
    #[error("unsupported private key: {0}")]
    UnsupportedKey(rustls::Error),
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot {action} Secret {namespace}/{TLS_SECRET}: {source}")]
    Secret {
        action: &'static str,
        namespace: String,
        source: kube::Error,
    },
    #[error("Secret {namespace}/{TLS_SECRET} kept changing while rotating; will retry")]
    Contended { namespace: String },
}

fn secret_error(action: &'static str, namespace: &str) -> impl FnOnce(kube::Error) -> CertError {
    move |source| CertError::Secret {
        action,
        namespace: namespace.to_string(),
        source,
    }
}

/// A new CA, valid ten years.
fn new_ca() -> Result<(String, String), CertError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "accord-webhook-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = to_offset(now() - 60);
    params.not_after = to_offset(now() + 10 * 365 * 86400);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A serving certificate for `hosts` (DNS names or IP addresses), signed by the CA.
fn new_serving(
    ca_pem: &str,
    ca_key_pem: &str,
    hosts: &[String],
    validity: Duration,
) -> Result<(String, String, i64, i64), CertError> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(ca_pem, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(hosts.to_vec())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "accord-webhook");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let issued_at = now();
    let not_after = issued_at + validity.as_secs() as i64;
    params.not_before = to_offset(issued_at - 60);
    params.not_after = to_offset(not_after);
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem(), issued_at, not_after))
}

impl Bundle {
    /// A fresh CA and serving certificate.
    pub fn generate(hosts: &[String], validity: Duration) -> Result<Self, CertError> {
        let (ca_pem, ca_key_pem) = new_ca()?;
        Self::reissue_with(ca_pem, ca_key_pem, hosts, validity)
    }

    fn reissue_with(
        ca_pem: String,
        ca_key_pem: String,
        hosts: &[String],
        validity: Duration,
    ) -> Result<Self, CertError> {
        let (cert_pem, key_pem, issued_at, not_after) =
            new_serving(&ca_pem, &ca_key_pem, hosts, validity)?;
        Ok(Self {
            ca_pem,
            ca_key_pem,
            cert_pem,
            key_pem,
            issued_at,
            not_after,
            hosts: hosts.to_vec(),
        })
    }

    /// A new serving certificate from the same CA.
    pub fn reissue(&self, hosts: &[String], validity: Duration) -> Result<Self, CertError> {
        Self::reissue_with(
            self.ca_pem.clone(),
            self.ca_key_pem.clone(),
            hosts,
            validity,
        )
    }

    /// Whether the serving certificate should be replaced: two thirds of its life
    /// are over, it does not cover `hosts`, or it outlives the configured `validity`
    /// (which was shortened since it was issued).
    pub fn needs_renewal(&self, hosts: &[String], validity: Duration, at: i64) -> bool {
        let lifetime = (self.not_after - self.issued_at).max(1);
        at >= self.issued_at + lifetime * 2 / 3
            || self.hosts != hosts
            || self.not_after > at + validity.as_secs() as i64 + 60
    }

    /// The rustls key for serving.
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, CertError> {
        certified_key(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
    }

    fn to_secret(&self, namespace: &str) -> Secret {
        let data = BTreeMap::from([
            (
                "ca.crt".to_string(),
                ByteString(self.ca_pem.clone().into_bytes()),
            ),
            (
                "ca.key".to_string(),
                ByteString(self.ca_key_pem.clone().into_bytes()),
            ),
            (
                "tls.crt".to_string(),
                ByteString(self.cert_pem.clone().into_bytes()),
            ),
            (
                "tls.key".to_string(),
                ByteString(self.key_pem.clone().into_bytes()),
            ),
        ]);
        Secret {
            metadata: ObjectMeta {
                name: Some(TLS_SECRET.into()),
                namespace: Some(namespace.into()),
                labels: Some(BTreeMap::from([(
                    labels::MANAGED_BY.into(),
                    labels::MANAGED_BY_VALUE.into(),
                )])),
                annotations: Some(BTreeMap::from([
                    (ISSUED_AT.to_string(), self.issued_at.to_string()),
                    (NOT_AFTER.to_string(), self.not_after.to_string()),
                    (HOSTS.to_string(), self.hosts.join(",")),
                ])),
                ..Default::default()
            },
            type_: Some("kubernetes.io/tls".into()),
            data: Some(data),
            ..Default::default()
        }
    }

    fn from_secret(secret: &Secret) -> Option<Self> {
        let data = secret.data.as_ref()?;
        let text = |key: &str| {
            data.get(key)
                .and_then(|v| String::from_utf8(v.0.clone()).ok())
        };
        let annotations = secret.metadata.annotations.as_ref()?;
        Some(Self {
            ca_pem: text("ca.crt")?,
            ca_key_pem: text("ca.key")?,
            cert_pem: text("tls.crt")?,
            key_pem: text("tls.key")?,
            issued_at: annotations.get(ISSUED_AT)?.parse().ok()?,
            not_after: annotations.get(NOT_AFTER)?.parse().ok()?,
            hosts: annotations
                .get(HOSTS)?
                .split(',')
                .filter(|h| !h.is_empty())
                .map(String::from)
                .collect(),
        })
    }
}

/// Parses PEM certificate chain and key into a rustls key.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, CertError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(CertError::CertificatePem)?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(CertError::KeyPem)?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(CertError::UnsupportedKey)?;
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}

/// Where the serving certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// Self-managed in a Secret of `namespace`, for `hosts`, re-issued within `validity`.
    SelfManaged {
        namespace: String,
        hosts: Vec<String>,
        validity: Duration,
    },
    /// Files written by someone else (cert-manager), reloaded when they change.
    Files { cert: PathBuf, key: PathBuf },
}

/// The certificate currently served, swappable without a restart.
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    bundle: RwLock<Option<Bundle>>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("not poisoned").clone())
    }
}

impl CertStore {
    fn new(key: Arc<CertifiedKey>, bundle: Option<Bundle>) -> Self {
        Self {
            current: RwLock::new(key),
            bundle: RwLock::new(bundle),
        }
    }

    fn swap(&self, key: Arc<CertifiedKey>, bundle: Option<Bundle>) {
        *self.current.write().expect("not poisoned") = key;
        *self.bundle.write().expect("not poisoned") = bundle;
    }

    /// The CA to put in `caBundle`, when self-managed.
    pub fn ca_pem(&self) -> Option<String> {
        self.bundle
            .read()
            .expect("not poisoned")
            .as_ref()
            .map(|b| b.ca_pem.clone())
    }

    /// The serving certificate's validity (issued, not after), when self-managed.
    pub fn validity(&self) -> Option<(i64, i64)> {
        self.bundle
            .read()
            .expect("not poisoned")
            .as_ref()
            .map(|b| (b.issued_at, b.not_after))
    }
}

/// Reads the self-managed bundle, creating or renewing it as needed. Concurrent
/// replicas coordinate through the Secret's resourceVersion: a loser re-reads.
async fn sync_secret(
    client: &Client,
    namespace: &str,
    hosts: &[String],
    validity: Duration,
) -> Result<Bundle, CertError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for _ in 0..5 {
        let existing = api
            .get_opt(TLS_SECRET)
            .await
            .map_err(secret_error("read", namespace))?;
        match existing {
            None => {
                let bundle = Bundle::generate(hosts, validity)?;
                match api
                    .create(&PostParams::default(), &bundle.to_secret(namespace))
                    .await
                {
                    Ok(_) => {
                        tracing::info!(secret = TLS_SECRET, %namespace, "created the webhook CA and serving certificate");
                        return Ok(bundle);
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => continue,
                    Err(e) => return Err(secret_error("create", namespace)(e)),
                }
            }
            Some(secret) => {
                let current = Bundle::from_secret(&secret);
                let bundle = match &current {
                    Some(bundle) if !bundle.needs_renewal(hosts, validity, now()) => {
                        return Ok(bundle.clone());
                    }
                    Some(bundle) => bundle.reissue(hosts, validity)?,
                    None => Bundle::generate(hosts, validity)?,
                };
                let mut replacement = bundle.to_secret(namespace);
                replacement.metadata.resource_version = secret.metadata.resource_version.clone();
                match api
                    .replace(TLS_SECRET, &PostParams::default(), &replacement)
                    .await
                {
                    Ok(_) => {
                        tracing::info!(
                            secret = TLS_SECRET,
                            not_after = bundle.not_after,
                            "rotated the webhook serving certificate"
                        );
                        return Ok(bundle);
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => continue,
                    Err(e) => return Err(secret_error("update", namespace)(e)),
                }
            }
        }
    }
    Err(CertError::Contended {
        namespace: namespace.to_string(),
    })
}

fn read_files(cert: &PathBuf, key: &PathBuf) -> Result<Arc<CertifiedKey>, CertError> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| CertError::ReadFile {
            path: path.clone(),
            source,
        })
    };
    certified_key(&read(cert)?, &read(key)?)
}

/// Loads the first certificate; fails with a message for humans when it cannot.
pub async fn load(client: &Client, source: &CertSource) -> Result<Arc<CertStore>, CertError> {
    match source {
        CertSource::SelfManaged {
            namespace,
            hosts,
            validity,
        } => {
            let bundle = sync_secret(client, namespace, hosts, *validity).await?;
            Ok(Arc::new(CertStore::new(
                bundle.certified_key()?,
                Some(bundle),
            )))
        }
        CertSource::Files { cert, key } => {
            Ok(Arc::new(CertStore::new(read_files(cert, key)?, None)))
        }
    }
}

/// Keeps the served certificate current: renews the self-managed one before it
/// expires (and picks up renewals by other replicas), or reloads changed files.
pub async fn keep_fresh(
    client: Client,
    source: CertSource,
    store: Arc<CertStore>,
    on_change: impl Fn(&CertStore) + Send + 'static,
) {
    let period = match &source {
        CertSource::SelfManaged { validity, .. } => {
            (*validity / 12).clamp(timing::CERT_CHECK_MIN, timing::CERT_CHECK_MAX)
        }
        CertSource::Files { .. } => timing::CERT_FILE_POLL,
    };
    let mut last_files: Option<(std::time::SystemTime, std::time::SystemTime)> = None;
    loop {
        tokio::time::sleep(period).await;
        match &source {
            CertSource::SelfManaged {
                namespace,
                hosts,
                validity,
            } => match sync_secret(&client, namespace, hosts, *validity).await {
                Ok(bundle) => {
                    let changed =
                        store.bundle.read().expect("not poisoned").as_ref() != Some(&bundle);
                    if changed {
                        match bundle.certified_key() {
                            Ok(key) => {
                                store.swap(key, Some(bundle));
                                on_change(&store);
                            }
                            Err(err) => {
                                tracing::warn!(%err, "renewed certificate is unusable; keeping the current one")
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot renew the webhook certificate; keeping the current one")
                }
            },
            CertSource::Files { cert, key } => {
                let stamp = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
                let (Some(c), Some(k)) = (stamp(cert), stamp(key)) else {
                    continue;
                };
                if last_files.is_some_and(|seen| seen == (c, k)) {
                    continue;
                }
                let first = last_files.is_none();
                last_files = Some((c, k));
                if first {
                    continue;
                }
                match read_files(cert, key) {
                    Ok(fresh) => {
                        store.swap(fresh, None);
                        tracing::info!("reloaded the webhook certificate files");
                    }
                    Err(err) => {
                        tracing::warn!(%err, "cannot reload the webhook certificate files; keeping the current ones")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        vec![
            "127.0.0.1".into(),
            "accord-webhook.accord-system.svc".into(),
        ]
    }

    #[test]
    fn generated_bundle_is_usable_by_rustls() {
        let bundle = Bundle::generate(&hosts(), Duration::from_secs(3600)).unwrap();
        assert!(bundle.ca_pem.contains("BEGIN CERTIFICATE"));
        bundle.certified_key().expect("serving key loads");
        assert_eq!(Bundle::from_secret(&bundle.to_secret("ns")), Some(bundle));
    }

    #[test]
    fn renewal_after_two_thirds_of_life_or_new_hosts() {
        let bundle = Bundle::generate(&hosts(), Duration::from_secs(300)).unwrap();
        let validity = Duration::from_secs(300);
        assert!(!bundle.needs_renewal(&hosts(), validity, bundle.issued_at + 100));
        assert!(bundle.needs_renewal(&hosts(), validity, bundle.issued_at + 200));
        assert!(bundle.needs_renewal(&["localhost".to_string()], validity, bundle.issued_at));
        assert!(
            bundle.needs_renewal(&hosts(), Duration::from_secs(30), bundle.issued_at + 10),
            "a shorter configured validity replaces a longer-lived certificate"
        );
        let renewed = bundle.reissue(&hosts(), Duration::from_secs(300)).unwrap();
        assert_eq!(
            renewed.ca_pem, bundle.ca_pem,
            "the CA, and so caBundle, stays"
        );
        assert_ne!(renewed.cert_pem, bundle.cert_pem);
    }
}
