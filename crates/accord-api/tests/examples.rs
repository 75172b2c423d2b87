//! Every manifest in `examples/` parses into Accord's types without losing a field, so
//! the examples a new user applies match the API the operator understands.

use std::path::{Path, PathBuf};

use accord_api::{Attestation, HandoffPolicy, Incident, ModelDeployment, RollbackDrill, Team};
use serde_json::Value;

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("examples/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Paths of every leaf in `original` whose value differs in (or is missing from) `roundtrip`.
fn lost_fields(original: &Value, roundtrip: &Value, path: &str, lost: &mut Vec<String>) {
    match (original, roundtrip) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let child = format!("{path}.{key}");
                match b.get(key) {
                    Some(other) => lost_fields(value, other, &child, lost),
                    None => lost.push(child),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                lost_fields(x, y, &format!("{path}[{i}]"), lost);
            }
        }
        (a, b) if a == b => {}
        // Quantities and numbers may be re-rendered; compare their text.
        (a, b) if a.to_string().trim_matches('"') == b.to_string().trim_matches('"') => {}
        _ => lost.push(path.to_string()),
    }
}

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> Value {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|err| panic!("{err}: {doc}"));
    serde_json::to_value(typed).expect("serializes")
}

#[test]
fn every_example_parses_without_losing_fields() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let files = yaml_files(&dir);
    assert!(!files.is_empty(), "no examples found in {}", dir.display());
    let mut kinds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|err| panic!("{}: invalid YAML: {err}", file.display()));
        assert!(!docs.is_empty(), "{} holds no documents", file.display());
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            let back = match (doc["apiVersion"].as_str(), kind.as_str()) {
                (Some("accord.dev/v1alpha1"), "Team") => roundtrip::<Team>(&doc),
                (Some("accord.dev/v1alpha1"), "ModelDeployment") => {
                    roundtrip::<ModelDeployment>(&doc)
                }
                (Some("accord.dev/v1alpha1"), "Attestation") => roundtrip::<Attestation>(&doc),
                (Some("accord.dev/v1alpha1"), "HandoffPolicy") => roundtrip::<HandoffPolicy>(&doc),
                (Some("accord.dev/v1alpha1"), "Incident") => roundtrip::<Incident>(&doc),
                (Some("accord.dev/v1alpha1"), "RollbackDrill") => roundtrip::<RollbackDrill>(&doc),
                (Some("v1"), "Namespace") => doc.clone(),
                other => panic!("{}: unexpected object {other:?}", file.display()),
            };
            let mut lost = Vec::new();
            lost_fields(&doc, &back, "", &mut lost);
            assert!(
                lost.is_empty(),
                "{}: {kind} loses {lost:?} when parsed",
                file.display()
            );
            kinds.push(kind);
        }
    }
    for (kind, expected) in [
        ("Team", 3),
        ("ModelDeployment", 6),
        ("Attestation", 6),
        ("HandoffPolicy", 3),
        ("Incident", 1),
        ("RollbackDrill", 1),
    ] {
        let found = kinds.iter().filter(|k| *k == kind).count();
        assert_eq!(
            found, expected,
            "examples/ should hold {expected} {kind} objects"
        );
    }
}

#[test]
fn example_checklist_covers_every_role_and_attestations_name_real_items() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let md: Vec<Value> = serde_saphyr::from_multiple(
        &std::fs::read_to_string(dir.join("fraud-scorer.yaml")).unwrap(),
    )
    .unwrap();
    let md: ModelDeployment = serde_json::from_value(md[1].clone()).unwrap();
    let count = |role| {
        md.spec
            .handoff
            .checklist
            .iter()
            .filter(|i| i.owner == role)
            .count()
    };
    use accord_api::Role;
    assert_eq!(
        (
            count(Role::Data),
            count(Role::Platform),
            count(Role::Application)
        ),
        (2, 2, 1)
    );

    for user in ["alice", "bob", "carol"] {
        let text = std::fs::read_to_string(dir.join(format!("attestations/{user}.yaml"))).unwrap();
        let atts: Vec<Attestation> = serde_saphyr::from_multiple(&text).unwrap();
        for att in atts {
            assert_eq!(att.spec.model_deployment, "fraud-scorer");
            assert_eq!(att.spec.version, md.spec.model.version);
            assert_eq!(att.spec.digest, md.spec.model.digest);
            assert!(
                md.spec
                    .handoff
                    .checklist
                    .iter()
                    .any(|i| i.id == att.spec.item),
                "{user}'s attestation names unknown item {}",
                att.spec.item
            );
        }
    }
}

/// The krew manifest template, filled in by hack/krew-manifest.sh, is a krew Plugin
/// whose platform points at the release archive and names its sha256.
#[test]
fn the_krew_manifest_fills_in_to_a_plugin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("accord-krew-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("kubectl-accord-linux-amd64.tar.gz");
    std::fs::write(&archive, b"not really an archive").unwrap();
    let out = std::process::Command::new(root.join("hack/krew-manifest.sh"))
        .args(["0.2.0", "https://example.com/releases"])
        .arg(&archive)
        .output()
        .expect("runs the script");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("{{"), "a placeholder is left: {text}");
    let plugin: Value = serde_saphyr::from_str(&text).expect("YAML");
    assert_eq!(plugin["kind"], "Plugin");
    assert_eq!(
        plugin["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(plugin["spec"]["version"], "v0.2.0");
    let platform = &plugin["spec"]["platforms"][0];
    assert_eq!(
        platform["uri"],
        "https://example.com/releases/v0.2.0/kubectl-accord-linux-amd64.tar.gz"
    );
    // sha256 of the bytes above.
    let sha = platform["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(sha.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(platform["bin"], "kubectl-accord");
    std::fs::remove_dir_all(&dir).unwrap();
}
