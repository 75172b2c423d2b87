//! Signed records in the image's registry (`--record-registry`), checked by the tool a
//! policy engine uses: a DSSE-enveloped in-toto Statement (predicate
//! `https://accord.dev/promotion/v1`) whose subject is the image, signed with an ed25519
//! key and attached by `accord_operator::registry::attach` to an image in a registry on
//! loopback (`crane registry serve`), passes `cosign verify-attestation` with the public
//! key; an image Accord never promoted, another key, and a record copied onto another
//! image all fail it. Accord and `cosign attest` extend the same `.att` manifest.
//!
//! And the operator does it: started with `--record-registry=true`, it attaches the
//! PromotionRecord of a promotion to the image the ModelDeployment serves by digest, and
//! cosign verifies it there with the public key the operator publishes.
//!
//! cosign and crane are built once from their Go modules (`hack/cosign.sh`, about 3
//! minutes on 2 cores; `hack/crane.sh`); `.ci/run` and `e2e/run.sh` build them before
//! the tests. `accord_e2e::registry` has the registry and the tools.

mod support;

use std::time::Duration;

use accord_e2e::{Cosign, Kubectl, Operator, Registry, TestNamespace, poll};
use accord_operator::registry::{self, Attached, DockerConfig, RegistryClient};
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest as _, Sha256};

const PREDICATE_TYPE: &str = "https://accord.dev/promotion/v1";
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A fresh ed25519 key, its public key as PEM (SubjectPublicKeyInfo) and its key id
/// (as Accord's: the hex sha256 of the SubjectPublicKeyInfo DER).
fn key(seed_from: &str) -> (SigningKey, String, String) {
    let seed: [u8; 32] = Sha256::digest(format!(
        "{seed_from} {} {:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ))
    .into();
    let key = SigningKey::from_bytes(&seed);
    // id-Ed25519 (1.3.101.112) SubjectPublicKeyInfo: a fixed prefix, then the 32 bytes.
    let mut spki = hex_bytes("302a300506032b6570032100");
    spki.extend_from_slice(key.verifying_key().as_bytes());
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&spki)
    );
    let keyid = Sha256::digest(&spki)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (key, pem, keyid)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// DSSE's pre-authentication encoding.
fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The envelope of an Accord promotion Statement about `image` (`repo@sha256:…`).
fn record(key: &SigningKey, keyid: &str, image: &str, version: &str) -> Vec<u8> {
    let (name, digest) = image.split_once("@sha256:").unwrap();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "action": "Promoted",
            "model": {"name": "fraud-scorer", "version": version},
            "approvals": [{"item": "data-drift-checked", "by": "alice"}],
        },
    });
    let body = serde_json::to_vec(&statement).unwrap();
    let signature = key.sign(&pae(PAYLOAD_TYPE, &body));
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    serde_json::to_vec(&serde_json::json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": b64(&body),
        "signatures": [{"keyid": keyid, "sig": b64(&signature.to_bytes())}],
    }))
    .unwrap()
}

