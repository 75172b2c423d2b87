//! `kubectl accord verify -f FILE`: checks signed Attestations against the owning
//! Team's signing keys (and the ModelDeployment's current candidate), as the operator
//! will. From files only with `--team-file`, so a GitOps repo can check before merging.

use std::path::{Path, PathBuf};

use kube::Api;

use accord_core::signing;

use crate::{
    api::{Attestation, ModelDeployment, Team, fingerprint::short, namespaced_name},
    scope::{Failure, Scope, of_kind, read_documents},
};

/// `verify -f FILE`: checks every Attestation in the file; fails when any does not verify.
pub async fn run(
    scope: Option<&Scope>,
    filename: &Path,
    team_files: &[PathBuf],
    md_file: Option<&Path>,
) -> Result<String, Failure> {
    let documents = read_documents(filename)?;
    let attestations: Vec<Attestation> = of_kind(&documents, "Attestation", filename)?;
    if attestations.is_empty() {
        return Err(Failure(format!(
            "{} holds no Attestation",
            filename.display()
        )));
    }
    let teams = teams(scope, team_files).await?;
    let file_mds: Vec<ModelDeployment> = match md_file {
        Some(path) => of_kind(&read_documents(path)?, "ModelDeployment", path)?,
        None => vec![],
    };
    let now = jiff::Timestamp::now();
    let mut report = String::new();
    let mut failures = Vec::new();
    for mut attestation in attestations {
        let namespace = attestation
            .metadata
            .namespace
            .clone()
            .or_else(|| scope.map(|s| s.namespace.clone()))
            .unwrap_or_else(|| "default".into());
        attestation.metadata.namespace = Some(namespace.clone());
        let name = &attestation.spec.model_deployment;
        let md = match (md_file, scope) {
            (Some(_), _) => file_mds
                .iter()
                .find(|m| m.metadata.name.as_ref() == Some(name))
                .cloned(),
            (None, Some(scope)) => {
                Api::<ModelDeployment>::namespaced(scope.client.clone(), &namespace)
                    .get_opt(name)
                    .await
                    .map_err(|e| scope.failure(e))?
            }
            (None, None) => None,
        };
        match verify_report(&attestation, md.as_ref(), &teams, now) {
            Ok(line) => report.push_str(&line),
            Err(Failure(why)) => failures.push(why),
        }
    }
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(Failure(format!("{report}{}", failures.join("\n"))))
    }
}

/// The Teams to check against: the cluster's when connected, else those in the files.
async fn teams(scope: Option<&Scope>, team_files: &[PathBuf]) -> Result<Vec<Team>, Failure> {
    let mut teams = Vec::new();
    for path in team_files {
        teams.extend(of_kind::<Team>(&read_documents(path)?, "Team", path)?);
    }
    if let Some(scope) = scope {
        teams = scope.teams().await?;
    }
    Ok(teams)
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
        Some(md) => Some(owning_team(attestation, md).map_err(fail)?),
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

/// The Team owning the attested item in `md`, provided the Attestation signs `md`'s
/// current candidate; otherwise why not.
fn owning_team(attestation: &Attestation, md: &ModelDeployment) -> Result<String, String> {
    let team = md.item_team(&attestation.spec.item).ok_or_else(|| {
        format!(
            "item {} is not on the checklist of {}; its items are: {}",
            attestation.spec.item,
            namespaced_name(&md.metadata),
            md.item_ids()
        )
    })?;
    let fingerprint = md.spec.fingerprint();
    if attestation.spec.candidate.as_deref() != Some(fingerprint.as_str()) {
        return Err(format!(
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
        ));
    }
    Ok(team)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use accord_core::testing::{md, team};

    use super::*;
    use crate::{
        attest::sign::{ssh_keygen_sign, statement, unsigned},
        fixtures::sign_off,
        team::add_key,
    };

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
}
