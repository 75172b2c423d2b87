//! Attaches signed PromotionRecords to the promoted images in their OCI registry, as
//! `cosign attest` does (`--record-registry`): the DSSE envelope is a layer of the
//! image's `sha256-<digest>.att` manifest in the same repository, so
//! `cosign verify-attestation` and admission policies (Kyverno `verifyImages`) find it
//! next to the image. See docs/audit.md.
//!
//! What is written, exactly as cosign v2 writes it without Rekor (checked against
//! `cosign verify-attestation` in e2e/tests/registry_audit.rs):
//! - the envelope, as a blob of media type `application/vnd.dsse.envelope.v1+json`;
//! - under the tag `sha256-<hex>.att` (the image digest, `:` made `-`), an OCI image
//!   manifest whose layers are the envelopes, each annotated
//!   `dev.cosignproject.cosign/signature: ""` (the signature is inside the envelope) and
//!   `predicateType: <uri>`, with a config listing them as its `rootfs.diff_ids`.
//!
//! An existing `.att` manifest (cosign's or an earlier record's) is extended, never
//! replaced; the same envelope twice is written once. Credentials come from a
//! `kubernetes.io/dockerconfigjson` Secret: basic auth, or the bearer-token challenge
//! (`WWW-Authenticate: Bearer realm=…`) that Docker Hub, GHCR, Harbor and most others
//! use. A loopback registry is spoken to over plain http, every other over https.

use std::{collections::BTreeMap, fmt, time::Duration};

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{
    HeaderMap, Method, Request, StatusCode,
    body::Bytes,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE},
};
use hyper_util::{
    client::legacy::{Client as HttpClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use k8s_openapi::api::core::v1::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::http;

/// The media type of a DSSE envelope layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The annotation cosign reads a layer's signature from (empty for an attestation:
/// the signature is inside the envelope).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation naming the attestation's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// The manifest and config media types cosign writes.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most of a response body read (manifests, tokens, error texts).
const MAX_BODY: usize = 4 << 20;

/// Why a record could not be attached.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("not an image reference {0:?}: {1}")]
    Reference(String, String),
    #[error("unreadable registry credentials: {0}")]
    Credentials(String),
    #[error("{what}: {error}")]
    Transport { what: String, error: String },
    #[error("{what}: the registry answered {status}: {body}")]
    Status {
        what: String,
        status: StatusCode,
        body: String,
    },
    #[error("{what}: the registry refused the credentials (or has none for it): {detail}")]
    Unauthorized { what: String, detail: String },
    #[error("the existing {tag} is not a manifest Accord can extend: {detail}")]
    Manifest { tag: String, detail: String },
}

/// What [`attach`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The envelope is now a layer of `tag`, which holds `layers` attestations.
    Added { tag: String, layers: usize },
    /// `tag` already held this exact envelope: nothing was written.
    AlreadyThere { tag: String },
    /// The image names no digest (a tag only, which may move): nothing to attach to.
    NoDigest,
}

// ---------------------------------------------------------------------------------
// References

/// An image by digest: where its registry's API is and which manifest it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry as images name it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository path (`library/nginx`, `acme/fraud-scorer`).
    pub repository: String,
    /// `sha256:<64 hex>`.
    pub digest: String,
}

impl ImageRef {
    /// Parses `[registry/]repo[:tag]@sha256:<hex>`; `Ok(None)` for an image without a
    /// digest. Docker Hub's short names expand as docker does (`nginx` →
    /// `docker.io/library/nginx`).
    pub fn parse(image: &str) -> Result<Option<Self>, RegistryError> {
        if !image.contains('@') {
            return Ok(None);
        }
        let name = ImageName::parse(image)?;
        Ok(name.digest.map(|digest| Self {
            registry: name.registry,
            repository: name.repository,
            digest,
        }))
    }