/// A fresh directory for a test's keys and predicates, under the system's temporary one.
fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("accord-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn cosign_verifies_accords_registry_record_and_refuses_images_without_one() {
    let cosign = Cosign::find();
    let registry = Registry::start();
    let dir = scratch("registry-audit");
    let promoted = registry.push_image("fraud-scorer:2.4.0", "2.4.0");
    let never = registry.push_image("fraud-scorer:2.5.0-rc", "2.5.0-rc");
    let other = registry.push_image("other-model:1", "other");

    let (accord_key, accord_pem, accord_keyid) = key("accord");
    let public_key = dir.join("accord.pub");
    std::fs::write(&public_key, &accord_pem).unwrap();
    let client = RegistryClient::new(DockerConfig::default());

    // Attached by Accord, as the `:tag@digest` a ModelDeployment names it.
    let with_tag = promoted.replacen("@", ":2.4.0@", 1);
    let envelope = record(&accord_key, &accord_keyid, &promoted, "2.4.0");
    let attached = registry::attach(&client, &with_tag, &envelope, PREDICATE_TYPE)
        .await
        .unwrap();
    let tag = format!("sha256-{}.att", promoted.split_once("@sha256:").unwrap().1);
    assert_eq!(
        attached,
        Attached::Added {
            tag: tag.clone(),
            layers: 1
        }
    );
    let again = registry::attach(&client, &promoted, &envelope, PREDICATE_TYPE)
        .await
        .unwrap();
    assert_eq!(
        again,
        Attached::AlreadyThere { tag: tag.clone() },
        "the same record is written once"
    );
    let by_tag = registry::attach(
        &client,
        &format!("{}/fraud-scorer:2.4.0", registry.address),
        &envelope,
        PREDICATE_TYPE,
    )
    .await
    .unwrap();
    assert_eq!(by_tag, Attached::NoDigest);

    let (ok, out) = cosign.verify_attestation(&public_key, PREDICATE_TYPE, &promoted);
    assert!(ok, "cosign refused Accord's record:\n{out}");
    assert!(
        out.contains(&String::from_utf8(envelope.clone()).unwrap()),
        "cosign prints the verified envelope:\n{out}"
    );

    let (ok, out) = cosign.verify_attestation(&public_key, PREDICATE_TYPE, &never);
    assert!(!ok, "an image Accord never promoted passed:\n{out}");
    assert!(out.contains("no matching attestations"), "{out}");

    let (_, stranger_pem, _) = key("stranger");
    let stranger = dir.join("stranger.pub");
    std::fs::write(&stranger, stranger_pem).unwrap();
    let (ok, out) = cosign.verify_attestation(&stranger, PREDICATE_TYPE, &promoted);
    assert!(!ok, "another key passed:\n{out}");
    assert!(
        out.contains("accepted signatures do not match threshold"),
        "{out}"
    );

    // The promoted image's record copied onto another image: signed, but not about it.
    registry::attach(&client, &other, &envelope, PREDICATE_TYPE)
        .await
        .unwrap();
    let (ok, out) = cosign.verify_attestation(&public_key, PREDICATE_TYPE, &other);
    assert!(!ok, "a record about another image passed:\n{out}");
    assert!(out.contains("no matching subject digest found"), "{out}");

    // cosign's own attestation and a later Accord record share the `.att` manifest.
    let (ok, out) = cosign.run(
        &[
            "generate-key-pair",
            "--output-key-prefix",
            dir.join("cosign").to_str().unwrap(),
        ],
        &[("COSIGN_PASSWORD", "")],
    );
    assert!(ok, "{out}");
    let predicate = dir.join("predicate.json");
    std::fs::write(&predicate, r#"{"scanned": true}"#).unwrap();
    let (ok, out) = cosign.run(
        &[
            "attest",
            "--yes",
            "--key",
            dir.join("cosign.key").to_str().unwrap(),
            "--type",
            "https://example.com/scan/v1",
            "--predicate",
            predicate.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-insecure-registry",
            &promoted,
        ],
        &[("COSIGN_PASSWORD", "")],
    );
    assert!(ok, "{out}");
    let later = record(
        &accord_key,
        &accord_keyid,
        &promoted,
        "2.4.0-rollback-check",
    );
    let attached = registry::attach(&client, &promoted, &later, PREDICATE_TYPE)
        .await
        .unwrap();
    assert_eq!(
        attached,
        Attached::Added {
            tag: tag.clone(),
            layers: 3
        }
    );
    let (ok, out) = cosign.verify_attestation(&public_key, PREDICATE_TYPE, &promoted);
    assert!(ok, "{out}");
    for envelope in [&envelope, &later] {
        assert!(
            out.contains(&String::from_utf8(envelope.clone()).unwrap()),
            "{out}"
        );
    }
    let (ok, out) = cosign.verify_attestation(
        &dir.join("cosign.pub"),
        "https://example.com/scan/v1",
        &promoted,
    );
    assert!(
        ok,
        "cosign's own attestation survived Accord's append:\n{out}"
    );

    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
}

/// How long the promotion and its record may take on the local cluster.
const WAIT: Duration = Duration::from_secs(90);

/// The operator's active record public key (one PEM block, as cosign wants it) and its
/// key id, from the ConfigMap it publishes them in.
fn active_public_key() -> (String, String) {
    let keys = Kubectl::admin()
        .get_json(&["configmap", "accord-record-keys", "-n", "accord-system"])
        .expect("the operator publishes its record keys");
    let keyid = keys["data"]["active"]
        .as_str()
        .expect("an active key")
        .to_string();
    let pem = keys["data"][format!("{keyid}.pem")]
        .as_str()
        .unwrap_or_else(|| panic!("no {keyid}.pem in {keys}"))
        .to_string();
    (keyid, pem)
}

/// The in-toto Statements of the envelopes `cosign verify-attestation` printed (one
/// JSON object a line).
fn verified_statements(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|envelope| {
            let payload = base64::engine::general_purpose::STANDARD
                .decode(envelope["payload"].as_str()?)
                .ok()?;
            serde_json::from_slice(&payload).ok()
        })
        .collect()
}

