//! Team admission: a Team may not name the groups every user or every ServiceAccount
//! has (that would make everyone an attester), and only its own members (or an admin)
//! may change or delete it — otherwise anyone allowed to edit Teams could join one.

use super::{Requester, Rights, Verdict};
use crate::{
    api::{Team, namespaced_name},
    signing,
};

/// Groups that every authenticated user, every anonymous request, or every
/// ServiceAccount has.
pub const EVERYONE_GROUPS: [&str; 3] = [
    "system:authenticated",
    "system:unauthenticated",
    "system:serviceaccounts",
];
/// The user every unauthenticated request is.
pub const ANONYMOUS_USER: &str = "system:anonymous";

/// A created or changed Team names no all-users group or the anonymous user, and its
/// signing keys are keys Accord verifies, each listed once.
pub fn validate_spec(team: &Team) -> Verdict {
    if let Err(message) = validate_keys(team) {
        return Verdict::Deny(message);
    }
    let members = &team.spec.members;
    if let Some(group) = members
        .groups
        .iter()
        .find(|g| EVERYONE_GROUPS.contains(&g.as_str()))
    {
        return Verdict::Deny(format!(
            "spec.members.groups of Team {} names {group}, which every {} has: that would let anyone attest for the team; \
             name the team's own group instead",
            namespaced_name(&team.metadata),
            if group == "system:serviceaccounts" {
                "ServiceAccount"
            } else {
                "user"
            }
        ));
    }
    if members.users.iter().any(|u| u == ANONYMOUS_USER) {
        return Verdict::Deny(format!(
            "spec.members.users of Team {} names {ANONYMOUS_USER}: unauthenticated requests cannot be members",
            namespaced_name(&team.metadata)
        ));
    }
    Verdict::allow()
}

/// Every `spec.signingKeys[].key` parses as an accepted OpenSSH public key, and no key
/// is listed twice (a key belongs to one person).
fn validate_keys(team: &Team) -> Result<(), String> {
    let name = namespaced_name(&team.metadata);
    let mut seen: Vec<(String, &str)> = Vec::new();
    for (index, entry) in team.spec.signing_keys.iter().enumerate() {
        let key = signing::parse_public_key(&entry.key).map_err(|e| {
            format!("spec.signingKeys[{index}].key of Team {name} is not a usable OpenSSH public key: {e}")
        })?;
        let fingerprint = signing::fingerprint(key.key_data());
        if let Some((_, first)) = seen.iter().find(|(f, _)| *f == fingerprint) {
            return Err(format!(
                "spec.signingKeys[{index}] of Team {name} lists key {fingerprint} again (already listed for {first}): \
                 a signing key belongs to one member"
            ));
        }
        seen.push((fingerprint, entry.user.as_str()));
    }
    Ok(())
}

/// Changing a Team's spec, or deleting it, needs membership of it (as it is before the
/// change) or the admin group. Metadata-only changes need nothing.
pub fn validate_change(
    old: &Team,
    new: Option<&Team>,
    requester: &Requester,
    rights: &Rights,
) -> Verdict {
    if let Some(new) = new {
        if let Verdict::Deny(message) = validate_spec(new) {
            return Verdict::Deny(message);
        }
        if new.spec == old.spec {
            return Verdict::allow();
        }
    }
    let member = old
        .spec
        .members
        .contains(&requester.username, &requester.groups);
    if member || rights.is_admin(requester) || rights.is_operator(requester) {
        return Verdict::allow();
    }
    let action = if new.is_some() { "change" } else { "delete" };
    Verdict::Deny(format!(
        "{} may not {action} Team {}: only its members{} may",
        requester.username,
        namespaced_name(&old.metadata),
        rights.admins_clause()
    ))
}

#[cfg(test)]
mod tests {
    use super::{
        super::fixtures::{denied, user},
        *,
    };
    use crate::testing::team;

    fn rights() -> Rights {
        Rights {
            admin_groups: vec!["accord-admins".into()],
            ..Default::default()
        }
    }

    #[test]
    fn groups_everyone_has_are_refused() {
        for group in EVERYONE_GROUPS {
            let message = denied(validate_spec(&team("open", &[], &[group])));
            assert!(
                message.contains(group) && message.contains("spec.members.groups"),
                "{message}"
            );
        }
        assert!(
            denied(validate_spec(&team("anon", &[ANONYMOUS_USER], &[])))
                .contains("spec.members.users")
        );
        assert_eq!(
            validate_spec(&team("ok", &["alice"], &["system:serviceaccounts:ml"])),
            Verdict::allow()
        );
    }

    #[test]
    fn only_members_or_admins_change_or_delete_a_team() {
        let old = team("ml-platform", &["bob"], &["ml-platform-eng"]);
        let mut joined = old.clone();
        joined.spec.members.users.push("mallory".into());
        let message = denied(validate_change(
            &old,
            Some(&joined),
            &user("mallory", &[]),
            &rights(),
        ));
        assert!(
            message.contains("mallory may not change Team ml-platform"),
            "{message}"
        );
        assert_eq!(
            validate_change(&old, Some(&joined), &user("bob", &[]), &rights()),
            Verdict::allow()
        );
        assert_eq!(
            validate_change(
                &old,
                Some(&joined),
                &user("root", &["accord-admins"]),
                &rights()
            ),
            Verdict::allow()
        );
        assert!(
            denied(validate_change(
                &old,
                None,
                &user("mallory", &[]),
                &rights()
            ))
            .contains("may not delete")
        );
        let mut relabelled = old.clone();
        relabelled.metadata.labels = Some([("tier".to_string(), "prod".to_string())].into());
        assert_eq!(
            validate_change(&old, Some(&relabelled), &user("mallory", &[]), &rights()),
            Verdict::allow()
        );
    }

    #[test]
    fn signing_keys_must_parse_be_accepted_types_and_be_listed_once() {
        use crate::testing::{ssh_key, with_key};
        let alice = ssh_key("alice");
        let ok = with_key(
            team("data-platform", &["alice", "erin"], &[]),
            "alice",
            &alice,
        );
        assert_eq!(validate_spec(&ok), Verdict::allow());
        let twice = with_key(ok.clone(), "erin", &alice);
        let message = denied(validate_spec(&twice));
        assert!(
            message.contains("spec.signingKeys[1]") && message.contains("already listed for alice"),
            "{message}"
        );
        let mut garbage = ok.clone();
        garbage.spec.signing_keys[0].key = "ssh-ed25519 AAAA-not-base64".into();
        let message = denied(validate_spec(&garbage));
        assert!(
            message.contains("spec.signingKeys[0].key of Team data-platform"),
            "{message}"
        );
    }
}
