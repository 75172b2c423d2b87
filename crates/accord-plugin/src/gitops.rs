//! The plugin's signing commands, for sign-offs that live in Git: print the statement,
//! sign it with `ssh-keygen` (so agents and hardware keys work and Accord never reads
//! a private key), check a signed Attestation offline, and add a key to a Team
//! manifest. Most of it works without a cluster: from files, as a GitOps repo holds them.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::de::DeserializeOwned;
use serde_json::Value;

use accord_core::signing::{self, NAMESPACE};

use super::{commands::Failure, views};
use crate::api::{
    Attestation, AttestationSignature, AttestationSpec, ModelDeployment, SigningKey, Team,
    fingerprint::short, namespaced_name,
};

/// What to sign off, as the plugin's flags give it.
#[derive(Debug, Clone)]
pub struct SignOff {
    pub namespace: String,
    pub item: String,
    pub evidence: Option<String>,
    pub comment: Option<String>,
    pub signer: String,
    /// `YYYY-MM-DDThh:mm:ssZ`.
    pub signed_at: String,
}

/// The Attestation for `md`'s current candidate, ready to sign (no signature yet):
/// its statement is [`statement`].
pub fn unsigned(md: &ModelDeployment, sign_off: &SignOff) -> Result<Attestation, Failure> {
    let name = md.metadata.name.clone().unwrap_or_default();
    if md.item_team(&sign_off.item).is_none() {
        return Err(Failure(format!(
            "item {:?} is not on the checklist of {}/{name}; its items are: {}",
            sign_off.item,
            sign_off.namespace,
            md.item_ids()
        )));
    }
    let version = md.spec.model.version.clone();
    Ok(Attestation {
        metadata: ObjectMeta {
            name: Some(signed_name(
                &name,
                &version,
                &sign_off.item,
                &sign_off.signer,
                &sign_off.signed_at,
            )),
            namespace: Some(sign_off.namespace.clone()),
            ..Default::default()
        },
        spec: AttestationSpec {
            model_deployment: name,
            item: sign_off.item.clone(),
            version,
            digest: md.spec.model.digest.clone(),
            candidate: Some(md.spec.fingerprint()),
            evidence: sign_off.evidence.clone(),
            comment: sign_off.comment.clone(),
            attested_by: Some(sign_off.signer.clone()),
            team: None,
            signature: Some(AttestationSignature {
                signer: sign_off.signer.clone(),
                signed_at: sign_off.signed_at.clone(),
                sshsig: String::new(),
            }),
        },
        status: None,
    })
}

/// A signed Attestation's name also names its signer and when they signed, so two
/// people's sign-offs on one item live side by side in Git, and signing again (say
/// with a new key) makes a new object rather than a change to an immutable one.
fn signed_name(md: &str, version: &str, item: &str, signer: &str, signed_at: &str) -> String {
    let when: String = signed_at.chars().filter(char::is_ascii_digit).collect();
    views::attestation_name(md, version, &format!("{item}-{signer}-{when}"))
}

/// The exact bytes to sign for `attestation`.
pub fn statement(attestation: &Attestation) -> Result<String, Failure> {
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    signing::signed_statement(namespace, &attestation.spec).map_err(|e| Failure(e.to_string()))
}

/// Signs `statement` with `ssh-keygen -Y sign -n attestation@accord.dev -f key`: the
/// key file may be a private key or, with ssh-agent or a security key, a public one.
pub fn ssh_keygen_sign(key: &Path, statement: &str) -> Result<String, Failure> {
    let mut child = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Failure(format!(
                "cannot run ssh-keygen (OpenSSH 8.2 or later is needed): {e}"
            ))
        })?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(statement.as_bytes())
        .map_err(|e| Failure(format!("cannot hand the statement to ssh-keygen: {e}")))?;
    let output = child
        .wait_with_output()
        .map_err(|e| Failure(format!("ssh-keygen failed: {e}")))?;
    if !output.status.success() {
        return Err(Failure(format!(
            "ssh-keygen could not sign with {} ({}); check --key",
            key.display(),
            output.status
        )));
    }
    String::from_utf8(output.stdout).map_err(|_| Failure("ssh-keygen printed no signature".into()))
}

/// The key to sign with when `--key` is not given: the first of the usual OpenSSH key
/// files that exists.
pub fn default_key() -> Result<PathBuf, Failure> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    ["id_ed25519", "id_ecdsa", "id_ed25519_sk", "id_ecdsa_sk"]
        .iter()
        .map(|name| home.join(".ssh").join(name))
        .find(|path| path.exists())
        .ok_or_else(|| {
            Failure("no SSH key found in ~/.ssh (id_ed25519, id_ecdsa, id_ed25519_sk, id_ecdsa_sk): pass --key".into())
        })
}