    /// The tag cosign keeps the image's attestations under: `sha256-<hex>.att`.
    pub fn attestation_tag(&self) -> String {
        format!("{}.att", self.digest.replacen(':', "-", 1))
    }

    /// `scheme://host` of the registry's API: http on loopback, https elsewhere.
    pub fn origin(&self) -> String {
        origin_of(&self.registry)
    }
}

/// An image by tag, by digest or both, as a pod names it: which registry, which
/// repository, and which manifest (the digest when there is one, as the kubelet pulls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// The registry as images name it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository path (`library/nginx`, `acme/fraud-scorer`).
    pub repository: String,
    /// The tag, if named (`2.3.1`).
    pub tag: Option<String>,
    /// `sha256:<64 hex>`, if named.
    pub digest: Option<String>,
}

impl ImageName {
    /// Parses `[registry/]repo[:tag][@sha256:<hex>]`. Docker Hub's short names expand as
    /// docker does (`nginx` → `docker.io/library/nginx`).
    pub fn parse(image: &str) -> Result<Self, RegistryError> {
        let bad = |why: &str| RegistryError::Reference(image.to_string(), why.to_string());
        let (name, digest) = match image.trim().split_once('@') {
            Some((name, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("only sha256 digests are supported"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(bad("the digest is not sha256:<64 lowercase hex>"));
                }
                (name, Some(digest.to_string()))
            }
            None => (image.trim(), None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest)
            }
            _ => ("docker.io".to_string(), name),
        };
        // A tag is after the last `:` of the last path component.
        let (path, tag) = match path.rfind(':') {
            Some(colon) if !path[colon..].contains('/') => {
                (&path[..colon], Some(path[colon + 1..].to_string()))
            }
            _ => (path, None),
        };
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if path.is_empty()
            || !path.chars().all(valid)
            || path.starts_with('/')
            || path.ends_with('/')
        {
            return Err(bad("the repository is not a valid path"));
        }
        let tag_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
        if let Some(tag) = &tag
            && (tag.is_empty()
                || tag.len() > 128
                || tag.starts_with(['.', '-'])
                || !tag.chars().all(tag_char))
        {
            return Err(bad("the tag is not a valid tag"));
        }
        let repository = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The manifest a pull asks for: the digest, else the tag, else `latest`.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

/// `scheme://host` of a registry's API: http on loopback, https elsewhere.
fn origin_of(registry: &str) -> String {
    let host = match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    };
    let scheme = if is_loopback(host) { "http" } else { "https" };
    format!("{scheme}://{host}")
}

/// Whether `host[:port]` is this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback(host: &str) -> bool {
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

// ---------------------------------------------------------------------------------
// Credentials

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// The credentials of a docker config (`~/.docker/config.json`, a Secret's
/// `.dockerconfigjson` or legacy `.dockercfg`), looked up as the kubelet does: by
/// registry host and port, `*` matching one domain component, a key's path a prefix
/// of the repository, the most specific key first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    entries: Vec<(AuthKey, Credentials)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AuthKey {
    host: String,
    port: Option<String>,
    path: String,
}

impl AuthKey {
    fn parse(key: &str) -> Self {
        let key = key
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let (authority, path) = key.split_once('/').unwrap_or((key, ""));
        let (host, port) = split_port(authority);
        let mut path = path.trim_matches('/');
        // An API version path (`https://index.docker.io/v1/`, `…/v2/`) names no repository.
        if path == "v1" || path == "v2" {
            path = "";
        }
        Self {
            host: canonical_host(&host.to_ascii_lowercase()).to_string(),
            port: port.map(str::to_string),
            path: path.to_string(),
        }
    }