#[test]
fn the_operator_attaches_its_records_to_the_promoted_image() {
    let _guard = accord_e2e::exclusive();
    let cosign = Cosign::find();
    let registry = Registry::start();
    let promoted = registry.push_image("fraud:1.0.0", "1.0.0");
    let never = registry.push_image("fraud:1.1.0", "1.1.0");
    let operator = Operator::start(
        "registry-records",
        "accord-operator",
        &["--record-registry=true"],
    );
    let ns = TestNamespace::create("registry-records");
    let n = ns.name.as_str();

    // The image by digest, in the loopback registry (pods pull nothing on KWOK).
    let mut md = support::model_deployment(n, "fraud", "1.0.0");
    md["spec"]["serving"]["image"] = serde_json::json!(promoted);
    support::create(&md);
    support::attest_all(n, "fraud", "1.0.0");
    support::wait_phase(n, "fraud", "Serving", WAIT);
    let record = poll("the PromotionRecord of the promotion", WAIT, || {
        let list = Kubectl::admin()
            .get_json(&["promotionrecords", "-n", n])
            .ok_or("no PromotionRecords list")?;
        list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["spec"]["action"] == "Promoted"))
            .cloned()
            .ok_or_else(|| list["items"].to_string())
    });

    let (keyid, pem) = active_public_key();
    let envelope = &record["spec"]["envelope"];
    assert_eq!(
        envelope["signatures"][0]["keyid"], keyid,
        "the record is signed with the published active key"
    );
    let dir = scratch("registry-records");
    let public_key = dir.join("accord.pub");
    std::fs::write(&public_key, pem).unwrap();

    // Attaching runs just after the record is written, off the reconcile.
    let out = poll(
        "cosign to verify the attached record",
        Duration::from_secs(60),
        || {
            let (ok, out) = cosign.verify_attestation(&public_key, PREDICATE_TYPE, &promoted);
            ok.then(|| out.clone())
                .ok_or_else(|| format!("{out}\noperator log:\n{}", operator.log_tail()))
        },
    );
    let statements = verified_statements(&out);
    assert_eq!(statements.len(), 1, "one record on the image:\n{out}");
    let statement = &statements[0];
    assert_eq!(statement["predicateType"], PREDICATE_TYPE);
    assert_eq!(statement["predicate"]["action"], "Promoted", "{statement}");
    assert_eq!(
        statement["predicate"]["model"]["name"], "fraud",
        "{statement}"
    );
    assert_eq!(
        statement["predicate"]["model"]["namespace"], n,
        "{statement}"
    );
    assert_eq!(statement["predicate"]["version"], "1.0.0", "{statement}");
    let (repository, hex) = promoted.split_once("@sha256:").unwrap();
    assert!(
        statement["subject"].as_array().is_some_and(|s| s
            .iter()
            .any(|s| s["name"] == repository && s["digest"]["sha256"] == hex)),
        "the image is a subject: {statement}"
    );
    assert!(
        out.contains(envelope["payload"].as_str().unwrap()),
        "the attached envelope is the PromotionRecord's:\n{out}"
    );

    let (ok, out) = cosign.verify_attestation(&public_key, PREDICATE_TYPE, &never);
    assert!(!ok, "an image the operator never promoted passed:\n{out}");
    assert!(out.contains("no matching attestations"), "{out}");

    drop(operator);
    let _ = std::fs::remove_dir_all(&dir);
}