/// Now, to the second, as `signedAt` spells it.
pub fn now_utc() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Reads every document in a YAML file (`-` for stdin).
pub fn read_documents(path: &Path) -> Result<Vec<Value>, Failure> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| Failure(format!("{} is not YAML: {e}", path.display())))?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// The documents of `kind` among `documents`, typed.
pub fn of_kind<T: DeserializeOwned>(
    documents: &[Value],
    kind: &str,
    path: &Path,
) -> Result<Vec<T>, Failure> {
    documents
        .iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| {
            serde_json::from_value(d.clone())
                .map_err(|e| Failure(format!("a {kind} in {} is malformed: {e}", path.display())))
        })
        .collect()
}

/// Checks one signed Attestation the way the operator will: against the Team that owns
/// its item (found through `md`, or the only Team given), and against `md`'s current
/// candidate when `md` is known. Returns a one-line report.
pub fn verify_report(
    attestation: &Attestation,
    md: Option<&ModelDeployment>,
    teams: &[Team],
    now: jiff::Timestamp,
) -> Result<String, Failure> {
    let name = namespaced_name(&attestation.metadata);
    let fail = |why: String| Failure(format!("attestation {name}: {why}"));
    if !attestation.is_signed() {
        return Err(fail(
            "it is not signed (no spec.signature); sign it with `kubectl accord attest --sign`"
                .into(),
        ));
    }
    let team_name = match md {
        Some(md) => {
            let team = md.item_team(&attestation.spec.item).ok_or_else(|| {
                fail(format!(
                    "item {} is not on the checklist of {}; its items are: {}",
                    attestation.spec.item,
                    namespaced_name(&md.metadata),
                    md.item_ids()
                ))
            })?;
            let fingerprint = md.spec.fingerprint();
            if attestation.spec.candidate.as_deref() != Some(fingerprint.as_str()) {
                return Err(fail(format!(
                    "it signs candidate {}, but {} now names candidate {} (version {}): sign the current one",
                    attestation
                        .spec
                        .candidate
                        .as_deref()
                        .map(short)
                        .unwrap_or("(none)"),
                    namespaced_name(&md.metadata),
                    short(&fingerprint),
                    md.spec.model.version
                )));
            }
            Some(team)
        }
        None => None,
    };
    let team = match (&team_name, teams) {
        (Some(wanted), _) => teams
            .iter()
            .find(|t| t.metadata.name.as_deref() == Some(wanted))
            .ok_or_else(|| {
                fail(format!(
                    "team {wanted}, which owns item {}, was not found",
                    attestation.spec.item
                ))
            })?,
        (None, [only]) => only,
        (None, _) => {
            return Err(fail(
                "which Team owns the item is unknown: give the ModelDeployment (--model-deployment-file or a cluster) or exactly one --team-file".into(),
            ));
        }
    };
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let verified = signing::verify(namespace, &attestation.spec, team, now)
        .map_err(|e| fail(e.to_string()))?;
    Ok(format!(
        "attestation {name}: signature verifies: {} signed item {} of {} {} (candidate {}) with key {} of team {}\n",
        verified.user,
        attestation.spec.item,
        attestation.spec.model_deployment,
        attestation.spec.version,
        attestation
            .spec
            .candidate
            .as_deref()
            .map(short)
            .unwrap_or_default(),
        verified.key_fingerprint,
        verified.team
    ))
}

/// `team` with `key` (one OpenSSH public key line) added for `user`.
pub fn add_key(
    mut team: Team,
    user: &str,
    key: &str,
    valid_before: Option<jiff::Timestamp>,
) -> Result<Team, Failure> {
    let name = team.metadata.name.clone().unwrap_or_default();
    let parsed = signing::parse_public_key(key)
        .map_err(|e| Failure(format!("the key is not usable: {e}")))?;
    if !team.spec.members.users.iter().any(|u| u == user) {
        return Err(Failure(format!(
            "{user} is not in spec.members.users of team {name}: a signing key belongs to a named member; add them first"
        )));
    }
    let fingerprint = signing::fingerprint(parsed.key_data());
    if team.spec.revoked_keys.contains(&fingerprint) {
        return Err(Failure(format!(
            "key {fingerprint} is revoked in team {name} (spec.revokedKeys): it can never count again; use a new key"
        )));
    }
    let listed = team.spec.signing_keys.iter().find(|k| {
        signing::parse_public_key(&k.key)
            .is_ok_and(|existing| existing.key_data() == parsed.key_data())
    });
    if let Some(existing) = listed {
        return Err(Failure(format!(
            "key {fingerprint} is already listed in team {name} for {}",
            existing.user
        )));
    }
    team.spec.signing_keys.push(SigningKey {
        user: user.to_string(),
        key: parsed
            .to_openssh()
            .map_err(|e| Failure(format!("cannot encode the key: {e}")))?,
        valid_before: valid_before.map(Time),
    });
    Ok(team)
}

