//! Incident admission: a person opens one only for a ModelDeployment whose Team they
//! belong to, about the version that serves, and asks for a rollback only with the
//! right to request one; the webhook writes who opened it, and who acknowledged it,
//! from the request. An Incident is a record: its spec never changes, only its owner
//! or Accountable Team acknowledges it, and only an admin deletes it. The operator
//! (which opens Incidents when a guard breaches) may do anything.

use serde_json::{Value, json};

use super::{Requester, Rights, SYSTEM_DELETERS, Verdict, annotation, member_of, pointer_token};
use crate::api::{GuardAction, Incident, ModelDeployment, Role, Team, labels, namespaced_name};

/// The roles whose Team a person opens an Incident as, first match first.
const OPENING_ROLES: [Role; 3] = [Role::Platform, Role::Application, Role::Data];

/// The roles whose Teams may ask for a rollback (as they may request one on the
/// ModelDeployment).
const ROLLBACK_ROLES: [Role; 2] = [Role::Platform, Role::Application];

/// What the webhook writes into an Incident it admits.
struct Opened {
    by: String,
    as_role: Option<Role>,
    fingerprint: Option<String>,
}

/// Decides an Incident CREATE. `md` is the ModelDeployment it names (if it exists). On
/// success the patch writes `spec.openedBy` (the requester) and, for a person,
/// `spec.openedAs` (the role of their first owner Team, platform, application, data)
/// and `spec.fingerprint` (the serving version's), and the requester into an
/// acknowledgement sent with it; it holds only what differs from what was sent.
pub fn create(
    incident: &Incident,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Verdict {
    let opened = if rights.is_operator(requester) {
        Ok(Opened {
            by: requester.username.clone(),
            as_role: incident.spec.opened_as,
            fingerprint: incident.spec.fingerprint.clone(),
        })
    } else {
        check_open(incident, requester, md, team, rights)
    };
    match opened {
        Ok(opened) => Verdict::Allow(opened_patch(incident, &opened)),
        Err(message) => Verdict::Deny(message),
    }
}

/// Re-checks a created Incident after every mutation: the same decision, and nothing
/// left for the webhook to write (no later webhook changed what Accord wrote).
pub fn validate_create(
    incident: &Incident,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Verdict {
    match create(incident, requester, md, team, rights) {
        Verdict::Allow(ops) if !ops.is_empty() => Verdict::Deny(format!(
            "spec.openedBy, spec.openedAs, spec.fingerprint and the annotation {} of the Incident are written by Accord \
             from the request (here: by {}); they were changed after Accord admitted it",
            labels::ACKNOWLEDGED_BY,
            requester.username
        )),
        verdict => verdict,
    }
}

/// A person opening an Incident: an owner of the ModelDeployment (or an admin), not for
/// a guard, about the version that serves, as Alert unless they may roll back.
fn check_open(
    incident: &Incident,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Result<Opened, String> {
    let spec = &incident.spec;
    let user = &requester.username;
    let Some(md) = md else {
        let namespace = incident.metadata.namespace.as_deref().unwrap_or_default();
        return Err(format!(
            "ModelDeployment {namespace}/{} does not exist: an Incident must name a ModelDeployment in its own namespace",
            spec.model_deployment
        ));
    };
    let md_name = namespaced_name(&md.metadata);
    let owners = &md.spec.owners;
    let as_role = OPENING_ROLES
        .into_iter()
        .find(|role| member_of(team, owners.team_for(*role), requester));
    if as_role.is_none() && !rights.is_admin(requester) {
        let [data, platform, application] = owners.teams();
        return Err(format!(
            "{user} may not open an Incident on ModelDeployment {md_name}: only members of its owner teams {platform}, \
             {application} or {data}{} may; ask one of them to open it",
            rights.admins_clause()
        ));
    }
    if let Some(guard) = &spec.guard {
        return Err(format!(
            "{user} may not open an Incident for guard {guard} of ModelDeployment {md_name}: Accord opens those when the guard \
             breaches, and a person does not speak for a guard; leave spec.guard out"
        ));
    }
    let fingerprint = check_serving(incident, md)?;
    let may_roll_back = rights.is_admin(requester)
        || ROLLBACK_ROLES
            .iter()
            .any(|role| member_of(team, owners.team_for(*role), requester));
    if spec.action == GuardAction::RollBack && !may_roll_back {
        return Err(format!(
            "{user} may not open an Incident on ModelDeployment {md_name} with action RollBack: rolling back is for members \
             of its platform team {} or application team {}{}; {user} may open it as Alert only (leave spec.action out), \
             or ask one of them",
            owners.team_for(Role::Platform),
            owners.team_for(Role::Application),
            rights.admins_clause()
        ));
    }
    Ok(Opened {
        by: user.clone(),
        as_role,
        fingerprint,
    })
}

/// The Incident is about the version that serves: its fingerprint (from the last
/// history entry) when Accord has one, which `spec.fingerprint`, if given, must be.
fn check_serving(incident: &Incident, md: &ModelDeployment) -> Result<Option<String>, String> {
    let spec = &incident.spec;
    let md_name = namespaced_name(&md.metadata);
    let status = md.status.as_ref();
    let Some(serving) = status.and_then(|s| s.active_version.as_deref()) else {
        return Err(format!(
            "ModelDeployment {md_name} serves no version yet: an Incident is about the version that serves"
        ));
    };
    if spec.version != serving {
        return Err(format!(
            "version {} does not serve in ModelDeployment {md_name}; {serving} does: open the Incident for {serving} \
             (an Incident is about the version that serves)",
            spec.version
        ));
    }
    let recorded = status
        .and_then(|s| s.history.last())
        .filter(|entry| entry.version == serving)
        .map(|entry| entry.fingerprint_in(&md.spec));
    match (&spec.fingerprint, recorded) {
        (None, recorded) => Ok(recorded),
        (Some(given), Some(recorded)) if *given == recorded => Ok(Some(recorded)),
        (Some(given), Some(recorded)) => Err(format!(
            "spec.fingerprint {given} is not the fingerprint of version {serving}, which serves in ModelDeployment {md_name} \
             as {recorded}: leave spec.fingerprint out and Accord fills it in"
        )),
        (Some(given), None) => Err(format!(
            "Accord has no record of the fingerprint of version {serving} of ModelDeployment {md_name}, so it cannot confirm \
             spec.fingerprint {given}: leave spec.fingerprint out"
        )),
    }
}

/// The JSON patch operations writing `opened` where the Incident differs from it.
fn opened_patch(incident: &Incident, opened: &Opened) -> Vec<Value> {
    let spec = &incident.spec;
    let mut ops = Vec::new();
    if spec.opened_by.as_deref() != Some(opened.by.as_str()) {
        ops.push(json!({"op": "add", "path": "/spec/openedBy", "value": opened.by}));
    }
    match (spec.opened_as, opened.as_role) {
        (sent, Some(role)) if sent != Some(role) => {
            ops.push(json!({"op": "add", "path": "/spec/openedAs", "value": role}));
        }
        (Some(_), None) => ops.push(json!({"op": "remove", "path": "/spec/openedAs"})),
        _ => {}
    }
    if let Some(fingerprint) = &opened.fingerprint
        && spec.fingerprint.as_ref() != Some(fingerprint)
    {
        ops.push(json!({"op": "add", "path": "/spec/fingerprint", "value": fingerprint}));
    }
    // Opening it acknowledged (before triage, any owner Team may): as the opener.
    let key = labels::ACKNOWLEDGED_BY;
    if annotation(&incident.metadata, key).is_some_and(|sent| *sent != opened.by) {
        let path = format!("/metadata/annotations/{}", pointer_token(key));
        ops.push(json!({"op": "add", "path": path, "value": opened.by}));
    }
    ops
}

/// Decides an Incident UPDATE: the spec never changes; adding or changing the
/// acknowledgement needs its owner or Accountable Team (any owner Team of `md` before
/// Accord has named them), and the patch writes the requester into it; removing it is
/// an admin's. Other labels and annotations are anyone's who may edit.
pub fn update(
    old: &Incident,
    new: &Incident,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Verdict {
    if rights.is_operator(requester) {
        return Verdict::allow();
    }
    let user = &requester.username;
    let name = namespaced_name(&new.metadata);
    if old.spec != new.spec {
        return Verdict::Deny(format!(
            "the spec of Incident {name} is immutable: an Incident records what happened; open another one instead"
        ));
    }
    let key = labels::ACKNOWLEDGED_BY;
    let before = annotation(&old.metadata, key);
    match annotation(&new.metadata, key) {
        None if before.is_some() && !rights.is_admin(requester) => Verdict::Deny(format!(
            "{user} may not remove the acknowledgement ({key}) of Incident {name}: it is a record; only an admin removes one{}",
            rights.admins_hint()
        )),
        Some(sent) if Some(sent) != before => {
            if let Err(message) = check_acknowledger(old, requester, md, team, rights) {
                return Verdict::Deny(message);
            }
            if sent == user {
                return Verdict::allow();
            }
            let path = format!("/metadata/annotations/{}", pointer_token(key));
            Verdict::Allow(vec![json!({"op": "add", "path": path, "value": user})])
        }
        _ => Verdict::allow(),
    }
}

/// Re-checks an Incident UPDATE after every mutation: the same decision, and the
/// acknowledgement, if this write sets it, is the requester's.
pub fn validate_update(
    old: &Incident,
    new: &Incident,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Verdict {
    match update(old, new, requester, md, team, rights) {
        Verdict::Allow(ops) if !ops.is_empty() => Verdict::Deny(format!(
            "the annotation {} of Incident {} must be the requesting user {}: Accord writes it from the request, \
             and it was changed after Accord admitted it",
            labels::ACKNOWLEDGED_BY,
            namespaced_name(&new.metadata),
            requester.username
        )),
        verdict => verdict,
    }
}

/// Who answers for an Incident: its owner and Accountable Teams as the operator named
/// them, or, before it has, every owner Team of its ModelDeployment.
fn answering_teams<'a>(incident: &'a Incident, md: Option<&'a ModelDeployment>) -> Vec<&'a str> {
    let status = incident.status.as_ref();
    let mut teams: Vec<&str> = status
        .into_iter()
        .flat_map(|s| [s.owner.as_ref(), s.accountable.as_ref()])
        .flatten()
        .map(|answerer| answerer.team.as_str())
        .collect();
    if teams.is_empty()
        && let Some(md) = md
    {
        teams = md.spec.owners.teams().to_vec();
    }
    let mut distinct = Vec::new();
    for name in teams {
        if !distinct.contains(&name) {
            distinct.push(name);
        }
    }
    distinct
}

/// Acknowledging is for the Teams that answer for the Incident, and admins.
fn check_acknowledger(
    incident: &Incident,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Result<(), String> {
    let teams = answering_teams(incident, md);
    if rights.is_admin(requester) || teams.iter().any(|t| member_of(team, t, requester)) {
        return Ok(());
    }
    let who = if teams.is_empty() {
        format!(
            "its ModelDeployment {}'s owner teams (it does not exist)",
            incident.spec.model_deployment
        )
    } else {
        format!("team {}", teams.join(" or team "))
    };
    Err(format!(
        "{} may not acknowledge Incident {}: only members of {who}, who answer for it{}, may; ask one of them",
        requester.username,
        namespaced_name(&incident.metadata),
        rights.admins_clause()
    ))
}

/// An Incident is a record: only admins, the operator, and Kubernetes deleting its
/// namespace (or collecting its owner) delete one.
pub fn delete(incident: &Incident, requester: &Requester, rights: &Rights) -> Verdict {
    let user = &requester.username;
    if rights.is_admin(requester)
        || rights.is_operator(requester)
        || SYSTEM_DELETERS.contains(&user.as_str())
    {
        return Verdict::allow();
    }
    Verdict::Deny(format!(
        "{user} may not delete Incident {}: Incidents are records: only an admin deletes one{}",
        namespaced_name(&incident.metadata),
        rights.admins_hint()
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{
        super::fixtures::{allowed, apply_patch, denied, teams, user},
        *,
    };
    use crate::{
        api::{Answerer, IncidentSpec, IncidentStatus},
        testing::World,
    };

    fn rights() -> Rights {
        Rights {
            admin_groups: vec!["accord-admins".into()],
            operator_identities: vec!["accord-op".into()],
            ..Default::default()
        }
    }

    /// fraud-scorer with 2.4.0 promoted and serving.
    fn serving() -> ModelDeployment {
        World::converged().md().clone()
    }

    /// An Incident on fraud-scorer as a client sends it: a spoofed opener, no fingerprint.
    fn request(version: &str) -> Incident {
        let mut incident = Incident::new(
            "fraud-scorer-1",
            IncidentSpec {
                model_deployment: "fraud-scorer".into(),
                version: version.into(),
                summary: "chargebacks doubled since 09:00".into(),
                opened_by: Some("spoofed".into()),
                ..Default::default()
            },
        );
        incident.metadata.namespace = Some("payments".into());
        incident
    }

    fn open(incident: &Incident, who: &Requester, md: &ModelDeployment) -> Incident {
        let ops = allowed(create(incident, who, Some(md), &teams, &rights()));
        apply_patch(incident, &ops)
    }

    fn serving_fingerprint(md: &ModelDeployment) -> String {
        let history = &md.status.as_ref().unwrap().history;
        history.last().unwrap().fingerprint_in(&md.spec)
    }

    #[test]
    fn an_owner_opens_one_for_the_serving_version_as_written_by_the_webhook() {
        let md = serving();
        assert_eq!(
            md.status.as_ref().unwrap().active_version.as_deref(),
            Some("2.4.0")
        );
        let alice = user("alice", &["data-platform-eng"]);
        let stored = open(&request("2.4.0"), &alice, &md);
        assert_eq!(stored.spec.opened_by.as_deref(), Some("alice"));
        assert_eq!(stored.spec.opened_as, Some(Role::Data));
        assert_eq!(stored.spec.fingerprint, Some(serving_fingerprint(&md)));
        assert_eq!(
            validate_create(&stored, &alice, Some(&md), &teams, &rights()),
            Verdict::allow()
        );
        // Platform comes first for someone in several owner Teams.
        let dave = user("dave", &["data-platform-eng", "ml-platform-eng"]);
        assert_eq!(
            open(&request("2.4.0"), &dave, &md).spec.opened_as,
            Some(Role::Platform)
        );
        // The right fingerprint, sent, is kept; a spoofed openedAs is replaced.
        let mut sent = request("2.4.0");
        sent.spec.fingerprint = Some(serving_fingerprint(&md));
        sent.spec.opened_as = Some(Role::Platform);
        let carol = user("carol", &[]);
        let ops = allowed(create(&sent, &carol, Some(&md), &teams, &rights()));
        assert_eq!(ops.len(), 2, "openedBy and openedAs only: {ops:?}");
        assert_eq!(
            apply_patch(&sent, &ops).spec.opened_as,
            Some(Role::Application)
        );
    }

    #[test]
    fn an_acknowledgement_sent_with_it_is_the_openers() {
        let md = serving();
        let mut sent = request("2.4.0");
        sent.metadata.annotations = Some(BTreeMap::from([(
            labels::ACKNOWLEDGED_BY.to_string(),
            "carol".to_string(),
        )]));
        let bob = user("bob", &["ml-platform-eng"]);
        let stored = open(&sent, &bob, &md);
        assert_eq!(ack_of(&stored), Some("bob"));
        assert_eq!(
            validate_create(&stored, &bob, Some(&md), &teams, &rights()),
            Verdict::allow()
        );
        denied(validate_create(&sent, &bob, Some(&md), &teams, &rights()));
    }

    #[test]
    fn admins_open_one_as_no_role_and_outsiders_are_refused() {
        let md = serving();
        let mut sent = request("2.4.0");
        sent.spec.opened_as = Some(Role::Data);
        let root = user("root", &["accord-admins"]);
        let stored = open(&sent, &root, &md);
        assert_eq!(stored.spec.opened_by.as_deref(), Some("root"));
        assert_eq!(stored.spec.opened_as, None, "a spoofed openedAs is removed");
        let message = denied(create(
            &request("2.4.0"),
            &user("mallory", &["system:authenticated"]),
            Some(&md),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains(
                "mallory may not open an Incident on ModelDeployment payments/fraud-scorer: only members of its owner teams \
                 ml-platform, payments-app or data-platform, or of the admin group accord-admins may"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_person_names_no_guard_the_serving_version_and_its_fingerprint() {
        let md = serving();
        let alice = user("alice", &["data-platform-eng"]);
        let deny = |incident: &Incident, md: Option<&ModelDeployment>| {
            denied(create(incident, &alice, md, &teams, &rights()))
        };
        let mut guarded = request("2.4.0");
        guarded.spec.guard = Some("error-rate".into());
        let message = deny(&guarded, Some(&md));
        assert!(
            message.contains("a person does not speak for a guard; leave spec.guard out"),
            "{message}"
        );
        let message = deny(&request("2.3.0"), Some(&md));
        assert!(
            message.contains(
                "version 2.3.0 does not serve in ModelDeployment payments/fraud-scorer; 2.4.0 does"
            ) && message.contains("open the Incident for 2.4.0"),
            "{message}"
        );
        let mut wrong = request("2.4.0");
        wrong.spec.fingerprint = Some(format!("sha256:{}", "c".repeat(64)));
        let message = deny(&wrong, Some(&md));
        assert!(
            message.contains("is not the fingerprint of version 2.4.0")
                && message.contains("leave spec.fingerprint out"),
            "{message}"
        );
        let message = deny(&request("2.4.0"), None);
        assert!(
            message.contains("ModelDeployment payments/fraud-scorer does not exist"),
            "{message}"
        );
        let message = deny(&request("2.4.0"), Some(&crate::testing::md("2.4.0")));
        assert!(message.contains("serves no version yet"), "{message}");
    }

    #[test]
    fn only_those_who_may_roll_back_open_one_that_rolls_back() {
        let md = serving();
        let mut rollback = request("2.4.0");
        rollback.spec.action = GuardAction::RollBack;
        let message = denied(create(
            &rollback,
            &user("alice", &["data-platform-eng"]),
            Some(&md),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("alice may not open an Incident on ModelDeployment payments/fraud-scorer with action RollBack")
                && message.contains("platform team ml-platform or application team payments-app")
                && message.contains("alice may open it as Alert only"),
            "{message}"
        );
        for who in [
            user("bob", &["ml-platform-eng"]),
            user("carol", &[]),
            user("root", &["accord-admins"]),
        ] {
            allowed(create(&rollback, &who, Some(&md), &teams, &rights()));
        }
    }

    #[test]
    fn the_operator_opens_any_incident_and_is_recorded_as_its_opener() {
        let mut breach = request("9.9.9");
        breach.spec.guard = Some("error-rate".into());
        breach.spec.action = GuardAction::RollBack;
        breach.spec.opened_by = None;
        let operator = user("accord-op", &[]);
        let ops = allowed(create(&breach, &operator, None, &teams, &rights()));
        let stored = apply_patch(&breach, &ops);
        assert_eq!(stored.spec.opened_by.as_deref(), Some("accord-op"));
        assert_eq!(stored.spec.opened_as, None);
        assert_eq!(
            validate_create(&stored, &operator, None, &teams, &rights()),
            Verdict::allow()
        );
    }

    #[test]
    fn validation_catches_what_changed_after_mutation() {
        let md = serving();
        let alice = user("alice", &["data-platform-eng"]);
        let mut stored = open(&request("2.4.0"), &alice, &md);
        stored.spec.opened_by = Some("bob".into());
        let message = denied(validate_create(
            &stored,
            &alice,
            Some(&md),
            &teams,
            &rights(),
        ));
        assert!(message.contains("written by Accord"), "{message}");
        let mut stored = open(&request("2.4.0"), &alice, &md);
        stored.spec.opened_as = Some(Role::Platform);
        denied(validate_create(
            &stored,
            &alice,
            Some(&md),
            &teams,
            &rights(),
        ));
    }

    /// An Incident as stored, triaged: owned by the platform Team, the application Team
    /// accountable.
    fn triaged() -> Incident {
        let mut incident = open(&request("2.4.0"), &user("carol", &[]), &serving());
        incident.status = Some(IncidentStatus {
            owner: Some(Answerer {
                role: Role::Platform,
                team: "ml-platform".into(),
            }),
            accountable: Some(Answerer {
                role: Role::Application,
                team: "payments-app".into(),
            }),
            ..Default::default()
        });
        incident
    }

    fn acked(incident: &Incident, value: &str) -> Incident {
        let mut new = incident.clone();
        new.metadata
            .annotations
            .get_or_insert_default()
            .insert(labels::ACKNOWLEDGED_BY.into(), value.into());
        new
    }

    fn ack_of(incident: &Incident) -> Option<&str> {
        annotation(&incident.metadata, labels::ACKNOWLEDGED_BY).map(String::as_str)
    }

    #[test]
    fn the_owner_or_accountable_team_acknowledges_as_themselves() {
        let old = triaged();
        let md = serving();
        let bob = user("bob", &["ml-platform-eng"]);
        let update_as =
            |new: &Incident, who: &Requester| update(&old, new, who, Some(&md), &teams, &rights());
        let stored = apply_patch(
            &acked(&old, "someone-else"),
            &allowed(update_as(&acked(&old, "someone-else"), &bob)),
        );
        assert_eq!(ack_of(&stored), Some("bob"));
        assert_eq!(
            validate_update(&old, &stored, &bob, Some(&md), &teams, &rights()),
            Verdict::allow()
        );
        assert!(allowed(update_as(&acked(&old, "carol"), &user("carol", &[]))).is_empty());
        let message = denied(update_as(
            &acked(&old, "alice"),
            &user("alice", &["data-platform-eng"]),
        ));
        assert!(
            message.contains("alice may not acknowledge Incident payments/fraud-scorer-1: only members of team ml-platform or team payments-app"),
            "{message}"
        );
        allowed(update_as(
            &acked(&old, "root"),
            &user("root", &["accord-admins"]),
        ));
        // A later webhook writing someone else's name is caught.
        let message = denied(validate_update(
            &old,
            &acked(&old, "carol"),
            &bob,
            Some(&md),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("must be the requesting user bob"),
            "{message}"
        );
    }

    #[test]
    fn before_triage_any_owner_team_acknowledges() {
        let mut old = triaged();
        old.status = None;
        let md = serving();
        let alice = user("alice", &["data-platform-eng"]);
        let ops = allowed(update(
            &old,
            &acked(&old, "x"),
            &alice,
            Some(&md),
            &teams,
            &rights(),
        ));
        assert_eq!(ack_of(&apply_patch(&acked(&old, "x"), &ops)), Some("alice"));
        let message = denied(update(
            &old,
            &acked(&old, "x"),
            &user("mallory", &[]),
            Some(&md),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("team data-platform or team ml-platform or team payments-app"),
            "{message}"
        );
    }

    #[test]
    fn the_spec_and_the_acknowledgement_are_records() {
        let old = acked(&triaged(), "bob");
        let md = serving();
        let carol = user("carol", &[]);
        let mut changed = old.clone();
        changed.spec.summary = "nothing happened".into();
        let message = denied(update(&old, &changed, &carol, Some(&md), &teams, &rights()));
        assert!(
            message.contains("the spec of Incident payments/fraud-scorer-1 is immutable"),
            "{message}"
        );
        let mut unacked = old.clone();
        unacked.metadata.annotations = Some(BTreeMap::new());
        let message = denied(update(&old, &unacked, &carol, Some(&md), &teams, &rights()));
        assert!(
            message.contains("carol may not remove the acknowledgement")
                && message.contains("only an admin removes one"),
            "{message}"
        );
        for who in [user("root", &["accord-admins"]), user("accord-op", &[])] {
            assert_eq!(
                update(&old, &unacked, &who, Some(&md), &teams, &rights()),
                Verdict::allow()
            );
        }
        // Other labels and annotations are anyone's who may edit; the operator may
        // change anything.
        let mut labelled = old.clone();
        labelled.metadata.labels = Some(BTreeMap::from([("sev".into(), "1".into())]));
        assert_eq!(
            update(
                &old,
                &labelled,
                &user("mallory", &[]),
                Some(&md),
                &teams,
                &rights()
            ),
            Verdict::allow()
        );
        assert_eq!(
            update(
                &old,
                &changed,
                &user("accord-op", &[]),
                None,
                &teams,
                &rights()
            ),
            Verdict::allow()
        );
    }

    #[test]
    fn only_admins_the_operator_and_kubernetes_delete_one() {
        let incident = triaged();
        for who in [
            user("root", &["accord-admins"]),
            user("accord-op", &[]),
            user(
                "system:serviceaccount:kube-system:namespace-controller",
                &[],
            ),
        ] {
            assert_eq!(
                delete(&incident, &who, &rights()),
                Verdict::allow(),
                "{who:?}"
            );
        }
        let message = denied(delete(&incident, &user("carol", &[]), &rights()));
        assert_eq!(
            message,
            "carol may not delete Incident payments/fraud-scorer-1: Incidents are records: only an admin deletes one \
             (the admin group accord-admins)"
        );
    }
}
