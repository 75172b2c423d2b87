//! ModelDeployment admission: who introduced the candidate (recorded and sealed by the
//! webhook on every write, so nobody can name someone else), and decision rights over
//! what only the owning teams may loosen or change.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Requester, Rights, Verdict, annotation, member_of, pointer_token};
use crate::{
    api::{
        Guard, ModelDeployment, ModelDeploymentSpec, Role, Team, fingerprint::privileges, labels,
        namespaced_name,
    },
    guards,
    seal::{SealKeys, candidate_author_record},
    timing::parse_duration,
};

/// The candidate fingerprint of a raw object's spec, when it parses.
fn fingerprint_of(object: &Value) -> Option<String> {
    serde_json::from_value::<ModelDeploymentSpec>(object["spec"].clone())
        .ok()
        .map(|spec| spec.fingerprint())
}

fn raw_annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

/// JSON patch operations setting (or removing) annotations of `object`.
fn annotation_ops(object: &Value, wanted: &BTreeMap<&str, Option<String>>) -> Vec<Value> {
    let changes: Vec<(&str, &Option<String>)> = wanted
        .iter()
        .filter(|(key, value)| raw_annotation(object, key).map(String::from) != **value)
        .map(|(key, value)| (*key, value))
        .collect();
    if changes.is_empty() {
        return vec![];
    }
    if !object["metadata"]["annotations"].is_object() {
        let all: BTreeMap<&str, &String> = changes
            .iter()
            .filter_map(|(key, value)| Some((*key, value.as_ref()?)))
            .collect();
        return vec![json!({"op": "add", "path": "/metadata/annotations", "value": all})];
    }
    changes
        .into_iter()
        .map(|(key, value)| {
            let path = format!("/metadata/annotations/{}", pointer_token(key));
            match value {
                Some(value) => json!({"op": "add", "path": path, "value": value}),
                None => json!({"op": "remove", "path": path}),
            }
        })
        .collect()
}

/// Keeps Accord's records truthful on every CREATE and UPDATE, whatever the client
/// sent: the spec author (who last changed the spec) and the candidate author (who
/// introduced the candidate fingerprint, sealed). Works on the raw objects, so a
/// malformed one still reaches schema validation and its precise error.
pub fn mutate(
    old: Option<&Value>,
    new: &Value,
    namespace: &str,
    requester: &Requester,
    rights: &Rights,
    keys: &SealKeys,
) -> Verdict {
    if old.is_none()
        && new["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    {
        return Verdict::Deny(
            "ModelDeployments need an explicit metadata.name (generateName is not supported): it names the managed Deployment"
                .into(),
        );
    }
    let author = |object: &Value| raw_annotation(object, labels::SPEC_AUTHOR).map(String::from);
    let spec_author = match old {
        Some(old) if old["spec"] == new["spec"] => author(old),
        _ => Some(requester.username.clone()),
    };
    let mut wanted = BTreeMap::from([(labels::SPEC_AUTHOR, spec_author)]);
    if let Some(fingerprint) = fingerprint_of(new) {
        let name = new["metadata"]["name"].as_str().unwrap_or_default();
        let kept = old.and_then(|old| {
            let user = raw_annotation(old, labels::CANDIDATE_AUTHOR)?;
            let seal = raw_annotation(old, labels::CANDIDATE_AUTHOR_SEAL)?;
            keys.verify_candidate_author(seal, namespace, name, &fingerprint, user)
                .is_ok()
                .then(|| (user.to_string(), seal.to_string()))
        });
        // A new candidate (or one nobody is recorded for) is the requester's — unless
        // the requester is the operator labelling it: that would vouch for nobody.
        let record = match kept {
            Some(kept) => Some(kept),
            None if rights.is_operator(requester) && old.is_some() => None,
            None => {
                let user = requester.username.clone();
                let seal = keys.seal_candidate_author(namespace, name, &fingerprint, &user);
                Some((user, seal))
            }
        };
        let old_value = |key| old.and_then(|o| raw_annotation(o, key)).map(String::from);
        let (user, seal) = match record {
            Some((user, seal)) => (Some(user), Some(seal)),
            None => (
                old_value(labels::CANDIDATE_AUTHOR),
                old_value(labels::CANDIDATE_AUTHOR_SEAL),
            ),
        };
        wanted.insert(labels::CANDIDATE_AUTHOR, user);
        wanted.insert(labels::CANDIDATE_AUTHOR_SEAL, seal);
    }
    Verdict::Allow(annotation_ops(new, &wanted))
}

