//! Admission decisions (pure): who may create which Attestation, what the webhook
//! writes into it, and who may change a ModelDeployment's owners or request a rollback.
//! Every denial is a sentence saying who, what, which team and what to do instead.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::seal::SealKeys;
use crate::api::{
    Attestation, ChecklistItem, ModelDeployment, Role, Team,
    labels::{self, SPEC_AUTHOR},
    namespaced_name,
};

/// The authenticated requester, from the AdmissionReview's `userInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requester {
    pub username: String,
    pub groups: Vec<String>,
}

/// The webhook's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Allowed, with JSON Patch operations to apply (possibly none).
    Allow(Vec<Value>),
    /// Denied, with the message the user sees.
    Deny(String),
}

impl Verdict {
    /// Short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Allow(_) => "allowed",
            Verdict::Deny(_) => "denied",
        }
    }
}

/// Escapes a JSON Pointer token.
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a String> {
    meta.annotations.as_ref()?.get(key)
}

fn describe_members(team: &Team) -> String {
    let members = &team.spec.members;
    let mut parts = Vec::new();
    if !members.users.is_empty() {
        parts.push(format!("users {}", members.users.join(", ")));
    }
    if !members.groups.is_empty() {
        parts.push(format!("groups {}", members.groups.join(", ")));
    }
    parts.join("; ")
}

/// Decides an Attestation CREATE. `md` is the ModelDeployment it names (if it exists),
/// `team` looks a Team up by name. On success the patch overwrites `spec.attestedBy`
/// and `spec.team` from the requester, records the groups that make them a member,
/// and seals the result.
pub fn attestation_create(
    attestation: &Attestation,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    keys: &SealKeys,
) -> Verdict {
    let admitted = check_candidate(attestation, md)
        .and_then(|(md, item)| check_attester(attestation, requester, md, item, team));
    match admitted {
        Ok(membership) => Verdict::Allow(identity_patch(attestation, requester, &membership, keys)),
        Err(message) => Verdict::Deny(message),
    }
}

/// The ModelDeployment exists, and the attestation names an item on its checklist,
/// its candidate version and (when set) its digest.
fn check_candidate<'a>(
    attestation: &Attestation,
    md: Option<&'a ModelDeployment>,
) -> Result<(&'a ModelDeployment, &'a ChecklistItem), String> {
    let spec = &attestation.spec;
    let Some(md) = md else {
        let namespace = attestation
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_default();
        return Err(format!(
            "ModelDeployment {namespace}/{} does not exist: an Attestation must name a ModelDeployment in its own namespace",
            spec.model_deployment
        ));
    };
    let md_name = namespaced_name(&md.metadata);
    let Some(item) = md.spec.checklist_item(&spec.item) else {
        return Err(format!(
            "item {:?} is not on the checklist of ModelDeployment {md_name}; its items are: {}",
            spec.item,
            md.spec.checklist_ids()
        ));
    };
    let candidate = &md.spec.model.version;
    if &spec.version != candidate {
        return Err(format!(
            "version {} is not the candidate of ModelDeployment {md_name}, which is {candidate}: attest {candidate} instead",
            spec.version
        ));
    }
    if !md.spec.digest_matches(spec.digest.as_deref()) {
        return Err(format!(
            "digest {} does not match the candidate {candidate} of ModelDeployment {md_name}, which has digest {}: set spec.digest to it",
            spec.digest.as_deref().unwrap_or("(none)"),
            md.spec.model.digest.as_deref().unwrap_or_default()
        ));
    }
    Ok((md, item))
}

/// How the requester belongs to the Team that owns an item.
struct Membership {
    team: String,
    /// The requester's groups that are members (empty when a member by name).
    via_groups: Vec<String>,
}

