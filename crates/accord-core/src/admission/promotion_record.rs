//! PromotionRecord admission: a record is Accord's signed account of a promotion,
//! rollback, auto-approval or resolved Incident, so only the operator writes one (it
//! creates them; nobody changes one), and, like an Incident, only an admin deletes one
//! — besides the operator itself (which enforces `--record-retention`) and Kubernetes
//! deleting its namespace or collecting garbage.
//!
//! The one write besides the operator's: whoever may delete a record may finish its
//! deletion, i.e. remove finalizers from a record already being deleted and change
//! nothing else (the garbage collector does this after a foreground or orphan delete).

use super::{Requester, Rights, SYSTEM_DELETERS, Verdict};
use crate::api::{PromotionRecord, namespaced_name};

/// "Accord's operator (…)" for messages.
fn the_operator(rights: &Rights) -> String {
    if rights.operator_identities.is_empty() {
        "Accord's operator".to_string()
    } else {
        format!(
            "Accord's operator ({})",
            rights.operator_identities.join(", ")
        )
    }
}

/// Decides a PromotionRecord CREATE: the operator's alone.
pub fn create(_record: &PromotionRecord, requester: &Requester, rights: &Rights) -> Verdict {
    if rights.is_operator(requester) {
        return Verdict::allow();
    }
    Verdict::Deny(format!(
        "PromotionRecords are written only by {}; {} may not create one",
        the_operator(rights),
        requester.username
    ))
}

/// Decides a PromotionRecord UPDATE: the operator's alone (the CRD keeps the spec
/// immutable even for it), except that whoever may delete the record may remove
/// finalizers from it once it is being deleted.
pub fn update(
    old: &PromotionRecord,
    new: &PromotionRecord,
    requester: &Requester,
    rights: &Rights,
) -> Verdict {
    if rights.is_operator(requester)
        || (may_delete(requester, rights) && finishes_deletion(old, new))
    {
        return Verdict::allow();
    }
    Verdict::Deny(format!(
        "PromotionRecords are written only by {}; {} may not change PromotionRecord {}: it is a signed record of what happened",
        the_operator(rights),
        requester.username,
        namespaced_name(&new.metadata)
    ))
}

/// Decides a PromotionRecord DELETE: admins, the operator (retention), and Kubernetes
/// deleting its namespace (or collecting garbage), as for an Incident.
pub fn delete(record: &PromotionRecord, requester: &Requester, rights: &Rights) -> Verdict {
    if may_delete(requester, rights) {
        return Verdict::allow();
    }
    Verdict::Deny(format!(
        "{} may not delete PromotionRecord {}: PromotionRecords are Accord's signed audit records: only an admin deletes one{}",
        requester.username,
        namespaced_name(&record.metadata),
        rights.admins_hint()
    ))
}

fn may_delete(requester: &Requester, rights: &Rights) -> bool {
    rights.is_admin(requester)
        || rights.is_operator(requester)
        || SYSTEM_DELETERS.contains(&requester.username.as_str())
}