/// After every mutation of an UPDATE: the candidate-author record is the one this
/// webhook wrote. (A create is not validated again: the gate verifies the record's
/// seal, so a record altered after admission only blocks its own candidate.)
pub fn validate_record(
    old: Option<&ModelDeployment>,
    new: &ModelDeployment,
    requester: &Requester,
    rights: &Rights,
    keys: &SealKeys,
) -> Verdict {
    let fingerprint = new.spec.fingerprint();
    let new_record = candidate_author_record(new);
    let unchanged = old.is_some_and(|old| {
        old.spec.fingerprint() == fingerprint && candidate_author_record(old) == new_record
    });
    let recorded_for_requester = new_record.is_some_and(|(user, _)| *user == requester.username);
    let verifies = new_record.is_some_and(|(user, seal)| {
        let namespace = new.metadata.namespace.as_deref().unwrap_or_default();
        let name = new.metadata.name.as_deref().unwrap_or_default();
        keys.verify_candidate_author(seal, namespace, name, &fingerprint, user)
            .is_ok()
    });
    if (verifies && (unchanged || recorded_for_requester))
        || (unchanged && rights.is_operator(requester))
    {
        return Verdict::allow();
    }
    Verdict::Deny(format!(
        "the annotations {} and {} are written by Accord and were changed after it admitted this write",
        labels::CANDIDATE_AUTHOR,
        labels::CANDIDATE_AUTHOR_SEAL
    ))
}

/// A decision only some Teams may take, for messages.
struct DecisionRight<'a> {
    /// "remove item drift from", "change spec.owners of", …
    action: String,
    /// Teams (any of which, or all of which) may take it.
    teams: Vec<&'a str>,
    /// Whether the requester must belong to every Team (an item moved between roles).
    all: bool,
}

impl DecisionRight<'_> {
    fn allowed(&self, requester: &Requester, team: &dyn Fn(&str) -> Option<Team>) -> bool {
        let member = |t: &&str| member_of(team, t, requester);
        if self.all {
            self.teams.iter().all(member)
        } else {
            self.teams.iter().any(member)
        }
    }
}

/// The decisions an update takes that need more than the right to edit: changing
/// owners, requesting a rollback, loosening the checklist, changing the rollback plan
/// or what is monitored.
fn decisions<'a>(old: &'a ModelDeployment, new: &ModelDeployment) -> Vec<DecisionRight<'a>> {
    let owners = &old.spec.owners;
    let team_of = |role: Role| owners.team_for(role);
    let deciders = Role::ROLLBACK_DECIDERS.map(team_of).to_vec();
    let mut decisions = Vec::new();
    if old.spec.owners != new.spec.owners {
        decisions.push(DecisionRight {
            action: "change spec.owners of".into(),
            teams: deciders.clone(),
            all: false,
        });
    }
    let old_request = annotation(&old.metadata, labels::ROLLBACK_REQUESTED_AT);
    let new_request = annotation(&new.metadata, labels::ROLLBACK_REQUESTED_AT);
    if new_request.is_some() && new_request != old_request {
        decisions.push(DecisionRight {
            action: "request a rollback of".into(),
            teams: deciders,
            all: false,
        });
    }
    decisions.extend(checklist_decisions(old, new));
    if old.spec.rollback != new.spec.rollback {
        decisions.push(DecisionRight {
            action: "change spec.rollback of".into(),
            teams: vec![team_of(Role::Platform)],
            all: false,
        });
    }
    if old.spec.rollout != new.spec.rollout {
        decisions.push(DecisionRight {
            action: "change spec.rollout (the canary and its analysis) of".into(),
            teams: vec![team_of(Role::Platform)],
            all: false,
        });
    }
    decisions.extend(promotion_decisions(old, new));
    if old.spec.monitoring != new.spec.monitoring {
        decisions.push(monitoring_decision(old, new));
    }
    if privileges(&old.spec.serving) != privileges(&new.spec.serving) {
        decisions.push(DecisionRight {
            action: "change what the pods may do (ServiceAccount, security contexts, host access in spec.serving) of".into(),
            teams: vec![team_of(Role::Platform)],
            all: false,
        });
    }
    decisions
}

/// Changing what is watched while a version serves: tightening it (every guard kept,
/// none relaxed, no later escalation) only watches more, so any owner Team may; any
/// other change is the platform Team's, like the canary.
fn monitoring_decision<'a>(old: &'a ModelDeployment, new: &ModelDeployment) -> DecisionRight<'a> {
    let owners = &old.spec.owners;
    if monitoring_tightens(old, new) {
        DecisionRight {
            action: "tighten spec.monitoring (add a guard or tighten one) of".into(),
            teams: owners.teams().to_vec(),
            all: false,
        }
    } else {
        DecisionRight {
            action: "change spec.monitoring (remove or loosen a guard, change its query, owner, action or interval, \
                     the Prometheus address, or escalate later) of"
                .into(),
            teams: vec![owners.team_for(Role::Platform)],
            all: false,
        }
    }
}

