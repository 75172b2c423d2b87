//! Signed sign-offs (pure): the statement a person signs for an Attestation, rebuilt
//! from its spec byte for byte, and its verification against the owning Team's keys.
//!
//! One implementation serves the webhook (admission, from any applier), the controller
//! (authoritative: re-checked whenever the Attestation or the Team changes) and the
//! plugin (`kubectl accord attest --sign`, `kubectl accord verify`). The signature is an
//! SSHSIG (`ssh-keygen -Y sign -n attestation@accord.dev`), so agents and hardware keys
//! work and Accord never sees a private key.

use jiff::{SignedDuration, Timestamp};
use ssh_key::{Algorithm, HashAlg, PublicKey, SshSig, public::KeyData};

use crate::api::{AttestationSpec, Team, VerifiedSigner};

/// The SSHSIG namespace of every Accord sign-off: a signature made for anything else
/// (a Git commit, a file) never counts as one.
pub const NAMESPACE: &str = "attestation@accord.dev";
/// The first line of every statement: what it is and its format version.
pub const STATEMENT_HEADER: &str = "accord.dev/attestation/v1";
/// How far ahead of this clock a `signedAt` may be (the signer's clock may run fast).
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);
/// The user-presence bit of a security key's signature flags.
const USER_PRESENT: u8 = 0x01;
/// A security-key signature ends with its flags (1 byte) and counter (4 bytes).
const SK_TRAILER: usize = 5;

/// Why a signed Attestation does not verify. Each message says exactly what failed
/// and, where it helps, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("it is not signed (spec.signature is empty)")]
    Unsigned,
    #[error("spec.{field} contains a line break; every signed field is one line of the statement")]
    LineBreak { field: &'static str },
    #[error(
        "spec.signature.signedAt {0:?} is not a UTC time to the second such as 2026-11-28T10:00:00Z"
    )]
    SignedAt(String),
    #[error("spec.signature.sshsig is not an armored SSH signature: {0}")]
    Armor(String),
    #[error(
        "the signature was made for namespace {0:?}, not {NAMESPACE:?}: sign with `kubectl accord attest --sign` \
         (or `ssh-keygen -Y sign -n {NAMESPACE}`)"
    )]
    Namespace(String),
    #[error(
        "{algorithm} signatures are not accepted: use an ed25519, ecdsa or security-key (sk-) SSH key"
    )]
    Algorithm { algorithm: String },
    #[error(
        "{signer} has no signing key in team {team} (spec.signingKeys): add their public key with `kubectl accord team add-key`"
    )]
    NoKeys { signer: String, team: String },
    #[error(
        "the signature was made with key {fingerprint}, which is not one of {signer}'s signing keys in team {team}"
    )]
    UnknownKey {
        fingerprint: String,
        signer: String,
        team: String,
    },
    #[error(
        "the signature was made with key {fingerprint}, which team {team} lists for {owner}, not for the signer {signer}"
    )]
    KeyOfAnotherUser {
        fingerprint: String,
        owner: String,
        signer: String,
        team: String,
    },
    #[error("{signer} is not a member of team {team} (spec.members.users)")]
    NotAMember { signer: String, team: String },
    #[error("key {fingerprint} of {signer} is revoked in team {team} (spec.revokedKeys)")]
    Revoked {
        fingerprint: String,
        signer: String,
        team: String,
    },
    #[error("key {fingerprint} of {signer} in team {team} expired at {valid_before} (validBefore)")]
    Expired {
        fingerprint: String,
        signer: String,
        team: String,
        valid_before: String,
    },
    #[error(
        "spec.signature.signedAt {signed_at} is not before the validBefore {valid_before} of key {fingerprint}"
    )]
    SignedAfterExpiry {
        fingerprint: String,
        signed_at: String,
        valid_before: String,
    },
    #[error("spec.signature.signedAt {0} is in the future")]
    FromTheFuture(String),
    #[error(
        "the security key did not confirm user presence for this signature (its user-presence flag is not set)"
    )]
    NoUserPresence,
    #[error(
        "the signature covers the statement with CRLF (Windows) line endings; sign the statement exactly as \
         `kubectl accord attest --print-statement` prints it, with LF line endings"
    )]
    CrlfStatement,
    #[error(
        "the signature does not match the statement rebuilt from the spec: a signed field (namespace, modelDeployment, \
         item, version, digest, candidate, evidence, signer, signedAt) differs from what was signed; \
         compare with `kubectl accord attest --print-statement`"
    )]
    Mismatch,
}

