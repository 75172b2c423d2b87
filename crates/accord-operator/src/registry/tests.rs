use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap as AxumHeaders, Method as AxumMethod, StatusCode as AxumStatus, Uri},
    response::{IntoResponse, Response},
};

use super::*;

const DIGEST: &str = "sha256:9406f2c4a7e1d4b4c5e8d2c1a0b9f8e7d6c5b4a39281706f5e4d3c2b1a098765";

fn parsed(image: &str) -> ImageRef {
    ImageRef::parse(image).unwrap().unwrap()
}

#[test]
fn references_name_registry_repository_and_digest() {
    let cases = [
        (
            format!("registry.example.com/fraud-scorer:2.4.0@{DIGEST}"),
            ("registry.example.com", "fraud-scorer"),
        ),
        (
            format!("127.0.0.1:5000/acme/model@{DIGEST}"),
            ("127.0.0.1:5000", "acme/model"),
        ),
        (
            format!("localhost/acme/model:v1@{DIGEST}"),
            ("localhost", "acme/model"),
        ),
        (format!("nginx@{DIGEST}"), ("docker.io", "library/nginx")),
        (
            format!("acme/model:1@{DIGEST}"),
            ("docker.io", "acme/model"),
        ),
        (
            format!("[::1]:5000/model:1@{DIGEST}"),
            ("[::1]:5000", "model"),
        ),
    ];
    for (image, (registry, repository)) in cases {
        let r = parsed(&image);
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            (registry, repository),
            "{image}"
        );
        assert_eq!(r.digest, DIGEST);
    }
}

#[test]
fn an_image_without_a_digest_is_not_an_error_but_has_nothing_to_attach_to() {
    assert_eq!(
        ImageRef::parse("registry.example.com/fraud-scorer:2.4.0").unwrap(),
        None
    );
    assert_eq!(ImageRef::parse("localhost:5000/model").unwrap(), None);
}

#[test]
fn malformed_digests_and_paths_are_refused() {
    for image in [
        "model@sha512:abcd",
        "model@sha256:abc",
        "model@sha256:9406F2C4A7E1D4B4C5E8D2C1A0B9F8E7D6C5B4A39281706F5E4D3C2B1A098765",
        &format!("registry.example.com/@{DIGEST}"),
        &format!("registry.example.com/Upper/case@{DIGEST}"),
    ] {
        assert!(
            matches!(ImageRef::parse(image), Err(RegistryError::Reference(..))),
            "{image}"
        );
    }
}