    fn matches(&self, registry: &str, repository: &str) -> bool {
        let (host, port) = split_port(registry);
        let host = canonical_host(host);
        let key_parts: Vec<&str> = self.host.split('.').collect();
        let host_parts: Vec<&str> = host.split('.').collect();
        key_parts.len() == host_parts.len()
            && key_parts.iter().zip(&host_parts).all(|(k, h)| glob(k, h))
            && self.port.as_deref() == port
            && (self.path.is_empty()
                || repository == self.path
                || repository
                    .strip_prefix(&self.path)
                    .is_some_and(|rest| rest.starts_with('/')))
    }

    /// Higher is more specific: exact hosts before wildcards, longer paths first.
    fn specificity(&self) -> (bool, usize) {
        (!self.host.contains('*'), self.path.len())
    }
}

/// `host[:port]` (or `[v6]:port`) as host and port.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let host_end = if authority.starts_with('[') {
        authority.find(']').map_or(authority.len(), |i| i + 1)
    } else {
        authority.rfind(':').unwrap_or(authority.len())
    };
    let (host, rest) = authority.split_at(host_end);
    match rest.strip_prefix(':') {
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (authority, None),
    }
}

/// Docker Hub's aliases, as one name.
fn canonical_host(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        other => other,
    }
}

/// `*` matches any run of characters within one domain component.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            text.starts_with(prefix)
                && (prefix.len()..=text.len())
                    .any(|i| text.is_char_boundary(i) && glob(rest, &text[i..]))
        }
    }
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl DockerConfig {
    /// Parses a docker config: `{"auths": {"<registry>": {"auth": "<base64 user:pass>"}}}`
    /// (or `username`/`password`), or the legacy `.dockercfg` map without `auths`.
    /// Entries with neither are skipped (an `identitytoken` alone is not supported).
    pub fn parse(json: &[u8]) -> Result<Self, RegistryError> {
        let bad = |why: String| RegistryError::Credentials(why);
        let value: Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        let auths = value.get("auths").unwrap_or(&value);
        let auths: BTreeMap<String, AuthEntry> =
            serde_json::from_value(auths.clone()).map_err(|e| bad(e.to_string()))?;
        let mut entries = Vec::new();
        for (key, entry) in auths {
            let credentials = match (entry.username, entry.password, entry.auth) {
                (Some(username), Some(password), _) if !username.is_empty() => {
                    Credentials { username, password }
                }
                (_, _, Some(auth)) if !auth.is_empty() => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(auth.trim())
                        .map_err(|e| bad(format!("{key}: auth is not base64: {e}")))?;
                    let decoded = String::from_utf8(decoded)
                        .map_err(|_| bad(format!("{key}: auth is not text")))?;
                    let (username, password) = decoded
                        .split_once(':')
                        .ok_or_else(|| bad(format!("{key}: auth is not user:password")))?;
                    Credentials {
                        username: username.to_string(),
                        password: password.to_string(),
                    }
                }
                _ => continue,
            };
            entries.push((AuthKey::parse(&key), credentials));
        }
        entries.sort_by_key(|(key, _)| std::cmp::Reverse(key.specificity()));
        Ok(Self { entries })
    }

    /// Reads a `kubernetes.io/dockerconfigjson` (or `kubernetes.io/dockercfg`) Secret.
    pub fn from_secret(secret: &Secret) -> Result<Self, RegistryError> {
        let data = secret.data.as_ref();
        let json = data
            .and_then(|d| d.get(".dockerconfigjson").or_else(|| d.get(".dockercfg")))
            .ok_or_else(|| {
                RegistryError::Credentials(format!(
                    "Secret {} has no .dockerconfigjson",
                    secret.metadata.name.as_deref().unwrap_or_default()
                ))
            })?;
        Self::parse(&json.0)
    }

    /// The credentials for `image`'s repository, if any entry matches.
    pub fn credentials(&self, image: &ImageRef) -> Option<&Credentials> {
        self.credentials_for(&image.registry, &image.repository)
    }

    /// The credentials for a repository of a registry, if any entry matches.
    pub fn credentials_for(&self, registry: &str, repository: &str) -> Option<&Credentials> {
        self.entries
            .iter()
            .find(|(key, _)| key.matches(registry, repository))
            .map(|(_, credentials)| credentials)
    }
}