impl SignatureError {
    /// Short CamelCase reason for conditions and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unsigned => "Unsigned",
            Self::LineBreak { .. } | Self::SignedAt(_) | Self::Armor(_) => "MalformedSignature",
            Self::Namespace(_) => "WrongSignatureNamespace",
            Self::Algorithm { .. } => "UnsupportedKeyType",
            Self::NoKeys { .. } | Self::UnknownKey { .. } | Self::KeyOfAnotherUser { .. } => {
                "UnknownSigningKey"
            }
            Self::NotAMember { .. } => "NotAMember",
            Self::Revoked { .. } => "KeyRevoked",
            Self::Expired { .. } | Self::SignedAfterExpiry { .. } => "KeyExpired",
            Self::FromTheFuture(_) => "SignedInTheFuture",
            Self::NoUserPresence => "NoUserPresence",
            Self::CrlfStatement | Self::Mismatch => "SignatureMismatch",
        }
    }
}

/// The exact bytes a signer signs for an Attestation with `spec` in `namespace`: the
/// header line, then one `field: value` line per signed field (empty optional values
/// as nothing after `: `), each ending in LF.
pub fn statement(
    namespace: &str,
    spec: &AttestationSpec,
    signer: &str,
    signed_at: &str,
) -> Result<String, SignatureError> {
    let follow_ups = spec.follow_ups.join(",");
    let mut fields = vec![
        ("namespace", namespace),
        ("modelDeployment", spec.model_deployment.as_str()),
        ("item", spec.item.as_str()),
        ("version", spec.version.as_str()),
        ("digest", spec.digest.as_deref().unwrap_or_default()),
        ("candidate", spec.candidate.as_deref().unwrap_or_default()),
        ("evidence", spec.evidence.as_deref().unwrap_or_default()),
    ];
    // A root-cause analysis adds its Incident and follow-ups, as lines only when set,
    // so every statement signed before them still verifies.
    if let Some(incident) = &spec.incident {
        fields.push(("incident", incident.as_str()));
        fields.push(("followUps", follow_ups.as_str()));
    }
    // A drill review adds the run it acknowledges, the same way.
    if let Some(drill) = &spec.drill {
        fields.push(("drill", drill.as_str()));
    }
    fields.extend([("signer", signer), ("signedAt", signed_at)]);
    let mut text = format!("{STATEMENT_HEADER}\n");
    for (field, value) in fields {
        if value.contains(['\r', '\n']) {
            return Err(SignatureError::LineBreak { field });
        }
        text.push_str(field);
        text.push_str(": ");
        text.push_str(value);
        text.push('\n');
    }
    Ok(text)
}

/// The statement of a signed Attestation, from its own `spec.signature`.
pub fn signed_statement(namespace: &str, spec: &AttestationSpec) -> Result<String, SignatureError> {
    let signature = spec.signature.as_ref().ok_or(SignatureError::Unsigned)?;
    statement(namespace, spec, &signature.signer, &signature.signed_at)
}

/// `signedAt` as a timestamp; only the canonical `YYYY-MM-DDThh:mm:ssZ` form is accepted,
/// so the statement has one spelling.
pub fn parse_signed_at(text: &str) -> Result<Timestamp, SignatureError> {
    let bad = || SignatureError::SignedAt(text.to_string());
    let at: Timestamp = text.parse().map_err(|_| bad())?;
    if at.to_string() != text || at.subsec_nanosecond() != 0 {
        return Err(bad());
    }
    Ok(at)
}

/// Parses an armored SSHSIG, tolerating CRLF line endings in the armor (they are not
/// signed; a YAML file saved on Windows may carry them).
pub fn parse_sshsig(armored: &str) -> Result<SshSig, SignatureError> {
    let cleaned: String = armored.replace('\r', "");
    SshSig::from_pem(cleaned.trim()).map_err(|e| SignatureError::Armor(e.to_string()))
}

/// Parses one OpenSSH public key line, refusing the types Accord does not accept.
pub fn parse_public_key(line: &str) -> Result<PublicKey, String> {
    let key = PublicKey::from_openssh(line.trim()).map_err(|e| e.to_string())?;
    if !accepted(&key.algorithm()) {
        return Err(format!(
            "{} keys are not accepted: use an ed25519, ecdsa or security-key (sk-) SSH key",
            key.algorithm()
        ));
    }
    Ok(key)
}