/// The requester is a member of the Team owning `item`, and did not last change the spec.
fn check_attester(
    attestation: &Attestation,
    requester: &Requester,
    md: &ModelDeployment,
    item: &ChecklistItem,
    team: &dyn Fn(&str) -> Option<Team>,
) -> Result<Membership, String> {
    let md_name = namespaced_name(&md.metadata);
    let item_id = &attestation.spec.item;
    let user = &requester.username;
    let role: Role = item.owner;
    let team_name = md.spec.owners.team_for(role);
    let Some(owning_team) = team(team_name) else {
        return Err(format!(
            "team {team_name}, the {role} owner of ModelDeployment {md_name}, does not exist: create it before attesting {item_id}"
        ));
    };
    let members = &owning_team.spec.members;
    let by_name = members.users.iter().any(|u| u == user);
    let via_groups: Vec<String> = requester
        .groups
        .iter()
        .filter(|g| members.groups.contains(g))
        .cloned()
        .collect();
    if !by_name && via_groups.is_empty() {
        return Err(format!(
            "{user} is not a member of team {team_name}, which owns item {item_id} (the {role} role) of ModelDeployment {md_name}; \
             ask a member of {team_name} ({}) to attest it",
            describe_members(&owning_team)
        ));
    }
    if annotation(&md.metadata, labels::SPEC_AUTHOR) == Some(user) {
        return Err(format!(
            "{user} last changed the spec of ModelDeployment {md_name} and cannot attest their own change \
             (separation of duties): ask another member of team {team_name} to attest {item_id}"
        ));
    }
    Ok(Membership {
        team: team_name.to_string(),
        via_groups,
    })
}

/// The JSON patch writing who attested (from the request) and the seal over exactly
/// what will be stored.
fn identity_patch(
    attestation: &Attestation,
    requester: &Requester,
    membership: &Membership,
    keys: &SealKeys,
) -> Vec<Value> {
    let user = &requester.username;
    let mut admitted = attestation.clone();
    admitted.spec.attested_by = Some(user.clone());
    admitted.spec.team = Some(membership.team.clone());
    let mut annotations: BTreeMap<String, String> =
        admitted.metadata.annotations.clone().unwrap_or_default();
    annotations.remove(labels::SEAL);
    if membership.via_groups.is_empty() {
        annotations.remove(labels::ATTESTER_GROUPS);
    } else {
        annotations.insert(
            labels::ATTESTER_GROUPS.into(),
            membership.via_groups.join(","),
        );
    }
    admitted.metadata.annotations = Some(annotations);
    let seal = keys.seal(&admitted);
    let mut annotations = admitted.metadata.annotations.take().unwrap_or_default();
    annotations.insert(labels::SEAL.into(), seal);
    vec![
        json!({"op": "add", "path": "/spec/attestedBy", "value": user}),
        json!({"op": "add", "path": "/spec/team", "value": membership.team}),
        json!({"op": "add", "path": "/metadata/annotations", "value": annotations}),
    ]
}

/// Decides an Attestation UPDATE: the spec and Accord's annotations never change.
pub fn attestation_update(old: &Attestation, new: &Attestation) -> Verdict {
    if old.spec != new.spec {
        return Verdict::Deny(format!(
            "the spec of Attestation {} is immutable: delete it and create a new one",
            namespaced_name(&new.metadata)
        ));
    }
    for key in [labels::SEAL, labels::ATTESTER_GROUPS] {
        if annotation(&old.metadata, key) != annotation(&new.metadata, key) {
            return Verdict::Deny(format!(
                "the annotation {key} is written by Accord and cannot be changed"
            ));
        }
    }
    Verdict::Allow(vec![])
}

/// Re-checks a created Attestation after every mutation: the identity is the
/// requester's and the seal verifies (no later webhook changed what Accord sealed).
pub fn attestation_validate_create(
    attestation: &Attestation,
    requester: &Requester,
    keys: &SealKeys,
) -> Verdict {
    if attestation.spec.attested_by.as_deref() != Some(requester.username.as_str()) {
        return Verdict::Deny(format!(
            "spec.attestedBy must be the requesting user {}; it was changed after Accord admitted it",
            requester.username
        ));
    }
    match keys.verify(attestation) {
        Ok(()) => Verdict::Allow(vec![]),
        Err(reason) => Verdict::Deny(format!("the Attestation cannot be admitted: {reason}")),
    }
}