#[test]
fn the_tag_and_origin_are_cosigns() {
    let r = parsed(&format!("127.0.0.1:5000/m@{DIGEST}"));
    assert_eq!(
        r.attestation_tag(),
        format!("sha256-{}.att", DIGEST.trim_start_matches("sha256:"))
    );
    assert_eq!(r.origin(), "http://127.0.0.1:5000");
    assert_eq!(
        parsed(&format!("localhost:5000/m@{DIGEST}")).origin(),
        "http://localhost:5000"
    );
    assert_eq!(
        parsed(&format!("[::1]:5000/m@{DIGEST}")).origin(),
        "http://[::1]:5000"
    );
    assert_eq!(
        parsed(&format!("ghcr.io/acme/m@{DIGEST}")).origin(),
        "https://ghcr.io"
    );
    assert_eq!(
        parsed(&format!("m@{DIGEST}")).origin(),
        "https://registry-1.docker.io"
    );
    // Only loopback is spoken to in the clear, not a name that merely starts like it.
    assert_eq!(
        parsed(&format!("localhost.example.com/m@{DIGEST}")).origin(),
        "https://localhost.example.com"
    );
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn creds(config: &DockerConfig, image: &str) -> Option<(String, String)> {
    config
        .credentials(&parsed(&format!("{image}@{DIGEST}")))
        .map(|c| (c.username.clone(), c.password.clone()))
}

#[test]
fn docker_config_credentials_are_found_as_the_kubelet_finds_them() {
    let json = serde_json::json!({"auths": {
        "https://index.docker.io/v1/": {"auth": b64("hub:h")},
        "registry.example.com": {"auth": b64("ex:e:with:colons")},
        "registry.example.com/team-a": {"username": "a", "password": "p"},
        "*.corp.example": {"auth": b64("wild:w")},
        "127.0.0.1:5000": {"auth": b64("local:l")},
        "https://ghcr.io/v2/": {"auth": b64("gh:g")},
        "token-only.example": {"identitytoken": "xyz"},
    }});
    let config = DockerConfig::parse(json.to_string().as_bytes()).unwrap();
    let pair = |u: &str, p: &str| Some((u.to_string(), p.to_string()));
    assert_eq!(creds(&config, "nginx"), pair("hub", "h"));
    assert_eq!(creds(&config, "docker.io/acme/m"), pair("hub", "h"));
    assert_eq!(
        creds(&config, "registry.example.com/m"),
        pair("ex", "e:with:colons")
    );
    assert_eq!(
        creds(&config, "registry.example.com/team-a/m"),
        pair("a", "p")
    );
    assert_eq!(
        creds(&config, "registry.example.com/team-ab/m"),
        pair("ex", "e:with:colons")
    );
    assert_eq!(creds(&config, "eu.corp.example/m"), pair("wild", "w"));
    assert_eq!(
        creds(&config, "a.eu.corp.example/m"),
        None,
        "`*` is one component"
    );
    assert_eq!(creds(&config, "127.0.0.1:5000/m"), pair("local", "l"));
    assert_eq!(creds(&config, "127.0.0.1:5001/m"), None, "ports must match");
    assert_eq!(creds(&config, "registry.example.com:443/m"), None);
    assert_eq!(creds(&config, "ghcr.io/acme/m"), pair("gh", "g"));
    assert_eq!(creds(&config, "token-only.example/m"), None);
    assert_eq!(creds(&config, "quay.io/m"), None);
}

#[test]
fn legacy_dockercfg_and_secrets_are_read() {
    let legacy = serde_json::json!({"registry.example.com": {"auth": b64("u:p")}});
    let config = DockerConfig::parse(legacy.to_string().as_bytes()).unwrap();
    assert!(creds(&config, "registry.example.com/m").is_some());

    let mut secret = Secret::default();
    secret.metadata.name = Some("pull".into());
    assert!(matches!(
        DockerConfig::from_secret(&secret),
        Err(RegistryError::Credentials(why)) if why.contains("pull")
    ));
    let json = serde_json::json!({"auths": {"registry.example.com": {"auth": b64("u:p")}}});
    secret.data = Some(BTreeMap::from([(
        ".dockerconfigjson".to_string(),
        k8s_openapi::ByteString(json.to_string().into_bytes()),
    )]));
    let config = DockerConfig::from_secret(&secret).unwrap();
    assert_eq!(
        creds(&config, "registry.example.com/m"),
        Some(("u".into(), "p".into()))
    );
}

#[test]
fn unreadable_credentials_say_why_without_the_secret() {
    for json in [
        "not json".to_string(),
        serde_json::json!({"auths": {"r.example": {"auth": "%%%"}}}).to_string(),
        serde_json::json!({"auths": {"r.example": {"auth": b64("no-colon")}}}).to_string(),
    ] {
        let error = DockerConfig::parse(json.as_bytes()).unwrap_err();
        assert!(matches!(error, RegistryError::Credentials(_)), "{error}");
        assert!(!error.to_string().contains("no-colon"), "{error}");
    }
    let c = Credentials {
        username: "u".into(),
        password: "hunter2".into(),
    };
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn challenges_are_parsed_with_quoted_commas() {
    let c = parse_challenge(
        r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:acme/m:pull,push""#,
    )
    .unwrap();
    assert_eq!(c.scheme, "bearer");
    assert_eq!(c.params["realm"], "https://auth.example.com/token");
    assert_eq!(c.params["service"], "registry.example.com");
    assert_eq!(c.params["scope"], "repository:acme/m:pull,push");
    let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
    assert_eq!(c.scheme, "basic");
    assert_eq!(c.params["realm"], "Registry Realm");
    let c = parse_challenge("Bearer realm=https://a.example/t, service=s").unwrap();
    assert_eq!(c.params["realm"], "https://a.example/t");
    assert_eq!(c.params["service"], "s");
    assert_eq!(parse_challenge(""), None);
}

#[test]
fn a_first_record_makes_cosigns_manifest() {
    let envelope =
        br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#;
    let (manifest, config) = extend_manifest(
        None,
        envelope_layer(envelope, "https://accord.dev/promotion/v1"),
    )
    .unwrap();
    let json: Value = serde_json::to_value(&manifest).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": digest_of(&config)},
            "layers": [{
                "mediaType": "application/vnd.dsse.envelope.v1+json",
                "size": envelope.len(),
                "digest": digest_of(envelope),
                "annotations": {
                    "dev.cosignproject.cosign/signature": "",
                    "predicateType": "https://accord.dev/promotion/v1",
                },
            }],
        })
    );
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([digest_of(envelope)])
    );
    assert_eq!(config["history"].as_array().unwrap().len(), 1);
}

