//! `attest --sign | --print-statement | --from-file`: a sign-off that lives in Git.
//! Builds the Attestation for the current candidate, prints the statement it signs, and
//! signs it with `ssh-keygen` (so agents and hardware keys work and Accord never reads a
//! private key). Nothing is written to the cluster; with files it works offline.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use accord_core::signing::{self, NAMESPACE};

use super::attestation_name;
use crate::{
    api::{Attestation, AttestationSignature, AttestationSpec, ModelDeployment},
    scope::{Failure, Output, Scope, of_kind, read_documents, with_type_meta},
};

/// `attest <md> --item ID --sign | --print-statement`: what to sign off and how.
pub struct SignRequest<'a> {
    pub model_deployment: &'a str,
    pub item: &'a str,
    pub evidence: Option<String>,
    pub comment: Option<String>,
    /// The key ssh-keygen signs with (default: the usual ~/.ssh keys).
    pub key: Option<PathBuf>,
    /// The signer's user name (default: whoami on the cluster).
    pub signer: Option<String>,
    /// A ModelDeployment manifest to read instead of the cluster.
    pub from_file: Option<PathBuf>,
    /// `-n`, when given.
    pub namespace: Option<String>,
    pub print_statement: bool,
    /// `--incident`: sign a root-cause analysis of this Incident (read from the cluster).
    pub incident: Option<&'a str>,
    /// `--follow-up`: with `--incident`, items the next candidate must carry.
    pub follow_ups: Vec<String>,
}

impl SignRequest<'_> {
    /// The cluster is needed for what the files and flags do not say: the
    /// ModelDeployment, who the signer is, or the Incident of a root-cause analysis.
    pub fn needs_cluster(&self) -> bool {
        self.from_file.is_none() || self.signer.is_none() || self.incident.is_some()
    }
}

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

/// `attest … --sign`: prints a signed Attestation for the current candidate, ready to
/// commit; `--print-statement` prints the bytes it signs. Nothing is written to the
/// cluster. `scope` is needed unless both the ModelDeployment and the signer are given.
pub async fn run(scope: Option<&Scope>, request: &SignRequest<'_>) -> Result<String, Failure> {
    let md = match (&request.from_file, scope) {
        (Some(path), _) => model_deployment_from_file(path, request.model_deployment)?,
        (None, Some(scope)) => scope.model_deployment(request.model_deployment).await?,
        (None, None) => {
            return Err(Failure(
                "no ModelDeployment: give --from-file or a cluster".into(),
            ));
        }
    };
    let namespace = request
        .namespace
        .clone()
        .or_else(|| md.metadata.namespace.clone())
        .or_else(|| scope.map(|s| s.namespace.clone()))
        .unwrap_or_else(|| "default".into());
    let sign_off = SignOff {
        namespace,
        item: request.item.to_string(),
        evidence: request.evidence.clone(),
        comment: request.comment.clone(),
        signer: signer(scope, request).await?,
        signed_at: now_utc(),
    };
    let mut attestation = match (request.incident, scope) {
        (Some(incident), Some(scope)) => super::rca::for_signing(
            &scope.incident(incident).await?,
            request.model_deployment,
            &sign_off,
            &request.follow_ups,
        )?,
        (Some(_), None) => return Err(Failure("--incident needs the cluster".into())),
        (None, _) => unsigned(&md, &sign_off)?,
    };
    let statement = statement(&attestation)?;
    if request.print_statement {
        return Ok(statement);
    }
    let key = match &request.key {
        Some(key) => key.clone(),
        None => default_key()?,
    };
    let sshsig = ssh_keygen_sign(&key, &statement)?;
    if let Some(signature) = attestation.spec.signature.as_mut() {
        signature.sshsig = sshsig;
    }
    let document = with_type_meta(&attestation)?;
    match scope.map(|s| s.output) {
        Some(Output::Json) => {
            Ok(serde_json::to_string_pretty(&document).expect("serializes") + "\n")
        }
        _ => serde_saphyr::to_string(&document).map_err(|e| Failure(e.to_string())),
    }
}

/// Who signs: `--signer`, else who the cluster says the caller is.
async fn signer(scope: Option<&Scope>, request: &SignRequest<'_>) -> Result<String, Failure> {
    match (&request.signer, scope) {
        (Some(signer), _) => Ok(signer.clone()),
        (None, Some(scope)) => crate::identity::whoami(&scope.client)
            .await
            .map_err(|e| scope.failure(e))?
            .ok_or_else(|| Failure("the cluster did not say who you are: pass --signer".into())),
        (None, None) => Err(Failure(
            "--signer is required without a cluster: your Kubernetes user name, as your Team lists it".into(),
        )),
    }
}

fn model_deployment_from_file(path: &Path, name: &str) -> Result<ModelDeployment, Failure> {
    let documents = read_documents(path)?;
    let mds: Vec<ModelDeployment> = of_kind(&documents, "ModelDeployment", path)?;
    mds.into_iter()
        .find(|m| m.metadata.name.as_deref() == Some(name))
        .ok_or_else(|| {
            Failure(format!(
                "{} holds no ModelDeployment named {name}",
                path.display()
            ))
        })
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
            incident: None,
            drill: None,
            follow_ups: vec![],
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
    attestation_name(md, version, &format!("{item}-{signer}-{when}"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::sign_off;
    use accord_core::testing::md;

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
}