// ---------------------------------------------------------------------------------
// The attestation manifest (pure)

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub size: u64,
    pub digest: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields Accord does not interpret, kept as they were.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// An OCI image manifest (or Docker's v2 schema 2, which has the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The layer cosign writes for an attestation envelope.
pub fn envelope_layer(envelope: &[u8], predicate_type: &str) -> Descriptor {
    Descriptor {
        media_type: DSSE_MEDIA_TYPE.to_string(),
        size: envelope.len() as u64,
        digest: digest_of(envelope),
        annotations: BTreeMap::from([
            (SIGNATURE_ANNOTATION.to_string(), String::new()),
            (
                PREDICATE_TYPE_ANNOTATION.to_string(),
                predicate_type.to_string(),
            ),
        ]),
        other: BTreeMap::new(),
    }
}

/// The config of an attestation manifest over `layers`, byte for byte as
/// go-containerregistry writes it for cosign (the layers are not compressed: a diff id
/// is the layer's digest).
pub fn attestation_config(layers: &[Descriptor]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'static str,
        created: &'static str,
        history: Vec<History>,
        os: &'static str,
        rootfs: RootFs<'a>,
        config: Empty,
    }
    #[derive(Serialize)]
    struct History {
        created: &'static str,
    }
    #[derive(Serialize)]
    struct RootFs<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        diff_ids: Vec<&'a str>,
    }
    #[derive(Serialize)]
    struct Empty {}
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    let config = Config {
        architecture: "",
        created: ZERO_TIME,
        history: layers
            .iter()
            .map(|_| History { created: ZERO_TIME })
            .collect(),
        os: "",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.digest.as_str()).collect(),
        },
        config: Empty {},
    };
    serde_json::to_vec(&config).expect("a config serializes")
}

/// The `.att` manifest with `layer` appended to `existing` (or alone), and its config
/// blob; `None` when `existing` already has a layer of that digest.
pub fn extend_manifest(
    existing: Option<&Manifest>,
    layer: Descriptor,
) -> Option<(Manifest, Vec<u8>)> {
    let mut manifest = match existing {
        Some(m) if m.layers.iter().any(|l| l.digest == layer.digest) => return None,
        Some(m) => m.clone(),
        None => Manifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_string()),
            config: Descriptor {
                media_type: OCI_CONFIG.to_string(),
                size: 0,
                digest: String::new(),
                annotations: BTreeMap::new(),
                other: BTreeMap::new(),
            },
            layers: Vec::new(),
            annotations: BTreeMap::new(),
        },
    };
    manifest.layers.push(layer);
    let config = attestation_config(&manifest.layers);
    manifest.config.size = config.len() as u64;
    manifest.config.digest = digest_of(&config);
    manifest.config.other.remove("data");
    Some((manifest, config))
}

// ---------------------------------------------------------------------------------
// Authentication challenges (pure)

/// A `WWW-Authenticate` challenge: its scheme (lower case) and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="…",service="…",scope="a:b:pull,push"` (quoted values may
/// hold commas) or `Basic realm="…"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        params.insert(key, value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

// ---------------------------------------------------------------------------------
// The client

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Talks to OCI registries with the credentials of one docker config.
#[derive(Clone)]
pub struct RegistryClient {
    http: HttpClient<Connector, Full<Bytes>>,
    config: DockerConfig,
}

impl RegistryClient {
    /// A client over the operator's HTTP(S) connector (the system's trust roots).
    pub fn new(config: DockerConfig) -> Self {
        Self {
            http: HttpClient::builder(TokioExecutor::new()).build(http::connector()),
            config,
        }
    }
}

/// One response, read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars()
            .take(300)
            .collect::<String>()
            .trim()
            .to_string()
    }
}