/// Whether `new` watches at least what `old` does, as closely: the same Prometheus,
/// every old guard kept and none loosened, escalation no later (new guards may come).
fn monitoring_tightens(old: &ModelDeployment, new: &ModelDeployment) -> bool {
    let Some(after) = &new.spec.monitoring else {
        return false;
    };
    let Some(before) = &old.spec.monitoring else {
        return true;
    };
    before.address == after.address
        && guards::escalate_after(new) <= guards::escalate_after(old)
        && before.guards.iter().all(|guard| {
            after
                .guards
                .iter()
                .find(|g| g.name == guard.name)
                .is_some_and(|g| guard_tightens(guard, g))
        })
}

/// Whether `after` is `before` or stricter: the same query, owner, action and interval,
/// a `for` no longer, a maximum no higher, a minimum no lower.
fn guard_tightens(before: &Guard, after: &Guard) -> bool {
    let bound =
        |old: Option<f64>, new: Option<f64>, stricter: fn(f64, f64) -> bool| match (old, new) {
            (None, None) => true,
            (Some(old), Some(new)) => stricter(old, new),
            _ => false,
        };
    let sooner = matches!(
        (parse_duration(&before.for_), parse_duration(&after.for_)),
        (Some(old), Some(new)) if new <= old
    );
    before.query == after.query
        && before.owner == after.owner
        && before.action == after.action
        && before.interval_seconds == after.interval_seconds
        && sooner
        && bound(before.max_value, after.max_value, |old, new| new <= old)
        && bound(before.min_value, after.min_value, |old, new| new >= old)
}

/// The promotion decisions of an update: where candidates come from and how long they
/// soak there, and which namespaces may cite this one, are the platform team's; adding
/// an item to `carry` loosens that item, so it is its owning team's, like removing it.
fn promotion_decisions<'a>(
    old: &'a ModelDeployment,
    new: &ModelDeployment,
) -> Vec<DecisionRight<'a>> {
    let platform = old.spec.owners.team_for(Role::Platform);
    let (before, after) = (
        old.spec.promotion.clone().unwrap_or_default(),
        new.spec.promotion.clone().unwrap_or_default(),
    );
    let mut decisions = Vec::new();
    if before.from != after.from || before.soak != after.soak {
        decisions.push(DecisionRight {
            action: "change spec.promotion.from or spec.promotion.soak (where candidates come from, and how long they serve there first) of".into(),
            teams: vec![platform],
            all: false,
        });
    }
    if before.downstream != after.downstream {
        decisions.push(DecisionRight {
            action: "change spec.promotion.downstream (the namespaces that may cite it as their upstream) of".into(),
            teams: vec![platform],
            all: false,
        });
    }
    for item in after.carry.iter().filter(|i| !before.carry.contains(i)) {
        let owning = old
            .spec
            .checklist_item(item)
            .map(|i| old.spec.owners.team_for(i.owner))
            .or_else(|| {
                let team = old.item_team(item)?;
                Role::ALL
                    .into_iter()
                    .map(|role| old.spec.owners.team_for(role))
                    .find(|t| *t == team)
            })
            .unwrap_or(platform);
        decisions.push(DecisionRight {
            action: format!(
                "let checklist item {item} count on its upstream sign-off (spec.promotion.carry) in"
            ),
            teams: vec![owning],
            all: false,
        });
    }
    decisions
}

/// The checklist decisions of an update: removing an item, making it optional, letting
/// the canary start without it, or moving it to another role.
fn checklist_decisions<'a>(
    old: &'a ModelDeployment,
    new: &ModelDeployment,
) -> Vec<DecisionRight<'a>> {
    let team_of = |role: Role| old.spec.owners.team_for(role);
    let mut decisions = Vec::new();
    for item in &old.spec.handoff.checklist {
        let owning = team_of(item.owner);
        match new.spec.checklist_item(&item.id) {
            None => decisions.push(DecisionRight {
                action: format!(
                    "remove checklist item {} (owned by the {} role) from",
                    item.id, item.owner
                ),
                teams: vec![owning],
                all: false,
            }),
            Some(changed) => {
                if item.after.is_none() && changed.after.is_some() {
                    decisions.push(DecisionRight {
                        action: format!(
                            "let the canary start without checklist item {} in",
                            item.id
                        ),
                        teams: vec![owning],
                        all: false,
                    });
                }
                if item.required && !changed.required {
                    decisions.push(DecisionRight {
                        action: format!("make checklist item {} optional in", item.id),
                        teams: vec![owning],
                        all: false,
                    });
                }
                if item.owner != changed.owner {
                    decisions.push(DecisionRight {
                        action: format!(
                            "move checklist item {} from the {} role to the {} role in",
                            item.id, item.owner, changed.owner
                        ),
                        teams: vec![owning, team_of(changed.owner)],
                        all: true,
                    });
                }
            }
        }
    }
    decisions
}