/// The algorithms Accord verifies. RSA is left out: the RustCrypto `rsa` crate carries
/// an unfixed advisory (RUSTSEC-2023-0071); DSA is obsolete.
fn accepted(algorithm: &Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::Ed25519
            | Algorithm::Ecdsa { .. }
            | Algorithm::SkEd25519
            | Algorithm::SkEcdsaSha2NistP256
    )
}

/// `SHA256:…`, as `ssh-keygen -lf` prints it.
pub fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Checks an SSHSIG over `message` in `namespace` with the key it embeds: the
/// namespace, the algorithm, a security key's user presence, and the signature itself.
/// It does not say whose key it is; [`verify`] does.
pub fn check_sshsig(sig: &SshSig, namespace: &str, message: &[u8]) -> Result<(), SignatureError> {
    if sig.namespace() != namespace {
        return Err(SignatureError::Namespace(sig.namespace().to_string()));
    }
    let algorithm = sig.public_key().algorithm();
    if !accepted(&algorithm) {
        return Err(SignatureError::Algorithm {
            algorithm: algorithm.to_string(),
        });
    }
    if matches!(
        algorithm,
        Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256
    ) {
        let bytes = sig.signature_bytes();
        let flags = bytes
            .len()
            .checked_sub(SK_TRAILER)
            .map(|at| bytes[at])
            .ok_or(SignatureError::NoUserPresence)?;
        if flags & USER_PRESENT == 0 {
            return Err(SignatureError::NoUserPresence);
        }
    }
    let key = PublicKey::from(sig.public_key().clone());
    if key.verify(namespace, message, sig).is_ok() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(message);
    if !text.contains('\r')
        && key
            .verify(namespace, text.replace('\n', "\r\n").as_bytes(), sig)
            .is_ok()
    {
        return Err(SignatureError::CrlfStatement);
    }
    Err(SignatureError::Mismatch)
}