/// Whether `new` is `old`, already being deleted, with finalizers removed and nothing
/// else changed that a record holds (spec, labels, annotations, owners).
fn finishes_deletion(old: &PromotionRecord, new: &PromotionRecord) -> bool {
    let (before, after) = (&old.metadata, &new.metadata);
    let old_finalizers = before.finalizers.as_deref().unwrap_or_default();
    before.deletion_timestamp.is_some()
        && new
            .metadata
            .finalizers
            .as_deref()
            .unwrap_or_default()
            .iter()
            .all(|f| old_finalizers.contains(f))
        && old.spec == new.spec
        && before.labels == after.labels
        && before.annotations == after.annotations
        && before.owner_references == after.owner_references
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::{
        super::fixtures::{denied, user},
        *,
    };
    use crate::api::{PromotionRecordSpec, RecordAction};

    const OPERATOR: &str = "system:serviceaccount:accord-system:accord-operator";

    fn rights() -> Rights {
        Rights {
            admin_groups: vec!["accord-admins".into()],
            operator_identities: vec![OPERATOR.into()],
            ..Default::default()
        }
    }

    /// The first record of fraud-scorer's chain, as the operator writes it.
    fn record() -> PromotionRecord {
        let mut record = PromotionRecord::new(
            "fraud-scorer-1",
            PromotionRecordSpec {
                model_deployment: "fraud-scorer".into(),
                model_uid: "uid-md".into(),
                sequence: 1,
                action: RecordAction::Promoted,
                version: "2.4.0".into(),
                at: Time(jiff::Timestamp::UNIX_EPOCH),
                digest: format!("sha256:{}", "a".repeat(64)),
                envelope: Default::default(),
            },
        );
        record.metadata.namespace = Some("payments".into());
        record
    }

    /// Everyone who is not the operator, from an owner Team member to an admin.
    fn others() -> [Requester; 5] {
        [
            user("alice", &["data-platform-eng"]),
            user("bob", &["ml-platform-eng", "system:authenticated"]),
            user("root", &["accord-admins"]),
            user("kubernetes-admin", &["system:masters"]),
            user(
                "system:serviceaccount:kube-system:generic-garbage-collector",
                &[],
            ),
        ]
    }

    #[test]
    fn only_the_operator_creates_one() {
        let operator = user(OPERATOR, &[]);
        assert_eq!(create(&record(), &operator, &rights()), Verdict::allow());
        for who in others() {
            let message = denied(create(&record(), &who, &rights()));
            assert_eq!(
                message,
                format!(
                    "PromotionRecords are written only by Accord's operator ({OPERATOR}); {} may not create one",
                    who.username
                )
            );
        }
        // A user named like the operator's group is not the operator.
        denied(create(&record(), &user("mallory", &[OPERATOR]), &rights()));
    }

    #[test]
    fn nobody_but_the_operator_changes_one() {
        let old = record();
        let mut relabelled = old.clone();
        relabelled.metadata.labels = Some(BTreeMap::from([("sev".into(), "1".into())]));
        let mut respecced = old.clone();
        respecced.spec.version = "9.9.9".into();
        let mut finalized = old.clone();
        finalized.metadata.finalizers = Some(vec!["example.com/hold".into()]);
        for new in [&old, &relabelled, &respecced, &finalized] {
            assert_eq!(
                update(&old, new, &user(OPERATOR, &[]), &rights()),
                Verdict::allow()
            );
            for who in others() {
                let message = denied(update(&old, new, &who, &rights()));
                assert!(
                    message.starts_with(&format!(
                        "PromotionRecords are written only by Accord's operator ({OPERATOR}); {} may not change \
                         PromotionRecord payments/fraud-scorer-1",
                        who.username
                    )),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn whoever_may_delete_one_finishes_its_deletion_and_nothing_else() {
        // An admin's foreground delete: the API server adds a finalizer and the
        // garbage collector removes it once the dependents are gone.
        let mut deleting = record();
        deleting.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        deleting.metadata.finalizers = Some(vec!["foregroundDeletion".into()]);
        let mut done = deleting.clone();
        done.metadata.finalizers = None;
        for who in [
            user(
                "system:serviceaccount:kube-system:generic-garbage-collector",
                &[],
            ),
            user("system:kube-controller-manager", &[]),
            user("root", &["accord-admins"]),
        ] {
            assert_eq!(
                update(&deleting, &done, &who, &rights()),
                Verdict::allow(),
                "{who:?}"
            );
        }
        let bob = user("bob", &["ml-platform-eng"]);
        denied(update(&deleting, &done, &bob, &rights()));
        // Not being deleted, or anything else changed with the finalizer: refused.
        let mut live = deleting.clone();
        live.metadata.deletion_timestamp = None;
        let gc = user(
            "system:serviceaccount:kube-system:generic-garbage-collector",
            &[],
        );
        denied(update(&live, &done, &gc, &rights()));
        let mut relabelled = done.clone();
        relabelled.metadata.labels = Some(BTreeMap::from([("x".into(), "y".into())]));
        denied(update(&deleting, &relabelled, &gc, &rights()));
        let mut added = deleting.clone();
        added.metadata.finalizers = Some(vec!["foregroundDeletion".into(), "hold".into()]);
        denied(update(&deleting, &added, &gc, &rights()));
    }

    #[test]
    fn only_admins_the_operator_and_kubernetes_delete_one() {
        for who in [
            user("root", &["accord-admins"]),
            user("kubernetes-admin", &["system:masters"]),
            user(OPERATOR, &[]),
            user(
                "system:serviceaccount:kube-system:namespace-controller",
                &[],
            ),
            user(
                "system:serviceaccount:kube-system:generic-garbage-collector",
                &[],
            ),
            user("system:kube-controller-manager", &[]),
        ] {
            assert_eq!(
                delete(&record(), &who, &rights()),
                Verdict::allow(),
                "{who:?}"
            );
        }
        let message = denied(delete(
            &record(),
            &user("carol", &["payments-app"]),
            &rights(),
        ));
        assert_eq!(
            message,
            "carol may not delete PromotionRecord payments/fraud-scorer-1: PromotionRecords are Accord's signed \
             audit records: only an admin deletes one (the admin group accord-admins)"
        );
        let no_admin_group = Rights {
            admin_groups: vec![],
            ..rights()
        };
        let message = denied(delete(
            &record(),
            &user("root", &["accord-admins"]),
            &no_admin_group,
        ));
        assert!(message.ends_with("only an admin deletes one"), "{message}");
    }
}