/// The requests of one attachment or lookup: one repository, its credentials, the
/// actions a token is asked for, and the `Authorization` header once a challenge has
/// been answered.
struct Session<'a> {
    client: &'a RegistryClient,
    registry: &'a str,
    repository: &'a str,
    origin: String,
    /// `pull,push` to attach, `pull` to look up.
    actions: &'static str,
    authorization: Option<String>,
}

impl<'a> Session<'a> {
    fn new(
        client: &'a RegistryClient,
        registry: &'a str,
        repository: &'a str,
        actions: &'static str,
    ) -> Self {
        Self {
            client,
            registry,
            repository,
            origin: origin_of(registry),
            actions,
            authorization: None,
        }
    }

    fn repo_url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.origin, self.repository)
    }

    async fn once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &Bytes,
        authorization: Option<&str>,
    ) -> Result<Reply, String> {
        let mut request = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let request = request
            .body(Full::new(body.clone()))
            .map_err(|e| format!("not a usable URL {url}: {e}"))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.http.request(request))
            .await
            .map_err(|_| format!("no answer from {url} within {}s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("{method} {url}: {e:?}"))?;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(TIMEOUT, Limited::new(body, MAX_BODY).collect())
            .await
            .map_err(|_| format!("{method} {url}: the body did not arrive in time"))?
            .map_err(|e| format!("{method} {url}: reading the body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends a request to the registry, answering one authentication challenge.
    async fn send(
        &mut self,
        what: &str,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, RegistryError> {
        let transport = |error: String| RegistryError::Transport {
            what: what.to_string(),
            error,
        };
        // Credentials go only to the registry itself, not to where it may redirect.
        let own = url.starts_with(&format!("{}/", self.origin));
        let authorization = if own {
            self.authorization.clone()
        } else {
            None
        };
        let reply = self
            .once(&method, url, headers, &body, authorization.as_deref())
            .await
            .map_err(transport)?;
        if reply.status != StatusCode::UNAUTHORIZED || !own {
            return Ok(reply);
        }
        let unauthorized = |detail: String| RegistryError::Unauthorized {
            what: what.to_string(),
            detail,
        };
        // No credentials sent yet, or a token that expired: answer the challenge afresh
        // and try once more.
        let challenge = reply
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
            .ok_or_else(|| {
                unauthorized(format!("401 without a usable challenge: {}", reply.text()))
            })?;
        self.authorization = Some(self.answer(what, &challenge).await?);
        let reply = self
            .once(&method, url, headers, &body, self.authorization.as_deref())
            .await
            .map_err(transport)?;
        if reply.status == StatusCode::UNAUTHORIZED {
            return Err(unauthorized(reply.text()));
        }
        Ok(reply)
    }

    /// The `Authorization` header that answers `challenge`.
    async fn answer(&self, what: &str, challenge: &Challenge) -> Result<String, RegistryError> {
        let unauthorized = |detail: String| RegistryError::Unauthorized {
            what: what.to_string(),
            detail,
        };
        let credentials = self
            .client
            .config
            .credentials_for(self.registry, self.repository);
        match challenge.scheme.as_str() {
            "basic" => credentials
                .map(Credentials::basic)
                .ok_or_else(|| unauthorized(format!("no credentials for {}", self.registry))),
            "bearer" => {
                let realm = challenge
                    .params
                    .get("realm")
                    .ok_or_else(|| unauthorized("a Bearer challenge without a realm".into()))?;
                // The serializer is not Send: finish it before the first await.
                let query = {
                    let mut query = form_urlencoded::Serializer::new(String::new());
                    if let Some(service) = challenge.params.get("service") {
                        query.append_pair("service", service);
                    }
                    // An attachment asks for push at once: its requests then share a token.
                    query.append_pair(
                        "scope",
                        &format!("repository:{}:{}", self.repository, self.actions),
                    );
                    query.finish()
                };
                let separator = if realm.contains('?') { '&' } else { '?' };
                let url = format!("{realm}{separator}{query}");
                let basic = credentials.map(Credentials::basic);
                let reply = self
                    .once(&Method::GET, &url, &[], &Bytes::new(), basic.as_deref())
                    .await
                    .map_err(|error| RegistryError::Transport {
                        what: format!("{what}: asking {realm} for a token"),
                        error,
                    })?;
                if !reply.status.is_success() {
                    return Err(unauthorized(format!(
                        "the token service {realm} answered {}: {}",
                        reply.status,
                        reply.text()
                    )));
                }
                let token: Value = serde_json::from_slice(&reply.body)
                    .map_err(|e| unauthorized(format!("the token service's answer: {e}")))?;
                token
                    .get("token")
                    .or_else(|| token.get("access_token"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(|t| format!("Bearer {t}"))
                    .ok_or_else(|| unauthorized("the token service gave no token".into()))
            }
            other => Err(unauthorized(format!(
                "unsupported challenge scheme {other:?}"
            ))),
        }
    }

    fn status(what: &str, reply: &Reply) -> RegistryError {
        RegistryError::Status {
            what: what.to_string(),
            status: reply.status,
            body: reply.text(),
        }
    }

    /// The `.att` manifest, if the tag exists.
    async fn existing(&mut self, tag: &str) -> Result<Option<Manifest>, RegistryError> {
        let what = format!("reading {tag}");
        let accept = format!("{OCI_MANIFEST}, {DOCKER_MANIFEST}");
        let reply = self
            .send(
                &what,
                Method::GET,
                &self.repo_url(&format!("manifests/{tag}")),
                &[(ACCEPT.as_str(), &accept)],
                Bytes::new(),
            )
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                serde_json::from_slice(&reply.body)
                    .map(Some)
                    .map_err(|e| RegistryError::Manifest {
                        tag: tag.to_string(),
                        detail: e.to_string(),
                    })
            }
            _ => Err(Self::status(&what, &reply)),
        }
    }

    /// Uploads `blob` unless the repository has it (a monolithic POST-then-PUT upload).
    async fn upload(&mut self, what: &str, blob: &[u8]) -> Result<(), RegistryError> {
        let digest = digest_of(blob);
        let what = format!("uploading {what} {digest}");
        let head = self
            .send(
                &what,
                Method::HEAD,
                &self.repo_url(&format!("blobs/{digest}")),
                &[],
                Bytes::new(),
            )
            .await?;
        if head.status.is_success() {
            return Ok(());
        }
        let started = self
            .send(
                &what,
                Method::POST,
                &self.repo_url("blobs/uploads/"),
                &[("content-length", "0")],
                Bytes::new(),
            )
            .await?;
        if started.status != StatusCode::ACCEPTED {
            return Err(Self::status(&what, &started));
        }
        let location = started
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Self::status(&what, &started))?;
        let location = if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}/{}", self.origin, location.trim_start_matches('/'))
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("digest", &digest)
            .finish();
        let put = self
            .send(
                &what,
                Method::PUT,
                &format!("{location}{separator}{query}"),
                &[(CONTENT_TYPE.as_str(), "application/octet-stream")],
                Bytes::copy_from_slice(blob),
            )
            .await?;
        if !put.status.is_success() {
            return Err(Self::status(&what, &put));
        }
        Ok(())
    }
}

/// Attaches `envelope_json` (a DSSE envelope of an in-toto Statement whose subject is
/// the image) to `image` (`repo@sha256:…` or `repo:tag@sha256:…`) as cosign does:
/// a layer of the image's `sha256-<hex>.att` manifest, annotated with
/// `predicate_type`. Extends the manifest that is there; writes nothing when it
/// already holds this envelope; skips an image without a digest.
///
/// Two writers extending the same tag at the same moment can lose one layer (cosign
/// shares this race): the caller retries when its record is not found.
pub async fn attach(
    reg: &RegistryClient,
    image: &str,
    envelope_json: &[u8],
    predicate_type: &str,
) -> Result<Attached, RegistryError> {
    let Some(image) = ImageRef::parse(image)? else {
        return Ok(Attached::NoDigest);
    };
    let tag = image.attestation_tag();
    let mut session = Session::new(reg, &image.registry, &image.repository, "pull,push");
    let existing = session.existing(&tag).await?;
    let layer = envelope_layer(envelope_json, predicate_type);
    let Some((manifest, config)) = extend_manifest(existing.as_ref(), layer) else {
        return Ok(Attached::AlreadyThere { tag });
    };
    session.upload("the record", envelope_json).await?;
    session.upload("the config", &config).await?;
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| OCI_MANIFEST.to_string());
    let body = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let what = format!("writing {tag}");
    let reply = session
        .send(
            &what,
            Method::PUT,
            &session.repo_url(&format!("manifests/{tag}")),
            &[(CONTENT_TYPE.as_str(), &media_type)],
            Bytes::from(body),
        )
        .await?;
    if !reply.status.is_success() {
        return Err(Session::status(&what, &reply));
    }
    Ok(Attached::Added {
        tag,
        layers: manifest.layers.len(),
    })
}

/// Where the operator finds its registry credentials (`--record-registry-secret`,
/// `--drill-registry-secret`).
#[derive(Clone, Debug, Default)]
pub struct RegistryTarget {
    /// The operator's namespace.
    pub namespace: String,
    /// A `kubernetes.io/dockerconfigjson` Secret there; `None` is anonymous.
    pub secret: Option<String>,
}

/// The docker config of `target`'s Secret (none: anonymous), read when used, so a
/// rotated Secret takes effect at the next request.
pub async fn credentials(
    client: &kube::Client,
    target: &RegistryTarget,
) -> Result<DockerConfig, String> {
    let Some(name) = &target.secret else {
        return Ok(DockerConfig::default());
    };
    let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), &target.namespace);
    let secret = api
        .get(name)
        .await
        .map_err(|e| format!("Secret {}/{name}: {e}", target.namespace))?;
    DockerConfig::from_secret(&secret).map_err(|e| e.to_string())
}