#[test]
fn later_records_extend_the_manifest_once_each_keeping_what_was_there() {
    let cosigns = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 3, "digest": "sha256:00"},
        "layers": [{
            "mediaType": DSSE_MEDIA_TYPE, "size": 10, "digest": "sha256:11",
            "annotations": {"dev.cosignproject.cosign/signature": "", "predicateType": "https://slsa.dev/provenance/v1",
                            "dev.sigstore.cosign/bundle": "{}"},
            "urls": ["kept"],
        }],
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    });
    let existing: Manifest = serde_json::from_value(cosigns.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&existing).unwrap(),
        cosigns,
        "read and written back unchanged"
    );
    let layer = envelope_layer(b"record", "https://accord.dev/promotion/v1");
    let (manifest, config) = extend_manifest(Some(&existing), layer.clone()).unwrap();
    assert_eq!(manifest.layers.len(), 2);
    assert_eq!(manifest.layers[0], existing.layers[0]);
    assert_eq!(manifest.layers[1], layer);
    assert_eq!(manifest.media_type.as_deref(), Some(DOCKER_MANIFEST));
    assert_eq!(
        manifest.config.media_type,
        "application/vnd.docker.container.image.v1+json"
    );
    assert_eq!(manifest.config.digest, digest_of(&config));
    assert_eq!(manifest.annotations, existing.annotations);
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!(["sha256:11", layer.digest])
    );
    assert_eq!(
        extend_manifest(Some(&manifest), layer),
        None,
        "the same record twice"
    );
}

// ---------------------------------------------------------------------------------
// The HTTP flow, against a registry on loopback that wants a bearer token.

#[derive(Default)]
struct Registry {
    blobs: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (String, Vec<u8>)>,
    uploads: usize,
    token_requests: Vec<String>,
    puts: usize,
}

type Shared = Arc<Mutex<Registry>>;

const TOKEN: &str = "Bearer t0ken";

async fn handle(
    State((shared, origin)): State<(Shared, String)>,
    method: AxumMethod,
    uri: Uri,
    headers: AxumHeaders,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let mut reg = shared.lock().unwrap();
    if path == "/token" {
        let basic = format!("Basic {}", b64("ci:s3cret"));
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
            return (AxumStatus::UNAUTHORIZED, "bad credentials").into_response();
        }
        reg.token_requests.push(query);
        return axum::Json(serde_json::json!({"token": "t0ken"})).into_response();
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(TOKEN) {
        let challenge = format!(
            r#"Bearer realm="{origin}/token",service="mock",scope="repository:acme/model:pull""#
        );
        return (
            AxumStatus::UNAUTHORIZED,
            [("www-authenticate", challenge)],
            "",
        )
            .into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/acme/model/") else {
        return (AxumStatus::NOT_FOUND, "no such repository").into_response();
    };
    match (method.as_str(), rest) {
        ("HEAD", blob) if blob.starts_with("blobs/sha256:") => {
            if reg.blobs.contains_key(&blob["blobs/".len()..]) {
                AxumStatus::OK.into_response()
            } else {
                AxumStatus::NOT_FOUND.into_response()
            }
        }
        ("POST", "blobs/uploads/") => {
            reg.uploads += 1;
            let location = format!("/v2/acme/model/blobs/uploads/{}?_state=x", reg.uploads);
            (AxumStatus::ACCEPTED, [("location", location)], "").into_response()
        }
        ("PUT", upload) if upload.starts_with("blobs/uploads/") => {
            let digest = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "digest")
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            if !query.contains("_state=x") || digest != digest_of(&body) {
                return (AxumStatus::BAD_REQUEST, "digest mismatch").into_response();
            }
            reg.blobs.insert(digest, body.to_vec());
            AxumStatus::CREATED.into_response()
        }
        ("HEAD", manifest) if manifest.starts_with("manifests/") => {
            match reg.manifests.get(&manifest["manifests/".len()..]) {
                Some((media_type, bytes)) => (
                    [
                        ("content-type", media_type.clone()),
                        ("docker-content-digest", digest_of(bytes)),
                    ],
                    "",
                )
                    .into_response(),
                None => AxumStatus::NOT_FOUND.into_response(),
            }
        }
        ("GET", manifest) if manifest.starts_with("manifests/") => {
            match reg.manifests.get(&manifest["manifests/".len()..]) {
                Some((media_type, bytes)) => {
                    ([("content-type", media_type.clone())], bytes.clone()).into_response()
                }
                None => (AxumStatus::NOT_FOUND, "MANIFEST_UNKNOWN").into_response(),
            }
        }
        ("PUT", manifest) if manifest.starts_with("manifests/") => {
            let parsed: Manifest = serde_json::from_slice(&body).unwrap();
            for d in std::iter::once(&parsed.config).chain(&parsed.layers) {
                if !reg.blobs.contains_key(&d.digest) {
                    return (AxumStatus::BAD_REQUEST, "BLOB_UNKNOWN").into_response();
                }
            }
            let media_type = headers["content-type"].to_str().unwrap().to_string();
            reg.puts += 1;
            reg.manifests.insert(
                manifest["manifests/".len()..].to_string(),
                (media_type, body.to_vec()),
            );
            AxumStatus::CREATED.into_response()
        }
        _ => (AxumStatus::METHOD_NOT_ALLOWED, "").into_response(),
    }
}

