//! Admission decisions (pure): who may create, change or delete which Accord object,
//! and what the webhook writes into it. Every denial is a sentence saying who, what,
//! which team and what to do instead.
//!
//! - [`attestation`]: identity and seal on create; immutable after; who may withdraw;
//!   root-cause analyses signed off by an Incident's Accountable Team.
//! - [`model_deployment`]: who introduced the candidate (sealed); decision rights over
//!   owners, the checklist, the rollback plan, monitoring and rollback requests.
//! - [`incident`]: who opens one (and as what), who acknowledges it; records after.
//! - [`promotion_record`]: written only by the operator; only admins delete one.
//! - [`rollback_drill`]: a drill is its model's platform Team's; the target, schedule
//!   and time zone the schema cannot judge; who asked for a run.
//! - [`team`]: no all-users groups; changing a Team needs its membership.
//! - here: status is the operator's, and so is its field manager name.

pub mod attestation;
pub mod handoff_policy;
pub mod incident;
pub mod model_deployment;
pub mod promotion_record;
pub mod review;
pub mod rollback_drill;
pub mod team;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::api::{FIELD_MANAGER, Team};

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

    /// Allowed with no changes.
    pub fn allow() -> Self {
        Verdict::Allow(vec![])
    }
}

/// Identities Kubernetes itself deletes objects as: the namespace controller (when a
/// namespace is deleted) and the garbage collector.
pub const SYSTEM_DELETERS: [&str; 3] = [
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
    "system:kube-controller-manager",
];

/// The group Kubernetes gives cluster administrators.
pub const CLUSTER_ADMINS: &str = "system:masters";

/// Who holds rights beyond Team membership.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rights {
    /// Groups that may make any decision on any ModelDeployment or Team.
    pub admin_groups: Vec<String>,
    /// The operator's own identities: only they write status, and only they use the
    /// field manager `accord`.
    pub operator_identities: Vec<String>,
    /// Identities GitOps controllers apply Git as (Flux, Argo CD): an Attestation they
    /// apply must be signed, since they are not the person signing off; they may prune
    /// (withdraw) signed ones.
    pub gitops_identities: Vec<String>,
}

impl Rights {
    /// Members of an admin group, and cluster administrators (`system:masters`, who
    /// could remove the webhook anyway).
    pub fn is_admin(&self, requester: &Requester) -> bool {
        requester
            .groups
            .iter()
            .any(|g| g == CLUSTER_ADMINS || self.admin_groups.contains(g))
    }

    pub fn is_operator(&self, requester: &Requester) -> bool {
        self.operator_identities.contains(&requester.username)
    }

    pub fn is_gitops(&self, requester: &Requester) -> bool {
        self.gitops_identities.contains(&requester.username)
    }

    /// ", or of the admin group …" for messages, when there is one.
    fn admins_clause(&self) -> String {
        if self.admin_groups.is_empty() {
            String::new()
        } else {
            format!(", or of the admin group {}", self.admin_groups.join(", "))
        }
    }

    /// " (the admin group …)" for messages, when there is one.
    fn admins_hint(&self) -> String {
        if self.admin_groups.is_empty() {
            String::new()
        } else {
            format!(" (the admin group {})", self.admin_groups.join(", "))
        }
    }
}

/// Writes to the `status` subresource of Accord's kinds are the operator's alone.
pub fn status_write(requester: &Requester, kind: &str, name: &str, rights: &Rights) -> Verdict {
    if rights.is_operator(requester) {
        return Verdict::allow();
    }
    Verdict::Deny(format!(
        "{} may not write the status of {kind} {name}: status is written only by the Accord operator ({})",
        requester.username,
        rights.operator_identities.join(", ")
    ))
}

/// A client using Accord's field manager name could take over the fields Accord
/// applies (and make its next apply drop or fight over them): only the operator may.
pub fn field_manager(
    requester: &Requester,
    options: Option<&Value>,
    rights: &Rights,
) -> Option<Verdict> {
    let manager = options?.get("fieldManager")?.as_str()?;
    let borrowed = manager.eq_ignore_ascii_case(FIELD_MANAGER)
        || manager.to_ascii_lowercase().starts_with("accord-");
    (borrowed && !rights.is_operator(requester)).then(|| {
        Verdict::Deny(format!(
            "{} may not write with field manager {manager:?}: it is the Accord operator's; use your own (kubectl uses \"kubectl\")",
            requester.username
        ))
    })
}