/// Keeps the spec-author annotation truthful: set to the requester on create and on
/// every spec change, restored otherwise, whatever the client sent. Works on the raw
/// objects, so a malformed one still reaches schema validation and its precise error.
pub fn model_deployment_mutate(old: Option<&Value>, new: &Value, requester: &Requester) -> Verdict {
    let author = |object: &Value| {
        object["metadata"]["annotations"][SPEC_AUTHOR]
            .as_str()
            .map(String::from)
    };
    let wanted = match old {
        Some(old) if old["spec"] == new["spec"] => author(old),
        _ => Some(requester.username.clone()),
    };
    if author(new) == wanted {
        return Verdict::Allow(vec![]);
    }
    let path = format!("/metadata/annotations/{}", pointer_token(SPEC_AUTHOR));
    let has_annotations = new["metadata"]["annotations"].is_object();
    Verdict::Allow(match (wanted, has_annotations) {
        (Some(author), true) => vec![json!({"op": "add", "path": path, "value": author})],
        (Some(author), false) => vec![
            json!({"op": "add", "path": "/metadata/annotations", "value": {SPEC_AUTHOR: author}}),
        ],
        (None, _) => vec![json!({"op": "remove", "path": path})],
    })
}

/// Decision rights on an existing ModelDeployment: changing `spec.owners` or requesting
/// a rollback needs membership of its platform or application Team (as they are before
/// the change), or of an admin group.
pub fn model_deployment_validate_update(
    old: &ModelDeployment,
    new: &ModelDeployment,
    requester: &Requester,
    team: &dyn Fn(&str) -> Option<Team>,
    admin_groups: &[String],
) -> Verdict {
    let owners_changed = old.spec.owners != new.spec.owners;
    let old_request = annotation(&old.metadata, labels::ROLLBACK_REQUESTED_AT);
    let new_request = annotation(&new.metadata, labels::ROLLBACK_REQUESTED_AT);
    let rollback_requested = new_request.is_some() && new_request != old_request;
    if let Some(value) = new_request.filter(|_| rollback_requested)
        && value.parse::<jiff::Timestamp>().is_err()
    {
        return Verdict::Deny(format!(
            "{} must be an RFC 3339 time such as 2026-11-27T10:00:00Z, not {value:?}",
            labels::ROLLBACK_REQUESTED_AT
        ));
    }
    if !owners_changed && !rollback_requested {
        return Verdict::Allow(vec![]);
    }
    let user = &requester.username;
    if requester.groups.iter().any(|g| admin_groups.contains(g)) {
        return Verdict::Allow(vec![]);
    }
    let deciders =
        [Role::Platform, Role::Application].map(|role| old.spec.owners.team_for(role).to_string());
    let allowed = deciders
        .iter()
        .any(|name| team(name).is_some_and(|t| t.spec.members.contains(user, &requester.groups)));
    if allowed {
        return Verdict::Allow(vec![]);
    }
    let action = if owners_changed {
        "change spec.owners of"
    } else {
        "request a rollback of"
    };
    let admins = if admin_groups.is_empty() {
        String::new()
    } else {
        format!(", or of the admin group {}", admin_groups.join(", "))
    };
    Verdict::Deny(format!(
        "{user} may not {action} ModelDeployment {}: only members of its platform team {} or application team {}{admins} may; ask one of them",
        namespaced_name(&old.metadata),
        deciders[0],
        deciders[1]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::testing::{md, team};

    fn teams(name: &str) -> Option<Team> {
        match name {
            "data-platform" => Some(team("data-platform", &[], &["data-platform-eng"])),
            "ml-platform" => Some(team("ml-platform", &[], &["ml-platform-eng"])),
            "payments-app" => Some(team("payments-app", &["carol"], &[])),
            _ => None,
        }
    }

    fn user(name: &str, groups: &[&str]) -> Requester {
        Requester {
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn request(item: &str, version: &str) -> Attestation {
        let mut att = crate::controller::testing::attestation("att", item, version, "spoofed", &[]);
        att.metadata.annotations = None;
        att.spec.team = Some("spoofed-team".into());
        att
    }

    fn apply_patch(att: &Attestation, ops: &[Value]) -> Attestation {
        let mut doc = serde_json::to_value(att).unwrap();
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops.to_vec())).unwrap();
        json_patch::patch(&mut doc, &patch).unwrap();
        serde_json::from_value(doc).unwrap()
    }

    fn denied(verdict: Verdict) -> String {
        match verdict {
            Verdict::Deny(message) => message,
            Verdict::Allow(ops) => panic!("allowed with {ops:?}"),
        }
    }

    #[test]
    fn member_is_admitted_with_identity_from_the_request_and_a_valid_seal() {
        let keys = SealKeys::generate("k1");
        let alice = user("alice", &["data-platform-eng", "system:authenticated"]);
        let Verdict::Allow(ops) = attestation_create(
            &request("drift", "2.4.0"),
            &alice,
            Some(&md("2.4.0")),
            &teams,
            &keys,
        ) else {
            panic!("denied")
        };
        let stored = apply_patch(&request("drift", "2.4.0"), &ops);
        assert_eq!(
            stored.spec.attested_by.as_deref(),
            Some("alice"),
            "the spoofed attestedBy is overwritten"
        );
        assert_eq!(stored.spec.team.as_deref(), Some("data-platform"));
        assert_eq!(
            stored.metadata.annotations.as_ref().unwrap()[labels::ATTESTER_GROUPS],
            "data-platform-eng"
        );
        assert_eq!(keys.verify(&stored), Ok(()));
        assert_eq!(
            attestation_validate_create(&stored, &alice, &keys),
            Verdict::Allow(vec![])
        );
    }

    #[test]
    fn member_by_user_name_records_no_groups() {
        let keys = SealKeys::generate("k1");
        let Verdict::Allow(ops) = attestation_create(
            &request("kpis", "2.4.0"),
            &user("carol", &[]),
            Some(&md("2.4.0")),
            &teams,
            &keys,
        ) else {
            panic!("denied")
        };
        let stored = apply_patch(&request("kpis", "2.4.0"), &ops);
        assert!(
            !stored
                .metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(labels::ATTESTER_GROUPS)
        );
        assert_eq!(keys.verify(&stored), Ok(()));
    }

    #[test]
    fn wrong_team_and_no_team_are_denied_naming_the_team() {
        let keys = SealKeys::generate("k1");
        let message = denied(attestation_create(
            &request("latency", "2.4.0"),
            &user("alice", &["data-platform-eng"]),
            Some(&md("2.4.0")),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("alice is not a member of team ml-platform"),
            "{message}"
        );
        assert!(message.contains("item latency"), "{message}");
        assert!(message.contains("payments/fraud-scorer"), "{message}");
        assert!(message.contains("groups ml-platform-eng"), "{message}");
        let message = denied(attestation_create(
            &request("drift", "2.4.0"),
            &user("mallory", &["system:authenticated"]),
            Some(&md("2.4.0")),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("mallory is not a member of team data-platform"),
            "{message}"
        );
    }

    #[test]
    fn stale_version_wrong_digest_unknown_item_and_missing_md_are_denied() {
        let keys = SealKeys::generate("k1");
        let alice = user("alice", &["data-platform-eng"]);
        let message = denied(attestation_create(
            &request("drift", "2.3.0"),
            &alice,
            Some(&md("2.4.0")),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("version 2.3.0 is not the candidate")
                && message.contains("attest 2.4.0"),
            "{message}"
        );
        let mut with_digest = md("2.4.0");
        with_digest.spec.model.digest = Some(format!("sha256:{}", "a".repeat(64)));
        let mut wrong = request("drift", "2.4.0");
        wrong.spec.digest = Some(format!("sha256:{}", "b".repeat(64)));
        assert!(
            denied(attestation_create(
                &wrong,
                &alice,
                Some(&with_digest),
                &teams,
                &keys
            ))
            .contains("does not match")
        );
        let message = denied(attestation_create(
            &request("vibes", "2.4.0"),
            &alice,
            Some(&md("2.4.0")),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("\"vibes\" is not on the checklist")
                && message.contains("drift, latency, kpis"),
            "{message}"
        );
        let message = denied(attestation_create(
            &request("drift", "2.4.0"),
            &alice,
            None,
            &teams,
            &keys,
        ));
        assert!(
            message.contains("payments/fraud-scorer does not exist"),
            "{message}"
        );
    }

    #[test]
    fn the_spec_author_cannot_attest_their_own_change() {
        let keys = SealKeys::generate("k1");
        let mut changed = md("2.4.0");
        changed.metadata.annotations = Some(BTreeMap::from([(
            SPEC_AUTHOR.to_string(),
            "dave".to_string(),
        )]));
        let dave = user("dave", &["data-platform-eng", "ml-platform-eng"]);
        let message = denied(attestation_create(
            &request("drift", "2.4.0"),
            &dave,
            Some(&changed),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("dave last changed the spec")
                && message.contains("separation of duties"),
            "{message}"
        );
        let alice = user("alice", &["data-platform-eng"]);
        assert!(matches!(
            attestation_create(
                &request("drift", "2.4.0"),
                &alice,
                Some(&changed),
                &teams,
                &keys
            ),
            Verdict::Allow(_)
        ));
    }

    #[test]
    fn attestation_updates_keep_spec_and_seal() {
        let old = request("drift", "2.4.0");
        let mut new = old.clone();
        new.metadata.labels = Some(BTreeMap::from([(
            "reviewed".to_string(),
            "yes".to_string(),
        )]));
        assert_eq!(attestation_update(&old, &new), Verdict::Allow(vec![]));
        new.spec.version = "2.5.0".into();
        assert!(denied(attestation_update(&old, &new)).contains("immutable"));
        let mut reseal = old.clone();
        reseal.metadata.annotations = Some(BTreeMap::from([(
            labels::SEAL.to_string(),
            "v1:k1:00".to_string(),
        )]));
        assert!(denied(attestation_update(&old, &reseal)).contains("accord.dev/seal"));
    }

    #[test]
    fn validation_catches_changes_after_mutation() {
        let keys = SealKeys::generate("k1");
        let alice = user("alice", &["data-platform-eng"]);
        let Verdict::Allow(ops) = attestation_create(
            &request("drift", "2.4.0"),
            &alice,
            Some(&md("2.4.0")),
            &teams,
            &keys,
        ) else {
            panic!()
        };
        let mut stored = apply_patch(&request("drift", "2.4.0"), &ops);
        stored.spec.comment = Some("fine".into());
        assert_eq!(
            attestation_validate_create(&stored, &alice, &keys),
            Verdict::Allow(vec![])
        );
        stored.spec.attested_by = Some("bob".into());
        assert!(
            denied(attestation_validate_create(&stored, &alice, &keys))
                .contains("requesting user alice")
        );
        stored.spec.attested_by = Some("alice".into());
        stored.spec.item = "latency".into();
        assert!(denied(attestation_validate_create(&stored, &alice, &keys)).contains("altered"));
    }

    fn authored(md: &ModelDeployment, ops: &[Value]) -> Option<String> {
        let mut doc = raw(md);
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops.to_vec())).unwrap();
        json_patch::patch(&mut doc, &patch).unwrap();
        doc["metadata"]["annotations"][SPEC_AUTHOR]
            .as_str()
            .map(String::from)
    }

    fn raw(md: &ModelDeployment) -> Value {
        serde_json::to_value(md).unwrap()
    }

    #[test]
    fn spec_author_is_recorded_and_cannot_be_forged() {
        let dave = user("dave", &[]);
        let mut created = md("2.4.0");
        created.metadata.annotations = Some(BTreeMap::from([(
            SPEC_AUTHOR.to_string(),
            "alice".to_string(),
        )]));
        let Verdict::Allow(ops) = model_deployment_mutate(None, &raw(&created), &dave) else {
            panic!()
        };
        assert_eq!(
            authored(&created, &ops).as_deref(),
            Some("dave"),
            "forged on create"
        );

        let mut old = md("2.4.0");
        old.metadata.annotations = Some(BTreeMap::from([(
            SPEC_AUTHOR.to_string(),
            "dave".to_string(),
        )]));
        let mut relabel = old.clone();
        relabel.metadata.annotations = Some(BTreeMap::from([(
            SPEC_AUTHOR.to_string(),
            "alice".to_string(),
        )]));
        let Verdict::Allow(ops) =
            model_deployment_mutate(Some(&raw(&old)), &raw(&relabel), &user("mallory", &[]))
        else {
            panic!()
        };
        assert_eq!(
            authored(&relabel, &ops).as_deref(),
            Some("dave"),
            "restored when spec is unchanged"
        );

        let mut bumped = old.clone();
        bumped.spec.model.version = "2.5.0".into();
        let Verdict::Allow(ops) =
            model_deployment_mutate(Some(&raw(&old)), &raw(&bumped), &user("bob", &[]))
        else {
            panic!()
        };
        assert_eq!(authored(&bumped, &ops).as_deref(), Some("bob"));

        let Verdict::Allow(ops) =
            model_deployment_mutate(Some(&raw(&old)), &raw(&old), &user("bob", &[]))
        else {
            panic!()
        };
        assert!(ops.is_empty(), "nothing to change on a no-op update");

        let malformed = json!({"metadata": {"name": "x"}, "spec": {"owners": 7}});
        let Verdict::Allow(ops) = model_deployment_mutate(None, &malformed, &dave) else {
            panic!()
        };
        assert_eq!(
            ops.len(),
            1,
            "a malformed object is annotated and left to schema validation"
        );
    }

    #[test]
    fn owners_and_rollbacks_need_platform_or_application_membership() {
        let old = md("2.4.0");
        let mut new = old.clone();
        new.spec.owners.data = "someone-else".into();
        let admins = vec!["accord-admins".to_string()];
        let message = denied(model_deployment_validate_update(
            &old,
            &new,
            &user("alice", &["data-platform-eng"]),
            &teams,
            &admins,
        ));
        assert!(
            message.contains("alice may not change spec.owners")
                && message.contains("ml-platform")
                && message.contains("accord-admins"),
            "{message}"
        );
        assert_eq!(
            model_deployment_validate_update(
                &old,
                &new,
                &user("bob", &["ml-platform-eng"]),
                &teams,
                &admins
            ),
            Verdict::Allow(vec![])
        );
        assert_eq!(
            model_deployment_validate_update(&old, &new, &user("carol", &[]), &teams, &admins),
            Verdict::Allow(vec![])
        );
        assert_eq!(
            model_deployment_validate_update(
                &old,
                &new,
                &user("root", &["accord-admins"]),
                &teams,
                &admins
            ),
            Verdict::Allow(vec![])
        );

        let mut rollback = old.clone();
        rollback.metadata.annotations = Some(BTreeMap::from([(
            labels::ROLLBACK_REQUESTED_AT.to_string(),
            "2026-11-27T10:00:00Z".to_string(),
        )]));
        let message = denied(model_deployment_validate_update(
            &old,
            &rollback,
            &user("mallory", &[]),
            &teams,
            &admins,
        ));
        assert!(
            message.contains("mallory may not request a rollback"),
            "{message}"
        );
        assert_eq!(
            model_deployment_validate_update(
                &old,
                &rollback,
                &user("bob", &["ml-platform-eng"]),
                &teams,
                &admins
            ),
            Verdict::Allow(vec![])
        );
        // Keeping an existing request is no new request.
        assert_eq!(
            model_deployment_validate_update(
                &rollback,
                &rollback,
                &user("mallory", &[]),
                &teams,
                &admins
            ),
            Verdict::Allow(vec![])
        );
        let mut garbage = old.clone();
        garbage.metadata.annotations = Some(BTreeMap::from([(
            labels::ROLLBACK_REQUESTED_AT.to_string(),
            "now".to_string(),
        )]));
        assert!(
            denied(model_deployment_validate_update(
                &old,
                &garbage,
                &user("bob", &["ml-platform-eng"]),
                &teams,
                &admins
            ))
            .contains("RFC 3339")
        );
        // Other changes need no special rights.
        let mut bump = old.clone();
        bump.spec.model.version = "2.5.0".into();
        assert_eq!(
            model_deployment_validate_update(&old, &bump, &user("mallory", &[]), &teams, &admins),
            Verdict::Allow(vec![])
        );
    }
}