/// A Team as a manifest to commit: no server-set metadata, no status.
pub fn manifest(team: &Team) -> Team {
    Team {
        metadata: ObjectMeta {
            name: team.metadata.name.clone(),
            labels: team.metadata.labels.clone(),
            annotations: team.metadata.annotations.clone().map(|mut a| {
                a.remove("kubectl.kubernetes.io/last-applied-configuration");
                a
            }),
            ..Default::default()
        },
        spec: team.spec.clone(),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_core::testing::{md, team};

    fn sign_off() -> SignOff {
        SignOff {
            namespace: "payments".into(),
            item: "drift".into(),
            evidence: Some("https://ci.example.com/runs/7".into()),
            comment: None,
            signer: "alice".into(),
            signed_at: "2026-11-28T10:00:00Z".into(),
        }
    }

    #[test]
    fn the_unsigned_attestation_names_the_current_candidate_and_its_signer() {
        let m = md("2.4.0");
        let att = unsigned(&m, &sign_off()).unwrap();
        assert_eq!(att.spec.candidate, Some(m.spec.fingerprint()));
        assert_eq!(att.spec.attested_by.as_deref(), Some("alice"));
        assert_eq!(
            att.metadata.name.as_deref(),
            Some("fraud-scorer-2.4.0-drift-alice-20261128100000")
        );
        let text = statement(&att).unwrap();
        assert!(
            text.starts_with("accord.dev/attestation/v1\nnamespace: payments\n"),
            "{text}"
        );
        assert!(
            text.ends_with("signer: alice\nsignedAt: 2026-11-28T10:00:00Z\n"),
            "{text}"
        );
        let mut other = sign_off();
        other.item = "vibes".into();
        assert!(
            unsigned(&m, &other)
                .unwrap_err()
                .0
                .contains("drift, latency, kpis")
        );
    }

    #[test]
    fn an_item_a_policy_adds_can_be_signed_off() {
        let mut m = md("2.4.0");
        let mut bias = sign_off();
        bias.item = "bias-reviewed".into();
        assert!(
            unsigned(&m, &bias).is_err(),
            "unknown before the operator records it"
        );
        m.status = Some(crate::api::ModelDeploymentStatus {
            checklist: vec![crate::api::ChecklistItemStatus {
                id: "bias-reviewed".into(),
                owner: "application".into(),
                team: "payments-app".into(),
                required: true,
                required_by: vec!["HandoffPolicy/prod".into()],
                ..Default::default()
            }],
            ..Default::default()
        });
        assert!(unsigned(&m, &bias).is_ok());
        assert_eq!(
            m.item_team("bias-reviewed").as_deref(),
            Some("payments-app")
        );
        assert_eq!(m.item_ids(), "drift, latency, kpis, bias-reviewed");
    }

    #[test]
    fn signing_with_ssh_keygen_verifies_and_a_changed_candidate_is_reported() {
        let dir = std::env::temp_dir().join(format!("accord-sign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("id_ed25519");
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        let public = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
        let m = md("2.4.0");
        let mut att = unsigned(&m, &sign_off()).unwrap();
        let sshsig = ssh_keygen_sign(&key, &statement(&att).unwrap()).unwrap();
        att.spec.signature.as_mut().unwrap().sshsig = sshsig;
        let data = add_key(
            team("data-platform", &["alice"], &[]),
            "alice",
            &public,
            None,
        )
        .unwrap();
        let now = "2026-11-28T10:01:00Z".parse().unwrap();
        let report = verify_report(&att, Some(&m), std::slice::from_ref(&data), now).unwrap();
        assert!(report.contains("alice signed item drift"), "{report}");
        // Without the ModelDeployment, the only Team given is the one.
        assert!(verify_report(&att, None, std::slice::from_ref(&data), now).is_ok());
        let moved = md("2.5.0");
        let err = verify_report(&att, Some(&moved), &[data], now).unwrap_err();
        assert!(err.0.contains("now names candidate"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn add_key_refuses_non_members_duplicates_revoked_and_rsa() {
        let key = std::fs::read_to_string(format!(
            "{}/../../testdata/signing/ed25519.pub",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let t = team("data-platform", &["alice"], &[]);
        assert!(
            add_key(t.clone(), "bob", &key, None)
                .unwrap_err()
                .0
                .contains("not in spec.members.users")
        );
        let once = add_key(t.clone(), "alice", &key, None).unwrap();
        assert_eq!(once.spec.signing_keys.len(), 1);
        assert!(
            add_key(once, "alice", &key, None)
                .unwrap_err()
                .0
                .contains("already listed")
        );
        let mut revoked = t.clone();
        let fingerprint = signing::fingerprint(signing::parse_public_key(&key).unwrap().key_data());
        revoked.spec.revoked_keys.push(fingerprint);
        assert!(
            add_key(revoked, "alice", &key, None)
                .unwrap_err()
                .0
                .contains("revoked")
        );
        assert!(add_key(t, "alice", "ssh-rsa AAAAB3NzaC1yc2E= x", None).is_err());
    }
}