async fn serve() -> (Shared, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let shared = Shared::default();
    let router = Router::new()
        .fallback(handle)
        .with_state((shared.clone(), origin.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (shared, origin)
}

fn client_for(origin: &str, auth: &str) -> RegistryClient {
    let host = origin.trim_start_matches("http://");
    let json = serde_json::json!({"auths": {host: {"auth": b64(auth)}}});
    RegistryClient::new(DockerConfig::parse(json.to_string().as_bytes()).unwrap())
}

#[tokio::test]
async fn records_are_attached_through_the_bearer_challenge_once_each() {
    let (shared, origin) = serve().await;
    let host = origin.trim_start_matches("http://");
    let image = format!("{host}/acme/model:2.4.0@{DIGEST}");
    let tag = parsed(&image).attestation_tag();
    let reg = client_for(&origin, "ci:s3cret");
    let predicate = "https://accord.dev/promotion/v1";

    let first = attach(&reg, &image, b"first record", predicate)
        .await
        .unwrap();
    assert_eq!(
        first,
        Attached::Added {
            tag: tag.clone(),
            layers: 1
        }
    );
    let again = attach(&reg, &image, b"first record", predicate)
        .await
        .unwrap();
    assert_eq!(again, Attached::AlreadyThere { tag: tag.clone() });
    let second = attach(&reg, &image, b"second record", predicate)
        .await
        .unwrap();
    assert_eq!(
        second,
        Attached::Added {
            tag: tag.clone(),
            layers: 2
        }
    );

    let reg_state = shared.lock().unwrap();
    assert_eq!(reg_state.puts, 2, "nothing written for the repeat");
    let (media_type, bytes) = &reg_state.manifests[&tag];
    assert_eq!(media_type, OCI_MANIFEST);
    let manifest: Manifest = serde_json::from_slice(bytes).unwrap();
    let layers: Vec<&[u8]> = manifest
        .layers
        .iter()
        .map(|l| reg_state.blobs[&l.digest].as_slice())
        .collect();
    assert_eq!(
        layers,
        [b"first record".as_slice(), b"second record".as_slice()]
    );
    assert!(reg_state.blobs.contains_key(&manifest.config.digest));
    // One token per attachment, asked with push scope for the image's repository.
    assert_eq!(reg_state.token_requests.len(), 3);
    for query in &reg_state.token_requests {
        let pairs: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs["service"], "mock");
        assert_eq!(pairs["scope"], "repository:acme/model:pull,push");
    }
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_refused_and_nothing_is_written() {
    let (shared, origin) = serve().await;
    let host = origin.trim_start_matches("http://");
    let image = format!("{host}/acme/model@{DIGEST}");
    for reg in [
        client_for(&origin, "ci:wrong"),
        RegistryClient::new(DockerConfig::default()),
    ] {
        let error = attach(&reg, &image, b"record", "https://accord.dev/promotion/v1")
            .await
            .unwrap_err();
        assert!(
            matches!(error, RegistryError::Unauthorized { .. }),
            "{error}"
        );
        assert!(!error.to_string().contains("wrong"), "{error}");
    }
    assert_eq!(shared.lock().unwrap().puts, 0);
}

#[tokio::test]
async fn an_image_without_a_digest_is_skipped_without_a_request() {
    let reg = RegistryClient::new(DockerConfig::default());
    // Port 9 (discard) on loopback: a request would fail, so Ok means none was made.
    let attached = attach(&reg, "127.0.0.1:9/acme/model:2.4.0", b"record", "x")
        .await
        .unwrap();
    assert_eq!(attached, Attached::NoDigest);
}

#[tokio::test]
async fn an_unreachable_registry_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reg = RegistryClient::new(DockerConfig::default());
    let error = attach(
        &reg,
        &format!("127.0.0.1:{port}/acme/model@{DIGEST}"),
        b"r",
        "x",
    )
    .await
    .unwrap_err();
    assert!(matches!(error, RegistryError::Transport { .. }), "{error}");
}

/// What `cosign attest --key … --type https://accord.dev/promotion/v1
/// --tlog-upload=false` (v2.6.5) wrote for this envelope to a fresh image: Accord's
/// manifest and config for the same envelope are the same bytes.
#[test]
fn the_manifest_and_config_are_byte_for_byte_cosigns() {
    let envelope = include_bytes!("testdata/cosign-attest-envelope.json");
    let cosign_manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"sha256:46091740e6bd243dc64c0cbfdc21938ef7efa54a23d949d92e2a60eb63f32ca6"},"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","size":532,"digest":"sha256:acbcab316912193e3bff6f915c40facdae60b5a7a85e1fac4aa8e230f316b37e","annotations":{"dev.cosignproject.cosign/signature":"","predicateType":"https://accord.dev/promotion/v1"}}]}"#;
    let cosign_config = r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:acbcab316912193e3bff6f915c40facdae60b5a7a85e1fac4aa8e230f316b37e"]},"config":{}}"#;
    let (manifest, config) = extend_manifest(
        None,
        envelope_layer(envelope, "https://accord.dev/promotion/v1"),
    )
    .unwrap();
    assert_eq!(String::from_utf8(config).unwrap(), cosign_config);
    assert_eq!(serde_json::to_string(&manifest).unwrap(), cosign_manifest);
    let read_back: Manifest = serde_json::from_str(cosign_manifest).unwrap();
    assert_eq!(
        extend_manifest(Some(&read_back), envelope_layer(envelope, "x")),
        None
    );
}