/// Escapes a JSON Pointer token.
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a String> {
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

/// Whether `requester` is a member of the Team `name` as it is now.
fn member_of(team: &dyn Fn(&str) -> Option<Team>, name: &str, requester: &Requester) -> bool {
    team(name).is_some_and(|t| {
        t.spec
            .members
            .contains(&requester.username, &requester.groups)
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use serde_json::Value;

    use super::{Requester, Verdict};
    use crate::{
        api::{Attestation, Team},
        testing::team,
    };

    pub fn teams(name: &str) -> Option<Team> {
        match name {
            "data-platform" => Some(team("data-platform", &[], &["data-platform-eng"])),
            "ml-platform" => Some(team("ml-platform", &[], &["ml-platform-eng"])),
            "payments-app" => Some(team("payments-app", &["carol"], &[])),
            _ => None,
        }
    }

    pub fn user(name: &str, groups: &[&str]) -> Requester {
        Requester {
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    pub fn apply_patch<T: serde::Serialize + serde::de::DeserializeOwned>(
        object: &T,
        ops: &[Value],
    ) -> T {
        let mut doc = serde_json::to_value(object).unwrap();
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops.to_vec())).unwrap();
        json_patch::patch(&mut doc, &patch).unwrap();
        serde_json::from_value(doc).unwrap()
    }

    pub fn denied(verdict: Verdict) -> String {
        match verdict {
            Verdict::Deny(message) => message,
            Verdict::Allow(ops) => panic!("allowed with {ops:?}"),
        }
    }

    pub fn allowed(verdict: Verdict) -> Vec<Value> {
        match verdict {
            Verdict::Allow(ops) => ops,
            Verdict::Deny(message) => panic!("denied: {message}"),
        }
    }

    /// An Attestation as a client sends it: spoofed identity, no seal.
    pub fn request(item: &str, version: &str) -> Attestation {
        let mut att = crate::testing::attestation("att", item, version, "spoofed", &[]);
        att.metadata.annotations = None;
        att.spec.team = Some("spoofed-team".into());
        att.spec.candidate = None;
        att
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{fixtures::*, *};

    fn rights() -> Rights {
        Rights {
            admin_groups: vec!["accord-admins".into()],
            operator_identities: vec!["system:serviceaccount:accord-system:accord-operator".into()],
            ..Default::default()
        }
    }

    #[test]
    fn only_the_operator_writes_status() {
        let operator = user("system:serviceaccount:accord-system:accord-operator", &[]);
        assert_eq!(
            status_write(&operator, "ModelDeployment", "p/x", &rights()),
            Verdict::allow()
        );
        let message = denied(status_write(
            &user("root", &["accord-admins"]),
            "ModelDeployment",
            "p/x",
            &rights(),
        ));
        assert!(
            message.contains("root may not write the status of ModelDeployment p/x"),
            "{message}"
        );
    }

    #[test]
    fn nobody_else_borrows_the_field_manager() {
        let mallory = user("mallory", &[]);
        for manager in ["accord", "Accord", "accord-labels"] {
            let options = json!({"fieldManager": manager});
            let message =
                denied(field_manager(&mallory, Some(&options), &rights()).expect("denied"));
            assert!(message.contains("field manager"), "{message}");
        }
        let kubectl = json!({"fieldManager": "kubectl"});
        assert!(field_manager(&mallory, Some(&kubectl), &rights()).is_none());
        let accordion = json!({"fieldManager": "accordion"});
        assert!(field_manager(&mallory, Some(&accordion), &rights()).is_none());
        let operator = user("system:serviceaccount:accord-system:accord-operator", &[]);
        assert!(
            field_manager(
                &operator,
                Some(&json!({"fieldManager": "accord"})),
                &rights()
            )
            .is_none()
        );
    }
}