/// Verifies a signed Attestation (`spec` in `namespace`) against `team`, the Team that
/// owns its item's role, as that Team is now: the signature is over the statement
/// rebuilt from the spec, made with a key the Team lists for the signer, who is a
/// named member; the key is neither revoked nor expired, and it was not signed after
/// the key's `validBefore` or in the future.
pub fn verify(
    namespace: &str,
    spec: &AttestationSpec,
    team: &Team,
    now: Timestamp,
) -> Result<VerifiedSigner, SignatureError> {
    let signature = spec.signature.as_ref().ok_or(SignatureError::Unsigned)?;
    let statement = signed_statement(namespace, spec)?;
    let signed_at = parse_signed_at(&signature.signed_at)?;
    let sig = parse_sshsig(&signature.sshsig)?;
    let signer = signature.signer.as_str();
    let team_name = team.metadata.name.clone().unwrap_or_default();
    let used = sig.public_key();
    let key_fingerprint = fingerprint(used);
    let listed = team
        .spec
        .signing_keys
        .iter()
        .filter_map(|k| Some((k, parse_public_key(&k.key).ok()?)))
        .find(|(_, key)| key.key_data() == used);
    let entry = match listed {
        Some((entry, _)) if entry.user == signer => entry,
        Some((entry, _)) => {
            return Err(SignatureError::KeyOfAnotherUser {
                fingerprint: key_fingerprint,
                owner: entry.user.clone(),
                signer: signer.into(),
                team: team_name,
            });
        }
        None if team.spec.signing_keys.iter().any(|k| k.user == signer) => {
            return Err(SignatureError::UnknownKey {
                fingerprint: key_fingerprint,
                signer: signer.into(),
                team: team_name,
            });
        }
        None => {
            return Err(SignatureError::NoKeys {
                signer: signer.into(),
                team: team_name,
            });
        }
    };
    if !team.spec.members.users.iter().any(|u| u == signer) {
        return Err(SignatureError::NotAMember {
            signer: signer.into(),
            team: team_name,
        });
    }
    if team.spec.revoked_keys.contains(&key_fingerprint) {
        return Err(SignatureError::Revoked {
            fingerprint: key_fingerprint,
            signer: signer.into(),
            team: team_name,
        });
    }
    if let Some(valid_before) = &entry.valid_before {
        let valid_before = valid_before.0;
        if now >= valid_before {
            return Err(SignatureError::Expired {
                fingerprint: key_fingerprint,
                signer: signer.into(),
                team: team_name,
                valid_before: valid_before.to_string(),
            });
        }
        if signed_at >= valid_before {
            return Err(SignatureError::SignedAfterExpiry {
                fingerprint: key_fingerprint,
                signed_at: signature.signed_at.clone(),
                valid_before: valid_before.to_string(),
            });
        }
    }
    if signed_at > now + CLOCK_SKEW {
        return Err(SignatureError::FromTheFuture(signature.signed_at.clone()));
    }
    check_sshsig(&sig, NAMESPACE, statement.as_bytes())?;
    Ok(VerifiedSigner {
        user: signer.to_string(),
        team: team_name,
        key_fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::{
        api::{AttestationSignature, SigningKey},
        testing::team,
    };

    /// The vectors `hack/signing-vectors.sh` made with OpenSSH.
    fn vector(name: &str) -> String {
        let path = format!(
            "{}/../../testdata/signing/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const KEYS: [&str; 3] = ["ed25519", "ecdsa_p256", "ecdsa_p384"];

    fn signed_at() -> Timestamp {
        "2026-11-28T10:00:00Z".parse().unwrap()
    }

    /// The spec the vectors' statement describes, signed by `key`.
    fn spec(key: &str) -> AttestationSpec {
        AttestationSpec {
            model_deployment: "fraud-scorer".into(),
            item: "data-drift-checked".into(),
            version: "2.4.0".into(),
            digest: Some(
                "sha256:9406f2a0c7e4d1b3a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8".into(),
            ),
            candidate: Some(
                "sha256:5b1c0e3f7a9d2b4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d".into(),
            ),
            evidence: Some("https://ci.example.com/runs/1234".into()),
            comment: Some("not signed".into()),
            signature: Some(AttestationSignature {
                signer: "alice".into(),
                signed_at: "2026-11-28T10:00:00Z".into(),
                sshsig: vector(&format!("{key}.sig")),
            }),
            ..Default::default()
        }
    }

    /// data-platform with alice, who holds every vector key.
    fn data_platform() -> Team {
        let mut t = team("data-platform", &["alice", "dave"], &["data-platform-eng"]);
        t.spec.signing_keys = KEYS
            .iter()
            .map(|k| SigningKey {
                user: "alice".into(),
                key: vector(&format!("{k}.pub")),
                valid_before: None,
            })
            .collect();
        t
    }

    fn check(spec: &AttestationSpec, team: &Team) -> Result<VerifiedSigner, SignatureError> {
        verify(
            "payments",
            spec,
            team,
            signed_at() + SignedDuration::from_hours(1),
        )
    }

    fn key_fingerprint(key: &str) -> String {
        fingerprint(
            parse_public_key(&vector(&format!("{key}.pub")))
                .unwrap()
                .key_data(),
        )
    }

    #[test]
    fn the_statement_is_rebuilt_byte_for_byte() {
        let spec = spec("ed25519");
        assert_eq!(
            signed_statement("payments", &spec).unwrap(),
            vector("statement.txt")
        );
        let mut bare = spec.clone();
        bare.digest = None;
        bare.evidence = None;
        let text = signed_statement("payments", &bare).unwrap();
        assert!(
            text.contains("\ndigest: \n") && text.contains("\nevidence: \n"),
            "{text}"
        );
    }

    #[test]
    fn openssh_signatures_of_every_accepted_type_verify() {
        for key in KEYS {
            let verified =
                check(&spec(key), &data_platform()).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(
                verified,
                VerifiedSigner {
                    user: "alice".into(),
                    team: "data-platform".into(),
                    key_fingerprint: key_fingerprint(key),
                }
            );
            assert!(verified.key_fingerprint.starts_with("SHA256:"));
        }
    }

    #[test]
    fn one_byte_changed_in_any_signed_field_fails() {
        type Edit = fn(&mut AttestationSpec);
        let edits: [(&str, Edit); 8] = [
            ("modelDeployment", |s| s.model_deployment.push('x')),
            ("item", |s| s.item = "data-drift-checkee".into()),
            ("version", |s| s.version = "2.4.1".into()),
            ("digest", |s| {
                s.digest = Some(s.digest.take().unwrap().replace("c7b8", "c7b9"))
            }),
            ("candidate", |s| {
                s.candidate = Some(s.candidate.take().unwrap().replace("c8d", "c8e"))
            }),
            ("evidence", |s| {
                s.evidence = Some("https://ci.example.com/runs/1235".into())
            }),
            ("signedAt", |s| {
                s.signature.as_mut().unwrap().signed_at = "2026-11-28T10:00:01Z".into()
            }),
            ("digest removed", |s| s.digest = None),
        ];
        for key in KEYS {
            for (field, edit) in edits {
                let mut changed = spec(key);
                edit(&mut changed);
                assert_eq!(
                    check(&changed, &data_platform()),
                    Err(SignatureError::Mismatch),
                    "{key}: {field}"
                );
            }
            assert_eq!(
                verify("payment5", &spec(key), &data_platform(), signed_at()),
                Err(SignatureError::Mismatch),
                "{key}: namespace"
            );
            // Another signer: dave holds the same key here, so only the statement differs.
            let mut team = data_platform();
            for k in &mut team.spec.signing_keys {
                k.user = "dave".into();
            }
            let mut changed = spec(key);
            changed.signature.as_mut().unwrap().signer = "dave".into();
            assert_eq!(
                check(&changed, &team),
                Err(SignatureError::Mismatch),
                "{key}: signer"
            );
        }
    }

    #[test]
    fn the_comment_is_not_signed() {
        let mut changed = spec("ed25519");
        changed.comment = Some("edited after signing".into());
        assert!(check(&changed, &data_platform()).is_ok());
    }

    #[test]
    fn crlf_line_endings_fail_with_a_clear_message() {
        for key in KEYS {
            let mut crlf = spec(key);
            crlf.signature.as_mut().unwrap().sshsig = vector(&format!("{key}.crlf.sig"));
            let err = check(&crlf, &data_platform()).unwrap_err();
            assert_eq!(err, SignatureError::CrlfStatement, "{key}");
            assert!(err.to_string().contains("CRLF"), "{err}");
        }
        // CRLF in the armor itself (a YAML file saved on Windows) is harmless.
        let mut armor = spec("ed25519");
        let sig = armor.signature.as_mut().unwrap();
        sig.sshsig = sig.sshsig.replace('\n', "\r\n");
        assert!(check(&armor, &data_platform()).is_ok());
    }

    #[test]
    fn a_signature_for_another_namespace_never_counts() {
        let mut git = spec("ed25519");
        git.signature.as_mut().unwrap().sshsig = vector("ed25519.git.sig");
        let err = check(&git, &data_platform()).unwrap_err();
        assert_eq!(err, SignatureError::Namespace("git".into()));
        assert!(err.to_string().contains("attestation@accord.dev"), "{err}");
    }

    #[test]
    fn the_key_must_be_the_signers_in_the_owning_team() {
        let spec = spec("ed25519");
        let mut no_keys = data_platform();
        no_keys.spec.signing_keys.clear();
        assert!(matches!(
            check(&spec, &no_keys),
            Err(SignatureError::NoKeys { .. })
        ));

        let mut other_key = data_platform();
        other_key
            .spec
            .signing_keys
            .retain(|k| !k.key.starts_with("ssh-ed25519"));
        let err = check(&spec, &other_key).unwrap_err();
        assert_eq!(
            err,
            SignatureError::UnknownKey {
                fingerprint: key_fingerprint("ed25519"),
                signer: "alice".into(),
                team: "data-platform".into()
            }
        );

        let mut daves = data_platform();
        daves.spec.signing_keys[0].user = "dave".into();
        let err = check(&spec, &daves).unwrap_err();
        assert!(
            matches!(&err, SignatureError::KeyOfAnotherUser { owner, .. } if owner == "dave"),
            "{err}"
        );

        let mut left = data_platform();
        left.spec.members.users.retain(|u| u != "alice");
        assert_eq!(
            check(&spec, &left),
            Err(SignatureError::NotAMember {
                signer: "alice".into(),
                team: "data-platform".into()
            })
        );
    }

    #[test]
    fn revoked_expired_and_future_signatures_fail() {
        let spec = spec("ecdsa_p256");
        let mut revoked = data_platform();
        revoked
            .spec
            .revoked_keys
            .push(key_fingerprint("ecdsa_p256"));
        assert!(matches!(
            check(&spec, &revoked),
            Err(SignatureError::Revoked { .. })
        ));
        // Revoking another key leaves this one counting.
        let mut other = data_platform();
        other.spec.revoked_keys.push(key_fingerprint("ed25519"));
        assert!(check(&spec, &other).is_ok());

        let mut expiring = data_platform();
        let until = signed_at() + SignedDuration::from_mins(30);
        for k in &mut expiring.spec.signing_keys {
            k.valid_before = Some(Time(until));
        }
        let before = verify(
            "payments",
            &spec,
            &expiring,
            until - SignedDuration::from_secs(1),
        );
        assert!(before.is_ok(), "{before:?}");
        assert!(matches!(
            verify("payments", &spec, &expiring, until),
            Err(SignatureError::Expired { .. })
        ));
        let mut signed_late = data_platform();
        for k in &mut signed_late.spec.signing_keys {
            k.valid_before = Some(Time(signed_at()));
        }
        assert!(matches!(
            verify(
                "payments",
                &spec,
                &signed_late,
                signed_at() - SignedDuration::from_hours(1)
            ),
            Err(SignatureError::SignedAfterExpiry { .. })
        ));

        let ahead = signed_at() - CLOCK_SKEW - SignedDuration::from_secs(1);
        assert_eq!(
            verify("payments", &spec, &data_platform(), ahead),
            Err(SignatureError::FromTheFuture("2026-11-28T10:00:00Z".into()))
        );
        assert!(
            verify(
                "payments",
                &spec,
                &data_platform(),
                signed_at() - CLOCK_SKEW
            )
            .is_ok()
        );
    }

    #[test]
    fn malformed_signatures_say_which_field() {
        let mut bad_time = spec("ed25519");
        bad_time.signature.as_mut().unwrap().signed_at = "2026-11-28T10:00:00+00:00".into();
        assert!(matches!(
            check(&bad_time, &data_platform()),
            Err(SignatureError::SignedAt(_))
        ));
        let mut fractional = spec("ed25519");
        fractional.signature.as_mut().unwrap().signed_at = "2026-11-28T10:00:00.5Z".into();
        assert!(matches!(
            check(&fractional, &data_platform()),
            Err(SignatureError::SignedAt(_))
        ));

        let mut garbage = spec("ed25519");
        garbage.signature.as_mut().unwrap().sshsig =
            "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----".into();
        let err = check(&garbage, &data_platform()).unwrap_err();
        assert!(
            err.to_string().starts_with("spec.signature.sshsig is not"),
            "{err}"
        );

        let mut two_lines = spec("ed25519");
        two_lines.evidence = Some("https://ci/1\nsigner: mallory".into());
        assert_eq!(
            check(&two_lines, &data_platform()),
            Err(SignatureError::LineBreak { field: "evidence" })
        );
        let mut unsigned = spec("ed25519");
        unsigned.signature = None;
        assert_eq!(
            check(&unsigned, &data_platform()),
            Err(SignatureError::Unsigned)
        );
    }

    #[test]
    fn rsa_and_dsa_keys_are_refused_with_the_reason() {
        let rsa = vector("rsa.pub");
        let err = parse_public_key(&rsa).unwrap_err();
        assert!(err.contains("not accepted"), "{err}");
        assert!(parse_public_key("ssh-ed25519 notbase64!").is_err());
        for key in KEYS {
            assert!(
                parse_public_key(&vector(&format!("{key}.pub"))).is_ok(),
                "{key}"
            );
        }
    }

    #[test]
    fn an_openssh_security_key_signature_verifies_only_with_user_presence() {
        let mut team = data_platform();
        team.spec.signing_keys.push(SigningKey {
            user: "alice".into(),
            key: vector("sk_ed25519.pub"),
            valid_before: None,
        });
        let verified = check(&spec("sk_ed25519"), &team).unwrap();
        assert_eq!(verified.key_fingerprint, key_fingerprint("sk_ed25519"));
        let mut untouched = spec("sk_ed25519");
        untouched.signature.as_mut().unwrap().sshsig = vector("sk_ed25519.notouch.sig");
        assert_eq!(
            check(&untouched, &team),
            Err(SignatureError::NoUserPresence)
        );
        let mut changed = spec("sk_ed25519");
        changed.version = "2.4.1".into();
        assert_eq!(check(&changed, &team), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_security_key_signature_without_user_presence_is_refused() {
        use ssh_key::{Signature, public::SkEd25519};
        let ed = parse_public_key(&vector("ed25519.pub")).unwrap();
        let sk = KeyData::SkEd25519(SkEd25519::new(
            *ed.key_data().ed25519().unwrap(),
            "ssh:".to_string(),
        ));
        let mut bytes = vec![0u8; 64];
        bytes.extend([0x00, 0, 0, 0, 1]); // flags without user presence, counter 1
        let signature = Signature::new(Algorithm::SkEd25519, bytes).unwrap();
        let sig = SshSig::new(sk, NAMESPACE, HashAlg::Sha512, signature).unwrap();
        assert_eq!(
            check_sshsig(&sig, NAMESPACE, b"statement"),
            Err(SignatureError::NoUserPresence)
        );
    }
}
