//! HandoffPolicies bind every team whose ModelDeployments they select, so only the
//! organisation decides them: members of an admin group (and cluster administrators).
//! A policy whose selectors cannot be read is refused, naming the field.

use super::{Requester, Rights, Verdict};
use crate::{api::HandoffPolicy, policy::selector_error};

/// Whether `requester` may `operation` (CREATE, UPDATE, DELETE) HandoffPolicy `name`;
/// `policy` is the object as it would be stored (absent on DELETE).
pub fn change(
    name: &str,
    operation: &str,
    policy: Option<&HandoffPolicy>,
    requester: &Requester,
    rights: &Rights,
) -> Verdict {
    if !rights.is_admin(requester) {
        let verb = match operation {
            "CREATE" => "create",
            "DELETE" => "delete",
            _ => "change",
        };
        let admins = if rights.admin_groups.is_empty() {
            "cluster administrators (system:masters)".to_string()
        } else {
            format!(
                "members of the admin group {}",
                rights.admin_groups.join(", ")
            )
        };
        return Verdict::Deny(format!(
            "{} may not {verb} HandoffPolicy {name}: a policy binds every team whose models it selects, \
             so only {admins} decide it",
            requester.username
        ));
    }
    match policy.and_then(selector_error) {
        Some(error) => Verdict::Deny(format!("HandoffPolicy {name}: {error}")),
        None => Verdict::allow(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::fixtures::user;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    fn rights() -> Rights {
        Rights {
            admin_groups: vec!["accord-admins".into()],
            ..Default::default()
        }
    }

    #[test]
    fn only_admins_create_change_or_delete_policies() {
        let policy = HandoffPolicy::new("prod", Default::default());
        for op in ["CREATE", "UPDATE", "DELETE"] {
            let verdict = change(
                "prod",
                op,
                Some(&policy),
                &user("dave", &["ml-eng"]),
                &rights(),
            );
            let Verdict::Deny(message) = verdict else {
                panic!("{op} by dave was allowed");
            };
            assert!(message.starts_with("dave may not"), "{message}");
            assert!(message.contains("accord-admins"), "{message}");
        }
        let admin = user("root", &["accord-admins"]);
        assert_eq!(
            change("prod", "UPDATE", Some(&policy), &admin, &rights()),
            Verdict::allow()
        );
        let master = user("kubernetes-admin", &["system:masters"]);
        assert_eq!(
            change("prod", "DELETE", None, &master, &rights()),
            Verdict::allow()
        );
    }

    #[test]
    fn an_unreadable_selector_is_refused_naming_the_field() {
        let mut policy = HandoffPolicy::new("prod", Default::default());
        policy.spec.namespace_selector = Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Sometimes".into(),
                values: None,
            }]),
            ..Default::default()
        });
        let admin = user("root", &["accord-admins"]);
        let Verdict::Deny(message) = change("prod", "CREATE", Some(&policy), &admin, &rights())
        else {
            panic!("allowed");
        };
        assert!(
            message.contains("spec.namespaceSelector cannot be read"),
            "{message}"
        );
    }
}