/// Decision rights on an existing ModelDeployment, judged against its Teams as they
/// are before the change: adding items or making them required is open to whoever may
/// edit (it only tightens); everything that loosens or moves responsibility is not.
pub fn validate_update(
    old: &ModelDeployment,
    new: &ModelDeployment,
    requester: &Requester,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Verdict {
    let old_request = annotation(&old.metadata, labels::ROLLBACK_REQUESTED_AT);
    if let Some(value) = annotation(&new.metadata, labels::ROLLBACK_REQUESTED_AT)
        && Some(value) != old_request
        && value.parse::<jiff::Timestamp>().is_err()
    {
        return Verdict::Deny(format!(
            "{} must be an RFC 3339 time such as 2026-11-27T10:00:00Z, not {value:?}",
            labels::ROLLBACK_REQUESTED_AT
        ));
    }
    if rights.is_admin(requester) {
        return Verdict::allow();
    }
    let user = &requester.username;
    for decision in decisions(old, new) {
        if decision.allowed(requester, team) {
            continue;
        }
        let who = match (decision.teams.as_slice(), decision.all) {
            ([only], _) => format!("members of team {only}"),
            ([a, b], true) => format!("people in both team {a} and team {b}"),
            ([platform, application], false) => {
                format!("members of its platform team {platform} or application team {application}")
            }
            ([data, platform, application], false) => {
                format!("members of its owner teams {platform}, {application} or {data}")
            }
            (teams, _) => format!("members of {}", teams.join(", ")),
        };
        return Verdict::Deny(format!(
            "{user} may not {} ModelDeployment {}: only {who}{} may; ask one of them",
            decision.action,
            namespaced_name(&old.metadata),
            rights.admins_clause()
        ));
    }
    Verdict::allow()
}

#[cfg(test)]
mod tests {
    use super::{
        super::fixtures::{apply_patch, denied, teams, user},
        *,
    };
    use crate::{api::ChecklistItem, testing::md};

    fn raw(md: &ModelDeployment) -> Value {
        serde_json::to_value(md).unwrap()
    }

    fn mutated(
        old: Option<&ModelDeployment>,
        new: &ModelDeployment,
        who: &Requester,
        keys: &SealKeys,
    ) -> ModelDeployment {
        let Verdict::Allow(ops) = mutate(
            old.map(raw).as_ref(),
            &raw(new),
            "payments",
            who,
            &rights(),
            keys,
        ) else {
            panic!("mutation denies nothing")
        };
        apply_patch(new, &ops)
    }

    fn spec_author(md: &ModelDeployment) -> Option<&String> {
        annotation(&md.metadata, labels::SPEC_AUTHOR)
    }

    fn candidate_author(md: &ModelDeployment) -> Option<&String> {
        annotation(&md.metadata, labels::CANDIDATE_AUTHOR)
    }

    fn rights() -> Rights {
        Rights {
            admin_groups: vec!["accord-admins".into()],
            ..Default::default()
        }
    }

    #[test]
    fn spec_author_is_recorded_and_cannot_be_forged() {
        let keys = SealKeys::generate("k1");
        let dave = user("dave", &[]);
        let mut created = md("2.4.0");
        created.metadata.annotations = Some(BTreeMap::from([(
            labels::SPEC_AUTHOR.to_string(),
            "alice".to_string(),
        )]));
        let created = mutated(None, &created, &dave, &keys);
        assert_eq!(
            spec_author(&created).map(String::as_str),
            Some("dave"),
            "forged on create"
        );

        let mut relabel = created.clone();
        relabel
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(labels::SPEC_AUTHOR.into(), "alice".into());
        let relabel = mutated(Some(&created), &relabel, &user("mallory", &[]), &keys);
        assert_eq!(
            spec_author(&relabel).map(String::as_str),
            Some("dave"),
            "restored when spec is unchanged"
        );

        let mut bumped = created.clone();
        bumped.spec.model.version = "2.5.0".into();
        let bumped = mutated(Some(&created), &bumped, &user("bob", &[]), &keys);
        assert_eq!(spec_author(&bumped).map(String::as_str), Some("bob"));

        let Verdict::Allow(ops) = mutate(
            Some(&raw(&created)),
            &raw(&created),
            "payments",
            &user("bob", &[]),
            &rights(),
            &keys,
        ) else {
            panic!()
        };
        assert!(ops.is_empty(), "nothing to change on a no-op update");

        let malformed = json!({"metadata": {"name": "x"}, "spec": {"owners": 7}});
        let Verdict::Allow(ops) = mutate(None, &malformed, "payments", &dave, &rights(), &keys)
        else {
            panic!()
        };
        assert_eq!(
            ops.len(),
            1,
            "a malformed object is annotated and left to schema validation"
        );
    }

    #[test]
    fn the_candidate_author_follows_the_fingerprint_not_the_last_edit() {
        let keys = SealKeys::generate("k1");
        let dave = user("dave", &[]);
        let created = mutated(None, &md("2.4.0"), &user("admin", &[]), &keys);
        let bumped = {
            let mut next = created.clone();
            next.spec.model.version = "2.5.0".into();
            mutated(Some(&created), &next, &dave, &keys)
        };
        assert_eq!(candidate_author(&bumped).map(String::as_str), Some("dave"));
        assert_eq!(
            validate_record(Some(&created), &bumped, &dave, &rights(), &keys),
            Verdict::allow()
        );
        // A trivial (operational) edit by alice launders nothing.
        let scaled = {
            let mut next = bumped.clone();
            next.spec.serving.replicas = 7;
            mutated(Some(&bumped), &next, &user("alice", &[]), &keys)
        };
        assert_eq!(candidate_author(&scaled).map(String::as_str), Some("dave"));
        assert_eq!(spec_author(&scaled).map(String::as_str), Some("alice"));
        assert_eq!(
            validate_record(
                Some(&bumped),
                &scaled,
                &user("alice", &[]),
                &rights(),
                &keys
            ),
            Verdict::allow()
        );
        // Forging the record (another webhook, or a client) is refused.
        let mut forged = scaled.clone();
        forged
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(labels::CANDIDATE_AUTHOR.into(), "alice".into());
        assert!(
            denied(validate_record(
                Some(&scaled),
                &forged,
                &user("alice", &[]),
                &rights(),
                &keys
            ))
            .contains("written by Accord")
        );
        // A record for another object (same spec, other name) does not verify.
        let mut twin = scaled.clone();
        twin.metadata.name = Some("twin".into());
        assert!(matches!(
            validate_record(None, &twin, &dave, &rights(), &keys),
            Verdict::Deny(_)
        ));
    }

    fn item(id: &str, owner: Role, required: bool) -> ChecklistItem {
        ChecklistItem {
            id: id.into(),
            owner,
            description: None,
            required,
            after: None,
        }
    }

    #[test]
    fn loosening_the_checklist_needs_the_owning_team_tightening_does_not() {
        let old = md("2.4.0");
        let mallory = user("mallory", &[]);
        let alice = user("alice", &["data-platform-eng"]);
        let bob = user("bob", &["ml-platform-eng"]);
        let dave = user("dave", &["data-platform-eng", "ml-platform-eng"]);
        let with = |change: &dyn Fn(&mut ModelDeploymentSpec)| {
            let mut new = old.clone();
            change(&mut new.spec);
            new
        };
        let tighter = with(&|s| {
            s.handoff
                .checklist
                .push(item("bias", Role::Application, true))
        });
        assert_eq!(
            validate_update(&old, &tighter, &mallory, &teams, &rights()),
            Verdict::allow()
        );

        let removed = with(&|s| s.handoff.checklist.retain(|i| i.id != "drift"));
        let message = denied(validate_update(&old, &removed, &mallory, &teams, &rights()));
        assert!(
            message.contains("mallory may not remove checklist item drift")
                && message.contains("data-platform"),
            "{message}"
        );
        assert!(
            denied(validate_update(&old, &removed, &bob, &teams, &rights()))
                .contains("bob may not")
        );
        assert_eq!(
            validate_update(&old, &removed, &alice, &teams, &rights()),
            Verdict::allow()
        );

        let optional = with(&|s| s.handoff.checklist[1].required = false);
        assert!(
            denied(validate_update(&old, &optional, &alice, &teams, &rights()))
                .contains("make checklist item latency optional")
        );
        assert_eq!(
            validate_update(&old, &optional, &bob, &teams, &rights()),
            Verdict::allow()
        );

        let moved = with(&|s| s.handoff.checklist[1].owner = Role::Data);
        let message = denied(validate_update(&old, &moved, &bob, &teams, &rights()));
        assert!(
            message.contains("both team ml-platform and team data-platform"),
            "{message}"
        );
        assert_eq!(
            validate_update(&old, &moved, &dave, &teams, &rights()),
            Verdict::allow()
        );
        let admin = user("root", &["accord-admins"]);
        assert_eq!(
            validate_update(&old, &moved, &admin, &teams, &rights()),
            Verdict::allow()
        );
    }

    #[test]
    fn the_rollback_plan_is_the_platform_teams() {
        let old = md("2.4.0");
        let mut new = old.clone();
        new.spec.rollback.mode = crate::api::RollbackMode::Manual;
        let message = denied(validate_update(
            &old,
            &new,
            &user("carol", &[]),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("carol may not change spec.rollback")
                && message.contains("ml-platform"),
            "{message}"
        );
        assert_eq!(
            validate_update(
                &old,
                &new,
                &user("bob", &["ml-platform-eng"]),
                &teams,
                &rights()
            ),
            Verdict::allow()
        );
    }

    #[test]
    fn the_canary_is_the_platform_teams_and_items_move_after_it_only_with_their_owners() {
        let old = md("2.4.0");
        let mut no_canary = old.clone();
        no_canary.spec.rollout = Some(crate::api::RolloutStrategy {
            canary: Some(crate::api::Canary {
                replicas: 1,
                bake_seconds: 0,
                analysis: None,
            }),
        });
        let message = denied(validate_update(
            &old,
            &no_canary,
            &user("carol", &[]),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("carol may not change spec.rollout (the canary and its analysis)")
                && message.contains("ml-platform"),
            "{message}"
        );
        let bob = user("bob", &["ml-platform-eng"]);
        assert_eq!(
            validate_update(&old, &no_canary, &bob, &teams, &rights()),
            Verdict::allow()
        );
        // Letting the canary start without drift (a data item) is the data team's call.
        let mut later = old.clone();
        later.spec.handoff.checklist[0].after = Some(crate::api::After::Canary);
        let message = denied(validate_update(&old, &later, &bob, &teams, &rights()));
        assert!(
            message.contains("bob may not let the canary start without checklist item drift"),
            "{message}"
        );
        let alice = user("alice", &["data-platform-eng"]);
        assert_eq!(
            validate_update(&old, &later, &alice, &teams, &rights()),
            Verdict::allow()
        );
    }

    #[test]
    fn what_the_pods_may_do_is_the_platform_teams() {
        let old = crate::desired::tests::templated("2.4.0");
        let pod = |md: &mut ModelDeployment| {
            md.spec
                .serving
                .template
                .as_mut()
                .unwrap()
                .spec
                .as_mut()
                .unwrap()
                .clone()
        };
        let mut escalate = old.clone();
        let mut spec = pod(&mut escalate);
        spec.service_account_name = Some("cluster-admin-sa".into());
        spec.containers[0].security_context = Some(k8s_openapi::api::core::v1::SecurityContext {
            privileged: Some(true),
            ..Default::default()
        });
        escalate.spec.serving.template.as_mut().unwrap().spec = Some(spec);
        for change in [escalate.clone(), md("2.4.0")] {
            let message = denied(validate_update(
                &old,
                &change,
                &user("carol", &[]),
                &teams,
                &rights(),
            ));
            assert!(
                message.contains("carol may not change what the pods may do")
                    && message.contains("ml-platform"),
                "{message}"
            );
            assert_eq!(
                validate_update(
                    &old,
                    &change,
                    &user("bob", &["ml-platform-eng"]),
                    &teams,
                    &rights()
                ),
                Verdict::allow()
            );
        }
        // Operational template changes are anyone's who may edit.
        let mut scaled = old.clone();
        let mut spec = pod(&mut scaled);
        spec.node_selector = Some(BTreeMap::from([("accelerator".into(), "h100".into())]));
        scaled.spec.serving.template.as_mut().unwrap().spec = Some(spec);
        assert_eq!(
            validate_update(&old, &scaled, &user("carol", &[]), &teams, &rights()),
            Verdict::allow()
        );
    }

    #[test]
    fn owners_and_rollbacks_need_platform_or_application_membership() {
        let old = md("2.4.0");
        let mut new = old.clone();
        new.spec.owners.data = "someone-else".into();
        let message = denied(validate_update(
            &old,
            &new,
            &user("alice", &["data-platform-eng"]),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("alice may not change spec.owners")
                && message.contains("ml-platform")
                && message.contains("accord-admins"),
            "{message}"
        );
        for who in [
            user("bob", &["ml-platform-eng"]),
            user("carol", &[]),
            user("root", &["accord-admins"]),
        ] {
            assert_eq!(
                validate_update(&old, &new, &who, &teams, &rights()),
                Verdict::allow()
            );
        }

        let mut rollback = old.clone();
        rollback.metadata.annotations = Some(BTreeMap::from([(
            labels::ROLLBACK_REQUESTED_AT.to_string(),
            "2026-11-27T10:00:00Z".to_string(),
        )]));
        let message = denied(validate_update(
            &old,
            &rollback,
            &user("mallory", &[]),
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("mallory may not request a rollback"),
            "{message}"
        );
        assert_eq!(
            validate_update(
                &old,
                &rollback,
                &user("bob", &["ml-platform-eng"]),
                &teams,
                &rights()
            ),
            Verdict::allow()
        );
        // Keeping an existing request is no new request.
        assert_eq!(
            validate_update(
                &rollback,
                &rollback,
                &user("mallory", &[]),
                &teams,
                &rights()
            ),
            Verdict::allow()
        );
        let mut garbage = old.clone();
        garbage.metadata.annotations = Some(BTreeMap::from([(
            labels::ROLLBACK_REQUESTED_AT.to_string(),
            "now".to_string(),
        )]));
        assert!(
            denied(validate_update(
                &old,
                &garbage,
                &user("bob", &["ml-platform-eng"]),
                &teams,
                &rights()
            ))
            .contains("RFC 3339")
        );
        // Other changes need no special rights.
        let mut bump = old.clone();
        bump.spec.model.version = "2.5.0".into();
        assert_eq!(
            validate_update(&old, &bump, &user("mallory", &[]), &teams, &rights()),
            Verdict::allow()
        );
    }

    #[test]
    fn promotion_is_the_platform_teams_and_carry_the_items_owners() {
        use crate::api::{Promotion, UpstreamRef};
        let old = md("2.4.0");
        let from = |ns: &str| {
            let mut m = old.clone();
            m.spec.promotion = Some(Promotion {
                from: Some(UpstreamRef {
                    namespace: ns.into(),
                    name: "fraud-scorer".into(),
                }),
                ..Default::default()
            });
            m
        };
        let mallory = user("mallory", &[]);
        let platform = user("pat", &["ml-platform-eng"]);
        let data = user("alice", &["data-platform-eng"]);
        let message = denied(validate_update(
            &old,
            &from("mallory-staging"),
            &mallory,
            &teams,
            &rights(),
        ));
        assert!(message.contains("spec.promotion.from"), "{message}");
        assert!(message.contains("members of team ml-platform"), "{message}");
        assert_eq!(
            validate_update(&old, &from("staging"), &platform, &teams, &rights()),
            Verdict::allow()
        );
        // The soak too, and removing the upstream altogether.
        let cited = from("staging");
        let mut shorter = cited.clone();
        shorter.spec.promotion.as_mut().unwrap().soak = Some("1s".into());
        denied(validate_update(
            &cited,
            &shorter,
            &mallory,
            &teams,
            &rights(),
        ));
        denied(validate_update(&cited, &old, &mallory, &teams, &rights()));
        // Carrying an item loosens it: its owning team decides, not the platform team.
        let mut carried = cited.clone();
        carried.spec.promotion.as_mut().unwrap().carry = vec!["drift".into()];
        let message = denied(validate_update(
            &cited,
            &carried,
            &platform,
            &teams,
            &rights(),
        ));
        assert!(
            message.contains("item drift") && message.contains("data-platform"),
            "{message}"
        );
        assert_eq!(
            validate_update(&cited, &carried, &data, &teams, &rights()),
            Verdict::allow()
        );
        // Dropping an item from carry only tightens.
        assert_eq!(
            validate_update(&carried, &cited, &mallory, &teams, &rights()),
            Verdict::allow()
        );
        // Sharing with a namespace is the upstream's platform team's.
        let mut shared = old.clone();
        shared.spec.promotion = Some(Promotion {
            downstream: vec!["mallory-prod".into()],
            ..Default::default()
        });
        let message = denied(validate_update(&old, &shared, &mallory, &teams, &rights()));
        assert!(message.contains("spec.promotion.downstream"), "{message}");
    }

    mod monitoring {
        use super::*;
        use crate::api::{GuardAction, Monitoring};

        fn error_rate() -> Guard {
            Guard {
                name: "error-rate".into(),
                query: "sum(rate(errors{version=\"{{version}}\"}[5m]))".into(),
                max_value: Some(0.02),
                min_value: None,
                for_: "5m".into(),
                interval_seconds: 30,
                owner: Role::Platform,
                action: GuardAction::Alert,
            }
        }

        fn approval_rate() -> Guard {
            Guard {
                name: "approval-rate".into(),
                query: "avg(approved)".into(),
                max_value: None,
                min_value: Some(0.5),
                for_: "10m".into(),
                interval_seconds: 60,
                owner: Role::Application,
                action: GuardAction::RollBack,
            }
        }

        fn monitored() -> ModelDeployment {
            let mut m = md("2.4.0");
            m.spec.monitoring = Some(Monitoring {
                address: "http://prometheus.monitoring:9090".into(),
                escalate_after: Some("30m".into()),
                guards: vec![error_rate(), approval_rate()],
            });
            m
        }

        fn changed(change: &dyn Fn(&mut Monitoring)) -> ModelDeployment {
            let mut m = monitored();
            change(m.spec.monitoring.as_mut().unwrap());
            m
        }

        #[test]
        fn any_owner_team_tightens_the_guards() {
            let old = monitored();
            let tighter = changed(&|m| {
                m.guards[0].max_value = Some(0.01);
                m.guards[0].for_ = "1m".into();
                m.guards[1].min_value = Some(0.6);
                m.escalate_after = Some("10m".into());
                m.guards.push(Guard {
                    name: "latency-p99".into(),
                    ..error_rate()
                });
            });
            for who in [
                user("alice", &["data-platform-eng"]),
                user("bob", &["ml-platform-eng"]),
                user("carol", &[]),
                user("root", &["accord-admins"]),
            ] {
                assert_eq!(
                    validate_update(&old, &tighter, &who, &teams, &rights()),
                    Verdict::allow(),
                    "{who:?}"
                );
            }
            let message = denied(validate_update(
                &old,
                &tighter,
                &user("mallory", &[]),
                &teams,
                &rights(),
            ));
            assert!(
                message.contains("mallory may not tighten spec.monitoring")
                    && message.contains("owner teams ml-platform, payments-app or data-platform"),
                "{message}"
            );
            // The default (30m) is the same delay written out.
            let defaulted = changed(&|m| m.escalate_after = None);
            assert_eq!(
                validate_update(&old, &defaulted, &user("carol", &[]), &teams, &rights()),
                Verdict::allow()
            );
            // Watching a model that was not watched only adds.
            assert_eq!(
                validate_update(&md("2.4.0"), &old, &user("carol", &[]), &teams, &rights()),
                Verdict::allow()
            );
        }

        #[test]
        fn loosening_or_changing_a_guard_is_the_platform_teams() {
            let old = monitored();
            let looser: Vec<(&str, ModelDeployment)> = vec![
                (
                    "higher maximum",
                    changed(&|m| m.guards[0].max_value = Some(0.05)),
                ),
                (
                    "lower minimum",
                    changed(&|m| m.guards[1].min_value = Some(0.1)),
                ),
                ("longer for", changed(&|m| m.guards[0].for_ = "1h".into())),
                ("removed guard", changed(&|m| m.guards.truncate(1))),
                (
                    "other query",
                    changed(&|m| m.guards[0].query = "vector(0)".into()),
                ),
                ("other owner", changed(&|m| m.guards[0].owner = Role::Data)),
                (
                    "other action",
                    changed(&|m| m.guards[1].action = GuardAction::Alert),
                ),
                (
                    "other interval",
                    changed(&|m| m.guards[0].interval_seconds = 10),
                ),
                (
                    "max to min",
                    changed(&|m| {
                        m.guards[0].max_value = None;
                        m.guards[0].min_value = Some(0.0);
                    }),
                ),
                (
                    "other address",
                    changed(&|m| m.address = "http://mine:9090".into()),
                ),
                (
                    "later escalation",
                    changed(&|m| m.escalate_after = Some("2h".into())),
                ),
                ("no monitoring", md("2.4.0")),
            ];
            let alice = user("alice", &["data-platform-eng"]);
            let carol = user("carol", &[]);
            let bob = user("bob", &["ml-platform-eng"]);
            for (what, new) in looser {
                for who in [&alice, &carol] {
                    let message = denied(validate_update(&old, &new, who, &teams, &rights()));
                    assert!(
                        message.contains(&format!("{} may not change spec.monitoring", who.username))
                            && message.contains("only members of team ml-platform, or of the admin group accord-admins"),
                        "{what}: {message}"
                    );
                }
                assert_eq!(
                    validate_update(&old, &new, &bob, &teams, &rights()),
                    Verdict::allow(),
                    "{what}"
                );
                assert_eq!(
                    validate_update(
                        &old,
                        &new,
                        &user("root", &["accord-admins"]),
                        &teams,
                        &rights()
                    ),
                    Verdict::allow(),
                    "{what}"
                );
            }
        }
    }
}