/// What a registry said of an image's manifest ([`lookup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The manifest is there; `digest` is the one the registry named
    /// (`Docker-Content-Digest`), `media_type` its kind (an index for a multi-platform
    /// image).
    Found {
        digest: Option<String>,
        media_type: Option<String>,
    },
    /// The registry has no such manifest (404): a pull would fail.
    Missing { detail: String },
}

/// The manifest media types a pull accepts.
const PULL_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Asks `image`'s registry whether the manifest a pull would fetch is there (a `HEAD`
/// of `manifests/<digest or tag>`, with pull-only credentials). Reads nothing but
/// headers and writes nothing.
pub async fn lookup(reg: &RegistryClient, image: &str) -> Result<Lookup, RegistryError> {
    let name = ImageName::parse(image)?;
    let mut session = Session::new(reg, &name.registry, &name.repository, "pull");
    let reference = name.reference();
    let what = format!("looking up {image}");
    let reply = session
        .send(
            &what,
            Method::HEAD,
            &session.repo_url(&format!("manifests/{reference}")),
            &[(ACCEPT.as_str(), PULL_ACCEPT)],
            Bytes::new(),
        )
        .await?;
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match reply.status {
        s if s.is_success() => Ok(Lookup::Found {
            digest: header("docker-content-digest"),
            media_type: header(CONTENT_TYPE.as_str()),
        }),
        StatusCode::NOT_FOUND => Ok(Lookup::Missing {
            detail: format!(
                "{} has no manifest {reference} in {}",
                name.registry, name.repository
            ),
        }),
        _ => Err(Session::status(&what, &reply)),
    }
}

#[cfg(test)]
mod tests;
