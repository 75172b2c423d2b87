//! `kubectl accord team add-key TEAM --user U --key FILE`: the Team manifest with a
//! member's SSH public key added to `spec.signingKeys`, printed (or written back to the
//! file) for review. Never written to the cluster: a Team change is a reviewed decision.

use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;

use accord_core::signing;

use crate::{
    api::{SigningKey, Team},
    scope::{Failure, Scope, of_kind, read_documents, with_type_meta},
};

/// `team add-key TEAM --user U --key FILE`.
pub struct AddKey<'a> {
    pub team: &'a str,
    pub user: &'a str,
    pub key: &'a Path,
    pub valid_before: Option<jiff::Timestamp>,
    /// A Team manifest to read (and, with `in_place`, write) instead of the cluster.
    pub filename: Option<&'a Path>,
    pub in_place: bool,
}

/// Prints (or writes back) the Team manifest with the key added. Never writes to the
/// cluster: a Team change is a decision for review (Git, or `kubectl apply`).
pub async fn run_add_key(scope: Option<&Scope>, request: &AddKey<'_>) -> Result<String, Failure> {
    let key = std::fs::read_to_string(request.key)
        .map_err(|e| Failure(format!("cannot read {}: {e}", request.key.display())))?;
    let team = match (request.filename, scope) {
        (Some(path), _) => of_kind::<Team>(&read_documents(path)?, "Team", path)?
            .into_iter()
            .find(|t| t.metadata.name.as_deref() == Some(request.team))
            .ok_or_else(|| {
                Failure(format!(
                    "{} holds no Team named {}",
                    path.display(),
                    request.team
                ))
            })?,
        (None, Some(scope)) => Api::<Team>::all(scope.client.clone())
            .get_opt(request.team)
            .await
            .map_err(|e| scope.failure(e))?
            .ok_or_else(|| {
                Failure(format!(
                    "Team {} not found; list them with: kubectl get teams",
                    request.team
                ))
            })?,
        (None, None) => return Err(Failure("no Team: give -f or a cluster".into())),
    };
    let updated = add_key(team, request.user, key.trim(), request.valid_before)?;
    let text = serde_saphyr::to_string(&with_type_meta(&manifest(&updated))?)
        .map_err(|e| Failure(e.to_string()))?;
    match (request.in_place, request.filename) {
        (true, Some(path)) => write_back(path, &text, request),
        _ => Ok(text),
    }
}

/// `--in-place`: replaces the file, which must hold only the Team.
fn write_back(path: &Path, text: &str, request: &AddKey<'_>) -> Result<String, Failure> {
    let documents = read_documents(path)?;
    if documents.len() != 1 {
        return Err(Failure(format!(
            "{} holds {} documents; --in-place rewrites a file holding only the Team: print it instead",
            path.display(),
            documents.len()
        )));
    }
    std::fs::write(path, text)
        .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?;
    Ok(format!(
        "added the key of {} to team {} in {}\n",
        request.user,
        request.team,
        path.display()
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
    use accord_core::testing::team;

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