#[test]
fn image_names_by_tag_or_digest_name_the_manifest_a_pull_fetches() {
    let by_tag = ImageName::parse("127.0.0.1:5000/acme/model:2.4.0").unwrap();
    assert_eq!(
        (by_tag.registry.as_str(), by_tag.repository.as_str()),
        ("127.0.0.1:5000", "acme/model")
    );
    assert_eq!(by_tag.reference(), "2.4.0");
    let both = ImageName::parse(&format!("ghcr.io/acme/model:2.4.0@{DIGEST}")).unwrap();
    assert_eq!(both.tag.as_deref(), Some("2.4.0"));
    assert_eq!(both.reference(), DIGEST, "the kubelet pulls by the digest");
    assert_eq!(ImageName::parse("nginx").unwrap().reference(), "latest");
    assert_eq!(
        ImageName::parse("nginx").unwrap().repository,
        "library/nginx"
    );
    for bad in [
        "acme/model:",
        "acme/model:-x",
        "acme/model:a b",
        "Acme/model:1",
    ] {
        assert!(
            matches!(ImageName::parse(bad), Err(RegistryError::Reference(..))),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_lookup_finds_a_tag_or_digest_with_pull_only_credentials_and_writes_nothing() {
    let (shared, origin) = serve().await;
    let host = origin.trim_start_matches("http://");
    let manifest = br#"{"schemaVersion":2}"#.to_vec();
    let digest = digest_of(&manifest);
    {
        let mut reg = shared.lock().unwrap();
        for reference in ["2.4.0", digest.as_str()] {
            reg.manifests.insert(
                reference.to_string(),
                (OCI_MANIFEST.to_string(), manifest.clone()),
            );
        }
    }
    let reg = client_for(&origin, "ci:s3cret");
    let found = Lookup::Found {
        digest: Some(digest.clone()),
        media_type: Some(OCI_MANIFEST.to_string()),
    };
    assert_eq!(
        lookup(&reg, &format!("{host}/acme/model:2.4.0"))
            .await
            .unwrap(),
        found
    );
    assert_eq!(
        lookup(&reg, &format!("{host}/acme/model:old@{digest}"))
            .await
            .unwrap(),
        found
    );
    let missing = lookup(&reg, &format!("{host}/acme/model:2.5.0"))
        .await
        .unwrap();
    assert!(
        matches!(&missing, Lookup::Missing { detail } if detail.contains("no manifest 2.5.0 in acme/model")),
        "{missing:?}"
    );
    let refused = lookup(
        &RegistryClient::new(DockerConfig::default()),
        &format!("{host}/acme/model:2.4.0"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, RegistryError::Unauthorized { .. }),
        "{refused}"
    );
    let reg_state = shared.lock().unwrap();
    assert_eq!((reg_state.puts, reg_state.uploads), (0, 0));
    assert_eq!(reg_state.token_requests.len(), 3);
    for query in &reg_state.token_requests {
        assert!(
            query.ends_with("scope=repository%3Aacme%2Fmodel%3Apull"),
            "a lookup asks only to pull: {query}"
        );
    }
}
